//! # weft
//!
//! The command line of Weft's users: keys in Web3 Secret Storage keystores, balances,
//! native transfers, deposits from L1 and withdrawals to it (claimed with a Merkle proof once
//! final), transaction status, the exodus when the Rollup contract is frozen, and channels
//! with the hub through the wallet library. Every command takes `--json`; errors are one line
//! (the API's code and message) with a documented exit code (`docs/cli.md`).
//!
//! | file         | what                                                        |
//! |--------------|-------------------------------------------------------------|
//! | `main.rs`    | the commands and their flags (clap), dispatch               |
//! | `ctx.rs`     | what commands share: account, key, clients, status waits    |
//! | `keys.rs`    | keystores and passwords                                     |
//! | `network.rs` | finding the deployment (flags, profiles, the devnet's file) |
//! | `rollup.rs`  | balance, send, deposit, withdraw, claim, tx, exodus         |
//! | `channel.rs` | `weft channel …`                                            |
//! | `money.rs`   | amounts and tokens as typed                                 |
//! | `output.rs`  | JSON or text, progress, errors                              |
//! | `error.rs`   | [`error::CliError`] and the exit codes                      |

mod channel;
mod ctx;
mod error;
mod exit;
mod keys;
mod money;
mod network;
mod output;
mod rollup;

use std::{path::PathBuf, time::Duration};

use alloy::primitives::{Address, B256};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use weft_api::TransactionStatus;

use crate::{
    channel::Invoice,
    ctx::{Ctx, parse_status},
    error::{CliError, CliResult},
    keys::{Keys, Passwords, read_secret},
    money::{TokenArg, parse_amount},
    network::{Network, NetworkSpec},
    output::{Output, Reply},
    rollup::Spend,
};

#[derive(Debug, Parser)]
#[command(
    name = "weft",
    version,
    about = "Weft from the command line: keys, transfers, deposits, withdrawals, channels"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Print one JSON document (errors too: {"error": {"code", "message"}}).
    #[arg(long, global = true)]
    json: bool,
    /// Where keystores, profiles and the channel wallet live.
    #[arg(long, global = true, env = "WEFT_HOME")]
    home: Option<PathBuf>,
    /// The account (keystore name) to use.
    #[arg(
        long,
        short = 'a',
        global = true,
        env = "WEFT_ACCOUNT",
        default_value = "default"
    )]
    account: String,
    /// A file whose first line is the keystore password (else WEFT_PASSWORD, else a prompt).
    #[arg(long, global = true, env = "WEFT_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    /// A profile in $WEFT_HOME/networks.toml.
    #[arg(long, global = true, env = "WEFT_NETWORK")]
    network: Option<String>,
    /// A network file as `make devnet` writes (data/devnet/network.json, found by itself
    /// in the working directory or a parent).
    #[arg(long, global = true, env = "WEFT_NETWORK_FILE")]
    network_file: Option<PathBuf>,
    /// The sequencer's URL.
    #[arg(long, global = true, env = "WEFT_L2_URL")]
    l2_url: Option<String>,
    /// The L1 node's JSON-RPC URL.
    #[arg(long, global = true, env = "WEFT_L1_RPC")]
    l1_rpc: Option<String>,
    /// The channel hub's URL.
    #[arg(long, global = true, env = "WEFT_HUB_URL")]
    hub_url: Option<String>,
    /// The Rollup contract on L1.
    #[arg(long, global = true, env = "WEFT_ROLLUP")]
    rollup: Option<Address>,
    /// Seconds to wait for a status (execution, finality, a payment) before giving up.
    #[arg(long, global = true, default_value_t = 300)]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Keys: create, import, list.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Balances on L2 (and ETH on L1) of the account or an address.
    Balance { address: Option<Address> },
    /// A native transfer on L2.
    Send {
        /// The receiver.
        #[arg(long)]
        to: Address,
        #[command(flatten)]
        spend: Spend,
    },
    /// Deposit ETH or an ERC-20 from L1; waits until credited on L2.
    Deposit {
        amount: String,
        /// `eth`, or the ERC-20's L1 address (or its L2 id).
        #[arg(long, default_value = "eth")]
        token: TokenArg,
        /// The L2 recipient (default: the account).
        #[arg(long)]
        to: Option<Address>,
        #[arg(long)]
        no_wait: bool,
    },
    /// Withdraw to L1; claim it with `weft claim` once final.
    Withdraw {
        /// The L1 recipient (default: the account).
        #[arg(long)]
        to: Option<Address>,
        #[command(flatten)]
        spend: Spend,
    },
    /// Claim a withdrawal on L1: waits through committed, proven, finalized, then claims.
    Claim { hash: B256 },
    /// A transaction's status (REST hash or Ethereum hash).
    Tx {
        hash: B256,
        /// Wait until it reaches this status: queued, executed, committed, proven, finalized.
        #[arg(long, value_parser = parse_status)]
        wait: Option<TransactionStatus>,
    },
    /// Take the account's balances out on L1 while the Rollup contract is frozen.
    Exodus {
        /// An account proof saved earlier (GET /v1/accounts/{address}/proof); default: ask
        /// the sequencer (or any node serving the finalized state).
        #[arg(long)]
        proof_file: Option<PathBuf>,
    },
    /// Channels with the hub.
    #[command(subcommand)]
    Channel(ChannelCommand),
}

