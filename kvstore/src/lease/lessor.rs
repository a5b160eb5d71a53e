//! Deadlines of granted leases, kept in memory on every member and acted on by
//! the leader. Pure bookkeeping: no I/O, no timers of its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Deadline {
    ttl: i64,
    expires: Instant,
    /// When a revoke for this lease was last proposed, to avoid proposing it
    /// on every tick while the first one is in flight.
    revoking_since: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Lessor {
    leases: Mutex<HashMap<i64, Deadline>>,
}

impl Lessor {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Deadline>> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn granted(&self, id: i64, ttl: i64) {
        let expires = Instant::now() + Duration::from_secs(ttl.max(0) as u64);
        self.lock().insert(id, Deadline { ttl, expires, revoking_since: None });
    }

    pub fn revoked(&self, id: i64) {
        self.lock().remove(&id);
    }

    /// Extends a lease by its full TTL; `None` when it does not exist.
    pub fn renew(&self, id: i64) -> Option<i64> {
        let mut leases = self.lock();
        let d = leases.get_mut(&id)?;
        d.expires = Instant::now() + Duration::from_secs(d.ttl.max(0) as u64);
        d.revoking_since = None;
        Some(d.ttl)
    }

    /// Whole seconds left, truncated as etcd reports them.
    pub fn remaining(&self, id: i64) -> Option<i64> {
        let leases = self.lock();
        let d = leases.get(&id)?;
        Some(d.expires.saturating_duration_since(Instant::now()).as_secs() as i64)
    }

    /// Leases past their deadline that have no revoke in flight (or whose
    /// revoke was proposed more than `retry` ago). Marks them as revoking.
    pub fn take_expired(&self, retry: Duration) -> Vec<i64> {
        let now = Instant::now();
        let mut leases = self.lock();
        let mut expired: Vec<i64> = leases
            .iter_mut()
            .filter(|(_, d)| d.expires <= now && d.revoking_since.is_none_or(|t| now - t >= retry))
            .map(|(id, d)| {
                d.revoking_since = Some(now);
                *id
            })
            .collect();
        expired.sort_unstable();
        expired
    }

    /// Orders lease ids by expiry, soonest first, as etcd lists them.
    pub fn by_expiry(&self, ids: &mut [i64]) {
        let leases = self.lock();
        ids.sort_by_key(|id| (leases.get(id).map(|d| d.expires), *id));
    }

    /// A new leader restarts every lease's clock.
    pub fn promote(&self) {
        let now = Instant::now();
        for d in self.lock().values_mut() {
            d.expires = now + Duration::from_secs(d.ttl.max(0) as u64);
            d.revoking_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_renewal() {
        let lessor = Lessor::new();
        lessor.granted(1, 0);
        lessor.granted(2, 100);
        assert_eq!(lessor.take_expired(Duration::from_secs(5)), vec![1]);
        assert!(lessor.take_expired(Duration::from_secs(5)).is_empty(), "a revoke in flight is not proposed twice");
        assert_eq!(lessor.renew(2), Some(100));
        assert_eq!(lessor.renew(3), None);
        let left = lessor.remaining(2).expect("lease 2 exists");
        assert!((99..=100).contains(&left));
        lessor.revoked(1);
        assert_eq!(lessor.remaining(1), None);
    }
}
