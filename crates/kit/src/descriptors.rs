//! File descriptors: enough for every call the server admits.
//!
//! Each call in flight can hold several descriptors: the caller's connection (HTTP/2
//! multiplexes, but a burst of separate clients opens one each) and one connection per
//! vendor it is waiting on (plate-service's LookupVehicle asks two at once). With the
//! common soft limit of 1024 and the default `max_concurrent_requests` of 1024, a burst of
//! slow calls ran out of descriptors and vendor calls failed with EMFILE, which looks like
//! a vendor outage. So, at start:
//!
//! * the soft `RLIMIT_NOFILE` is raised to the hard limit. The soft limit stays low by
//!   default only for programs that use `select(2)`, whose descriptor sets cannot go past
//!   1024; tokio uses epoll. Where the hard limit is low too (or raising is refused), it
//!   stays as it is;
//! * `max_concurrent_requests` is lowered, with a warning naming both numbers and the fix,
//!   to what the limit allows. A refusal to start would make a setting that works on one
//!   host a crash loop on another; a lower cap only turns the excess of a burst into
//!   RESOURCE_EXHAUSTED with RetryInfo, which clients retry elsewhere, instead of vendor
//!   failures.
//!
//! The limit is per process: `axle up` runs several servers in one, and each is checked
//! against the whole limit (run it with a raised limit, as it raises the soft one itself).

/// Descriptors kept for the process itself: listeners, the metrics and webhook
/// endpoints, the callback store, log files, the runtime's epoll and eventfds.
pub const RESERVED: u64 = 64;

/// Descriptors one call in flight may hold: its caller's connection and up to two
/// vendor connections.
pub const PER_CALL: u64 = 3;

/// Where the soft limit is "unlimited" (no real system allows that for descriptors), or
/// the hard limit is, this is used instead: Linux's default `fs.nr_open`.
const UNLIMITED: u64 = 1 << 20;

/// The process's descriptor limit after trying to raise the soft limit to the hard one,
/// and what it was before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub before: u64,
    pub now: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit where allowed; `None` where the
/// limit cannot be read (not a Unix system).
#[cfg(unix)]
pub fn raise_limit() -> Option<Limit> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    let before = current.current.unwrap_or(UNLIMITED);
    let hard = current.maximum.unwrap_or(UNLIMITED);
    if hard <= before {
        return Some(Limit {
            before,
            now: before,
        });
    }
    let raised = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: current.maximum,
        },
    );
    let now = match raised {
        Ok(()) => hard,
        Err(e) => {
            tracing::debug!(error = %e, before, hard, "cannot raise the open-file limit");
            before
        }
    };
    Some(Limit { before, now })
}

#[cfg(not(unix))]
pub fn raise_limit() -> Option<Limit> {
    None
}

/// How many calls may be in flight at once with `fd_limit` descriptors, given the
/// configured `requested`: `requested` itself when the descriptors allow it, else as many
/// as they allow (at least one: a server that refuses everything helps nobody).
pub fn concurrency_within(fd_limit: Option<u64>, requested: usize) -> usize {
    let Some(limit) = fd_limit else {
        return requested;
    };
    let affordable = limit.saturating_sub(RESERVED) / PER_CALL;
    let affordable = usize::try_from(affordable).unwrap_or(usize::MAX).max(1);
    requested.min(affordable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_kept_when_descriptors_allow_it() {
        assert_eq!(concurrency_within(Some(1_048_576), 1024), 1024);
        // 64 + 3 * 1024 = 3136 descriptors are exactly enough.
        assert_eq!(concurrency_within(Some(3136), 1024), 1024);
        assert_eq!(concurrency_within(None, 1024), 1024, "unknown: unchanged");
    }

    #[test]
    fn the_cap_is_lowered_to_what_descriptors_allow() {
        // The defect: 1024 calls allowed with 1024 descriptors.
        assert_eq!(concurrency_within(Some(1024), 1024), 320);
        assert_eq!(concurrency_within(Some(3135), 1024), 1023);
        // Never below one, however low the limit.
        assert_eq!(concurrency_within(Some(10), 1024), 1);
        assert_eq!(concurrency_within(Some(0), 1024), 1);
        // A lower cap than descriptors allow is the operator's choice.
        assert_eq!(concurrency_within(Some(1024), 16), 16);
    }

    #[cfg(unix)]
    #[test]
    fn raising_never_lowers_the_limit() {
        let first = raise_limit().expect("readable on Unix");
        assert!(first.now >= first.before);
        let again = raise_limit().expect("readable on Unix");
        assert_eq!(again.before, again.now, "already at the hard limit");
        assert!(again.now >= first.now);
    }
}
