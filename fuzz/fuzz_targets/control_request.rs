//! One control-socket request line through `decode_request`, its answer
//! through `encode_response`, and an `apply` through a seeded store.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfc_control::protocol::{decode_request, encode_response, Request, Response};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // The daemon refuses non-UTF-8 lines before decoding them.
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let (id, req) = decode_request(line);
    assert!(id.is_null() || id.is_number() || id.is_string());
    let answer = match &req {
        Ok(r) => Ok(serde_json::json!({ "op": r.op() })),
        Err(e) => Err(e.clone()),
    };
    let encoded = encode_response(&id, answer);
    let back: Response = match serde_json::from_str(&encoded) {
        Ok(r) => r,
        Err(e) => panic!("our own response does not decode: {e}"),
    };
    // Ids are integers or strings (a float id, found here once, is now
    // refused): they come back exactly.
    assert_eq!(back.id, id);
    if let Ok(Request::Apply { objects }) = req {
        let mut store = common::seeded_store();
        common::apply_and_round_trip(&mut store, &objects);
    }
});
