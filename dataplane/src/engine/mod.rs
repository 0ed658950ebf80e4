//! The poll-mode engine: worker threads on pinned cores forwarding by the
//! published forwarding state, and the control-side handle that starts
//! them, publishes new states and reads their counters.

mod counters;
mod publish;
mod worker;

pub use counters::{port_totals, Counter, PortCounters, PortTotals, WorkerStats, MAX_PORTS};
pub use publish::{StateCell, OFFLINE};
pub use worker::{Worker, WorkerCmd};
mod handle;

pub use handle::{Engine, EngineConfig, EngineError, QUIESCE_TIMEOUT};
