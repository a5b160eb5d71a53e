//! The watch cache: LIST and WATCH served from memory, as kube-apiserver's
//! cacher serves them. Each storage prefix (`/registry/pods/`) that a client
//! lists or watches gets one [`Cacher`], started on first use: it lists the
//! prefix at one revision, then follows it with a single store watch, and
//! holds every object (the stored bytes, shared) plus a window of recent
//! events. Client watches are fed from that window and from the live
//! stream, so N watchers cost one store watch, and lists read no disk.
//!
//! Consistent reads ("the latest state") work as upstream's
//! consistent-list-from-cache: read the store's current revision, then wait
//! until the cache has seen it, asking the store watch for a progress
//! notification so that an idle prefix catches up at once.
//!
//! The cache never answers what it cannot answer exactly: a revision older
//! than its window, an exact-revision list, a continue token, a cache that
//! is not ready within [`FRESHNESS_WAIT`]: for those the caller goes to the
//! store, which has the history until compaction. It never decodes objects
//! and knows nothing of selectors or formats: it hands out key-values.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use kvstore::datastore::{
    Datastore, DatastoreError, EventKind, KeyValue, ListRequest, ListResult, WatchEvent, WatchMessage, WatchRequest,
    prefix_end,
};
use tokio::sync::{mpsc, watch};

/// How long a request waits for the cache to reach the revision it needs
/// before it is served from the store instead (upstream waits 3 s, then fails).
pub const FRESHNESS_WAIT: Duration = Duration::from_secs(3);
/// Revisions of history kept per prefix, for watches that resume from a
/// recent resourceVersion: at most this many, and at most [`HISTORY_BYTES`]
/// of keys and values, so that a busy prefix of large objects stays small.
const HISTORY: usize = 1024;
const HISTORY_BYTES: usize = 4 << 20;
/// Undelivered messages a client watch may have before it is closed; the
/// client then resumes from its last resourceVersion, as after any ended watch.
const WATCHER_BUFFER: usize = 256;
/// Objects read per page by the initial list.
const LIST_PAGE: i64 = 1000;
/// How long a failed store watch waits before the cacher lists again.
const RETRY: Duration = Duration::from_millis(500);

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Whatever the cache holds (`resourceVersion=0`).
    Any,
    /// At least this revision (`resourceVersionMatch=NotOlderThan`).
    AtLeast(i64),
    /// The store's latest revision at the time of the request (no resourceVersion).
    Latest,
}

/// The objects of a key range at one revision.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub revision: i64,
    pub kvs: Vec<Arc<KeyValue>>,
}

impl Snapshot {
    /// A page of the snapshot, as the store would answer a ranged list:
    /// keys from `start`, at most `limit` (0: all), `count` of every key from `start`.
    pub fn page(&self, start: &[u8], limit: i64) -> ListResult {
        let from = self.kvs.partition_point(|kv| kv.key.as_slice() < start);
        let rest = &self.kvs[from..];
        let take = if limit > 0 { rest.len().min(limit as usize) } else { rest.len() };
        ListResult {
            kvs: rest[..take].iter().map(|kv| KeyValue::clone(kv)).collect(),
            count: rest.len() as i64,
            more: take < rest.len(),
            revision: self.revision,
        }
    }
}

/// A client watch fed by the cache: the same messages a store watch sends.
/// When the receiver ends, the watch is over (the client resumes).
#[derive(Debug)]
pub struct CacheWatch {
    pub messages: mpsc::Receiver<WatchMessage>,
    wants_progress: Arc<AtomicBool>,
    poke: mpsc::Sender<()>,
}

impl CacheWatch {
    /// Asks for a [`WatchMessage::Progress`] once the cache has heard from
    /// the store, after every event before it (a bookmark's guarantee).
    pub fn request_progress(&self) {
        self.wants_progress.store(true, Ordering::Relaxed);
        let _ = self.poke.try_send(());
    }
}

/// Every cacher, by storage prefix.
#[derive(Debug)]
pub struct WatchCache {
    store: Arc<dyn Datastore>,
    cachers: Mutex<HashMap<Vec<u8>, Arc<Cacher>>>,
}

