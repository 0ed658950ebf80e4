//! DPDK failures as typed errors that carry `rte_errno` and name the thing.

use std::ffi::CStr;

pub type Result<T, E = DpdkError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    #[error("EAL init failed: {msg} (rte_errno {errno}); arguments: {args}")]
    EalInit {
        errno: i32,
        msg: String,
        args: String,
    },
    #[error("EAL is already initialised in this process (DPDK allows it once)")]
    EalTwice,
    #[error("argument {arg:?} contains a NUL byte")]
    NulInArgument { arg: String },
    #[error("mempool {name}: {op} failed: {msg} (rte_errno {errno})")]
    Mempool {
        name: String,
        op: &'static str,
        errno: i32,
        msg: String,
    },
    #[error("port {port}: {op} failed: {msg} (errno {errno})")]
    Port {
        port: String,
        op: &'static str,
        errno: i32,
        msg: String,
    },
    #[error("port {port}: {msg}")]
    PortUsage { port: String, msg: String },
    #[error("hash table {name}: {op} failed: {msg} (errno {errno})")]
    Hash {
        name: String,
        op: &'static str,
        errno: i32,
        msg: String,
    },
    #[error("worker thread {name}: {msg}")]
    Thread { name: String, msg: String },
}

impl DpdkError {
    /// The errno DPDK reported, if any: the offload code tells "this port
    /// cannot" (ENOSYS, ENOTSUP) from real failures with it.
    pub fn errno(&self) -> Option<i32> {
        match self {
            DpdkError::EalInit { errno, .. }
            | DpdkError::Mempool { errno, .. }
            | DpdkError::Port { errno, .. }
            | DpdkError::Hash { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// A port error from a DPDK return value (negative errno) or rte_errno.
    pub(crate) fn port(port: &str, op: &'static str, ret: i32) -> Self {
        let errno = if ret < 0 { -ret } else { rte_errno() };
        DpdkError::Port {
            port: port.to_owned(),
            op,
            errno,
            msg: strerror(errno),
        }
    }
}

/// The calling thread's `rte_errno`.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local int; no preconditions.
    unsafe { sfc_ffi::sfc_rte_errno() }
}

/// DPDK's text for an errno (covers DPDK's own codes above 1000 too).
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string, valid until the next call on this thread; it
    // is copied at once.
    unsafe {
        let p = sfc_ffi::rte_strerror(errno);
        if p.is_null() {
            return format!("errno {errno}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// The symbolic name of the errnos the dataplane acts on.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        12 => "ENOMEM",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        28 => "ENOSPC",
        38 => "ENOSYS",
        95 => "ENOTSUP",
        _ => "E?",
    }
}
