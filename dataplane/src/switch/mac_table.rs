//! The MAC table of one learning switch: a fixed-size, lock-free hash table
//! that workers read and learn into concurrently, and that the control thread
//! ages.
//!
//! Layout: buckets of eight 64-bit slots, one cache line each. A slot packs
//! the MAC (low 48 bits) and `port + 1` (high 16 bits), so a lookup is a
//! single load per slot and an empty slot is plain `0`. Each key may live in
//! one of two buckets (two independent hashes); inserts go to the first empty
//! slot of the first bucket with room, so the table stays usable up to its
//! full capacity. Last-seen times live in a separate array so that lookups
//! never touch them.
//!
//! Concurrency: every slot is an `AtomicU64`; learning is a CAS, a MAC move
//! is a CAS from the old packed value to the new one, aging is a CAS to 0.
//! Two workers learning the same new MAC at the same instant usually race
//! for the same first empty slot of the same (emptier) bucket, so the loser
//! sees the winner's entry on its re-scan. If they saw different bucket
//! fill levels (or scanned before the other's insert landed) they may
//! insert one copy each: after every insert the learner looks for other
//! copies (sequentially consistent, so of two such learners at least one
//! sees the other's) and only the first copy in lookup order stays.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};

use super::{MacAddr, PortId, Tick};

const SLOTS: usize = 8;
const MAC_MASK: u64 = 0xffff_ffff_ffff;

#[repr(align(64))]
struct Bucket([AtomicU64; SLOTS]);

#[repr(align(32))]
struct Seen([AtomicU32; SLOTS]);

/// What learning one source MAC did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// The MAC was already known on this port; its idle timer restarted.
    Refreshed,
    /// A new entry.
    New,
    /// The MAC was known on another port and now points here.
    Moved { from: PortId },
    /// The table is at capacity: nothing learned (the frame still floods).
    Full,
}

/// One entry, as the control thread sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    pub mac: MacAddr,
    pub port: PortId,
    pub last_seen: Tick,
}

/// A bounded, lock-free MAC -> port table.
pub struct MacTable {
    buckets: Box<[Bucket]>,
    seen: Box<[Seen]>,
    bucket_mask: usize,
    len: AtomicUsize,
    capacity: usize,
}

impl std::fmt::Debug for MacTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacTable")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[inline]
fn pack(mac: MacAddr, port: PortId) -> u64 {
    (mac.0 & MAC_MASK) | ((u64::from(port) + 1) << 48)
}

#[inline]
fn unpack_port(slot: u64) -> PortId {
    // Occupied slots always carry port + 1 >= 1 in the top 16 bits.
    ((slot >> 48) as u16).wrapping_sub(1)
}

