//! `heartbeat status`: a running node's peer table.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::control::{self, PeerReport, StatusReport};
use crate::duration::show;
use crate::settings;

/// Where to find the node: its control socket, directly or through its settings file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The node's control socket (the `control` setting of `heartbeat run`).
    #[arg(long, value_name = "PATH", required_unless_present = "config")]
    control: Option<PathBuf>,
    /// The node's settings file, to read the control socket's path from.
    #[arg(long, value_name = "FILE", conflicts_with = "control")]
    config: Option<PathBuf>,
    /// Print the status as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn main(args: &Args) -> ExitCode {
    let path = match (&args.control, &args.config) {
        (Some(path), _) => path.clone(),
        (None, Some(file)) => match settings::control_path(file) {
            Ok(Some(path)) => path,
            Ok(None) => return fail(&format!("{} sets no `control` socket", file.display())),
            Err(err) => return fail(&err.to_string()),
        },
        (None, None) => return fail("--control or --config is required"),
    };
    match control::fetch(&path) {
        Ok((json, _)) if args.json => {
            print!("{json}");
            ExitCode::SUCCESS
        }
        Ok((_, report)) => {
            print!("{}", table(&report));
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("no node answers on {}: {err}", path.display())),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn ms(value: f64) -> String {
    show(Duration::from_secs_f64(value.max(0.0) / 1e3))
}

/// The report as a table a person can read.
pub(crate) fn table(r: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {} (cluster {}, generation {}){}: {} peer(s), interval {}, timeout {}",
        r.node,
        r.cluster,
        r.generation,
        if r.leaving { ", leaving" } else { "" },
        r.peers.len(),
        ms(r.interval_ms),
        ms(r.timeout_ms)
    );
    let _ = writeln!(
        out,
        "{:<6} {:<8} {:>13} {:>13} {:>6} {:>9} {:>8}  LINKS",
        "PEER", "STATE", "SINCE", "LAST HEARD", "LOSS", "RTT", "TIMEOUT"
    );
    for p in &r.peers {
        let _ = writeln!(out, "{}", row(p));
    }
    let _ = writeln!(
        out,
        "datagrams sent {}, received {}; frames rejected {}; socket errors {}",
        r.datagrams_sent, r.datagrams_received, r.frames_rejected, r.socket_errors
    );
    out
}

fn row(p: &PeerReport) -> String {
    let links: Vec<String> = p.links.iter().enumerate().map(|(i, s)| format!("{i}:{s}")).collect();
    format!(
        "{:<6} {:<8} {:>13} {:>13} {:>5.1}% {:>9} {:>8}  {}",
        p.id,
        p.state,
        format!("{} ago", show(Duration::from_secs_f64(p.since_s.max(0.0)))),
        p.last_heard_ms.map_or("never".into(), |t| format!("{} ago", ms(t))),
        p.loss_percent,
        p.rtt_ms.map_or("-".into(), ms),
        ms(p.timeout_ms),
        links.join(" ")
    )
}
