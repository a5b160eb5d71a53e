//! The Raft log on the engine. Appends are written at once (readable) and made
//! durable by one syncer thread that drains every pending append before each
//! fsync: concurrent writes share one fsync (group commit).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, mpsc};

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, StorageError, StorageIOError, Vote};

use super::TypeConfig;
use super::codec::{decode_entry, decode_log_id, decode_vote, encode_entry, encode_log_id, encode_vote};
use crate::engine::{Durability, Engine, Table, WriteBatch};

const META_VOTE: &[u8] = b"raft_vote";
const META_PURGED: &[u8] = b"raft_purged";
const META_COMMITTED: &[u8] = b"raft_committed";

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn read_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::read_logs(openraft::AnyError::error(e.to_string())).into()
}

fn write_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::write_logs(openraft::AnyError::error(e.to_string())).into()
}

/// Log entries, vote and purge mark, in the engine's `RaftLog` and `Meta` tables.
#[derive(Clone)]
pub struct LogStore {
    engine: Arc<dyn Engine>,
    syncer: mpsc::Sender<LogFlushed<TypeConfig>>,
}

impl LogStore {
    pub fn new(engine: Arc<dyn Engine>) -> Result<Self, std::io::Error> {
        let (syncer, pending) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let sync_engine = engine.clone();
        std::thread::Builder::new().name("raft-log-sync".into()).spawn(move || {
            while let Ok(first) = pending.recv() {
                let mut batch = vec![first];
                batch.extend(pending.try_iter());
                let result = sync_engine.sync().map_err(|e| std::io::Error::other(e.to_string()));
                for callback in batch {
                    callback.log_io_completed(
                        result.as_ref().map(|_| ()).map_err(|e| std::io::Error::other(e.to_string())),
                    );
                }
            }
        })?;
        Ok(Self { engine, syncer })
    }

    fn last_purged(&self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        match self.engine.get(Table::Meta, META_PURGED).map_err(read_err)? {
            Some(b) => Ok(Some(decode_log_id(&b).map_err(read_err)?)),
            None => Ok(None),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => Some(i.saturating_add(1)),
            Bound::Excluded(i) => Some(*i),
            Bound::Unbounded => None,
        };
        let end_key = end.map(index_key);
        let mut entries = Vec::new();
        let mut failure = None;
        self.engine
            .scan(Table::RaftLog, &index_key(start), end_key.as_ref().map(|k| &k[..]), &mut |_, v| {
                match decode_entry(v) {
                    Ok(e) => entries.push(e),
                    Err(e) => failure = Some(e),
                }
                failure.is_none()
            })
            .map_err(read_err)?;
        if let Some(e) = failure {
            return Err(read_err(e));
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last_purged_log_id = self.last_purged()?;
        let last_log_id = match self.engine.last(Table::RaftLog).map_err(read_err)? {
            Some((_, v)) => Some(decode_entry(&v).map_err(read_err)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let mut batch = WriteBatch::default();
        batch.put(Table::Meta, META_VOTE, encode_vote(vote));
        self.engine
            .write(batch, Durability::Synced)
            .map_err(|e| StorageIOError::write_vote(openraft::AnyError::error(e.to_string())).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        match self.engine.get(Table::Meta, META_VOTE).map_err(read_err)? {
            Some(b) => Ok(Some(decode_vote(&b).map_err(read_err)?)),
            None => Ok(None),
        }
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        if let Some(c) = committed {
            let mut batch = WriteBatch::default();
            batch.put(Table::Meta, META_COMMITTED, encode_log_id(&c));
            self.engine.write(batch, Durability::Buffered).map_err(write_err)?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        match self.engine.get(Table::Meta, META_COMMITTED).map_err(read_err)? {
            Some(b) => Ok(Some(decode_log_id(&b).map_err(read_err)?)),
            None => Ok(None),
        }
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut batch = WriteBatch::default();
        for e in entries {
            batch.put(Table::RaftLog, index_key(e.log_id.index), encode_entry(&e));
        }
        self.engine.write(batch, Durability::Buffered).map_err(write_err)?;
        self.syncer.send(callback).map_err(|_| write_err("the log sync thread has stopped"))
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut batch = WriteBatch::default();
        batch.delete_range(Table::RaftLog, index_key(log_id.index), index_key(u64::MAX));
        self.engine.write(batch, Durability::Synced).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        // The state machine up to log_id must be durable before its log goes.
        self.engine.sync().map_err(write_err)?;
        let mut batch = WriteBatch::default();
        batch.put(Table::Meta, META_PURGED, encode_log_id(&log_id));
        batch.delete_range(Table::RaftLog, index_key(0), index_key(log_id.index.saturating_add(1)));
        self.engine.write(batch, Durability::Buffered).map_err(write_err)
    }
}
