//! Which deployment the CLI talks to: the endpoints and the Rollup contract's address.
//!
//! Each field comes from the first of: its flag or environment variable (`--l2-url`,
//! `WEFT_L2_URL`, …); the profile named by `--network` in `$WEFT_HOME/networks.toml`; the
//! network file named by `--network-file`; the devnet's own network file
//! (`data/devnet/network.json`, which `make devnet` writes), looked for in the working
//! directory and its parents; the devnet's default ports.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::Deserialize;

use crate::error::{CliError, CliResult};

/// The devnet's network file, relative to the repository root.
pub(crate) const DEVNET_FILE: &str = "data/devnet/network.json";

/// Endpoints and addresses of one deployment. Every field is optional: the commands that
/// need one say so when it is missing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkSpec {
    /// The L1 node's JSON-RPC.
    pub(crate) l1_rpc: Option<String>,
    /// The sequencer (`http://host:port`, its REST API under `/v1`).
    pub(crate) l2_url: Option<String>,
    /// The channel hub.
    pub(crate) hub_url: Option<String>,
    /// The Rollup contract on L1.
    pub(crate) rollup: Option<Address>,
}

impl NetworkSpec {
    /// Fills what `self` lacks from `other`.
    fn or(self, other: Self) -> Self {
        Self {
            l1_rpc: self.l1_rpc.or(other.l1_rpc),
            l2_url: self.l2_url.or(other.l2_url),
            hub_url: self.hub_url.or(other.hub_url),
            rollup: self.rollup.or(other.rollup),
        }
    }
}

/// The resolved deployment.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    spec: NetworkSpec,
    /// Where the values came from, for error messages.
    pub(crate) source: String,
}

impl Network {
    /// Resolves the deployment from the flags (`flags`), a profile, a network file and the
    /// devnet's defaults, in that order.
    pub(crate) fn resolve(
        flags: NetworkSpec,
        home: &Path,
        profile: Option<&str>,
        file: Option<&Path>,
    ) -> CliResult<Self> {
        let mut spec = flags;
        let mut sources = Vec::new();
        if let Some(name) = profile {
            let path = home.join("networks.toml");
            let text = std::fs::read_to_string(&path).map_err(|e| {
                CliError::usage(format!(
                    "network profile {name}: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            let mut profiles: std::collections::HashMap<String, ProfileToml> =
                toml::from_str(&text)
                    .map_err(|e| CliError::usage(format!("{}: {}", path.display(), e.message())))?;
            let found = profiles.remove(name).ok_or_else(|| {
                CliError::usage(format!("no profile [{name}] in {}", path.display()))
            })?;
            spec = spec.or(found.into());
            sources.push(format!("profile {name}"));
        }
        let file = match file {
            Some(path) => Some(path.to_path_buf()),
            None => find_devnet_file(),
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
            let from_file: NetworkSpec = serde_json::from_str(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
            spec = spec.or(from_file);
            sources.push(path.display().to_string());
        }
        spec = spec.or(NetworkSpec {
            l1_rpc: Some("http://127.0.0.1:8545".into()),
            l2_url: Some("http://127.0.0.1:8547".into()),
            hub_url: Some("http://127.0.0.1:8549".into()),
            rollup: None,
        });
        sources.push("the devnet's default ports".into());
        Ok(Self {
            spec,
            source: sources.join(", then "),
        })
    }

    /// The sequencer's URL.
    pub(crate) fn l2_url(&self) -> &str {
        self.spec
            .l2_url
            .as_deref()
            .expect("defaulted")
            .trim_end_matches('/')
    }

    /// The L1 node's URL.
    pub(crate) fn l1_rpc(&self) -> &str {
        self.spec.l1_rpc.as_deref().expect("defaulted")
    }

    /// The hub's URL.
    pub(crate) fn hub_url(&self) -> &str {
        self.spec
            .hub_url
            .as_deref()
            .expect("defaulted")
            .trim_end_matches('/')
    }

    /// The Rollup contract; an error naming where to set it when unknown.
    pub(crate) fn rollup(&self) -> CliResult<Address> {
        self.spec.rollup.ok_or_else(|| {
            CliError::usage(format!(
                "the Rollup contract's address is unknown (looked in: {}); give --rollup, \
                 WEFT_ROLLUP, a --network profile or a --network-file",
                self.source
            ))
        })
    }
}

/// A profile in `networks.toml` (snake_case keys, as TOML files write them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileToml {
    l1_rpc: Option<String>,
    l2_url: Option<String>,
    hub_url: Option<String>,
    rollup: Option<Address>,
}

impl From<ProfileToml> for NetworkSpec {
    fn from(p: ProfileToml) -> Self {
        Self {
            l1_rpc: p.l1_rpc,
            l2_url: p.l2_url,
            hub_url: p.hub_url,
            rollup: p.rollup,
        }
    }
}

/// `data/devnet/network.json` in the working directory or the nearest parent holding one.
fn find_devnet_file() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|dir| dir.join(DEVNET_FILE))
        .find(|path| path.is_file())
}
