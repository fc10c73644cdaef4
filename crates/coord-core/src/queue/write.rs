//! The writing side of a queue: a frame goes into the pipe whole, under the writer lock.
//!
//! A small frame is serialized before the lock is taken and written in one `write(2)` (atomic
//! up to `PIPE_BUF`); a large one is serialized straight into the pipe (`FrameWriter`). Either
//! way a writer that dies half-way leaves `write_in_flight` set, which whoever takes the
//! writer lock next turns into "corrupted" (`Inner::locked_writer`).

use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::framing::{DIRECT_WRITE, FRAME_HEADER, FrameWriter, MAGIC, PipeOut};
use super::{KEEP_BUF, MAX_MESSAGE, PAGE, Queue, WRITE_BUF, my_pid, open_write_end, tag_fd, wait};
use crate::Error;

impl<T: Serialize + DeserializeOwned> Queue<T> {
    pub(super) fn put_item<U: Serialize>(&self, item: &U, deadline: Option<Instant>) -> Result<(), Error> {
        // Size first: one exact allocation instead of a growing buffer that is copied at
        // every doubling, and an oversized message is refused before it is built.
        let size = postcard::experimental::serialized_size(item).map_err(Error::Encode)?;
        if size > MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: size,
                max: MAX_MESSAGE,
            });
        }
        // The frame is built in a buffer this thread reuses: a fresh allocation per message
        // costs page faults for large ones (the allocator gives the pages back in between).
        WRITE_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let r = self.put_frame(item, size, &mut buf, deadline);
                if buf.capacity() > KEEP_BUF {
                    *buf = Vec::new();
                }
                r
            }
            Err(_) => self.put_frame(item, size, &mut Vec::new(), deadline),
        })
    }

    fn put_frame<U: Serialize>(
        &self,
        item: &U,
        size: usize,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        buf.clear();
        buf.extend_from_slice(&MAGIC.to_le_bytes());
        buf.extend_from_slice(&(size as u32).to_le_bytes());
        let small = size < DIRECT_WRITE;
        if small {
            // Serialized before taking the lock: other producers do not wait for it.
            buf.resize(FRAME_HEADER + size, 0);
            let len = postcard::to_slice(item, &mut buf[FRAME_HEADER..])
                .map_err(Error::Encode)?
                .len();
            if len != size {
                return Err(Error::Corrupted(format!(
                    "the message serialized to {len} bytes, not the {size} announced"
                )));
            }
        }
        let h = self.header();
        let Some(_unlock) = self.inner.lock_writer(deadline)? else {
            return Err(Error::Timeout);
        };
        if h.corrupted.load(Ordering::Acquire) {
            return Err(Error::Corrupted(
                "a process died in the middle of writing a message".into(),
            ));
        }
        // Under the writer lock, so that `close` cannot close it under our feet.
        let tx = self.write_end()?;
        // A frame of at most PIPE_BUF bytes goes out in one write(2), which the kernel makes
        // atomic: a writer killed around it leaves all of the frame or none of it, never a
        // part. Only a larger frame can be left half-written, so only that one is marked.
        let frame = FRAME_HEADER + size;
        let atomic = small && frame <= libc::PIPE_BUF;
        if !atomic && deadline.is_some() {
            // Start only when the whole frame fits, so the deadline cannot cut it in two.
            self.wait_for_room(frame, deadline)?;
        }
        if !atomic {
            h.write_in_flight.store(1, Ordering::Release);
        }
        let out = PipeOut {
            fd: tx,
            corrupted: &h.corrupted,
            deadline,
            written: Cell::new(0),
        };
        let r = if small {
            out.write_all(buf)
        } else {
            // A large message is serialized straight into the pipe: its big byte strings go
            // to the kernel from where they are (one copy, as with a raw pipe), not first
            // into a frame buffer.
            let mut w = FrameWriter {
                out: &out,
                pending: buf,
                payload: 0,
                err: None,
            };
            let r = postcard::serialize_with_flavor::<U, _, _>(item, &mut w);
            let written = w.payload;
            match (w.err, r) {
                (Some(e), _) => Err(e),
                (None, Err(e)) => Err(Error::Encode(e)),
                // Part of a frame of the wrong length would be in the pipe.
                (None, Ok(())) if written != size => Err(Error::Corrupted(format!(
                    "the message serialized to {written} bytes, not the {size} announced"
                ))),
                (None, Ok(())) => Ok(()),
            }
        };
        if let Err(e) = r {
            if out.written.get() == 0 {
                // Nothing of this frame is in the pipe: the stream is as it was.
                h.write_in_flight.store(0, Ordering::Release);
                return Err(e);
            }
            // Part of a frame is in the pipe and the rest will never follow.
            h.corrupted.store(true, Ordering::Release);
            return Err(match e {
                Error::Timeout => Error::Corrupted(
                    "put_timeout: the deadline passed in the middle of a message larger than the \
                     pipe (no consumer took it in time); the half-written message breaks the queue"
                        .into(),
                ),
                e => e,
            });
        }
        h.write_in_flight.store(0, Ordering::Release);
        h.messages_put.fetch_add(1, Ordering::Relaxed);
        h.bytes_put.fetch_add(size as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Before a timed put of a frame that needs several writes: waits until the pipe has room
    /// for all of it, so that, once started, it goes out without waiting. The room is judged
    /// with a margin (a pipe stores data in pages, and pages may be partly used), so a frame
    /// larger than half the pipe waits for an empty pipe.
    fn wait_for_room(&self, frame: usize, deadline: Option<Instant>) -> Result<(), Error> {
        let cap = self.inner.pipe_cap;
        loop {
            let used = wait::pipe_bytes(self.inner.rx.as_fd())?;
            if used == 0 || 2 * (used + frame) + 2 * PAGE <= cap {
                return Ok(());
            }
            if self.header().corrupted.load(Ordering::Acquire) {
                return Err(Error::Corrupted(
                    "the queue was marked corrupted while this put waited for room in the pipe".into(),
                ));
            }
            let Some(slice) = wait::next_slice(deadline) else {
                return Err(Error::Timeout);
            };
            // The pipe cannot tell us when N bytes are free: look again soon.
            std::thread::sleep(slice.min(Duration::from_millis(1)));
        }
    }

    /// This process's write end, opened on first use (the caller holds the writer lock).
    fn write_end(&self) -> Result<i32, Error> {
        let me = my_pid();
        let tx = self.inner.tx.load(Ordering::Acquire);
        if tx != 0 && (tx >> 32) as i32 == me {
            if self.inner.inherited.load(Ordering::Relaxed)
                && self.inner.inherited.swap(false, Ordering::AcqRel)
            {
                self.count_producer(); // a potential producer's first put
            }
            return Ok((tx & 0xffff_ffff) as i32 - 1);
        }
        // A second write end of the same pipe, opened from the read end every process holds.
        let fd = open_write_end(self.inner.rx.as_raw_fd()).ok_or_else(io::Error::last_os_error)?;
        self.inner.tx.store(tag_fd(me, fd), Ordering::Release);
        self.inner.inherited.store(false, Ordering::Release);
        self.count_producer();
        Ok(fd)
    }

    /// Counts a process that has put (after its write end exists: a consumer that sees the
    /// count and then end-of-file knows this producer has really gone).
    fn count_producer(&self) {
        if self.header().producers_seen.fetch_add(1, Ordering::AcqRel) == 0 {
            wait::futex_wake_all(&self.header().producers_seen);
        }
    }
}
