//! Ending a firmware test: a status line and the semihosting exit, whose status becomes
//! QEMU's exit code. A panic (panic-semihosting, feature `exit`) and a hard fault exit with
//! failure too, so no fault can pass for success.

use cortex_m_semihosting::{debug, hprintln};

/// Prints `PASS` and exits QEMU with status 0.
pub fn pass() -> ! {
    hprintln!("PASS");
    finish(debug::EXIT_SUCCESS)
}

/// Prints `FAIL: why` and exits QEMU with status 1.
pub fn fail(why: core::fmt::Arguments<'_>) -> ! {
    hprintln!("FAIL: {}", why);
    finish(debug::EXIT_FAILURE)
}

fn finish(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached without a semihosting host; QEMU's own timeout ends the run.
    loop {
        cortex_m::asm::wfi();
    }
}

/// The hard-fault handler, which cortex-m-rt requires to be an exported `unsafe fn`.
#[allow(unsafe_code)]
mod entry_points {
    use cortex_m_rt::{ExceptionFrame, exception};

    #[exception]
    unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
        super::fail(format_args!("hard fault at pc {:#010x}", frame.pc()))
    }
}
