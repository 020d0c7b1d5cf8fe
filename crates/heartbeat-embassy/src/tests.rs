//! Host tests of the adapter: real embassy-net stacks joined by the in-memory [`link`], real
//! UDP sockets on them, real embassy time (the std driver), futures driven by a thread-parking
//! executor. The QEMU firmware test runs the same kind of scenario on the target.
//!
//! [`link`]: crate::link

extern crate std;

use core::time::Duration;
use std::format;
use std::string::String;

use embassy_futures::select::{Either, Either3, select, select3};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use embassy_time::{Timer, with_timeout};
use heartbeat_proto::{
    Authentication, ClusterId, Config, Event, EventKind, FixedTimeout, Generation, MAX_FRAME_LEN, NodeId, PeerError,
};

use crate::link::Link;
use crate::{Heartbeat, SetupError, clock};

const PORT: u16 = 7000;
const TIMEOUT: Duration = Duration::from_millis(300);
const INTERVAL: Duration = Duration::from_millis(50);
/// How late past its deadline a host thread may get to run. Generous, because the host is
/// shared; the QEMU test holds the adapter to a tight bound in embassy time.
const HOST_LATENESS: Duration = Duration::from_millis(100);
/// The longest any one expected step may take.
const STEP: embassy_time::Duration = embassy_time::Duration::from_secs(3);

type Node = Heartbeat<NoopRawMutex, FixedTimeout, 4>;
type Events = Channel<NoopRawMutex, Event, 8>;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn address(n: u8) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n)), PORT)
}

fn config(me: u64, generation: u32) -> heartbeat_proto::ConfigBuilder {
    Config::builder(ClusterId(7), id(me))
        .authentication(Authentication::None)
        .generation(Generation(generation))
        .timeout(TIMEOUT)
        .interval(INTERVAL)
        .seed(me)
}

/// Node `me` (of `generation`) with peers `peers` at 10.0.0.<id>.
fn node(me: u64, generation: u32, peers: &[u8]) -> Node {
    let node = Node::new(config(me, generation).build().unwrap(), FixedTimeout::new()).unwrap();
    for &peer in peers {
        node.add_peer(id(u64::from(peer)), address(peer)).unwrap();
    }
    node
}

/// Socket memory for one node.
struct Buffers {
    rx_meta: [PacketMetadata; 8],
    rx: [u8; 8 * MAX_FRAME_LEN],
    tx_meta: [PacketMetadata; 8],
    tx: [u8; 8 * MAX_FRAME_LEN],
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            rx_meta: [PacketMetadata::EMPTY; 8],
            rx: [0; 8 * MAX_FRAME_LEN],
            tx_meta: [PacketMetadata::EMPTY; 8],
            tx: [0; 8 * MAX_FRAME_LEN],
        }
    }

    fn socket<'a>(&'a mut self, stack: Stack<'a>) -> UdpSocket<'a> {
        let mut socket = UdpSocket::new(stack, &mut self.rx_meta, &mut self.rx, &mut self.tx_meta, &mut self.tx);
        socket.bind(PORT).unwrap();
        socket
    }
}

/// Runs `scenario` with two stacks, 10.0.0.1 and 10.0.0.2, joined by an in-memory link.
fn on_two_stacks(scenario: impl AsyncFnOnce(Stack<'_>, Stack<'_>)) {
    let link = Link::<NoopRawMutex, 256, 8>::new();
    let (end_a, end_b) = link.ends();
    let ip = |n| {
        embassy_net::Config::ipv4_static(StaticConfigV4 {
            address: Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, n), 24),
            gateway: None,
            dns_servers: heapless::Vec::new(),
        })
    };
    let (mut resources_a, mut resources_b) = (StackResources::<2>::new(), StackResources::<2>::new());
    let (stack_a, mut runner_a) = embassy_net::new(end_a, ip(1), &mut resources_a, 1);
    let (stack_b, mut runner_b) = embassy_net::new(end_b, ip(2), &mut resources_b, 2);
    let run = select3(runner_a.run(), runner_b.run(), scenario(stack_a, stack_b));
    let Either3::Third(()) = futures_executor::block_on(run);
}

/// The next event, or a failure naming what was awaited.
async fn next(events: &Events, what: &str) -> Event {
    match with_timeout(STEP, events.receive()).await {
        Ok(event) => event,
        Err(_) => panic!("no event within {STEP:?} while waiting for {what}"),
    }
}

/// Polls `ready` every few milliseconds until it holds.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let give_up = embassy_time::Instant::now() + STEP;
    while !ready() {
        assert!(embassy_time::Instant::now() < give_up, "not within {STEP:?}: {what}");
        Timer::after_millis(5).await;
    }
}

/// Runs `node`, discarding its events.
async fn run_unwatched(node: &Node, socket: &mut UdpSocket<'_>, events: &Events) -> ! {
    let discard = async {
        loop {
            events.receive().await;
        }
    };
    match select(node.run(socket, events.dyn_sender()), discard).await {}
}

