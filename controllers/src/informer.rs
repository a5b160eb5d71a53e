//! Shared informers: one watch per kind for all the controllers of this
//! process, a local cache of its objects (kube-runtime's reflector store)
//! and a broadcast of what changed. A controller reads the cache and turns
//! changes into keys for its [`Queue`](crate::queue::Queue); a change it
//! missed (a lagging receiver) is made good by enqueueing everything.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

/// What a subscriber hears.
#[derive(Debug, Clone)]
pub enum Change<K> {
    /// Created or changed; the object as it now is.
    Applied(Arc<K>),
    /// Gone; the object as it last was.
    Deleted(Arc<K>),
    /// The watch was (re)listed: anything may have changed.
    Relisted,
}

/// The cache and change feed of one kind.
pub struct Informer<K: kube::Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    pub store: Store<K>,
    changes: broadcast::Sender<Change<K>>,
    /// True once the first list is in the store. (The store's own
    /// `wait_until_ready` wakes only one of several waiters.)
    listed: tokio::sync::watch::Receiver<bool>,
}

impl<K: kube::Resource + Clone + 'static> Debug for Informer<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer").field("objects", &self.store.len()).finish()
    }
}

/// How many changes a slow subscriber may fall behind before it relists.
const BACKLOG: usize = 4096;

impl<K> Informer<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    /// Starts watching `api` on `tasks` (the watch ends with the set).
    pub fn start(tasks: &mut JoinSet<()>, api: Api<K>, config: watcher::Config) -> Arc<Self> {
        let (store, writer) = reflector::store();
        let (changes, _) = broadcast::channel(BACKLOG);
        let (listed_tx, listed) = tokio::sync::watch::channel(false);
        let informer = Arc::new(Informer { store, changes: changes.clone(), listed });
        tasks.spawn(async move {
            let mut events = watcher(api, config).default_backoff().reflect(writer).boxed();
            while let Some(event) = events.next().await {
                let change = match event {
                    Ok(watcher::Event::Apply(obj)) => Change::Applied(Arc::new(obj)),
                    Ok(watcher::Event::Delete(obj)) => Change::Deleted(Arc::new(obj)),
                    Ok(watcher::Event::InitDone) => {
                        tracing::debug!(kind = %K::kind(&()), "listed");
                        listed_tx.send_replace(true);
                        Change::Relisted
                    }
                    Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                    Err(e) => {
                        tracing::debug!(kind = %K::kind(&()), "watch failed, retrying: {e}");
                        continue;
                    }
                };
                // No subscriber yet is fine: they read the store when they start.
                let _ = changes.send(change);
            }
        });
        informer
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change<K>> {
        self.changes.subscribe()
    }

    /// Waits for the first complete list.
    pub async fn ready(&self) {
        let mut listed = self.listed.clone();
        let _ = listed.wait_for(|done| *done).await;
    }

    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        let key = ObjectRef::new(name);
        let key = match namespace {
            Some(ns) if !ns.is_empty() => key.within(ns),
            _ => key,
        };
        self.store.get(&key)
    }

    /// The cached objects of one namespace.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        self.store.state_filter(|o| o.meta().namespace.as_deref() == Some(namespace))
    }
}

/// Receives the next change, turning a lag into [`Change::Relisted`];
/// `None` when the informer is gone.
pub async fn next<K: Clone>(rx: &mut broadcast::Receiver<Change<K>>) -> Option<Change<K>> {
    match rx.recv().await {
        Ok(change) => Some(change),
        Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Relisted),
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

/// Turns one informer's changes into work until the informer is gone:
/// `changed` for each object applied or deleted, `relisted` when anything
/// may have changed (a relist, or changes this subscriber missed).
pub async fn feed<K: Clone>(mut rx: broadcast::Receiver<Change<K>>, relisted: impl Fn(), changed: impl Fn(&K)) {
    while let Some(change) = next(&mut rx).await {
        match change {
            Change::Applied(obj) | Change::Deleted(obj) => changed(&obj),
            Change::Relisted => relisted(),
        }
    }
}
