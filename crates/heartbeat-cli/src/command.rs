//! Running an operator's command: an event hook or a resource agent's start / stop / status.
//!
//! One place owns how the binary runs other programs, so hooks and resources behave alike: the
//! program is started directly (no shell unless the operator names one), in a process group of
//! its own so that a timeout kills everything it started, with the caller's environment
//! variables added and one input text written to its stdin. Its output is kept, cut to
//! [`OUTPUT_LIMIT`] bytes per stream, for the log line that reports the outcome.
//!
//! Nothing here blocks a thread: [`run`] is a future, so a slow or hung command never delays
//! heartbeats or detection — the caller decides how many run at once. Dropping that future
//! before the command ends (a runner stopping) kills the command's process group too, as the
//! timeout does; a command that ended by itself leaves whatever it started in the background
//! alone.

use std::fmt;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// At most this many bytes of a command's stdout, and as many of its stderr, are kept.
pub(crate) const OUTPUT_LIMIT: usize = 4096;

/// A command as configured: the program, its arguments, and how long it may run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandSpec {
    /// The program and its arguments, e.g. `["/usr/local/bin/notify", "--urgent"]`.
    pub(crate) command: Vec<String>,
    /// Time after which the command (its whole process group) is killed.
    #[serde(default = "default_timeout", with = "humantime_serde_compat")]
    pub(crate) timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `timeout = "5s"` in TOML, as the other durations of the settings files.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// How a command ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It exited by itself (successfully or not) or was killed by a signal it did not expect.
    Exited(ExitStatus),
    /// It was still running at its timeout, so its process group was killed.
    TimedOut,
    /// It could not be started at all (no such program, not executable, ...).
    NotStarted(io::Error),
}

/// What happened when a command ran.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// How it ended.
    pub(crate) ended: Ended,
    /// From the start to the end (or to the kill).
    pub(crate) took: Duration,
    /// The first [`OUTPUT_LIMIT`] bytes of its stdout, lossily decoded.
    pub(crate) stdout: String,
    /// The first [`OUTPUT_LIMIT`] bytes of its stderr, lossily decoded.
    pub(crate) stderr: String,
}

impl Outcome {
    /// It exited by itself with status 0.
    pub(crate) fn succeeded(&self) -> bool {
        matches!(&self.ended, Ended::Exited(status) if status.success())
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Exited(status) => match status.code() {
                Some(code) => write!(f, "exited with status {code}"),
                None => write!(f, "ended by a signal ({status})"),
            },
            Ended::TimedOut => f.write_str("timed out and was killed"),
            Ended::NotStarted(e) => write!(f, "could not be started: {e}"),
        }
    }
}

/// Runs `spec` with `env` added to this process's environment and `input` on its stdin, and
/// waits for it to end or time out.
pub(crate) async fn run(spec: &CommandSpec, env: &[(String, String)], input: &[u8]) -> Outcome {
    let started = Instant::now();
    let not_started = |e: io::Error| Outcome {
        ended: Ended::NotStarted(e),
        took: started.elapsed(),
        stdout: String::new(),
        stderr: String::new(),
    };
    let Some((program, args)) = spec.command.split_first() else {
        return not_started(io::Error::new(io::ErrorKind::InvalidInput, "the command is empty"));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return not_started(e),
    };
    let mut group = GroupGuard(child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)));
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A command that does not read its input closes the pipe: that is its right.
            let _ = stdin.write_all(input).await;
            let _ = stdin.shutdown().await;
        }
    };
    // The output is drained on tasks of its own while the command runs (so a chatty command
    // never blocks on a full pipe), and for as long as anything holds the pipes.
    let mut stdout = Kept::drain(stdout);
    let mut stderr = Kept::drain(stderr);
    let work = async {
        let ((), status) = tokio::join!(feed, child.wait());
        // The command is over when it exits. Something it left running (the daemon a
        // resource's start script launched) may hold the pipes for as long as it lives: its
        // output is not waited for beyond a short grace, and never cut off under it.
        let _ = tokio::time::timeout(OUTPUT_GRACE, async { tokio::join!(stdout.closed(), stderr.closed()) }).await;

        (status, stdout.text(), stderr.text())
    };
    let finished = tokio::time::timeout(spec.timeout, work).await;
    group.0 = None;
    match finished {
        Ok((status, stdout, stderr)) => Outcome {
            ended: match status {
                Ok(status) => Ended::Exited(status),
                Err(e) => Ended::NotStarted(e),
            },
            took: started.elapsed(),
            stdout,
            stderr,
        },
        Err(_elapsed) => {
            kill_group(&mut child).await;
            Outcome { ended: Ended::TimedOut, took: started.elapsed(), stdout: String::new(), stderr: String::new() }
        }
    }
}

/// Kills the process group it names when dropped, unless disarmed (`None`) first: the command
/// ended, or the timeout path kills it itself.
struct GroupGuard(Option<rustix::process::Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Kills the command's whole process group (the command made itself its leader), then reaps
/// the command itself.
async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill().await;
}