fn describe(event: &Event) -> String {
    format!("{} at {}: {:?}", event.peer, event.at, event.kind)
}

#[test]
fn heartbeats_flow_both_ways_then_a_stopped_node_goes_down_and_its_restart_is_seen() {
    on_two_stacks(async |stack_a, stack_b| {
        let (mut buffers_a, mut buffers_b) = (Buffers::new(), Buffers::new());
        let mut socket_a = buffers_a.socket(stack_a);
        let mut socket_b = buffers_b.socket(stack_b);
        let a = node(1, 1, &[2]);
        let b = node(2, 1, &[1]);
        let (events_a, events_b) = (Events::new(), Events::new());
        let (stop, restart) = (Signal::<NoopRawMutex, ()>::new(), Signal::<NoopRawMutex, ()>::new());

        let node_b = async {
            let Either::Second(()) = select(b.run(&mut socket_b, events_b.dyn_sender()), stop.wait()).await;
            restart.wait().await;
            let b2 = node(2, 2, &[1]);
            b2.run(&mut socket_b, events_b.dyn_sender()).await
        };

        let check = async {
            // Up both ways.
            let up = next(&events_a, "node 1 to see node 2 up").await;
            assert_eq!((up.peer, up.kind), (id(2), EventKind::Up { generation: Generation(1) }), "{}", describe(&up));
            let up = next(&events_b, "node 2 to see node 1 up").await;
            assert_eq!((up.peer, up.kind), (id(1), EventKind::Up { generation: Generation(1) }), "{}", describe(&up));

            // Heartbeats keep flowing both ways, and each side measures the round trip.
            until("five heartbeats and an RTT each way", || {
                let heard = |n: &Node, peer| n.peer(id(peer)).is_some_and(|p| p.stats.received >= 5);
                let rtt = |n: &Node, peer| n.peer(id(peer)).and_then(|p| p.stats.srtt()).is_some();
                heard(&a, 2) && heard(&b, 1) && rtt(&a, 2) && rtt(&b, 1)
            })
            .await;
            assert!(a.stats().sent >= 5 && b.stats().sent >= 5, "{:?} {:?}", a.stats(), b.stats());
            assert_eq!(a.node_stats().rejected(), 0, "{:?}", a.node_stats());

            // Node 2 stops: node 1 suspects it, then declares it down at its deadline.
            let stopped = clock::now();
            stop.signal(());
            let suspect = next(&events_a, "node 2 suspect").await;
            assert!(matches!(suspect.kind, EventKind::Suspect { .. }), "{}", describe(&suspect));
            let down = next(&events_a, "node 2 down").await;
            let EventKind::Down { last_heard: Some(last_heard), deadline } = down.kind else {
                panic!("expected down, got {}", describe(&down));
            };
            assert_eq!(down.peer, id(2));
            assert_eq!(deadline - last_heard, TIMEOUT);
            assert!(last_heard <= stopped, "{last_heard} > {stopped}");
            assert!(down.at >= deadline && down.at - deadline <= HOST_LATENESS, "{}", describe(&down));
            assert!(down.at - stopped <= TIMEOUT + HOST_LATENESS, "down {:?} after the stop", down.at - stopped);
            // The event's time is the embassy time at which the node decided.
            assert!(clock::to_core(embassy_time::Instant::now()) >= down.at);

            // Node 2 comes back with a higher generation: a restart, not a recovery.
            restart.signal(());
            let back = next(&events_a, "node 2 restarted").await;
            assert_eq!(
                (back.peer, back.kind),
                (id(2), EventKind::Restarted { previous: Generation(1), generation: Generation(2) }),
                "{}",
                describe(&back)
            );
        };

        let Either3::Third(()) = select3(a.run(&mut socket_a, events_a.dyn_sender()), node_b, check).await;
    });
}

#[test]
fn a_leaving_node_is_reported_left_not_down() {
    on_two_stacks(async |stack_a, stack_b| {
        let (mut buffers_a, mut buffers_b) = (Buffers::new(), Buffers::new());
        let (mut socket_a, mut socket_b) = (buffers_a.socket(stack_a), buffers_b.socket(stack_b));
        let (a, b) = (node(1, 1, &[2]), node(2, 1, &[1]));
        let (events_a, events_b) = (Events::new(), Events::new());
        let check = async {
            let up = next(&events_a, "node 2 up").await;
            assert!(matches!(up.kind, EventKind::Up { .. }), "{}", describe(&up));
            b.leave();
            let left = next(&events_a, "node 2 left").await;
            assert_eq!((left.peer, left.kind), (id(2), EventKind::Left), "{}", describe(&left));
            // And it stays left: no down follows, well past the timeout.
            assert!(with_timeout(embassy_time::Duration::from_millis(600), events_a.receive()).await.is_err());
        };
        let run_b = run_unwatched(&b, &mut socket_b, &events_b);
        let Either3::Third(()) = select3(a.run(&mut socket_a, events_a.dyn_sender()), run_b, check).await;
    });
}

