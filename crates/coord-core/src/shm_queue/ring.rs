//! The ring: Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net, 2010;
//! the design behind crossbeam's `ArrayQueue`), with its per-cell sequence number widened into
//! a *state word* that also says who is working on the cell.
//!
//! In Vyukov's queue a producer first takes a position by moving `tail` on, then owns the cell
//! until it publishes the sequence number. A producer killed in between leaves a cell that no
//! one can tell from "not written yet", and the queue stops there for ever. Here the order is
//! reversed: the producer takes the *cell* first, with one compare-and-swap that writes
//! `WRITING` and its pid into the state word, and only then moves `tail` on (any producer that
//! finds a taken cell at `tail` moves it on too). So at every instant the state word says what
//! the cell holds and which process is in the middle of it; a process killed half-way leaves
//! its pid in a `WRITING` or `READING` cell, and the next process to need that cell finds it
//! dead and cleans up, reporting it instead of hanging or handing out half a message.
//!
//! A cell's state word: `round (30 bits) | kind (2 bits) | pid (32 bits)`. Position `pos` uses
//! cell `pos % capacity` in round `pos / capacity`:
//!
//! ```text
//!   EMPTY(r) --producer--> WRITING(r, pid) --copy, then publish--> FULL(r)
//!   FULL(r)  --consumer--> READING(r, pid) --copy out, then free--> EMPTY(r + 1)
//! ```
//!
//! Only the `FULL` store (Release) makes a message visible, after every byte of it is in the
//! cell; a consumer reads a cell only after seeing `FULL` (Acquire). A writer killed mid-copy
//! never gets to publish, so no checksum is needed to refuse its half-written bytes: the state
//! word is the commit record.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use crossbeam_utils::CachePadded;

use crate::shm::{SharedRegion, align_up};
use crate::{Error, futex};

pub(super) const EMPTY: u64 = 0;
pub(super) const WRITING: u64 = 1;
pub(super) const FULL: u64 = 2;
pub(super) const READING: u64 = 3;
const ROUND_BITS: u32 = 30;
const ROUND_MASK: u64 = (1 << ROUND_BITS) - 1;

/// A cell whose producer gave up after taking it (its message failed to serialize): consumers
/// skip it.
pub(super) const ABANDONED: u64 = u64::MAX;

/// How many processes may be registered as producers of one queue at once.
pub const MAX_SHM_PRODUCERS: usize = 128;

pub(super) fn word(round: u64, kind: u64, pid: u32) -> u64 {
    (round & ROUND_MASK) << 34 | kind << 32 | u64::from(pid)
}
pub(super) fn kind_of(w: u64) -> u64 {
    (w >> 32) & 3
}
pub(super) fn round_of(w: u64) -> u64 {
    w >> 34
}
pub(super) fn pid_of(w: u64) -> u32 {
    w as u32
}

/// A futex word to sleep on, and how many sleep on it (so that the other side makes the wake-up
/// system call only when someone sleeps).
#[repr(C)]
pub(super) struct Bell {
    pub(super) epoch: AtomicU32,
    pub(super) sleepers: AtomicU32,
    /// 1 + the CPU the last process to ring this bell ran on (0: nobody has rung it yet).
    ringer_cpu: AtomicU32,
}

