//! The fault lab's short form: five real `heartbeat run` processes in network namespaces on
//! two bridged links (tests/support/lab), one fault per test, the invariants checked in every
//! host's JSON log and `heartbeat status --json`.
//!
//! Every host runs with interval 50 ms, timeout 400 ms, tick 50 ms. The tests run one at a time
//! (they share the machine's two cores, and lateness is one of the things measured). Needs
//! root, iproute2, iptables and tcpdump. The long form is `examples/fault_soak.rs`.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use heartbeat_tests::lab::flood::{self, Kind};
use heartbeat_tests::lab::host::wall_now;
use heartbeat_tests::lab::log::{LogEvent, about};
use heartbeat_tests::lab::measure::{cpu_ns, quantile, summary_ms};
use heartbeat_tests::lab::{Lab, LabSpec, address, cpu::Starvation};

const BINARY: &str = env!("CARGO_BIN_EXE_heartbeat");

/// Verdicts that must not appear without a reason.
const VERDICTS: [&str; 4] = ["down", "suspect", "restarted", "left"];

/// The verdicts that convict (a `suspect` only doubts).
const CONVICTIONS: [&str; 3] = ["down", "restarted", "left"];

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A converged lab, every host seeing every other up on both links.
fn lab(spec: LabSpec) -> Lab {
    let lab = Lab::start(Path::new(BINARY), spec).unwrap();
    lab.wait_converged(Duration::from_secs(10)).unwrap();
    lab
}

fn timeout(lab: &Lab) -> Duration {
    lab.spec().timeout
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Host `n`'s events since wall-clock time `since`.
fn events_since(lab: &Lab, n: usize, since: f64) -> Vec<LogEvent> {
    lab.host(n).events().unwrap().into_iter().filter(|e| e.wall >= since).collect()
}

/// The liveness verdicts among `events` about `peer` (links left out), oldest first.
fn liveness_about(events: &[LogEvent], peer: usize) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.peer == peer as u64 && ["up", "down", "restarted", "left"].contains(&e.kind.as_str()))
        .map(|e| e.kind.as_str())
        .collect()
}

/// Asserts that no host in `hosts` logged a verdict since `since`.
fn assert_no_verdicts(lab: &Lab, hosts: impl IntoIterator<Item = usize>, since: f64, why: &str) {
    assert_none_of(&VERDICTS, lab, hosts, since, why);
}

/// Asserts that no host in `hosts` logged an event of one of `kinds` since `since`.
fn assert_none_of(kinds: &[&str], lab: &Lab, hosts: impl IntoIterator<Item = usize>, since: f64, why: &str) {
    for n in hosts {
        let bad: Vec<LogEvent> =
            events_since(lab, n, since).into_iter().filter(|e| kinds.contains(&e.kind.as_str())).collect();
        assert!(bad.is_empty(), "{why}: host {n} logged {bad:#?}");
    }
}

fn addresses(n: usize) -> Vec<IpAddr> {
    (0..2).map(|link| IpAddr::V4(address(n, link))).collect()
}

