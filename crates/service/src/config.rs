//! Layered configuration: flags, then environment variables, then a TOML file, then the
//! service's defaults.
//!
//! A service declares each setting once, as an `Option` field of one struct deriving
//! `clap::Args` and `serde::Deserialize`, beside a small `clap::Parser` for the rest of its
//! command line (name, subcommands, and the `--config` file, whose argument id must be
//! `config`):
//!
//! ```
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
//!     config: Option<std::path::PathBuf>,
//! }
//!
//! let (_cli, settings): (Cli, Settings) =
//!     weft_service::config::parse_from(["example", "--listen", "127.0.0.1:1"])?;
//! assert_eq!(settings.listen, Some("127.0.0.1:1".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! clap parses the command line with the settings' arguments added, so a flag wins over its
//! variable; [`parse_from`] reads the file into the settings struct and lets clap's generated
//! `update_from_arg_matches` overwrite exactly the fields that a flag or a variable set. The
//! service then converts the struct into its typed `Config`, where the defaults (named
//! `DEFAULT_*` constants) fill what is still `None`.

use std::{ffi::OsString, path::PathBuf};

use clap::{ArgMatches, Args, FromArgMatches, Parser};
use serde::de::DeserializeOwned;

/// The id of the command line's argument naming the TOML file (a `config` field).
pub const CONFIG_ARG: &str = "config";

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
pub fn parse<C, S>() -> Result<(C, S), LoadError>
where
    C: Parser,
    S: Args + DeserializeOwned + Default,
{
    parse_from(std::env::args_os()).map_err(|e| match e {
        LoadError::Cli(e) => e.exit(),
        e => e,
    })
}

/// Parses `args` (the program name first) as `C`'s command line with `S`'s arguments added,
/// and returns `C` and the settings layered over the TOML file that the `config` argument
/// names: a flag wins over its environment variable, which wins over the file.
///
/// # Panics
///
/// If `C` has no `config` argument of type `PathBuf` (a programming error).
pub fn parse_from<C, S, I, T>(args: I) -> Result<(C, S), LoadError>
where
    C: Parser,
    S: Args + DeserializeOwned + Default,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = C::command();
    // The settings' doc comment would replace the program's description in `--help`.
    let (about, long_about) = (
        command.get_about().cloned(),
        command.get_long_about().cloned(),
    );
    let matches = S::augment_args(command)
        .about(clap::builder::Resettable::from(about))
        .long_about(clap::builder::Resettable::from(long_about))
        .try_get_matches_from(args)?;
    let cli = C::from_arg_matches(&matches)?;
    Ok((cli, layer(&matches)?))
}

/// The settings in the file that `matches` name (none: every field `None`), overwritten by
/// every flag and environment variable present in `matches`.
fn layer<S: FromArgMatches + DeserializeOwned + Default>(
    matches: &ArgMatches,
) -> Result<S, LoadError> {
    let mut settings = match matches.get_one::<PathBuf>(CONFIG_ARG) {
        Some(path) => read_file(path)?,
        None => S::default(),
    };
    settings.update_from_arg_matches(matches)?;
    Ok(settings)
}

/// Reads the TOML file at `path` into `S`.
pub fn read_file<S: DeserializeOwned>(path: &std::path::Path) -> Result<S, LoadError> {
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
    }

    fn parse(args: &[&str]) -> Result<Settings, LoadError> {
        parse_from::<Cli, _, _, _>(std::iter::once("t").chain(args.iter().copied())).map(|p| p.1)
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
        let s = parse(&["--a", "1", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(
            (s.a, s.b, s.c, s.d, s.file_only),
            (Some(1), Some(2), Some(3), None, Some(3))
        );
    }

    #[test]
    fn without_a_file_the_flags_alone_count() {
        let s = parse(&["--c", "1"]).unwrap();
        assert_eq!((s.c, s.file_only), (Some(1), None));
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "aa = 1\n").unwrap();
        let with_file = |p: &std::path::Path| parse(&["--config", p.to_str().unwrap()]);
        assert!(matches!(with_file(&path), Err(LoadError::Parse { .. })));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(with_file(&missing), Err(LoadError::Read { .. })));
        assert!(matches!(parse(&["--a", "x"]), Err(LoadError::Cli(_))));
    }
}
