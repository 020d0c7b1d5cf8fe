//! The Linux-HA resource manager of node `a` in a cluster `a b c`, driven by what the fuzzer
//! builds with `arbitrary`: liveness verdicts and restarts of any node (known or not),
//! announcements as the wire carries them (raw text, and well-formed ones of the fuzzer's
//! epochs and claims), outcomes of the commands it asked for (succeeding or failing, in any
//! order) and of commands it did not ask for, status checks, leaving, and time passing. Each
//! input comes at a time of its own, later or earlier than the one before.
//!
//! Checked after every step:
//! - nothing panics;
//! - a refused input (an unknown node, a malformed or stale announcement, an unexpected
//!   outcome) changes nothing at all (its whole `Debug` state, queues included) but its own
//!   refusal counter, by exactly one (a refused verdict or restart counts nothing);
//! - nothing is overdue: ticking a copy at the latest time the manager accepted asks for
//!   nothing more, and while initdead is pending `poll_timeout` names it (or earlier);
//! - at most one command per resource is asked for at a time, and none but `stop` once `a`
//!   leaves; the goodbye comes once, and only when no resource is held, starting or stopping
//!   (one whose stop failed, `Stuck`, stays as it is);
//! - the announcement `a` sends is one it would accept itself, and fits its bound;
//! - after `tick(now)` and a full drain, the next deadline is strictly later than `now`;
//! - no output or event is lost (`overflows` stays 0 when drained after every input).

#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use heartbeat_proto::Instant;
use heartbeat_proto::linuxha::resources::{
    Announcement, Command, Failback, Local, MAX_ANNOUNCEMENT, Output, ResourceId, ResourceManager, Verdict,
};
use libfuzzer_sys::fuzz_target;

const NODES: [&str; 3] = ["a", "b", "c"];
/// Names the fuzzer may use for a node: the cluster's, ourselves, a stranger, and a
/// differently cased one (node names are case-insensitive).
const NAMES: [&str; 5] = ["a", "b", "c", "z", "B"];
const RESOURCES: [(&str, &str); 3] = [("ip", "a"), ("db", "b"), ("web-1.x", "c")];
/// Resource names for announcements: ours and one we do not have.
const CLAIMED: [&str; 4] = ["ip", "db", "web-1.x", "other"];

#[derive(Debug, Arbitrary)]
struct Input {
    failback: bool,
    initdead_ms: u16,
    generation: u32,
    ops: Vec<(Step, Op)>,
}

/// When an input comes: `ms` after the latest one, or (`earlier`) that much before it.
#[derive(Debug, Arbitrary, Clone, Copy)]
struct Step {
    ms: u16,
    earlier: bool,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Tick,
    Verdict {
        node: u8,
        verdict: VerdictKind,
    },
    Restart {
        node: u8,
    },
    /// Announcement text exactly as it came off the wire.
    RawAnnouncement {
        node: u8,
        text: String,
    },
    /// A well-formed announcement: epoch, leaving, claims.
    Announcement {
        node: u8,
        epoch: u64,
        leaving: bool,
        claims: Vec<(u8, u8)>,
    },
    /// The oldest command asked for (or the `index`-th) ends.
    Complete {
        index: u8,
        succeeded: bool,
    },
    /// An outcome for any resource and command, asked for or not.
    Outcome {
        resource: u8,
        command: u8,
        succeeded: bool,
    },
    Check,
    Leave,
}

#[derive(Debug, Arbitrary, Clone, Copy)]
enum VerdictKind {
    Up,
    Down,
    Left,
}

fn command(c: u8) -> Command {
    match c % 3 {
        0 => Command::Start,
        1 => Command::Stop,
        _ => Command::Status,
    }
}

/// Everything about the manager, its counters aside (the last field of its `Debug`).
fn snapshot(m: &ResourceManager) -> String {
    let all = format!("{m:?}");
    let cut = all.rfind(", stats: HaStats").expect("the counters are the last field");
    all[..cut].to_owned()
}

