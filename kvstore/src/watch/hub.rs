//! The watch hub: every watch stream and its watchers, fed in revision order.
//! All sends to a stream happen under one lock, so a stream's responses are
//! in the order the store produced them: created, events, progress, cancel.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use etcd_client::proto::{PbEvent, PbResponseHeader, PbWatchResponse};
use prost::Message;
use tokio::sync::{Notify, mpsc};

use crate::mvcc::{KeyRange, MvccStore};

/// Responses with events a stream may have queued before its watchers are
/// switched to catching up from history instead.
const MAX_QUEUED: usize = 128;
/// Events read from history per catch-up step of one watcher.
const CATCH_UP_EVENTS: usize = 1000;
/// How often unsynced watchers are looked at even without a wake-up.
const SYNC_INTERVAL: Duration = Duration::from_millis(100);

const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;
const EVENT_PUT: i32 = 0;

pub type StreamId = u64;

/// A watch as a client asks for it.
#[derive(Debug, Clone, Default)]
pub struct WatchCreate {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub start_revision: i64,
    pub progress_notify: bool,
    pub filters: Vec<i32>,
    pub prev_kv: bool,
    pub watch_id: i64,
    pub fragment: bool,
}

#[derive(Debug)]
struct Watcher {
    range: KeyRange,
    /// The next revision this watcher must see.
    next_rev: i64,
    /// Fed by live events; otherwise by the catch-up loop.
    synced: bool,
    prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    fragment: bool,
    progress_notify: bool,
    /// Events were sent since the last periodic progress notification.
    active: bool,
}

#[derive(Debug)]
struct Stream {
    tx: mpsc::UnboundedSender<PbWatchResponse>,
    queued: Arc<AtomicUsize>,
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
    progress_pending: bool,
}

#[derive(Debug, Default)]
struct Inner {
    revision: i64,
    compacted: i64,
    streams: HashMap<StreamId, Stream>,
    next_stream: StreamId,
}

/// The receiving end of one watch stream.
#[derive(Debug)]
pub struct WatchReceiver {
    rx: mpsc::UnboundedReceiver<PbWatchResponse>,
    queued: Arc<AtomicUsize>,
}

impl WatchReceiver {
    pub async fn recv(&mut self) -> Option<PbWatchResponse> {
        let resp = self.rx.recv().await?;
        if !resp.events.is_empty() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        Some(resp)
    }
}

#[derive(Debug)]
pub struct WatchHub {
    inner: Mutex<Inner>,
    header: RwLock<PbResponseHeader>,
    wake: Notify,
    max_response_bytes: usize,
}

impl WatchHub {
    pub fn new(max_response_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner::default()),
            header: RwLock::new(PbResponseHeader::default()),
            wake: Notify::new(),
            max_response_bytes,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cluster id, member id and Raft term for response headers.
    pub fn set_identity(&self, cluster_id: u64, member_id: u64, raft_term: u64) {
        let mut h = self.header.write().unwrap_or_else(|e| e.into_inner());
        h.cluster_id = cluster_id;
        h.member_id = member_id;
        h.raft_term = raft_term;
    }

    pub fn header(&self, revision: i64) -> Option<PbResponseHeader> {
        let h = self.header.read().unwrap_or_else(|e| e.into_inner());
        Some(PbResponseHeader { revision, ..*h })
    }

    pub fn set_revision(&self, revision: i64, compacted: i64) {
        let mut inner = self.lock();
        inner.revision = revision;
        inner.compacted = compacted;
        drop(inner);
        self.wake.notify_one();
    }

    pub fn open_stream(&self) -> (StreamId, WatchReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let mut inner = self.lock();
        let id = inner.next_stream;
        inner.next_stream += 1;
        inner.streams.insert(
            id,
            Stream { tx, queued: queued.clone(), watchers: BTreeMap::new(), next_id: 0, progress_pending: false },
        );
        (id, WatchReceiver { rx, queued })
    }

    pub fn close_stream(&self, id: StreamId) {
        self.lock().streams.remove(&id);
    }

    pub fn watcher_count(&self) -> usize {
        self.lock().streams.values().map(|s| s.watchers.len()).sum()
    }

    pub fn create(&self, stream_id: StreamId, req: WatchCreate) {
        let mut inner = self.lock();
        let revision = inner.revision;
        let header = self.header(revision);
        let Some(stream) = inner.streams.get_mut(&stream_id) else { return };
        let id = if req.watch_id == 0 {
            while stream.watchers.contains_key(&stream.next_id) {
                stream.next_id += 1;
            }
            let id = stream.next_id;
            stream.next_id += 1;
            id
        } else if stream.watchers.contains_key(&req.watch_id) {
            let _ = stream.tx.send(PbWatchResponse {
                header,
                watch_id: req.watch_id,
                created: true,
                canceled: true,
                cancel_reason: "mvcc: duplicate watch ID provided on the WatchStream".into(),
                ..Default::default()
            });
            return;
        } else {
            req.watch_id
        };
        let next_rev = if req.start_revision > 0 { req.start_revision } else { revision + 1 };
        let synced = next_rev > revision;
        stream.watchers.insert(
            id,
            Watcher {
                range: KeyRange::for_watch(&req.key, &req.range_end),
                next_rev,
                synced,
                prev_kv: req.prev_kv,
                no_put: req.filters.contains(&FILTER_NOPUT),
                no_delete: req.filters.contains(&FILTER_NODELETE),
                fragment: req.fragment,
                progress_notify: req.progress_notify,
                active: false,
            },
        );
        let _ = stream.tx.send(PbWatchResponse { header, watch_id: id, created: true, ..Default::default() });
        drop(inner);
        if !synced {
            self.wake.notify_one();
        }
    }

