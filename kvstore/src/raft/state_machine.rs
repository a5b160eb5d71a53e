//! The Raft state machine: applies committed entries to the MVCC store, with
//! the applied log position written in the same batch as the change.
//! The state is persistent, so a "snapshot" is the store itself as of the
//! applied position; building one costs an fsync, not a copy.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{BasicNode, Entry, EntryPayload, LogId, StorageError, StorageIOError, StoredMembership};

use super::TypeConfig;
use super::codec::{decode_log_id, decode_membership, encode_log_id, encode_membership};
use crate::command::CommandResult;
use crate::engine::{Durability, Table, WriteBatch};
use crate::mvcc::MvccStore;

const META_APPLIED: &[u8] = b"raft_applied";
const META_MEMBERSHIP: &[u8] = b"raft_membership";
const META_SNAPSHOT: &[u8] = b"raft_snapshot";

fn sm_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::write_state_machine(openraft::AnyError::error(e.to_string())).into()
}

#[derive(Clone)]
pub struct StateMachine {
    store: Arc<MvccStore>,
}

impl StateMachine {
    pub fn new(store: Arc<MvccStore>) -> Self {
        Self { store }
    }

    fn applied(&self) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let engine = self.store.engine();
        let applied = match engine.get(Table::Meta, META_APPLIED).map_err(sm_err)? {
            Some(b) => Some(decode_log_id(&b).map_err(sm_err)?),
            None => None,
        };
        let membership = match engine.get(Table::Meta, META_MEMBERSHIP).map_err(sm_err)? {
            Some(b) => decode_membership(&b).map_err(sm_err)?,
            None => StoredMembership::default(),
        };
        Ok((applied, membership))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        self.store.engine().sync().map_err(sm_err)?;
        let (last_log_id, last_membership) = self.applied()?;
        let snapshot_id = last_log_id.map(|l| format!("{}-{}", l.leader_id.term, l.index)).unwrap_or_default();
        let mut batch = WriteBatch::default();
        batch.put(Table::Meta, META_SNAPSHOT, snapshot_id.as_bytes().to_vec());
        self.store.engine().write(batch, Durability::Buffered).map_err(sm_err)?;
        Ok(Snapshot {
            meta: SnapshotMeta { last_log_id, last_membership, snapshot_id },
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        self.applied()
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut results = Vec::new();
        for entry in entries {
            let mut applied = WriteBatch::default();
            applied.put(Table::Meta, META_APPLIED, encode_log_id(&entry.log_id));
            match entry.payload {
                EntryPayload::Blank => {
                    self.store.apply_nothing(applied).map_err(sm_err)?;
                    results.push(CommandResult::Nothing);
                }
                EntryPayload::Normal(cmd) => {
                    results.push(self.store.apply(&cmd, applied).map_err(sm_err)?);
                }
                EntryPayload::Membership(m) => {
                    let stored = StoredMembership::new(Some(entry.log_id), m);
                    applied.put(Table::Meta, META_MEMBERSHIP, encode_membership(&stored));
                    self.store.apply_nothing(applied).map_err(sm_err)?;
                    results.push(CommandResult::Nothing);
                }
            }
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta<u64, BasicNode>,
        _snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        // Only a follower receives snapshots; a one-member group has none.
        Err(sm_err("installing a snapshot from a leader is not supported: bramble's store runs as a single member"))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let Some(id) = self.store.engine().get(Table::Meta, META_SNAPSHOT).map_err(sm_err)? else {
            return Ok(None);
        };
        let (last_log_id, last_membership) = self.applied()?;
        Ok(Some(Snapshot {
            meta: SnapshotMeta { last_log_id, last_membership, snapshot_id: String::from_utf8_lossy(&id).into_owned() },
            snapshot: Box::new(Cursor::new(Vec::new())),
        }))
    }
}
