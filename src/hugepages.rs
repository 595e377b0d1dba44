//! Transparent huge pages for simulation commands (Linux with glibc).
//!
//! A simulated node's state is touched in random order, so at 10^4-10^5
//! peers nearly every event misses the TLB as well as the caches: with 4 KiB
//! pages the TLB covers a few MiB of a working set of hundreds of MiB. Linux
//! backs memory with 2 MiB pages when the program asks (`madvise`, the
//! default setting of `/sys/kernel/mm/transparent_hugepage/enabled`), and
//! glibc's allocator asks when the tunable `glibc.malloc.hugetlb=1` is set —
//! which can only happen before the process starts. So the simulation
//! commands re-execute the binary once with it set.
//!
//! Measured on the 2-core VM (`results/perf/profile.md`): 100,000-peer
//! mesh-pull, 120 simulated s, 212 s -> 156 s of CPU (-27%), peak RSS
//! 751 -> 759 MB; outputs byte-identical (memory addresses never reach them).
//!
//! Nothing happens when `GLIBC_TUNABLES` is already set (set it to an empty
//! string to opt out), on other systems, or when the re-execution fails (the
//! run goes on with ordinary pages).

/// Re-executes the current binary with huge pages enabled, once; returns
/// when that is not possible or not needed.
pub fn enable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        const VAR: &str = "GLIBC_TUNABLES";
        if std::env::var_os(VAR).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let Some(argv0) = args.next() else { return };
        // `exec` returns only on failure; then carry on without.
        let _ = std::process::Command::new(exe).arg0(argv0).args(args).env(VAR, "glibc.malloc.hugetlb=1").exec();
    }
}