    pub fn cancel(&self, stream_id: StreamId, watch_id: i64) {
        let mut inner = self.lock();
        let header = self.header(inner.revision);
        let Some(stream) = inner.streams.get_mut(&stream_id) else { return };
        if stream.watchers.remove(&watch_id).is_some() {
            let _ = stream.tx.send(PbWatchResponse { header, watch_id, canceled: true, ..Default::default() });
            Self::maybe_progress(stream, &|| header);
        }
    }

    /// etcd's RequestProgress: answered (watch id -1) once every watcher on
    /// the stream has been sent everything up to the current revision.
    pub fn request_progress(&self, stream_id: StreamId) {
        let mut inner = self.lock();
        let header = self.header(inner.revision);
        let Some(stream) = inner.streams.get_mut(&stream_id) else { return };
        stream.progress_pending = true;
        Self::maybe_progress(stream, &|| header);
    }

    fn maybe_progress(stream: &mut Stream, header: &dyn Fn() -> Option<PbResponseHeader>) {
        if stream.progress_pending && stream.watchers.values().all(|w| w.synced) {
            stream.progress_pending = false;
            let _ = stream.tx.send(PbWatchResponse { header: header(), watch_id: -1, ..Default::default() });
        }
    }

    /// The periodic progress notification for watchers that asked for it and
    /// were sent no events since the last one.
    pub fn progress_tick(&self, stream_id: StreamId) {
        let mut inner = self.lock();
        let header = self.header(inner.revision);
        let Some(stream) = inner.streams.get_mut(&stream_id) else { return };
        for (id, w) in stream.watchers.iter_mut() {
            if w.progress_notify && w.synced && !w.active {
                let _ = stream.tx.send(PbWatchResponse { header, watch_id: *id, ..Default::default() });
            }
            w.active = false;
        }
    }

    /// Delivers one revision's events to synced watchers. Called by the apply
    /// step with the store's write lock held, so revisions arrive in order.
    pub fn publish(&self, revision: i64, events: Vec<PbEvent>) {
        let mut inner = self.lock();
        inner.revision = revision;
        let header = self.header(revision);
        let mut lagging = false;
        for stream in inner.streams.values_mut() {
            for (id, w) in stream.watchers.iter_mut() {
                if !w.synced || revision < w.next_rev {
                    continue;
                }
                let mine = select(w, &events);
                if mine.is_empty() {
                    w.next_rev = revision + 1;
                    continue;
                }
                if stream.queued.load(Ordering::Acquire) >= MAX_QUEUED {
                    w.synced = false;
                    lagging = true;
                    continue;
                }
                let resp = PbWatchResponse { header, watch_id: *id, events: mine, ..Default::default() };
                send_events(&stream.tx, &stream.queued, resp, w.fragment, self.max_response_bytes);
                w.next_rev = revision + 1;
                w.active = true;
            }
        }
        drop(inner);
        if lagging {
            self.wake.notify_one();
        }
    }

    /// Catches unsynced watchers up from history until the store is closed.
    pub async fn run_catch_up(self: Arc<Self>, store: Weak<MvccStore>) {
        loop {
            let _ = tokio::time::timeout(SYNC_INTERVAL, self.wake.notified()).await;
            let Some(store) = store.upgrade() else { return };
            if let Err(e) = self.catch_up_once(&store) {
                tracing::error!("watch catch-up failed: {e}");
            }
        }
    }

