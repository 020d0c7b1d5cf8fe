//! What one directed link does to the frames it carries: delay, jitter, loss (independent or
//! bursty), duplication and reordering, all drawn from the link's own random stream.

use core::time::Duration;

use crate::rng::SimRng;

/// How a link loses frames.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Loss {
    /// Nothing is lost.
    #[default]
    None,
    /// Each frame is lost independently with this probability (i.i.d., Bernoulli).
    Random(f64),
    /// Bursty loss from a two-state Markov chain.
    Bursty(GilbertElliott),
}

/// The Gilbert–Elliott loss model: the link is either *good* or *bad*; before each frame it may
/// change state, then it loses the frame with its state's loss probability.
///
/// The mean time in the bad state is `1 / leave_bad` frames; the long-run fraction of frames
/// sent in the bad state is `enter_bad / (enter_bad + leave_bad)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from good to bad before a frame.
    pub enter_bad: f64,
    /// Probability of moving from bad to good before a frame.
    pub leave_bad: f64,
    /// Loss probability in the good state (often 0).
    pub loss_good: f64,
    /// Loss probability in the bad state (often 1).
    pub loss_bad: f64,
    /// Caps a run of consecutive losses: the frame after `max_burst` losses in a row passes and
    /// the link returns to good. `None` leaves bursts unbounded (geometric). A cap lets a test
    /// keep bursts inside a timeout budget with certainty rather than with high probability.
    pub max_burst: Option<u32>,
}

impl GilbertElliott {
    /// The classic "Gilbert" form: no loss while good, every frame lost while bad.
    pub fn gilbert(enter_bad: f64, leave_bad: f64) -> Self {
        GilbertElliott { enter_bad, leave_bad, loss_good: 0.0, loss_bad: 1.0, max_burst: None }
    }

    /// The same model with bursts capped at `max` consecutive losses.
    pub fn with_max_burst(self, max: u32) -> Self {
        GilbertElliott { max_burst: Some(max), ..self }
    }
}

/// Explicit reordering: with `probability`, a frame is held `extra_delay` longer than its drawn
/// delay, so that frames sent after it overtake it. (Jitter larger than the gap between two
/// frames reorders them too, without this knob.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reorder {
    /// Chance that a frame is held back.
    pub probability: f64,
    /// How much longer it is held.
    pub extra_delay: Duration,
}

/// The impairments of one directed link. Every probability is a plain `f64` in `[0, 1]`
/// (values outside act as 0 or 1).
///
/// Each frame's fate is drawn in a fixed order — loss, duplication, then the delay of each
/// copy (jitter, then reordering) — from the link's own random stream.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairments {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` for each copy.
    pub jitter: Duration,
    /// How frames are lost.
    pub loss: Loss,
    /// Chance that a delivered frame arrives twice (the copy has its own delay).
    pub duplicate: f64,
    /// Explicit reordering, if any.
    pub reorder: Option<Reorder>,
}

impl Impairments {
    /// A perfect link: no delay, no loss, no duplication, no reordering.
    pub fn perfect() -> Self {
        Self::default()
    }

    /// Sets the fixed delay.
    #[must_use]
    pub fn delay(self, delay: Duration) -> Self {
        Impairments { delay, ..self }
    }

    /// Sets the jitter bound.
    #[must_use]
    pub fn jitter(self, jitter: Duration) -> Self {
        Impairments { jitter, ..self }
    }

    /// Sets the loss model.
    #[must_use]
    pub fn loss(self, loss: Loss) -> Self {
        Impairments { loss, ..self }
    }

    /// Sets the duplication probability.
    #[must_use]
    pub fn duplicate(self, probability: f64) -> Self {
        Impairments { duplicate: probability, ..self }
    }

    /// Sets explicit reordering.
    #[must_use]
    pub fn reorder(self, probability: f64, extra_delay: Duration) -> Self {
        Impairments { reorder: Some(Reorder { probability, extra_delay }), ..self }
    }
}

/// Counters of one directed link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames offered to the link (after the interceptor, before impairments).
    pub offered: u64,
    /// Frames the loss model dropped.
    pub lost: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Copies held back by explicit reordering.
    pub held_back: u64,
    /// The longest run of consecutive losses so far.
    pub longest_loss_run: u32,
}

/// What the link decided for one frame: lost, or delivered after one or two delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Lost,
    Deliver { first: Duration, copy: Option<Duration> },
}

/// A directed link's impairments, loss-model state, random stream and counters.
#[derive(Debug, Clone)]
pub(crate) struct LinkState {
    pub(crate) impairments: Impairments,
    pub(crate) stats: LinkStats,
    rng: SimRng,
    bad: bool,
    loss_run: u32,
}

impl LinkState {
    pub(crate) fn new(impairments: Impairments, rng: SimRng) -> Self {
        LinkState { impairments, stats: LinkStats::default(), rng, bad: false, loss_run: 0 }
    }

