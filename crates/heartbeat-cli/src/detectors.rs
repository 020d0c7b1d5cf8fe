//! Which failure detector `heartbeat run` applies: one for the cluster, overridden per peer.
//!
//! The settings (`[detector]` in the file, `--detector` and its knobs on the command line, a
//! `detector = { ... }` table in a `[[peer]]`) are checked here against the ranges the library's
//! detectors work in, so that a bad choice stops the node at start with the field named and
//! the numbers that would have worked. [`Selected`] is then one [`Detector`] that dispatches
//! each peer to its own choice.

use std::time::Duration;

use heartbeat_proto::detector::{
    Adaptive, AdaptiveState, AkkaPhi, AkkaPhiState, Arrival, Chen, ChenState, Deadlines, Detector, PeerTiming,
    TwoWindow, TwoWindowState,
};
use heartbeat_proto::{FixedTimeout, Instant, NodeId};
use serde::Deserialize;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::duration;
use crate::metrics::PeerLabel;
use crate::settings_file::SettingsError;

/// How many arrivals (or intervals) the window-based detectors keep per peer: Akka's
/// `max-sample-size` and the window Chen's paper uses.
pub(crate) const WINDOW: usize = 1000;

/// A detector as the settings write it; every knob optional, checked by [`DetectorTable::build`].
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetectorTable {
    /// `fixed`, `adaptive`, `phi`, `chen` or `two-window`.
    pub(crate) kind: Option<String>,
    /// fixed: suspect after this fraction of the timeout (0 < f ≤ 1, default 0.5).
    pub(crate) suspect_fraction: Option<f64>,
    /// adaptive: the false suspicions per hour and peer it aims at.
    pub(crate) target_mistakes_per_hour: Option<f64>,
    /// phi: Akka's `threshold`.
    pub(crate) threshold: Option<f64>,
    /// phi: Akka's `min-std-deviation`.
    pub(crate) min_std_deviation: Option<String>,
    /// phi: Akka's `acceptable-heartbeat-pause`.
    pub(crate) acceptable_heartbeat_pause: Option<String>,
    /// phi: Akka's `first-heartbeat-estimate`.
    pub(crate) first_heartbeat_estimate: Option<String>,
    /// chen, two-window: the safety margin α.
    pub(crate) alpha: Option<String>,
    /// two-window: how many arrivals the short window holds.
    pub(crate) short_window: Option<u32>,
}

/// One detector, checked and ready.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Choice {
    /// The negotiated timeout.
    Fixed(FixedTimeout),
    /// Aims at a number of false suspicions per hour.
    Adaptive(Adaptive),
    /// φ accrual, Akka-compatible.
    Phi(AkkaPhi<WINDOW>),
    /// Chen's estimate plus a margin.
    Chen(Chen<WINDOW>),
    /// Chen's estimate over a long and a short window.
    TwoWindow(TwoWindow<WINDOW>),
}

/// The names `kind` accepts.
pub(crate) const KINDS: &str = "fixed, adaptive, phi, chen, two-window";

impl Choice {
    /// The name of its kind, as the settings spell it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Choice::Fixed(_) => "fixed",
            Choice::Adaptive(_) => "adaptive",
            Choice::Phi(_) => "phi",
            Choice::Chen(_) => "chen",
            Choice::TwoWindow(_) => "two-window",
        }
    }
}

impl DetectorTable {
    /// `self` with every knob `over` sets taken from it (flags over the file).
    pub(crate) fn or_from(self, over: &DetectorTable) -> DetectorTable {
        DetectorTable {
            kind: over.kind.clone().or(self.kind),
            suspect_fraction: over.suspect_fraction.or(self.suspect_fraction),
            target_mistakes_per_hour: over.target_mistakes_per_hour.or(self.target_mistakes_per_hour),
            threshold: over.threshold.or(self.threshold),
            min_std_deviation: over.min_std_deviation.clone().or(self.min_std_deviation),
            acceptable_heartbeat_pause: over.acceptable_heartbeat_pause.clone().or(self.acceptable_heartbeat_pause),
            first_heartbeat_estimate: over.first_heartbeat_estimate.clone().or(self.first_heartbeat_estimate),
            alpha: over.alpha.clone().or(self.alpha),
            short_window: over.short_window.or(self.short_window),
        }
    }