    fn catch_up_once(&self, store: &MvccStore) -> Result<(), crate::error::KvError> {
        let work: Vec<(StreamId, i64, KeyRange, i64)> = {
            let inner = self.lock();
            inner
                .streams
                .iter()
                .flat_map(|(sid, s)| {
                    s.watchers
                        .iter()
                        .filter(|(_, w)| !w.synced)
                        .map(move |(wid, w)| (*sid, *wid, w.range.clone(), w.next_rev))
                })
                .collect()
        };
        for (sid, wid, range, next_rev) in work {
            let (revision, compacted) = {
                let inner = self.lock();
                (inner.revision, inner.compacted)
            };
            if next_rev < compacted {
                let mut inner = self.lock();
                // etcd's compaction cancel carries no revision in its header.
                let header = self.header(0);
                if let Some(stream) = inner.streams.get_mut(&sid)
                    && stream.watchers.remove(&wid).is_some()
                {
                    let _ = stream.tx.send(PbWatchResponse {
                        header,
                        watch_id: wid,
                        canceled: true,
                        compact_revision: compacted,
                        ..Default::default()
                    });
                    Self::maybe_progress(stream, &|| header);
                }
                continue;
            }
            let (events, covered) = if next_rev <= revision {
                store.history_events(&range, next_rev, revision, CATCH_UP_EVENTS)?
            } else {
                (Vec::new(), revision)
            };
            let mut inner = self.lock();
            let now = inner.revision;
            let header = self.header(revision);
            let Some(stream) = inner.streams.get_mut(&sid) else { continue };
            let queued = stream.queued.load(Ordering::Acquire);
            let Some(w) = stream.watchers.get_mut(&wid) else { continue };
            if w.synced || w.next_rev != next_rev {
                continue;
            }
            let mine = select(w, &events);
            if !mine.is_empty() {
                if queued >= MAX_QUEUED {
                    continue;
                }
                let resp = PbWatchResponse { header, watch_id: wid, events: mine, ..Default::default() };
                send_events(&stream.tx, &stream.queued, resp, w.fragment, self.max_response_bytes);
                w.active = true;
            }
            w.next_rev = w.next_rev.max(covered + 1);
            if w.next_rev > now {
                w.synced = true;
                let header = self.header(now);
                Self::maybe_progress(stream, &|| header);
            } else {
                self.wake.notify_one();
            }
        }
        Ok(())
    }
}

/// The events of one watcher: in its range, not filtered out, prev_kv only
/// when asked for.
fn select(w: &Watcher, events: &[PbEvent]) -> Vec<PbEvent> {
    events
        .iter()
        .filter(|e| e.kv.as_ref().is_some_and(|kv| w.range.contains(&kv.key)))
        .filter(|e| if e.r#type == EVENT_PUT { !w.no_put } else { !w.no_delete })
        .map(|e| {
            let mut e = e.clone();
            if !w.prev_kv {
                e.prev_kv = None;
            }
            e
        })
        .collect()
}

/// Sends one response, split into fragments when the watcher allows it and
/// the response is larger than a request may be.
fn send_events(
    tx: &mpsc::UnboundedSender<PbWatchResponse>,
    queued: &AtomicUsize,
    resp: PbWatchResponse,
    fragment: bool,
    limit: usize,
) {
    if !fragment || resp.events.len() < 2 || resp.encoded_len() <= limit {
        queued.fetch_add(1, Ordering::AcqRel);
        let _ = tx.send(resp);
        return;
    }
    let mut parts: Vec<PbWatchResponse> = Vec::new();
    let mut current = PbWatchResponse { header: resp.header, watch_id: resp.watch_id, ..Default::default() };
    let mut size = current.encoded_len();
    for event in resp.events {
        let len = event.encoded_len() + 8;
        if !current.events.is_empty() && size + len > limit {
            let next = PbWatchResponse { header: resp.header, watch_id: resp.watch_id, ..Default::default() };
            size = next.encoded_len();
            parts.push(std::mem::replace(&mut current, next));
        }
        size += len;
        current.events.push(event);
    }
    parts.push(current);
    let last = parts.len() - 1;
    for (i, mut part) in parts.into_iter().enumerate() {
        part.fragment = i != last;
        queued.fetch_add(1, Ordering::AcqRel);
        let _ = tx.send(part);
    }
}

#[cfg(test)]
mod tests {
    use etcd_client::proto::PbKeyValue;

    use super::*;

    fn event(i: usize) -> PbEvent {
        PbEvent {
            r#type: EVENT_PUT,
            kv: Some(PbKeyValue { key: format!("/k/{i:04}").into_bytes(), value: vec![7; 100], ..Default::default() }),
            prev_kv: None,
        }
    }

    #[test]
    fn large_responses_are_fragmented_only_when_asked() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queued = AtomicUsize::new(0);
        let events: Vec<PbEvent> = (0..50).map(event).collect();
        let resp = PbWatchResponse { watch_id: 3, events: events.clone(), ..Default::default() };

        send_events(&tx, &queued, resp.clone(), false, 1000);
        let whole = rx.try_recv().expect("one response");
        assert_eq!((whole.events.len(), whole.fragment), (50, false));

        send_events(&tx, &queued, resp, true, 1000);
        let mut parts = Vec::new();
        while let Ok(part) = rx.try_recv() {
            parts.push(part);
        }
        assert!(parts.len() > 1, "a response over the limit is split");
        assert!(parts.iter().all(|p| p.encoded_len() <= 1000 && p.watch_id == 3));
        let flags: Vec<bool> = parts.iter().map(|p| p.fragment).collect();
        assert!(flags[..flags.len() - 1].iter().all(|f| *f) && !flags[flags.len() - 1], "{flags:?}");
        let rejoined: Vec<PbEvent> = parts.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(rejoined, events);
        assert_eq!(queued.load(Ordering::Acquire), 1 + flags.len());
    }
}
