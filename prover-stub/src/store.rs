//! The prover's own state on disk: the last batch it has checked (and, unless L1 already had
//! it, attested) and the L2 state after it, plus an attestation in flight. Written with a
//! write-to-temporary, fsync, rename, so a crash leaves the old or the new file, never half.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use weft_protocol::state::State;

const FILE: &str = "prover.state";
const MAGIC: &[u8; 8] = b"WEFTPRV1";

/// What survives a restart.
#[derive(Debug)]
pub struct Saved {
    /// Batches `1..=checked` were checked; `state` is after batch `checked`.
    pub checked: u64,
    /// The L2 state after batch `checked`.
    pub state: State,
    /// `(batch, L1 nonce)` of an attestation sent but not yet seen on L1.
    pub in_flight: Option<(u64, u64)>,
}

/// The state file in a data directory.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The file in `dir` (created if missing).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Self {
            path: dir.join(FILE),
        })
    }

    /// The saved state, if any.
    pub fn load(&self) -> anyhow::Result<Option<Saved>> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("read prover state"),
        };
        if bytes.len() < 8 + 8 + 17 || &bytes[..8] != MAGIC {
            bail!("{} is not a prover state file", self.path.display());
        }
        let word = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let checked = word(8);
        let in_flight = (bytes[16] == 1).then(|| (word(17), word(25)));
        let state = State::decode_snapshot(&bytes[33..]).context("decode the prover's state")?;
        Ok(Some(Saved {
            checked,
            state,
            in_flight,
        }))
    }

    /// Replaces the file atomically.
    pub fn save(
        &self,
        checked: u64,
        state: &State,
        in_flight: Option<(u64, u64)>,
    ) -> anyhow::Result<()> {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&checked.to_be_bytes());
        let (flag, batch, nonce) = in_flight.map_or((0u8, 0, 0), |(b, n)| (1, b, n));
        bytes.push(flag);
        bytes.extend_from_slice(&batch.to_be_bytes());
        bytes.extend_from_slice(&nonce.to_be_bytes());
        bytes.extend_from_slice(&state.encode_snapshot());
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp).context("create temporary state file")?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path).context("replace state file")?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::open(dir.path()).unwrap();
        assert!(file.load().unwrap().is_none());
        let state = weft_protocol::testkit::genesis(5, 10);
        file.save(3, &state, Some((4, 7))).unwrap();
        let saved = file.load().unwrap().unwrap();
        assert_eq!((saved.checked, saved.in_flight), (3, Some((4, 7))));
        assert_eq!(saved.state.state_root(), state.state_root());
        file.save(4, &state, None).unwrap();
        assert_eq!(file.load().unwrap().unwrap().in_flight, None);
    }
}
