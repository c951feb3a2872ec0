//! Weft's sequencer node: REST ingest, admission, mempool, block builder and storage
//! (DESIGN.md, "Data flow").

pub mod store;
