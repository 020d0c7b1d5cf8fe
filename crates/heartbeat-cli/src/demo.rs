//! `heartbeat demo`: three real nodes on loopback show detection end to end, with no setup.
//!
//! The script: start nodes 1, 2 and 3; once they all see each other up, kill node 3 abruptly;
//! restart it with a new generation; stop node 2 gracefully; wait past the timeout. Every
//! event is printed as it happens, and the checks at the end say whether each expected event
//! came (the exit status is non-zero if one did not).

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heartbeat_proto::{Authentication, ClusterId, Config, Event, EventKind, FixedTimeout, Generation, KeyRing, NodeId};
use heartbeat_std::{Clock, Driver, Handle, socket};

use crate::duration::show;
use crate::keys;

const TICK: Duration = Duration::from_millis(50);
const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(500);
/// The longest any step waits for its events (the whole demo stays well under 30 s).
const PATIENCE: Duration = Duration::from_secs(5);

/// The demo takes no options.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// An event, who saw it, and when it was delivered.
#[derive(Debug, Clone, Copy)]
struct Seen {
    observer: u64,
    event: Event,
    wall: Instant,
}

struct Demo {
    clock: Clock,
    start: Instant,
    addrs: Vec<SocketAddr>,
    nodes: Vec<Option<Handle>>,
    tx: mpsc::Sender<Seen>,
    rx: mpsc::Receiver<Seen>,
    seen: Vec<Seen>,
    checks: Vec<(bool, String)>,
    /// One random key for this run, shared by the three nodes.
    auth: Authentication,
}

fn id(n: u64) -> NodeId {
    NodeId::new(n).expect("the demo numbers its nodes from 1")
}

pub(crate) fn main(_args: &Args) -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: the demo could not run: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let sockets: Vec<UdpSocket> =
        (0..3).map(|_| socket::unicast(SocketAddr::from(([127, 0, 0, 1], 0)))).collect::<Result<_, _>>()?;
    let addrs = sockets.iter().map(UdpSocket::local_addr).collect::<Result<Vec<_>, _>>()?;
    let (tx, rx) = mpsc::channel();
    let mut demo = Demo {
        clock: Clock::new(),
        start: Instant::now(),
        addrs,
        nodes: vec![None, None, None],
        tx,
        rx,
        seen: Vec::new(),
        checks: Vec::new(),
        auth: Authentication::Hmac(KeyRing::new(keys::random(1)?)),
    };
    println!(
        "heartbeat demo: 3 nodes on 127.0.0.1, a heartbeat every {}, timeout {} (suspect after {}),\n\
         frames signed with HMAC-SHA256 under a random key",
        show(INTERVAL),
        show(TIMEOUT),
        show(TIMEOUT / 2)
    );
    for (i, addr) in demo.addrs.iter().enumerate() {
        println!("  node {} listens on {addr}", i + 1);
    }
    println!("\n{:>9}  {:<7} what", "time", "who");

    demo.action("nodes 1, 2 and 3 start (generation 1)");
    for (i, socket) in sockets.into_iter().enumerate() {
        demo.start_node(i as u64 + 1, 1, socket)?;
    }
    demo.wait(|s| (1..=3).all(|p| (1..=3).filter(|o| *o != p).all(|o| saw(s, 0, o, p, is_up))));
    let all_up = (1..=3).all(|p| (1..=3).filter(|o| *o != p).all(|o| saw(&demo.seen, 0, o, p, is_up)));
    demo.check(all_up, "every node saw the other two up".into());
    demo.action("the nodes exchange heartbeats for a while");
    demo.observe(5 * INTERVAL);

    let mark = demo.seen.len();
    let kill = demo.action("node 3 is killed abruptly: no goodbye");
    if let Some(node) = demo.nodes[2].take() {
        node.abort();
    }
    demo.wait(|s| saw(s, mark, 1, 3, is_down) && saw(s, mark, 2, 3, is_down));
    for observer in [1, 2] {
        demo.check_down(mark, observer, 3, kill);
    }

    let mark = demo.seen.len();
    let restart = demo.action("node 3 restarts on the same address with generation 2");
    demo.start_node(3, 2, UdpSocket::bind(demo.addrs[2])?)?;
    demo.wait(|s| {
        saw(s, mark, 1, 3, is_restarted)
            && saw(s, mark, 2, 3, is_restarted)
            && saw(s, mark, 3, 1, is_up)
            && saw(s, mark, 3, 2, is_up)
    });
    // Let a few more heartbeats through: a restart must be reported exactly once.
    demo.observe(3 * INTERVAL);
    for observer in [1, 2] {
        demo.check_restart(mark, observer, 3, restart);
    }
    let back = saw(&demo.seen, mark, 3, 1, is_up) && saw(&demo.seen, mark, 3, 2, is_up);
    demo.check(back, "node 3 saw nodes 1 and 2 up again after its restart".into());

    let mark = demo.seen.len();
    let stop = demo.action("node 2 stops gracefully: it says goodbye");
    if let Some(node) = demo.nodes[1].take() {
        node.shutdown();
    }
    demo.wait(|s| saw(s, mark, 1, 2, is_left) && saw(s, mark, 3, 2, is_left));
    demo.action("waiting past the timeout: a node that left must never be declared down");
    demo.observe(TIMEOUT + 2 * INTERVAL);
    for observer in [1, 3] {
        demo.check_left(mark, observer, 2, stop);
    }

    demo.action("nodes 1 and 3 stop gracefully");
    for node in demo.nodes.iter_mut().filter_map(Option::take) {
        node.shutdown();
    }
    Ok(demo.report())
}

