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
        Some(unsafe { std::slice::from_raw_parts_mut(addr.add(usize::from(off)), usize::from(len)) })
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

/// Up to `BURST_SIZE` owned mbufs. Its storage is exactly a C array of
/// `rte_mbuf*` (`Option<Mbuf>` is a nullable pointer), so RX writes into it
/// and TX reads from it directly. Whatever is left in it when dropped or
/// cleared is freed.
#[derive(Debug)]
pub struct Burst {
    slots: [Option<Mbuf>; BURST_SIZE],
    len: usize,
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| None),
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
        self.slots[self.len] = Some(m);
        self.len += 1;
        Ok(())
    }

    /// The packet at `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Mbuf> {
        self.slots[..self.len].get(i).and_then(Option::as_ref)
    }

    /// The packets, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Mbuf> {
        self.slots[..self.len].iter().flatten()
    }

    /// Moves every packet out, in order, leaving the burst empty (packets
    /// not taken from the iterator are freed when it is dropped).
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let n = std::mem::replace(&mut self.len, 0);
        Drain {
            slots: &mut self.slots[..n],
            next: 0,
        }
    }

    /// Frees every packet.
    pub fn clear(&mut self) {
        self.drain().for_each(drop);
    }

    /// Total bytes of the packets.
    pub fn bytes(&self) -> u64 {
        self.iter().map(|m| u64::from(m.pkt_len())).sum()
    }

    /// The array as `rte_mbuf**` for a driver to fill: only for an empty
    /// burst, which `set_len_after_rx` then accepts.
    #[inline]
    pub(crate) fn rx_ptr(&mut self) -> *mut *mut sfc_ffi::rte_mbuf {
        // Slots at and past `len` are always empty (see Drain), and RX is
        // only given an empty burst by the port.
        debug_assert!(self.len == 0);
        self.slots.as_mut_ptr().cast()
    }

    /// After the driver wrote `n` mbufs through `rx_ptr`.
    ///
    /// # Safety
    /// The first `n` slots now hold mbufs the caller owns.
    #[inline]
    pub(crate) unsafe fn set_len_after_rx(&mut self, n: usize) {
        self.len = n.min(BURST_SIZE);
    }

    /// The first `len` packets as `rte_mbuf**` for tx_burst.
    #[inline]
    pub(crate) fn tx_ptr(&mut self, from: usize) -> *mut *mut sfc_ffi::rte_mbuf {
        self.slots[from..].as_mut_ptr().cast()
    }

    /// Forgets slots `from..from+n`: the driver took them.
    #[inline]
    pub(crate) fn forget_sent(&mut self, from: usize, n: usize) {
        for slot in &mut self.slots[from..from + n] {
            if let Some(m) = slot.take() {
                let _ = m.into_raw();
            }
        }
    }

    /// Frees slots `from..len` and empties the burst; returns how many.
    #[inline]
    pub(crate) fn free_from(&mut self, from: usize) -> usize {
        let n = self.len.saturating_sub(from);
        for slot in &mut self.slots[from..self.len] {
            drop(slot.take());
        }
        self.len = 0;
        n
    }
}

/// Iterator of [`Burst::drain`]. Keeps the invariant that slots past `len`
/// are empty, so the next RX never overwrites (leaks) a packet.
#[derive(Debug)]
pub struct Drain<'a> {
    slots: &'a mut [Option<Mbuf>],
    next: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        let slot = self.slots.get_mut(self.next)?;
        self.next += 1;
        slot.take()
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for slot in &mut self.slots[self.next..] {
            drop(slot.take());
        }
    }
}
