//! Measurement only: a private copy of sfcd's `MacTable` layout (buckets
//! of eight packed u64 slots, two candidate buckets per MAC) with the
//! candidate changes to its lookup and insert paths switched on one at a
//! time, benched next to the real `sfc_dataplane::switch::MacTable`.
//!
//! * `SCAN`: how a bucket is scanned: as sfcd does (`v != 0 && mac
//!   matches`, early exit), comparing the MAC only (one rarely-taken branch
//!   per slot instead of one on the random "slot empty"; MAC 0 takes the
//!   old path), or all eight slots without an early exit;
//! * `PF2`: the batch lookup touches both candidate buckets of every key
//!   before scanning, not only the first (a miss, or a key that went to its
//!   second bucket, no longer costs a serial memory access);
//! * `LEAST`: a new MAC goes to the emptier of its two buckets instead of
//!   the first one with room (the table then takes every MAC up to its
//!   capacity; first-fit refuses some, see the report).
//!
//! Delete this file once `dataplane/src/switch/mac_table.rs` has settled.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use sfc_benches::{
    criterion, draw_indices, macs, print_summary, stream_len, Recorder, BATCH, MISS_BASE,
};
use sfc_dataplane::switch::{Learned, MacAddr, MacTable, PortId};

const SLOTS: usize = 8;
const MAC_MASK: u64 = 0xffff_ffff_ffff;

/// `v != 0 && v & MAC_MASK == m`, early exit (as sfcd's `find_in`).
const SCAN_AS_IS: u8 = 0;
/// `v & MAC_MASK == m`, early exit (MAC 0 takes the `SCAN_AS_IS` path).
const SCAN_EQ: u8 = 1;
/// All eight slots, no branch.
const SCAN_BRANCHLESS: u8 = 2;

#[repr(align(64))]
struct Bucket([AtomicU64; SLOTS]);