/// How long output is still collected after the command exited, while something it started
/// holds its pipes.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// The first [`OUTPUT_LIMIT`] bytes of one of the command's streams, read to its end by a task
/// of its own.
struct Kept {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Kept {
    fn drain(stream: Option<impl AsyncRead + Unpin + Send + 'static>) -> Kept {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let reader = stream.map(|mut stream| {
            let bytes = Arc::clone(&bytes);
            tokio::spawn(async move {
                let mut chunk = [0u8; 1024];
                loop {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut kept = bytes.lock().unwrap_or_else(|e| e.into_inner());
                            let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                            kept.extend_from_slice(&chunk[..n.min(room)]);
                        }
                    }
                }
            })
        });
        Kept { bytes, reader }
    }

    /// Waits until the stream reached its end (every holder of the pipe closed it).
    async fn closed(&mut self) {
        if let Some(reader) = &mut self.reader {
            let _ = reader.await;
            self.reader = None;
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &[&str], timeout: Duration) -> CommandSpec {
        CommandSpec { command: command.iter().map(|s| s.to_string()).collect(), timeout }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
    }

    #[test]
    fn the_command_gets_its_environment_and_input() {
        let env = [("HB_KIND".to_string(), "down".to_string())];
        let out = block_on(run(
            &spec(&["sh", "-c", "printf '%s ' \"$HB_KIND\"; cat"], Duration::from_secs(10)),
            &env,
            b"{\"kind\":\"down\"}\n",
        ));
        assert!(out.succeeded(), "{:?}", out.ended);
        assert_eq!(out.stdout, "down {\"kind\":\"down\"}\n");
    }

    #[test]
    fn a_command_is_over_when_it_exits_even_if_what_it_started_holds_its_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("daemon.pid");
        // A start script that launches a daemon keeping stdout and stderr, as agents do.
        let script = format!("echo starting; sleep 30 & echo $! > {}; exit 0", pidfile.display());
        let out = block_on(run(&spec(&["sh", "-c", &script], Duration::from_secs(10)), &[], b""));
        assert!(out.succeeded(), "{:?}", out.ended);
        assert!(out.took < Duration::from_secs(5), "waited {:?} for the daemon's pipes", out.took);
        assert_eq!(out.stdout, "starting\n");
        let pid: i32 = std::fs::read_to_string(&pidfile).expect("pid").trim().parse().expect("a pid");
        // The daemon is the agent's service: it was left running.
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the started daemon was killed");
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).expect("a pid"),
            rustix::process::Signal::KILL,
        );
    }

    #[test]
    fn a_failing_command_reports_its_status_and_stderr() {
        let out = block_on(run(&spec(&["sh", "-c", "echo oops >&2; exit 3"], Duration::from_secs(10)), &[], b""));
        assert!(!out.succeeded());
        assert!(matches!(&out.ended, Ended::Exited(s) if s.code() == Some(3)));
        assert_eq!(out.stderr, "oops\n");
    }

    #[test]
    fn a_hung_command_and_its_children_are_killed_at_the_timeout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("child.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let out = block_on(run(&spec(&["sh", "-c", &script], Duration::from_millis(300)), &[], b""));
        assert!(matches!(out.ended, Ended::TimedOut), "{:?}", out.ended);
        assert!(out.took >= Duration::from_millis(300) && out.took < Duration::from_secs(10));
        let pid: i32 =
            std::fs::read_to_string(&pidfile).expect("the script wrote its child's pid").trim().parse().expect("a pid");
        // The grandchild was in the killed group: it is gone (or a zombie about to be reaped
        // by init) within a moment.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                Ok(stat) => stat.split_whitespace().nth(2) == Some("Z"),
            }
        });
        assert!(gone, "the hook's child {pid} outlived the timeout");
    }

    #[test]
    fn a_command_whose_run_is_dropped_is_killed_with_its_children() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("child.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let spec = spec(&["sh", "-c", &script], Duration::from_secs(60));
        // The caller gives up after 300 ms: the run's future is dropped, not timed out.
        let gave_up = block_on(async { tokio::time::timeout(Duration::from_millis(300), run(&spec, &[], b"")).await });
        assert!(gave_up.is_err());
        let pid: i32 =
            std::fs::read_to_string(&pidfile).expect("the script wrote its child's pid").trim().parse().expect("a pid");
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                Ok(stat) => stat.split_whitespace().nth(2) == Some("Z"),
            }
        });
        assert!(gone, "the command's child {pid} outlived the dropped run");
    }

    #[test]
    fn a_missing_program_is_not_started_and_an_empty_command_is_refused() {
        let out = block_on(run(&spec(&["/nonexistent/hook"], Duration::from_secs(1)), &[], b""));
        assert!(matches!(out.ended, Ended::NotStarted(_)));
        let out = block_on(run(&spec(&[], Duration::from_secs(1)), &[], b""));
        assert!(matches!(out.ended, Ended::NotStarted(_)));
    }

    #[test]
    fn output_is_kept_up_to_the_limit() {
        let out = block_on(run(&spec(&["sh", "-c", "head -c 100000 /dev/zero"], Duration::from_secs(10)), &[], b""));
        assert!(out.succeeded());
        assert_eq!(out.stdout.len(), OUTPUT_LIMIT);
    }

    #[test]
    fn timeouts_are_read_as_durations() {
        let spec: CommandSpec = toml::from_str("command = [\"/bin/true\"]\ntimeout = \"250ms\"").expect("parses");
        assert_eq!(spec.timeout, Duration::from_millis(250));
        let spec: CommandSpec = toml::from_str("command = [\"/bin/true\"]").expect("parses");
        assert_eq!(spec.timeout, default_timeout());
    }
}
