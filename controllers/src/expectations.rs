//! What a controller has asked for and its cache has not shown yet
//! (upstream's `ControllerExpectations`): the pods it created and the pods
//! it deleted, per owner. Until the cache has caught up, the owner's counts
//! are stale, and acting on them would create or delete twice. Kept in
//! memory only: a new leader starts with none and trusts its fresh lists.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::queue::Key;

/// How long unobserved creates and deletes hold an owner back: a watch
/// event lost for good must not stop it forever.
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
struct Pending {
    /// Names of pods created and not yet seen in the cache.
    creates: HashSet<String>,
    /// UIDs of pods deleted and still in the cache unmarked.
    deletes: HashSet<String>,
    since: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Expectations {
    pending: Mutex<HashMap<Key, Pending>>,
}

impl Expectations {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn created(&self, owner: &Key, pod_name: String) {
        let mut all = self.lock();
        let p = all.entry(owner.clone()).or_default();
        p.since.get_or_insert_with(Instant::now);
        p.creates.insert(pod_name);
    }

    pub fn deleted(&self, owner: &Key, pod_uid: Option<String>) {
        let mut all = self.lock();
        let p = all.entry(owner.clone()).or_default();
        p.since.get_or_insert_with(Instant::now);
        p.deletes.extend(pod_uid);
    }

    /// The owner is gone: nothing more to wait for.
    pub fn forget(&self, owner: &Key) {
        self.lock().remove(owner);
    }

    /// Whether every create and delete asked for on behalf of `owner` shows
    /// in `pods` (the cache of its namespace), or has been waited for long enough.
    pub fn met(&self, owner: &Key, pods: &[Arc<Pod>]) -> bool {
        let mut all = self.lock();
        let Some(p) = all.get_mut(owner) else { return true };
        let names: HashSet<&str> = pods.iter().filter_map(|p| p.metadata.name.as_deref()).collect();
        p.creates.retain(|name| !names.contains(name.as_str()));
        let live: HashSet<&str> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        p.deletes.retain(|uid| live.contains(uid.as_str()));
        let met = (p.creates.is_empty() && p.deletes.is_empty()) || p.since.is_some_and(|t| t.elapsed() > TIMEOUT);
        if met {
            all.remove(owner);
        }
        met
    }
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;

    use super::*;

    fn pod(name: &str, uid: &str, deleting: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(uid.into()),
                deletion_timestamp: deleting.then_some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                )),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    #[test]
    fn creates_and_deletes_are_met_once_the_cache_shows_them() {
        let e = Expectations::default();
        let owner = Key::new(Some("ns"), "rs");
        assert!(e.met(&owner, &[]));
        e.created(&owner, "a".into());
        e.deleted(&owner, Some("uid-b".into()));
        let b = pod("b", "uid-b", false);
        assert!(!e.met(&owner, &[Arc::clone(&b)]), "a not seen, b still live");
        assert!(!e.met(&owner, &[pod("a", "uid-a", false), Arc::clone(&b)]), "b still live");
        assert!(e.met(&owner, &[pod("a", "uid-a", false), pod("b", "uid-b", true)]));
        assert!(e.met(&owner, &[]), "met expectations are dropped");
    }
}
