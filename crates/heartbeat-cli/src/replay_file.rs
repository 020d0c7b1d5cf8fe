//! `replay_file`: the node's replay watermarks kept on disk, so that a restarted node still
//! refuses frames recorded before the restart.
//!
//! The bytes are heartbeat-proto's [`replay_state`] snapshot (versioned, CRC-checked, naming
//! the node that wrote it). At start the file is read before the first frame and every entry
//! for a configured peer is resumed; then the node rewrites it (atomically, see
//! [`state_file`](crate::state_file)) at most once per [`WRITE_PERIOD`] while watermarks move,
//! and once more when it stops gracefully.
//!
//! What is refused, and what the node does then:
//! - **No file** (first start, or deleted): the node starts as without the setting — each
//!   peer's first authenticated frame is believed — and says so in the log.
//! - **A file that does not decode** (truncated, damaged, another format or version) or **a
//!   foreign one** (written by another node id or cluster): refused with the reason in the
//!   log and the status, moved aside to `FILE.refused` for inspection (never silently
//!   overwritten), and the node starts as with no file.
//!
//! Starting rather than refusing to run keeps failure detection available when a disk goes
//! bad; the cost, with no usable file, is the one of running without the setting: an attacker
//! holding recordings of a peer's frames can have one of them accepted per peer until that
//! peer is heard, and with a recording of a dead peer keep it looking alive for as long as
//! the recording lasts (one frame per interval). With the file, frames at or below each
//! peer's watermark are refused (`duplicate` inside the 64-frame window, `replayed` below it,
//! `stale_generation` for older generations). The gap that remains: frames accepted in the
//! last [`WRITE_PERIOD`] before an ungraceful end (SIGKILL, power loss), or after the final
//! write of a graceful stop, are not on disk and could be replayed once after the restart.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heartbeat_proto::replay_state::{self, Entry, Owner, Snapshot};
use heartbeat_proto::{ClusterId, NodeId, Watermark};
use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

/// The least time between two writes of the file while the node runs.
pub(crate) const WRITE_PERIOD: Duration = Duration::from_secs(1);

/// How the file is doing, for `heartbeat status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplayFileReport {
    /// The file.
    pub(crate) path: PathBuf,
    /// What start-up made of it: `resumed`, `missing` or `refused`.
    pub(crate) loaded: String,
    /// Why it was refused (`refused` only).
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// Peers whose watermark was resumed from it.
    #[serde(default)]
    pub(crate) resumed: usize,
    /// Entries for nodes that are no longer peers, left out.
    #[serde(default)]
    pub(crate) skipped: usize,
    /// Writes since start.
    #[serde(default)]
    pub(crate) writes: u64,
    /// Failed writes since start, and the latest failure.
    #[serde(default)]
    pub(crate) write_errors: u64,
    #[serde(default)]
    pub(crate) last_write_error: Option<String>,
}

/// What was in the file at start.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No file.
    Missing,
    /// A valid snapshot of this node: its entries.
    Found(Vec<Entry>),
    /// Unusable: why.
    Refused(String),
}

/// The file of one node: where it is and whose watermarks it holds.
#[derive(Debug, Clone)]
pub(crate) struct ReplayFile {
    path: PathBuf,
    owner: Owner,
    report: Arc<Mutex<ReplayFileReport>>,
    /// What the file holds, by peer; locked for the whole of a write, so that two writers
    /// (the periodic one and the one at stop) take turns, and a write that comes late with
    /// older marks never takes a peer's mark back.
    written: Arc<Mutex<BTreeMap<NodeId, Watermark>>>,
}

impl ReplayFile {
    /// The file at `path` for node `node` of `cluster`.
    pub(crate) fn new(path: PathBuf, cluster: ClusterId, node: NodeId) -> Self {
        let report = ReplayFileReport { path: path.clone(), ..ReplayFileReport::default() };
        ReplayFile {
            path,
            owner: Owner { cluster, node },
            report: Arc::new(Mutex::new(report)),
            written: Arc::default(),
        }
    }

