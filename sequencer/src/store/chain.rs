//! The `chain_params` table: the chain parameters the stored blocks were executed with.

use weft_storage::StoreError;

use super::{Error, Store};

/// Name of the dispute window's row.
pub const DISPUTE_WINDOW: &str = "dispute_window";

impl Store {
    /// The stored value of chain parameter `name`, if recorded.
    pub async fn chain_param(&self, name: &str) -> Result<Option<u64>, Error> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM chain_params WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        value
            .map(|v| {
                v.parse().map_err(|_| {
                    Error::from(StoreError::Corrupt {
                        table: "chain_params",
                        key: name.to_owned(),
                        reason: format!("not a u64: {v:?}"),
                    })
                })
            })
            .transpose()
    }

    /// Records chain parameter `name` once; a recorded value is never replaced.
    pub async fn record_chain_param(&self, name: &str, value: u64) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO chain_params (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