fn sleep(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn sigkill_every_survivor_declares_down_at_last_heard_plus_timeout() {
    let _serial = serial();
    let mut lab = lab(LabSpec::fast());
    let (timeout_ms, interval) = (ms(timeout(&lab)), ms(lab.spec().interval));
    let mut lateness = Vec::new();
    for round in 0..3 {
        lab.wait_converged(Duration::from_secs(5)).unwrap();
        let victim = 5 - round;
        let survivors: Vec<usize> = lab.numbers().filter(|n| *n != victim).collect();
        let negotiated: Vec<f64> =
            survivors.iter().map(|s| lab.host(*s).status().unwrap().peer(victim as u64).unwrap().timeout_ms).collect();
        let killed = lab.host_mut(victim).kill();
        sleep(timeout(&lab) + Duration::from_millis(400));
        for (s, negotiated) in survivors.iter().zip(negotiated) {
            let events = events_since(&lab, *s, killed);
            let downs: Vec<&LogEvent> = about(&events, "down", victim as u64).collect();
            assert_eq!(downs.len(), 1, "host {s} about killed host {victim}: {events:#?}");
            let down = downs[0];
            let silent = down.silent_ms.expect("a down after being heard says how long it was silent");
            let late = silent - negotiated;
            // The log's own lateness field is the same quantity (event time - deadline).
            let logged = down.late_ms.expect("late_ms");
            assert!(
                (late - logged).abs() < 0.01,
                "host {s}: silent {silent} - timeout {negotiated} vs late_ms {logged}"
            );
            assert!(late >= 0.0, "host {s} declared {victim} down before its deadline: {late} ms");
            // On the wall clock: the last beat came at most an interval (plus jitter slack)
            // before the kill, and the line was written soon after the verdict.
            let since_kill = (down.wall - killed) * 1e3;
            assert!(
                since_kill >= timeout_ms - interval - 5.0 && since_kill <= timeout_ms + 30.0,
                "host {s}: down {since_kill:.1} ms after the kill (timeout {timeout_ms} ms)"
            );
            assert_eq!(
                events.iter().filter(|e| e.kind == "down").count(),
                1,
                "host {s} convicted a live host too: {events:#?}"
            );
            lateness.push(late);
        }
        // Back for the next round (a new generation from its generation file).
        lab.host_mut(victim).start().unwrap();
    }
    let status: Vec<String> =
        lab.numbers().map(|n| format!("{:?}", lab.host(n).status().map(|s| s.generation))).collect();
    eprintln!("SIGKILL detection lateness: {} (generations now {status:?})", summary_ms(&lateness));
    assert!(quantile(&lateness, 0.5).unwrap() <= 1.0, "p50 lateness {}", summary_ms(&lateness));
    assert!(quantile(&lateness, 1.0).unwrap() <= 5.0, "max lateness {}", summary_ms(&lateness));
}

#[test]
fn a_stall_shorter_than_the_timeout_convicts_nobody_either_way() {
    let _serial = serial();
    let lab = lab(LabSpec::fast());
    // The stalled process neither sends (its peers' view) nor reads (its own view). Its last
    // beat left at most an interval before the stop: stop + interval stays under the timeout.
    let stall = timeout(&lab) - lab.spec().interval * 3;
    let start = wall_now();
    for victim in [2, 4, 2] {
        lab.host(victim).stop();
        sleep(stall);
        lab.host(victim).cont();
        sleep(Duration::from_millis(300));
    }
    sleep(timeout(&lab));
    assert_none_of(&CONVICTIONS, &lab, lab.numbers(), start, &format!("{stall:?} stalls"));
    // A silence past half the timeout may raise a doubt (the fixed-timeout detector's
    // suspect threshold), which the next beat lifts.
    let suspects: usize =
        lab.numbers().map(|n| events_since(&lab, n, start).iter().filter(|e| e.kind == "suspect").count()).sum();
    eprintln!("three {stall:?} stalls: no conviction, {suspects} suspect events");
    lab.wait_converged(Duration::from_secs(2)).unwrap();
}

#[test]
fn a_stall_longer_than_the_timeout_convicts_the_stalled_sender_and_heals() {
    let _serial = serial();
    let lab = lab(LabSpec::fast());
    let victim = 2;
    let stopped = lab.host(victim).stop();
    sleep(timeout(&lab) * 3);
    let resumed = lab.host(victim).cont();
    lab.wait_converged(Duration::from_secs(3)).unwrap();
    let healed = wall_now();
    for observer in lab.numbers().filter(|n| *n != victim) {
        let events = events_since(&lab, observer, stopped);
        assert_eq!(
            liveness_about(&events, victim),
            ["down", "up"],
            "host {observer} about the stalled host {victim}: {events:#?}"
        );
        let down = about(&events, "down", victim as u64).next().unwrap();
        assert!(down.wall < resumed, "host {observer} convicted {victim} only after it resumed");
        assert!(events.iter().all(|e| e.peer == victim as u64), "host {observer} convicted a live host: {events:#?}");
    }
    // The stalled receiver itself: on waking, every deadline it holds has passed while its
    // socket holds its peers' fresh frames unread. The binary's local-stall guard (on by
    // default) sees its own pause and convicts nobody for it.
    let own = events_since(&lab, victim, stopped);
    let convicted: Vec<u64> = own.iter().filter(|e| e.kind == "down").map(|e| e.peer).collect();
    assert!(convicted.is_empty(), "host {victim} convicted {convicted:?} for its own stall: {own:#?}");
    sleep(timeout(&lab));
    assert_no_verdicts(&lab, lab.numbers(), healed, "after healing");
}

#[test]
fn a_restart_with_a_new_generation_gives_exactly_one_restarted_per_observer() {
    let _serial = serial();
    let mut lab = lab(LabSpec::fast());
    let victim = 3;
    for _ in 0..2 {
        let before = lab.host(victim).status().unwrap().generation;
        let killed = lab.host_mut(victim).kill();
        lab.host_mut(victim).start().unwrap();
        let after = lab.host(victim).status().unwrap().generation;
        assert!(after > before, "the generation file gives a higher generation: {before} then {after}");
        lab.wait_converged(Duration::from_secs(3)).unwrap();
        sleep(timeout(&lab));
        for observer in lab.numbers().filter(|n| *n != victim) {
            let events = events_since(&lab, observer, killed);
            let restarted: Vec<&LogEvent> = about(&events, "restarted", victim as u64).collect();
            assert_eq!(restarted.len(), 1, "host {observer} about restarted host {victim}: {events:#?}");
            assert_eq!(restarted[0].generation, Some(u64::from(after)), "host {observer}: the new generation");
            assert_eq!(
                about(&events, "down", victim as u64).count(),
                0,
                "restart faster than the timeout: {events:#?}"
            );
            let status = lab.host(observer).status().unwrap();
            let peer = status.peer(victim as u64).unwrap();
            assert_eq!((peer.state.as_str(), peer.generation), ("up", Some(after)), "host {observer} status");
        }
    }
}

#[test]
fn a_goodbye_gives_left_and_never_down() {
    let _serial = serial();
    let mut lab = lab(LabSpec::fast());
    let leaver = 4;
    let left = lab.host_mut(leaver).terminate().unwrap();
    sleep(timeout(&lab) * 3);
    for observer in lab.numbers().filter(|n| *n != leaver) {
        let events = events_since(&lab, observer, left);
        assert_eq!(
            liveness_about(&events, leaver),
            ["left"],
            "host {observer} after host {leaver}'s goodbye: {events:#?}"
        );
        assert!(events.iter().all(|e| e.peer == leaver as u64), "host {observer}: {events:#?}");
        let status = lab.host(observer).status().unwrap();
        assert_eq!(status.peer(leaver as u64).unwrap().state, "left", "host {observer} status");
    }
}

#[test]
fn random_loss_of_a_few_percent_gives_no_false_down() {
    let _serial = serial();
    let mut lab = lab(LabSpec::fast());
    let loss = 0.05;
    let start = wall_now();
    for host in lab.hosts_mut() {
        host.drop_random(loss).unwrap();
    }
    sleep(Duration::from_secs(8));
    let mut dropped = 0;
    for host in lab.hosts_mut() {
        dropped += host.dropped().unwrap();
        host.clear_filters().unwrap();
    }
    assert!(dropped > 100, "iptables dropped only {dropped} datagrams");
    assert_no_verdicts(&lab, lab.numbers(), start, &format!("{}% loss", loss * 100.0));
    let measured: Vec<f64> =
        lab.hosts().iter().flat_map(|h| h.status().unwrap().peers.into_iter().map(|p| p.loss_percent)).collect();
    eprintln!("5% random loss: {dropped} datagrams dropped in 8 s; loss seen per peer {measured:.1?}");
    assert!(measured.iter().any(|l| *l > 0.0), "no node noticed any loss: {measured:?}");
}

#[test]
fn loss_in_one_direction_names_the_peer_that_stops_hearing_us() {
    let _serial = serial();
    let mut lab = lab(LabSpec::fast());
    let (deaf, speaker) = (1, 2);
    let start = wall_now();
    // Host 1 stops hearing host 2; host 2 still hears host 1.
    lab.host_mut(deaf).drop_from(&addresses(speaker)).unwrap();
    sleep(timeout(&lab) * 3);
    let deaf_events = events_since(&lab, deaf, start);
    let kinds: Vec<(&str, u64)> = deaf_events.iter().map(|e| (e.kind.as_str(), e.peer)).collect();
    assert!(kinds.contains(&("down", speaker as u64)), "host {deaf} no longer hears {speaker}: {kinds:?}");
    assert!(kinds.iter().all(|(_, p)| *p == speaker as u64), "host {deaf} convicted others: {kinds:?}");
    // The speaker still hears the deaf host, and names it as the one that does not hear it.
    let status = lab.host(speaker).status().unwrap();
    let peer = status.peer(deaf as u64).unwrap();
    // It hears it but is not heard: neither up nor down, the one-way state of its own.
    assert_eq!(peer.state, "asymmetric", "host {speaker} hears {deaf}, which does not hear it: {peer:?}");
    assert!(!peer.hears_us, "host {speaker} must report that {deaf} does not hear it: {peer:?}");
    for other in status.peers.iter().filter(|p| p.id != deaf as u64) {
        assert!(other.hears_us, "host {speaker}: {} hears it: {other:?}", other.id);
    }
    assert_no_verdicts(&lab, lab.numbers().filter(|n| *n != deaf), start, "one-way loss");
    lab.host_mut(deaf).clear_filters().unwrap();
    lab.wait_converged(Duration::from_secs(3)).unwrap();
    sleep(lab.spec().interval * 4);
    assert!(lab.host(speaker).status().unwrap().peer(deaf as u64).unwrap().hears_us, "healed");
}

#[test]
fn cutting_one_of_two_links_gives_link_down_and_no_down() {
    let _serial = serial();
    let lab = lab(LabSpec::fast());
    let cut = 3;
    let start = wall_now();
    lab.host(cut).set_link(0, false).unwrap();
    sleep(timeout(&lab) * 3);
    for n in lab.numbers() {
        let events = events_since(&lab, n, start);
        assert_no_verdicts(&lab, [n], start, "one link cut");
        let peers: Vec<u64> =
            if n == cut { lab.numbers().filter(|p| *p != cut).map(|p| p as u64).collect() } else { vec![cut as u64] };
        for peer in peers {
            let downs: Vec<&LogEvent> = about(&events, "link_down", peer).collect();
            assert_eq!(downs.len(), 1, "host {n} about {peer}: {events:#?}");
            assert_eq!(downs[0].link, Some(0));
            let status = lab.host(n).status().unwrap();
            let p = status.peer(peer).unwrap();
            assert_eq!((p.state.as_str(), p.links.clone()), ("up", vec!["down".into(), "up".into()]), "host {n}");
        }
    }
    let restored = wall_now();
    lab.host(cut).set_link(0, true).unwrap();
    lab.wait_converged(Duration::from_secs(3)).unwrap();
    for n in lab.numbers().filter(|n| *n != cut) {
        let events = events_since(&lab, n, restored);
        assert_eq!(about(&events, "link_up", cut as u64).count(), 1, "host {n}: {events:#?}");
    }
}

#[test]
fn a_partition_two_three_gives_down_on_both_sides_and_up_after_healing() {
    let _serial = serial();
    let mut lab = lab(LabSpec::fast());
    let (left, right) = ([1usize, 2], [3usize, 4, 5]);
    let start = wall_now();
    for (side, other) in [(&left[..], &right[..]), (&right[..], &left[..])] {
        let blocked: Vec<IpAddr> = other.iter().flat_map(|n| addresses(*n)).collect();
        for n in side {
            lab.host_mut(*n).drop_from(&blocked).unwrap();
        }
    }
    sleep(timeout(&lab) * 3);
    for (side, other) in [(&left[..], &right[..]), (&right[..], &left[..])] {
        for n in side {
            let events = events_since(&lab, *n, start);
            for peer in other {
                assert_eq!(about(&events, "down", *peer as u64).count(), 1, "host {n} about {peer}: {events:#?}");
            }
            for peer in side.iter().filter(|p| *p != n) {
                assert_eq!(events.iter().filter(|e| e.peer == *peer as u64).count(), 0, "same side: {events:#?}");
            }
        }
    }
    let healed = wall_now();
    for host in lab.hosts_mut() {
        host.clear_filters().unwrap();
    }
    lab.wait_converged(Duration::from_secs(3)).unwrap();
    for (side, other) in [(&left[..], &right[..]), (&right[..], &left[..])] {
        for n in side {
            let events = events_since(&lab, *n, healed);
            for peer in other {
                assert_eq!(about(&events, "up", *peer as u64).count(), 1, "host {n} about {peer} healed: {events:#?}");
            }
        }
    }
}

#[test]
fn delay_and_jitter_through_a_relay_give_rtt_and_no_false_down() {
    let _serial = serial();
    let spec = LabSpec { relayed: vec![(1, 2)], ..LabSpec::fast() };
    let lab = lab(spec);
    let (delay, jitter) = (Duration::from_millis(40), Duration::from_millis(30));
    for relay in lab.relays() {
        relay.set(delay, jitter);
    }
    let start = wall_now();
    sleep(Duration::from_secs(5));
    assert_no_verdicts(&lab, lab.numbers(), start, "40 ± 30 ms one-way delay");
    let forwarded: u64 = lab.relays().iter().map(|r| r.forwarded()).sum();
    assert!(forwarded > 200, "the relays forwarded only {forwarded}");
    for (a, b) in [(1, 2), (2, 1)] {
        let status = lab.host(a).status().unwrap();
        let rtt = status.peer(b).unwrap().rtt_ms.expect("an rtt");
        eprintln!("relayed host {a} -> {b}: rtt {rtt:.1} ms (2 x 40 ± 30 ms one way)");
        assert!((40.0..=160.0).contains(&rtt), "host {a} about {b}: rtt {rtt} ms");
        let direct = status.peer(3).unwrap().rtt_ms.expect("an rtt");
        assert!(direct < 20.0, "host {a} about 3 (direct): rtt {direct} ms");
    }
}

#[test]
fn cpu_starvation_of_one_host_gives_no_false_down() {
    let _serial = serial();
    let lab = lab(LabSpec::fast());
    let victim = 3;
    let pid = lab.host(victim).pid().unwrap();
    // What the host needs, measured unthrottled. The cap is 5 % above that: the host is
    // throttled in many periods and then waits for the next one, but it is not left
    // permanently behind, which would be a host too slow for its interval (a real Down), not
    // starvation. A fixed 1 ms per 100 ms saturated a debug build on a slower machine.
    let need = {
        let (before, window) = (cpu_ns(pid).unwrap(), Duration::from_secs(2));
        sleep(window);
        (cpu_ns(pid).unwrap() - before) as f64 / window.as_nanos() as f64
    };
    let share = need * 1.05;
    // cgroups take no quota under 1 ms: a host that needs less gets a longer period (longer
    // waits), up to 300 ms so that a wait stays under the 400 ms timeout.
    let period =
        Duration::from_millis(100).max(Duration::from_millis(1).div_f64(share)).min(Duration::from_millis(300));
    let quota = period.mul_f64(share).max(Duration::from_millis(1));
    let start = wall_now();
    let before = cpu_ns(pid).unwrap();
    let starvation = Starvation::start(pid, quota, period, 4).unwrap();
    let starved_for = Duration::from_secs(5);
    sleep(starved_for);
    let used = Duration::from_nanos(cpu_ns(pid).unwrap() - before);
    let (throttled, method) = (starvation.throttled(), starvation.method());
    drop(starvation);
    let used = used.as_secs_f64() / starved_for.as_secs_f64() * 100.0;
    eprintln!(
        "host {victim} needs {:.2}% of a core; capped ({method}) to {:.3} ms per {:.0} ms: {used:.2}% used, \
         {throttled:?} throttled periods",
        need * 100.0,
        ms(quota),
        ms(period)
    );
    if let Some(throttled) = throttled {
        assert!(throttled > 0, "the cgroup never throttled the host");
    }
    // A starved host really is late at times, so a doubt about it is allowed (and reported);
    // a doubt about anyone else, or any conviction, is a false verdict.
    assert_none_of(&CONVICTIONS, &lab, lab.numbers(), start, "host 3 starved of CPU");
    for n in lab.numbers() {
        let doubts: Vec<LogEvent> = events_since(&lab, n, start).into_iter().filter(|e| e.kind == "suspect").collect();
        eprintln!("host {n}: {} suspect events during the starvation", doubts.len());
        assert!(
            doubts.iter().all(|e| e.peer == victim as u64),
            "host {n} doubted a host that was not starved: {doubts:#?}"
        );
    }
    lab.wait_converged(Duration::from_secs(2)).unwrap();
}

#[test]
fn a_flood_of_replayed_forged_and_garbage_frames_leaves_verdicts_and_memory_alone() {
    let _serial = serial();
    flood::require_tcpdump().unwrap();
    let lab = lab(LabSpec::fast());
    let (target, peer) = (3, 1);
    let frames = flood::capture(lab.host(target), lab.host(peer), Duration::from_millis(2500), &lab.dir()).unwrap();
    let before = lab.host(target).status().unwrap();
    let rss_before = lab.host(target).sample().unwrap().rss_kib;
    let start = wall_now();
    let (count, rate) = (20_000, 10_000);
    let peer_ns = lab.host(peer).namespace();
    let mut sent = 0;
    for kind in [Kind::Replayed, Kind::Forged] {
        sent += flood::send(peer_ns, address(peer, 0), target, kind, &frames, count, rate).unwrap();
    }
    sent += flood::send(lab.switch(), address(100, 0), target, Kind::Garbage, &frames, count, rate).unwrap();
    sleep(timeout(&lab));
    let after = lab.host(target).status().unwrap();
    let rss_after = lab.host(target).sample().unwrap().rss_kib;
    let rejected = after.frames_rejected - before.frames_rejected;
    let received = after.datagrams_received - before.datagrams_received;
    eprintln!(
        "flood at host {target}: {sent} sent, {received} datagrams read, {rejected} frames rejected; \
         RSS {rss_before} KiB -> {rss_after} KiB"
    );
    assert_no_verdicts(&lab, lab.numbers(), start, "the flood");
    assert!(after.peers.iter().all(|p| p.state == "up"), "host {target}: {:?}", after.peers);
    assert!(rejected as f64 >= sent as f64 * 0.9, "only {rejected} of {sent} rejected");
    assert!(rejected <= received, "{rejected} rejected of {received} read");
    const RSS_CAP_KIB: u64 = 32 * 1024;
    assert!(rss_after <= RSS_CAP_KIB, "RSS {rss_after} KiB over the {RSS_CAP_KIB} KiB cap");
    assert!(rss_after <= rss_before + 4 * 1024, "RSS grew from {rss_before} to {rss_after} KiB");
}