    /// The report, shared with the status answer.
    pub(crate) fn report(&self) -> ReplayFileReport {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads and checks the file. One that is not a regular file, not this user's, writable by
    /// others, or unreadable is refused where it is (a later write replaces it with a private
    /// file); one whose contents are damaged or another node's is moved aside to
    /// `FILE.refused`, so that nothing overwrites it unseen.
    pub(crate) fn load(&self) -> Loaded {
        let bytes = match inspect(&self.path).and_then(|()| read(&self.path)) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Loaded::Missing,
            Err(reason) => {
                error!(
                    kind = "replay-file",
                    file = %self.path.display(),
                    "replay file refused: {reason}; starting without replay watermarks (each peer's first authenticated frame is believed)"
                );
                return Loaded::Refused(reason);
            }
        };
        match decode(&bytes, self.owner) {
            Ok(entries) => Loaded::Found(entries),
            Err(err) => {
                let reason = err.to_string();
                let aside = aside(&self.path);
                match std::fs::rename(&self.path, &aside) {
                    Ok(()) => error!(
                        kind = "replay-file",
                        file = %self.path.display(),
                        kept_as = %aside.display(),
                        "replay file refused: {reason}; starting without replay watermarks (each peer's first authenticated frame is believed)"
                    ),
                    Err(err) => error!(
                        kind = "replay-file",
                        file = %self.path.display(),
                        "replay file refused: {reason}; cannot move it aside ({err}); starting without replay watermarks"
                    ),
                }
                Loaded::Refused(reason)
            }
        }
    }

    /// Notes what start-up did with the file.
    pub(crate) fn record_load(&self, loaded: &Loaded, resumed: usize, skipped: usize) {
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        let (name, reason) = match loaded {
            Loaded::Missing => ("missing", None),
            Loaded::Found(_) => ("resumed", None),
            Loaded::Refused(reason) => ("refused", Some(reason.clone())),
        };
        report.loaded = name.into();
        report.reason = reason;
        report.resumed = resumed;
        report.skipped = skipped;
        match loaded {
            Loaded::Missing => warn!(
                kind = "replay-file",
                file = %self.path.display(),
                "no replay file yet: starting without replay watermarks (each peer's first authenticated frame is believed)"
            ),
            Loaded::Found(_) => {
                info!(kind = "replay-file", file = %self.path.display(), resumed, skipped, "replay watermarks resumed")
            }
            Loaded::Refused(_) => {}
        }
    }

    /// Writes `marks` (any order); counts the outcome. Blocking: call it off the runtime.
    pub(crate) fn store(&self, marks: &[(NodeId, Watermark)]) -> bool {
        let mut on_file = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries: Vec<Entry> = marks
            .iter()
            .map(|&(peer, mark)| Entry { peer, mark: on_file.get(&peer).map_or(mark, |&had| later(had, mark)) })
            .collect();
        entries.sort_by_key(|e| e.peer);
        entries.dedup_by_key(|e| e.peer);
        let mut bytes = vec![0; replay_state::encoded_len(entries.len())];
        let written = replay_state::encode(self.owner, &entries, &mut bytes)
            .map_err(|err| err.to_string())
            .and_then(|_| crate::state_file::write_atomically(&self.path, &bytes).map_err(|err| err.to_string()));
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        match written {
            Ok(()) => {
                *on_file = entries.iter().map(|e| (e.peer, e.mark)).collect();
                report.writes += 1;
                true
            }
            Err(err) => {
                if report.write_errors == 0 || report.last_write_error.as_deref() != Some(err.as_str()) {
                    warn!(kind = "replay-file", file = %self.path.display(), "cannot write the replay file: {err}");
                }
                report.write_errors += 1;
                report.last_write_error = Some(err);
                false
            }
        }
    }

    /// Writes the node's watermarks whenever they moved, at most once per [`WRITE_PERIOD`],
    /// until the node stops. Never returns while the node runs.
    pub(crate) async fn keep(self, node: crate::metrics::server::Node) {
        let mut last: Vec<(NodeId, Watermark)> = Vec::new();
        let mut ticks = tokio::time::interval(WRITE_PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Ok(mut marks) = node.watermarks().await else { return std::future::pending().await };
            marks.sort_by_key(|(id, _)| *id);
            if marks == last {
                continue;
            }
            let file = self.clone();
            let copy = marks.clone();
            if let Ok(true) = tokio::task::spawn_blocking(move || file.store(&copy)).await {
                last = marks;
            }
        }
    }
}

/// The further of two marks of one peer: a higher generation, or more of the same one.
fn later(a: Watermark, b: Watermark) -> Watermark {
    if (b.generation, b.sequence) > (a.generation, a.sequence) { b } else { a }
}

/// `FILE.refused`.
fn aside(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".refused");
    PathBuf::from(name)
}

/// The file's entries, or why not.
/// Whether the file may be believed at all: a regular file of this user that nobody else may
/// write (else anyone who can write it could shut every peer out with a high generation).
/// `Ok` for a missing file too.
fn inspect(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!("owned by uid {}, not this node's ({me})", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!("writable by others (mode {:o}): chmod 600 it", meta.mode() & 0o777));
    }
    Ok(())
}

