//! bramble's key-value store: the etcd v3 API over an MVCC state machine on
//! RocksDB, with every mutation going through an openraft log.
//! It knows nothing of Kubernetes.

pub mod command;
pub mod datastore;
pub mod engine;
pub mod error;
pub mod lease;
pub mod mvcc;
pub mod node;
pub mod raft;
pub mod server;
pub mod snapshot;
pub mod watch;

pub use datastore::Datastore;
pub use error::KvError;
pub use node::{KvConfig, KvNode, KvStartError};
