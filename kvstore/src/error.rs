//! Everything a request to the store can fail with. The gRPC layer maps each
//! variant to etcd's status code and message in one place (`server::status`).

use crate::engine::EngineError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("required revision has been compacted")]
    Compacted,
    #[error("required revision is a future revision")]
    FutureRevision,
    #[error("key is not provided")]
    EmptyKey,
    #[error("key not found")]
    KeyNotFound,
    #[error("value is provided")]
    ValueProvided,
    #[error("lease is provided")]
    LeaseProvided,
    #[error("requested lease not found")]
    LeaseNotFound,
    #[error("lease already exists")]
    LeaseExists,
    #[error("too large lease TTL")]
    LeaseTtlTooLarge,
    #[error("too many operations in txn request")]
    TooManyOps,
    #[error("duplicate key given in txn request")]
    DuplicateKey,
    #[error("request is too large")]
    RequestTooLarge,
    #[error("no leader")]
    NoLeader,
    #[error("server stopped")]
    Stopped,
    #[error("{0}")]
    Unsupported(String),
    #[error("storage failure: {0}")]
    Storage(String),
}

impl From<EngineError> for KvError {
    fn from(e: EngineError) -> Self {
        KvError::Storage(e.to_string())
    }
}

impl From<crate::mvcc::RecordError> for KvError {
    fn from(e: crate::mvcc::RecordError) -> Self {
        KvError::Storage(e.to_string())
    }
}
