//! Discovery with the real binary: `heartbeat run` processes in network namespaces on one
//! bridge, each configured with only a group (IPv4 multicast, IPv4 broadcast, IPv6 link-local
//! multicast) and the cluster's key file — no peer list. They learn each other and go up; a
//! SIGKILLed one is declared down by both others. Frames without a valid HMAC create no peer,
//! and a flood of validly signed frames from many ids fills the table only up to `max_peers`,
//! the rest refused and counted.
//!
//! Needs root and iproute2. Namespaces are `hbt-<pid>-<n>-disc-*`, addresses 198.19.42.0/24
//! and 2001:db8:42::/64; everything is removed on drop, also when a test fails.

use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use heartbeat_proto::{
    Authentication, ClusterId, Config, FixedTimeout, Generation, Growable, Instant, Key, KeyId, KeyRing, NodeId,
};
use heartbeat_tests::netns::{self, Check, Error, Namespace, Result, wait_for};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_heartbeat");

/// The group's port on every host.
const PORT: u16 = 7400;
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 42, 1);
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x4242);
const BROADCAST: Ipv4Addr = Ipv4Addr::new(198, 19, 42, 255);
/// The cluster's one key (id 1).
const SECRET: [u8; 32] = [0x5a; 32];
/// How long a converging or a detecting cluster is given.
const PATIENCE: Duration = Duration::from_secs(10);

/// The tests run one at a time: they share the machine's two cores.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn v4(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, 42, u8::try_from(n).unwrap())
}

fn v6(n: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0x42, 0, 0, 0, 0, u16::try_from(n).unwrap())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hosts on one bridge (in a switch namespace of its own), each with `e0` on it, and the key
/// file they share.
struct Link {
    hosts: Vec<Namespace>,
    _switch: Namespace,
    keys: PathBuf,
    dir: tempfile::TempDir,
}

impl Link {
    fn new(hosts: usize) -> Result<Link> {
        let dir = netns::temp_dir("disc")?;
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("1 {}\n", hex(&SECRET))).map_err(|e| io("write the key file", e))?;
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| io("protect the key file", e))?;
        let switch = Namespace::new("disc-sw")?;
        // No IGMP/MLD snooping: a bridge without a querier would otherwise be free to stop
        // flooding the group.
        switch.ip(&["link", "add", "br0", "type", "bridge", "mcast_snooping", "0"])?;
        switch.set_up("br0")?;
        let mut namespaces = Vec::new();
        for n in 1..=hosts {
            let ns = Namespace::new(&format!("disc-h{n}"))?;
            // Link-local addresses usable at once, for the IPv6 group's source.
            no_dad(&ns)?;
            let outer = format!("h{n}");
            netns::veth(&ns, "e0", &switch, &outer)?;
            switch.ip(&["link", "set", &outer, "master", "br0"])?;
            ns.add_address("e0", v4(n).into(), 24)?;
            ns.add_address("e0", v6(n).into(), 64)?;
            // The hosts have no default route: the groups go out of `e0`.
            ns.ip(&["route", "add", "224.0.0.0/4", "dev", "e0"])?;
            namespaces.push(ns);
        }
        Ok(Link { hosts: namespaces, _switch: switch, keys, dir })
    }

    fn host(&self, n: usize) -> &Namespace {
        &self.hosts[n - 1]
    }
}

/// Turns duplicate address detection off for the interfaces `ns` gets from now on (the
/// thread in `ns` opens the namespace's own `/proc/sys/net`).
fn no_dad(ns: &Namespace) -> Result<()> {
    ns.within(|| std::fs::write("/proc/sys/net/ipv6/conf/default/accept_dad", "0"))?
        .map_err(|e| io("turn off duplicate address detection", e))
}

fn io(what: &str, source: std::io::Error) -> Error {
    Error::Io { context: format!("cannot {what}"), source }
}

