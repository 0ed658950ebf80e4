//! Packet buffer pools.

use std::ffi::CString;
use std::ptr::NonNull;

use super::error::{rte_errno, strerror, DpdkError, Result};
use super::mbuf::{Burst, Mbuf, BURST_SIZE};

/// An mbuf pool (`rte_pktmbuf_pool_create`). Ports and queues hold it in an
/// `Arc`, so it outlives every mbuf the drivers can hand back.
#[derive(Debug)]
pub struct Mempool {
    ptr: NonNull<sfc_ffi::rte_mempool>,
    name: String,
}

// SAFETY: a DPDK mempool is a thread-safe object (lock-free ring plus
// per-lcore caches); the handle only exposes operations DPDK allows from
// any thread.
unsafe impl Send for Mempool {}
// SAFETY: as above: every method is safe to call concurrently.
unsafe impl Sync for Mempool {}

/// Room for a 9216-byte MTU frame plus tags in one segment, and headroom.
pub const JUMBO_DATA_ROOM: u16 = 9216 + 64 + 128;
/// DPDK's default (2048 + headroom).
pub const DEFAULT_DATA_ROOM: u16 = 2048 + 128;

impl Mempool {
    /// A pool of `n` mbufs with `data_room` bytes each (headroom included)
    /// and a per-lcore cache of `cache` mbufs.
    pub fn new(name: &str, n: u32, cache: u32, data_room: u16) -> Result<Self> {
        let err = |errno: i32| DpdkError::Mempool {
            name: name.to_owned(),
            op: "create",
            errno,
            msg: strerror(errno),
        };
        let cname = CString::new(name).map_err(|_| err(22))?;
        // SAFETY: cname is a valid C string for the call; the returned pool
        // is owned by this handle and freed once in Drop.
        let ptr = unsafe {
            sfc_ffi::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                data_room,
                sfc_ffi::rte_socket_id() as i32,
            )
        };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Self {
                ptr,
                name: name.to_owned(),
            }),
            None => Err(err(rte_errno())),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn as_ptr(&self) -> *mut sfc_ffi::rte_mempool {
        self.ptr.as_ptr()
    }

    /// Mbufs currently taken from the pool (by drivers, queues or us).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid for the life of self.
        unsafe { sfc_ffi::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    /// Mbufs free in the pool (ring and caches).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid for the life of self.
        unsafe { sfc_ffi::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// One mbuf, reset, or `None` when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is valid; a non-null result is a fresh mbuf with
        // refcount 1 whose ownership passes to the Mbuf.
        unsafe { Mbuf::from_raw(sfc_ffi::rte_pktmbuf_alloc(self.ptr.as_ptr())) }
    }

    /// Fills `burst` (emptied first) with `n` fresh mbufs (at most
    /// `BURST_SIZE`) in one call; false, and an empty burst, when the pool
    /// has fewer than `n` free.
    pub fn alloc_bulk(&self, burst: &mut Burst, n: usize) -> bool {
        burst.clear();
        let n = n.min(BURST_SIZE);
        if n == 0 {
            return true;
        }
        // SAFETY: the pool is valid; the burst's array has BURST_SIZE >= n
        // empty slots; on success (0) all n are fresh mbufs (refcount 1)
        // that the burst now owns, on failure none was taken.
        let ret =
            unsafe { sfc_ffi::rte_pktmbuf_alloc_bulk(self.ptr.as_ptr(), burst.rx_ptr(), n as u32) };
        if ret != 0 {
            return false;
        }
        // SAFETY: the first n slots hold owned mbufs (above).
        unsafe { burst.set_len_after_rx(n) };
        true
    }

    /// An mbuf holding a copy of `bytes` (for generators and tests).
    pub fn alloc_with(&self, bytes: &[u8]) -> Option<Mbuf> {
        let mut m = self.alloc()?;
        m.append(bytes).then_some(m)
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool was created by this handle and every user holds
        // the handle (Arc), so none is left.
        unsafe { sfc_ffi::rte_mempool_free(self.ptr.as_ptr()) }
    }
}
