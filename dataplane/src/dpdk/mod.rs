//! The safe DPDK layer: the only code besides `sfc-ffi` that calls DPDK.
//! Every `unsafe` block of the project outside ffi/ lives in this module,
//! each with a `// SAFETY:` line saying why it holds.
//!
//! Ownership rules kept by the types:
//! * an [`Mbuf`] is owned by exactly one value; dropping it frees it
//!   (DPDK's refcount makes a [`Mbuf::share`]d copy one more owner);
//! * [`TxQueue::send`] consumes what the driver took, frees what it did not
//!   (after a bounded number of retries) and says how many;
//! * ports and queue handles keep their mempool alive; an RX or TX queue has
//!   exactly one handle, so only one thread ever polls it;
//! * [`Eal`] is initialised once per process and cleaned up last.

mod clock;
mod eal;
mod error;
pub mod flow;
mod hash;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod ring;

pub use clock::TscClock;
pub use eal::Eal;
pub use error::{errno_name, DpdkError, Result};
pub use flow::{FlowApi, FlowError, FlowRule};
pub use hash::RteHash;
pub use lcore::{spawn_worker_thread, WorkerThread};
pub use mbuf::{Burst, Drain, Mbuf, BURST_SIZE};
pub use mempool::{Mempool, DEFAULT_DATA_ROOM, JUMBO_DATA_ROOM};
pub use port::{Link, Port, PortConfig, PortInfo, PortStats, RxQueue, TxOutcome, TxQueue};
pub use ring::Ring;
