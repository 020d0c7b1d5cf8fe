//! An embassy-time driver on the Cortex-M SysTick timer. mps2-an386 has no embassy HAL, so
//! the firmware brings its own.
//!
//! SysTick interrupts once per millisecond; each interrupt counts a millisecond and wakes the
//! timers that are due, from embassy's timer queue. The clock itself reads in microseconds
//! (the `tick-hz-1_000_000` rate): the millisecond count plus how far SysTick has counted
//! down since, so round-trip times well below a millisecond stay measurable. A timer fires at
//! the first millisecond interrupt at or after its deadline: at most a millisecond late.

use core::cell::RefCell;
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use critical_section::{CriticalSection, Mutex};
use embassy_time_queue_utils::Queue;

/// The core clock of mps2-an386, which clocks SysTick.
const CORE_HZ: u32 = 25_000_000;
/// SysTick counts down from this to 0, then reloads and interrupts: one millisecond.
const RELOAD: u32 = CORE_HZ / 1_000 - 1;
/// Core clock cycles per microsecond, the driver's tick.
const CYCLES_PER_TICK: u32 = CORE_HZ / embassy_time_driver::TICK_HZ as u32;
const TICKS_PER_MS: u64 = embassy_time_driver::TICK_HZ / 1_000;

struct State {
    /// Milliseconds since `start`.
    millis: u64,
    /// The earliest tick at which a timer expires.
    next_expiry: u64,
    /// Wakers waiting for a tick.
    queue: Queue,
}

static STATE: Mutex<RefCell<State>> =
    Mutex::new(RefCell::new(State { millis: 0, next_expiry: u64::MAX, queue: Queue::new() }));

/// Starts the clock: SysTick interrupts every millisecond from now on.
pub(crate) fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Ticks since `start`. Inside a critical section the SysTick interrupt cannot run, so a
/// reload that already happened shows as a pending SysTick exception: count it here, and take
/// the counter after it.
fn now(cs: CriticalSection<'_>) -> u64 {
    let mut millis = STATE.borrow_ref(cs).millis;
    let mut counted = RELOAD - SYST::get_current();
    if SCB::is_pendst_pending() {
        millis += 1;
        counted = RELOAD - SYST::get_current();
    }
    millis * TICKS_PER_MS + u64::from(counted / CYCLES_PER_TICK)
}

struct SysTickDriver;

impl embassy_time_driver::Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(now)
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let now = now(cs);
            let mut state = STATE.borrow_ref_mut(cs);
            let state = &mut *state;
            if state.queue.schedule_wake(at, waker) {
                // Wakes whatever is already due (`at` may be in the past) and finds the next.
                state.next_expiry = state.queue.next_expiration(now);
            }
        });
    }
}

/// One millisecond: count it, wake the timers that are due.
fn on_interrupt() {
    critical_section::with(|cs| {
        STATE.borrow_ref_mut(cs).millis += 1;
        let now = now(cs);
        let mut state = STATE.borrow_ref_mut(cs);
        if now >= state.next_expiry {
            state.next_expiry = state.queue.next_expiration(now);
        }
    });
}

/// The platform's entry points. Registering a time driver means exporting two unmangled
/// symbols embassy-time links against, and an exception handler is an exported symbol the
/// vector table points at: the macros below do exactly that and nothing else, which is why
/// `unsafe_code` is allowed in this module only.
#[allow(unsafe_code)]
mod entry_points {
    use cortex_m_rt::exception;

    embassy_time_driver::time_driver_impl!(static DRIVER: super::SysTickDriver = super::SysTickDriver);

    #[exception]
    fn SysTick() {
        super::on_interrupt();
    }
}
