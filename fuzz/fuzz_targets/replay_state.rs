//! Bytes → `replay_state::Snapshot::decode`, as a restarted node reads its replay file. Decoding
//! never panics; whatever it accepts re-encodes to the very same bytes, and its entries resume
//! into a monitor without error (each configured peer once).

#![no_main]

use heartbeat_proto::replay_state::{self, Snapshot};
use heartbeat_proto::{Authentication, Config, FixedTimeout, Growable, Instant, Monitor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = Snapshot::decode(data) else { return };
    let entries: Vec<_> = snapshot.entries().collect();
    assert_eq!(entries.len(), snapshot.len());
    let mut again = vec![0; replay_state::encoded_len(entries.len())];
    let len = replay_state::encode(snapshot.owner(), &entries, &mut again).expect("a decoded snapshot re-encodes");
    assert_eq!(&again[..len], data);
    let owner = snapshot.owner();
    let config = Config::builder(owner.cluster, owner.node).authentication(Authentication::None).build().unwrap();
    let mut monitor: Monitor<FixedTimeout, Growable> = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    for e in entries.iter().take(64) {
        if e.peer != owner.node {
            monitor.add_peer(e.peer).unwrap();
            monitor.resume_watermark(e.peer, e.mark).unwrap();
            assert_eq!(monitor.watermark(e.peer), Some(e.mark));
        }
    }
});