impl WatchCache {
    pub fn new(store: Arc<dyn Datastore>) -> WatchCache {
        WatchCache { store, cachers: Mutex::new(HashMap::new()) }
    }

    /// The cacher of a storage prefix, started if this is its first use.
    fn cacher(&self, root: &[u8]) -> Arc<Cacher> {
        let mut cachers = self.cachers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cacher) = cachers.get(root) {
            return cacher.clone();
        }
        let cacher = Cacher::start(self.store.clone(), root.to_vec());
        cachers.insert(root.to_vec(), cacher.clone());
        cacher
    }

    /// The objects of `[start, end)` within `root`, or `None` when the cache
    /// cannot answer in time (the caller reads the store).
    pub async fn snapshot(&self, root: &[u8], start: &[u8], end: &[u8], freshness: Freshness) -> Option<Snapshot> {
        let cacher = self.cacher(root);
        let wanted = self.wanted_revision(freshness).await?;
        cacher.wait_for(wanted).await?;
        let state = cacher.lock();
        let kvs = state.objects.range(start.to_vec()..end.to_vec()).map(|(_, kv)| kv.clone()).collect();
        Some(Snapshot { revision: state.revision, kvs })
    }

    /// A snapshot of `[start, end)` and a watch of every change after it, with
    /// no gap between them.
    pub async fn snapshot_and_watch(
        &self,
        root: &[u8],
        start: &[u8],
        end: &[u8],
        freshness: Freshness,
    ) -> Option<(Snapshot, CacheWatch)> {
        let cacher = self.cacher(root);
        let wanted = self.wanted_revision(freshness).await?;
        cacher.wait_for(wanted).await?;
        let mut state = cacher.lock();
        let kvs = state.objects.range(start.to_vec()..end.to_vec()).map(|(_, kv)| kv.clone()).collect();
        let revision = state.revision;
        let watch = state.add_watcher(start, end, revision, false, &cacher.progress)?;
        Some((Snapshot { revision, kvs }, watch))
    }

    /// Every change in `[start, end)` after `revision`, or `None` when the
    /// cache's window does not reach back that far (the store has it, or
    /// answers that it is compacted).
    pub async fn watch_from(&self, root: &[u8], start: &[u8], end: &[u8], revision: i64) -> Option<CacheWatch> {
        let cacher = self.cacher(root);
        cacher.wait_ready().await?;
        let mut state = cacher.lock();
        state.add_watcher(start, end, revision, true, &cacher.progress)
    }

    async fn wanted_revision(&self, freshness: Freshness) -> Option<i64> {
        match freshness {
            Freshness::Any => Some(0),
            Freshness::AtLeast(revision) => Some(revision),
            Freshness::Latest => self.store.current_revision().await.ok(),
        }
    }
}

/// One storage prefix, held in memory and followed.
#[derive(Debug)]
struct Cacher {
    root: Vec<u8>,
    state: Mutex<State>,
    /// The revision the cache has reached; 0 until the first list is in.
    revision: watch::Sender<i64>,
    /// Asks the feeding task for a progress notification from the store.
    progress: mpsc::Sender<()>,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<Vec<u8>, Arc<KeyValue>>,
    /// Everything up to this revision is reflected in `objects`.
    revision: i64,
    /// The events of recent revisions, oldest first. Together with
    /// `objects` they answer a watch from any revision in `[oldest, revision]`.
    history: VecDeque<Arc<Vec<WatchEvent>>>,
    /// Bytes of keys and values in `history`.
    history_bytes: usize,
    /// The oldest revision a watch may start after.
    oldest: i64,
    ready: bool,
    watchers: Vec<Watcher>,
}

#[derive(Debug)]
struct Watcher {
    start: Vec<u8>,
    end: Vec<u8>,
    tx: mpsc::Sender<WatchMessage>,
    wants_progress: Arc<AtomicBool>,
    /// Only changes after this revision are sent.
    after: i64,
}

impl Watcher {
    fn wants(&self, event: &WatchEvent) -> bool {
        let key = event.kv.key.as_slice();
        event.kv.mod_revision > self.after && key >= self.start.as_slice() && key < self.end.as_slice()
    }

