//! `heartbeat status` and `heartbeat bfd-status`: the table (or JSON) of a running process,
//! fetched over its control socket. Both read either kind of socket: `status` against a
//! `heartbeat bfd` socket prints its session table, `bfd-status` against a `heartbeat run`
//! socket its peer table. They differ only in how they name what should answer and which
//! settings file `--config` names.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::control::{self, Report};
use crate::settings_file::SettingsError;
use crate::{bfd, run, settings};

/// Where to find the process: its control socket, directly or through its settings file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The control socket (the `control` setting of `heartbeat run` or `heartbeat bfd`).
    #[arg(long, value_name = "PATH", required_unless_present = "config")]
    control: Option<PathBuf>,
    /// The settings file, to read the control socket's path from.
    #[arg(long, value_name = "FILE", conflicts_with = "control")]
    config: Option<PathBuf>,
    /// Print the status as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Which subcommand asks: what it expects to answer, and how to read its settings file.
pub(crate) struct Asker {
    /// Names what should answer, in `no … answers on PATH`.
    who: &'static str,
    /// The control socket named by a settings file of that kind.
    control_path: fn(&Path) -> Result<Option<PathBuf>, SettingsError>,
}

/// `heartbeat status`: `--config` is a `heartbeat run` settings file.
pub(crate) const NODE: Asker = Asker { who: "node", control_path: settings::control_path };
/// `heartbeat bfd-status`: `--config` is a `heartbeat bfd` settings file.
pub(crate) const BFD: Asker = Asker { who: "bfd daemon", control_path: bfd::settings::control_path };

/// Prints the report, as a table or as the JSON the socket sent.
pub(crate) fn main(args: &Args, asker: &Asker) -> ExitCode {
    let path = match (&args.control, &args.config) {
        (Some(path), _) => path.clone(),
        (None, Some(file)) => match (asker.control_path)(file) {
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
        Ok((_, Report::Node(report))) => {
            print!("{}", run::report::table(&report));
            ExitCode::SUCCESS
        }
        Ok((_, Report::Zk(report))) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Ok((_, Report::Bfd(report))) => {
            print!("{}", bfd::report::table(&report));
            ExitCode::SUCCESS
        }
        Ok((_, Report::LinuxHa(report))) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("no {} answers on {}: {err}", asker.who, path.display())),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