impl Demo {
    fn start_node(&mut self, me: u64, generation: u32, socket: UdpSocket) -> Result<(), Box<dyn std::error::Error>> {
        let config = Config::builder(ClusterId(0xde30), id(me))
            .authentication(self.auth.clone())
            .generation(Generation(generation))
            .tick(TICK)
            .interval(INTERVAL)
            .timeout(TIMEOUT)
            .seed(me << 32 | u64::from(generation))
            .build()?;
        let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], self.clock)?;
        for (i, addr) in self.addrs.iter().enumerate() {
            let peer = i as u64 + 1;
            if peer != me {
                driver.add_peer(id(peer), &[*addr])?;
            }
        }
        let tx = self.tx.clone();
        let handle = driver.spawn(move |event| {
            let _ = tx.send(Seen { observer: me, event, wall: Instant::now() });
        })?;
        self.nodes[me as usize - 1] = Some(handle);
        Ok(())
    }

    fn elapsed(&self, at: Instant) -> String {
        format!("{:.3}s", at.saturating_duration_since(self.start).as_secs_f64())
    }

    fn action(&self, what: &str) -> Instant {
        let now = Instant::now();
        println!("{:>9}  {:<7} {what}", self.elapsed(now), "----");
        now
    }

    /// Prints and keeps events until `done` holds (at most [`PATIENCE`]).
    fn wait(&mut self, done: impl Fn(&[Seen]) -> bool) {
        let end = Instant::now() + PATIENCE;
        while !done(&self.seen) {
            let Some(left) = end.checked_duration_since(Instant::now()) else { return };
            match self.rx.recv_timeout(left) {
                Ok(seen) => self.record(seen),
                Err(_) => return,
            }
        }
    }

    fn observe(&mut self, window: Duration) {
        let end = Instant::now() + window;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(seen) => self.record(seen),
                Err(_) => return,
            }
        }
    }

    fn record(&mut self, seen: Seen) {
        println!(
            "{:>9}  node {:<2} sees node {} {}",
            self.elapsed(seen.wall),
            seen.observer,
            seen.event.peer,
            self.describe(&seen)
        );
        self.seen.push(seen);
    }

    fn describe(&self, seen: &Seen) -> String {
        let event = &seen.event;
        match event.kind {
            EventKind::Up { generation } => format!("UP (generation {})", generation.0),
            EventKind::Suspect { last_heard } => format!("SUSPECT: silent for {}", show(event.at - last_heard)),
            EventKind::Down { last_heard: Some(last), deadline } => format!(
                "DOWN: silent for {} (timeout {}), declared {} after the deadline",
                show(seen.wall - self.clock.to_std(last)),
                show(TIMEOUT),
                show(seen.wall.saturating_duration_since(self.clock.to_std(deadline)))
            ),
            EventKind::Down { last_heard: None, .. } => "DOWN: never heard since start-up".into(),
            EventKind::Restarted { previous, generation } => {
                format!("RESTARTED (generation {} -> {})", previous.0, generation.0)
            }
            EventKind::Left => "LEFT (goodbye)".into(),
            EventKind::LinkUp { link } => format!("link {} UP", link.0),
            EventKind::LinkDown { link } => format!("link {} DOWN", link.0),
            other => format!("{other:?}"),
        }
    }

    fn check(&mut self, ok: bool, what: String) {
        self.checks.push((ok, what));
    }

    fn check_down(&mut self, from: usize, observer: u64, peer: u64, kill: Instant) {
        let down = about(&self.seen, from, observer, peer).find(|s| is_down(&s.event.kind));
        let Some(Seen { event, wall, .. }) = down else {
            return self.check(false, format!("node {observer} never declared node {peer} down after the kill"));
        };
        let EventKind::Down { last_heard: Some(last), .. } = event.kind else {
            return self.check(false, format!("node {observer} declared node {peer} down without having heard it"));
        };
        let silent = wall - self.clock.to_std(last);
        // Detected no sooner than the timeout and promptly after it.
        let ok = silent >= TIMEOUT && silent <= TIMEOUT + TICK;
        let text = format!(
            "node {observer} detected node {peer}'s crash after {} of silence (timeout {}, +{}), {} after the kill",
            show(silent),
            show(TIMEOUT),
            show(silent.saturating_sub(TIMEOUT)),
            show(wall - kill)
        );
        self.check(ok, text);
    }

    fn check_restart(&mut self, from: usize, observer: u64, peer: u64, restart: Instant) {
        let seen: Vec<Seen> = about(&self.seen, from, observer, peer).collect();
        let ok = matches!(seen.as_slice(), [s] if is_restarted(&s.event.kind));
        let latency = seen.first().map_or("never".into(), |s| format!("{} after the restart", show(s.wall - restart)));
        self.check(
            ok,
            format!("node {observer} saw node {peer} restart exactly once ({} event(s), {latency})", seen.len()),
        );
    }

    fn check_left(&mut self, from: usize, observer: u64, peer: u64, stop: Instant) {
        let seen: Vec<Seen> = about(&self.seen, from, observer, peer).collect();
        let left = seen.iter().find(|s| is_left(&s.event.kind));
        let downs = seen.iter().filter(|s| is_down(&s.event.kind)).count();
        let latency = left.map_or("never".into(), |s| format!("{} after the goodbye", show(s.wall - stop)));
        let text = format!("node {observer} saw node {peer} leave ({latency}) and declared it down {downs} time(s)");
        self.check(left.is_some() && downs == 0, text);
    }

    /// Prints the checks; returns whether all passed.
    fn report(&self) -> bool {
        println!("\nchecks");
        for (ok, what) in &self.checks {
            println!("  {}  {what}", if *ok { "ok  " } else { "FAIL" });
        }
        let failed = self.checks.iter().filter(|(ok, _)| !ok).count();
        let took = self.start.elapsed().as_secs_f64();
        if failed == 0 {
            println!("all {} checks passed in {took:.1} s", self.checks.len());
        } else {
            println!("{failed} of {} checks FAILED ({took:.1} s)", self.checks.len());
        }
        failed == 0
    }
}

fn about(seen: &[Seen], from: usize, observer: u64, peer: u64) -> impl Iterator<Item = Seen> + '_ {
    seen[from..].iter().filter(move |s| s.observer == observer && s.event.peer == id(peer)).copied()
}

fn saw(seen: &[Seen], from: usize, observer: u64, peer: u64, kind: fn(&EventKind) -> bool) -> bool {
    about(seen, from, observer, peer).any(|s| kind(&s.event.kind))
}

fn is_up(k: &EventKind) -> bool {
    matches!(k, EventKind::Up { .. })
}

fn is_down(k: &EventKind) -> bool {
    matches!(k, EventKind::Down { .. })
}

fn is_restarted(k: &EventKind) -> bool {
    matches!(k, EventKind::Restarted { .. })
}

fn is_left(k: &EventKind) -> bool {
    *k == EventKind::Left
}
