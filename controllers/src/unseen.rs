//! The writes a controller made that its informer's cache does not show yet
//! (upstream's `EndpointSliceTracker`, by resourceVersion instead of
//! generation). A controller that syncs on a cache missing its own last
//! write would redo it: a create under `generateName` would make a second
//! object, an update would be refused with a 409. So it waits until the
//! cache has caught up, or gives up waiting after [`TIMEOUT`].

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::informer::Informer;
use crate::queue::Key;

/// How long a write may stay unseen in the cache before it is given up on.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What the cache must show of an object that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Created: the object is there.
    Present,
    /// Updated or deleted: the object is no longer at this resourceVersion.
    Not(String),
}

impl Seen {
    /// Whether a cache holding the object at `version` (`None`: not at all) shows the write.
    fn met_by(&self, version: Option<&str>) -> bool {
        match self {
            Seen::Present => version.is_some(),
            Seen::Not(old) => version != Some(old.as_str()),
        }
    }
}

#[derive(Debug)]
struct Expectation {
    name: String,
    seen: Seen,
    since: Instant,
}

/// Unseen writes, grouped by the key of the object they were made for.
#[derive(Debug, Default)]
pub struct Unseen {
    by_owner: Mutex<HashMap<Key, Vec<Expectation>>>,
}

impl Unseen {
    /// Notes a write of the object `name` (in the owner's namespace) for `owner`.
    pub fn expect(&self, owner: &Key, name: String, seen: Seen) {
        let mut all = self.by_owner.lock().unwrap_or_else(|e| e.into_inner());
        let list = all.entry(owner.clone()).or_default();
        list.retain(|e| e.name != name);
        list.push(Expectation { name, seen, since: Instant::now() });
    }

    /// Whether `cache` still lacks some of the writes made for `owner`.
    pub fn pending<K>(&self, owner: &Key, cache: &Informer<K>) -> bool
    where
        K: kube::Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let mut all = self.by_owner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = all.get_mut(owner) else { return false };
        list.retain(|e| {
            let cached = cache.get(Some(&owner.namespace), &e.name);
            let version = cached.as_ref().map(|o| o.meta().resource_version.clone().unwrap_or_default());
            !e.seen.met_by(version.as_deref()) && e.since.elapsed() < TIMEOUT
        });
        let pending = !list.is_empty();
        if !pending {
            all.remove(owner);
        }
        pending
    }

    /// Whether any write for `owner` is still to be seen (without checking the cache).
    pub fn waiting(&self, owner: &Key) -> bool {
        self.by_owner.lock().unwrap_or_else(|e| e.into_inner()).contains_key(owner)
    }

    pub fn forget(&self, owner: &Key) {
        self.by_owner.lock().unwrap_or_else(|e| e.into_inner()).remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_seen_once_the_cache_has_moved_past_it() {
        assert!(!Seen::Present.met_by(None), "created, not in the cache yet");
        assert!(Seen::Present.met_by(Some("5")));
        let replaced = Seen::Not("5".into());
        assert!(!replaced.met_by(Some("5")), "the cache still shows the version replaced");
        assert!(replaced.met_by(Some("6")));
        assert!(replaced.met_by(None), "deleted (by us or since)");
    }
}
