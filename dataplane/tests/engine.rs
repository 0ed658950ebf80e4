//! The engine on real DPDK ports (ring PMD): exact frames in, exact frames
//! out, counters checked against what was sent.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use sfc_dataplane::engine::{Engine, EngineConfig};
use sfc_dataplane::switch::{DropReason, SwitchSpec};

const T: Duration = Duration::from_secs(5);

fn spec(name: &str, ports: &[u16]) -> SwitchSpec {
    SwitchSpec::new(name, ports)
}

fn engine(ports: Vec<sfc_dataplane::dpdk::Port>) -> Engine {
    Engine::start(EngineConfig::default(), ports).unwrap_or_else(|e| panic!("engine: {e}"))
}

#[test]
fn cross_connect_forwards_exact_frames_both_ways() {
    let pool = pool("xc", 2048);
    let (a, b) = (ring_port("xc-a", &pool), ring_port("xc-b", &pool));
    let (ida, idb) = (a.port.id(), b.port.id());
    let (ai, ac, bi, bc) = (
        a.inject.clone(),
        a.capture.clone(),
        b.inject.clone(),
        b.capture.clone(),
    );
    let e = engine(vec![a.port, b.port]);
    assert!(e.apply(&[spec("xc", &[ida, idb])]).is_ok());

    let ab: Vec<Vec<u8>> = (0..10)
        .map(|i| frame(mac(2), mac(1), i, 60 + i as usize))
        .collect();
    let ba: Vec<Vec<u8>> = (0..10)
        .map(|i| frame(mac(1), mac(2), 100 + i, 64))
        .collect();
    ab.iter().for_each(|f| inject(&pool, &ai, f));
    ba.iter().for_each(|f| inject(&pool, &bi, f));
    assert_eq!(
        capture(&bc, 10, T),
        ab,
        "A->B frames arrive on B unchanged, in order"
    );
    assert_eq!(
        capture(&ac, 10, T),
        ba,
        "B->A frames arrive on A unchanged, in order"
    );
    assert!(
        drain(&ac, Duration::from_millis(20)).is_empty(),
        "nothing else on A"
    );

    let (ta, tb) = (e.port_totals(ida), e.port_totals(idb));
    assert_eq!((ta.rx_packets, ta.tx_packets), (10, 10));
    assert_eq!((tb.rx_packets, tb.tx_packets), (10, 10));
    assert_eq!(ta.total_drops() + tb.total_drops(), 0);
}

#[test]
fn learning_switch_floods_the_first_frame_and_unicasts_the_reply() {
    let pool = pool("ls", 2048);
    let ps = [
        ring_port("ls-1", &pool),
        ring_port("ls-2", &pool),
        ring_port("ls-3", &pool),
    ];
    let ids: Vec<u16> = ps.iter().map(|p| p.port.id()).collect();
    let rings: Vec<_> = ps
        .iter()
        .map(|p| (p.inject.clone(), p.capture.clone()))
        .collect();
    let e = engine(ps.into_iter().map(|p| p.port).collect());
    assert!(e.apply(&[spec("ls", &ids)]).is_ok());

    // A (on port 1) -> B: unknown, floods to ports 2 and 3, never back to 1.
    let f1 = frame(mac(0xb), mac(0xa), 1, 64);
    inject(&pool, &rings[0].0, &f1);
    assert_eq!(capture(&rings[1].1, 1, T), vec![f1.clone()]);
    assert_eq!(capture(&rings[2].1, 1, T), vec![f1.clone()]);
    assert!(drain(&rings[0].1, Duration::from_millis(20)).is_empty());

    // B (on port 2) replies to A: A was learned on port 1, so only port 1.
    let f2 = frame(mac(0xa), mac(0xb), 2, 64);
    inject(&pool, &rings[1].0, &f2);
    assert_eq!(capture(&rings[0].1, 1, T), vec![f2]);
    assert!(
        drain(&rings[2].1, Duration::from_millis(20)).is_empty(),
        "no copy to port 3"
    );
    assert!(
        drain(&rings[1].1, Duration::from_millis(1)).is_empty(),
        "none back to port 2"
    );

    // And now A -> B is unicast to port 2 only.
    let f3 = frame(mac(0xb), mac(0xa), 3, 64);
    inject(&pool, &rings[0].0, &f3);
    assert_eq!(capture(&rings[1].1, 1, T), vec![f3]);
    assert!(drain(&rings[2].1, Duration::from_millis(20)).is_empty());

    let s = e.state();
    assert_eq!(s.switches()[0].table.len(), 2);
    assert_eq!(e.worker_stats()[0].macs_learned.get(), 2);
}

#[test]
fn a_port_in_no_switch_drops_and_counts() {
    let pool = pool("ns", 1024);
    let (a, b, c) = (
        ring_port("ns-a", &pool),
        ring_port("ns-b", &pool),
        ring_port("ns-c", &pool),
    );
    let (ida, idb, idc) = (a.port.id(), b.port.id(), c.port.id());
    let (ci, ac, bc) = (c.inject.clone(), a.capture.clone(), b.capture.clone());
    let e = engine(vec![a.port, b.port, c.port]);
    assert!(e.apply(&[spec("ab", &[ida, idb])]).is_ok());
    for i in 0..7 {
        inject(&pool, &ci, &frame(BCAST, mac(9), i, 64));
    }
    assert!(wait_until(T, || e.port_totals(idc).rx_packets == 7));
    let t = e.port_totals(idc);
    assert_eq!(t.dropped(DropReason::NoSwitch), 7);
    assert_eq!(t.tx_packets, 0);
    assert!(drain(&ac, Duration::from_millis(20)).is_empty());
    assert!(drain(&bc, Duration::from_millis(1)).is_empty());
}