    /// Checks the table; `at` prefixes the field in a refusal (`detector`, `peer 2 detector`).
    /// Without `kind` the detector is `fixed`. A knob of another kind is refused, not ignored.
    pub(crate) fn build(&self, at: &str) -> Result<Choice, SettingsError> {
        let field = |name: &str| format!("{at}.{name}");
        let kind = self.kind.as_deref().unwrap_or("fixed");
        let knobs: [(&str, bool, &[&str]); 8] = [
            ("suspect_fraction", self.suspect_fraction.is_some(), &["fixed"]),
            ("target_mistakes_per_hour", self.target_mistakes_per_hour.is_some(), &["adaptive"]),
            ("threshold", self.threshold.is_some(), &["phi"]),
            ("min_std_deviation", self.min_std_deviation.is_some(), &["phi"]),
            ("acceptable_heartbeat_pause", self.acceptable_heartbeat_pause.is_some(), &["phi"]),
            ("first_heartbeat_estimate", self.first_heartbeat_estimate.is_some(), &["phi"]),
            ("alpha", self.alpha.is_some(), &["chen", "two-window"]),
            ("short_window", self.short_window.is_some(), &["two-window"]),
        ];
        if !KINDS.split(", ").any(|k| k == kind) {
            return Err(SettingsError::new(field("kind"), format!("'{kind}' is not one of {KINDS}")));
        }
        for (name, set, kinds) in knobs {
            if set && !kinds.contains(&kind) {
                return Err(SettingsError::new(
                    field(name),
                    format!("applies to the {} detector, not to {kind}", kinds.join(" and ")),
                ));
            }
        }
        let span = |name: &str, text: &Option<String>, default: Duration, lo: Duration, hi: Duration| {
            let value = match text {
                Some(t) => duration::parse(t).map_err(|reason| SettingsError::new(field(name), reason))?,
                None => default,
            };
            if value < lo || value > hi {
                return Err(SettingsError::new(
                    field(name),
                    format!(
                        "{} must lie within [{}, {}]",
                        duration::show(value),
                        duration::show(lo),
                        duration::show(hi)
                    ),
                ));
            }
            Ok(value)
        };
        let number = |name: &str, value: Option<f64>, default: f64, lo: f64, hi: f64| {
            let value = value.unwrap_or(default);
            // `!(..)` also refuses NaN.
            if !(value >= lo && value <= hi) {
                return Err(SettingsError::new(field(name), format!("{value} must lie within [{lo}, {hi}]")));
            }
            Ok(value)
        };
        let ms = Duration::from_millis;
        let hour = Duration::from_secs(3600);
        Ok(match kind {
            "fixed" => {
                let f = number("suspect_fraction", self.suspect_fraction, 0.5, 0.001, 1.0)?;
                Choice::Fixed(FixedTimeout::with_suspect_permille((f * 1000.0).round() as u16))
            }
            "adaptive" => Choice::Adaptive(Adaptive::with_target(number(
                "target_mistakes_per_hour",
                self.target_mistakes_per_hour,
                0.1,
                1e-6,
                3600.0,
            )?)),
            "phi" => {
                let threshold = number("threshold", self.threshold, 8.0, 0.5, 100.0)?;
                let min_std =
                    span("min_std_deviation", &self.min_std_deviation, ms(100), Duration::from_micros(1), hour)?;
                let pause = span(
                    "acceptable_heartbeat_pause",
                    &self.acceptable_heartbeat_pause,
                    ms(3000),
                    Duration::ZERO,
                    hour,
                )?;
                let first = span("first_heartbeat_estimate", &self.first_heartbeat_estimate, ms(1000), ms(1), hour)?;
                Choice::Phi(
                    AkkaPhi::new()
                        .with_threshold(threshold)
                        .with_min_std_deviation(min_std)
                        .with_acceptable_heartbeat_pause(pause)
                        .with_first_heartbeat_estimate(first),
                )
            }
            "chen" => Choice::Chen(Chen::new(span("alpha", &self.alpha, ms(200), Duration::ZERO, hour)?)),
            _ => {
                let alpha = span("alpha", &self.alpha, ms(200), Duration::ZERO, hour)?;
                let short = number("short_window", self.short_window.map(f64::from), 1.0, 1.0, WINDOW as f64)?;
                Choice::TwoWindow(TwoWindow::new(alpha).with_short_window(short as u32))
            }
        })
    }
}

/// The cluster's detector and the peers that use another one.
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    /// `choices[0]` is the cluster's; the others are named by `per_peer`.
    choices: Vec<Choice>,
    per_peer: Vec<(NodeId, u8)>,
    /// Where each fresh heartbeat's interval is recorded, with metrics on.
    intervals: Option<IntervalFamily>,
}

/// Per-peer histograms of heartbeat intervals, in seconds.
pub(crate) type IntervalFamily = Family<PeerLabel, Histogram, fn() -> Histogram>;