/// One `heartbeat run --json` in a host's namespace, its log in a file. Killed on drop.
struct Node {
    id: usize,
    child: Option<Child>,
    log: PathBuf,
    control: PathBuf,
}

impl Node {
    /// Starts node `n` on host `n` with the cluster's keys, fast timing and `extra`, and waits
    /// until its control socket answers.
    fn start(link: &Link, n: usize, extra: &[String]) -> Result<Node> {
        let log = link.dir.path().join(format!("n{n}.log"));
        let control = link.dir.path().join(format!("n{n}.sock"));
        let out = File::create(&log).map_err(|e| io("create a log", e))?;
        let err = out.try_clone().map_err(|e| io("clone a log handle", e))?;
        let mut command = link.host(n).command(BINARY);
        command.args(["run", "--json", "--id", &n.to_string(), "--key-file"]).arg(&link.keys);
        command.args(["--interval", "50ms", "--timeout", "400ms", "--tick", "50ms", "--control"]).arg(&control);
        command.args(extra).stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command.spawn().map_err(|e| io("start heartbeat", e))?;
        let mut node = Node { id: n, child: Some(child), log, control };
        wait_for(&format!("node {n} to answer"), PATIENCE, || {
            if let Some(status) = node.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(node.failed(format!("exited at start-up ({status})")));
            }
            Ok(match node.status() {
                Ok(_) => Check::Done(()),
                Err(e) => Check::Waiting(e.to_string()),
            })
        })?;
        Ok(node)
    }

    fn failed(&self, problem: String) -> Error {
        Error::Daemon { daemon: format!("node {}", self.id), problem, log: self.log_text() }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `heartbeat status --json`.
    fn status(&self) -> Result<Value> {
        let out =
            netns::run_command(Command::new(BINARY).arg("status").arg("--control").arg(&self.control).arg("--json"))?;
        serde_json::from_str(&out)
            .map_err(|e| Error::Parse { what: format!("node {} status ({e})", self.id), text: out })
    }

    /// Every JSON event logged so far.
    fn events(&self) -> Vec<Value> {
        self.log_text().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Whether it logged an event of `kind` about `peer`.
    fn logged(&self, kind: &str, peer: usize) -> bool {
        self.events().iter().any(|e| e["kind"] == kind && e["peer"] == peer)
    }

    /// Waits until it logged an event of `kind` about `peer`.
    fn wait_logged(&self, kind: &str, peer: usize) -> Result<()> {
        wait_for(&format!("node {} to log `{kind}` about {peer}", self.id), PATIENCE, || {
            Ok(if self.logged(kind, peer) { Check::Done(()) } else { Check::Waiting(self.log_text()) })
        })
    }

    /// SIGKILL, as a crash: no goodbye.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The peers a status lists, by id.
fn peers(status: &Value) -> Vec<&Value> {
    status["peers"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

fn peer(status: &Value, id: usize) -> Option<&Value> {
    peers(status).into_iter().find(|p| p["id"] == id)
}

/// Waits until every node lists every other as up and learned, and logged `learned` for it;
/// then, a second later (past the reachability grace), that they are all still plainly up.
fn converge(nodes: &[Node]) -> Result<()> {
    let ids: Vec<usize> = nodes.iter().map(|n| n.id).collect();
    let all_up = |node: &Node| -> Result<Check<()>> {
        let status = node.status()?;
        let others = ids.iter().filter(|id| **id != node.id);
        let ok = others.clone().all(|id| {
            peer(&status, *id).is_some_and(|p| p["state"] == "up" && p["learned"] == true)
                && node.logged("learned", *id)
        });
        Ok(if ok { Check::Done(()) } else { Check::Waiting(status.to_string()) })
    };
    for node in nodes {
        wait_for(&format!("node {} to learn every other", node.id), PATIENCE, || all_up(node))?;
    }
    std::thread::sleep(Duration::from_secs(1));
    for node in nodes {
        let status = node.status()?;
        for p in peers(&status) {
            // Group frames say nothing of whom their sender hears: never `asymmetric`.
            assert_eq!((&p["state"], &p["reachability"]), (&"up".into(), &"unmeasured".into()), "{status}");
        }
        assert_eq!(peers(&status).len(), nodes.len() - 1, "{status}");
        assert_eq!(status["discovery"]["learned_now"], nodes.len() - 1, "{status}");
    }
    Ok(())
}

/// Kills `victim`; every other node declares it down.
fn kill_is_seen_by_the_others(nodes: &mut [Node], victim: usize) -> Result<()> {
    nodes[victim - 1].kill();
    for node in nodes.iter().filter(|n| n.id != victim) {
        node.wait_logged("down", victim)?;
        let events = node.events();
        let down = events.iter().find(|e| e["kind"] == "down" && e["peer"] == victim).unwrap_or(&Value::Null);
        // The numbers the README quotes (`--nocapture` shows them).
        eprintln!(
            "node {} declared {victim} down: silent {} ms, {} ms after its deadline",
            node.id, down["silent_ms"], down["late_ms"]
        );
        let status = node.status()?;
        assert_eq!(peer(&status, victim).map(|p| &p["state"]), Some(&"down".into()), "{status}");
    }
    Ok(())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_string()).collect()
}

fn multicast_v4_args(n: usize) -> Vec<String> {
    strings(&["--multicast", &SocketAddr::from((GROUP_V4, PORT)).to_string(), "--interface", &v4(n).to_string()])
}

#[test]
fn three_nodes_on_an_ipv4_group_learn_each_other_and_see_a_killed_one_down() -> Result<()> {
    let _serial = serial();
    let link = Link::new(3)?;
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let mut args = multicast_v4_args(n);
        if n == 1 {
            args.extend(strings(&["--forget-after", "1s"]));
        }
        nodes.push(Node::start(&link, n, &args)?);
    }
    converge(&nodes)?;
    kill_is_seen_by_the_others(&mut nodes, 3)?;
    // Node 1 forgets a learned peer down for a second; node 2 keeps it (the default).
    nodes[0].wait_logged("forgotten", 3)?;
    let status = nodes[0].status()?;
    assert!(peer(&status, 3).is_none(), "{status}");
    assert_eq!(peer(&status, 2).map(|p| &p["state"]), Some(&"up".into()), "{status}");
    let status = nodes[1].status()?;
    assert_eq!(peer(&status, 3).map(|p| &p["state"]), Some(&"down".into()), "{status}");
    assert!(!nodes[1].logged("forgotten", 3));
    Ok(())
}

#[test]
fn three_nodes_on_a_broadcast_address_learn_each_other_and_see_a_killed_one_down() -> Result<()> {
    let _serial = serial();
    let link = Link::new(3)?;
    let broadcast = SocketAddr::from((BROADCAST, PORT)).to_string();
    let mut nodes = Vec::new();
    for n in 1..=3 {
        nodes.push(Node::start(&link, n, &strings(&["--broadcast", &broadcast]))?);
    }
    converge(&nodes)?;
    kill_is_seen_by_the_others(&mut nodes, 1)
}

#[test]
fn three_nodes_on_an_ipv6_link_local_group_learn_each_other_and_see_a_killed_one_down() -> Result<()> {
    let _serial = serial();
    let link = Link::new(3)?;
    let group = format!("[{GROUP_V6}]:{PORT}");
    let mut nodes = Vec::new();
    for n in 1..=3 {
        nodes.push(Node::start(&link, n, &strings(&["--multicast", &group, "--interface", "e0"]))?);
    }
    converge(&nodes)?;
    kill_is_seen_by_the_others(&mut nodes, 2)
}

/// `rounds` consecutive group heartbeats of node `id`, signed with `auth`.
fn frames(id: u64, auth: Authentication, rounds: u64) -> Vec<Vec<u8>> {
    frames_of(id, Generation(1), auth, rounds)
}

/// The same, of `generation`.
fn frames_of(id: u64, generation: Generation, auth: Authentication, rounds: u64) -> Vec<Vec<u8>> {
    let config = Config::builder(ClusterId(0), NodeId::new(id).unwrap())
        .authentication(auth)
        .generation(generation)
        .tick(Duration::from_millis(50))
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_millis(400))
        .broadcast(true)
        .build()
        .unwrap();
    let mut node: heartbeat_proto::Node<FixedTimeout, Growable> =
        heartbeat_proto::Node::new(config, FixedTimeout::new(), Instant::ZERO);
    let mut buf = [0; heartbeat_proto::MAX_FRAME_LEN];
    let mut out = Vec::new();
    for round in 0..rounds {
        node.tick(Instant::from_millis(100 * round));
        while let Some(Ok(t)) = node.poll_transmit(&mut buf) {
            out.push(buf[..t.len].to_vec());
        }
    }
    out
}

fn ring(secret: &[u8]) -> Authentication {
    Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), secret).unwrap()))
}

