//! The reading side of a queue: a frame comes out whole, exactly once, under the reader lock.
//!
//! A consumer reads ahead into a buffer in the shared region (a small frame is usually all
//! there after one `read`); a large frame's rest goes from the pipe straight into the caller's
//! buffer. In the middle of a frame, the wait is in slices: the deadline is kept, and a writer
//! that died half-way is noticed. A consumer whose deadline passes in the middle of a frame
//! parks what it has taken in the spill area, where the next consumer carries on.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::framing::{FRAME_HEADER, MAGIC, MAX_PREFIX, byte_string_len};
use super::owned_bytes::OwnedBytes;
use super::{KEEP_BUF, MAX_MESSAGE, PAGE, Queue, RA_CAP, RA_OFF, READ_BUF, SPILL_OFF, Unlock, my_pid, wait};
use crate::Error;
use crate::lock::Acquired;

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A consumer's first `get` in a child that inherited a write end and never put: let the
    /// write end go, or this process would keep the queue connected for itself. Needs the
    /// writer lock (no `put` of this process may be using the descriptor); while a writer
    /// holds it, data is usually on its way: `false` means "readable now, try again later",
    /// or "the deadline has passed" (a writer may be stopped while it holds the lock).
    fn drop_inherited_end(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        loop {
            if let Some(_unlock) = self.inner.try_lock_writer()? {
                if self.inner.inherited.swap(false, Ordering::AcqRel) {
                    let tx = self.inner.tx.swap(0, Ordering::AcqRel);
                    if tx != 0 && (tx >> 32) as i32 == my_pid() {
                        // SAFETY: this process's write end, no longer referenced by `tx`, and
                        // no put of ours is using it (we hold the writer lock).
                        unsafe { libc::close((tx & 0xffff_ffff) as i32 - 1) };
                    }
                }
                return Ok(true);
            }
            if self.readable(Duration::from_millis(1))? || wait::next_slice(deadline).is_none() {
                return Ok(false);
            }
        }
    }

    pub(super) fn recv_bytes(&self, deadline: Option<Instant>, out: &mut Vec<u8>) -> Result<usize, Error> {
        self.recv_frame(
            deadline,
            out,
            |out, body| {
                let (n, prefix) = byte_string_len(body, body.len()).map_err(Error::Decode)?;
                out.clear();
                out.extend_from_slice(&body[prefix..prefix + n]);
                Ok(n)
            },
            // SAFETY (of the call): `recv_frame` passes a large frame's first bytes (in the
            // read-ahead buffer or the spill area), with the reader lock held.
            |out, src, have, len| unsafe { self.read_bytes_body(src, have, len, out, deadline) },
        )
    }

    pub(super) fn recv(&self, deadline: Option<Instant>) -> Result<T, Error> {
        self.recv_frame(
            deadline,
            &mut (),
            |_, body| postcard::from_bytes(body).map_err(Error::Decode),
            // A frame larger than what was read ahead.
            |_, src, have, len| {
                // SAFETY: `recv_frame` passes `have` initialized bytes at `src`, which only the
                // holder of the reader lock (us) touches.
                let ahead = unsafe { std::slice::from_raw_parts(src, have) };
                let start = &ahead[..have.min(MAX_PREFIX)];
                if let Ok((_, prefix)) = byte_string_len(start, len) {
                    // One byte string (a ByteBuf, a String...): its payload goes from the pipe
                    // into the Vec that becomes the value (see `owned_bytes`).
                    let mut pre = [0u8; MAX_PREFIX];
                    pre[..prefix].copy_from_slice(&start[..prefix]);
                    let mut payload = Vec::new();
                    // SAFETY: as above; we hold the reader lock.
                    unsafe { self.read_bytes_body(src, have, len, &mut payload, deadline)? };
                    return OwnedBytes::decode(payload, &pre[..prefix]).map_err(Error::Decode);
                }
                // Anything else: take what is here, read the rest straight into a buffer this
                // thread reuses (no allocation, no page faults per message).
                READ_BUF.with(|cell| match cell.try_borrow_mut() {
                    Ok(mut buf) => {
                        let r = self.read_body(src, have, len, &mut buf, deadline);
                        if buf.capacity() > KEEP_BUF {
                            *buf = Vec::new();
                        }
                        r
                    }
                    Err(_) => self.read_body(src, have, len, &mut Vec::new(), deadline),
                })
            },
        )
    }

    /// Takes the reader lock, waits for a frame and checks its header. A frame that is all in
    /// the read-ahead buffer is handed to `whole` (its body, in place); a larger one to `large`
    /// (where its first body bytes are, in the read-ahead buffer or the spill area, how many
    /// they are, and the body's length), which must read the rest of it from the pipe. Either
    /// gets `out`, where the caller wants the message.
    fn recv_frame<O: ?Sized, R>(
        &self,
        deadline: Option<Instant>,
        out: &mut O,
        whole: impl FnOnce(&mut O, &[u8]) -> Result<R, Error>,
        large: impl FnOnce(&mut O, *const u8, usize, usize) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let h = self.header();
        let acquired = loop {
            if !self.inner.inherited.load(Ordering::Relaxed) {
                match self.inner.rlock.lock_until(deadline)? {
                    Some(a) => break a,
                    None => return Err(Error::Timeout),
                }
            }
            // A child that inherited a write end and gets before putting is a consumer: it
            // lets the write end go, or it would keep the queue connected for itself (and for
            // the consumer ahead of it, waiting in the pipe for an end-of-file).
            self.drop_inherited_end(deadline)?;
            if !self.inner.inherited.load(Ordering::Relaxed) {
                continue;
            }
            // Not yet (a writer is busy): never wait long for the reader lock meanwhile.
            let slice = Instant::now() + Duration::from_millis(10);
            let until = deadline.map_or(slice, |d| d.min(slice));
            if let Some(a) = self.inner.rlock.lock_until(Some(until))? {
                break a;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
        };
        let _unlock = Unlock(&self.inner.rlock);
        if let Acquired::OwnerDied = acquired
            && h.read_in_flight.load(Ordering::Acquire) != 0
        {
            h.corrupted.store(true, Ordering::Release);
        }
        if h.corrupted.load(Ordering::Acquire) {
            return Err(Error::Corrupted(
                "a process died in the middle of a message".into(),
            ));
        }
        // 0. A frame that a consumer before us began and parked when its deadline passed:
        // carry on with it, from the spill area.
        let parked = h.spill_frame.load(Ordering::Relaxed) as usize;
        if parked != 0 {
            let have = h.spill_len.load(Ordering::Relaxed) as usize;
            // SAFETY: SPILL_OFF + MAX_MESSAGE is inside the region, mapped while `inner` lives.
            let spill = unsafe { self.inner.region.ptr().add(SPILL_OFF) };
            return large(out, spill, have, parked);
        }
        // SAFETY: RA_OFF + RA_CAP is inside the region, mapped while `inner` lives; only the
        // holder of the reader lock (us, now) touches these bytes.
        let ra = unsafe { self.inner.region.ptr().add(RA_OFF) };
        let fd = self.inner.rx.as_raw_fd();
        // 1. A whole frame header in the read-ahead buffer.
        loop {
            let (start, end) = (
                h.ra_start.load(Ordering::Relaxed),
                h.ra_end.load(Ordering::Relaxed),
            );
            let avail = (end - start) as usize;
            if avail >= FRAME_HEADER {
                break;
            }
            if avail > 0 {
                // Part of a header: a frame has begun. Move it to the front, then take more.
                h.read_in_flight.store(1, Ordering::Release);
                // SAFETY: both ranges are inside the buffer; `copy` allows overlap.
                unsafe { std::ptr::copy(ra.add(start as usize), ra, avail) };
                h.ra_start.store(0, Ordering::Relaxed);
                h.ra_end.store(avail as u32, Ordering::Relaxed);
                let mut n = 0;
                // SAFETY: `ra + avail .. ra + RA_CAP` is inside the buffer.
                match unsafe { self.read_some(ra.add(avail), RA_CAP - avail, deadline, &mut n) } {
                    Ok(()) => {}
                    Err(Error::Timeout) => {
                        // What we have of the header stays in the shared buffer: nothing is
                        // lost, the next consumer carries on.
                        h.read_in_flight.store(0, Ordering::Release);
                        return Err(Error::Timeout);
                    }
                    Err(e) => return Err(e),
                }
                h.ra_end.store((avail + n) as u32, Ordering::Relaxed);
                continue;
            }
            // A child that inherited a write end and gets before putting is a consumer: it must
            // not hold a write end while it waits, or it would wait for itself.
            // (`false`: not yet, a writer is busy, but there is data to read; next time.)
            if self.inner.inherited.load(Ordering::Relaxed) {
                self.drop_inherited_end(deadline)?;
            }
            // Between frames, nothing buffered: wait for the pipe. Without a deadline this is
            // one blocking `read`, exactly what a raw pipe reader does; with one, `poll` first.
            if let Some(d) = deadline
                && !self.readable(d.saturating_duration_since(Instant::now()))?
            {
                if Instant::now() >= d {
                    return Err(Error::Timeout);
                }
                continue; // interrupted by a signal: wait for the rest of the time
            }
            // SAFETY: the whole buffer is ours (reader lock) and holds no valid bytes.
            let n = unsafe { libc::read(fd, ra.cast(), RA_CAP) };
            if n > 0 {
                h.ra_start.store(0, Ordering::Relaxed);
                h.ra_end.store(n as u32, Ordering::Relaxed);
                continue;
            }
            if n < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    e => return Err(e.into()),
                }
            }
            // End-of-file: no process holds a write end now, and the pipe is empty.
            if h.corrupted.load(Ordering::Acquire) {
                // Condemned while we waited: some producer's put was refused, so "every
                // message was delivered" would be untrue.
                return Err(Error::Corrupted(
                    "a process died in the middle of writing a message".into(),
                ));
            }
            if h.producers_seen.load(Ordering::Acquire) > 0 {
                return Err(Error::Disconnected);
            }
            // Nobody has produced yet: wait for the first producer to show up.
            if !wait::wait_first_producer(&h.producers_seen, deadline) {
                return Err(Error::Timeout);
            }
        }
        let start = h.ra_start.load(Ordering::Relaxed) as usize;
        let end = h.ra_end.load(Ordering::Relaxed) as usize;
        let mut head = [0u8; FRAME_HEADER];
        // SAFETY: `start + FRAME_HEADER <= end <= RA_CAP`: inside the buffer.
        unsafe { std::ptr::copy_nonoverlapping(ra.add(start), head.as_mut_ptr(), FRAME_HEADER) };
        let magic = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(head[4..].try_into().expect("4 bytes")) as usize;
        if magic != MAGIC || len > MAX_MESSAGE {
            h.corrupted.store(true, Ordering::Release);
            return Err(Error::Corrupted(format!("bad frame header {magic:#x}/{len}")));
        }
        let have = end - start - FRAME_HEADER;
        if have >= len {
            // 2a. The whole frame is here: decode it in place, no copy, no system call.
            // SAFETY: `start + FRAME_HEADER + len <= end`: initialized bytes inside the buffer,
            // which nobody else touches while we hold the reader lock.
            let body = unsafe { std::slice::from_raw_parts(ra.add(start + FRAME_HEADER), len) };
            let r = whole(out, body);
            h.ra_start
                .store((start + FRAME_HEADER + len) as u32, Ordering::Relaxed);
            h.read_in_flight.store(0, Ordering::Release);
            h.messages_got.fetch_add(1, Ordering::Relaxed);
            h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
            return r;
        }
        // 2b. A frame larger than what was read ahead.
        // SAFETY: `start + FRAME_HEADER <= end <= RA_CAP`: inside the buffer.
        large(out, unsafe { ra.add(start + FRAME_HEADER) }, have, len)
    }

    /// The first `have` body bytes of a large frame (at `src`, in the read-ahead buffer or
    /// the spill area) are being taken by this consumer: from now on, bytes of the frame are
    /// in this process only. The shared buffers are emptied.
    fn take_begun_frame(&self) {
        let h = self.header();
        h.read_in_flight.store(1, Ordering::Release);
        h.ra_start.store(0, Ordering::Relaxed);
        h.ra_end.store(0, Ordering::Relaxed);
        h.spill_frame.store(0, Ordering::Relaxed);
    }

    /// Our deadline passed in the middle of a frame of `len` bytes whose first bytes are the
    /// concatenation of `parts`: they go to the spill area, where the next consumer (of any
    /// process) finds them and carries on. Nothing is lost, nothing is torn. Returns the
    /// error to give our caller.
    ///
    /// # Safety
    /// The caller holds the reader lock; each part is `(pointer, length)` of readable bytes,
    /// and no reference to the spill area is used after this call.
    unsafe fn park(&self, parts: &[(*const u8, usize)], len: usize) -> Error {
        let h = self.header();
        // SAFETY: the spill area is inside the region (MAX_MESSAGE bytes, mapped while `inner`
        // lives) and only the holder of the reader lock touches it.
        let spill = unsafe { self.inner.region.ptr().add(SPILL_OFF) };
        let mut at = 0;
        for &(p, n) in parts {
            // SAFETY: `at + n` is at most the bytes of one frame body (`len <= MAX_MESSAGE`);
            // a part may itself lie in the spill area (a frame parked twice), so `copy`,
            // which allows overlap.
            unsafe { std::ptr::copy(p, spill.add(at), n) };
            at += n;
        }
        debug_assert!(at < len);
        h.spill_len.store(at as u32, Ordering::Relaxed);
        h.spill_frame.store(len as u32, Ordering::Relaxed);
        // Every byte of the frame taken so far is in shared memory again.
        h.read_in_flight.store(0, Ordering::Release);
        Error::Timeout
    }

    /// A frame that was resumed from the spill area is done: give its pages back.
    fn release_spill(&self, src: *const u8, have: usize) {
        // SAFETY: only an address computation; the pointer is not dereferenced.
        let spill = unsafe { self.inner.region.ptr().add(SPILL_OFF) };
        if std::ptr::eq(src, spill) && have > 0 {
            let len = have.div_ceil(PAGE) * PAGE;
            // SAFETY: `spill .. spill + len` is inside the region (len <= MAX_MESSAGE rounded
            // to a page, and the region is page-sized beyond it) and nobody uses those bytes:
            // we hold the reader lock and the spill area is empty. MADV_REMOVE frees a shared
            // mapping's pages; reading them again gives zeros.
            let _ = unsafe {
                nix::sys::mman::madvise(
                    std::ptr::NonNull::new_unchecked(spill.cast()),
                    len.min(MAX_MESSAGE),
                    nix::sys::mman::MmapAdvise::MADV_REMOVE,
                )
            };
        }
    }

    /// `large` for [`get_bytes_into`](Queue::get_bytes_into): the byte string's length prefix
    /// is taken first (from the bytes in hand, or the pipe if they are not all there), then
    /// the payload goes to `out`: what is in hand by one copy, the rest by the kernel, straight
    /// from the pipe.
    ///
    /// # Safety
    /// The caller holds the reader lock; `src[..have]` are the first `have < len` bytes of a
    /// frame body of `len` bytes, in the read-ahead buffer or the spill area.
    unsafe fn read_bytes_body(
        &self,
        src: *const u8,
        have: usize,
        len: usize,
        out: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<usize, Error> {
        let h = self.header();
        self.take_begun_frame();
        // SAFETY: the caller's contract: initialized bytes that only we touch.
        let ahead = unsafe { std::slice::from_raw_parts(src, have) };
        // The length prefix (at most MAX_PREFIX bytes).
        let mut pre = [0u8; MAX_PREFIX];
        let want = len.min(MAX_PREFIX);
        let got = if have >= want {
            pre[..want].copy_from_slice(&ahead[..want]);
            have
        } else {
            pre[..have].copy_from_slice(ahead);
            let mut done = 0;
            // SAFETY: `pre[have..want]` is writable.
            match unsafe { self.read_rest(pre.as_mut_ptr().add(have), want - have, deadline, &mut done) } {
                Ok(()) => want,
                // SAFETY: `pre[..have + done]` is initialized; we hold the reader lock.
                Err(Error::Timeout) => return Err(unsafe { self.park(&[(pre.as_ptr(), have + done)], len) }),
                Err(e) => return Err(e),
            }
        };
        // The body's first `got` bytes are in hand: in `ahead` if all of them were there,
        // else in `pre`.
        let first: *const u8 = if have >= want { src } else { pre.as_ptr() };
        out.clear();
        let parsed = byte_string_len(&pre[..want], len);
        out.reserve(len);
        // How many of the first bytes are not in `out` (the prefix; all of them for a body
        // that is not a byte string: its rest is still consumed, into `out`, and refused).
        let kept_back = match parsed {
            Ok((_, prefix)) => {
                // SAFETY: `first[..got]` is initialized (see above), `prefix <= got`.
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(first.add(prefix), got - prefix) });
                prefix
            }
            Err(_) => got,
        };
        let rest = len - got;
        let at = out.len();
        let mut done = 0;
        // SAFETY: `out` has room for `len >= at + rest` bytes (reserved above).
        match unsafe { self.read_rest(out.as_mut_ptr().add(at), rest, deadline, &mut done) } {
            Ok(()) => {}
            Err(Error::Timeout) => {
                // SAFETY: `read_rest` initialized `done` more bytes.
                unsafe { out.set_len(at + done) };
                // SAFETY: both parts are initialized, readable bytes; `first` may be in the
                // spill area, which `park` allows; nothing refers to it afterwards.
                let e = unsafe { self.park(&[(first, kept_back), (out.as_ptr(), out.len())], len) };
                out.clear();
                return Err(e);
            }
            Err(e) => {
                out.clear();
                return Err(e);
            }
        }
        // SAFETY: `read_rest` initialized `out[at..at + rest]`.
        unsafe { out.set_len(at + rest) };
        h.read_in_flight.store(0, Ordering::Release);
        self.release_spill(src, have);
        h.messages_got.fetch_add(1, Ordering::Relaxed);
        h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
        match parsed {
            Ok((n, _)) => Ok(n),
            Err(e) => {
                out.clear();
                Err(Error::Decode(e))
            }
        }
    }

    /// Moves the `have` body bytes at `src` into `buf`, reads the other `len - have` from the
    /// pipe, and decodes.
    fn read_body(
        &self,
        src: *const u8,
        have: usize,
        len: usize,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<T, Error> {
        let h = self.header();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        // SAFETY: `src[..have]` are initialized bytes of the read-ahead buffer or the spill
        // area (recv_frame's contract), `buf` holds at least `len > have` bytes, and the two
        // do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), have) };
        self.take_begun_frame();
        let mut done = 0;
        // SAFETY: `buf[have..len]` is initialized, writable memory.
        match unsafe { self.read_rest(buf.as_mut_ptr().add(have), len - have, deadline, &mut done) } {
            Ok(()) => {}
            // SAFETY: `buf[..have + done]` is initialized; we hold the reader lock.
            Err(Error::Timeout) => return Err(unsafe { self.park(&[(buf.as_ptr(), have + done)], len) }),
            Err(e) => return Err(e),
        }
        h.read_in_flight.store(0, Ordering::Release);
        self.release_spill(src, have);
        h.messages_got.fetch_add(1, Ordering::Relaxed);
        h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
        postcard::from_bytes(&buf[..len]).map_err(Error::Decode)
    }

    fn readable(&self, timeout: Duration) -> Result<bool, Error> {
        wait::ready(self.inner.rx.as_fd(), PollFlags::POLLIN, timeout)
    }

    /// Reads exactly `len` more bytes of a frame already begun, counting them in `done`;
    /// [`Error::Timeout`] if the deadline passes first (`done` says how far it got).
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `len` bytes.
    unsafe fn read_rest(
        &self,
        ptr: *mut u8,
        len: usize,
        deadline: Option<Instant>,
        done: &mut usize,
    ) -> Result<(), Error> {
        while *done < len {
            let mut n = 0;
            // SAFETY: `ptr + done .. ptr + len` is inside the caller's buffer (contract above).
            let r = unsafe { self.read_some(ptr.add(*done), len - *done, deadline, &mut n) };
            *done += n;
            r?;
        }
        Ok(())
    }

    /// Reads between 1 and `cap` bytes of a frame already begun into `ptr`, and says how many
    /// in `n` (the caller holds the reader lock, so it is the only reader). What is in the pipe
    /// is taken at once (non-blocking read end); only when nothing is there does it wait, in
    /// `poll`, never in `read`, and in slices: the deadline is kept (the writer may be stopped,
    /// not dead), and after each empty slice it checks on the writer, since a writer that died
    /// half-way while other producers stay alive sends neither the rest nor an end-of-file.
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `cap` bytes.
    unsafe fn read_some(
        &self,
        ptr: *mut u8,
        cap: usize,
        deadline: Option<Instant>,
        n: &mut usize,
    ) -> Result<(), Error> {
        loop {
            // SAFETY: the caller's contract.
            let got = unsafe { libc::read(self.inner.rx_nb.as_raw_fd(), ptr.cast(), cap) };
            if got > 0 {
                *n = got as usize;
                return Ok(());
            }
            if got == 0 {
                self.header().corrupted.store(true, Ordering::Release);
                return Err(Error::Corrupted(
                    "every writer is gone, in the middle of a message".into(),
                ));
            }
            match Errno::last() {
                Errno::EAGAIN => {
                    let Some(slice) = wait::next_slice(deadline) else {
                        return Err(Error::Timeout);
                    };
                    if !self.readable(slice)? {
                        self.check_writer_alive()?;
                    }
                }
                Errno::EINTR => {}
                e => return Err(e.into()),
            }
        }
    }

    /// In the middle of a frame, no byte came for a while. If we can take the writer lock,
    /// nobody is writing: the writer of our frame died (the lock says so), or it was let go
    /// by a process that repaired the lock (and marked the queue corrupted). Either way, if
    /// the pipe is still empty while we hold the lock, the rest of the frame can never come.
    fn check_writer_alive(&self) -> Result<(), Error> {
        let h = self.header();
        if let Some(_unlock) = self.inner.try_lock_writer()? {
            // Under the writer lock no byte can enter the pipe: look once more.
            if h.corrupted.load(Ordering::Acquire) || !self.readable(Duration::ZERO)? {
                h.corrupted.store(true, Ordering::Release);
                return Err(Error::Corrupted(
                    "the writer died in the middle of a message".into(),
                ));
            }
        }
        Ok(())
    }
}