impl Selected {
    /// Every peer on `cluster`, but those in `overrides` on their own.
    pub(crate) fn new(cluster: Choice, overrides: Vec<(NodeId, Choice)>) -> Selected {
        let mut choices = vec![cluster];
        let mut per_peer = Vec::new();
        for (peer, choice) in overrides {
            let index = match choices.iter().position(|c| *c == choice) {
                Some(i) => i,
                None => {
                    choices.push(choice);
                    choices.len() - 1
                }
            };
            per_peer.push((peer, u8::try_from(index).unwrap_or(0)));
        }
        Selected { choices, per_peer, intervals: None }
    }

    /// Records every fresh heartbeat's interval (since the peer's previous one) into `family`.
    pub(crate) fn with_intervals(self, family: IntervalFamily) -> Selected {
        Selected { intervals: Some(family), ..self }
    }

    /// The detector `peer` is judged by.
    pub(crate) fn choice_of(&self, peer: NodeId) -> &Choice {
        let index = self.per_peer.iter().find(|(p, _)| *p == peer).map_or(0, |(_, i)| usize::from(*i));
        &self.choices[index]
    }

    /// One line for the start-up log: the cluster's kind, then each override.
    pub(crate) fn describe(&self) -> String {
        let mut text = self.choices[0].kind().to_string();
        for (peer, index) in &self.per_peer {
            text.push_str(&format!("; peer {peer}: {}", self.choices[usize::from(*index)].kind()));
        }
        text
    }

    /// Whether `other` judges every peer as `self` does: the same choices for the same peers
    /// (a reload that leaves the detectors alone keeps every peer's history).
    pub(crate) fn same_choices(&self, other: &Selected) -> bool {
        self.choices == other.choices && self.per_peer == other.per_peer
    }

    fn index_of(&self, peer: NodeId) -> u8 {
        self.per_peer.iter().find(|(p, _)| *p == peer).map_or(0, |(_, i)| *i)
    }

    fn choice(&self, state: &SelectedState) -> &Choice {
        self.choices.get(usize::from(state.choice)).unwrap_or(&self.choices[0])
    }
}

/// A peer's detector state: which choice judges it, and that detector's own state.
#[derive(Debug, Clone, Default)]
pub(crate) struct SelectedState {
    choice: u8,
    inner: Inner,
    /// The peer's interval histogram, with metrics on, and its previous arrival.
    interval: Option<(Histogram, Option<Instant>)>,
}

/// The window detectors' states are kilobytes: boxed, so that a fixed-timeout peer stays small.
#[derive(Debug, Clone, Default)]
enum Inner {
    #[default]
    Fresh,
    Adaptive(Box<AdaptiveState>),
    Phi(Box<AkkaPhiState<WINDOW>>),
    Chen(Box<ChenState<WINDOW>>),
    TwoWindow(Box<TwoWindowState<WINDOW>>),
}

impl Inner {
    /// Whether this is `choice`'s kind of state (its history, whatever the knobs).
    fn is_of(&self, choice: &Choice) -> bool {
        matches!(
            (choice, self),
            (Choice::Fixed(_), Inner::Fresh)
                | (Choice::Adaptive(_), Inner::Adaptive(_))
                | (Choice::Phi(_), Inner::Phi(_))
                | (Choice::Chen(_), Inner::Chen(_))
                | (Choice::TwoWindow(_), Inner::TwoWindow(_))
        )
    }

    /// A fresh state for `choice`.
    fn fresh(choice: &Choice) -> Inner {
        match choice {
            Choice::Fixed(_) => Inner::Fresh,
            Choice::Adaptive(_) => Inner::Adaptive(Box::default()),
            Choice::Phi(_) => Inner::Phi(Box::default()),
            Choice::Chen(_) => Inner::Chen(Box::default()),
            Choice::TwoWindow(_) => Inner::TwoWindow(Box::default()),
        }
    }
}

/// Runs `$body` with the peer's detector as `$d` and its state as `$s` (a fresh one if the
/// state does not match the choice yet, as before the first heartbeat).
macro_rules! dispatch {
    ($self:ident, $state:expr, |$d:ident, $s:ident| $body:expr) => {{
        let choice = $self.choice($state);
        match (choice, &$state.inner) {
            (Choice::Fixed($d), _) => {
                let $s = &();
                $body
            }
            (Choice::Adaptive($d), Inner::Adaptive($s)) => $body,
            (Choice::Phi($d), Inner::Phi($s)) => $body,
            (Choice::Chen($d), Inner::Chen($s)) => $body,
            (Choice::TwoWindow($d), Inner::TwoWindow($s)) => $body,
            (Choice::Adaptive($d), _) => {
                let $s = &AdaptiveState::default();
                $body
            }
            (Choice::Phi($d), _) => {
                let $s = &AkkaPhiState::default();
                $body
            }
            (Choice::Chen($d), _) => {
                let $s = &ChenState::default();
                $body
            }
            (Choice::TwoWindow($d), _) => {
                let $s = &TwoWindowState::default();
                $body
            }
        }
    }};
}