#[derive(Debug, Subcommand)]
enum WalletCommand {
    /// A new random key, stored encrypted.
    New {
        #[arg(default_value = "default")]
        name: String,
    },
    /// Import a private key (from --private-key-file, a hidden prompt, or stdin).
    Import {
        #[arg(default_value = "default")]
        name: String,
        #[arg(long)]
        private_key_file: Option<PathBuf>,
    },
    /// Every account: name and address.
    List,
    /// The address of an account (default: --account).
    Address { name: Option<String> },
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Open a channel with the hub, locking an amount of the account's L2 balance.
    Open {
        amount: String,
        #[arg(long, default_value = "eth")]
        token: TokenArg,
    },
    /// Add to a channel from the account's L2 balance.
    Fund {
        amount: String,
        #[arg(long)]
        channel: Option<B256>,
    },
    /// A new invoice to be paid through the hub; with --wait, stays online until paid.
    Invoice {
        amount: String,
        #[arg(long)]
        wait: bool,
    },
    /// Pay an invoice through the hub.
    Pay {
        invoice: Invoice,
        #[arg(long)]
        channel: Option<B256>,
    },
    /// Close a channel cooperatively; its balance goes back to the account on L2.
    Close { channel: Option<B256> },
    /// Register the latest state on the rollup (when the hub does not cooperate).
    Dispute { channel: Option<B256> },
    /// A channel's state in the wallet and on the rollup.
    Status { channel: Option<B256> },
    /// The account's channels.
    List,
    /// Stay online: answer the hub, refute stale registrations, reveal secrets near expiry.
    Watch,
    /// When the Rollup contract is frozen: settle the account's channels on L1 with the
    /// states the wallet holds (run again after the L1 dispute window to take the funds out).
    Exit {
        #[arg(long)]
        channel: Option<B256>,
        /// The channel's proofs saved earlier (GET /v1/channels/{id}/proof); default: ask the
        /// node.
        #[arg(long)]
        proof_file: Option<PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let out = Output::new(cli.global.json);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .init();
    let result = runtime.block_on(run(cli, out));
    match result {
        Ok(reply) => out.reply(&reply),
        Err(e) => {
            out.error(&e);
            std::process::exit(e.exit);
        }
    }
}

async fn run(cli: Cli, out: Output) -> CliResult<Reply> {
    let g = cli.global;
    let home = match g.home {
        Some(home) => home,
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".weft"))
            .ok_or_else(|| CliError::usage("no home directory: give --home or WEFT_HOME"))?,
    };
    let keys = Keys::new(&home);
    let passwords = Passwords {
        file: g.password_file,
    };
    if let Command::Wallet(command) = cli.command {
        return wallet(&keys, &passwords, &g.account, command);
    }
    let net = Network::resolve(
        NetworkSpec {
            l1_rpc: g.l1_rpc,
            l2_url: g.l2_url,
            hub_url: g.hub_url,
            rollup: g.rollup,
        },
        &home,
        g.network.as_deref(),
        g.network_file.as_deref(),
    )?;
    let ctx = Ctx {
        out,
        net,
        home,
        account: g.account,
        keys,
        passwords,
        timeout: Duration::from_secs(g.timeout),
    };
    match cli.command {
        Command::Wallet(_) => unreachable!("handled above"),
        Command::Balance { address } => rollup::balance(&ctx, address).await,
        Command::Send { to, spend } => rollup::send(&ctx, to, spend).await,
        Command::Deposit {
            amount,
            token,
            to,
            no_wait,
        } => rollup::deposit(&ctx, parse_amount(&amount)?, token, to, no_wait).await,
        Command::Withdraw { to, spend } => rollup::withdraw(&ctx, to, spend).await,
        Command::Claim { hash } => rollup::claim(&ctx, hash).await,
        Command::Tx { hash, wait } => rollup::tx(&ctx, hash, wait).await,
        Command::Exodus { proof_file } => rollup::exodus(&ctx, proof_file.as_deref()).await,
        Command::Channel(command) => match command {
            ChannelCommand::Open { amount, token } => {
                channel::open_channel(&ctx, parse_amount(&amount)?, token).await
            }
            ChannelCommand::Fund { amount, channel } => {
                channel::fund(&ctx, channel, parse_amount(&amount)?).await
            }
            ChannelCommand::Invoice { amount, wait } => {
                channel::invoice(&ctx, parse_amount(&amount)?, wait).await
            }
            ChannelCommand::Pay { invoice, channel } => channel::pay(&ctx, invoice, channel).await,
            ChannelCommand::Close { channel } => channel::close(&ctx, channel).await,
            ChannelCommand::Dispute { channel } => channel::dispute(&ctx, channel).await,
            ChannelCommand::Status { channel } => channel::status(&ctx, channel).await,
            ChannelCommand::List => channel::list(&ctx).await,
            ChannelCommand::Watch => channel::watch(&ctx).await,
            ChannelCommand::Exit {
                channel,
                proof_file,
            } => exit::exit(&ctx, channel, proof_file.as_deref()).await,
        },
    }
}

