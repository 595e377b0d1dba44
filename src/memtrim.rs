//! Gives the allocator's free memory back to the system between the steps
//! of a run (Linux with glibc).
//!
//! A long run with churn frees node state all the time while new nodes
//! allocate theirs. glibc returns free memory to the system only from the
//! top of each heap, so with two threads (two arenas, whose allocations
//! interleave differently in every run) the free holes inside the heaps
//! stay resident: the peak RSS of one binary on one scenario, with
//! byte-identical outputs, varied between runs. `malloc_trim(0)` releases
//! every free page in every arena; the run calls it at each of its 200
//! progress steps (`swarmlab run` and `swarmlab bench`; not the many
//! small parallel runs of `compare` and `run --reps`).
//!
//! Measured (`results/perf/README.md`, "Free memory back between steps"):
//! hybrid, 100,000 peers x 600 simulated s, two threads. Outputs never
//! depend on it (memory addresses never reach them).
//!
//! Set `SWARMLAB_MALLOC_TRIM=0` to turn it off; nothing happens on other
//! systems.

/// Releases the free memory of every allocator arena to the system.
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if !*ON.get_or_init(|| std::env::var_os("SWARMLAB_MALLOC_TRIM").is_none_or(|v| v != "0")) {
            return;
        }
        #[allow(unsafe_code, reason = "FFI: glibc's malloc_trim takes a size and touches no Rust memory")]
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim is thread-safe (it locks each arena) and only
        // returns free pages to the system.
        #[allow(unsafe_code, reason = "FFI call, see above")]
        unsafe {
            malloc_trim(0);
        }
    }
}