impl Detector for Selected {
    type PeerState = SelectedState;

    fn on_heartbeat(&self, state: &mut SelectedState, arrival: &Arrival) {
        if let Some((histogram, previous)) = &mut state.interval {
            if let Some(previous) = previous.filter(|p| arrival.at > *p) {
                histogram.observe((arrival.at - previous).as_secs_f64());
            }
            *previous = Some(arrival.at);
        }
        let choice = self.choice(state);
        if !state.inner.is_of(choice) {
            state.inner = Inner::fresh(choice);
        }
        match (choice, &mut state.inner) {
            (Choice::Adaptive(d), Inner::Adaptive(s)) => d.on_heartbeat(s, arrival),
            (Choice::Phi(d), Inner::Phi(s)) => d.on_heartbeat(s, arrival),
            (Choice::Chen(d), Inner::Chen(s)) => d.on_heartbeat(s, arrival),
            (Choice::TwoWindow(d), Inner::TwoWindow(s)) => d.on_heartbeat(s, arrival),
            _ => {}
        }
    }

    fn deadlines(&self, state: &SelectedState, timing: &PeerTiming) -> Deadlines {
        dispatch!(self, state, |d, s| d.deadlines(s, timing))
    }

    fn suspicion(&self, state: &SelectedState, timing: &PeerTiming, now: Instant) -> f32 {
        dispatch!(self, state, |d, s| d.suspicion(s, timing, now))
    }

    fn reset(&self, state: &mut SelectedState) {
        // The peer keeps its choice across a restart; only its history goes.
        state.inner = Inner::Fresh;
    }

    /// A reload's new selection: the peer's choice is looked up again (it may have another
    /// index, kind or knobs now). A history of the same kind is kept, since the knobs do not
    /// change what it records; one of another kind is dropped, and the new detector starts
    /// fresh. The interval histogram stays.
    fn on_replaced(&self, state: &mut SelectedState, peer: NodeId) {
        state.choice = self.index_of(peer);
        if !state.inner.is_of(self.choice(state)) {
            state.inner = Inner::Fresh;
        }
        if state.interval.is_none() {
            state.interval =
                self.intervals.as_ref().map(|f| (f.get_or_create_owned(&PeerLabel { peer: peer.get() }), None));
        }
    }

