//! Sleeping on a word of shared memory: the Linux futex, in its process-shared form.
//!
//! A futex lets a process sleep until another process changes a 32-bit word *in a `MAP_SHARED`
//! mapping* and says so. The kernel keys the sleepers by the physical page, so the word must
//! live in memory both processes map: that is why these calls never use `FUTEX_PRIVATE_FLAG`
//! (which keys by address inside one process and would miss a wake-up from another).
//!
//! The two calls are the whole protocol:
//! - [`wait`]`(word, expected, timeout)`: sleep only if `*word == expected` (checked by the kernel
//!   atomically with going to sleep, so a wake-up that comes between our check and our sleep is
//!   not lost), until woken, the timeout passes, or a signal arrives.
//! - [`wake`]`(word, n)`: wake up to `n` sleepers; call it after changing the word.
//!
//! Callers loop: a return from `wait` only means "look again".

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, at most `timeout` (`None`: no limit). Whatever woke
/// it (a wake-up, a signal, the timeout, or a word that already differed), the caller looks
/// at the word again.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        // A timeout past what time_t holds is "for ever" in practice: clamp instead of wrapping.
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live `AtomicU32` (4 bytes, 4-aligned), which is what FUTEX_WAIT reads;
    // the kernel only reads it and compares it with `expected`. `ts_ptr` is null or points at a
    // `timespec` on this stack frame that outlives the call (FUTEX_WAIT's timeout is relative).
    // The two unused arguments (uaddr2, val3) are ignored by FUTEX_WAIT. nix has no futex call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// Wakes up to `n` processes sleeping in [`wait`] on `word`.
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: `word` is a live `AtomicU32`; FUTEX_WAKE does not read or write it, it only uses
    // its address to find the sleepers. The remaining arguments are ignored by FUTEX_WAKE.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}
