//! `PeerFootprint` is a measurement, not an estimate: it must equal what a fixed table
//! actually reserves per peer.

use std::mem::size_of;

use heartbeat_proto::detector::Detector;
use heartbeat_proto::{Fixed, FixedTimeout, Monitor, PeerFootprint};

/// Bytes per peer a monitor with fixed storage reserves, from the size of two whole monitors
/// (tables of more than 256 peers, so both use the timing wheel).
fn measured<D: Detector>() -> usize {
    (size_of::<Monitor<D, Fixed<2048>>>() - size_of::<Monitor<D, Fixed<1024>>>()) / 1024
}

#[test]
fn the_footprint_equals_what_a_fixed_table_reserves() {
    let reported = PeerFootprint::of::<<FixedTimeout as Detector>::PeerState>().total();
    assert_eq!(reported, measured::<FixedTimeout>());
}

#[test]
fn the_footprint_grows_with_the_detector_state() {
    #[derive(Debug, Clone, Copy, Default)]
    struct Big;
    impl Detector for Big {
        type PeerState = [u64; 8];
        fn on_heartbeat(&self, _: &mut [u64; 8], _: &heartbeat_proto::detector::Arrival) {}
        fn deadlines(
            &self,
            _: &[u64; 8],
            timing: &heartbeat_proto::detector::PeerTiming,
        ) -> heartbeat_proto::detector::Deadlines {
            FixedTimeout::new().deadlines(&(), timing)
        }
        fn suspicion(
            &self,
            _: &[u64; 8],
            _: &heartbeat_proto::detector::PeerTiming,
            _: heartbeat_proto::Instant,
        ) -> f32 {
            0.0
        }
    }
    let reported = PeerFootprint::of::<[u64; 8]>().total();
    assert_eq!(reported, measured::<Big>());
    assert_eq!(reported, PeerFootprint::of::<()>().total() + 64);
}