#[inline]
fn buckets_of(bucket_mask: usize, m: u64) -> (usize, usize) {
    let b1 = (m.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & bucket_mask;
    let mut b2 = (m.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 32) as usize & bucket_mask;
    if b2 == b1 {
        b2 ^= 1;
    }
    (b1, b2)
}

/// The copy: lookups and first-time inserts only (what the bench needs).
struct Table<const SCAN: u8, const PF2: bool, const LEAST: bool> {
    buckets: Box<[Bucket]>,
    bucket_mask: usize,
}

impl<const SCAN: u8, const PF2: bool, const LEAST: bool> Table<SCAN, PF2, LEAST> {
    fn new(capacity: usize) -> Self {
        let buckets = (capacity.max(1) * 2)
            .div_ceil(SLOTS)
            .next_power_of_two()
            .max(2);
        Self {
            buckets: (0..buckets)
                .map(|_| Bucket(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            bucket_mask: buckets - 1,
        }
    }

    #[inline]
    fn buckets_of(&self, m: u64) -> (usize, usize) {
        buckets_of(self.bucket_mask, m)
    }

    /// The packed slot holding `m` in `bucket`, or 0.
    #[inline]
    fn scan(bucket: &Bucket, m: u64) -> u64 {
        let bucket = &bucket.0;
        match SCAN {
            SCAN_BRANCHLESS => {
                // At most one slot matches; an empty slot (0) adds nothing
                // even when m is 0.
                let mut hit = 0;
                for s in bucket {
                    let v = s.load(Relaxed);
                    hit |= v & u64::from(v & MAC_MASK == m).wrapping_neg();
                }
                hit
            }
            SCAN_EQ => {
                // Only the MAC is compared: one branch per slot, taken at
                // most once (the caller handles m == 0, where an empty slot
                // would match).
                for s in bucket {
                    let v = s.load(Relaxed);
                    if v & MAC_MASK == m {
                        return v;
                    }
                }
                0
            }
            _ => {
                for s in bucket {
                    let v = s.load(Relaxed);
                    if v != 0 && v & MAC_MASK == m {
                        return v;
                    }
                }
                0
            }
        }
    }

    #[inline]
    fn lookup(&self, mac: MacAddr) -> Option<PortId> {
        let m = mac.0 & MAC_MASK;
        if SCAN == SCAN_EQ && m == 0 {
            return Table::<SCAN_AS_IS, PF2, LEAST>::lookup_in(&self.buckets, self.bucket_mask, m);
        }
        Self::lookup_in(&self.buckets, self.bucket_mask, m)
    }

    #[inline]
    fn lookup_in(buckets: &[Bucket], bucket_mask: usize, m: u64) -> Option<PortId> {
        let (b1, b2) = buckets_of(bucket_mask, m);
        let mut v = Self::scan(&buckets[b1], m);
        if v == 0 {
            v = Self::scan(&buckets[b2], m);
        }
        (v != 0).then(|| ((v >> 48) as u16).wrapping_sub(1))
    }

    fn lookup_batch(&self, macs: &[MacAddr], out: &mut [Option<PortId>]) {
        for mac in macs {
            let (b1, b2) = self.buckets_of(mac.0 & MAC_MASK);
            black_box(self.buckets[b1].0[0].load(Relaxed));
            if PF2 {
                black_box(self.buckets[b2].0[0].load(Relaxed));
            }
        }
        for (mac, o) in macs.iter().zip(out.iter_mut()) {
            *o = self.lookup(*mac);
        }
    }

    fn occupancy(&self, b: usize) -> usize {
        self.buckets[b]
            .0
            .iter()
            .filter(|s| s.load(Relaxed) != 0)
            .count()
    }

    fn insert_in(&self, b: usize, want: u64) -> bool {
        let bucket = &self.buckets[b].0;
        match bucket.iter().position(|s| s.load(Relaxed) == 0) {
            Some(i) => bucket[i]
                .compare_exchange(0, want, Relaxed, Relaxed)
                .is_ok(),
            None => false,
        }
    }

    /// Inserts a MAC not in the table; false if refused (both full).
    fn insert(&self, mac: MacAddr, port: PortId) -> bool {
        let m = mac.0 & MAC_MASK;
        let want = m | ((u64::from(port) + 1) << 48);
        let (b1, b2) = self.buckets_of(m);
        let (first, second) = if LEAST && self.occupancy(b2) < self.occupancy(b1) {
            (b2, b1)
        } else {
            (b1, b2)
        };
        self.insert_in(first, want) || self.insert_in(second, want)
    }
}

trait Lookup {
    fn lookup_batch(&self, macs: &[MacAddr], out: &mut [Option<PortId>]);
}

impl Lookup for MacTable {
    fn lookup_batch(&self, macs: &[MacAddr], out: &mut [Option<PortId>]) {
        MacTable::lookup_batch(self, macs, out)
    }
}

impl<const A: u8, const B: bool, const C: bool> Lookup for Table<A, B, C> {
    fn lookup_batch(&self, macs: &[MacAddr], out: &mut [Option<PortId>]) {
        Table::lookup_batch(self, macs, out)
    }
}

fn port_of(i: usize) -> PortId {
    (i % 4) as PortId
}

#[allow(clippy::too_many_arguments)]
fn bench<T: Lookup>(
    c: &mut Criterion,
    name: &str,
    label: &str,
    t: &T,
    keys: &[MacAddr],
    took: &[usize],
    n: usize,
) {
    let idx: Vec<usize> = draw_indices(took.len(), stream_len(n), 0x5eed ^ n as u64)
        .into_iter()
        .map(|i| took[i])
        .collect();
    let hit: Vec<MacAddr> = idx.iter().map(|i| keys[*i]).collect();
    let miss = macs(MISS_BASE, stream_len(n));
    let mut out = [None; BATCH];
    for (b, chunk) in hit.chunks_exact(BATCH).enumerate().take(64) {
        t.lookup_batch(chunk, &mut out);
        for (j, o) in out.iter().enumerate() {
            assert_eq!(*o, Some(port_of(idx[b * BATCH + j])), "{name}");
        }
    }
    t.lookup_batch(&miss[..BATCH], &mut out);
    assert!(out.iter().all(Option::is_none), "{name}");

    let mut g = c.benchmark_group("variant");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (pattern, stream) in [("hit", &hit), ("miss", &miss)] {
        let mut rec = Recorder::new(format!("{name} {pattern} {label}"), BATCH as u64);
        let mut pos = 0;
        g.bench_function(BenchmarkId::new(format!("{name}_{pattern}"), label), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    t.lookup_batch(black_box(&stream[pos..pos + BATCH]), &mut out);
                    black_box(&out);
                    pos += BATCH;
                    if pos == stream.len() {
                        pos = 0;
                    }
                }
                let d = start.elapsed();
                rec.push(iters, d);
                d
            })
        });
        rec.finish();
    }
    g.finish();
}

fn copy<const A: u8, const B: bool, const C: bool>(
    c: &mut Criterion,
    name: &str,
    label: &str,
    keys: &[MacAddr],
) {
    let t = Table::<A, B, C>::new(keys.len());
    let took: Vec<usize> = (0..keys.len())
        .filter(|i| t.insert(keys[*i], port_of(*i)))
        .collect();
    println!("{name} {label}: took {} of {} MACs", took.len(), keys.len());
    bench(c, name, label, &t, keys, &took, keys.len());
}

fn main() {
    let mut c = criterion();
    for (n, label) in [(1024, "1k"), (65_536, "64k"), (1_048_576, "1M")] {
        let keys = macs(0, n);
        {
            let t = MacTable::new(n);
            let took: Vec<usize> = (0..n)
                .filter(|i| t.learn(keys[*i], port_of(*i), 0) == Learned::New)
                .collect();
            bench(&mut c, "real", label, &t, &keys, &took, n);
        }
        copy::<SCAN_AS_IS, false, false>(&mut c, "copy", label, &keys);
        copy::<SCAN_BRANCHLESS, false, false>(&mut c, "branchless", label, &keys);
        copy::<SCAN_EQ, false, false>(&mut c, "eq", label, &keys);
        copy::<SCAN_EQ, true, false>(&mut c, "eq_pf2", label, &keys);
        copy::<SCAN_BRANCHLESS, true, false>(&mut c, "branchless_pf2", label, &keys);
        copy::<SCAN_EQ, true, true>(&mut c, "eq_pf2_least", label, &keys);
    }
    c.final_summary();
    print_summary("mac_table_variants", "lookup");
}
