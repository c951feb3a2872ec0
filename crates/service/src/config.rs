//! Layered configuration: flags, then environment variables, then a TOML file, then the
//! service's defaults.
//!
//! A service declares each setting once, as an `Option` field of one struct:
//!
//! ```
//! # use std::path::{Path, PathBuf};
//! /// The settings: `None` where no layer sets them.
//! #[derive(Debug, Default, clap::Args, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     /// Public API listen address.
//!     #[arg(long, env = "EXAMPLE_LISTEN")]
//!     listen: Option<std::net::SocketAddr>,
//!     /// Only in the file.
//!     #[arg(skip)]
//!     max_body_bytes: Option<usize>,
//! }
//!
//! #[derive(Debug, clap::Parser)]
//! struct Cli {
//!     /// TOML configuration file.
//!     #[arg(long, env = "EXAMPLE_CONFIG")]
//!     config: Option<PathBuf>,
//!     #[command(flatten)]
//!     settings: Settings,
//! }
//!
//! impl weft_service::config::Layered for Cli {
//!     type Settings = Settings;
//!     fn config_file(&self) -> Option<&Path> {
//!         self.config.as_deref()
//!     }
//!     fn settings_mut(&mut self) -> &mut Settings {
//!         &mut self.settings
//!     }
//! }
//!
//! let cli: Cli = weft_service::config::parse_from(["example", "--listen", "127.0.0.1:1"])?;
//! assert_eq!(cli.settings.listen, Some("127.0.0.1:1".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! clap fills the struct from flags and environment variables (a flag wins over its
//! variable); [`parse_from`] reads the file into the same struct and lets clap's generated
//! `update_from_arg_matches` overwrite exactly the fields that a flag or a variable set. The
//! service then converts the struct into its typed `Config`, where the defaults (named
//! `DEFAULT_*` constants) fill what is still `None`.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use clap::{FromArgMatches, Parser};
use serde::de::DeserializeOwned;

/// A command line whose settings may also come from a TOML file.
pub trait Layered: Parser {
    /// The settings: `Option` fields deriving `clap::Args` (flags and environment variables)
    /// and `serde::Deserialize` (the file), with `#[serde(default, deny_unknown_fields)]`.
    type Settings: FromArgMatches + DeserializeOwned + Default;

    /// The TOML file the command line (or its environment variable) names, if any.
    fn config_file(&self) -> Option<&Path>;

    /// The settings inside the parsed command line.
    fn settings_mut(&mut self) -> &mut Self::Settings;
}

/// A command line or configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The flags or environment variables do not parse (or `--help` / `--version`).
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for the settings (an unknown key included).
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
}

/// Parses the process's command line and environment over its configuration file; a
/// command-line error (or `--help`) prints its message and exits, as clap does.
pub fn parse<C: Layered>() -> Result<C, LoadError> {
    parse_from(std::env::args_os()).map_err(|e| match e {
        LoadError::Cli(e) => e.exit(),
        e => e,
    })
}

/// Parses `args` (the program name first) and the environment, layered over the TOML file
/// they name: a flag wins over its environment variable, which wins over the file.
pub fn parse_from<C, I, T>(args: I) -> Result<C, LoadError>
where
    C: Layered,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = C::command().try_get_matches_from(args)?;
    let mut cli = C::from_arg_matches(&matches)?;
    if let Some(path) = cli.config_file().map(Path::to_owned) {
        let mut settings: C::Settings = read_file(&path)?;
        settings.update_from_arg_matches(&matches)?;
        *cli.settings_mut() = settings;
    }
    Ok(cli)
}

/// Reads the TOML file at `path` into `S`.
pub fn read_file<S: DeserializeOwned>(path: &Path) -> Result<S, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| LoadError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, clap::Args, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        #[arg(long, env = "WEFT_SERVICE_TEST_A")]
        a: Option<u64>,
        #[arg(long, env = "WEFT_SERVICE_TEST_B")]
        b: Option<u64>,
        #[arg(long, env = "WEFT_SERVICE_TEST_C")]
        c: Option<u64>,
        #[arg(long, env = "WEFT_SERVICE_TEST_D")]
        d: Option<u64>,
        #[arg(skip)]
        file_only: Option<u64>,
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    }

    impl Layered for Cli {
        type Settings = Settings;
        fn config_file(&self) -> Option<&Path> {
            self.config.as_deref()
        }
        fn settings_mut(&mut self) -> &mut Settings {
            &mut self.settings
        }
    }

    #[test]
    fn flags_win_over_the_environment_which_wins_over_the_file() {
        if !crate::testing::in_child_with_env(
            "config::tests::flags_win_over_the_environment_which_wins_over_the_file",
            &[("WEFT_SERVICE_TEST_A", "2"), ("WEFT_SERVICE_TEST_B", "2")],
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "a = 3\nb = 3\nc = 3\nfile_only = 3\n").unwrap();
        let cli: Cli = parse_from(["t", "--a", "1", "--config", path.to_str().unwrap()]).unwrap();
        let s = cli.settings;
        assert_eq!(
            (s.a, s.b, s.c, s.d, s.file_only),
            (Some(1), Some(2), Some(3), None, Some(3))
        );
    }

    #[test]
    fn without_a_file_the_flags_alone_count() {
        let cli: Cli = parse_from(["t", "--c", "1"]).unwrap();
        assert_eq!((cli.settings.c, cli.settings.file_only), (Some(1), None));
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "aa = 1\n").unwrap();
        let with_file = |p: &Path| parse_from::<Cli, _, _>(["t", "--config", p.to_str().unwrap()]);
        assert!(matches!(with_file(&path), Err(LoadError::Parse { .. })));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(with_file(&missing), Err(LoadError::Read { .. })));
        assert!(matches!(
            parse_from::<Cli, _, _>(["t", "--a", "x"]),
            Err(LoadError::Cli(_))
        ));
    }
}
