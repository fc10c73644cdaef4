//! Running worker processes safely: shapes that can run, and joins with a deadline.

use std::time::Duration;

use anyhow::{Result, bail, ensure};
use coord_core::{ExitStatus, Process, join_all};

/// The longest any scenario waits for its workers before killing them and reporting an error.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The most workers a run may use (each is a real process).
pub const MAX_WORKERS: usize = 64;

/// Rejects shapes that cannot run: no workers, empty ranges, too many processes, or ranges
/// that do not fit in `u64`.
pub fn check_shape(workers: usize, range_len: u64) -> Result<()> {
    ensure!(workers >= 1, "workers must be at least 1 (got 0)");
    ensure!(
        workers <= MAX_WORKERS,
        "workers must be at most {MAX_WORKERS} (got {workers})"
    );
    ensure!(
        range_len >= 1,
        "the range of each worker must hold at least 1 number (got 0)"
    );
    ensure!(
        (workers as u64).checked_mul(range_len).is_some(),
        "{workers} ranges of {range_len} numbers do not fit in u64"
    );
    Ok(())
}

/// Refuses a needle no worker would reach: the ranges together cover `0 .. workers * range_len`,
/// and a needle past them would make every search examine everything and find nothing.
pub fn check_needle(workers: usize, range_len: u64, needle: u64) -> Result<()> {
    let end = (workers as u64).saturating_mul(range_len);
    ensure!(
        needle < end,
        "needle {needle} is outside every worker's range: {workers} workers x {range_len} numbers \
         cover 0..{end}, so pick a needle below {end}"
    );
    Ok(())
}

/// Joins every worker within [`JOIN_TIMEOUT`]; a worker still running is killed, and any
/// worker that did not exit cleanly is an error.
pub fn join_checked(procs: &[Process]) -> Result<()> {
    let statuses = join_all(procs, JOIN_TIMEOUT)?;
    for (p, st) in procs.iter().zip(statuses) {
        match st {
            None => bail!(
                "worker pid {} did not finish within {JOIN_TIMEOUT:?} and was killed",
                p.pid()
            ),
            Some(ExitStatus::Exited(0)) => {}
            Some(other) => bail!("worker pid {} {other}", p.pid()),
        }
    }
    Ok(())
}
