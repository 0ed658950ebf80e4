//! Shared by every integration test that starts EAL: one EAL per test
//! process (DPDK allows one), with no hugepages, no PCI and a unique file
//! prefix, plus ring-backed ports that let a test put exact frames into the
//! engine and read exactly what it sent.
#![allow(dead_code)]

pub mod sfcd;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use sfc_dataplane::dpdk::{Eal, Mbuf, Mempool, Port, PortConfig, Ring};

static EAL: OnceLock<Eal> = OnceLock::new();

/// EAL for this test process.
pub fn eal() -> &'static Eal {
    EAL.get_or_init(|| {
        Eal::init_standalone("test", 512).unwrap_or_else(|e| panic!("EAL init failed: {e}"))
    })
}

/// A fresh pool for one test.
pub fn pool(name: &str, n: u32) -> Arc<Mempool> {
    eal();
    match Mempool::new(name, n, 64, sfc_dataplane::dpdk::DEFAULT_DATA_ROOM) {
        Ok(p) => Arc::new(p),
        Err(e) => panic!("mempool {name}: {e}"),
    }
}

/// A ring port: frames put in `inject` arrive on `port`; what the engine
/// sends on `port` lands in `capture`.
pub struct RingPort {
    pub port: Port,
    pub inject: Arc<Ring>,
    pub capture: Arc<Ring>,
}

pub fn ring_port(name: &str, pool: &Arc<Mempool>) -> RingPort {
    eal();
    let inject = Ring::new(&format!("{name}-in"), 4096).unwrap_or_else(|e| panic!("{e}"));
    let capture = Ring::new(&format!("{name}-out"), 4096).unwrap_or_else(|e| panic!("{e}"));
    let port = Port::from_rings(
        name,
        std::slice::from_ref(&inject),
        std::slice::from_ref(&capture),
        pool.clone(),
        &PortConfig::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    RingPort {
        port,
        inject,
        capture,
    }
}

/// An Ethernet frame of `len` bytes (>= 14) with a payload tag.
pub fn frame(dst: [u8; 6], src: [u8; 6], tag: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(14)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    if len >= 18 {
        f[14..18].copy_from_slice(&tag.to_be_bytes());
    }
    f
}

pub fn mac(last: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, last]
}

pub const BCAST: [u8; 6] = [0xff; 6];

/// Puts `bytes` into the port as one received frame.
pub fn inject(pool: &Mempool, ring: &Ring, bytes: &[u8]) {
    let m = pool
        .alloc_with(bytes)
        .unwrap_or_else(|| panic!("pool empty"));
    if ring.enqueue(m).is_err() {
        panic!("inject ring full");
    }
}

/// Takes up to `n` frames from `ring`, waiting at most `timeout` for them.
pub fn capture(ring: &Ring, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        match ring.dequeue() {
            Some(m) => out.push(m.data().to_vec()),
            None => std::thread::sleep(Duration::from_micros(100)),
        }
    }
    out
}

/// Everything in `ring` after waiting `settle` (for "nothing arrives").
pub fn drain(ring: &Ring, settle: Duration) -> Vec<Vec<u8>> {
    std::thread::sleep(settle);
    let mut out = Vec::new();
    while let Some(m) = ring.dequeue() {
        out.push(m.data().to_vec());
    }
    out
}

/// Polls `cond` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

pub fn drop_mbuf(m: Mbuf) {
    drop(m)
}
