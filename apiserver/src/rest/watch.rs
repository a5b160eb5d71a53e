//! WATCH: a stream of `{"type": ..., "object": ...}` lines fed by one
//! store watch on the collection's prefix. It starts with the current
//! state as ADDED events when no resourceVersion (or 0) is given or
//! `sendInitialEvents=true` asks for it, and otherwise from the revision
//! after the one given; a compacted start is an ERROR event with a 410
//! Status. Selector matches that change turn MODIFIED into ADDED or
//! DELETED, as upstream's cacher does. Bookmarks come from the store's
//! progress notifications when the client allows them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kvstore::datastore::{DatastoreError, EventKind, KeyValue, ListRequest, WatchMessage, WatchRequest, prefix_end};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Ctx;
use super::list::Selectors;
use crate::Api;
use crate::cache::{CacheWatch, Freshness};
use crate::catalog::Resource;
use crate::http::Reply;
use crate::negotiate::Format;
use crate::request::Query;
use crate::status::ApiError;
use crate::storage;

/// How often a watch that allows bookmarks gets one (upstream: about a minute).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// What the stream writer needs, owned.
struct WatchJob {
    api: Arc<Api>,
    resource: &'static Resource,
    namespace: Option<String>,
    query: Query,
    selectors: Selectors,
    format: Format,
    bookmarks: bool,
    timeout: Duration,
    /// The store revision to read the initial state at, or none for no initial state.
    initial: Option<InitialEvents>,
    start_revision: i64,
}

#[derive(Clone, Copy)]
struct InitialEvents {
    /// Send a bookmark with `k8s.io/initial-events-end` after them (watch-list).
    end_bookmark: bool,
    /// How fresh the initial state must be.
    freshness: Freshness,
}

/// Where a watch's changes come from: the watch cache, or, for a start the
/// cache's window does not cover, a store watch of its own.
enum Source {
    Cache(CacheWatch),
    Store(kvstore::datastore::Watch),
}

impl Source {
    /// The next message; `None` when a cache watch is over (the client resumes).
    async fn recv(&mut self) -> Option<Result<WatchMessage, DatastoreError>> {
        match self {
            Source::Cache(w) => w.messages.recv().await.map(Ok),
            Source::Store(w) => Some(
                w.messages
                    .recv()
                    .await
                    .unwrap_or_else(|| Err(DatastoreError::Unavailable("the store ended the watch".into()))),
            ),
        }
    }

    async fn request_progress(&self) -> Result<(), DatastoreError> {
        match self {
            Source::Cache(w) => {
                w.request_progress();
                Ok(())
            }
            Source::Store(w) => w.request_progress().await,
        }
    }
}

pub(crate) async fn watch(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let query = ctx.query;
    let selectors = Selectors::from_query(ctx)?;
    let bookmarks = query.flag("allowWatchBookmarks");
    let rv = query.get("resourceVersion").unwrap_or("");
    let send_initial = query.get("sendInitialEvents").map(|v| matches!(v, "true" | "1" | "True" | "TRUE" | "t"));
    if send_initial.is_some() {
        if query.get("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(forbidden_list_option(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if send_initial == Some(true) && !bookmarks {
            return Err(forbidden_list_option(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
    }
    let parsed_rv = match rv {
        "" | "0" => 0,
        rv => rv.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion: {rv}")))?,
    };
    let initial = match send_initial {
        Some(true) => Some(InitialEvents {
            end_bookmark: true,
            freshness: match rv {
                "" => Freshness::Latest,
                _ => Freshness::AtLeast(parsed_rv),
            },
        }),
        Some(false) => None,
        None if parsed_rv == 0 => Some(InitialEvents { end_bookmark: false, freshness: Freshness::Any }),
        None => None,
    };
    let timeout = match query.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse::<u64>().map_err(|_| ApiError::BadRequest(format!("invalid timeoutSeconds: {t}")))?,
        ),
        // Upstream picks between the minimum request timeout (30 min) and twice that.
        None => Duration::from_secs(1800 + rand::random_range(0..1800)),
    };
    let job = WatchJob {
        api: ctx.api.clone(),
        resource: ctx.resource,
        namespace: ctx.namespace().map(String::from),
        query: query.clone(),
        selectors,
        format: ctx.format,
        bookmarks,
        timeout,
        initial,
        start_revision: parsed_rv,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if let Err(err) = job.run(&tx).await {
            // The stream has started: an error goes in an ERROR event.
            let _ = tx.send(frame("ERROR", &err.to_status())).await;
        }
    });
    let content_type = match ctx.format {
        Format::Table { version } => format!("application/json;as=Table;v={version};g=meta.k8s.io"),
        Format::Metadata { version } => format!("application/json;as=PartialObjectMetadata;v={version};g=meta.k8s.io"),
        _ => "application/json".to_string(),
    };
    Ok(Reply::Stream { content_type, frames: rx })
}