/// The file's bytes, at most one more than the largest valid snapshot (which tells "too long"
/// from "just fits"); `None` if there is no file.
fn read(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    let limit = replay_state::encoded_len(replay_state::MAX_ENTRIES) as u64 + 1;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).map_err(|err| format!("cannot read it: {err}"))?;
    Ok(Some(bytes))
}

fn decode(bytes: &[u8], owner: Owner) -> Result<Vec<Entry>, replay_state::SnapshotError> {
    let snapshot = Snapshot::decode(bytes)?;
    snapshot.check_owner(owner.cluster, owner.node)?;
    Ok(snapshot.entries().collect())
}

#[cfg(test)]
mod tests {
    use heartbeat_proto::Generation;

    use super::*;

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    fn mark(generation: u32, sequence: u64) -> Watermark {
        Watermark { generation: Generation(generation), sequence }
    }

    #[test]
    fn a_late_write_with_older_marks_takes_no_mark_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = ReplayFile::new(dir.path().join("replay"), ClusterId(3), id(1));
        assert!(file.store(&[(id(2), mark(7, 40)), (id(3), mark(1, 5))]));
        // The periodic writer's older snapshot, finishing after the one written at stop.
        assert!(file.store(&[(id(2), mark(7, 12)), (id(3), mark(1, 9))]));
        let Loaded::Found(entries) = file.load() else { panic!("not found") };
        let got: Vec<_> = entries.iter().map(|e| (e.peer, e.mark)).collect();
        assert_eq!(got, vec![(id(2), mark(7, 40)), (id(3), mark(1, 9))]);
    }

    #[test]
    fn a_file_others_may_write_is_refused_where_it_is() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = ReplayFile::new(dir.path().join("replay"), ClusterId(3), id(1));
        assert!(file.store(&[(id(2), mark(7, 40))]));
        std::fs::set_permissions(dir.path().join("replay"), std::fs::Permissions::from_mode(0o662)).unwrap();
        let Loaded::Refused(reason) = file.load() else { panic!("believed a file others may write") };
        assert!(reason.contains("writable by others (mode 662)"), "{reason}");
        assert!(dir.path().join("replay").exists() && !dir.path().join("replay.refused").exists());
        // A directory in its place is refused too, not opened.
        let other = ReplayFile::new(dir.path().to_path_buf(), ClusterId(3), id(1));
        let Loaded::Refused(reason) = other.load() else { panic!("believed a directory") };
        assert!(reason.contains("not a regular file"), "{reason}");
    }

    #[test]
    fn stored_watermarks_load_back_in_peer_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = ReplayFile::new(dir.path().join("replay"), ClusterId(3), id(1));
        assert!(matches!(file.load(), Loaded::Missing));
        assert!(file.store(&[(id(5), mark(2, 9)), (id(2), mark(7, 40))]));
        let Loaded::Found(entries) = file.load() else { panic!("not found") };
        let got: Vec<_> = entries.iter().map(|e| (e.peer, e.mark)).collect();
        assert_eq!(got, [(id(2), mark(7, 40)), (id(5), mark(2, 9))]);
        assert_eq!(file.report().writes, 1);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_refused_and_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay");
        let file = ReplayFile::new(path.clone(), ClusterId(3), id(1));
        file.store(&[(id(2), mark(7, 40))]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[30] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let Loaded::Refused(reason) = file.load() else { panic!("accepted a damaged file") };
        assert!(reason.contains("checksum"), "{reason}");
        assert!(!path.exists());
        assert_eq!(std::fs::read(dir.path().join("replay.refused")).unwrap(), bytes);

        let other = ReplayFile::new(path.clone(), ClusterId(3), id(9));
        other.store(&[(id(2), mark(7, 40))]);
        let Loaded::Refused(reason) = file.load() else { panic!("accepted another node's file") };
        assert!(reason.contains("node 9"), "{reason}");

        std::fs::write(&path, b"id = 1\n").unwrap();
        let Loaded::Refused(reason) = file.load() else { panic!("accepted a text file") };
        assert!(reason.contains("bad magic") || reason.contains("too short"), "{reason}");
    }

    #[test]
    fn a_write_that_fails_is_counted_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = ReplayFile::new(dir.path().join("missing-dir").join("replay"), ClusterId(3), id(1));
        assert!(!file.store(&[(id(2), mark(7, 40))]));
        let report = file.report();
        assert_eq!((report.writes, report.write_errors), (0, 1));
        assert!(report.last_write_error.is_some());
    }
}
