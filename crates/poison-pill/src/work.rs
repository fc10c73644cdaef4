//! The work of one task: a stand-in for real work, sized in CPU time.

use lab_support::clock::process_cpu_ns;

/// The answer a task with this id must come back with.
pub fn expected_value(id: u32) -> u64 {
    (id as u64) * (id as u64) + 1
}

/// `work_us` microseconds of this process's CPU time, then the answer. CPU time, not wall
/// time, so that a task is the same amount of work when 4 workers share 2 cores.
pub fn do_work(id: u32, work_us: u32) -> u64 {
    if work_us > 0 {
        let end = process_cpu_ns() + work_us as u64 * 1_000;
        let mut x = id as u64 | 1;
        // Some arithmetic between clock reads: each read of the CPU clock is a system call.
        while process_cpu_ns() < end {
            for _ in 0..2048 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
        }
    }
    expected_value(id)
}
