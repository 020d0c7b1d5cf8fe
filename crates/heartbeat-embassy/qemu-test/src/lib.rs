//! What the firmware images share: the SysTick time driver, the semihosting exit, and the
//! network setup (embassy-net stacks on an in-memory link).

#![no_std]

pub mod exit;
pub mod net;
pub mod stack;
mod systick;

use embassy_executor::Spawner;
use embassy_net::Stack;

/// Starts the clock and the two network stacks (10.0.0.1 and 10.0.0.2, joined by the
/// in-memory link).
pub fn boot(spawner: Spawner) -> (Stack<'static>, Stack<'static>) {
    match cortex_m::Peripherals::take() {
        Some(peripherals) => systick::start(peripherals.SYST),
        None => exit::fail(format_args!("the core peripherals were already taken")),
    }
    net::two_stacks(spawner)
}

/// Milliseconds since boot, for status lines.
pub fn uptime_ms() -> u64 {
    embassy_time::Instant::now().as_millis()
}