#[test]
fn runts_and_oversize_frames_are_dropped_by_reason_while_good_ones_pass() {
    let pool = pool("bad", 1024);
    let (a, b) = (ring_port("bad-a", &pool), ring_port("bad-b", &pool));
    let (ida, idb) = (a.port.id(), b.port.id());
    let (ai, bc) = (a.inject.clone(), b.capture.clone());
    let e = engine(vec![a.port, b.port]);
    assert!(e.apply(&[spec("xc", &[ida, idb])]).is_ok());
    let good = frame(mac(2), mac(1), 1, 1514);
    inject(&pool, &ai, &[0u8; 10]);
    inject(&pool, &ai, &frame(mac(2), mac(1), 0, 1515));
    inject(&pool, &ai, &good);
    assert_eq!(capture(&bc, 1, T), vec![good]);
    assert!(wait_until(T, || e.port_totals(ida).rx_packets == 3));
    let t = e.port_totals(ida);
    assert_eq!(t.dropped(DropReason::Runt), 1);
    assert_eq!(t.dropped(DropReason::OverMtu), 1);
}

#[test]
fn an_update_under_traffic_that_keeps_the_path_loses_nothing() {
    let pool = pool("upd", 8192);
    let ps: Vec<_> = (0..4)
        .map(|i| ring_port(&format!("upd-{i}"), &pool))
        .collect();
    let ids: Vec<u16> = ps.iter().map(|p| p.port.id()).collect();
    let (ai, bc) = (ps[0].inject.clone(), ps[1].capture.clone());
    let e = engine(ps.into_iter().map(|p| p.port).collect());
    assert!(e.apply(&[spec("path", &ids[0..2])]).is_ok());

    const N: u32 = 20_000;
    let running = Arc::new(AtomicBool::new(true));
    // Frames in flight are bounded well below the capture ring's size, so a
    // slow reader (a loaded machine) can never make the engine drop.
    let received = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (pool, ai, running, received) =
            (pool.clone(), ai.clone(), running.clone(), received.clone());
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while sent < N && running.load(Ordering::Relaxed) {
                if sent as usize - received.load(Ordering::Relaxed) > 1024 {
                    std::thread::yield_now();
                    continue;
                }
                inject(&pool, &ai, &frame(mac(2), mac(1), sent, 64));
                sent += 1;
            }
            sent
        })
    };
    let receiver = std::thread::spawn(move || {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while got.len() < N as usize && std::time::Instant::now() < deadline {
            got.extend(capture(
                &bc,
                N as usize - got.len(),
                Duration::from_millis(50),
            ));
            received.store(got.len(), Ordering::Relaxed);
        }
        got
    });
    // Meanwhile: 50 updates that add, change and remove another switch but
    // keep ports 0-1 cross-connected.
    for i in 0..50 {
        let other = if i % 2 == 0 {
            vec![spec("path", &ids[0..2]), spec("other", &ids[2..4])]
        } else {
            vec![spec("path", &ids[0..2])]
        };
        assert!(e.apply(&other).is_ok());
    }
    let got = receiver.join().unwrap_or_default();
    running.store(false, Ordering::Relaxed);
    let sent = sender.join().unwrap_or(0);
    assert_eq!(sent, N);
    assert_eq!(got.len(), N as usize, "every frame crossed");
    // In order, each exactly once.
    for (i, f) in got.iter().enumerate() {
        assert_eq!(u32::from_be_bytes([f[14], f[15], f[16], f[17]]), i as u32);
    }
    assert_eq!(e.port_totals(ids[0]).total_drops(), 0);
    assert_eq!(e.port_totals(ids[1]).total_drops(), 0);
    assert!(e.state().generation() >= 51);
}

#[test]
fn no_mbuf_leaks_across_forwarding_flooding_and_drops() {
    let pool = pool("leak", 4096);
    let before = pool.in_use();
    {
        let ps: Vec<_> = (0..4)
            .map(|i| ring_port(&format!("leak-{i}"), &pool))
            .collect();
        let ids: Vec<u16> = ps.iter().map(|p| p.port.id()).collect();
        let rings: Vec<_> = ps
            .iter()
            .map(|p| (p.inject.clone(), p.capture.clone()))
            .collect();
        let e = engine(ps.into_iter().map(|p| p.port).collect());
        assert!(e.apply(&[spec("ls", &ids[0..3])]).is_ok());
        // Floods (shared mbufs), unicasts, drops on the switchless port 3.
        for i in 0..200u32 {
            let port = (i % 4) as usize;
            let dst = if i % 3 == 0 {
                BCAST
            } else {
                mac((i % 4) as u8 + 1)
            };
            inject(
                &pool,
                &rings[port].0,
                &frame(dst, mac(port as u8 + 1), i, 64),
            );
        }
        assert!(wait_until(T, || ids
            .iter()
            .map(|id| e.port_totals(*id).rx_packets)
            .sum::<u64>()
            == 200));
        for (_, cap) in &rings {
            drain(cap, Duration::from_millis(5));
        }
        e.shutdown();
        drop(rings);
    }
    assert_eq!(pool.in_use(), before, "every mbuf went back to the pool");
}
