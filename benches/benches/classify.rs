//! `ForwardingState::classify` over bursts of 32 64-byte frames:
//! (a) a 2-port cross-connect, (b) a 3-port learning switch with N learned
//! MACs (1k and 64k) where every frame's destination is known and on
//! another port than the ingress one, and every source is already learned
//! on the ingress port (steady state: learning only refreshes).
//! Throughput is 32 elements per iteration; the summary prints ns/packet.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use sfc_benches::{criterion, frame, macs, print_summary, stream_len, Recorder, SplitMix64, BATCH};
use sfc_dataplane::switch::{
    Decision, ForwardingState, Learned, MacAddr, PortId, StateConfig, SwitchSpec,
    DEFAULT_MAC_CAPACITY,
};

/// One received burst: its port and its frames.
struct Burst {
    in_port: PortId,
    frames: Vec<[u8; 64]>,
    expect: Vec<Decision>,
}

fn state(ports: &[PortId], capacity: usize) -> ForwardingState {
    let spec = SwitchSpec {
        name: "bench".into(),
        ports: ports.to_vec(),
        mtu: 1500,
    };
    let cfg = StateConfig {
        mac_capacity: capacity,
        ..StateConfig::default()
    };
    ForwardingState::build(&[spec], None, cfg).unwrap_or_else(|e| panic!("{e}"))
}

fn run(c: &mut Criterion, id: BenchmarkId, name: String, st: &ForwardingState, bursts: &[Burst]) {
    for b in bursts.iter().take(64) {
        for (f, want) in b.frames.iter().zip(&b.expect) {
            assert_eq!(st.classify(b.in_port, f, 64, 0), *want);
        }
    }
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut rec = Recorder::new(name, BATCH as u64);
    let mut pos = 0;
    g.bench_function(id, |bch| {
        bch.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let b = &bursts[pos];
                let in_port = black_box(b.in_port);
                for f in black_box(&b.frames) {
                    black_box(st.classify(in_port, f, 64, 0));
                }
                pos += 1;
                if pos == bursts.len() {
                    pos = 0;
                }
            }
            let d = start.elapsed();
            rec.push(iters, d);
            d
        })
    });
    rec.finish();
    g.finish();
}

/// 2-port cross-connect: every frame from port 0 goes to port 1.
fn cross_connect(c: &mut Criterion) {
    let st = state(&[0, 1], DEFAULT_MAC_CAPACITY);
    let m = macs(0, 2 * 256 * BATCH);
    let bursts: Vec<Burst> = m
        .chunks_exact(2 * BATCH)
        .map(|ch| Burst {
            in_port: 0,
            frames: ch.chunks_exact(2).map(|p| frame(p[0], p[1])).collect(),
            expect: vec![Decision::Forward(1); BATCH],
        })
        .collect();
    run(
        c,
        BenchmarkId::new("cross_connect", "2port"),
        "cross-connect 2 ports".into(),
        &st,
        &bursts,
    );
}

/// 3-port learning switch with `n` MACs learned, `n / 3` per port.
fn learning_switch(c: &mut Criterion, n: usize, label: &str) {
    const PORTS: [PortId; 3] = [0, 1, 2];
    let st = state(&PORTS, n.max(DEFAULT_MAC_CAPACITY));
    let all = macs(0, n);
    let mut on: [Vec<MacAddr>; 3] = Default::default();
    let table = &st.switches()[0].table;
    for (i, m) in all.iter().enumerate() {
        let p = i % 3;
        // A MAC the table refuses (both buckets full, see mac_table's
        // report) is not used: its frames would flood.
        if table.learn(*m, PORTS[p], 0) == Learned::New {
            on[p].push(*m);
        }
    }
    let learned = table.len();
    if learned != n {
        println!("learning switch {label}: table took {learned} of {n} MACs");
    }
    let mut rng = SplitMix64::new(0xc1a5 ^ n as u64);
    let bursts: Vec<Burst> = (0..stream_len(n) / BATCH)
        .map(|k| {
            let ip = k % 3;
            let mut frames = Vec::with_capacity(BATCH);
            let mut expect = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                let op = (ip + 1 + rng.below(2)) % 3;
                let src = on[ip][rng.below(on[ip].len())];
                let dst = on[op][rng.below(on[op].len())];
                frames.push(frame(dst, src));
                expect.push(Decision::Forward(PORTS[op]));
            }
            Burst {
                in_port: PORTS[ip],
                frames,
                expect,
            }
        })
        .collect();
    run(
        c,
        BenchmarkId::new("learning_switch", label),
        format!("learning switch 3 ports, {label} MACs"),
        &st,
        &bursts,
    );
    assert_eq!(table.len(), learned);
}

fn main() {
    let mut c = criterion();
    cross_connect(&mut c);
    learning_switch(&mut c, 1024, "1k");
    learning_switch(&mut c, 65_536, "64k");
    c.final_summary();
    print_summary("classify", "packet");
}
