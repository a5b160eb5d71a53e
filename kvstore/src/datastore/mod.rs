//! The store as the API server will use it: the operations kube-apiserver
//! makes on etcd (get, paged list with counts, create-if-absent, compare-and-
//! swap update and delete, leases, prefix watches with progress, compaction),
//! in our own types. Two implementations: [`Embedded`] calls the store in
//! process without a gRPC hop; [`External`] talks to an etcd (k3s's
//! `--datastore-endpoint`). One conformance suite runs against both.

pub(crate) mod convert;
mod embedded;
mod external;

pub use embedded::Embedded;
pub use external::External;

/// A key's value at some revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
}

/// A paged read of `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub start: Vec<u8>,
    /// Exclusive end; use [`prefix_end`] for "every key with this prefix".
    pub end: Vec<u8>,
    /// 0: no limit.
    pub limit: i64,
    /// 0: the current revision.
    pub revision: i64,
    pub keys_only: bool,
    pub count_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListResult {
    pub kvs: Vec<KeyValue>,
    /// Every key in the range at that revision, beyond the limit too.
    pub count: i64,
    pub more: bool,
    /// The revision the list was read at.
    pub revision: i64,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written at this revision.
    Written { revision: i64 },
    /// The condition failed; the key's current value, if it exists.
    Conflict { current: Option<KeyValue> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// For a delete: the key and the deleting revision only.
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchMessage {
    /// The events of one or more whole revisions, in order.
    Events(Vec<WatchEvent>),
    /// Every event up to `revision` has been delivered.
    Progress { revision: i64 },
    /// The start revision was compacted; the watch is over.
    Compacted { compact_revision: i64 },
}

#[derive(Debug, Clone, Default)]
pub struct WatchRequest {
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    /// 0: from the next revision.
    pub start_revision: i64,
}

/// A running watch. Dropping it cancels it.
#[derive(Debug)]
pub struct Watch {
    pub messages: tokio::sync::mpsc::Receiver<Result<WatchMessage, DatastoreError>>,
    progress: tokio::sync::mpsc::Sender<()>,
}

impl Watch {
    /// Asks for a [`WatchMessage::Progress`] (etcd's RequestProgress).
    pub async fn request_progress(&self) -> Result<(), DatastoreError> {
        self.progress.send(()).await.map_err(|_| DatastoreError::Unavailable("the watch has ended".into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatastoreError {
    #[error("required revision has been compacted")]
    Compacted,
    #[error("required revision is a future revision")]
    FutureRevision,
    #[error("requested lease not found")]
    LeaseNotFound,
    #[error("datastore unavailable: {0}")]
    Unavailable(String),
    #[error("datastore error: {0}")]
    Other(String),
}

/// The end of the range of keys that start with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff: the range runs to the end of the key space.
    vec![0]
}

#[tonic::async_trait]
pub trait Datastore: Send + Sync + std::fmt::Debug {
    /// A linearizable read of one key.
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, DatastoreError>;
    async fn list(&self, req: ListRequest) -> Result<ListResult, DatastoreError>;
    /// Writes `key` only if it does not exist.
    async fn create(&self, key: &[u8], value: &[u8], lease: i64) -> Result<WriteOutcome, DatastoreError>;
    /// Writes `key` only if its mod revision is `expected`.
    async fn update(&self, key: &[u8], value: &[u8], expected: i64, lease: i64)
    -> Result<WriteOutcome, DatastoreError>;
    /// Deletes `key`, only if its mod revision is `expected` when given.
    async fn delete(&self, key: &[u8], expected: Option<i64>) -> Result<WriteOutcome, DatastoreError>;
    async fn compact(&self, revision: i64) -> Result<(), DatastoreError>;
    /// A lease of `ttl` seconds; returns its id.
    async fn grant_lease(&self, ttl: i64) -> Result<i64, DatastoreError>;
    /// Watches `[start, end)` with previous values on every update and delete.
    async fn watch(&self, req: WatchRequest) -> Result<Watch, DatastoreError>;
    async fn current_revision(&self) -> Result<i64, DatastoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }
}
