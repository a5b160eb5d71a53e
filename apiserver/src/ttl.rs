//! Objects that expire: Events live for kube-apiserver's `--event-ttl`
//! (one hour by default) and then vanish from the store by themselves,
//! through a store lease attached when they are written. As upstream's
//! lease manager does, one lease is shared by everything written within a
//! minute, and granted for the TTL plus that minute, so that no object
//! lives less than the TTL and the store holds a handful of leases, not one
//! per event.

use std::time::{Duration, Instant};

use kvstore::datastore::{Datastore, DatastoreError};
use tokio::sync::Mutex;

use crate::catalog::Resource;

/// How long one lease is handed out before a new one is granted.
const REUSE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Expiry {
    ttl: Duration,
    current: Mutex<Option<(i64, Instant)>>,
}

impl Expiry {
    pub fn new(ttl: Duration) -> Expiry {
        Expiry { ttl, current: Mutex::new(None) }
    }

    /// The lease to write `resource` with: 0 (none) for resources that do not expire.
    pub async fn lease_for(&self, store: &dyn Datastore, resource: &Resource) -> Result<i64, DatastoreError> {
        if !expires(resource) || self.ttl.is_zero() {
            return Ok(0);
        }
        let mut current = self.current.lock().await;
        if let Some((id, granted)) = *current
            && granted.elapsed() < REUSE
        {
            return Ok(id);
        }
        let seconds = i64::try_from((self.ttl + REUSE).as_secs()).unwrap_or(i64::MAX);
        let id = store.grant_lease(seconds).await?;
        *current = Some((id, Instant::now()));
        Ok(id)
    }
}

/// Events (core and events.k8s.io) expire; nothing else does.
pub fn expires(resource: &Resource) -> bool {
    resource.plural == "events" && matches!(resource.group, "" | "events.k8s.io")
}