impl MacTable {
    /// A table that holds at most `capacity` MACs. Buckets are sized for a
    /// load of at most 50% so the two-choice insert practically never finds
    /// both buckets full before the table is.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let buckets = (capacity * 2).div_ceil(SLOTS).next_power_of_two().max(2);
        let buckets_vec: Vec<Bucket> = (0..buckets)
            .map(|_| Bucket(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        let seen_vec: Vec<Seen> = (0..buckets)
            .map(|_| Seen(std::array::from_fn(|_| AtomicU32::new(0))))
            .collect();
        Self {
            buckets: buckets_vec.into_boxed_slice(),
            seen: seen_vec.into_boxed_slice(),
            bucket_mask: buckets - 1,
            len: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Maximum number of entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Current number of entries.
    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The two candidate buckets of a MAC (Fibonacci hashing, two odd
    /// multipliers; the second is forced to differ from the first).
    #[inline]
    fn buckets_of(&self, mac: MacAddr) -> (usize, usize) {
        let m = mac.0 & MAC_MASK;
        let b1 = (m.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.bucket_mask;
        let mut b2 = (m.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 32) as usize & self.bucket_mask;
        if b2 == b1 {
            b2 ^= 1;
        }
        (b1, b2)
    }

    #[inline]
    fn find_in(&self, b: usize, mac: u64) -> Option<(usize, u64)> {
        let bucket = &self.buckets[b].0;
        for (i, slot) in bucket.iter().enumerate() {
            let v = slot.load(Relaxed);
            if v != 0 && v & MAC_MASK == mac {
                return Some((i, v));
            }
        }
        None
    }

    #[inline]
    fn find(&self, mac: MacAddr) -> Option<(usize, usize, u64)> {
        let m = mac.0 & MAC_MASK;
        let (b1, b2) = self.buckets_of(mac);
        if let Some((i, v)) = self.find_in(b1, m) {
            return Some((b1, i, v));
        }
        self.find_in(b2, m).map(|(i, v)| (b2, i, v))
    }

    /// The port a MAC was learned on. Inlined and minimal: one masked
    /// compare per slot (an empty slot is 0, which only MAC 0 could match,
    /// so MAC 0 takes the careful path).
    #[inline]
    pub fn lookup(&self, mac: MacAddr) -> Option<PortId> {
        let m = mac.0 & MAC_MASK;
        if m == 0 {
            return self.find(mac).map(|(_, _, v)| unpack_port(v));
        }
        let (b1, b2) = self.buckets_of(mac);
        for b in [b1, b2] {
            for slot in &self.buckets[b].0 {
                let v = slot.load(Relaxed);
                if v & MAC_MASK == m {
                    return Some(unpack_port(v));
                }
            }
        }
        None
    }

    /// Hints the CPU to bring a MAC's two buckets into cache; used by the
    /// batch lookup so that the misses of a burst overlap (a miss reads
    /// both buckets).
    #[inline]
    pub fn prefetch(&self, mac: MacAddr) {
        let (b1, b2) = self.buckets_of(mac);
        prefetch_line(&self.buckets[b1]);
        prefetch_line(&self.buckets[b2]);
    }

    /// Looks up a batch: `out[i] = lookup(macs[i])`. Prefetches every bucket
    /// first so that a burst costs about one memory latency, not 32.
    pub fn lookup_batch(&self, macs: &[MacAddr], out: &mut [Option<PortId>]) {
        for mac in macs {
            self.prefetch(*mac);
        }
        for (mac, o) in macs.iter().zip(out.iter_mut()) {
            *o = self.lookup(*mac);
        }
    }

    /// Learns `mac` on `port` at time `now` (the source MAC of a frame that
    /// entered on `port`).
    #[inline]
    pub fn learn(&self, mac: MacAddr, port: PortId, now: Tick) -> Learned {
        let want = pack(mac, port);
        // Bounded: each retry follows a CAS lost to another writer.
        for _ in 0..4 {
            if let Some((b, i, v)) = self.find(mac) {
                let seen = &self.seen[b].0[i];
                if v == want {
                    // Refresh lazily: a store per packet would bounce the
                    // line between workers.
                    if seen.load(Relaxed) != now {
                        seen.store(now, Relaxed);
                    }
                    return Learned::Refreshed;
                }
                if self.buckets[b].0[i]
                    .compare_exchange(v, want, Relaxed, Relaxed)
                    .is_ok()
                {
                    seen.store(now, Relaxed);
                    return Learned::Moved {
                        from: unpack_port(v),
                    };
                }
                continue;
            }
            if self.len.load(Relaxed) >= self.capacity {
                return Learned::Full;
            }
            // Into the emptier of the two buckets: filling one bucket before
            // the other refuses MACs long before the table is full.
            let (b1, b2) = self.buckets_of(mac);
            let (first, second) = if self.empties(b2) > self.empties(b1) {
                (b2, b1)
            } else {
                (b1, b2)
            };
            for b in [first, second] {
                match self.insert_first_empty(b, want, now) {
                    Some(Some(slot)) => {
                        self.drop_copies(mac.0 & MAC_MASK, (b1, b2), (b, slot), want);
                        return Learned::New;
                    }
                    Some(None) => break, // lost a race: re-scan
                    None if b == second => return Learned::Full,
                    None => {}
                }
            }
        }
        Learned::Full
    }

    /// After inserting `own` (value `own_v`), leaves one copy of the MAC:
    /// the first in lookup order (first bucket, then slot). A copy before
    /// ours wins and ours goes; a copy after ours goes. Each removal is a
    /// CAS, so two learners resolving at once remove at most one copy each,
    /// and sequentially consistent stores and loads mean at least one of
    /// them sees the other's copy.
    fn drop_copies(&self, mac: u64, (b1, b2): (usize, usize), own: (usize, usize), own_v: u64) {
        let order = |b: usize, i: usize| (usize::from(b != b1), i);
        let mine = order(own.0, own.1);
        for b in [b1, b2] {
            for (i, slot) in self.buckets[b].0.iter().enumerate() {
                if (b, i) == own {
                    continue;
                }
                let v = slot.load(SeqCst);
                if v == 0 || v & MAC_MASK != mac {
                    continue;
                }
                let ours_goes = order(b, i) < mine;
                let (victim, victim_v) = if ours_goes {
                    (&self.buckets[own.0].0[own.1], own_v)
                } else {
                    (slot, v)
                };
                if victim
                    .compare_exchange(victim_v, 0, SeqCst, Relaxed)
                    .is_ok()
                {
                    self.len.fetch_sub(1, Relaxed);
                }
                if ours_goes {
                    return;
                }
            }
        }
    }

    fn empties(&self, b: usize) -> usize {
        self.buckets[b]
            .0
            .iter()
            .filter(|s| s.load(Relaxed) == 0)
            .count()
    }

    /// `Some(Some(slot))` inserted, `Some(None)` lost a race (re-scan),
    /// `None` the bucket is full.
    fn insert_first_empty(&self, b: usize, want: u64, now: Tick) -> Option<Option<usize>> {
        let bucket = &self.buckets[b].0;
        let i = bucket.iter().position(|s| s.load(Relaxed) == 0)?;
        // The time goes first so that a concurrent sweep never sees the new
        // entry with a stale last-seen.
        self.seen[b].0[i].store(now, Relaxed);
        if bucket[i].compare_exchange(0, want, SeqCst, Relaxed).is_ok() {
            self.len.fetch_add(1, Relaxed);
            Some(Some(i))
        } else {
            Some(None)
        }
    }

    /// Removes entries idle for longer than `idle` ticks at time `now` and
    /// returns them. Run by the control thread, never by a worker.
    pub fn expire(&self, now: Tick, idle: Tick) -> Vec<MacEntry> {
        self.remove_where(|e| now.wrapping_sub(e.last_seen) > idle)
    }

    /// Removes every entry pointing at `port` (it left the switch).
    pub fn remove_port(&self, port: PortId) -> Vec<MacEntry> {
        self.remove_where(|e| e.port == port)
    }

    /// Removes every entry whose port fails `keep`.
    pub fn retain_ports(&self, keep: impl Fn(PortId) -> bool) -> Vec<MacEntry> {
        self.remove_where(|e| !keep(e.port))
    }

    fn remove_where(&self, remove: impl Fn(&MacEntry) -> bool) -> Vec<MacEntry> {
        let mut removed = Vec::new();
        for (b, bucket) in self.buckets.iter().enumerate() {
            for (i, slot) in bucket.0.iter().enumerate() {
                let v = slot.load(Relaxed);
                if v == 0 {
                    continue;
                }
                let entry = MacEntry {
                    mac: MacAddr(v & MAC_MASK),
                    port: unpack_port(v),
                    last_seen: self.seen[b].0[i].load(Relaxed),
                };
                // A failed CAS means a worker moved or re-learned the entry
                // meanwhile: it is fresh, keep it.
                if remove(&entry) && slot.compare_exchange(v, 0, Relaxed, Relaxed).is_ok() {
                    self.len.fetch_sub(1, Relaxed);
                    removed.push(entry);
                }
            }
        }
        removed
    }

    /// Every entry (for `sfcctl flows`).
    pub fn entries(&self) -> Vec<MacEntry> {
        let mut out = Vec::with_capacity(self.len());
        for (b, bucket) in self.buckets.iter().enumerate() {
            for (i, slot) in bucket.0.iter().enumerate() {
                let v = slot.load(Relaxed);
                if v != 0 {
                    out.push(MacEntry {
                        mac: MacAddr(v & MAC_MASK),
                        port: unpack_port(v),
                        last_seen: self.seen[b].0[i].load(Relaxed),
                    });
                }
            }
        }
        out
    }

    /// Removes everything.
    pub fn clear(&self) {
        self.remove_where(|_| true);
    }
}

/// Touches the first slot of a bucket. The load's value is unused but
/// kept alive, so the CPU issues it and goes on: the loads of a batch overlap
/// like prefetches do (the prefetch intrinsic would need `unsafe` here).
#[inline]
fn prefetch_line(b: &Bucket) {
    std::hint::black_box(b.0[0].load(Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u64) -> MacAddr {
        MacAddr(0x0200_0000_0000 | n)
    }

    #[test]
    fn learn_then_lookup_returns_the_port() {
        let t = MacTable::new(16);
        assert_eq!(t.learn(mac(1), 3, 0), Learned::New);
        assert_eq!(t.lookup(mac(1)), Some(3));
        assert_eq!(t.lookup(mac(2)), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn relearning_on_the_same_port_refreshes() {
        let t = MacTable::new(16);
        t.learn(mac(1), 3, 0);
        assert_eq!(t.learn(mac(1), 3, 5), Learned::Refreshed);
        assert_eq!(t.entries()[0].last_seen, 5);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_mac_seen_on_another_port_moves() {
        let t = MacTable::new(16);
        t.learn(mac(1), 3, 0);
        assert_eq!(t.learn(mac(1), 7, 1), Learned::Moved { from: 3 });
        assert_eq!(t.lookup(mac(1)), Some(7));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn port_zero_and_the_highest_port_round_trip() {
        let t = MacTable::new(16);
        t.learn(mac(1), 0, 0);
        t.learn(mac(2), u16::MAX - 1, 0);
        assert_eq!(t.lookup(mac(1)), Some(0));
        assert_eq!(t.lookup(mac(2)), Some(u16::MAX - 1));
    }

    #[test]
    fn a_full_table_refuses_new_macs_but_keeps_old_ones() {
        let t = MacTable::new(4);
        for i in 0..4 {
            assert_eq!(t.learn(mac(i), 1, 0), Learned::New);
        }
        assert_eq!(t.learn(mac(99), 1, 0), Learned::Full);
        assert_eq!(t.len(), 4);
        assert_eq!(t.lookup(mac(99)), None);
        assert_eq!(t.lookup(mac(3)), Some(1));
        // A known MAC may still move when the table is full.
        assert_eq!(t.learn(mac(3), 2, 0), Learned::Moved { from: 1 });
    }

    #[test]
    fn aging_removes_exactly_the_entries_idle_longer_than_the_timeout() {
        let t = MacTable::new(16);
        t.learn(mac(1), 1, 1_000);
        t.learn(mac(2), 1, 5_000);
        // At 11_000 ms with a 10_000 ms timeout: mac1 idle 10_000 (kept, not
        // *longer* than the timeout), mac2 idle 6_000.
        assert!(t.expire(11_000, 10_000).is_empty());
        let gone = t.expire(11_001, 10_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].mac, mac(1));
        assert_eq!(t.lookup(mac(1)), None);
        assert_eq!(t.lookup(mac(2)), Some(1));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn aging_handles_tick_wraparound() {
        let t = MacTable::new(16);
        t.learn(mac(1), 1, u32::MAX - 10);
        assert!(t.expire(5, 100).is_empty());
        assert_eq!(t.expire(200, 100).len(), 1);
    }

    #[test]
    fn remove_port_drops_only_that_ports_entries() {
        let t = MacTable::new(16);
        t.learn(mac(1), 1, 0);
        t.learn(mac(2), 2, 0);
        t.learn(mac(3), 1, 0);
        assert_eq!(t.remove_port(1).len(), 2);
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.lookup(mac(2)), Some(2));
    }

    #[test]
    fn fills_to_capacity_at_scale() {
        let n = 100_000;
        let t = MacTable::new(n);
        for i in 0..n as u64 {
            assert_eq!(t.learn(mac(i * 7919), (i % 5) as u16, 0), Learned::New);
        }
        assert_eq!(t.len(), n);
        for i in (0..n as u64).step_by(97) {
            assert_eq!(t.lookup(mac(i * 7919)), Some((i % 5) as u16));
        }
        let macs: Vec<MacAddr> = (0..32).map(|i| mac(i * 7919)).collect();
        let mut out = [None; 32];
        t.lookup_batch(&macs, &mut out);
        for (i, o) in out.iter().enumerate() {
            assert_eq!(*o, Some((i % 5) as u16));
        }
    }

    #[test]
    fn a_million_entry_table_takes_every_mac_up_to_capacity() {
        let n = 1 << 20;
        let t = MacTable::new(n);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut refused = 0;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if t.learn(MacAddr((x & 0xfeff_ffff_ffff) | 0x0200_0000_0000), 1, 0) == Learned::Full {
                refused += 1;
            }
        }
        assert_eq!(refused, 0);
        assert_eq!(t.len(), n);
    }

    #[test]
    fn mac_zero_is_a_valid_key() {
        let t = MacTable::new(16);
        assert_eq!(t.lookup(MacAddr(0)), None);
        assert_eq!(t.learn(MacAddr(0), 4, 0), Learned::New);
        assert_eq!(t.lookup(MacAddr(0)), Some(4));
    }

    #[test]
    fn concurrent_learners_never_lose_or_duplicate_an_entry() {
        let t = std::sync::Arc::new(MacTable::new(10_000));
        let threads: Vec<_> = (0..2)
            .map(|w| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000u64 {
                        t.learn(mac(i), w, 0);
                    }
                })
            })
            .collect();
        for th in threads {
            assert!(th.join().is_ok());
        }
        assert_eq!(t.len(), 5_000);
        let mut macs: Vec<u64> = t.entries().iter().map(|e| e.mac.0).collect();
        macs.sort_unstable();
        macs.dedup();
        assert_eq!(macs.len(), 5_000);
    }
}
