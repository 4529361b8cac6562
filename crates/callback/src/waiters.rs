//! In-process wake-ups for callers waiting on a key.
//!
//! When this process stores an answer or settles a submission for a key, everyone here
//! waiting on that key looks at the store again at once. Callers on other replicas
//! learn the same by polling the store; the wake-up only saves this replica the wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

type Slots = HashMap<(String, String), Arc<Notify>>;

/// Callers waiting for something to happen to a `(vendor, key)`. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Waiters(Arc<Mutex<Slots>>);

/// A registration; dropping it (answered, timed out, cancelled) removes the entry once
/// nobody else waits on the key, so the map never outgrows the callers in flight.
#[derive(Debug)]
pub struct WaitGuard {
    waiters: Waiters,
    slot: (String, String),
    notify: Arc<Notify>,
}

impl WaitGuard {
    /// Completes at the next wake-up of the key. Create it *before* looking in the store,
    /// so that an answer stored between the look and the wait is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let mut map = self.waiters.lock();
        // The map's reference and ours: we are the last waiter.
        if Arc::strong_count(&self.notify) <= 2 {
            map.remove(&self.slot);
        }
    }
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn register(&self, vendor: &str, key: &str) -> WaitGuard {
        let slot = (vendor.to_owned(), key.to_owned());
        let notify = self.lock().entry(slot.clone()).or_default().clone();
        WaitGuard {
            waiters: self.clone(),
            slot,
            notify,
        }
    }

    /// Wakes everyone waiting on the key (nobody waiting: nothing happens).
    pub fn wake(&self, vendor: &str, key: &str) {
        if let Some(n) = self.lock().get(&(vendor.to_owned(), key.to_owned())) {
            n.notify_waiters();
        }
    }

    /// Keys with someone waiting (diagnostics, tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn waiters_leave_no_entry_behind() {
        let w = Waiters::default();
        let a = w.register("platecb", "粤B12345");
        let b = w.register("platecb", "粤B12345");
        let other_vendor = w.register("apistore", "粤B12345");
        assert_eq!(w.len(), 2, "keys are per vendor");
        let woken = {
            let n = b.notified();
            w.wake("platecb", "粤B12345");
            tokio::time::timeout(Duration::from_secs(5), n).await
        };
        assert!(woken.is_ok(), "a registered waiter is woken");
        let not_woken = {
            let n = other_vendor.notified();
            w.wake("platecb", "粤B12345");
            tokio::time::timeout(Duration::from_millis(50), n).await
        };
        assert!(not_woken.is_err(), "another vendor's key is not woken");
        drop(a);
        assert_eq!(w.len(), 2, "b still waits");
        drop(b);
        drop(other_vendor);
        assert!(w.is_empty(), "timed-out or answered callers leave nothing");
        // Waking a key nobody waits on is harmless.
        w.wake("platecb", "粤B99999");
        assert!(w.is_empty());
    }
}