impl Bell {
    /// After publishing a change: wake the sleepers, if any. The fence pairs with the one in
    /// `Waiter::sleep` (Dekker's pattern): either the sleeper sees our change before it sleeps,
    /// or we see it counted and bump the epoch, which makes its `FUTEX_WAIT` return at once.
    pub(super) fn ring(&self) {
        // Written only when it changes: a store to this shared line on every message would
        // cost the waiter, which reads it, a cache miss each time.
        let cpu = current_cpu();
        if self.ringer_cpu.load(Ordering::Relaxed) != cpu {
            self.ringer_cpu.store(cpu, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.epoch.fetch_add(1, Ordering::SeqCst);
            futex::wake(&self.epoch, u32::MAX);
        }
    }
}

impl Bell {
    /// Whether spinning can bring the next ring any sooner: not when the process that rang last
    /// (the one we most likely wait for) ran on *our* CPU. Then it cannot run while we spin,
    /// and every spin only delays it: better to yield or sleep at once. Across CPUs, spinning
    /// sees the ring a few hundred nanoseconds after it happens instead of a wake-up later.
    /// A hint, not a promise (the other process may have moved since): being wrong costs time,
    /// never a lost message.
    pub(super) fn ringer_elsewhere(&self) -> bool {
        let last = self.ringer_cpu.load(Ordering::Relaxed);
        last == 0 || last != current_cpu()
    }
}

/// 1 + the CPU this thread runs on now (0 if unknown). `sched_getcpu` is a read of the
/// kernel's per-thread `rseq` area in current glibc, not a system call.
fn current_cpu() -> u32 {
    nix::sched::sched_getcpu().map_or(0, |c| c as u32 + 1)
}

/// Rarely written bookkeeping, on its own cache line.
#[repr(C)]
pub(super) struct Rare {
    /// Processes that have put at least once (0: nobody yet, so an empty queue is not
    /// disconnected, only waiting).
    pub(super) producers_seen: AtomicU32,
    /// Messages whose producer was killed while writing them (dropped, never delivered).
    pub(super) torn: AtomicU64,
    /// Messages taken by a consumer that was killed before it finished copying them out.
    pub(super) lost: AtomicU64,
    /// How many of `lost` a `get` has already reported as `Corrupted`.
    pub(super) lost_reported: AtomicU64,
    pub(super) abandoned: AtomicU64,
}

/// The start of the shared region. All atomics: valid when zero-filled, which a new region is.
#[repr(C)]
pub(super) struct Header {
    /// Next position a producer takes.
    pub(super) tail: CachePadded<AtomicU64>,
    /// Next position a consumer takes.
    pub(super) head: CachePadded<AtomicU64>,
    /// Consumers sleep here, waiting for a message.
    pub(super) items: CachePadded<Bell>,
    /// Producers sleep here, waiting for a free cell.
    pub(super) space: CachePadded<Bell>,
    pub(super) rare: CachePadded<Rare>,
    /// The pids of the registered producers (0: a free entry).
    pub(super) producers: [AtomicU32; MAX_SHM_PRODUCERS],
}

/// The head of every cell; the message's bytes follow it.
#[repr(C)]
pub(super) struct CellHead {
    pub(super) state: AtomicU64,
    /// Bytes of the message, or `ABANDONED`.
    pub(super) len: AtomicU64,
}

const CELL_HEAD: usize = 64;
/// The largest mapping a queue may ask for (capacity × cell size): the same bound as every
/// other shared region, [`MAX_SHARED_BYTES`](crate::MAX_SHARED_BYTES) (1 GiB).
pub const MAX_SHM_BYTES: usize = crate::MAX_SHARED_BYTES;

/// The geometry of one queue's mapping (the same numbers in every process).
#[derive(Debug)]
pub(super) struct Ring {
    region: SharedRegion,
    mask: u64,
    shift: u32,
    slot_size: usize,
    stride: usize,
    cells_off: usize,
}

/// A cell taken by this process: its position and where it is.
pub(super) struct CellClaim {
    pub(super) pos: u64,
    pub(super) cell: *const CellHead,
    pub(super) data: *mut u8,
}

/// Why a cell could not be taken right now.
#[derive(Debug, Clone, Copy)]
pub(super) enum Busy {
    /// Consumer: nothing at `head` yet.
    Empty,
    /// Consumer: the message at `head` is being written by `pid`.
    Writing { pid: u32, pos: u64 },
    /// Producer: the cell at `tail` still holds the previous round (`reader`: the pid copying
    /// it out, if one is).
    Full { reader: Option<u32>, pos: u64 },
}

impl Ring {
    /// `capacity` cells (rounded up to a power of two) of `slot_size` bytes each.
    pub(super) fn new(capacity: usize, slot_size: usize) -> Result<Ring, Error> {
        let bad = |why: String| Err(Error::InvalidArgument(why));
        if capacity == 0 {
            return bad("a queue needs a capacity of at least 1 message".into());
        }
        if slot_size == 0 {
            return bad("a queue needs a maximum message size of at least 1 byte".into());
        }
        let cap = capacity
            .checked_next_power_of_two()
            .filter(|&c| c as u64 <= 1 << 24);
        let stride = slot_size
            .checked_add(CELL_HEAD + 63)
            .map(|s| align_up(s - 63, 64));
        let cells_off = align_up(size_of::<Header>(), 128);
        let total = cap
            .zip(stride)
            .and_then(|(c, s)| c.checked_mul(s))
            .and_then(|t| t.checked_add(cells_off))
            .filter(|&t| t <= MAX_SHM_BYTES);
        let (Some(cap), Some(stride), Some(total)) = (cap, stride, total) else {
            return bad(format!(
                "{capacity} messages of {slot_size} bytes need more than the {MAX_SHM_BYTES} bytes \
                 of shared memory a queue may map"
            ));
        };
        let region = SharedRegion::new("coord-shm-queue", total)?;
        Ok(Ring {
            region,
            mask: cap as u64 - 1,
            shift: cap.trailing_zeros(),
            slot_size,
            stride,
            cells_off,
        })
    }

    pub(super) fn capacity(&self) -> usize {
        self.mask as usize + 1
    }

    pub(super) fn slot_size(&self) -> usize {
        self.slot_size
    }

