//! The MVCC store: the in-memory index and lease table over the engine's
//! history, the apply step for every command, and linearizable reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbKeyValue, PbLeaseGrantResponse, PbLeaseRevokeResponse, PbRangeRequest,
    PbRangeResponse, PbTxnRequest, PbTxnResponse,
};

use super::compaction::Compactor;
use super::txn::{TxnWriter, View, header, txn_is_read_only};
use super::{KeyIndex, KeyRange, Record, Revision};
use crate::command::{Command, CommandResult};
use crate::engine::{Durability, Engine, EngineError, Table, WriteBatch};
use crate::error::KvError;
use crate::lease::Lessor;
use crate::watch::WatchHub;

pub(crate) const META_REVISION: &[u8] = b"revision";
pub(crate) const META_COMPACT_SCHEDULED: &[u8] = b"compact_scheduled";
pub(crate) const META_COMPACT_FINISHED: &[u8] = b"compact_finished";

/// A granted lease as the state machine knows it. Expiry times are not state:
/// the leader's [`Lessor`] keeps them.
#[derive(Debug, Clone, Default)]
pub struct LeaseState {
    pub ttl: i64,
    pub keys: BTreeSet<Vec<u8>>,
}

#[derive(Debug, Default)]
pub struct State {
    pub index: KeyIndex,
    /// The revision of the last write transaction; 1 on an empty store.
    pub current: i64,
    /// Reads below this revision fail; 0 when nothing was compacted.
    pub compacted: i64,
    pub leases: BTreeMap<i64, LeaseState>,
}

/// A lease as Lease.TimeToLive reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub granted_ttl: i64,
    pub remaining: i64,
    pub keys: Vec<Vec<u8>>,
}

/// Figures about the store, for Maintenance.Status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMeta {
    pub revision: i64,
    pub compacted: i64,
    pub keys: usize,
    pub db_size: u64,
}

pub struct MvccStore {
    engine: Arc<dyn Engine>,
    state: RwLock<State>,
    hub: Arc<WatchHub>,
    lessor: Arc<Lessor>,
    compactor: Compactor,
}

impl std::fmt::Debug for MvccStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MvccStore").finish_non_exhaustive()
    }
}

pub(crate) fn read_i64(engine: &dyn Engine, table: Table, key: &[u8]) -> Result<Option<i64>, EngineError> {
    match engine.get(table, key)? {
        Some(v) => {
            let bytes: [u8; 8] = v.as_slice().try_into().map_err(|_| {
                EngineError::Io(format!("meta value {:?} is not 8 bytes", String::from_utf8_lossy(key)))
            })?;
            Ok(Some(i64::from_le_bytes(bytes)))
        }
        None => Ok(None),
    }
}

pub(crate) fn lease_key(id: i64) -> [u8; 8] {
    (id as u64).to_be_bytes()
}

/// What applying one log entry changes, gathered for its single engine write:
/// the changes of every command in it, the records they wrote (read by the
/// entry's later commands before they reach the engine), and what to tell
/// others once the write is done.
#[derive(Default)]
struct EntryChanges {
    batch: WriteBatch,
    pending: HashMap<Revision, Record>,
    effects: Vec<Effect>,
}

/// What a command tells others after its entry is written, in command order.
enum Effect {
    Publish { revision: i64, events: Vec<etcd_client::proto::PbEvent> },
    LeaseGranted { id: i64, ttl: i64 },
    LeaseRevoked { id: i64 },
    Compacted { current: i64, compacted: i64 },
}

/// Ends a write transaction: the store moves to its revision if it changed
/// anything, and its events are published once the entry is written.
fn commit(writer: TxnWriter<'_>, effects: &mut Vec<Effect>) {
    if writer.changed() {
        writer.state.current = writer.main;
        effects.push(Effect::Publish { revision: writer.main, events: writer.events });
    }
}

fn apply_compact(state: &mut State, entry: &mut EntryChanges, c: &PbCompactionRequest) -> CommandResult {
    if c.revision <= state.compacted {
        return CommandResult::Failed(KvError::Compacted);
    }
    if c.revision > state.current {
        return CommandResult::Failed(KvError::FutureRevision);
    }
    entry.batch.put(Table::Meta, META_COMPACT_SCHEDULED, c.revision.to_le_bytes());
    state.compacted = c.revision;
    state.index.compact(c.revision);
    entry.effects.push(Effect::Compacted { current: state.current, compacted: c.revision });
    CommandResult::Compact(PbCompactionResponse { header: header(state.current) })
}

