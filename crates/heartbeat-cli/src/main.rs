//! `heartbeat`: watch a cluster's nodes with heartbeats and report who is up, suspect, down,
//! restarted or gone.
//!
//! Each subcommand lives in its own module; adding one is a variant in [`Command`] and a line in
//! `main`.

#![forbid(unsafe_code)]

mod bfd;
mod command;
mod control;
mod daemon;
mod demo;
mod detectors;
mod duration;
mod hooks;
mod keys;
mod linux_ha;
mod logging;
mod metrics;
mod notify;
mod reload;
mod replay_file;
mod resources;
mod run;
mod secret_file;
mod settings;
mod settings_file;
mod state_file;
mod status;
mod zk;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Heartbeats and failure detection between the nodes of a cluster.
///
/// Start with `heartbeat demo`: three nodes on this machine detect a crash, a restart and a
/// graceful leave, and print what each of them saw and when.
#[derive(Debug, Parser)]
#[command(name = "heartbeat", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run three nodes on 127.0.0.1, crash one, restart it, stop another, and print the
    /// timeline. No configuration needed; exits non-zero if an expected event is missing.
    Demo(demo::Args),
    /// Run one long-lived node: send heartbeats to its peers and log what it sees about them.
    #[command(after_help = "Example, two nodes on one machine sharing a key file \
        (`(umask 077; echo \"1 $(openssl rand -hex 32)\" > keys)`):\n  \
        heartbeat run --id 1 --listen 127.0.0.1:7001 --peer 2@127.0.0.1:7002 --key-file keys \
        --control /tmp/hb1.sock\n  \
        heartbeat run --id 2 --listen 127.0.0.1:7002 --peer 1@127.0.0.1:7001 --key-file keys")]
    Run(run::Args),
    /// Ask a running `heartbeat run` to re-read its settings and key files (as SIGHUP does) and
    /// print what it did: peers added, removed or moved, timing, keys and detectors changed
    /// live, or why it refused the file (listen, discovery, cluster, control, metrics,
    /// replay_file and authentication on/off need a restart).
    Reload(reload::Args),
    /// Ask a running node (over its control socket) for its peer table; against a
    /// `heartbeat bfd` socket, prints that daemon's session table.
    Status(status::Args),
    /// Run BFD sessions (RFC 5880/5881/5883) with routers' BFD daemons and log every state
    /// change; Ctrl-C or SIGTERM puts every session admin-down, then exits.
    #[command(after_help = "Example, a single-hop session on veth0 with keyed SHA1:\n  \
        heartbeat bfd --peer 198.18.0.2%veth0 --interval 300ms --multiplier 3 \
        --auth keyed-sha1 --key-id 1 --key-file bfd.key --control /tmp/bfd.sock")]
    Bfd(bfd::Args),
    /// Ask a running `heartbeat bfd` (over its control socket) for its session table; against a
    /// `heartbeat run` socket, prints that node's peer table.
    BfdStatus(status::Args),
    /// Join a Linux-HA Heartbeat 3.0.6 cluster as one of its nodes, from its unmodified
    /// `ha.cf` and `authkeys`: send our status heartbeat, log `node X up/dead/left/restarted`;
    /// Ctrl-C or SIGTERM sends a shutdown notice, then exits.
    #[command(after_help = "Example, as node hbnode2 of the cluster in /etc/ha.d:\n  \
        heartbeat linux-ha --ha-cf /etc/ha.d/ha.cf --authkeys /etc/ha.d/authkeys \
        --node-name hbnode2 --control /tmp/lha.sock")]
    LinuxHa(linux_ha::Args),
    /// Measure failure detectors on seeded or recorded heartbeat traces (the QoS lab): writes
    /// DIR/report.md and one SVG plot per scenario, and prints the tables.
    Qos(heartbeat_qos::QosArgs),
    /// Hold ZooKeeper-protocol client sessions over TCP (connect, ping, closeSession, ruok,
    /// mntr) and log each one created, resumed, closed or expired (with how late past its
    /// deadline); `heartbeat status --control PATH` prints the session table.
    #[command(
        after_help = "Example:\n  heartbeat zk-server --listen 127.0.0.1:2181 --tick 500ms --control /tmp/zk.sock"
    )]
    ZkServer(zk::ServerArgs),
    /// Hold one ZooKeeper session against a list of servers (ours or ZooKeeper), resuming it on
    /// the next server when a connection is lost; closes it on SIGINT/SIGTERM or --close-after.
    #[command(after_help = "Example:\n  heartbeat zk-client --servers 127.0.0.1:2181,127.0.0.1:2182 --timeout 2s")]
    ZkClient(zk::ClientArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return report_usage_error(&err),
    };
    match cli.command {
        Command::Demo(args) => demo::main(&args),
        Command::Run(args) => run::main(args),
        Command::Status(args) => status::main(&args, &status::NODE),
        Command::Reload(args) => reload::main(&args),
        Command::Bfd(args) => bfd::main(args),
        Command::BfdStatus(args) => status::main(&args, &status::BFD),
        Command::LinuxHa(args) => linux_ha::main(args),
        Command::Qos(args) => qos(&args),
        Command::ZkServer(args) => zk::server_main(args),
        Command::ZkClient(args) => zk::client_main(args),
    }
}

fn qos(args: &heartbeat_qos::QosArgs) -> ExitCode {
    match heartbeat_qos::run(args) {
        Ok(summary) => {
            for file in &summary.files {
                eprintln!("wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out in full; a usage error is one line naming the flag and the reason.
fn report_usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = err.print();
        return ExitCode::from(2);
    }
    // clap's message, without the usage block, on one line.
    let text = err.render().to_string();
    let message = text.split("\n\nUsage:").next().unwrap_or(&text);
    let line: Vec<&str> =
        message.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("For more information")).collect();
    eprintln!("{} (see --help)", line.join(" "));
    ExitCode::from(2)
}
