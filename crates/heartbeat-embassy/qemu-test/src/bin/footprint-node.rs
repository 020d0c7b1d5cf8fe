//! Footprint image, with the heartbeat: the baseline's network plus one heartbeat node
//! monitoring 8 peers (10.0.0.2 to 10.0.0.9; none answers, so all go down after `initdead`).
//! Compare with `footprint-baseline` (see `footprint.sh`). Runs under QEMU and exits 0 once all
//! 8 peers were reported down.

#![no_std]
#![no_main]

use core::time::Duration;

use cortex_m_semihosting::hprintln;
use embassy_executor::Spawner;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::with_timeout;
use heartbeat_embassy::Heartbeat;
use heartbeat_embassy_qemu_test::exit::{fail, pass};
use heartbeat_embassy_qemu_test::net::{self, SocketBuffers, spawn};
use heartbeat_embassy_qemu_test::{stack, uptime_ms};
use heartbeat_proto::{Authentication, ClusterId, Config, Event, EventKind, FixedTimeout, NodeId};
use panic_semihosting as _;
use static_cell::StaticCell;

/// The peers monitored.
const PEERS: usize = 8;

type Node = Heartbeat<CriticalSectionRawMutex, FixedTimeout, PEERS>;

static NODE: StaticCell<Node> = StaticCell::new();
static EVENTS: Channel<CriticalSectionRawMutex, Event, 8> = Channel::new();

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let (stack, _quiet) = heartbeat_embassy_qemu_test::boot(spawner);
    let Some(me) = NodeId::new(1) else { fail(format_args!("node id")) };
    let config = Config::builder(ClusterId(7), me)
        .authentication(Authentication::None)
        .timeout(Duration::from_millis(300))
        .build();
    let node = match config.map(|c| Node::new(c, FixedTimeout::new())) {
        Ok(Ok(node)) => NODE.init(node),
        _ => fail(format_args!("configuration refused")),
    };
    for n in 2..2 + PEERS as u8 {
        let added = NodeId::new(u64::from(n)).map(|peer| node.add_peer(peer, net::address(n)));
        if !matches!(added, Some(Ok(()))) {
            fail(format_args!("cannot add peer {n}"));
        }
    }
    spawn(spawner, run(stack, node));

    let mut down = 0;
    while down < PEERS {
        match with_timeout(embassy_time::Duration::from_secs(3), EVENTS.receive()).await {
            Ok(Event { kind: EventKind::Down { .. }, .. }) => down += 1,
            Ok(_) => fail(format_args!("an event other than down")),
            Err(_) => fail(format_args!("only {down} of {PEERS} peers reported down")),
        }
    }
    // Integers only: printing the status types would add their `Debug` code to the image.
    let sent = node.stats().sent;
    hprintln!(
        "{} ms: {} peers down, {} frames sent; node state {} bytes; stack peak {} bytes",
        uptime_ms(),
        down,
        sent,
        size_of::<Node>(),
        stack::peak()
    );
    pass();
}

#[embassy_executor::task]
async fn run(stack: Stack<'static>, node: &'static Node) {
    let mut buffers = SocketBuffers::new();
    let mut socket = buffers.socket(stack);
    node.run(&mut socket, EVENTS.dyn_sender()).await
}