fn apply_lease_grant(state: &mut State, entry: &mut EntryChanges, id: i64, ttl: i64) -> CommandResult {
    if state.leases.contains_key(&id) {
        return CommandResult::Failed(KvError::LeaseExists);
    }
    entry.batch.put(Table::Lease, lease_key(id), ttl.to_le_bytes());
    state.leases.insert(id, LeaseState { ttl, keys: BTreeSet::new() });
    entry.effects.push(Effect::LeaseGranted { id, ttl });
    CommandResult::LeaseGrant(PbLeaseGrantResponse { header: header(state.current), id, ttl, error: String::new() })
}

impl MvccStore {
    /// Loads the index and leases from the engine's history.
    pub fn open(engine: Arc<dyn Engine>, hub: Arc<WatchHub>, lessor: Arc<Lessor>) -> Result<Arc<Self>, KvError> {
        let mut state = State {
            current: read_i64(&*engine, Table::Meta, META_REVISION)?.unwrap_or(1),
            compacted: read_i64(&*engine, Table::Meta, META_COMPACT_SCHEDULED)?.unwrap_or(0),
            ..Default::default()
        };
        let finished = read_i64(&*engine, Table::Meta, META_COMPACT_FINISHED)?.unwrap_or(0);

        let mut latest_lease: HashMap<Vec<u8>, i64> = HashMap::new();
        let mut failure = None;
        engine.scan(Table::Kv, &[], None, &mut |k, v| {
            let decoded = Revision::decode(k)
                .ok_or_else(|| KvError::Storage(format!("corrupt revision key {k:?} in the kv table")))
                .and_then(|rev| Ok((rev, Record::decode(rev, v)?)));
            match decoded {
                Ok((rev, rec)) => {
                    state.index.record(&rec.key, rev, rec.tombstone);
                    state.current = state.current.max(rev.main);
                    latest_lease.insert(rec.key, if rec.tombstone { 0 } else { rec.lease });
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if state.compacted > 0 {
            state.index.compact(state.compacted);
        }
        engine.scan(Table::Lease, &[], None, &mut |k, v| {
            if let (Ok(id), Ok(ttl)) = (<[u8; 8]>::try_from(k), <[u8; 8]>::try_from(v)) {
                state.leases.insert(
                    u64::from_be_bytes(id) as i64,
                    LeaseState { ttl: i64::from_le_bytes(ttl), keys: BTreeSet::new() },
                );
            }
            true
        })?;
        for (key, lease) in latest_lease {
            if let Some(l) = state.leases.get_mut(&lease) {
                l.keys.insert(key);
            }
        }
        for (id, lease) in &state.leases {
            lessor.granted(*id, lease.ttl);
        }
        hub.set_revision(state.current, state.compacted);

        let store = Arc::new_cyclic(|weak| MvccStore {
            compactor: Compactor::new(engine.clone(), weak.clone(), finished),
            engine,
            state: RwLock::new(state),
            hub,
            lessor,
        });
        let compacted = store.read().compacted;
        if compacted > finished {
            store.compactor.schedule(compacted);
        }
        Ok(store)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    pub fn hub(&self) -> &Arc<WatchHub> {
        &self.hub
    }

    pub fn meta(&self) -> StoreMeta {
        let state = self.read();
        StoreMeta {
            revision: state.current,
            compacted: state.compacted,
            keys: state.index.len(),
            db_size: self.engine.size_bytes(),
        }
    }

    pub fn current_revision(&self) -> i64 {
        self.read().current
    }

    pub fn range(&self, r: &PbRangeRequest) -> Result<PbRangeResponse, KvError> {
        let state = self.read();
        View { state: &state, engine: &*self.engine, pending: None, rev: state.current }.range(r)
    }

    /// Answers a transaction that writes nothing without logging it.
    /// Returns `None` when the transaction may write.
    pub fn read_txn(&self, r: &PbTxnRequest) -> Option<Result<PbTxnResponse, KvError>> {
        if !txn_is_read_only(r) {
            return None;
        }
        let state = self.read();
        let view = View { state: &state, engine: &*self.engine, pending: None, rev: state.current };
        let mut path = Vec::new();
        Some(view.txn_path(r, &mut path).and_then(|()| {
            view.check_path(r, &mut path.iter())?;
            view.read_txn(r, &mut path.iter())
        }))
    }

    /// The value of one key at `rev` (0: current), for the lease and watch code.
    pub fn get(&self, key: &[u8], rev: i64) -> Result<Option<PbKeyValue>, KvError> {
        let resp = self.range(&PbRangeRequest { key: key.to_vec(), revision: rev, ..Default::default() })?;
        Ok(resp.kvs.into_iter().next())
    }

    /// Leases' TTLs and attached keys.
    pub fn lease(&self, id: i64) -> Option<LeaseState> {
        self.read().leases.get(&id).cloned()
    }

    pub fn lease_ids(&self) -> Vec<i64> {
        self.read().leases.keys().copied().collect()
    }

    pub fn exists_lease(&self, id: i64) -> bool {
        self.read().leases.contains_key(&id)
    }

    /// Applies one logged command (a batch is applied command by command).
    /// Everything the entry changes, with `applied` (the log position), is
    /// written in one engine batch, so a crash never separates them and never
    /// keeps half of a batch; watchers, the lessor and the compactor hear of
    /// the changes only after that write, in command order.
    pub fn apply(&self, cmd: &Command, applied: WriteBatch) -> Result<CommandResult, EngineError> {
        let mut state = self.write();
        let revision = state.current;
        let mut entry = EntryChanges::default();
        let result = self.apply_one(&mut state, &mut entry, cmd)?;
        if state.current != revision {
            entry.batch.put(Table::Meta, META_REVISION, state.current.to_le_bytes());
        }
        entry.batch.ops.extend(applied.ops);
        self.engine.write(entry.batch, Durability::Buffered)?;
        for effect in entry.effects {
            match effect {
                Effect::Publish { revision, events } => self.hub.publish(revision, events),
                Effect::LeaseGranted { id, ttl } => self.lessor.granted(id, ttl),
                Effect::LeaseRevoked { id } => self.lessor.revoked(id),
                Effect::Compacted { current, compacted } => {
                    self.hub.set_revision(current, compacted);
                    self.compactor.schedule(compacted);
                }
            }
        }
        Ok(result)
    }

    fn apply_one(
        &self,
        state: &mut State,
        entry: &mut EntryChanges,
        cmd: &Command,
    ) -> Result<CommandResult, EngineError> {
        match cmd {
            Command::Put(p) => self.apply_txn(state, entry, |w| {
                w.view().check_put_state(p)?;
                w.put(p).map(CommandResult::Put)
            }),
            Command::DeleteRange(d) => {
                self.apply_txn(state, entry, |w| w.delete_range(d).map(CommandResult::DeleteRange))
            }
            Command::Txn(t) => self.apply_txn(state, entry, |w| {
                let mut path = Vec::new();
                w.view().txn_path(t, &mut path)?;
                w.view().check_path(t, &mut path.iter())?;
                w.txn(t, &mut path.iter()).map(CommandResult::Txn)
            }),
            Command::Compact(c) => Ok(apply_compact(state, entry, c)),
            Command::LeaseGrant { id, ttl } => Ok(apply_lease_grant(state, entry, *id, *ttl)),
            Command::LeaseRevoke { id } => self.apply_lease_revoke(state, entry, *id),
            Command::Batch(cmds) => cmds
                .iter()
                .map(|c| self.apply_one(state, entry, c))
                .collect::<Result<Vec<_>, _>>()
                .map(CommandResult::Batch),
        }
    }

    /// Writes only the log position (blank and membership entries).
    pub fn apply_nothing(&self, applied: WriteBatch) -> Result<(), EngineError> {
        let _state = self.write();
        self.engine.write(applied, Durability::Buffered)
    }

    /// Runs `body` as one write transaction. A request-level failure changes
    /// nothing and becomes a result.
    fn apply_txn(
        &self,
        state: &mut State,
        entry: &mut EntryChanges,
        body: impl FnOnce(&mut TxnWriter<'_>) -> Result<CommandResult, KvError>,
    ) -> Result<CommandResult, EngineError> {
        let ops_before = entry.batch.ops.len();
        let mut writer = TxnWriter::new(state, &*self.engine, &mut entry.batch, &mut entry.pending);
        let result = match body(&mut writer) {
            Ok(r) => r,
            Err(KvError::Storage(e)) => return Err(EngineError::Io(e)),
            Err(e) => {
                // Nothing was written to the index unless the failure came mid-way,
                // which the checks made before execution rule out.
                entry.batch.ops.truncate(ops_before);
                return Ok(CommandResult::Failed(e));
            }
        };
        commit(writer, &mut entry.effects);
        Ok(result)
    }

    fn apply_lease_revoke(
        &self,
        state: &mut State,
        entry: &mut EntryChanges,
        id: i64,
    ) -> Result<CommandResult, EngineError> {
        let Some(lease) = state.leases.get(&id).cloned() else {
            return Ok(CommandResult::Failed(KvError::LeaseNotFound));
        };
        entry.batch.delete(Table::Lease, lease_key(id));
        let mut writer = TxnWriter::new(state, &*self.engine, &mut entry.batch, &mut entry.pending);
        for key in &lease.keys {
            let del = etcd_client::proto::PbDeleteRequest { key: key.clone(), range_end: vec![], prev_kv: false };
            if let Err(e) = writer.delete_range(&del) {
                return Err(EngineError::Io(e.to_string()));
            }
        }
        writer.state.leases.remove(&id);
        let rev = writer.read_rev();
        commit(writer, &mut entry.effects);
        entry.effects.push(Effect::LeaseRevoked { id });
        Ok(CommandResult::LeaseRevoke(PbLeaseRevokeResponse { header: header(rev) }))
    }

    /// Revisions whose records compaction at `at` may delete: those not in
    /// their key's history any more. Called by the compactor, chunk by chunk.
    pub(crate) fn doomed(&self, records: &[(Revision, Vec<u8>)]) -> Vec<Revision> {
        let state = self.read();
        records
            .iter()
            .filter(|(rev, key)| !state.index.history(key).is_some_and(|h| h.contains(*rev)))
            .map(|(rev, _)| *rev)
            .collect()
    }

    /// Waits until physical compaction has reached `rev`.
    pub async fn wait_compacted(&self, rev: i64) {
        self.compactor.wait(rev).await;
    }

    /// Events of revisions `[from, to]` for keys in `range`, from history, for
    /// watchers catching up. At most `max_revisions` revisions are read.
    /// Returns the events and the last revision fully covered.
    pub(crate) fn history_events(
        &self,
        range: &KeyRange,
        from: i64,
        to: i64,
        max_events: usize,
    ) -> Result<(Vec<etcd_client::proto::PbEvent>, i64), KvError> {
        use super::txn::{EVENT_DELETE, EVENT_PUT, to_kv};
        let mut records = Vec::new();
        let mut failure = None;
        let mut last_main = None;
        let mut stopped_early = false;
        self.engine.scan(Table::Kv, &Revision::start_of(from), Some(&Revision::start_of(to + 1)), &mut |k, v| {
            let Some(rev) = Revision::decode(k) else {
                failure = Some(KvError::Storage(format!("corrupt revision key {k:?}")));
                return false;
            };
            // Never split a revision: stop only at a revision boundary.
            if records.len() >= max_events && last_main != Some(rev.main) {
                stopped_early = true;
                return false;
            }
            last_main = Some(rev.main);
            match Record::decode(rev, v) {
                Ok(rec) => {
                    if range.contains(&rec.key) {
                        records.push((rev, rec));
                    }
                    true
                }
                Err(e) => {
                    failure = Some(e.into());
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let covered = match (stopped_early, last_main) {
            (true, Some(main)) => main,
            _ => to,
        };
        let state = self.read();
        let view = View { state: &state, engine: &*self.engine, pending: None, rev: state.current };
        let events = records
            .into_iter()
            .map(|(rev, rec)| {
                let prev_kv = match state.index.history(&rec.key).and_then(|h| h.live_before(rev)) {
                    Some(prev) => Some(to_kv(&rec.key, prev, &view.record(prev)?)),
                    None => None,
                };
                Ok(if rec.tombstone {
                    etcd_client::proto::PbEvent {
                        r#type: EVENT_DELETE,
                        kv: Some(PbKeyValue { key: rec.key.clone(), mod_revision: rev.main, ..Default::default() }),
                        prev_kv,
                    }
                } else {
                    etcd_client::proto::PbEvent { r#type: EVENT_PUT, kv: Some(to_kv(&rec.key, rev, &rec)), prev_kv }
                })
            })
            .collect::<Result<Vec<_>, KvError>>()?;
        Ok((events, covered))
    }
}