    /// The events of a batch that this watcher is to get.
    fn select(&self, events: &[WatchEvent]) -> Vec<WatchEvent> {
        events.iter().filter(|e| self.wants(e)).cloned().collect()
    }
}

fn batch_bytes(events: &[WatchEvent]) -> usize {
    let kv_bytes = |kv: &KeyValue| kv.key.len() + kv.value.len();
    events.iter().map(|e| kv_bytes(&e.kv) + e.prev.as_ref().map_or(0, kv_bytes)).sum()
}

fn revision_of(events: &[WatchEvent]) -> i64 {
    events.last().map_or(0, |e| e.kv.mod_revision)
}

impl State {
    /// Registers a watcher for changes after `after`, replaying from the
    /// history what it missed. `None` when the history does not reach back.
    fn add_watcher(
        &mut self,
        start: &[u8],
        end: &[u8],
        after: i64,
        replay: bool,
        poke: &mpsc::Sender<()>,
    ) -> Option<CacheWatch> {
        if !self.ready || (replay && after < self.oldest) {
            return None;
        }
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let wants_progress = Arc::new(AtomicBool::new(false));
        let watcher =
            Watcher { start: start.to_vec(), end: end.to_vec(), tx, wants_progress: wants_progress.clone(), after };
        if replay {
            for batch in &self.history {
                let selected = watcher.select(batch);
                if !selected.is_empty() && watcher.tx.try_send(WatchMessage::Events(selected)).is_err() {
                    // More to replay than a watcher may buffer: the store serves it instead.
                    return None;
                }
            }
        }
        self.watchers.push(watcher);
        Some(CacheWatch { messages: rx, wants_progress, poke: poke.clone() })
    }

    fn apply(&mut self, events: Vec<WatchEvent>) {
        for event in &events {
            match event.kind {
                EventKind::Put => {
                    self.objects.insert(event.kv.key.clone(), Arc::new(event.kv.clone()));
                }
                EventKind::Delete => {
                    self.objects.remove(&event.kv.key);
                }
            }
        }
        let revision = revision_of(&events);
        self.revision = self.revision.max(revision);
        let batch = Arc::new(events);
        // Deliver; a watcher whose client does not keep up is closed.
        self.watchers.retain(|w| {
            let selected = w.select(&batch);
            selected.is_empty() || w.tx.try_send(WatchMessage::Events(selected)).is_ok()
        });
        self.history_bytes += batch_bytes(&batch);
        self.history.push_back(batch);
        while self.history.len() > HISTORY || (self.history_bytes > HISTORY_BYTES && self.history.len() > 1) {
            if let Some(dropped) = self.history.pop_front() {
                self.history_bytes -= batch_bytes(&dropped);
                self.oldest = revision_of(&dropped);
            }
        }
    }

    /// The store has delivered every event up to `revision`: the cache is
    /// that fresh, and so is every watcher that asked to be told.
    fn progress(&mut self, revision: i64) {
        self.revision = self.revision.max(revision);
        let revision = self.revision;
        self.watchers.retain(|w| {
            if !w.wants_progress.swap(false, Ordering::Relaxed) {
                return !w.tx.is_closed();
            }
            match w.tx.try_send(WatchMessage::Progress { revision }) {
                Ok(()) => true,
                // Behind by a whole buffer: closed, as for events.
                Err(_) => false,
            }
        });
    }
}

