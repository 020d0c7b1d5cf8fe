//! The QEMU firmware test: two embassy-net stacks joined by an in-memory link, each running a
//! heartbeat node. Heartbeats must flow both ways and round-trip times be measured; then node
//! 2 stops and node 1 must report it `Down` within its timeout, measured in embassy time;
//! then node 2 starts again with a higher generation and node 1 must report it `Restarted`.
//! Exits through semihosting with status 0 only if every expected event came in time.

#![no_std]
#![no_main]

use core::time::Duration;

use cortex_m_semihosting::hprintln;
use embassy_executor::Spawner;
use embassy_futures::select::select;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use embassy_time::{Timer, with_timeout};
use heartbeat_embassy::{Heartbeat, clock};
use heartbeat_embassy_qemu_test::exit::{fail, pass};
use heartbeat_embassy_qemu_test::net::{self, SocketBuffers, spawn};
use heartbeat_proto::{
    Authentication, ClusterId, Config, Event, EventKind, FixedTimeout, Generation, NodeId, PeerStatus,
};
use panic_semihosting as _;
use static_cell::StaticCell;

/// The timeout each node asks its peer to hold it to.
const TIMEOUT: Duration = Duration::from_millis(300);
/// The heartbeat interval (each gap is drawn from 75–100 % of it).
const INTERVAL: Duration = Duration::from_millis(100);
/// How late past its deadline a node may decide: its timer fires at the first millisecond
/// interrupt at or after the deadline (at most 1 ms late), then the task must get the CPU.
const LATENESS: Duration = Duration::from_millis(5);
/// The longest any one step of the scenario may take.
const STEP: embassy_time::Duration = embassy_time::Duration::from_secs(3);

type Node = Heartbeat<CriticalSectionRawMutex, FixedTimeout, 8>;
type Events = Channel<CriticalSectionRawMutex, Event, 8>;

static EVENTS_1: Events = Channel::new();
static EVENTS_2: Events = Channel::new();
static STOP_2: Signal<CriticalSectionRawMutex, ()> = Signal::new();
static RESTART_2: Signal<CriticalSectionRawMutex, ()> = Signal::new();
static NODE_1: StaticCell<Node> = StaticCell::new();
static NODE_2: StaticCell<Node> = StaticCell::new();

fn id(n: u8) -> NodeId {
    match NodeId::new(u64::from(n)) {
        Some(id) => id,
        None => fail(format_args!("node ids start at 1")),
    }
}

/// Node `me` in `generation`, monitoring `peer`.
fn node(me: u8, generation: u32, peer: u8) -> Node {
    let config = Config::builder(ClusterId(7), id(me))
        .authentication(Authentication::None)
        .generation(Generation(generation))
        .timeout(TIMEOUT)
        .interval(INTERVAL)
        .seed(u64::from(me))
        .build();
    let node = match config.map(|config| Node::new(config, FixedTimeout::new())) {
        Ok(Ok(node)) => node,
        Ok(Err(e)) => fail(format_args!("node {me}: {e}")),
        Err(e) => fail(format_args!("node {me}: {e}")),
    };
    if let Err(e) = node.add_peer(id(peer), net::address(peer)) {
        fail(format_args!("node {me}: cannot add peer {peer}: {e}"));
    }
    node
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    hprintln!("heartbeat-embassy QEMU test: two embassy-net stacks over an in-memory link");
    let (stack_1, stack_2) = heartbeat_embassy_qemu_test::boot(spawner);
    let node_1: &'static Node = NODE_1.init(node(1, 1, 2));
    let node_2: &'static Node = NODE_2.init(node(2, 1, 1));
    hprintln!(
        "node state: {} bytes for 8 peers; node 1 timeout {:?}, interval {:?}",
        core::mem::size_of::<Node>(),
        TIMEOUT,
        INTERVAL
    );
    spawn(spawner, run_node_1(stack_1, node_1));
    spawn(spawner, run_node_2(stack_2, node_2));

    scenario(node_1, node_2).await;
    pass();
}

/// Node 1 runs throughout.
#[embassy_executor::task]
async fn run_node_1(stack: Stack<'static>, node: &'static Node) {
    let mut buffers = SocketBuffers::new();
    let mut socket = buffers.socket(stack);
    node.run(&mut socket, EVENTS_1.dyn_sender()).await
}

/// Node 2 runs until told to stop, as if it crashed: it falls silent, sending no goodbye.
/// Told to restart, it comes back as a fresh node with the next generation.
#[embassy_executor::task]
async fn run_node_2(stack: Stack<'static>, first: &'static Node) {
    let mut buffers = SocketBuffers::new();
    let mut socket = buffers.socket(stack);
    select(first.run(&mut socket, EVENTS_2.dyn_sender()), STOP_2.wait()).await;
    RESTART_2.wait().await;
    let second = node(2, 2, 1);
    second.run(&mut socket, EVENTS_2.dyn_sender()).await
}

