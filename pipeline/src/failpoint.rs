//! Crash points for the tests that kill ifr in the middle of publishing: with
//! `IFR_FAILPOINT=<name>:<n>` in the environment, the process aborts (as `kill -9` would end it:
//! no destructor, no clean-up) the n-th time it reaches the point `<name>`; with
//! `IFR_FAILPOINT=<name>:<n>:error`, a point checked with [`fails`] makes the run fail there with an
//! error instead. Unset, a point costs one lookup of a value read once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The armed point: its name, after how many hits, and whether it errs instead of aborting.
static ARMED: OnceLock<Option<(String, usize, bool)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

fn armed_now(name: &str) -> Option<bool> {
    let armed = ARMED.get_or_init(|| {
        let v = std::env::var("IFR_FAILPOINT").ok()?;
        let mut parts = v.split(':');
        let (n, k) = (parts.next()?, parts.next()?.parse().ok()?);
        Some((n.to_string(), k, parts.next() == Some("error")))
    });
    let (n, k, error) = armed.as_ref()?;
    (n == name && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *k).then_some(*error)
}

/// Reached a crash point: abort if it is the armed one, the armed number of times.
pub fn hit(name: &str) {
    if armed_now(name) == Some(false) {
        std::process::abort();
    }
}

/// Reached a failure point: true if the run is to fail here (armed with `:error`).
pub fn fails(name: &str) -> bool {
    armed_now(name) == Some(true)
}
