//! sfcd's `MacTable` against DPDK's `rte_hash`: batch lookups (32 keys, hit
//! and miss) at 1, 1k, 64k and 1M entries, plus the cost of `learn` when it
//! only refreshes a known MAC.
//!
//! Keys are random-looking unicast MACs; each benchmark cycles through a
//! precomputed stream of at least `n` keys (at least 256 batches) drawn
//! over the whole table, so that the 1M case is not cache-resident.
//! Throughput is 32 elements per iteration; the summary at the end prints
//! ns per lookup.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use sfc_benches::{
    criterion, draw_indices, eal, macs, print_summary, stream_len, Recorder, BATCH, MISS_BASE,
    SIZES,
};
use sfc_dataplane::dpdk::RteHash;
use sfc_dataplane::switch::{Learned, MacAddr, MacTable, PortId};

/// The port MAC number `i` is learned on.
fn port_of(i: usize) -> PortId {
    (i % 4) as PortId
}

/// Runs `one(batch)` over consecutive batches of `stream`, `iters` times,
/// resuming where the previous call stopped (so that short calls do not
/// keep re-reading the same, cached, start of the stream).
fn timed<T>(
    stream: &[T],
    pos: &mut usize,
    iters: u64,
    rec: &mut Recorder,
    mut one: impl FnMut(&[T]),
) -> std::time::Duration {
    let start = Instant::now();
    for _ in 0..iters {
        one(&stream[*pos..*pos + BATCH]);
        *pos += BATCH;
        if *pos == stream.len() {
            *pos = 0;
        }
    }
    let d = start.elapsed();
    rec.push(iters, d);
    d
}

/// A table of capacity `keys.len()` that learned every key it took, and
/// the indices of those keys. sfcd's table can refuse a few keys before it
/// is at capacity (both candidate buckets full): reported, not fatal.
fn sfcd_table(label: &str, keys: &[MacAddr]) -> (MacTable, Vec<usize>) {
    let t = MacTable::new(keys.len());
    let mut took = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        match t.learn(*k, port_of(i), 0) {
            Learned::New => took.push(i),
            Learned::Full => {}
            other => panic!("learning key {i}: {other:?}"),
        }
    }
    if took.len() != keys.len() {
        println!(
            "sfcd MacTable {label}: refused {} of {} MACs (Full) below its capacity {}",
            keys.len() - took.len(),
            keys.len(),
            t.capacity()
        );
    }
    (t, took)
}

/// An `rte_hash` with every key; sized for `n` entries, or 2n if the
/// cuckoo table cannot take all n (reported: it usually cannot, as it has
/// no extendable buckets here).
fn rte_table(label: &str, keys: &[u64]) -> RteHash {
    let n = keys.len() as u32;
    for entries in [n, 2 * n] {
        let mut h = RteHash::new(&format!("bench_{label}_{entries}"), entries)
            .unwrap_or_else(|e| panic!("rte_hash_create: {e}"));
        let refused = keys
            .iter()
            .enumerate()
            .filter(|(i, k)| h.insert(**k, u64::from(port_of(*i))).is_err())
            .count();
        if refused == 0 {
            return h;
        }
        println!("rte_hash {label}: entries={entries} refused {refused} of {n} keys");
    }
    panic!("rte_hash {label}: {n} keys do not fit in 2n entries");
}

