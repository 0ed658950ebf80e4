//! Bytes as a YAML/JSON batch of DPF objects through `Store::apply`
//! (validation, expansion, resolution, conditions) on an empty and on a
//! seeded store, plus the snapshot/restore round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut empty = common::fresh_store();
    common::apply_and_round_trip(&mut empty, text);
    let mut seeded = common::seeded_store();
    common::apply_and_round_trip(&mut seeded, text);
});