/// A ListOptions field that the other options forbid, as upstream's 422 words it.
fn forbidden_list_option(field: &str, detail: &str) -> ApiError {
    ApiError::Invalid {
        qualified_kind: "ListOptions.meta.k8s.io".into(),
        group: "meta.k8s.io".into(),
        kind: "ListOptions".into(),
        name: String::new(),
        message: format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {detail}"),
        causes: vec![crate::status::Cause {
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {detail}"),
            field: field.into(),
        }],
    }
}

fn frame(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

impl WatchJob {
    fn ctx_matches(&self, obj: &Value) -> bool {
        self.selectors.labels.matches_object(obj)
            && self.selectors.fields.matches(obj, self.resource.group, self.resource.plural)
    }

    /// The object as the client asked for it: itself, or a one-row Table.
    fn render(&self, obj: &Value, first: &mut bool) -> Result<Value, ApiError> {
        match self.format {
            Format::Table { version } => {
                let mut table = crate::table::to_table(self.resource, obj, &self.query, version)?;
                if !*first && let Some(map) = table.as_object_mut() {
                    map.insert("columnDefinitions".into(), json!([]));
                }
                *first = false;
                Ok(table)
            }
            Format::Metadata { version } => Ok(crate::negotiate::partial_metadata(obj, version)),
            _ => Ok(obj.clone()),
        }
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Value {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        match self.format {
            Format::Table { version } => json!({
                "kind": "Table", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": metadata,
                "columnDefinitions": [], "rows": [],
            }),
            Format::Metadata { version } => json!({
                "kind": "PartialObjectMetadata", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": metadata,
            }),
            _ => json!({
                "kind": self.resource.kind,
                "apiVersion": storage::api_version(self.resource.group, self.resource.version),
                "metadata": metadata,
            }),
        }
    }

    /// Sends one stored object as an ADDED event; false when the client is gone.
    async fn send_added(&self, tx: &mpsc::Sender<Bytes>, kv: &KeyValue, first: &mut bool) -> Result<bool, ApiError> {
        let obj = storage::decode(self.resource, kv)?;
        if !self.ctx_matches(&obj) {
            return Ok(true);
        }
        Ok(tx.send(frame("ADDED", &self.render(&obj, first)?)).await.is_ok())
    }

    /// The initial state from the store, page by page; the revision it was read at.
    async fn initial_from_store(&self, tx: &mpsc::Sender<Bytes>, first: &mut bool) -> Result<Option<i64>, ApiError> {
        let prefix = storage::prefix(self.resource, self.namespace.as_deref());
        let mut start = prefix.clone();
        let mut revision = 0;
        loop {
            let page = self
                .api
                .store
                .list(ListRequest {
                    start: start.clone(),
                    end: prefix_end(&prefix),
                    limit: 500,
                    revision,
                    ..Default::default()
                })
                .await?;
            revision = page.revision;
            for kv in &page.kvs {
                if !self.send_added(tx, kv, first).await? {
                    return Ok(None);
                }
            }
            match (page.more, page.kvs.last()) {
                (true, Some(last)) => {
                    start = last.key.clone();
                    start.push(0);
                }
                _ => return Ok(Some(revision)),
            }
        }
    }

    async fn run(self, tx: &mpsc::Sender<Bytes>) -> Result<(), ApiError> {
        let prefix = storage::prefix(self.resource, self.namespace.as_deref());
        let end = prefix_end(&prefix);
        let root = storage::prefix(self.resource, None);
        let cache = &self.api.cache;
        let mut first = true;
        let mut from = self.start_revision;
        let mut source = None;
        if let Some(initial) = self.initial {
            let revision = match cache.snapshot_and_watch(&root, &prefix, &end, initial.freshness).await {
                Some((snapshot, watch)) => {
                    for kv in &snapshot.kvs {
                        if !self.send_added(tx, kv, &mut first).await? {
                            return Ok(());
                        }
                    }
                    source = Some(Source::Cache(watch));
                    snapshot.revision
                }
                None => match self.initial_from_store(tx, &mut first).await? {
                    Some(revision) => revision,
                    None => return Ok(()),
                },
            };
            if initial.end_bookmark && tx.send(frame("BOOKMARK", &self.bookmark(revision, true))).await.is_err() {
                return Ok(());
            }
            from = revision;
        } else if from == 0 {
            from = self.api.store.current_revision().await?;
        }
        if source.is_none() {
            source = cache.watch_from(&root, &prefix, &end, from).await.map(Source::Cache);
        }
        let mut watch = match source {
            Some(source) => source,
            None => Source::Store(
                self.api.store.watch(WatchRequest { start: prefix.clone(), end, start_revision: from + 1 }).await?,
            ),
        };
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            let message = tokio::select! {
                _ = &mut deadline => return Ok(()),
                _ = tx.closed() => return Ok(()),
                _ = ticker.tick(), if self.bookmarks => {
                    watch.request_progress().await?;
                    continue;
                }
                message = watch.recv() => message,
            };
            // A cache watch that ended: the client resumes from its last resourceVersion.
            let Some(message) = message else { return Ok(()) };
            match message? {
                WatchMessage::Compacted { compact_revision } => {
                    let status = ApiError::Expired(format!("too old resource version: {from} ({compact_revision})"));
                    let _ = tx.send(frame("ERROR", &status.to_status())).await;
                    return Ok(());
                }
                WatchMessage::Progress { revision } => {
                    if self.bookmarks && tx.send(frame("BOOKMARK", &self.bookmark(revision, false))).await.is_err() {
                        return Ok(());
                    }
                }
                WatchMessage::Events(events) => {
                    for event in events {
                        let (kind, obj) = match event.kind {
                            EventKind::Put => {
                                let obj = storage::decode(self.resource, &event.kv)?;
                                let prev = match &event.prev {
                                    Some(prev) => Some(storage::decode(self.resource, prev)?),
                                    None => None,
                                };
                                let now = self.ctx_matches(&obj);
                                let before = prev.as_ref().is_some_and(|p| self.ctx_matches(p));
                                match (prev.is_some(), before, now) {
                                    (_, false, true) => ("ADDED", obj),
                                    (true, true, true) => ("MODIFIED", obj),
                                    (true, true, false) => ("DELETED", obj),
                                    _ => continue,
                                }
                            }
                            EventKind::Delete => {
                                let Some(prev) = &event.prev else { continue };
                                let obj = storage::decode_at(self.resource, &prev.value, event.kv.mod_revision)?;
                                if !self.ctx_matches(&obj) {
                                    continue;
                                }
                                ("DELETED", obj)
                            }
                        };
                        if tx.send(frame(kind, &self.render(&obj, &mut first)?)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}
