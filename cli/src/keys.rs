//! Keys: Web3 Secret Storage v3 keystores (scrypt, AES-128-CTR; alloy's keystore support),
//! one file per account in `$WEFT_HOME/keystores/<name>.json` (mode 0600, directory 0700),
//! with the account's address in the file's `address` field as geth writes it, so listing
//! needs no password. Passwords come from `WEFT_PASSWORD`, `--password-file` or a hidden
//! prompt; a private key to import from `--private-key-file`, a hidden prompt or stdin: never
//! from a flag's value, which `ps` and shell histories show.

use std::{
    fs,
    io::{BufRead, IsTerminal},
    path::{Path, PathBuf},
};

use alloy::{
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use serde_json::Value;

use crate::error::{CliError, CliResult};

/// Environment variable holding the keystore password (for scripts and tests).
pub(crate) const PASSWORD_ENV: &str = "WEFT_PASSWORD";

/// The keystores' directory.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    dir: PathBuf,
}

/// Where passwords come from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Passwords {
    /// `--password-file`.
    pub(crate) file: Option<PathBuf>,
}

impl Passwords {
    /// The password: `WEFT_PASSWORD`, the password file's first line, or a hidden prompt
    /// (twice when `confirm`).
    pub(crate) fn read(&self, prompt: &str, confirm: bool) -> CliResult<String> {
        if let Ok(password) = std::env::var(PASSWORD_ENV) {
            return Ok(password);
        }
        if let Some(path) = &self.file {
            let text = fs::read_to_string(path)
                .map_err(|e| CliError::key(format!("password file {}: {e}", path.display())))?;
            return Ok(text.lines().next().unwrap_or("").to_string());
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::key(format!(
                "a password is needed: set {PASSWORD_ENV}, give --password-file, or run on a \
                 terminal to be asked"
            )));
        }
        let password = rpassword::prompt_password(prompt)
            .map_err(|e| CliError::key(format!("reading the password: {e}")))?;
        if confirm {
            let again = rpassword::prompt_password("Repeat the password: ")
                .map_err(|e| CliError::key(format!("reading the password: {e}")))?;
            if again != password {
                return Err(CliError::key("the two passwords differ"));
            }
        }
        Ok(password)
    }
}

impl Keys {
    /// The keystores under `home`.
    pub(crate) fn new(home: &Path) -> Self {
        Self {
            dir: home.join("keystores"),
        }
    }

    fn path(&self, name: &str) -> CliResult<PathBuf> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(CliError::usage(format!(
                "account name {name:?}: use 1 to 64 letters, digits, '-' or '_'"
            )));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    fn make_dir(&self) -> CliResult<()> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| CliError::other(format!("{}: {e}", self.dir.display())))?;
        set_mode(&self.dir, 0o700)
    }

    /// A new random key stored as `name`.
    pub(crate) fn create(&self, name: &str, password: &str) -> CliResult<Address> {
        let mut secret = B256::ZERO;
        rand08::RngCore::fill_bytes(&mut rand08::thread_rng(), secret.as_mut_slice());
        self.import(name, &secret, password)
    }

    /// Stores `secret` as `name`; refuses to overwrite an existing keystore.
    pub(crate) fn import(&self, name: &str, secret: &B256, password: &str) -> CliResult<Address> {
        let path = self.path(name)?;
        if path.exists() {
            return Err(CliError::key(format!(
                "an account named {name} exists already ({})",
                path.display()
            )));
        }
        let signer = PrivateKeySigner::from_bytes(secret)
            .map_err(|e| CliError::key(format!("not a secp256k1 private key: {e}")))?;
        self.make_dir()?;
        let file = format!("{name}.json");
        PrivateKeySigner::encrypt_keystore(
            &self.dir,
            &mut rand08::thread_rng(),
            secret,
            password,
            Some(&file),
        )
        .map_err(|e| CliError::key(format!("writing the keystore: {e}")))?;
        // The address beside the ciphertext, as geth's keystores carry it.
        let mut json = read_json(&path)?;
        json["address"] = Value::String(hex_lower(signer.address()));
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, json.to_string())
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
        set_mode(&path, 0o600)?;
        Ok(signer.address())
    }

    /// The address of account `name`, without its password.
    pub(crate) fn address(&self, name: &str) -> CliResult<Address> {
        let path = self.path(name)?;
        let json = read_json(&path)?;
        json["address"]
            .as_str()
            .and_then(|a| format!("0x{}", a.trim_start_matches("0x")).parse().ok())
            .ok_or_else(|| CliError::key(format!("{} has no address field", path.display())))
    }

    /// Every account: name and address, sorted by name.
    pub(crate) fn list(&self) -> CliResult<Vec<(String, Address)>> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut accounts = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = name.strip_suffix(".json") {
                accounts.push((name.to_string(), self.address(name)?));
            }
        }
        accounts.sort();
        Ok(accounts)
    }

    /// Decrypts account `name`.
    pub(crate) fn unlock(&self, name: &str, passwords: &Passwords) -> CliResult<PrivateKeySigner> {
        let path = self.path(name)?;
        if !path.is_file() {
            return Err(CliError::key(format!(
                "no account named {name} (create one with `weft wallet new {name}` or \
                 `weft wallet import {name}`)"
            )));
        }
        let password = passwords.read(&format!("Password of {name}: "), false)?;
        PrivateKeySigner::decrypt_keystore(&path, password).map_err(|e| {
            let message = e.to_string();
            if message.contains("Mac Mismatch") || message.contains("mac mismatch") {
                CliError::key(format!("wrong password for {name}"))
            } else {
                CliError::key(format!("{}: {message}", path.display()))
            }
        })
    }
}

/// A private key to import: the file's first line, else a hidden prompt on a terminal,
/// else stdin's first line. Hex, with or without `0x`.
pub(crate) fn read_secret(file: Option<&Path>) -> CliResult<B256> {
    let text = match file {
        Some(path) => fs::read_to_string(path)
            .map_err(|e| CliError::key(format!("{}: {e}", path.display())))?,
        None if std::io::stdin().is_terminal() => rpassword::prompt_password("Private key (hex): ")
            .map_err(|e| CliError::key(format!("reading the key: {e}")))?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| CliError::key(format!("reading the key from stdin: {e}")))?;
            line
        }
    };
    let hex = text.lines().next().unwrap_or("").trim();
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    format!("0x{hex}")
        .parse()
        .map_err(|_| CliError::key("the private key is not 32 bytes of hex"))
}

fn read_json(path: &Path) -> CliResult<Value> {
    let text =
        fs::read_to_string(path).map_err(|e| CliError::key(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::key(format!("{}: {e}", path.display())))
}

fn hex_lower(address: Address) -> String {
    alloy::hex::encode(address.as_slice())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> CliResult<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| CliError::other(format!("{}: {e}", path.display())))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> CliResult<()> {
    Ok(())
}
