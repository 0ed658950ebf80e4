//! `Mbuf`: one owned packet buffer, and `Burst`: up to `BURST_SIZE` of them
//! in the exact layout `rte_eth_rx_burst`/`tx_burst` use.

use std::ptr::NonNull;

/// Packets per RX poll and per TX call.
pub const BURST_SIZE: usize = 32;

/// One packet buffer. Dropping it returns it to its pool (or drops one
/// reference when it was shared).
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<sfc_ffi::rte_mbuf>);

// SAFETY: an mbuf is plain memory owned by this value; DPDK allows freeing
// it from any thread (refcounts are atomic in this build).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf (`None` for null).
    ///
    /// # Safety
    /// `p` is null or an mbuf that nothing else will free or use.
    pub(crate) unsafe fn from_raw(p: *mut sfc_ffi::rte_mbuf) -> Option<Self> {
        NonNull::new(p).map(Mbuf)
    }

    #[inline]
    fn raw(&self) -> &sfc_ffi::rte_mbuf {
        // SAFETY: self owns a valid mbuf for its whole life.
        unsafe { self.0.as_ref() }
    }

    /// Length of the whole packet (all segments).
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// Length of the first segment.
    #[inline]
    pub fn data_len(&self) -> u16 {
        self.raw().data_len
    }

    /// Number of references (1 unless shared for a flood).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: valid mbuf.
        unsafe { sfc_ffi::rte_mbuf_refcnt_read(self.0.as_ptr()) }
    }

    /// The first segment's bytes (the whole frame for single-segment mbufs,
    /// always at least the headers the switch reads).
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the buffer
        // the mbuf owns, which lives as long as self; nobody writes it while
        // shared (data_mut requires refcnt 1).
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// The first segment's bytes, writable, only if this is the sole owner.
    pub fn data_mut(&mut self) -> Option<&mut [u8]> {
        if self.refcnt() != 1 {
            return None;
        }
        let m = self.raw();
        let (addr, off, len) = (m.buf_addr as *mut u8, m.data_off, m.data_len);
        // SAFETY: as in `data`, and refcnt 1 plus &mut self means no other
        // reader exists.
        Some(unsafe {
            std::slice::from_raw_parts_mut(addr.add(usize::from(off)), usize::from(len))
        })
    }

    /// Appends `bytes` to the packet; false if there is no tailroom.
    pub fn append(&mut self, bytes: &[u8]) -> bool {
        let Ok(len) = u16::try_from(bytes.len()) else {
            return false;
        };
        if self.refcnt() != 1 {
            return false;
        }
        // SAFETY: rte_pktmbuf_append returns null or a pointer to `len`
        // fresh bytes inside this (solely owned) buffer.
        unsafe {
            let p = sfc_ffi::rte_pktmbuf_append(self.0.as_ptr(), len);
            if p.is_null() {
                return false;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p as *mut u8, bytes.len());
        }
        true
    }

    /// Appends `bytes` and returns the packet's first segment writable
    /// (one refcount check for both): how a generator fills a fresh mbuf
    /// and then stamps it. `None` if shared or out of tailroom.
    #[inline]
    pub fn append_mut(&mut self, bytes: &[u8]) -> Option<&mut [u8]> {
        let len = u16::try_from(bytes.len()).ok()?;
        if self.refcnt() != 1 {
            return None;
        }
        // SAFETY: rte_pktmbuf_append returns null or a pointer to `len`
        // fresh bytes inside this solely owned buffer; the returned slice
        // covers data_off..data_off+data_len of that buffer, borrowed from
        // &mut self, so no other reader or writer exists while it lives.
        unsafe {
            let p = sfc_ffi::rte_pktmbuf_append(self.0.as_ptr(), len);
            if p.is_null() {
                return None;
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p as *mut u8, bytes.len());
            let m = self.0.as_ref();
            Some(std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(usize::from(m.data_off)),
                usize::from(m.data_len),
            ))
        }
    }

    /// One more owner of the same buffer (refcount + 1): how a flood sends
    /// one packet to several ports without copying it.
    #[inline]
    pub fn share(&self) -> Mbuf {
        // SAFETY: adds a reference that the returned Mbuf owns and releases
        // on drop; the buffer stays valid until the last reference goes.
        unsafe {
            sfc_ffi::rte_mbuf_refcnt_update(self.0.as_ptr(), 1);
        }
        Mbuf(self.0)
    }

    /// Gives up ownership (the driver takes it).
    #[inline]
    pub(crate) fn into_raw(self) -> *mut sfc_ffi::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: self owns one reference to a valid mbuf and is going away.
        unsafe { sfc_ffi::rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

/// Up to `BURST_SIZE` owned mbufs, stored as the C array of `rte_mbuf*`
/// that `rte_eth_rx_burst`/`tx_burst` read and write directly. Slots
/// `0..len` are owned (non-null) mbufs; the rest are dead storage. Whatever
/// is still in it when dropped or cleared is freed.
pub struct Burst {
    slots: [*mut sfc_ffi::rte_mbuf; BURST_SIZE],
    len: usize,
}

// SAFETY: the burst owns its mbufs like a Vec<Mbuf> would (Mbuf is Send).
unsafe impl Send for Burst {}

impl std::fmt::Debug for Burst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Burst").field("len", &self.len).finish()
    }
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub fn new() -> Self {
        Self {
            slots: [std::ptr::null_mut(); BURST_SIZE],
            len: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BURST_SIZE
    }

    /// Adds a packet; gives it back when full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST_SIZE {
            return Err(m);
        }
        self.slots[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }

    /// The packets, as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: slots 0..len hold owned non-null mbuf pointers, and Mbuf
        // is a repr(transparent) NonNull<rte_mbuf>: same layout.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<Mbuf>(), self.len) }
    }

    /// The packets, mutable (e.g. to fill mbufs from [`Mempool::alloc_bulk`]).
    ///
    /// [`Mempool::alloc_bulk`]: super::Mempool::alloc_bulk
    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Mbuf> {
        // SAFETY: as in `as_slice`; &mut self makes the access exclusive and
        // an Mbuf can only be changed in place, not replaced by a non-owned
        // pointer, through &mut Mbuf (its field is private).
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr().cast::<Mbuf>(), self.len) }
            .iter_mut()
    }

    /// The packet at `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Mbuf> {
        self.as_slice().get(i)
    }

    /// The packets, in order.
    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, Mbuf> {
        self.as_slice().iter()
    }

    /// Moves every packet out, in order, leaving the burst empty (packets
    /// not taken from the iterator are freed when it is dropped).
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let n = std::mem::replace(&mut self.len, 0);
        Drain {
            slots: &self.slots[..n],
            next: 0,
        }
    }

    /// Frees every packet.
    #[inline]
    pub fn clear(&mut self) {
        if self.len > 0 {
            // SAFETY: slots 0..len are owned mbufs, freed once; len is reset
            // so they are never used again.
            unsafe { sfc_ffi::rte_pktmbuf_free_bulk(self.slots.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }

    /// Total bytes of the packets.
    #[inline]
    pub fn bytes(&self) -> u64 {
        self.iter().map(|m| u64::from(m.pkt_len())).sum()
    }

    /// The array for a driver to fill (the burst must be empty).
    #[inline]
    pub(crate) fn rx_ptr(&mut self) -> *mut *mut sfc_ffi::rte_mbuf {
        debug_assert!(self.len == 0);
        self.slots.as_mut_ptr()
    }

    /// After the driver wrote `n` mbufs through `rx_ptr`.
    ///
    /// # Safety
    /// The first `n` slots now hold mbufs the caller owns.
    #[inline]
    pub(crate) unsafe fn set_len_after_rx(&mut self, n: usize) {
        self.len = n.min(BURST_SIZE);
    }

    /// Slots `from..len` as `rte_mbuf**` for tx_burst.
    #[inline]
    pub(crate) fn tx_ptr(&mut self, from: usize) -> *mut *mut sfc_ffi::rte_mbuf {
        self.slots[from..].as_mut_ptr()
    }

    /// Frees slots `from..len` and empties the burst; returns how many.
    #[inline]
    pub(crate) fn free_from(&mut self, from: usize) -> usize {
        let n = self.len.saturating_sub(from);
        if n > 0 {
            // SAFETY: slots from..len are still owned (the driver took only
            // those before `from`); each is freed once and len reset.
            unsafe { sfc_ffi::rte_pktmbuf_free_bulk(self.slots[from..].as_mut_ptr(), n as u32) };
        }
        self.len = 0;
        n
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Iterator of [`Burst::drain`]: hands out the packets one by one and frees
/// those not taken when dropped, so nothing leaks or is freed twice.
#[derive(Debug)]
pub struct Drain<'a> {
    slots: &'a [*mut sfc_ffi::rte_mbuf],
    next: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        let p = *self.slots.get(self.next)?;
        self.next += 1;
        // SAFETY: each owned slot is turned into an Mbuf exactly once (the
        // burst's len was reset to 0 when the Drain was made).
        unsafe { Mbuf::from_raw(p) }
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for &p in &self.slots[self.next..] {
            // SAFETY: slots not handed out are still owned; freed once.
            unsafe { sfc_ffi::rte_pktmbuf_free(p) };
        }
    }
}
