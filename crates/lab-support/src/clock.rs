//! CPU-time clocks, for "how much CPU did this worker burn" next to wall time.
//! (Wall time across processes is `coord_core::monotonic_ns`.)

use nix::time::{ClockId, clock_gettime};

fn read_ns(clock: ClockId) -> u64 {
    // These clocks exist on every Linux since 2.6; if one ever failed, 0 makes the figure
    // visibly wrong instead of ending the worker.
    clock_gettime(clock).map_or(0, |t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

/// CPU time used so far by the calling process, all threads, in ns.
pub fn process_cpu_ns() -> u64 {
    read_ns(ClockId::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time used so far by the calling thread, in ns (a forked worker has one thread).
pub fn thread_cpu_ns() -> u64 {
    read_ns(ClockId::CLOCK_THREAD_CPUTIME_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_clocks_advance_with_work() {
        let (p0, t0) = (process_cpu_ns(), thread_cpu_ns());
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        assert!(process_cpu_ns() > p0 && thread_cpu_ns() > t0);
    }
}
