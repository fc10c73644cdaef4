//! Anonymous shared memory: the one place that creates mappings.
//!
//! `memmap2`'s own anonymous maps are `MAP_PRIVATE` (a forked child writes its own copy), so
//! every shared region here is a `memfd` mapped `MAP_SHARED` through [`memmap2::MmapRaw`].
//! The fd is closed right after mapping: the mapping keeps the memory alive, and no child
//! inherits a stray descriptor.

use std::ffi::CString;
use std::fs::File;
use std::io;

use memmap2::{MmapOptions, MmapRaw};
use nix::sys::memfd::{MFdFlags, memfd_create};

/// A zero-filled `MAP_SHARED` region, visible to every process forked after it was made.
///
/// Only raw pointers come out of it: two processes write it at once, so no `&mut` to its
/// bytes may ever exist.
#[derive(Debug)]
pub(crate) struct SharedRegion {
    map: MmapRaw,
}

impl SharedRegion {
    /// Maps `len` zeroed bytes. `name` shows up in `/proc/<pid>/maps` as `memfd:<name>`.
    pub(crate) fn new(name: &str, len: usize) -> io::Result<Self> {
        let name = CString::new(name).map_err(io::Error::other)?;
        let fd = memfd_create(name.as_c_str(), MFdFlags::MFD_CLOEXEC)?;
        let file = File::from(fd);
        file.set_len(len.max(1) as u64)?;
        let map = MmapOptions::new().len(len.max(1)).map_raw(&file)?;
        Ok(SharedRegion { map })
    }

    /// Start of the region; page-aligned, so any type's alignment is met at offset 0.
    #[inline]
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Rounds `off` up to a multiple of `align` (a power of two).
pub(crate) const fn align_up(off: usize, align: usize) -> usize {
    (off + align - 1) & !(align - 1)
}
