//! DPDK's `rte_hash`, wrapped for one purpose: the peer that sfcd's own MAC
//! table is benchmarked against (8-byte keys, 8-byte values).

use std::ffi::{c_void, CString};
use std::ptr::NonNull;

use super::error::{rte_errno, strerror, DpdkError, Result};

/// An `rte_hash` of u64 -> u64.
#[derive(Debug)]
pub struct RteHash {
    ptr: NonNull<sfc_ffi::rte_hash>,
    name: String,
}

impl RteHash {
    /// A table for `entries` keys (EAL must be up).
    pub fn new(name: &str, entries: u32) -> Result<Self> {
        let err = |op, errno: i32| DpdkError::Hash {
            name: name.to_owned(),
            op,
            errno,
            msg: strerror(errno),
        };
        let cname = CString::new(name).map_err(|_| err("create", 22))?;
        let params = sfc_ffi::rte_hash_parameters {
            name: cname.as_ptr(),
            entries: entries.max(8),
            key_len: 8,
            hash_func: Some(sfc_ffi::rte_hash_crc),
            hash_func_init_val: 0,
            socket_id: 0,
            ..Default::default()
        };
        // SAFETY: params points to valid data for the call (the name is
        // copied by DPDK).
        let ptr = unsafe { sfc_ffi::rte_hash_create(&params) };
        NonNull::new(ptr)
            .map(|ptr| Self {
                ptr,
                name: name.to_owned(),
            })
            .ok_or_else(|| err("create", rte_errno()))
    }

    pub fn insert(&mut self, key: u64, value: u64) -> Result<()> {
        // SAFETY: key points to 8 readable bytes; the value is stored as a
        // pointer-sized integer, never dereferenced.
        let ret = unsafe {
            sfc_ffi::rte_hash_add_key_data(
                self.ptr.as_ptr(),
                (&key as *const u64).cast(),
                value as *mut c_void,
            )
        };
        if ret < 0 {
            return Err(DpdkError::Hash {
                name: self.name.clone(),
                op: "add",
                errno: -ret,
                msg: strerror(-ret),
            });
        }
        Ok(())
    }

    /// Up to 64 keys at once: `out[i]` is the value of `keys[i]`.
    pub fn lookup_bulk(&self, keys: &[u64], out: &mut [Option<u64>]) {
        let n = keys.len().min(out.len()).min(64);
        let mut key_ptrs = [std::ptr::null::<c_void>(); 64];
        for (p, k) in key_ptrs.iter_mut().zip(keys) {
            *p = (k as *const u64).cast();
        }
        let mut data = [std::ptr::null_mut::<c_void>(); 64];
        let mut hits: u64 = 0;
        // SAFETY: n <= 64 valid key pointers into `keys` (alive for the
        // call), out arrays of 64 entries.
        unsafe {
            sfc_ffi::rte_hash_lookup_bulk_data(
                self.ptr.as_ptr(),
                key_ptrs.as_mut_ptr(),
                n as u32,
                &mut hits,
                data.as_mut_ptr(),
            );
        }
        for i in 0..n {
            out[i] = (hits & (1 << i) != 0).then_some(data[i] as u64);
        }
    }
}

impl Drop for RteHash {
    fn drop(&mut self) {
        // SAFETY: created by this handle, freed once.
        unsafe { sfc_ffi::rte_hash_free(self.ptr.as_ptr()) }
    }
}
