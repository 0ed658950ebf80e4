//! Forwarding state: what each port does with a frame. Pure Rust, no DPDK,
//! so every switch semantic is unit-testable (dpf-chains.md section 5).
//!
//! * a port in no switch drops everything (DPF's secure fail mode);
//! * a 2-port switch is a cross-connect: no lookup, no learning;
//! * a switch of 3+ ports is an isolated L2 learning domain.

mod classify;
mod frame;
mod mac_table;
mod state;

pub use classify::{over_mtu, Decision, DropReason, LearnEvent};
pub use frame::{EtherHeader, MacAddr};
pub use mac_table::{Learned, MacEntry, MacTable};
pub use state::{
    BuildError, ForwardingState, LearningSwitch, PortAction, StateConfig, SwitchId, SwitchSpec,
    DEFAULT_MTU,
};

/// A dataplane port id (the DPDK port id in the engine).
pub type PortId = u16;

/// A coarse time in milliseconds (wrapping). Injected by the caller so that
/// aging is testable without sleeping.
pub type Tick = u32;

/// DPF's learn rules use `idle_timeout=10` (seconds).
pub const DEFAULT_MAC_IDLE_MS: Tick = 10_000;

/// Default bound on learned MACs per switch.
pub const DEFAULT_MAC_CAPACITY: usize = 65_536;
