//! What a command prints: one JSON document with `--json`, lines for humans otherwise;
//! progress (spinners, step lists) on stderr, only when stdout and stderr are terminals and
//! not with `--json`.

use std::{io::IsTerminal, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::error::CliError;

/// How the command prints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
    progress: bool,
}

/// A command's result: the JSON document and the lines for humans.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) json: Value,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn new(json: Value, text: impl Into<String>) -> Self {
        Self {
            json,
            text: text.into(),
        }
    }
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            // Spinners only for a person watching: not in pipes, scripts or `--json`.
            progress: !json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    /// Prints a command's result on stdout.
    pub(crate) fn reply(&self, reply: &Reply) {
        if self.json {
            println!("{}", reply.json);
        } else if !reply.text.is_empty() {
            println!("{}", reply.text.trim_end());
        }
    }

    /// Prints one event of a long-running command (`channel watch`, `invoice --wait`): a
    /// JSON line, or a line of text.
    pub(crate) fn event(&self, json: &Value, text: &str) {
        if self.json {
            println!("{json}");
        } else {
            println!("{text}");
        }
    }

    /// Prints a failure: one line on stderr (`weft: message (code)`), and with `--json` the
    /// error document on stdout.
    pub(crate) fn error(&self, e: &CliError) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({"error": {"code": e.code, "message": e.message}})
            );
        }
        eprintln!("weft: {e}");
    }

    /// A spinner showing `message` until finished; hidden unless stderr is a terminal.
    pub(crate) fn spinner(&self, message: impl Into<String>) -> Progress {
        let bar = if self.progress {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(message.into());
        Progress { bar, out: *self }
    }
}

/// A running spinner.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    out: Output,
}

impl Progress {
    /// Changes the message.
    pub(crate) fn set(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Marks a step done: a `✓ step` line above the spinner on a terminal.
    pub(crate) fn done(&self, step: impl AsRef<str>) {
        if self.out.progress {
            self.bar.println(format!("✓ {}", step.as_ref()));
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