#[test]
fn broadcast_frames_need_a_broadcast_address() {
    on_two_stacks(async |stack_a, stack_b| {
        let (mut buffers_a, mut buffers_b) = (Buffers::new(), Buffers::new());
        let (mut socket_a, mut socket_b) = (buffers_a.socket(stack_a), buffers_b.socket(stack_b));
        // Node 1 sends one frame per round to every node; it has peer 2 but no broadcast
        // address yet.
        let a = Node::new(config(1, 1).broadcast(true).build().unwrap(), FixedTimeout::new()).unwrap();
        a.add_peer(id(2), address(2)).unwrap();
        let b = node(2, 1, &[1]);
        let (events_a, events_b) = (Events::new(), Events::new());
        let check = async {
            until("a round with nowhere to go", || a.stats().unroutable >= 2).await;
            assert_eq!(a.stats().sent, 0);
            assert_eq!(b.stats().received, 0);
            // A directed broadcast on a /24 link reaches node 2 alone; a unicast address works
            // as well for a two-node link.
            a.set_broadcast(Some(address(2)));
            let up = next(&events_b, "node 2 to hear node 1's broadcast heartbeats").await;
            assert_eq!((up.peer, up.kind), (id(1), EventKind::Up { generation: Generation(1) }), "{}", describe(&up));
            assert!(a.stats().sent >= 1);
        };
        let run_a = run_unwatched(&a, &mut socket_a, &events_a);
        let Either3::Third(()) = select3(run_a, b.run(&mut socket_b, events_b.dyn_sender()), check).await;
    });
}

#[test]
fn a_full_peer_table_refuses_with_a_typed_error_and_changes_nothing() {
    let full: Heartbeat<NoopRawMutex, FixedTimeout, 2> =
        Heartbeat::new(config(1, 1).build().unwrap(), FixedTimeout::new()).unwrap();
    assert_eq!(full.add_peer(id(2), address(2)), Ok(()));
    assert_eq!(full.add_peer(id(3), address(3)), Ok(()));
    assert_eq!(full.add_peer(id(4), address(4)), Err(PeerError::TableFull));
    assert_eq!(full.add_peer(id(2), address(9)), Err(PeerError::AlreadyPresent));
    assert_eq!(full.add_peer(id(1), address(1)), Err(PeerError::IsSelf));
    assert_eq!(full.peer_ids().as_slice(), &[id(2), id(3)]);
    assert!(full.peer(id(4)).is_none());
    // Removing one makes room again.
    assert!(full.remove_peer(id(3)));
    assert_eq!(full.add_peer(id(4), address(4)), Ok(()));

    // The configured cap binds below the storage's capacity as well.
    let capped: Heartbeat<NoopRawMutex, FixedTimeout, 8> =
        Heartbeat::new(config(1, 1).max_peers(1).build().unwrap(), FixedTimeout::new()).unwrap();
    assert_eq!(capped.add_peer(id(2), address(2)), Ok(()));
    assert_eq!(capped.add_peer(id(3), address(3)), Err(PeerError::TableFull));
}

#[test]
fn configurations_with_more_links_than_one_socket_are_refused() {
    let config = config(1, 1).links(2).build().unwrap();
    let refused = Node::new(config, FixedTimeout::new()).err();
    assert_eq!(refused, Some(SetupError::MultipleLinks { links: 2 }));
}

#[test]
fn a_peer_learned_from_the_wire_is_sent_to_at_its_source() {
    use heartbeat_proto::{Key, KeyId, KeyRing, Learning};
    let keyed = |me| {
        let keys = KeyRing::new(Key::new(KeyId(1), &[0x3c; 32]).unwrap());
        config(me, 1).authentication(Authentication::Hmac(keys))
    };
    on_two_stacks(async |stack_a, stack_b| {
        let (mut buffers_a, mut buffers_b) = (Buffers::new(), Buffers::new());
        let (mut socket_a, mut socket_b) = (buffers_a.socket(stack_a), buffers_b.socket(stack_b));
        // Node 1 knows nobody; node 2 knows where node 1 is.
        let a = Node::new(keyed(1).learning(Learning::Enabled).build().unwrap(), FixedTimeout::new()).unwrap();
        let b = Node::new(keyed(2).build().unwrap(), FixedTimeout::new()).unwrap();
        b.add_peer(id(1), address(1)).unwrap();
        let (events_a, events_b) = (Events::new(), Events::new());
        let check = async {
            // Node 2 hears node 1 only if node 1 sends to the source of node 2's frames.
            let up = next(&events_b, "node 2 to hear the node that learned it").await;
            assert_eq!((up.peer, up.kind), (id(1), EventKind::Up { generation: Generation(1) }), "{}", describe(&up));
            let learned = a.peer(id(2)).unwrap();
            assert!(learned.learned);
            assert_eq!(a.stats().unroutable, 0, "{:?}", a.stats());
            assert!(a.stats().sent >= 1);
        };
        let run_a = run_unwatched(&a, &mut socket_a, &events_a);
        let Either3::Third(()) = select3(run_a, b.run(&mut socket_b, events_b.dyn_sender()), check).await;
    });
}
