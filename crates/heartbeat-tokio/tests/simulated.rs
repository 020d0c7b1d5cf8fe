//! Deterministic runs: turmoil's simulated network (partitions and healing) and tokio's
//! paused clock. The driver is the same; only the sockets and the clock are virtual.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heartbeat_proto::{Authentication, ClusterId, Config, Event, EventKind, FixedTimeout, Generation, Instant, NodeId};
use heartbeat_tokio::{Driver, Socket, tokio_clock};

const PORT: u16 = 9000;
const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(500);
const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// turmoil's socket, seen through the driver's [`Socket`] trait.
struct Simulated(turmoil::net::UdpSocket);

impl Socket for Simulated {
    async fn readable(&self) -> io::Result<()> {
        self.0.readable().await
    }

    async fn writable(&self) -> io::Result<()> {
        self.0.writable().await
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.try_recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(buf, target)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn config(me: u64) -> Config {
    Config::builder(ClusterId(3), id(me))
        .authentication(Authentication::None)
        .generation(Generation(1))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .seed(me)
        .build()
        .unwrap()
}

/// (observer, event) in the order the simulation produced them.
type Record = Arc<Mutex<Vec<(u64, Event)>>>;

/// Runs one node as a turmoil host until the simulation ends.
async fn host(me: u64, record: Record) -> Result<(), Box<dyn std::error::Error>> {
    let socket = turmoil::net::UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], PORT))).await?;
    let mut driver = Driver::new(config(me), FixedTimeout::new(), vec![Simulated(socket)], tokio_clock())?;
    for (i, name) in NODES.iter().enumerate() {
        let peer = i as u64 + 1;
        if peer != me {
            let ip: IpAddr = turmoil::lookup(*name);
            driver.add_peer(id(peer), &[SocketAddr::new(ip, PORT)])?;
        }
    }
    let mut events = driver.subscribe();
    let _handle = driver.spawn();
    while let Ok(event) = events.recv().await {
        record.lock().unwrap().push((me, event));
    }
    Ok(())
}

/// Steps the simulation until `done` holds for the record, at most `limit` of simulated time.
fn step_until(
    sim: &mut turmoil::Sim<'_>,
    record: &Record,
    limit: Duration,
    done: impl Fn(&[(u64, Event)]) -> bool,
) -> bool {
    let end = sim.elapsed() + limit;
    while sim.elapsed() < end {
        if done(&record.lock().unwrap()) {
            return true;
        }
        sim.step().unwrap();
    }
    done(&record.lock().unwrap())
}

fn saw(record: &[(u64, Event)], from: usize, observer: u64, peer: u64, kind: fn(&EventKind) -> bool) -> bool {
    record[from..].iter().any(|(o, e)| *o == observer && e.peer == id(peer) && kind(&e.kind))
}

fn is_up(k: &EventKind) -> bool {
    matches!(k, EventKind::Up { .. })
}

fn is_down(k: &EventKind) -> bool {
    matches!(k, EventKind::Down { .. })
}

/// Converge, partition node 3 away, heal; returns the full record.
fn partition_and_heal(seed: u64) -> Vec<(u64, Event)> {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .tick_duration(Duration::from_millis(1))
        .rng_seed(seed)
        .build();
    let record: Record = Arc::default();
    for (i, name) in NODES.iter().enumerate() {
        let record = Arc::clone(&record);
        sim.host(*name, move || host(i as u64 + 1, Arc::clone(&record)));
    }
    let all_up = |r: &[(u64, Event)], from: usize| {
        (1..=3).all(|o| (1..=3).filter(|p| *p != o).all(|p| saw(r, from, o, p, is_up)))
    };
    assert!(step_until(&mut sim, &record, Duration::from_secs(5), |r| all_up(r, 0)), "no convergence");

    let mark = record.lock().unwrap().len();
    sim.partition("n3", "n1");
    sim.partition("n3", "n2");
    let split = |r: &[(u64, Event)]| {
        saw(r, mark, 1, 3, is_down)
            && saw(r, mark, 2, 3, is_down)
            && saw(r, mark, 3, 1, is_down)
            && saw(r, mark, 3, 2, is_down)
    };
    assert!(step_until(&mut sim, &record, Duration::from_secs(5), split), "partition not detected");
    // Across the partition, each side declared the other down at its last heartbeat plus the
    // timeout, to the nanosecond of simulated time; nodes 1 and 2 never lost each other.
    for (observer, event) in &record.lock().unwrap()[mark..] {
        match event.kind {
            EventKind::Down { last_heard: Some(last), deadline } => {
                assert_eq!((deadline, event.at), (last + TIMEOUT, last + TIMEOUT), "{observer} {event:?}");
                assert!(*observer == 3 || event.peer == id(3), "{observer} {event:?}");
            }
            EventKind::Suspect { .. } => {}
            _ => panic!("unexpected during the partition: {observer} {event:?}"),
        }
    }

    let heal = record.lock().unwrap().len();
    sim.repair("n3", "n1");
    sim.repair("n3", "n2");
    let healed =
        |r: &[(u64, Event)]| saw(r, heal, 1, 3, is_up) && saw(r, heal, 2, 3, is_up) && saw(r, heal, 3, 1, is_up);
    assert!(step_until(&mut sim, &record, Duration::from_secs(5), healed), "no healing");
    record.lock().unwrap().clone()
}

#[test]
fn a_partition_is_detected_on_both_sides_and_heals() {
    let run = partition_and_heal(42);
    assert!(run.iter().any(|(_, e)| is_down(&e.kind)));
}

#[test]
fn the_same_seed_gives_the_same_run() {
    assert_eq!(partition_and_heal(7), partition_and_heal(7));
}

/// Under `tokio::time::pause` an unanswered peer is declared down exactly at `initdead`, and
/// the test takes no real time to get there.
#[tokio::test(start_paused = true)]
async fn paused_time_fires_the_deadline_exactly() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Nobody listens here: the peer never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = Config::builder(ClusterId(3), id(1))
        .authentication(Authentication::None)
        .interval(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .tick(Duration::from_secs(10))
        .initdead(Duration::from_secs(3600))
        .build()
        .unwrap();
    let clock = tokio_clock();
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], clock).unwrap();
    driver.add_peer(id(2), &[silent.local_addr().unwrap()]).unwrap();
    let mut events = driver.subscribe();
    let real = std::time::Instant::now();
    let handle = driver.spawn();
    let event = events.recv().await.unwrap();
    assert_eq!(event.kind, EventKind::Down { last_heard: None, deadline: Instant::from_secs(3600) });
    assert_eq!(event.at, Instant::from_secs(3600));
    assert!(real.elapsed() < Duration::from_secs(30), "an hour of virtual time took {:?}", real.elapsed());
    // Its heartbeats went out all along: one round per jittered interval (7.5 to 10 s, 8.75 s
    // on average), so between 360 and 480 in the hour, about 411.
    let sent = handle.status().await.unwrap().io.sent;
    assert!((360..=480).contains(&sent), "{sent}");
    handle.shutdown().await;
}
