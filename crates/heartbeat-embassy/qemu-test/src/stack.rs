//! The call stack's high-water mark, for the footprint report. cortex-m-rt paints the whole
//! stack region with a fixed word at reset (feature `paint-stack`); the deepest word no longer
//! painted marks how deep the stack ever grew, interrupts included.

use cortex_m_rt::STACK_PAINT_VALUE;

/// The most bytes of stack used since reset.
pub fn peak() -> usize {
    let (bottom, top) = region();
    let mut at = bottom;
    while at < top && read(at) == STACK_PAINT_VALUE {
        at += 4;
    }
    top - at
}

/// Reading RAM by address is what the measurement is; the linker script defines the region,
/// which is why `unsafe_code` is allowed in this module only.
#[allow(unsafe_code)]
mod raw {
    unsafe extern "C" {
        /// The lowest address of the stack region (cortex-m-rt's linker script).
        static _stack_end: u32;
        /// One past the highest address of the stack region.
        static _stack_start: u32;
    }

    /// The stack region's bounds, lowest first.
    pub(super) fn region() -> (usize, usize) {
        (&raw const _stack_end as usize, &raw const _stack_start as usize)
    }

    /// The word at `address`, which [`region`] bounds.
    pub(super) fn read(address: usize) -> u32 {
        // SAFETY: `address` is 4-aligned (cortex-m-rt aligns `_stack_end` to 4 and callers step
        // by 4) and lies in the stack region, which is RAM the program owns; a volatile read of
        // a word there has no side effect.
        unsafe { core::ptr::read_volatile(address as *const u32) }
    }
}

use raw::{read, region};
