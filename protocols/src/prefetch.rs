//! Cache prefetch hints, for the simulator's event loop.
//!
//! Simulated nodes are touched in random order, so nearly every event begins
//! with cache misses on the state of the node it runs at. The engine looks a
//! few events ahead and asks the CPU to start loading that state early
//! ([`prefetch`]); protocols can add what lies behind their pointers
//! ([`crate::Peer::prefetch`]). A hint never changes a result: it reads no
//! memory (it cannot fault) and is a no-op on targets without one.

/// Cache line size assumed for the hints.
pub const LINE: usize = 64;

/// Hints that the `bytes` bytes starting at `p` will be read soon.
///
/// The project's only `unsafe` (the workspace denies it everywhere else):
/// the intrinsic is `unsafe` to call only because it is a `target_feature`
/// function; see the SAFETY note.
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch<T>(p: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = p as *const i8;
        let mut off = 0;
        while off < bytes.max(1) {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has
            // (it is in the target's baseline features). A prefetch only
            // forms an address (`wrapping_add`) and never faults or reads it
            // into a program-visible place.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(off)) };
            off += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (p, bytes);
    }
}

/// Hints that the first `max` elements of `v` will be read soon.
#[inline(always)]
pub fn prefetch_slice<T>(v: &[T], max: usize) {
    if !v.is_empty() {
        prefetch(v.as_ptr(), std::mem::size_of_val(v).min(max * std::mem::size_of::<T>()));
    }
}
