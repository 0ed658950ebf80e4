//! EAL initialisation, once per process, from an argument list.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{rte_errno, strerror, DpdkError, Result};

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The initialised EAL. Dropping it runs `rte_eal_cleanup`; whoever holds
/// it must drop ports and mempools first (the engine's runtime does, in a
/// fixed order). DPDK cannot be initialised again in the same process.
#[derive(Debug)]
pub struct Eal {
    args: Vec<String>,
}

impl Eal {
    /// `rte_eal_init` with `args` (without the program name). Use a unique
    /// `--file-prefix` per process.
    pub fn init<I, S>(args: I) -> Result<Eal>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all: Vec<String> = vec!["sfcd".to_owned()];
        all.extend(args.into_iter().map(Into::into));
        let mut cargs = Vec::with_capacity(all.len());
        for a in &all {
            cargs.push(
                CString::new(a.as_str())
                    .map_err(|_| DpdkError::NulInArgument { arg: a.clone() })?,
            );
        }
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalTwice);
        }
        // EAL may keep pointers into argv (e.g. option values): the strings
        // live for the rest of the process.
        let mut argv: Vec<*mut c_char> = cargs.into_iter().map(|c| c.into_raw()).collect();
        let argc = argv.len() as i32;
        let argv_ptr = argv.as_mut_ptr();
        std::mem::forget(argv);
        // SAFETY: argv holds argc valid NUL-terminated strings that are
        // never freed; EAL is initialised at most once (the flag above).
        let ret = unsafe { sfc_ffi::rte_eal_init(argc, argv_ptr) };
        if ret < 0 {
            let errno = rte_errno();
            EAL_STARTED.store(false, Ordering::SeqCst);
            return Err(DpdkError::EalInit {
                errno,
                msg: strerror(errno),
                args: all[1..].join(" "),
            });
        }
        Ok(Eal {
            args: all[1..].to_vec(),
        })
    }

    /// EAL for a process that shares nothing with others: no hugepages
    /// (`mem_mb` of plain memory), no PCI, no shared config, main lcore 0,
    /// a file prefix unique to this process (`sfc-<tag>-<pid>`) whose
    /// runtime directory is removed right after init. What tests, benches
    /// and tools on vdevs use.
    pub fn init_standalone(tag: &str, mem_mb: u32) -> Result<Eal> {
        let prefix = format!("sfc-{tag}-{}", std::process::id());
        let args = [
            "--no-huge".to_owned(),
            "-m".to_owned(),
            mem_mb.to_string(),
            "--no-pci".to_owned(),
            "--no-shconf".to_owned(),
            "-l".to_owned(),
            "0".to_owned(),
            "--file-prefix".to_owned(),
            prefix.clone(),
            "--log-level".to_owned(),
            "lib.eal:error".to_owned(),
        ];
        let eal = Eal::init(args)?;
        // Nothing attaches to this process: its runtime dir is not needed.
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
        Ok(eal)
    }

    /// The arguments EAL was started with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The DPDK version string, e.g. "DPDK 22.11.11".
    pub fn version() -> String {
        // SAFETY: rte_version returns a static NUL-terminated string.
        unsafe {
            std::ffi::CStr::from_ptr(sfc_ffi::rte_version())
                .to_string_lossy()
                .into_owned()
        }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: EAL was initialised by this handle; by the ownership rule
        // above nothing DPDK-backed outlives it.
        unsafe {
            sfc_ffi::rte_eal_cleanup();
        }
    }
}
