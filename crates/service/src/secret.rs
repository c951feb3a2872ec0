//! Secrets (keys, tokens) come from a file or an environment variable, never from a flag
//! value: flag values end up in shell histories and process listings.

use std::{
    fmt,
    path::{Path, PathBuf},
};

/// A secret and where it came from; `Debug` never prints the secret.
#[derive(Clone)]
pub struct Secret {
    value: String,
    source: String,
}

impl Secret {
    /// The secret, trimmed of surrounding white space.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where it came from (a file's path or a variable's name), for error messages.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted> from {})", self.source)
    }
}

/// A secret file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read secret file {path}: {source}")]
pub struct SecretError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// The secret in `file` if one is named, else in the environment variable `env` if it is
/// set, else none.
pub fn read(file: Option<&Path>, env: &str) -> Result<Option<Secret>, SecretError> {
    let (value, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| SecretError {
                path: path.to_owned(),
                source,
            })?,
            path.display().to_string(),
        ),
        None => match std::env::var(env) {
            Ok(value) => (value, env.to_owned()),
            Err(_) => return Ok(None),
        },
    };
    Ok(Some(Secret {
        value: value.trim().to_owned(),
        source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_trimmed_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "  s3cret\n").unwrap();
        let secret = read(Some(&path), "WEFT_SERVICE_TEST_UNSET")
            .unwrap()
            .unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert_eq!(secret.source(), path.display().to_string());
        assert!(!format!("{secret:?}").contains("s3cret"));
        assert!(read(Some(&dir.path().join("missing")), "X").is_err());
    }

    #[test]
    fn the_environment_is_read_when_no_file_is_named() {
        if !crate::testing::in_child_with_env(
            "secret::tests::the_environment_is_read_when_no_file_is_named",
            &[("WEFT_SERVICE_TEST_SECRET", "from-env\n")],
        ) {
            return;
        }
        let secret = read(None, "WEFT_SERVICE_TEST_SECRET").unwrap().unwrap();
        assert_eq!(
            (secret.expose(), secret.source()),
            ("from-env", "WEFT_SERVICE_TEST_SECRET")
        );
        assert!(read(None, "WEFT_SERVICE_TEST_UNSET").unwrap().is_none());
    }
}
