//! Multi-version concurrency control with etcd's semantics: a revision per
//! write transaction, `create_revision`/`mod_revision`/`version` per key,
//! tombstones, reads at past revisions, and compaction of history.
//! The store applies commands in log order; it knows nothing of Raft or gRPC.

mod compaction;
mod index;
mod key_range;
mod record;
mod revision;
mod store;
mod txn;

pub use index::{History, KeyIndex};
pub use key_range::KeyRange;
pub use record::{Record, RecordError};
pub use revision::Revision;
pub use store::{LeaseInfo, LeaseState, MvccStore, StoreMeta};
pub use txn::{check_delete, check_put, check_range, check_txn, txn_is_read_only};

#[cfg(test)]
mod tests;