    pub(super) fn header(&self) -> &Header {
        // SAFETY: the region starts with room for a Header (see `new`), page-aligned, mapped
        // while `self` lives; Header is all atomics, valid when zero-filled, and shared
        // memory is only ever touched through them.
        unsafe { &*(self.region.ptr() as *const Header) }
    }

    fn cell(&self, pos: u64) -> (&CellHead, *mut u8) {
        let off = self.cells_off + (pos & self.mask) as usize * self.stride;
        // SAFETY: `pos & mask < capacity`, so `off + stride <= total`: inside the mapping, and
        // 64-aligned (cells_off and stride are multiples of 64). The head is atomics only.
        unsafe {
            let p = self.region.ptr().add(off);
            (&*(p as *const CellHead), p.add(CELL_HEAD))
        }
    }

    fn round(&self, pos: u64) -> u64 {
        (pos >> self.shift) & ROUND_MASK
    }

    /// A producer's one attempt to take the cell at `tail`.
    pub(super) fn try_claim_write(&self, me: u32) -> Result<CellClaim, Busy> {
        let h = self.header();
        loop {
            let pos = h.tail.load(Ordering::Acquire);
            let (cell, data) = self.cell(pos);
            let s = cell.state.load(Ordering::Acquire);
            let r = self.round(pos);
            if s == word(r, EMPTY, 0) {
                if cell
                    .state
                    .compare_exchange(s, word(r, WRITING, me), Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    // The cell is ours; move `tail` on (another producer may have done it).
                    let _ = h
                        .tail
                        .compare_exchange(pos, pos + 1, Ordering::AcqRel, Ordering::Relaxed);
                    return Ok(CellClaim { pos, cell, data });
                }
                continue;
            }
            let sr = round_of(s);
            if sr == r.wrapping_sub(1) & ROUND_MASK {
                // The previous round's message is still there: the ring is full.
                let reader = (kind_of(s) == READING).then(|| pid_of(s));
                return Err(Busy::Full { reader, pos });
            }
            if sr == r || sr == (r + 1) & ROUND_MASK {
                // `pos` was taken (its cell is in this round or already past it): help `tail` on.
                let _ = h
                    .tail
                    .compare_exchange(pos, pos + 1, Ordering::AcqRel, Ordering::Relaxed);
            }
            std::hint::spin_loop();
        }
    }

    /// A consumer's one attempt to take the message at `head`.
    pub(super) fn try_claim_read(&self, me: u32) -> Result<CellClaim, Busy> {
        let h = self.header();
        loop {
            let pos = h.head.load(Ordering::Acquire);
            let (cell, data) = self.cell(pos);
            let s = cell.state.load(Ordering::Acquire);
            let r = self.round(pos);
            if s == word(r, FULL, 0) {
                if cell
                    .state
                    .compare_exchange(s, word(r, READING, me), Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    let _ = h
                        .head
                        .compare_exchange(pos, pos + 1, Ordering::AcqRel, Ordering::Relaxed);
                    return Ok(CellClaim { pos, cell, data });
                }
                continue;
            }
            let sr = round_of(s);
            if (sr == r && kind_of(s) == READING) || sr == (r + 1) & ROUND_MASK {
                // Another consumer took `pos`: help `head` on.
                let _ = h
                    .head
                    .compare_exchange(pos, pos + 1, Ordering::AcqRel, Ordering::Relaxed);
            } else if sr == r && kind_of(s) == WRITING {
                return Err(Busy::Writing { pid: pid_of(s), pos });
            } else if sr == r || sr == r.wrapping_sub(1) & ROUND_MASK {
                // EMPTY(r): no producer has taken `pos`; or the previous round's message is
                // still being copied out. Either way nothing is ready for us.
                return Err(Busy::Empty);
            }
            std::hint::spin_loop();
        }
    }

    /// Whether a consumer would find something at `head` (a re-check before sleeping).
    pub(super) fn readable(&self) -> bool {
        let pos = self.header().head.load(Ordering::Acquire);
        let s = self.cell(pos).0.state.load(Ordering::Acquire);
        let (r, sr, k) = (self.round(pos), round_of(s), kind_of(s));
        let nothing = (sr == r && (k == EMPTY || k == WRITING)) || sr == r.wrapping_sub(1) & ROUND_MASK;
        !nothing
    }

    /// Whether a producer would find a free cell at `tail`.
    pub(super) fn writable(&self) -> bool {
        let pos = self.header().tail.load(Ordering::Acquire);
        let s = self.cell(pos).0.state.load(Ordering::Acquire);
        round_of(s) != self.round(pos).wrapping_sub(1) & ROUND_MASK
    }

