//! SIGTERM and SIGINT as a flag the host's event loop polls: the node then
//! leaves gracefully (the protocol says goodbye) instead of vanishing.
//! SIGKILL cannot be caught: it is the "crash" of a churn schedule.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A flag set when SIGTERM or SIGINT arrives.
pub fn term_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, flag.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    Ok(flag)
}
