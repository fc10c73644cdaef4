//! The wire: how a message becomes a frame in the pipe, and back.
//!
//! A frame is `[magic u32][len u32][postcard bytes]`. Writes go to a non-blocking write end:
//! when the pipe is full, the writer waits in `poll` (see `wait`), in slices, so that a
//! deadline is kept and a queue condemned meanwhile is noticed.

use std::cell::Cell;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::PollFlags;
use serde::Serialize;

use super::wait;
use crate::Error;

pub(super) const MAGIC: u32 = 0xC0_0D_27_27;
pub(super) const FRAME_HEADER: usize = 8;

/// Where a frame goes: this process's write end (non-blocking), the queue's "corrupted" flag
/// and the caller's deadline. Counts the bytes written, so that a failure can tell "nothing
/// of the frame went out" from "part of it did".
pub(super) struct PipeOut<'a> {
    pub(super) fd: i32,
    pub(super) corrupted: &'a AtomicBool,
    pub(super) deadline: Option<Instant>,
    pub(super) written: Cell<usize>,
}

impl PipeOut<'_> {
    /// Waits until the pipe has room: `Timeout` at the deadline, `Corrupted` if the queue was
    /// condemned while we waited (nobody will read the rest of our frame in order).
    fn wait_for_room(&self) -> Result<(), Error> {
        loop {
            if self.corrupted.load(Ordering::Acquire) {
                return Err(Error::Corrupted(
                    "the queue was marked corrupted while this put waited for room in the pipe".into(),
                ));
            }
            let Some(slice) = wait::next_slice(self.deadline) else {
                return Err(Error::Timeout);
            };
            // SAFETY: `fd` stays open while the writer lock is held (only `close`, which takes
            // that lock, closes it), and the borrow does not outlive this call.
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            if wait::ready(fd, PollFlags::POLLOUT, slice)? {
                return Ok(());
            }
        }
    }

    /// Writes all of `buf`: one `write(2)` when the pipe has room (the common case).
    pub(super) fn write_all(&self, mut buf: &[u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            // SAFETY: `buf` is a live, readable slice; the kernel only reads it.
            let n = unsafe { libc::write(self.fd, buf.as_ptr().cast(), buf.len()) };
            if n < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    Errno::EAGAIN => {
                        self.wait_for_room()?;
                        continue;
                    }
                    e => return Err(e.into()),
                }
            }
            self.written.set(self.written.get() + n as usize);
            buf = &buf[n as usize..];
        }
        Ok(())
    }

    /// Writes `a` then `b` with as few `writev` calls as the pipe allows.
    pub(super) fn writev_all(&self, mut a: &[u8], mut b: &[u8]) -> Result<(), Error> {
        while !a.is_empty() || !b.is_empty() {
            let iov = [
                libc::iovec {
                    iov_base: a.as_ptr() as *mut libc::c_void,
                    iov_len: a.len(),
                },
                libc::iovec {
                    iov_base: b.as_ptr() as *mut libc::c_void,
                    iov_len: b.len(),
                },
            ];
            // SAFETY: both iovecs describe live, readable slices; the kernel only reads them.
            let n = unsafe { libc::writev(self.fd, iov.as_ptr(), 2) };
            if n < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    Errno::EAGAIN => {
                        self.wait_for_room()?;
                        continue;
                    }
                    e => return Err(e.into()),
                }
            }
            let mut n = n as usize;
            self.written.set(self.written.get() + n);
            let from_a = n.min(a.len());
            a = &a[from_a..];
            n -= from_a;
            b = &b[n..];
        }
        Ok(())
    }
}

/// The longest length prefix of a byte string: a varint of at most `MAX_MESSAGE` (26 bits).
pub(super) const MAX_PREFIX: usize = 4;

/// A byte string as postcard writes it (`serde_bytes` or [`Queue::put_bytes`]): a varint
/// length, then the bytes. From the first bytes of a frame body of `len` bytes, returns the
/// string's length and the prefix's; refuses a body that is anything else.
///
/// [`Queue::put_bytes`]: super::Queue::put_bytes
pub(super) fn byte_string_len(start: &[u8], len: usize) -> Result<(usize, usize), postcard::Error> {
    let mut n = 0usize;
    for (i, &b) in start.iter().take(MAX_PREFIX).enumerate() {
        n |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let prefix = i + 1;
            return if prefix + n == len {
                Ok((n, prefix))
            } else {
                Err(postcard::Error::DeserializeBadEncoding)
            };
        }
    }
    Err(if start.len() < MAX_PREFIX.min(len) || len == 0 {
        postcard::Error::DeserializeUnexpectedEnd
    } else {
        postcard::Error::DeserializeBadVarint
    })
}

/// Serializes as a byte string (what `serde_bytes::Bytes` does, without the dependency).
pub(super) struct RawBytes<'a>(pub(super) &'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Messages at least this large are serialized straight into the pipe (see `FrameWriter`).
pub(super) const DIRECT_WRITE: usize = 32 << 10;

/// A postcard output that writes a frame to the pipe as it is serialized: small pieces are
/// gathered in `pending`; a large byte string goes out with the pending bytes in one `writev`,
/// without being copied. (The caller holds the writer lock for the whole frame.)
pub(super) struct FrameWriter<'a, 'b> {
    pub(super) out: &'a PipeOut<'b>,
    pub(super) pending: &'a mut Vec<u8>,
    /// Payload bytes serialized so far (the frame header is not counted).
    pub(super) payload: usize,
    pub(super) err: Option<Error>,
}

impl FrameWriter<'_, '_> {
    fn fail(&mut self, e: Error) -> postcard::Error {
        self.err = Some(e);
        postcard::Error::SerializeBufferFull
    }
}

impl postcard::ser_flavors::Flavor for &mut FrameWriter<'_, '_> {
    type Output = ();

    fn try_push(&mut self, b: u8) -> postcard::Result<()> {
        self.pending.push(b);
        self.payload += 1;
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.payload += data.len();
        if data.len() < DIRECT_WRITE / 2 {
            self.pending.extend_from_slice(data);
            return Ok(());
        }
        match self.out.writev_all(self.pending, data) {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn finalize(self) -> postcard::Result<()> {
        if !self.pending.is_empty() {
            if let Err(e) = self.out.write_all(self.pending) {
                return Err(self.fail(e));
            }
            self.pending.clear();
        }
        Ok(())
    }
}