    /// Publishes a written cell (`len` bytes, or `ABANDONED`) and wakes sleeping consumers.
    pub(super) fn publish(&self, c: CellClaim, len: u64) {
        // SAFETY (of the deref): `c.cell` points into the mapping `self` keeps alive.
        let cell = unsafe { &*c.cell };
        cell.len.store(len, Ordering::Relaxed);
        cell.state
            .store(word(self.round(c.pos), FULL, 0), Ordering::Release);
        self.header().items.ring();
    }

    /// The bytes of a taken message (`None`: an abandoned cell).
    ///
    /// # Safety
    /// `c` must be a cell this process holds in `READING`: until `release`, no other process
    /// writes it.
    pub(super) unsafe fn message(&self, c: &CellClaim) -> Option<&[u8]> {
        // SAFETY: `c.cell` points into the mapping `self` keeps alive (the caller's contract).
        let cell = unsafe { &*c.cell };
        let len = cell.len.load(Ordering::Relaxed);
        if len == ABANDONED {
            return None;
        }
        let len = (len as usize).min(self.slot_size);
        // SAFETY: `c.data` points at this cell's `slot_size` bytes, which no other process
        // writes while we hold the cell in READING (the caller's contract), and `len` was just
        // clamped to `slot_size`.
        Some(unsafe { std::slice::from_raw_parts(c.data, len) })
    }

    /// Frees a read cell for the next round and wakes sleeping producers.
    pub(super) fn release(&self, c: CellClaim) {
        // SAFETY: as in `publish`.
        let cell = unsafe { &*c.cell };
        cell.state
            .store(word(self.round(c.pos) + 1, EMPTY, 0), Ordering::Release);
        self.header().space.ring();
    }

    /// Consumer side: the producer `pid` died while writing position `pos`. Frees the cell
    /// (its half-written bytes are never read) and moves `head` past it. `true` if this call
    /// did it (and must report it), `false` if another process did first.
    pub(super) fn reap_writer(&self, pid: u32, pos: u64) -> bool {
        let (cell, _) = self.cell(pos);
        let r = self.round(pos);
        let done = cell
            .state
            .compare_exchange(
                word(r, WRITING, pid),
                word(r + 1, EMPTY, 0),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        if done {
            let h = self.header();
            h.rare.torn.fetch_add(1, Ordering::Relaxed);
            let _ = h
                .head
                .compare_exchange(pos, pos + 1, Ordering::AcqRel, Ordering::Relaxed);
            h.space.ring();
        }
        done
    }

    /// Producer side: the consumer `pid` died while copying out the message of the previous
    /// round in the cell of `pos`. Frees the cell; the message is counted as lost, and the
    /// next `get` reports it.
    pub(super) fn reap_reader(&self, pid: u32, pos: u64) -> bool {
        let (cell, _) = self.cell(pos);
        let r = self.round(pos);
        let done = cell
            .state
            .compare_exchange(
                word(r.wrapping_sub(1), READING, pid),
                word(r, EMPTY, 0),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        if done {
            self.header().rare.lost.fetch_add(1, Ordering::Relaxed);
        }
        done
    }
}

#[cfg(test)]
mod bell_tests {
    use super::*;
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;

    /// Runs `f` in a new thread pinned to `cpu` (a thread of its own, so that pinning it does
    /// not pin the test harness).
    fn on_cpu<R: Send>(cpu: usize, f: impl FnOnce() -> R + Send) -> R {
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut one = CpuSet::new();
                one.set(cpu).unwrap();
                sched_setaffinity(Pid::from_raw(0), &one).unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// A waiter spins only when the last ringer ran on another CPU: rung from our own CPU, it
    /// must not (the ringer cannot run while we spin); rung from another, it may; never rung,
    /// it may.
    #[test]
    fn spinning_is_for_a_ringer_on_another_cpu() {
        let all = sched_getaffinity(Pid::from_raw(0)).unwrap();
        let cpus: Vec<usize> = (0..CpuSet::count()).filter(|&i| all.is_set(i).unwrap()).collect();
        let bell = Bell {
            epoch: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            ringer_cpu: AtomicU32::new(0),
        };
        on_cpu(cpus[0], || {
            assert!(bell.ringer_elsewhere(), "nobody has rung yet")
        });
        on_cpu(cpus[0], || bell.ring());
        on_cpu(cpus[0], || {
            assert!(!bell.ringer_elsewhere(), "rung from this CPU")
        });
        if let Some(&other) = cpus.get(1) {
            on_cpu(other, || {
                assert!(bell.ringer_elsewhere(), "rung from CPU {}", cpus[0])
            });
            on_cpu(other, || bell.ring());
            on_cpu(cpus[0], || {
                assert!(bell.ringer_elsewhere(), "rung from CPU {other}")
            });
            on_cpu(other, || assert!(!bell.ringer_elsewhere(), "rung from this CPU"));
        }
    }
}
