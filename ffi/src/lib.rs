//! Raw DPDK 22.11 bindings. Nothing here is safe; `sfc-dataplane`'s `dpdk`
//! module is the only user. Static-inline DPDK functions are reachable
//! through bindgen's generated `*__extern` wrappers under their own names.
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(clippy::all, improper_ctypes, dead_code)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

extern "C" {
    /// Reads the calling thread's `rte_errno` (a thread-local macro in C).
    pub fn sfc_rte_errno() -> ::std::os::raw::c_int;
}
