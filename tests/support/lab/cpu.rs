//! CPU starvation of one process: a CPU-bandwidth cgroup capping it to a share of one core
//! (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` where the `cpu` controller is mounted on its
//! own, as on this machine). Where neither is writable, busy processes pinned with `taskset`
//! to the process's core compete with it instead.
//!
//! Cgroups are named `hbt-<pid>-lab-cpu-<n>`; [`cleanup_stale`] removes those of dead runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::netns::{PREFIX, Result, io_error, run_command};

/// Where cgroup v2 is mounted (when it is the only hierarchy).
const V2_ROOT: &str = "/sys/fs/cgroup";
/// Where the v1 `cpu` controller is mounted.
const V1_CPU: &str = "/sys/fs/cgroup/cpu";

/// How the process is starved.
#[derive(Debug)]
enum How {
    /// A cgroup with a CPU quota; its directory and the root's `cgroup.procs` to move back to.
    Cgroup { dir: PathBuf, root: PathBuf },
    /// Busy loops pinned to the victim's core.
    Busy(Vec<Child>),
}

/// A CPU limit on one process, lifted on drop.
#[derive(Debug)]
pub struct Starvation {
    pid: u32,
    how: How,
}

impl Starvation {
    /// Caps `pid` to `quota` of CPU time in every `period` (so it may wait up to
    /// `period - quota` at a time), with a cgroup if possible, else pins it to core 0 with
    /// `busy` competing busy loops there.
    pub fn start(pid: u32, quota: Duration, period: Duration, busy: usize) -> Result<Starvation> {
        match cgroup(pid, quota.as_micros() as u64, period.as_micros() as u64) {
            Ok(how) => Ok(Starvation { pid, how }),
            Err(why) => {
                eprintln!("lab: no writable CPU cgroup ({why}); competing busy loops instead");
                run_command(Command::new("taskset").args(["-a", "-p", "-c", "0", &pid.to_string()]))?;
                let mut children = Vec::new();
                for _ in 0..busy {
                    let child = Command::new("taskset")
                        .args(["-c", "0", "sh", "-c", "while :; do :; done"])
                        .stdout(Stdio::null())
                        .spawn()
                        .map_err(io_error("cannot start a busy loop"))?;
                    children.push(child);
                }
                Ok(Starvation { pid, how: How::Busy(children) })
            }
        }
    }

    /// `cgroup` or `busy`: which way the limit was put in place.
    pub fn method(&self) -> &'static str {
        match self.how {
            How::Cgroup { .. } => "cgroup",
            How::Busy(_) => "busy",
        }
    }

    /// Throttled periods so far (cgroup only: `nr_throttled` of `cpu.stat`).
    pub fn throttled(&self) -> Option<u64> {
        let How::Cgroup { dir, .. } = &self.how else { return None };
        let stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
        stat.lines().find_map(|l| l.strip_prefix("nr_throttled ")).and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for Starvation {
    fn drop(&mut self) {
        match &mut self.how {
            How::Cgroup { dir, root } => {
                let _ = std::fs::write(root, self.pid.to_string());
                let _ = std::fs::remove_dir(dir);
            }
            How::Busy(children) => {
                for child in children.iter_mut() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                let _ = Command::new("taskset").args(["-a", "-p", "-c", "0-1023", &self.pid.to_string()]).output();
            }
        }
    }
}

fn cgroup(pid: u32, quota: u64, period: u64) -> std::result::Result<How, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!("{PREFIX}{}-lab-cpu-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let v2 = std::fs::read_to_string(Path::new(V2_ROOT).join("cgroup.controllers")).is_ok_and(|c| c.contains("cpu"));
    let parent = if v2 {
        V2_ROOT
    } else if Path::new(V1_CPU).join("cpu.cfs_quota_us").exists() {
        V1_CPU
    } else {
        return Err("neither cgroup v2 with cpu nor a v1 cpu hierarchy".into());
    };
    let write_limit = |dir: &Path| -> std::io::Result<()> {
        if v2 {
            std::fs::write(dir.join("cpu.max"), format!("{quota} {period}"))
        } else {
            std::fs::write(dir.join("cpu.cfs_period_us"), period.to_string())?;
            std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())
        }
    };
    let dir = Path::new(parent).join(name);
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let moved = write_limit(&dir).and_then(|()| std::fs::write(dir.join("cgroup.procs"), pid.to_string()));
    if let Err(e) = moved {
        let _ = std::fs::remove_dir(&dir);
        return Err(format!("{}: {e}", dir.display()));
    }
    Ok(How::Cgroup { dir, root: Path::new(parent).join("cgroup.procs") })
}

/// Removes the cgroups of earlier runs whose process is gone (their tasks are dead, so the
/// directories are empty). Returns what was removed.
pub fn cleanup_stale() -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for parent in [V2_ROOT, V1_CPU] {
        let Ok(entries) = std::fs::read_dir(parent) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
            let stale = pid.is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists());
            if stale && name.contains("-lab-cpu-") && std::fs::remove_dir(entry.path()).is_ok() {
                removed.push(entry.path());
            }
        }
    }
    removed
}
