//! Bytes as a frame through `ForwardingState::classify_learn` on a state
//! with a cross-connect (ports 0-1) and a 3-port learning switch (2-4) whose
//! MAC table is small (16), so that floods of sources fill it.
//!
//! Input: byte 0 picks the ingress port (0..=5, 5 is in no switch), byte 1
//! scales pkt_len (the mbuf's full length may exceed the bytes the worker
//! looks at: jumbo frames), bytes 2..4 the time; the rest is the frame.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sfc_dataplane::switch::{
    Decision, DropReason, ForwardingState, Learned, StateConfig, SwitchSpec,
};

const CAPACITY: usize = 16;

fn state() -> &'static ForwardingState {
    static S: OnceLock<ForwardingState> = OnceLock::new();
    S.get_or_init(|| {
        let specs = [
            SwitchSpec {
                name: "xc".into(),
                ports: vec![0, 1],
                mtu: 1500,
            },
            SwitchSpec {
                name: "ls".into(),
                ports: vec![2, 3, 4],
                mtu: 9000,
            },
        ];
        let config = StateConfig {
            mac_capacity: CAPACITY,
            mac_idle: 10_000,
        };
        match ForwardingState::build(&specs, None, config) {
            Ok(s) => s,
            Err(e) => panic!("build: {e}"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let in_port = u16::from(data[0] % 6);
    let frame = &data[4..];
    let extra = u32::from(data[1]) * 64;
    let pkt_len = frame.len() as u32 + extra;
    let now = u32::from(u16::from_le_bytes([data[2], data[3]])) * 16;
    let s = state();
    let (d, learn) = s.classify_learn(in_port, frame, pkt_len, now);
    match d {
        Decision::Drop(DropReason::Runt) => assert!(frame.len() < 14, "runt of {}", frame.len()),
        Decision::Drop(DropReason::NoSwitch) => assert_eq!(in_port, 5),
        Decision::Forward(out) => {
            assert!(
                in_port <= 4 && out <= 4 && out != in_port,
                "{in_port}->{out}"
            )
        }
        Decision::Flood(_) => assert!((2..=4).contains(&in_port)),
        Decision::Drop(_) => {}
    }
    if frame.len() < 14 {
        assert_eq!(d, Decision::Drop(DropReason::Runt));
    }
    if let Some((_, l)) = learn {
        assert!((2..=4).contains(&in_port));
        assert!(frame[6] & 1 == 0, "a multicast source was learned");
        let _ = matches!(l, Learned::Full);
    }
    let table = &s.switches()[0].table;
    assert!(table.len() <= CAPACITY, "table grew to {}", table.len());
    if data[0] & 0x80 != 0 {
        let _ = s.expire(now);
    }
});