async fn scenario(node_1: &Node, node_2: &Node) {
    // Heartbeats flow both ways: each node sees the other come up.
    expect_up(&EVENTS_1, "node 1", 2, 1).await;
    expect_up(&EVENTS_2, "node 2", 1, 1).await;

    // ...and keep flowing, and each node measures the round trip.
    let settled = |node: &Node, peer| {
        node.peer(id(peer)).is_some_and(|p: PeerStatus| p.stats.received >= 5 && p.stats.srtt().is_some())
    };
    let give_up = embassy_time::Instant::now() + STEP;
    while !(settled(node_1, 2) && settled(node_2, 1)) {
        if embassy_time::Instant::now() >= give_up {
            fail(format_args!("no five heartbeats and RTT both ways within {STEP}"));
        }
        Timer::after_millis(10).await;
    }
    report(node_1, 1, 2);
    report(node_2, 2, 1);
    // Two stacks on one chip answer each other within microseconds; even the first samples,
    // taken while the stacks start, stay far below a heartbeat interval.
    for (node, peer) in [(node_1, 2), (node_2, 1)] {
        let rtt = node.peer(id(peer)).map_or(0, |p| p.stats.srtt_us);
        check(rtt > 0 && rtt < 20_000, format_args!("implausible smoothed RTT to node {peer}: {rtt} us"));
    }

    // Node 2 stops. Node 1 suspects it, then declares it down at its deadline: its last
    // heartbeat plus the timeout, which is no later than the stop plus the timeout.
    let stopped = clock::now();
    STOP_2.signal(());
    hprintln!("[{}] node 2 stops", stopped);
    let suspect = next(&EVENTS_1, "node 1: node 2 suspect").await;
    if !(suspect.peer == id(2) && matches!(suspect.kind, EventKind::Suspect { .. })) {
        fail(format_args!("node 1 expected node 2 suspect, got {suspect:?}"));
    }
    let down = next(&EVENTS_1, "node 1: node 2 down").await;
    let reported = clock::now();
    let EventKind::Down { last_heard: Some(last_heard), deadline } = down.kind else {
        fail(format_args!("node 1 expected node 2 down, got {down:?}"));
    };
    hprintln!(
        "[{}] node 1: node 2 Down (last heard {}, deadline {}, decided {:?} after the deadline, {:?} after the stop)",
        down.at,
        last_heard,
        deadline,
        down.at - deadline,
        down.at - stopped
    );
    check(down.peer == id(2), format_args!("down names node {}", down.peer));
    check(deadline - last_heard == TIMEOUT, format_args!("deadline {deadline} is not last heard + {TIMEOUT:?}"));
    check(last_heard <= stopped, format_args!("heard at {last_heard}, after the stop"));
    check(down.at >= deadline, format_args!("down at {}, before its deadline", down.at));
    check(down.at - deadline <= LATENESS, format_args!("down {:?} after its deadline", down.at - deadline));
    check(
        reported - stopped <= TIMEOUT + LATENESS,
        format_args!("down reported {:?} after the stop", reported - stopped),
    );

    // Node 2 starts again with generation 2: node 1 reports a restart, not a recovery.
    let restarted = clock::now();
    RESTART_2.signal(());
    hprintln!("[{}] node 2 restarts with generation 2", restarted);
    let back = next(&EVENTS_1, "node 1: node 2 restarted").await;
    let expected = EventKind::Restarted { previous: Generation(1), generation: Generation(2) };
    if !(back.peer == id(2) && back.kind == expected) {
        fail(format_args!("node 1 expected node 2 restarted, got {back:?}"));
    }
    hprintln!(
        "[{}] node 1: node 2 Restarted (generation 1 -> 2), {:?} after the restart",
        back.at,
        back.at - restarted
    );
    check(back.at - restarted <= INTERVAL + LATENESS, format_args!("restart seen {:?} late", back.at - restarted));
    expect_up(&EVENTS_2, "node 2 (generation 2)", 1, 1).await;
    hprintln!("node 1 counters: {:?}", node_1.node_stats());
    hprintln!("node 1 adapter: {:?}", node_1.stats());
}

/// The next event, or failure after [`STEP`].
async fn next(events: &Events, what: &str) -> Event {
    match with_timeout(STEP, events.receive()).await {
        Ok(event) => event,
        Err(_) => fail(format_args!("no event within {STEP} ({what})")),
    }
}

/// Expects `peer` up in `generation` as the next event of `events`.
async fn expect_up(events: &Events, who: &str, peer: u8, generation: u32) {
    let event = next(events, who).await;
    if !(event.peer == id(peer) && event.kind == (EventKind::Up { generation: Generation(generation) })) {
        fail(format_args!("{who} expected node {peer} up, got {event:?}"));
    }
    hprintln!("[{}] {}: node {} Up (generation {})", event.at, who, peer, generation);
}

fn report(node: &Node, me: u8, peer: u8) {
    if let Some(p) = node.peer(id(peer)) {
        hprintln!(
            "[{}] node {}: node {} heard {} times, rtt {} us, srtt {} us, lost {}",
            clock::now(),
            me,
            peer,
            p.stats.received,
            p.stats.rtt_us,
            p.stats.srtt_us,
            p.stats.lost
        );
    }
}

fn check(ok: bool, why: core::fmt::Arguments<'_>) {
    if !ok {
        fail(why);
    }
}