/// Sends every frame to the IPv4 group from host `n` (which runs no node), `pause` apart.
fn send_from(link: &Link, n: usize, frames: &[Vec<u8>], pause: Duration) -> Result<()> {
    let to = SocketAddr::from((GROUP_V4, PORT));
    link.host(n)
        .within(|| -> std::io::Result<()> {
            let socket = UdpSocket::bind((v4(n), 0))?;
            socket.set_multicast_ttl_v4(1)?;
            for frame in frames {
                socket.send_to(frame, to)?;
                std::thread::sleep(pause);
            }
            Ok(())
        })?
        .map_err(|e| io("send to the group", e))
}

/// `GET /metrics` from inside `ns`.
fn scrape(ns: &Namespace, addr: &str) -> Result<String> {
    use std::io::{Read, Write};
    ns.within(|| -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: node\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    })?
    .map_err(|e| io("scrape the metrics", e))
}

/// The value of the sample `series` (name and labels as written) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

fn count(status: &Value, key: &str) -> u64 {
    status["discovery"][key].as_u64().unwrap_or_else(|| panic!("no discovery.{key} in {status}"))
}

#[test]
fn frames_without_a_valid_hmac_create_no_peer_and_are_counted() -> Result<()> {
    let _serial = serial();
    let link = Link::new(3)?;
    let nodes = [Node::start(&link, 1, &multicast_v4_args(1))?, Node::start(&link, 2, &multicast_v4_args(2))?];
    converge(&nodes)?;
    let before: Vec<u64> =
        nodes.iter().map(|n| n.status().map(|s| count(&s, "refused_auth"))).collect::<Result<_>>()?;
    // Host 3 forges: unsigned heartbeats of node 77, heartbeats of node 78 signed with a key
    // of the right id and the wrong secret, and garbage.
    let mut forged = frames(77, Authentication::None, 10);
    forged.extend(frames(78, ring(&[0x33; 32]), 10));
    forged.push(vec![0xff; 64]);
    send_from(&link, 3, &forged, Duration::from_millis(20))?;
    // The positive control: the same path with the cluster's key does create a peer.
    send_from(&link, 3, &frames(79, ring(&SECRET), 3), Duration::from_millis(20))?;
    for node in &nodes {
        node.wait_logged("learned", 79)?;
        let status = node.status()?;
        for forger in [77, 78] {
            assert!(peer(&status, forger).is_none(), "node {} took forged frames of {forger}: {status}", node.id);
            assert!(!node.logged("learned", forger) && !node.logged("up", forger));
        }
        let refused = count(&status, "refused_auth") - before[node.id - 1];
        assert!(refused >= 20, "node {}: {refused} refused for their HMAC, 20 sent: {status}", node.id);
        assert_eq!(peer(&status, 3 - node.id).map(|p| &p["state"]), Some(&"up".into()), "{status}");
    }
    // Nor do unsigned frames in the name of a real peer keep it alive: node 2 dies while host 3
    // sends heartbeats of node 2 from a newer generation, and node 1 still declares it down.
    let mut nodes = nodes;
    nodes[1].kill();
    let spoofed = frames_of(2, Generation(u32::MAX), Authentication::None, 40);
    send_from(&link, 3, &spoofed, Duration::from_millis(50))?;
    nodes[0].wait_logged("down", 2)?;
    assert!(!nodes[0].logged("restarted", 2), "{}", nodes[0].log_text());
    let status = nodes[0].status()?;
    assert_eq!(peer(&status, 2).map(|p| &p["state"]), Some(&"down".into()), "{status}");
    Ok(())
}

