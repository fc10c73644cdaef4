//! Waiting, always with the deadline in view.
//!
//! Every wait of the queue goes through here, in slices: a wait with a deadline never sleeps
//! past it, and a wait without one wakes up now and then to see whether the queue has been
//! condemned meanwhile (a writer died in the middle of a frame), so that nobody waits for
//! bytes that can never come.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::Error;

/// How long one slice of a wait lasts at most: in the middle of a frame whose bytes stopped
/// coming, how often a reader checks on the writer; for a writer waiting for room, how often
/// it checks whether the queue was marked corrupted.
pub(super) const SLICE: Duration = Duration::from_millis(100);

/// The next slice of a wait: at most `SLICE`, never past `deadline`; `None` once the
/// deadline has passed.
pub(super) fn next_slice(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(SLICE),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            (!left.is_zero()).then(|| left.min(SLICE))
        }
    }
}

/// Waits at most `timeout` for `fd` to be ready for `events`; `false` if it was not (or a
/// signal cut the wait short: callers loop).
pub(super) fn ready(fd: BorrowedFd<'_>, events: PollFlags, timeout: Duration) -> Result<bool, Error> {
    // poll counts in whole milliseconds: round up, or a wait of 0.4 ms would spin.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(fd, events)];
    match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
        // Ready, or the other side is gone (POLLHUP/POLLERR): either way the next call will
        // not block.
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Bytes waiting in the pipe whose read end is `fd` (`FIONREAD`).
pub(super) fn pipe_bytes(fd: BorrowedFd<'_>) -> Result<usize, Error> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer we pass, a live local.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) } < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(n.max(0) as usize)
}

/// Waits until `word` is non-zero (or the deadline passes: `false`). A process-shared futex:
/// the word lives in shared memory, so the call must not use the PRIVATE flag.
///
/// In slices, like every other wait: the first producer bumps the word and then wakes us, and
/// a producer killed between the two would otherwise leave us asleep for good.
pub(super) fn wait_first_producer(word: &AtomicU32, deadline: Option<Instant>) -> bool {
    while word.load(Ordering::Acquire) == 0 {
        let Some(slice) = next_slice(deadline) else {
            return false;
        };
        crate::futex::wait(word, 0, Some(slice));
    }
    true
}

/// Wakes every process waiting in `wait_first_producer` on `word`.
pub(super) fn futex_wake_all(word: &AtomicU32) {
    crate::futex::wake(word, u32::MAX);
}