impl Cacher {
    fn start(store: Arc<dyn Datastore>, root: Vec<u8>) -> Arc<Cacher> {
        let (revision, _) = watch::channel(0);
        let (progress, progress_rx) = mpsc::channel(1);
        let cacher = Arc::new(Cacher { root, state: Mutex::new(State::default()), revision, progress });
        tokio::spawn(feed(Arc::downgrade(&cacher), store, progress_rx));
        cacher
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn wait_ready(&self) -> Option<()> {
        self.wait_for(0).await
    }

    /// Waits until the cache is ready and has reached `revision`.
    async fn wait_for(&self, revision: i64) -> Option<()> {
        let mut seen = self.revision.subscribe();
        let reached = |r: &i64| *r > 0 && *r >= revision;
        if reached(&seen.borrow()) {
            return Some(());
        }
        let _ = self.progress.try_send(());
        tokio::time::timeout(FRESHNESS_WAIT, seen.wait_for(reached)).await.ok()?.ok()?;
        Some(())
    }

    fn publish(&self, state: &State) {
        if state.ready {
            self.revision.send_if_modified(|r| {
                let changed = *r != state.revision;
                *r = state.revision;
                changed
            });
        }
    }
}

/// Lists the prefix, then follows it, forever: a compaction or a broken
/// store watch closes every client watch and starts over with a new list.
/// Ends when the cacher is dropped.
async fn feed(cacher: Weak<Cacher>, store: Arc<dyn Datastore>, mut progress: mpsc::Receiver<()>) {
    loop {
        let Some(root) = cacher.upgrade().map(|c| c.root.clone()) else { return };
        match follow(&cacher, &*store, &root, &mut progress).await {
            Ok(()) => return,
            Err(e) => tracing::debug!(prefix = %String::from_utf8_lossy(&root), "watch cache restarts: {e}"),
        }
        if let Some(c) = cacher.upgrade() {
            let mut state = c.lock();
            state.ready = false;
            // Closing the senders ends every client watch; clients resume from their last revision.
            state.watchers.clear();
            c.revision.send_replace(0);
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One list-then-watch cycle. `Ok` when the cacher is gone.
async fn follow(
    cacher: &Weak<Cacher>,
    store: &dyn Datastore,
    root: &[u8],
    progress: &mut mpsc::Receiver<()>,
) -> Result<(), DatastoreError> {
    let end = prefix_end(root);
    let mut objects = BTreeMap::new();
    let mut start = root.to_vec();
    let mut revision = 0;
    loop {
        let page = store
            .list(ListRequest {
                start: start.clone(),
                end: end.clone(),
                limit: LIST_PAGE,
                revision,
                ..Default::default()
            })
            .await?;
        revision = page.revision;
        let more = page.more;
        for kv in page.kvs {
            start = kv.key.clone();
            objects.insert(kv.key.clone(), Arc::new(kv));
        }
        if !more {
            break;
        }
        start.push(0);
    }
    let mut stream = store.watch(WatchRequest { start: root.to_vec(), end, start_revision: revision + 1 }).await?;
    {
        let Some(c) = cacher.upgrade() else { return Ok(()) };
        let mut state = c.lock();
        state.objects = objects;
        state.revision = revision;
        state.oldest = revision;
        state.history.clear();
        state.history_bytes = 0;
        state.ready = true;
        c.publish(&state);
    }
    loop {
        let message = tokio::select! {
            message = stream.messages.recv() => message,
            asked = progress.recv() => {
                if asked.is_none() {
                    return Ok(());
                }
                stream.request_progress().await?;
                continue;
            }
        };
        let Some(c) = cacher.upgrade() else { return Ok(()) };
        match message {
            None => return Err(DatastoreError::Unavailable("the store ended the watch".into())),
            Some(Err(e)) => return Err(e),
            Some(Ok(WatchMessage::Compacted { compact_revision })) => {
                return Err(DatastoreError::Other(format!("the watch was compacted at {compact_revision}")));
            }
            Some(Ok(WatchMessage::Events(events))) => {
                let mut state = c.lock();
                state.apply(events);
                c.publish(&state);
            }
            Some(Ok(WatchMessage::Progress { revision })) => {
                let mut state = c.lock();
                state.progress(revision);
                c.publish(&state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, revision: i64) -> KeyValue {
        KeyValue { key: key.as_bytes().to_vec(), value: b"{}".to_vec(), mod_revision: revision, ..Default::default() }
    }

    fn put(key: &str, revision: i64) -> WatchEvent {
        WatchEvent { kind: EventKind::Put, kv: kv(key, revision), prev: None }
    }

    #[test]
    fn a_snapshot_pages_like_the_store() {
        let snapshot = Snapshot {
            revision: 9,
            kvs: ["/r/a", "/r/b", "/r/c"].iter().enumerate().map(|(i, k)| Arc::new(kv(k, i as i64 + 1))).collect(),
        };
        let first = snapshot.page(b"/r/", 2);
        assert_eq!((first.kvs.len(), first.count, first.more, first.revision), (2, 3, true, 9));
        let rest = snapshot.page(b"/r/b\0", 2);
        assert_eq!(rest.kvs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(), [b"/r/c".to_vec()]);
        assert_eq!((rest.count, rest.more), (1, false));
    }

    #[test]
    fn watchers_get_their_range_and_replay_from_history() {
        let (poke, _) = mpsc::channel(1);
        let mut state = State { ready: true, revision: 1, oldest: 1, ..Default::default() };
        let mut live = state.add_watcher(b"/r/a", b"/r/b", 1, true, &poke).expect("a watcher");
        state.apply(vec![put("/r/a1", 2)]);
        state.apply(vec![put("/r/b1", 3)]);
        match live.messages.try_recv() {
            Ok(WatchMessage::Events(events)) => assert_eq!(events[0].kv.key, b"/r/a1"),
            other => panic!("{other:?}"),
        }
        assert!(live.messages.try_recv().is_err(), "/r/b1 is outside the watcher's range");
        // A watch resuming after revision 2 gets revision 3 from the history.
        let mut resumed = state.add_watcher(b"/r/", b"/r0", 2, true, &poke).expect("within the window");
        match resumed.messages.try_recv() {
            Ok(WatchMessage::Events(events)) => assert_eq!(events[0].kv.mod_revision, 3),
            other => panic!("{other:?}"),
        }
        // Older than the window: the store must serve it.
        state.oldest = 2;
        assert!(state.add_watcher(b"/r/", b"/r0", 1, true, &poke).is_none());
        assert_eq!(state.objects.len(), 2);
    }

    #[test]
    fn a_watcher_that_falls_behind_is_closed() {
        let (poke, _) = mpsc::channel(1);
        let mut state = State { ready: true, revision: 1, oldest: 1, ..Default::default() };
        let mut slow = state.add_watcher(b"/r/", b"/r0", 1, true, &poke).expect("a watcher");
        for revision in 2..(WATCHER_BUFFER as i64 + 3) {
            state.apply(vec![put("/r/x", revision)]);
        }
        assert!(state.watchers.is_empty(), "the slow watcher was dropped");
        let mut delivered = 0;
        while let Ok(WatchMessage::Events(_)) = slow.messages.try_recv() {
            delivered += 1;
        }
        assert_eq!(delivered, WATCHER_BUFFER);
        assert!(matches!(slow.messages.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
        assert_eq!(state.history.len(), (WATCHER_BUFFER + 1).min(HISTORY));
    }

    #[test]
    fn history_is_bounded_in_bytes() {
        let mut state = State { ready: true, revision: 1, oldest: 1, ..Default::default() };
        let big = vec![b'x'; 1 << 20];
        for revision in 2..12 {
            let mut event = put("/r/big", revision);
            event.kv.value = big.clone();
            state.apply(vec![event]);
        }
        assert!(state.history_bytes <= HISTORY_BYTES, "{}", state.history_bytes);
        assert_eq!(state.history.len(), 3);
        assert_eq!(state.oldest, 8, "a watch may start after revision 8, the newest dropped");
    }

    #[test]
    fn progress_goes_only_to_watchers_that_asked() {
        let (poke, _kept) = mpsc::channel(1);
        let mut state = State { ready: true, revision: 5, oldest: 5, ..Default::default() };
        let mut asked = state.add_watcher(b"/r/", b"/r0", 5, true, &poke).expect("a watcher");
        let mut quiet = state.add_watcher(b"/r/", b"/r0", 5, true, &poke).expect("a watcher");
        asked.request_progress();
        state.progress(7);
        assert!(matches!(asked.messages.try_recv(), Ok(WatchMessage::Progress { revision: 7 })));
        assert!(quiet.messages.try_recv().is_err());
        // An older notification does not move the cache back.
        asked.request_progress();
        state.progress(6);
        assert!(matches!(asked.messages.try_recv(), Ok(WatchMessage::Progress { revision: 7 })));
    }
}
