//! A millisecond clock from the TSC: a few cycles per read, no syscall, so
//! workers can read it once per burst.

/// Milliseconds since the clock was made, from `rte_rdtsc`.
#[derive(Debug, Clone, Copy)]
pub struct TscClock {
    start: u64,
    cycles_per_ms: u64,
    /// 2^64 / cycles_per_ms: a multiply instead of a division per read.
    ms_per_cycle_q64: u128,
}

impl TscClock {
    /// Needs EAL initialised (it measured the TSC frequency).
    pub fn new() -> Self {
        // SAFETY: both read values EAL computed at init (or the TSC
        // itself); no memory is touched.
        let (start, hz) = unsafe { (sfc_ffi::rte_rdtsc(), sfc_ffi::rte_get_tsc_hz()) };
        let cycles_per_ms = (hz / 1000).max(1);
        Self {
            start,
            cycles_per_ms,
            ms_per_cycle_q64: (1u128 << 64) / u128::from(cycles_per_ms),
        }
    }

    /// Raw TSC cycles.
    #[inline]
    pub fn cycles() -> u64 {
        // SAFETY: reads the time-stamp counter.
        unsafe { sfc_ffi::rte_rdtsc() }
    }

    /// TSC ticks per second.
    pub fn hz(&self) -> u64 {
        self.cycles_per_ms * 1000
    }

    /// Milliseconds since `new`, wrapping at 2^32 (the switch's `Tick`).
    #[inline]
    pub fn now_ms(&self) -> u32 {
        let elapsed = u128::from(Self::cycles().wrapping_sub(self.start));
        ((elapsed * self.ms_per_cycle_q64) >> 64) as u32
    }
}

impl Default for TscClock {
    fn default() -> Self {
        Self::new()
    }
}
