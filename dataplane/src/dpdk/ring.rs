//! `rte_ring`s of mbufs, and ports made of them (`rte_eth_from_rings`): a
//! test or a generator in the same process puts frames into a port and takes
//! what the engine sent out of another, byte for byte.

use std::ffi::{c_void, CString};
use std::ptr::NonNull;
use std::sync::Arc;

use super::error::{rte_errno, strerror, DpdkError, Result};
use super::mbuf::Mbuf;

/// A multi-producer, multi-consumer ring of mbufs.
#[derive(Debug)]
pub struct Ring {
    ptr: NonNull<sfc_ffi::rte_ring>,
    name: String,
}

// SAFETY: the ring is created MP/MC, so every operation is thread-safe.
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

impl Ring {
    /// A ring of `size` slots (a power of two; one is kept empty).
    pub fn new(name: &str, size: u32) -> Result<Arc<Ring>> {
        let err = |errno: i32| DpdkError::PortUsage {
            port: name.to_owned(),
            msg: format!(
                "ring create failed: {} (rte_errno {errno})",
                strerror(errno)
            ),
        };
        let cname = CString::new(name).map_err(|_| err(22))?;
        // SAFETY: valid C string; flags 0 = MP/MC.
        let p = unsafe {
            sfc_ffi::rte_ring_create(cname.as_ptr(), size, sfc_ffi::rte_socket_id() as i32, 0)
        };
        NonNull::new(p)
            .map(|ptr| {
                Arc::new(Ring {
                    ptr,
                    name: name.to_owned(),
                })
            })
            .ok_or_else(|| err(rte_errno()))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn as_ptr(&self) -> *mut sfc_ffi::rte_ring {
        self.ptr.as_ptr()
    }

    /// Puts one mbuf in; gives it back if the ring is full.
    pub fn enqueue(&self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let raw = m.into_raw();
        // SAFETY: the ring holds mbuf pointers; on success it owns `raw`.
        let ret = unsafe { sfc_ffi::rte_ring_enqueue(self.ptr.as_ptr(), raw.cast::<c_void>()) };
        if ret == 0 {
            Ok(())
        } else {
            // SAFETY: the ring refused it: we still own it.
            match unsafe { Mbuf::from_raw(raw) } {
                Some(m) => Err(m),
                None => Ok(()),
            }
        }
    }

    /// Takes one mbuf out.
    pub fn dequeue(&self) -> Option<Mbuf> {
        let mut obj: *mut c_void = std::ptr::null_mut();
        // SAFETY: out pointer to a local; what comes out is an mbuf that
        // was put in by enqueue or a ring PMD and is now ours.
        let ret = unsafe { sfc_ffi::rte_ring_dequeue(self.ptr.as_ptr(), &mut obj) };
        if ret != 0 {
            return None;
        }
        // SAFETY: as above.
        unsafe { Mbuf::from_raw(obj.cast()) }
    }

    /// Entries waiting.
    pub fn count(&self) -> u32 {
        // SAFETY: valid ring.
        unsafe { sfc_ffi::rte_ring_count(self.ptr.as_ptr()) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        while self.dequeue().is_some() {}
        // SAFETY: created by this handle; ports using it hold the Arc, so
        // none is left.
        unsafe { sfc_ffi::rte_ring_free(self.ptr.as_ptr()) }
    }
}
