//! The storage engine boundary: ordered byte tables with atomic batches and an
//! explicit durability point. The MVCC store and the Raft log sit on top of it;
//! the engine knows nothing of revisions, leases or Raft.

mod memory;
mod rocks;

pub use memory::MemoryEngine;
pub use rocks::RocksEngine;

use std::path::PathBuf;

/// The tables an engine holds. Each is an independent ordered key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Store identity, applied Raft position, revisions, snapshot metadata.
    Meta,
    /// Raft log entries keyed by big-endian index, plus vote and purge marks.
    RaftLog,
    /// MVCC history: one record per (main, sub) revision.
    Kv,
    /// Granted leases keyed by big-endian id.
    Lease,
}

impl Table {
    pub const ALL: [Table; 4] = [Table::Meta, Table::RaftLog, Table::Kv, Table::Lease];

    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::RaftLog => "raft_log",
            Table::Kv => "kv",
            Table::Lease => "lease",
        }
    }
}

/// One change inside a [`WriteBatch`].
#[derive(Debug, Clone)]
pub enum WriteOp {
    Put {
        table: Table,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        table: Table,
        key: Vec<u8>,
    },
    /// Deletes keys in `[from, to)`.
    DeleteRange {
        table: Table,
        from: Vec<u8>,
        to: Vec<u8>,
    },
}

/// Changes applied atomically: all or none survive a crash.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub fn put(&mut self, table: Table, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Put { table, key: key.into(), value: value.into() });
    }

    pub fn delete(&mut self, table: Table, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete { table, key: key.into() });
    }

    pub fn delete_range(&mut self, table: Table, from: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::DeleteRange { table, from: from.into(), to: to.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// When a write may be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Visible to readers at once; durable at the next [`Engine::sync`] or
    /// synced write. Used where the Raft log already holds the change.
    Buffered,
    /// Durable on disk before `write` returns.
    Synced,
}

/// What went wrong in the engine, naming the data directory involved.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path} is not a bramble store: {reason}; refusing to start (move it away or point --data-dir elsewhere)")]
    Foreign { path: PathBuf, reason: String },
    #[error("store I/O failed: {0}")]
    Io(String),
}

/// An ordered, batched key-value engine.
pub trait Engine: Send + Sync + 'static {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), EngineError>;

    /// Makes every write that returned before this call durable. One call
    /// covers all of them: this is the group-commit point.
    fn sync(&self) -> Result<(), EngineError>;

    /// Visits `[from, to)` (to the end when `to` is `None`) in key order until
    /// `visit` returns `false`.
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError>;

    /// The greatest key in `table`, with its value.
    fn last(&self, table: Table) -> Result<Option<(Vec<u8>, Vec<u8>)>, EngineError>;

    /// Bytes the engine occupies on disk (or in memory for the memory engine).
    fn size_bytes(&self) -> u64;

    /// Rewrites storage so that deleted data stops taking space (etcd's
    /// Defragment). May take long; never blocks writers.
    fn reclaim_space(&self) -> Result<(), EngineError>;
}
