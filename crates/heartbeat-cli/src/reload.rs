//! `heartbeat reload`: asks a running `heartbeat run` to re-read its settings file (and its key
//! file), and says how it went: peers, timing, detectors and keys apply live; what needs a
//! restart is refused with the reason. The control socket tells who serves it (its peer credentials): that process
//! gets a SIGHUP, and its status then reports the outcome.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::control::{self, Report};
use crate::settings;

/// Where to find the node.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The node's control socket.
    #[arg(long, value_name = "PATH", required_unless_present = "config")]
    control: Option<PathBuf>,
    /// The node's settings file, to read the control socket's path from.
    #[arg(long, value_name = "FILE", conflicts_with = "control")]
    config: Option<PathBuf>,
}

/// Exit 0 if the node applied the file, 1 if it refused it (the reason is printed) or did not
/// answer, 2 for a usage error.
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
    let (pid, before) = match serving_node(&path) {
        Ok(found) => found,
        Err(err) => return fail(&format!("no node answers on {}: {err}", path.display())),
    };
    if let Err(err) = kill_process(pid, Signal::HUP) {
        return fail(&format!("cannot signal the node (pid {}): {err}", pid.as_raw_nonzero()));
    }
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        if let Ok((_, Report::Node(report))) = control::fetch(&path)
            && report.reload.count > before
        {
            println!("{}", report.reload.message);
            return if report.reload.applied { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
    }
    fail("the node did not report the reload within 5 s")
}

/// The pid behind the control socket at `path`, if a `heartbeat run` node serves it, with its
/// reload count so far.
fn serving_node(path: &std::path::Path) -> std::io::Result<(Pid, u64)> {
    let mut stream = UnixStream::connect(path)?;
    let cred = rustix::net::sockopt::socket_peercred(&stream)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    match serde_json::from_str::<Report>(&text) {
        Ok(Report::Node(report)) => Ok((cred.pid, report.reload.count)),
        Ok(_) => Err(std::io::Error::other("it is not a `heartbeat run` node")),
        Err(err) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, err)),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
