//! How much declared gas the builder takes into a block.
//!
//! Ethereum's block gas rule counts gas *used* before a transaction against its gas
//! *limit* (see `weft_protocol::execution::left_out`). Wallets declare limits well above
//! use, so the builder takes the block gas limit divided by the share of their limits that
//! recent transactions used, up to [`MAX_OVERPACK`] times the limit; what does not fit is
//! left out of the block and comes first in the next.

/// The most declared gas a block takes, as a multiple of the block gas limit. A block
/// whose transactions use less than a quarter of what they declare is not filled; more
/// would execute more speculative work that the block then leaves out when the share
/// drops.
pub const MAX_OVERPACK: u64 = 4;

/// The builder's estimate of the share of declared gas that transactions use.
#[derive(Debug, Clone, Copy)]
pub struct GasBudget {
    limit: u64,
    used_share: f64,
}

impl GasBudget {
    /// Starts from "transactions use what they declare" (no over-packing).
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            used_share: 1.0,
        }
    }

    /// The gas limits to take into the next block.
    pub fn to_take(&self) -> u64 {
        (self.limit as f64 / self.used_share) as u64
    }

    /// The gas that `declared` gas limits are expected to use.
    pub fn expected_use(&self, declared: u64) -> u64 {
        (declared as f64 * self.used_share) as u64
    }

    /// Learns from a block whose kept EVM transactions declared `declared` and used `used`.
    /// A block weighs in proportion to how full it was, so a block of one transaction
    /// barely moves the estimate, and a full one replaces half of it.
    pub fn observe(&mut self, declared: u64, used: u64) {
        if declared == 0 {
            return;
        }
        let share = used as f64 / declared as f64;
        let weight = 0.5 * (declared as f64 / self.limit as f64).min(1.0);
        let floor = 1.0 / MAX_OVERPACK as f64;
        self.used_share = (self.used_share + (share - self.used_share) * weight).clamp(floor, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_used_share_of_full_blocks_within_bounds() {
        let mut b = GasBudget::new(30_000_000);
        assert_eq!(b.to_take(), 30_000_000);
        // ERC-20 transfers: 35k used of 80k declared, in full blocks.
        for _ in 0..20 {
            b.observe(30_000_000, 30_000_000 * 35 / 80);
        }
        let take = b.to_take();
        assert!((68_000_000..69_000_000).contains(&take), "{take}");
        assert_eq!(b.expected_use(80_000), 35_000);
        // One small block moves it little.
        b.observe(21_000, 21_000);
        assert!(b.to_take() > 68_000_000);
        // Transactions that use next to nothing of their limits: at most four times.
        for _ in 0..20 {
            b.observe(30_000_000, 300_000);
        }
        assert_eq!(b.to_take(), MAX_OVERPACK * 30_000_000);
        // Back to using all they declare.
        for _ in 0..40 {
            b.observe(30_000_000, 30_000_000);
        }
        assert_eq!(b.to_take(), 30_000_000);
    }
}
