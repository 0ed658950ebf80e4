//! sfc-control: the DPF service-chain control plane of sfcd, in pure Rust
//! (no DPDK). It accepts DPF objects (DPUServiceChain, ServiceChainSet,
//! ServiceChain, DPUServiceInterface, ServiceInterfaceSet, ServiceInterface,
//! and a DPUDeployment's serviceChains) as YAML or JSON, validates them
//! with field paths, expands them for this node by nodeSelector, resolves
//! every switch port selector to a dataplane port name, and reports DPF
//! conditions. The daemon drives it through [`Store`] and programs
//! [`Store::desired_switches`].
//!
//! Flow: `parse` (text -> documents) -> `model` (decode + validate) ->
//! `store` (all-or-nothing apply) -> `expand` (per-node objects) ->
//! `resolve` (port names) -> `conditions` -> `describe`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cli;
pub mod conditions;
pub mod cookie;
mod decode;
mod describe;
pub mod error;
pub mod expand;
pub mod model;
mod parse;
pub mod protocol;
pub mod resolve;
pub mod selector;
pub mod store;
mod validate;

pub use conditions::{Clock, Condition, ConditionStatus, ManualClock, Reason, SystemClock};
pub use cookie::chain_cookie;
pub use error::ControlError;
pub use expand::NodeInfo;
pub use model::{Kind, ObjectKey, ObjectRef};
pub use resolve::{ChainResolution, PortResult, ResolvedSwitch};
pub use selector::Labels;
pub use store::{
    ApplyAction, ApplyReport, ApplyResult, DesiredSwitch, ObjectView, Store, ViewMeta, ViewStatus,
};
