//! The poster against a scripted L1: the faults anvil cannot produce.