    fn on_peer_added(&self, state: &mut SelectedState, peer: NodeId) {
        let index = self.index_of(peer);
        let interval = self.intervals.as_ref().map(|f| (f.get_or_create_owned(&PeerLabel { peer: peer.get() }), None));
        *state = SelectedState { choice: index, inner: Inner::Fresh, interval };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(kind: &str) -> DetectorTable {
        DetectorTable { kind: Some(kind.into()), ..DetectorTable::default() }
    }

    #[test]
    fn every_kind_builds_with_its_defaults() {
        for kind in KINDS.split(", ") {
            assert_eq!(table(kind).build("detector").unwrap().kind(), kind);
        }
        assert_eq!(DetectorTable::default().build("detector").unwrap().kind(), "fixed");
    }

    #[test]
    fn a_refusal_names_the_field_and_the_numbers() {
        let err = DetectorTable { target_mistakes_per_hour: Some(0.0), ..table("adaptive") }.build("detector");
        let err = err.unwrap_err();
        assert_eq!(err.field, "detector.target_mistakes_per_hour");
        assert!(err.reason.contains("[0.000001, 3600]"), "{err}");
        let err = DetectorTable { threshold: Some(f64::NAN), ..table("phi") }.build("detector").unwrap_err();
        assert_eq!(err.field, "detector.threshold");
        let err = DetectorTable { first_heartbeat_estimate: Some("0s".into()), ..table("phi") }
            .build("peer 2 detector")
            .unwrap_err();
        assert_eq!(err.field, "peer 2 detector.first_heartbeat_estimate");
        assert!(err.reason.contains("[1ms, 3600.0s]"), "{err}");
        let err = DetectorTable { alpha: Some("1s".into()), ..table("phi") }.build("detector").unwrap_err();
        assert_eq!(err.field, "detector.alpha");
        assert!(err.reason.contains("chen and two-window"), "{err}");
        assert_eq!(table("gossip").build("detector").unwrap_err().field, "detector.kind");
    }

    #[test]
    fn flags_win_over_the_file_knob_by_knob() {
        let file = DetectorTable { threshold: Some(10.0), alpha: None, ..table("phi") };
        let flags = DetectorTable { threshold: Some(12.0), ..DetectorTable::default() };
        let merged = file.or_from(&flags);
        assert_eq!((merged.kind.as_deref(), merged.threshold), (Some("phi"), Some(12.0)));
    }

    fn timing(last_heard: Instant) -> PeerTiming {
        PeerTiming {
            last_heard,
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
            min_timeout: Duration::from_millis(1),
            max_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn each_peer_is_judged_by_its_own_choice() {
        let chen = Choice::Chen(Chen::new(Duration::from_millis(20)));
        let selected = Selected::new(Choice::Fixed(FixedTimeout::new()), vec![(NodeId::new(2).unwrap(), chen)]);
        let (mut one, mut two) = (SelectedState::default(), SelectedState::default());
        selected.on_peer_added(&mut one, NodeId::new(1).unwrap());
        selected.on_peer_added(&mut two, NodeId::new(2).unwrap());
        let mut at = Instant::from_secs(1);
        for sequence in 1..50 {
            let arrival =
                Arrival { at, sequence, gap: 0, interval: Duration::from_millis(100), after_local_pause: false };
            selected.on_heartbeat(&mut one, &arrival);
            selected.on_heartbeat(&mut two, &arrival);
            at = at + Duration::from_millis(100);
        }
        let last = at - Duration::from_millis(100);
        // Fixed: the 500 ms timeout. Chen: the next expected arrival (100 ms) plus α.
        assert_eq!(selected.deadlines(&one, &timing(last)).down, last + Duration::from_millis(500));
        let chen_down = selected.deadlines(&two, &timing(last)).down;
        assert!(chen_down < last + Duration::from_millis(200), "{chen_down:?}");
        // A restart forgets the history, not the choice.
        selected.reset(&mut two);
        assert_eq!(selected.choice(&two).kind(), "chen");
        assert_eq!(selected.choice_of(NodeId::new(2).unwrap()).kind(), "chen");
        assert_eq!(selected.choice_of(NodeId::new(3).unwrap()).kind(), "fixed");
    }

    /// A reload's selection: a peer moved to another kind starts fresh under it; one whose
    /// kind stays (other knobs) keeps its history.
    #[test]
    fn a_replaced_selection_keeps_a_history_of_the_same_kind_only() {
        let chen = |ms| Choice::Chen(Chen::new(Duration::from_millis(ms)));
        let (two, three) = (NodeId::new(2).unwrap(), NodeId::new(3).unwrap());
        let old = Selected::new(Choice::Fixed(FixedTimeout::new()), vec![(two, chen(20)), (three, chen(20))]);
        let (mut s2, mut s3) = (SelectedState::default(), SelectedState::default());
        old.on_peer_added(&mut s2, two);
        old.on_peer_added(&mut s3, three);
        let mut at = Instant::from_secs(1);
        for sequence in 1..50 {
            let arrival =
                Arrival { at, sequence, gap: 0, interval: Duration::from_millis(100), after_local_pause: false };
            old.on_heartbeat(&mut s2, &arrival);
            old.on_heartbeat(&mut s3, &arrival);
            at = at + Duration::from_millis(100);
        }
        // Peer 2 stays on chen with another margin; peer 3 goes to the cluster's phi.
        let new = Selected::new(Choice::Phi(AkkaPhi::new()), vec![(two, chen(40))]);
        assert!(!new.same_choices(&old) && old.same_choices(&old.clone()));
        new.on_replaced(&mut s2, two);
        new.on_replaced(&mut s3, three);
        assert!(matches!(s2.inner, Inner::Chen(_)), "{:?}", s2.inner);
        assert!(matches!(s3.inner, Inner::Fresh), "{:?}", s3.inner);
        assert_eq!((new.choice(&s2).kind(), new.choice(&s3).kind()), ("chen", "phi"));
        let last = at - Duration::from_millis(100);
        // The kept history: the next arrival 100 ms on, plus the new 40 ms margin.
        let down = new.deadlines(&s2, &timing(last)).down;
        assert!(down > last + Duration::from_millis(120) && down < last + Duration::from_millis(160), "{down:?}");
    }
}
