//! The work queue of one controller, with client-go's guarantees: a key is
//! queued at most once however often it is added, one key is never
//! reconciled by two workers at once, and a key added while it is being
//! reconciled runs again afterwards. Failures retry with a per-key
//! exponential back-off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// An object's namespace ("" for cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(namespace: Option<&str>, name: &str) -> Key {
        Key { namespace: namespace.unwrap_or_default().to_string(), name: name.to_string() }
    }

    pub fn of(meta: &kube::api::ObjectMeta) -> Key {
        Key::new(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() { f.write_str(&self.name) } else { write!(f, "{}/{}", self.namespace, self.name) }
    }
}

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until the key is added again.
    Done,
    /// Look again after this long (a deadline, a wait for availability).
    After(Duration),
}

#[derive(Debug, Default)]
struct State {
    order: VecDeque<Key>,
    /// Queued, or to be queued when its reconcile ends.
    dirty: HashSet<Key>,
    processing: HashSet<Key>,
    failures: HashMap<Key, u32>,
}

#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<State>,
    ready: Notify,
}

const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

impl Queue {
    pub fn new() -> Arc<Queue> {
        Arc::new(Queue::default())
    }

    pub fn add(&self, key: Key) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.dirty.insert(key.clone()) {
            return;
        }
        if !state.processing.contains(&key) {
            state.order.push_back(key);
            drop(state);
            self.ready.notify_one();
        }
    }

    pub fn add_after(self: &Arc<Self>, key: Key, delay: Duration) {
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).order.len()
    }

    async fn take(&self) -> Key {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(key) = state.order.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Ends a reconcile; returns the back-off for a failure.
    fn finish(&self, key: &Key, failed: bool) -> Option<Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.processing.remove(key);
        let backoff = if failed {
            let n = state.failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            Some(BACKOFF_BASE.saturating_mul(1 << (*n - 1).min(20)).min(BACKOFF_MAX))
        } else {
            state.failures.remove(key);
            None
        };
        if state.dirty.contains(key) {
            state.order.push_back(key.clone());
            drop(state);
            self.ready.notify_one();
        }
        backoff
    }
}

/// The workers of one controller; dropping it stops them. A controller's
/// run future holds it, so aborting the controllers (a lost Lease) stops
/// its workers too: none outlives the Lease.
#[derive(Debug)]
pub struct Workers(tokio::task::JoinHandle<()>);

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts `workers` reconcilers over `queue` until the handle is dropped.
pub fn spawn_workers<F, Fut, E>(queue: Arc<Queue>, workers: usize, name: &'static str, reconcile: F) -> Workers
where
    F: Fn(Key) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Next, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    Workers(tokio::spawn(work(queue, workers, name, reconcile)))
}

/// Runs `workers` reconcilers over `queue`. Never returns.
pub async fn work<F, Fut, E>(queue: Arc<Queue>, workers: usize, name: &'static str, reconcile: F)
where
    F: Fn(Key) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Next, E>> + Send,
    E: std::fmt::Display,
{
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = Arc::clone(&queue);
        let reconcile = reconcile.clone();
        tasks.spawn(async move {
            loop {
                let key = queue.take().await;
                let result = reconcile(key.clone()).await;
                let failed = result.is_err();
                let backoff = queue.finish(&key, failed);
                match result {
                    Ok(Next::Done) => {}
                    Ok(Next::After(delay)) => queue.add_after(key, delay),
                    Err(e) => {
                        let delay = backoff.unwrap_or(BACKOFF_BASE);
                        tracing::warn!(controller = name, %key, "reconcile failed, retrying in {delay:?}: {e}");
                        queue.add_after(key, delay);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key::new(Some("ns"), name)
    }

    #[tokio::test]
    async fn a_key_is_queued_once_and_rerun_if_added_while_processing() {
        let q = Queue::new();
        q.add(key("a"));
        q.add(key("a"));
        q.add(key("b"));
        assert_eq!(q.len(), 2);
        let first = q.take().await;
        assert_eq!(first, key("a"));
        q.add(key("a")); // while processing: not queued yet
        assert_eq!(q.len(), 1);
        assert_eq!(q.finish(&first, false), None);
        assert_eq!(q.len(), 2); // queued again behind b
        assert_eq!(q.take().await, key("b"));
        assert_eq!(q.take().await, key("a"));
    }

    #[tokio::test]
    async fn failures_back_off_exponentially_and_reset_on_success() {
        let q = Queue::new();
        q.add(key("a"));
        let k = q.take().await;
        assert_eq!(q.finish(&k, true), Some(BACKOFF_BASE));
        q.add(key("a"));
        let k = q.take().await;
        assert_eq!(q.finish(&k, true), Some(BACKOFF_BASE * 2));
        q.add(key("a"));
        let k = q.take().await;
        assert_eq!(q.finish(&k, false), None);
        q.add(key("a"));
        let k = q.take().await;
        assert_eq!(q.finish(&k, true), Some(BACKOFF_BASE));
    }

    #[tokio::test]
    async fn dropped_workers_reconcile_nothing_more() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let q = Queue::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let workers = spawn_workers(Arc::clone(&q), 2, "test", move |_key| {
            let counted = Arc::clone(&counted);
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(Next::After(Duration::from_millis(10)))
            }
        });
        q.add(key("a"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(runs.load(Ordering::SeqCst) >= 2, "requeued after its delay");
        drop(workers);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stopped_at = runs.load(Ordering::SeqCst);
        q.add(key("b"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), stopped_at, "no reconcile after the workers were dropped");
    }
}