fn lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("mac_lookup");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (n, label) in SIZES {
        let keys = macs(0, n);
        let (t, took) = sfcd_table(label, &keys);
        // Hits are drawn from the keys sfcd took (all of them, or nearly),
        // and the same stream goes to rte_hash.
        let idx: Vec<usize> = draw_indices(took.len(), stream_len(n), 0x5eed ^ n as u64)
            .into_iter()
            .map(|i| took[i])
            .collect();
        let hit: Vec<MacAddr> = idx.iter().map(|i| keys[*i]).collect();
        let miss = macs(MISS_BASE, stream_len(n));

        // sfcd
        {
            let mut out = [None; BATCH];
            for (b, chunk) in hit.chunks_exact(BATCH).enumerate().take(64) {
                t.lookup_batch(chunk, &mut out);
                for (j, o) in out.iter().enumerate() {
                    assert_eq!(*o, Some(port_of(idx[b * BATCH + j])));
                }
            }
            t.lookup_batch(&miss[..BATCH], &mut out);
            assert!(out.iter().all(Option::is_none));
            for (pattern, stream) in [("hit", &hit), ("miss", &miss)] {
                let mut rec = Recorder::new(format!("sfcd {pattern} {label}"), BATCH as u64);
                let mut pos = 0;
                g.bench_function(BenchmarkId::new(format!("sfcd_{pattern}"), label), |b| {
                    b.iter_custom(|iters| {
                        timed(stream, &mut pos, iters, &mut rec, |batch| {
                            t.lookup_batch(black_box(batch), &mut out);
                            black_box(&out);
                        })
                    })
                });
                rec.finish();
            }
            drop(t);
        }

        // rte_hash, same keys and streams.
        {
            eal();
            let keys: Vec<u64> = keys.iter().map(|m| m.0).collect();
            let hit: Vec<u64> = hit.iter().map(|m| m.0).collect();
            let miss: Vec<u64> = miss.iter().map(|m| m.0).collect();
            let h = rte_table(label, &keys);
            let mut out = [None; BATCH];
            for (b, chunk) in hit.chunks_exact(BATCH).enumerate().take(64) {
                h.lookup_bulk(chunk, &mut out);
                for (j, o) in out.iter().enumerate() {
                    assert_eq!(*o, Some(u64::from(port_of(idx[b * BATCH + j]))));
                }
            }
            h.lookup_bulk(&miss[..BATCH], &mut out);
            assert!(out.iter().all(Option::is_none));
            for (pattern, stream) in [("hit", &hit), ("miss", &miss)] {
                let mut rec = Recorder::new(format!("rte_hash {pattern} {label}"), BATCH as u64);
                let mut pos = 0;
                g.bench_function(
                    BenchmarkId::new(format!("rte_hash_{pattern}"), label),
                    |b| {
                        b.iter_custom(|iters| {
                            timed(stream, &mut pos, iters, &mut rec, |batch| {
                                h.lookup_bulk(black_box(batch), &mut out);
                                black_box(&out);
                            })
                        })
                    },
                );
                rec.finish();
            }
        }
    }
    g.finish();
}

/// `learn` of a MAC already known on that port, at the same tick: the
/// per-packet path of a steady flow (a lookup, no store).
fn learn_refresh(c: &mut Criterion) {
    let mut g = c.benchmark_group("mac_learn");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (n, label) in SIZES {
        let keys = macs(0, n);
        let (t, took) = sfcd_table(label, &keys);
        let stream: Vec<(MacAddr, PortId)> =
            draw_indices(took.len(), stream_len(n), 0x1ea4 ^ n as u64)
                .into_iter()
                .map(|i| (keys[took[i]], port_of(took[i])))
                .collect();
        let mut rec = Recorder::new(format!("sfcd learn-refresh {label}"), BATCH as u64);
        let mut pos = 0;
        g.bench_function(BenchmarkId::new("sfcd_refresh", label), |b| {
            b.iter_custom(|iters| {
                timed(&stream, &mut pos, iters, &mut rec, |batch| {
                    for (mac, port) in black_box(batch) {
                        black_box(t.learn(*mac, *port, 0));
                    }
                })
            })
        });
        rec.finish();
        assert_eq!(t.len(), took.len());
    }
    g.finish();
}

fn main() {
    let mut c = criterion();
    lookups(&mut c);
    learn_refresh(&mut c);
    c.final_summary();
    print_summary("mac_table", "lookup");
}
