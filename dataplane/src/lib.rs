//! sfcd's dataplane: the safe DPDK layer (`dpdk`), the forwarding state
//! (`switch`, pure Rust) and the poll-mode engine (`engine`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod daemon;
pub mod dpdk;
pub mod engine;
pub mod offload;
pub mod switch;