struct Harness {
    m: ResourceManager,
    /// The latest time any input came at.
    now: Instant,
    /// The time of the current input.
    at: Instant,
    /// The latest time of an input the manager accepted (its clock).
    accepted: Instant,
    initdead: Instant,
    /// Commands asked for and not yet ended, oldest first.
    running: Vec<(ResourceId, Command)>,
    left: bool,
}

impl Harness {
    /// Drains outputs and events, checking the command rules.
    fn drain(&mut self) {
        while let Some(out) = self.m.poll_output() {
            match out {
                Output::Run { resource, command, .. } => {
                    assert!(resource.0 < self.m.len(), "{resource:?} is not a resource");
                    assert!(
                        self.running.iter().all(|(r, _)| *r != resource),
                        "a second command for {resource:?} while one runs: {:?}",
                        self.running
                    );
                    if self.m.is_leaving() {
                        assert_eq!(command, Command::Stop, "only stops once leaving");
                    }
                    self.running.push((resource, command));
                }
                Output::Announce => {}
                Output::Leave => {
                    assert!(self.m.is_leaving(), "a goodbye without leaving");
                    assert!(!self.left, "a second goodbye");
                    for r in 0..self.m.len() {
                        let local = self.m.local(ResourceId(r));
                        assert!(
                            matches!(local, Some(Local::Stopped | Local::Failed | Local::Stuck)),
                            "goodbye while {r} is {local:?}"
                        );
                    }
                    self.left = true;
                }
            }
        }
        while self.m.poll_event().is_some() {}
        assert_eq!(self.m.stats().overflows, 0, "outputs lost although drained after every input");
        let text = self.m.announcement();
        assert!(text.len() <= MAX_ANNOUNCEMENT, "announcement of {} bytes", text.len());
        Announcement::parse(text).expect("our own announcement parses");
    }

    /// Runs `f` on an input of `kind`; if it says the input was refused, nothing may have moved
    /// but that kind's refusal counter, by one.
    fn refusable(&mut self, kind: Refusal, f: impl FnOnce(&mut ResourceManager, Instant) -> bool) {
        let before = snapshot(&self.m);
        let stats = *self.m.stats();
        if f(&mut self.m, self.at) {
            self.accepted = self.accepted.max(self.at);
            return;
        }
        assert_eq!(snapshot(&self.m), before, "a refused input changed the manager");
        let after = self.m.stats();
        let counted = (
            after.refused_announcements - stats.refused_announcements,
            after.unexpected_outcomes - stats.unexpected_outcomes,
        );
        let expected = match kind {
            Refusal::Silent => (0, 0),
            Refusal::Announcement => (1, 0),
            Refusal::Outcome => (0, 1),
        };
        assert_eq!(counted, expected, "a refused {kind:?} counted as {counted:?}");
        assert_eq!(*after, {
            let mut s = stats;
            s.refused_announcements = after.refused_announcements;
            s.unexpected_outcomes = after.unexpected_outcomes;
            s
        });
    }

    /// An input the manager always takes: its clock moves to `at` (if later).
    fn accepted(&mut self) {
        self.accepted = self.accepted.max(self.at);
    }

    /// Nothing is overdue at the manager's clock, and a pending initdead is named.
    fn nothing_overdue(&self) {
        let mut copy = self.m.clone();
        copy.tick(self.accepted);
        assert_eq!(copy.poll_output(), None, "ticking at the manager's own time {:?} asked for more", self.accepted);
        if self.accepted < self.initdead {
            let next = self.m.poll_timeout();
            assert!(
                next.is_some_and(|t| t <= self.initdead),
                "initdead at {:?} pending, poll_timeout {next:?}",
                self.initdead
            );
        }
    }
}

/// Which counter a refusal of an input moves.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// None (verdicts and restarts about unknown nodes are simply ignored).
    Silent,
    Announcement,
    Outcome,
}