#[test]
fn a_flood_of_signed_frames_from_many_ids_fills_the_table_only_up_to_max_peers() -> Result<()> {
    let _serial = serial();
    const IDS: u64 = 300;
    const CAP: usize = 4;
    let link = Link::new(3)?;
    let mut capped = multicast_v4_args(1);
    capped.extend(strings(&["--max-peers", &CAP.to_string(), "--forget-after", "1s", "--metrics", "127.0.0.1:9464"]));
    let nodes = [Node::start(&link, 1, &capped)?, Node::start(&link, 2, &multicast_v4_args(2))?];
    converge(&nodes)?;
    // Every id's two rounds, validly signed: a member of the cluster gone rogue, or one far
    // bigger than planned.
    let flood: Vec<Vec<u8>> = (1000..1000 + IDS).flat_map(|id| frames(id, ring(&SECRET), 2)).collect();
    let sent = flood.len();
    let flooding = std::thread::scope(|scope| -> Result<Vec<usize>> {
        let sender = scope.spawn(|| send_from(&link, 3, &flood, Duration::from_micros(300)));
        let mut seen = Vec::new();
        while !sender.is_finished() {
            seen.push(peers(&nodes[0].status()?).len());
            std::thread::sleep(Duration::from_millis(50));
        }
        sender.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        Ok(seen)
    })?;
    assert!(flooding.iter().all(|n| *n <= CAP), "node 1 held more than {CAP} peers: {flooding:?}");
    let status = nodes[0].status()?;
    assert!(peers(&status).len() <= CAP, "{status}");
    let refused = count(&status, "refused_table_full");
    // Every frame of an id that found no room is refused; 3 ids at most found room.
    assert!(refused as usize >= sent - 2 * (CAP - 1), "{refused} of {sent} refused: {status}");
    eprintln!(
        "flood: {sent} frames from {IDS} ids; node 1 (cap {CAP}) held at most {:?} peers, refused {refused}",
        flooding.iter().max()
    );
    assert!(nodes[0].events().iter().any(|e| e["kind"] == "learn_refused"), "{}", nodes[0].log_text());
    // The metrics say so too, in a real scrape from inside the host.
    let metrics = scrape(link.host(1), "127.0.0.1:9464")?;
    assert_eq!(sample(&metrics, "heartbeat_events_total{peer=\"2\",kind=\"learned\"}"), Some(1.0), "{metrics}");
    let scraped = sample(&metrics, "heartbeat_frames_rejected_total{reason=\"peer_table_full\"}");
    assert!(scraped.is_some_and(|n| n >= refused as f64), "{metrics}");
    // Node 2, at the default cap of 64, holds 64 and refuses the rest.
    let status = nodes[1].status()?;
    assert_eq!(peers(&status).len(), 64, "{status}");
    assert!(count(&status, "refused_table_full") as usize >= sent - 2 * 63, "{status}");
    // The real peer stayed up through the flood, and node 1 frees the slots of the flood's
    // ids once they are down for its `forget_after`.
    assert!(!nodes[0].logged("down", 2), "{}", nodes[0].log_text());
    wait_for("node 1 to forget the flood's ids", PATIENCE, || {
        let status = nodes[0].status()?;
        Ok(if peers(&status).len() == 1 { Check::Done(()) } else { Check::Waiting(status.to_string()) })
    })?;
    assert_eq!(peer(&nodes[0].status()?, 2).map(|p| p["state"].clone()), Some("up".into()));
    // Their series went with them: ids that come and go do not grow the metrics.
    std::thread::sleep(Duration::from_millis(200));
    let metrics = scrape(link.host(1), "127.0.0.1:9464")?;
    let stale: Vec<&str> = metrics.lines().filter(|l| l.contains("peer=\"") && !l.contains("peer=\"2\"")).collect();
    assert!(stale.is_empty(), "series of forgotten ids remain: {stale:#?}");
    assert!(metrics.contains("heartbeat_peer_state{peer=\"2\",state=\"up\"} 1"), "{metrics}");
    assert!(!metrics.contains("heartbeat_peer_hears_this_node"), "group frames say nothing of it: {metrics}");
    Ok(())
}

