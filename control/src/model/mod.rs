//! The DPF object model: the six service-chain kinds (plus DPUDeployment's
//! chains), decoded with full field paths and validated against the CRD
//! limits.

pub mod chain;
pub mod deployment;
pub mod interface;
pub mod meta;
pub mod object;

pub use chain::*;
pub use interface::*;
pub use meta::*;
pub use object::*;

#[cfg(test)]
mod tests;