fuzz_target!(|input: Input| {
    let failback = if input.failback { Failback::On } else { Failback::Off };
    let initdead = Duration::from_millis(u64::from(input.initdead_ms));
    let Ok(m) = ResourceManager::new("a", &NODES, &RESOURCES, failback, initdead, input.generation, Instant::ZERO)
    else {
        panic!("the fixed configuration is valid");
    };
    let mut h = Harness {
        m,
        now: Instant::ZERO,
        at: Instant::ZERO,
        accepted: Instant::ZERO,
        initdead: Instant::ZERO + initdead,
        running: Vec::new(),
        left: false,
    };
    h.drain();
    let name = |n: u8| NAMES[usize::from(n) % NAMES.len()];
    for (step, op) in input.ops.into_iter().take(512) {
        let ms = Duration::from_millis(u64::from(step.ms));
        if step.earlier {
            h.at = Instant::from_nanos(h.now.as_nanos().saturating_sub(ms.as_nanos() as u64));
        } else {
            h.now = h.now + ms;
            h.at = h.now;
        }
        match op {
            Op::Tick => {
                h.m.tick(h.at);
                h.accepted();
                h.drain();
                if let Some(next) = h.m.poll_timeout() {
                    assert!(next > h.at, "deadline {next:?} not after tick({:?})", h.at);
                }
            }
            Op::Verdict { node, verdict } => {
                let v = match verdict {
                    VerdictKind::Up => Verdict::Up,
                    VerdictKind::Down => Verdict::Down,
                    VerdictKind::Left => Verdict::Left,
                };
                // A known name is acted on; anything else must be refused and change nothing.
                let n = name(node);
                h.refusable(Refusal::Silent, |m, now| m.on_verdict(now, n, v));
            }
            Op::Restart { node } => {
                let n = name(node);
                h.refusable(Refusal::Silent, |m, now| m.on_restart(now, n));
            }
            Op::RawAnnouncement { node, text } => {
                let n = name(node);
                h.refusable(Refusal::Announcement, |m, now| m.on_announcement(now, n, &text).is_ok());
            }
            Op::Announcement { node, epoch, leaving, claims } => {
                let mut text = format!("{epoch:x}");
                if leaving {
                    text.push_str(" leaving");
                }
                for (resource, claim) in claims.into_iter().take(8) {
                    let letter = ["h", "r", "f"][usize::from(claim) % 3];
                    text.push_str(&format!(" {}={letter}", CLAIMED[usize::from(resource) % CLAIMED.len()]));
                }
                let n = name(node);
                h.refusable(Refusal::Announcement, |m, now| m.on_announcement(now, n, &text).is_ok());
            }
            Op::Complete { index, succeeded } => {
                if h.running.is_empty() {
                    continue;
                }
                let (resource, command) = h.running.remove(usize::from(index) % h.running.len());
                let outcome = h.m.on_outcome(h.at, resource, command, succeeded);
                assert!(
                    outcome.is_ok(),
                    "the outcome of {command:?} for {resource:?}, which was asked for, was refused"
                );
                h.accepted();
            }
            Op::Outcome { resource, command: c, succeeded } => {
                let (resource, c) = (ResourceId(usize::from(resource) % 5), command(c));
                let asked = h.running.iter().position(|x| *x == (resource, c));
                let mut accepted = false;
                h.refusable(Refusal::Outcome, |m, now| {
                    accepted = m.on_outcome(now, resource, c, succeeded).is_ok();
                    accepted
                });
                match asked {
                    Some(i) if accepted => {
                        h.running.remove(i);
                    }
                    Some(_) => panic!("the outcome of {c:?} for {resource:?}, which was asked for, was refused"),
                    None => assert!(!accepted, "an outcome of {c:?} for {resource:?}, never asked for, was accepted"),
                }
            }
            Op::Check => {
                h.m.check(h.at);
                h.accepted();
            }
            Op::Leave => {
                h.m.leave(h.at);
                h.accepted();
            }
        }
        h.drain();
        h.nothing_overdue();
    }
});
