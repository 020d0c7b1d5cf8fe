//! Whether the path to a peer works both ways, read from what its own frames say.
//!
//! Every v1 heartbeat carries `hears_you`: whether its sender currently hears the receiver.
//! A peer this node hears but that has not heard this node for longer than it could take to
//! start hearing it is reachable one way only: neither up (the peer holds this node down) nor
//! down (its heartbeats arrive). Firewalls dropping one direction, a half-broken route or a
//! wrong address in the peer's configuration all look like this.

use core::time::Duration;

use crate::peers::{Liveness, PeerStatus};
use crate::time::Instant;

/// The path to a peer, as far as this node can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reachability {
    /// This node does not hear the peer (waiting, down or left): nothing to say about the
    /// other direction.
    Unknown,
    /// Heard, and it says it hears this node.
    Both,
    /// Heard, and it does not say it hears this node yet, but not for long enough to tell: right
    /// after start-up its first frames precede its first sight of ours.
    Settling,
    /// Heard, but it has not heard this node for longer than [`Reachability::grace`]: one way
    /// only.
    Asymmetric,
}

impl Reachability {
    /// How long a heard peer may go on not hearing this node before the path counts as one
    /// way: the longer of the timeout in force for it and the one it holds this node to — by
    /// then it has declared this node down if our frames do not reach it.
    pub fn grace(status: &PeerStatus) -> Duration {
        status.timeout.max(status.timeout_applied_to_us.unwrap_or(Duration::ZERO))
    }

    /// The reachability of the peer `status` describes, at `now` (the monitor's clock). Pure:
    /// the same snapshot and instant always give the same answer. `status.since` counts from
    /// when the peer was last heard again, so a peer coming back up gets the grace anew.
    pub fn of(status: &PeerStatus, now: Instant) -> Reachability {
        if !matches!(status.liveness, Liveness::Up | Liveness::Suspect) || status.last_heard.is_none() {
            return Reachability::Unknown;
        }
        if status.hears_us {
            Reachability::Both
        } else if now - status.since > Self::grace(status) {
            Reachability::Asymmetric
        } else {
            Reachability::Settling
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Kind;
    use crate::{
        Authentication, ClusterId, Config, FixedTimeout, Generation, Growable, LinkId, MAX_FRAME_LEN, Message, Monitor,
        NodeId,
    };
    use proptest::prelude::*;

    const CLUSTER: ClusterId = ClusterId(7);

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// A monitor of peer 2, whose 600 ms timeout applies as is.
    fn monitor() -> Monitor<FixedTimeout, Growable> {
        let config = Config::builder(CLUSTER, id(1))
            .authentication(Authentication::None)
            .tick(Duration::from_millis(100))
            .build()
            .unwrap();
        let mut m = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
        m.add_peer(id(2)).unwrap();
        m
    }

    fn arrive(m: &mut Monitor<FixedTimeout, Growable>, now: Instant, sequence: u64, hears_you: bool) {
        let msg = Message {
            kind: Kind::Heartbeat,
            cluster: CLUSTER,
            sender: id(2),
            receiver: Some(id(1)),
            generation: Generation(1),
            sequence,
            timestamp: now,
            echo: None,
            interval: Duration::from_millis(100),
            requested_timeout: Duration::from_millis(600),
            applied_timeout: None,
            hears_you,
            auth: None,
        };
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = msg.encode(&mut buf).unwrap();
        let _ = m.on_message(now, LinkId(0), &buf[..len]);
        m.tick(now);
        while m.poll_event().is_some() {}
    }

    fn of(m: &Monitor<FixedTimeout, Growable>, now: Instant) -> Reachability {
        Reachability::of(&m.peer(id(2)).unwrap(), now)
    }

    #[test]
    fn a_peer_that_never_hears_us_is_asymmetric_once_the_grace_is_over() {
        let mut m = monitor();
        assert_eq!(of(&m, ms(0)), Reachability::Unknown, "never heard");
        for k in 0..=6 {
            arrive(&mut m, ms(1000 + 100 * k), k + 1, false);
        }
        assert_eq!(of(&m, ms(1600)), Reachability::Settling, "600 ms is the grace, not past it");
        arrive(&mut m, ms(1700), 8, false);
        assert_eq!(of(&m, ms(1700)), Reachability::Asymmetric);
        arrive(&mut m, ms(1800), 9, true);
        assert_eq!(of(&m, ms(1800)), Reachability::Both);
        // It heard us and no longer does: one way again at once (it has held us down already).
        arrive(&mut m, ms(1900), 10, false);
        assert_eq!(of(&m, ms(1900)), Reachability::Asymmetric);
        // Silent: down, and nothing to say about the other direction.
        m.tick(ms(5000));
        while m.poll_event().is_some() {}
        assert_eq!(of(&m, ms(5000)), Reachability::Unknown);
    }

    #[test]
    fn a_peer_that_hears_us_from_its_second_frame_is_never_asymmetric() {
        let mut m = monitor();
        arrive(&mut m, ms(1000), 1, false);
        assert_eq!(of(&m, ms(1000)), Reachability::Settling);
        for k in 1..50 {
            arrive(&mut m, ms(1000 + 100 * k), k + 1, true);
            assert_eq!(of(&m, ms(1000 + 100 * k)), Reachability::Both);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the frames and gaps: `Both` exactly when the peer is heard and its latest
        /// fresh frame says it hears us; `Asymmetric` only past the grace since it was last
        /// heard again; `Unknown` exactly when it is not heard.
        #[test]
        fn reachability_follows_the_latest_frame_and_the_grace(steps in proptest::collection::vec((1u64..900, any::<bool>()), 1..60)) {
            let mut m = monitor();
            let (mut now, mut seq) = (1000u64, 0u64);
            for (dt, hears_you) in steps {
                now += dt;
                seq += 1;
                arrive(&mut m, ms(now), seq, hears_you);
                let last_says = hears_you;
                let status = m.peer(id(2)).unwrap();
                let r = Reachability::of(&status, ms(now));
                let heard = matches!(status.liveness, Liveness::Up | Liveness::Suspect);
                prop_assert_eq!(r == Reachability::Unknown, !heard);
                prop_assert_eq!(r == Reachability::Both, heard && last_says);
                if r == Reachability::Asymmetric {
                    prop_assert!(ms(now) - status.since > Reachability::grace(&status));
                }
                if r == Reachability::Settling {
                    prop_assert!(ms(now) - status.since <= Reachability::grace(&status));
                }
            }
        }
    }
}