    /// Decides one frame's fate.
    pub(crate) fn carry(&mut self) -> Fate {
        self.stats.offered += 1;
        if self.lose() {
            self.loss_run += 1;
            self.stats.lost += 1;
            self.stats.longest_loss_run = self.stats.longest_loss_run.max(self.loss_run);
            return Fate::Lost;
        }
        self.loss_run = 0;
        let duplicate = self.rng.chance(self.impairments.duplicate);
        let first = self.one_delay();
        let copy = duplicate.then(|| self.one_delay());
        if copy.is_some() {
            self.stats.duplicated += 1;
        }
        Fate::Deliver { first, copy }
    }

    fn lose(&mut self) -> bool {
        match self.impairments.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.chance(p),
            Loss::Bursty(ge) => {
                let switch = self.rng.chance(if self.bad { ge.leave_bad } else { ge.enter_bad });
                self.bad ^= switch;
                let lost = self.rng.chance(if self.bad { ge.loss_bad } else { ge.loss_good });
                if lost && ge.max_burst.is_some_and(|max| self.loss_run >= max) {
                    self.bad = false;
                    return false;
                }
                lost
            }
        }
    }

    fn one_delay(&mut self) -> Duration {
        let i = self.impairments;
        let mut delay = i.delay + self.rng.up_to(i.jitter);
        if let Some(r) = i.reorder
            && self.rng.chance(r.probability)
        {
            delay += r.extra_delay;
            self.stats.held_back += 1;
        }
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(impairments: Impairments, frames: usize) -> (Vec<Fate>, LinkStats) {
        let mut link = LinkState::new(impairments, SimRng::new(3, 9));
        let fates = (0..frames).map(|_| link.carry()).collect();
        (fates, link.stats)
    }

    #[test]
    fn a_perfect_link_delivers_everything_at_the_fixed_delay() {
        let (fates, stats) = run(Impairments::perfect().delay(Duration::from_millis(4)), 100);
        assert!(fates.iter().all(|f| *f == Fate::Deliver { first: Duration::from_millis(4), copy: None }));
        assert_eq!(stats, LinkStats { offered: 100, ..LinkStats::default() });
    }

    #[test]
    fn jitter_stays_in_its_band_and_uses_it() {
        let base = Duration::from_millis(10);
        let jitter = Duration::from_millis(5);
        let (fates, _) = run(Impairments::perfect().delay(base).jitter(jitter), 2_000);
        let delays: Vec<Duration> = fates
            .iter()
            .map(|f| match f {
                Fate::Deliver { first, .. } => *first,
                Fate::Lost => panic!("nothing is lost"),
            })
            .collect();
        assert!(delays.iter().all(|d| *d >= base && *d <= base + jitter));
        let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        assert!(*lo < base + Duration::from_millis(1) && *hi > base + Duration::from_millis(4));
    }

    #[test]
    fn random_loss_and_duplication_match_their_rates() {
        let (_, stats) = run(Impairments::perfect().loss(Loss::Random(0.2)).duplicate(0.1), 20_000);
        let lost = stats.lost as f64 / 20_000.0;
        let dup = stats.duplicated as f64 / (20_000 - stats.lost) as f64;
        assert!((0.18..0.22).contains(&lost), "{lost}");
        assert!((0.08..0.12).contains(&dup), "{dup}");
    }

    #[test]
    fn bursty_loss_comes_in_runs_and_the_cap_bounds_them() {
        let ge = GilbertElliott::gilbert(0.05, 0.3);
        let (_, free) = run(Impairments::perfect().loss(Loss::Bursty(ge)), 20_000);
        // Stationary bad fraction 0.05 / 0.35 ≈ 14 %; mean burst 1 / 0.3 ≈ 3.3 frames.
        let ratio = free.lost as f64 / 20_000.0;
        assert!((0.11..0.18).contains(&ratio), "{ratio}");
        assert!(free.longest_loss_run >= 8, "{}", free.longest_loss_run);
        let (fates, capped) = run(Impairments::perfect().loss(Loss::Bursty(ge.with_max_burst(3))), 20_000);
        assert_eq!(capped.longest_loss_run, 3);
        let longest = fates.split(|f| *f != Fate::Lost).map(<[Fate]>::len).max().unwrap();
        assert_eq!(longest, 3);
    }

    #[test]
    fn reordering_holds_frames_back() {
        let extra = Duration::from_millis(50);
        let (fates, stats) = run(Impairments::perfect().reorder(0.25, extra), 4_000);
        let held = fates.iter().filter(|f| matches!(f, Fate::Deliver { first, .. } if *first == extra)).count();
        assert_eq!(held as u64, stats.held_back);
        assert!((800..1_200).contains(&held), "{held}");
    }
}