/// A `[[peer]]` that a reload cannot add (the table is full of learned peers, or the id is
/// one of them) is reported, the reload counts as not applied, and the next reload tries it
/// again instead of taking it for done.
#[test]
fn a_peer_a_reload_cannot_add_is_reported_and_tried_again() -> Result<()> {
    let _serial = serial();
    let link = Link::new(3)?;
    let file = link.dir.path().join("n1.toml");
    std::fs::write(&file, "").map_err(|e| io("write the settings", e))?;
    let mut args = multicast_v4_args(1);
    args.extend(strings(&["--max-peers", "1", "--config", file.to_str().unwrap_or_default()]));
    let node = Node::start(&link, 1, &args)?;
    let _others = [Node::start(&link, 2, &multicast_v4_args(2))?, Node::start(&link, 3, &multicast_v4_args(3))?];
    wait_for("node 1 to learn one peer", PATIENCE, || {
        let status = node.status()?;
        Ok(if peers(&status).len() == 1 { Check::Done(()) } else { Check::Waiting(status.to_string()) })
    })?;
    std::fs::write(&file, "[[peer]]\nid = 3\n").map_err(|e| io("write the settings", e))?;
    for attempt in 1..=2 {
        let out = link.host(1).command(BINARY).arg("reload").arg("--control").arg(&node.control).output();
        let out = out.map_err(|e| io("run heartbeat reload", e))?;
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "attempt {attempt}: {said}");
        assert!(said.contains("peer 3 not added"), "attempt {attempt}: {said}");
    }
    let status = node.status()?;
    assert_eq!(status["reload"]["applied"], false, "{status}");
    assert!(peers(&status).len() <= 1, "{status}");
    Ok(())
}

#[test]
fn a_group_that_cannot_work_is_refused_before_anything_starts() {
    let refused = |args: &[&str], needle: &str| {
        let out = Command::new(BINARY).args(["run", "--id", "1"]).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {needle:?} not in {stderr}");
    };
    // Without keys, a forged frame could claim a slot: learning needs them.
    refused(&["--multicast", "239.255.42.1:7400", "--insecure"], "invalid `discovery.learn`: needs key_file");
    refused(&["--multicast", "198.19.42.1:7400", "--insecure", "--no-learn"], "is not a multicast address");
    refused(&["--multicast", "[ff02::4242]:7400", "--insecure", "--no-learn"], "invalid `discovery.interface`");
    refused(
        &["--multicast", "239.255.42.1:7400", "--listen", "127.0.0.1:7001", "--insecure", "--no-learn"],
        "invalid `listen`: contradicts discovery",
    );
    refused(&["--broadcast", "[2001:db8::ff]:7400", "--insecure", "--no-learn"], "IPv6 has no broadcast");
}