/// `weft wallet …`: needs no network.
fn wallet(
    keys: &Keys,
    passwords: &Passwords,
    account: &str,
    command: WalletCommand,
) -> CliResult<Reply> {
    match command {
        WalletCommand::New { name } => {
            let password = passwords.read(&format!("New password for {name}: "), true)?;
            let address = keys.create(&name, &password)?;
            Ok(Reply::new(
                json!({"name": name, "address": address}),
                format!("created {name}: {address}"),
            ))
        }
        WalletCommand::Import {
            name,
            private_key_file,
        } => {
            let secret = read_secret(private_key_file.as_deref())?;
            let password = passwords.read(&format!("New password for {name}: "), true)?;
            let address = keys.import(&name, &secret, &password)?;
            Ok(Reply::new(
                json!({"name": name, "address": address}),
                format!("imported {name}: {address}"),
            ))
        }
        WalletCommand::List => {
            let accounts = keys.list()?;
            let text = if accounts.is_empty() {
                "no accounts: create one with `weft wallet new`".to_string()
            } else {
                accounts
                    .iter()
                    .map(|(name, address)| format!("{name}  {address}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Reply::new(
                json!(
                    accounts
                        .iter()
                        .map(|(name, address)| json!({"name": name, "address": address}))
                        .collect::<Vec<_>>()
                ),
                text,
            ))
        }
        WalletCommand::Address { name } => {
            let name = name.as_deref().unwrap_or(account);
            let address = keys.address(name)?;
            Ok(Reply::new(
                json!({"name": name, "address": address}),
                address.to_string(),
            ))
        }
    }
}
