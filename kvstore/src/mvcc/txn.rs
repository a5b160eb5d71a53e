//! Reading and writing inside one revision: ranges, compares, puts, deletes
//! and (nested) transactions, with etcd's rules for what a request may say and
//! what a transaction sees of its own writes.

use std::collections::{BTreeSet, HashMap};

use etcd_client::proto::{
    PbCompare, PbDeleteRequest, PbDeleteResponse, PbEvent, PbKeyValue, PbPutRequest, PbPutResponse, PbRangeRequest,
    PbRangeResponse, PbResponseHeader, PbResponseOp, PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse, PbTxnRequest,
    PbTxnResponse,
};

use super::store::State;
use super::{KeyRange, Record, Revision};
use crate::engine::{Engine, Table, WriteBatch};
use crate::error::KvError;

// Enum values of etcd's rpc.proto, which prost keeps as plain i32 fields.
const SORT_NONE: i32 = 0;
const SORT_ASCEND: i32 = 1;
const SORT_DESCEND: i32 = 2;
const TARGET_KEY: i32 = 0;
const TARGET_VERSION: i32 = 1;
const TARGET_CREATE: i32 = 2;
const TARGET_MOD: i32 = 3;
const TARGET_VALUE: i32 = 4;
const CMP_EQUAL: i32 = 0;
const CMP_GREATER: i32 = 1;
const CMP_LESS: i32 = 2;
const CMP_NOT_EQUAL: i32 = 3;
const CMP_TARGET_VERSION: i32 = 0;
const CMP_TARGET_CREATE: i32 = 1;
const CMP_TARGET_MOD: i32 = 2;
const CMP_TARGET_VALUE: i32 = 3;
const CMP_TARGET_LEASE: i32 = 4;
pub(crate) const EVENT_PUT: i32 = 0;
pub(crate) const EVENT_DELETE: i32 = 1;

pub(crate) fn header(revision: i64) -> Option<PbResponseHeader> {
    Some(PbResponseHeader { revision, ..Default::default() })
}

pub(crate) fn to_kv(key: &[u8], rev: Revision, rec: &Record) -> PbKeyValue {
    PbKeyValue {
        key: key.to_vec(),
        create_revision: rec.create_revision,
        mod_revision: rev.main,
        version: rec.version,
        value: rec.value.clone(),
        lease: rec.lease,
    }
}

// ---- Static checks, made before a request is logged (etcd's v3rpc checks) ----

pub fn check_range(r: &PbRangeRequest) -> Result<(), KvError> {
    if r.key.is_empty() {
        return Err(KvError::EmptyKey);
    }
    Ok(())
}

pub fn check_put(r: &PbPutRequest) -> Result<(), KvError> {
    if r.key.is_empty() {
        return Err(KvError::EmptyKey);
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(KvError::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(KvError::LeaseProvided);
    }
    Ok(())
}

pub fn check_delete(r: &PbDeleteRequest) -> Result<(), KvError> {
    if r.key.is_empty() {
        return Err(KvError::EmptyKey);
    }
    Ok(())
}

/// etcd's `checkTxnRequest` and `checkIntervals`: operation counts, empty
/// keys, and no key written twice in one transaction.
pub fn check_txn(r: &PbTxnRequest, max_ops: usize) -> Result<(), KvError> {
    check_txn_shape(r, max_ops)?;
    for branch in [&r.success, &r.failure] {
        written_keys(branch)?;
    }
    Ok(())
}

fn check_txn_shape(r: &PbTxnRequest, max_ops: usize) -> Result<(), KvError> {
    if r.compare.len().max(r.success.len()).max(r.failure.len()) > max_ops {
        return Err(KvError::TooManyOps);
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(KvError::EmptyKey);
    }
    for op in r.success.iter().chain(&r.failure) {
        match &op.request {
            Some(PbTxnOpRequest::RequestRange(r)) => check_range(r)?,
            Some(PbTxnOpRequest::RequestPut(r)) => check_put(r)?,
            Some(PbTxnOpRequest::RequestDeleteRange(r)) => check_delete(r)?,
            Some(PbTxnOpRequest::RequestTxn(t)) => check_txn_shape(t, max_ops)?,
            None => {}
        }
    }
    Ok(())
}

/// The keys a branch puts and the ranges it deletes, nested transactions
/// included (both of their branches, as etcd counts them).
fn written_keys(ops: &[etcd_client::proto::PbTxnRequestOp]) -> Result<(BTreeSet<Vec<u8>>, Vec<KeyRange>), KvError> {
    let mut puts = BTreeSet::new();
    let mut dels = Vec::new();
    for op in ops {
        match &op.request {
            Some(PbTxnOpRequest::RequestPut(p)) if !puts.insert(p.key.clone()) => {
                return Err(KvError::DuplicateKey);
            }
            Some(PbTxnOpRequest::RequestDeleteRange(d)) => dels.push(KeyRange::from_etcd(&d.key, &d.range_end)),
            Some(PbTxnOpRequest::RequestTxn(t)) => {
                let (sp, sd) = written_keys(&t.success)?;
                let (fp, fd) = written_keys(&t.failure)?;
                for key in sp.into_iter().chain(fp) {
                    if puts.contains(&key) {
                        return Err(KvError::DuplicateKey);
                    }
                    puts.insert(key);
                }
                dels.extend(sd);
                dels.extend(fd);
            }
            _ => {}
        }
    }
    for key in &puts {
        if dels.iter().any(|d| d.contains(key)) {
            return Err(KvError::DuplicateKey);
        }
    }
    Ok((puts, dels))
}

// ---- Reading ----

/// A consistent read view: the index at `rev`, plus records written by the
/// enclosing transaction that are not in the engine yet.
pub(crate) struct View<'a> {
    pub state: &'a State,
    pub engine: &'a dyn Engine,
    pub pending: Option<&'a HashMap<Revision, Record>>,
    pub rev: i64,
}

impl View<'_> {
    pub fn record(&self, rev: Revision) -> Result<Record, KvError> {
        if let Some(rec) = self.pending.and_then(|p| p.get(&rev)) {
            return Ok(rec.clone());
        }
        match self.engine.get(Table::Kv, &rev.encode())? {
            Some(bytes) => Ok(Record::decode(rev, &bytes)?),
            // Physically compacted between the index look-up and this read.
            None => Err(KvError::Compacted),
        }
    }

    fn live_kvs(&self, range: &KeyRange, at: i64, limit: Option<usize>) -> Result<Vec<PbKeyValue>, KvError> {
        let entries = self.state.index.live_in(range, at);
        let entries: Vec<(&[u8], Revision)> = match limit {
            Some(n) => entries.take(n).collect(),
            None => entries.collect(),
        };
        entries.into_iter().map(|(k, rev)| Ok(to_kv(k, rev, &self.record(rev)?))).collect()
    }

    /// Checks a Range's revision against the store (etcd's `checkRange`).
    pub fn check_revision(&self, revision: i64) -> Result<(), KvError> {
        if revision > self.rev {
            return Err(KvError::FutureRevision);
        }
        if revision > 0 && revision < self.state.compacted {
            return Err(KvError::Compacted);
        }
        Ok(())
    }

    pub fn range(&self, r: &PbRangeRequest) -> Result<PbRangeResponse, KvError> {
        self.check_revision(r.revision)?;
        let at = if r.revision > 0 { r.revision } else { self.rev };
        let range = KeyRange::from_etcd(&r.key, &r.range_end);
        let count = self.state.index.count_live(&range, at) as i64;
        if r.count_only {
            return Ok(PbRangeResponse { header: header(self.rev), kvs: vec![], more: false, count });
        }
        let filtered = r.min_mod_revision != 0
            || r.max_mod_revision != 0
            || r.min_create_revision != 0
            || r.max_create_revision != 0;
        let mut order = r.sort_order;
        if r.sort_target != TARGET_KEY && order == SORT_NONE {
            order = SORT_ASCEND;
        }
        let sorted = order != SORT_NONE;
        let fetch = if r.limit > 0 && !filtered && !sorted { Some(r.limit as usize + 1) } else { None };
        let mut kvs = self.live_kvs(&range, at, fetch)?;
        if filtered {
            kvs.retain(|kv| {
                !(r.max_mod_revision != 0 && kv.mod_revision > r.max_mod_revision
                    || r.min_mod_revision != 0 && kv.mod_revision < r.min_mod_revision
                    || r.max_create_revision != 0 && kv.create_revision > r.max_create_revision
                    || r.min_create_revision != 0 && kv.create_revision < r.min_create_revision)
            });
        }
        if sorted {
            sort_kvs(&mut kvs, r.sort_target, order);
        }
        let mut more = false;
        if r.limit > 0 && kvs.len() > r.limit as usize {
            kvs.truncate(r.limit as usize);
            more = true;
        }
        if r.keys_only {
            for kv in &mut kvs {
                kv.value.clear();
            }
        }
        Ok(PbRangeResponse { header: header(self.rev), kvs, more, count })
    }

    fn compare(&self, c: &PbCompare) -> Result<bool, KvError> {
        let range = KeyRange::from_etcd(&c.key, &c.range_end);
        let kvs = self.live_kvs(&range, self.rev, None)?;
        if kvs.is_empty() {
            // A value compare on a missing key always fails: gRPC cannot tell a
            // missing value from an empty one.
            if c.target == CMP_TARGET_VALUE {
                return Ok(false);
            }
            return Ok(compare_kv(c, &PbKeyValue::default()));
        }
        Ok(kvs.iter().all(|kv| compare_kv(c, kv)))
    }

    /// Which branch every transaction takes, nested ones included, in the
    /// order execution meets them: etcd decides them all before any write.
    pub fn txn_path(&self, r: &PbTxnRequest, path: &mut Vec<bool>) -> Result<(), KvError> {
        let mut ok = true;
        for c in &r.compare {
            if !self.compare(c)? {
                ok = false;
                break;
            }
        }
        path.push(ok);
        for op in if ok { &r.success } else { &r.failure } {
            if let Some(PbTxnOpRequest::RequestTxn(t)) = &op.request {
                self.txn_path(t, path)?;
            }
        }
        Ok(())
    }

    /// Checks the operations on the chosen path against the state: leases
    /// exist, ignore_* puts have a key, ranges are within history.
    pub fn check_path(&self, r: &PbTxnRequest, path: &mut std::slice::Iter<'_, bool>) -> Result<(), KvError> {
        let ok = path.next().copied().unwrap_or(false);
        for op in if ok { &r.success } else { &r.failure } {
            match &op.request {
                Some(PbTxnOpRequest::RequestPut(p)) => self.check_put_state(p)?,
                Some(PbTxnOpRequest::RequestRange(rr)) => self.check_revision(rr.revision)?,
                Some(PbTxnOpRequest::RequestTxn(t)) => self.check_path(t, path)?,
                _ => {}
            }
        }
        Ok(())
    }

    pub fn check_put_state(&self, p: &PbPutRequest) -> Result<(), KvError> {
        if (p.ignore_value || p.ignore_lease)
            && self.state.index.history(&p.key).and_then(|h| h.live_at(self.rev)).is_none()
        {
            return Err(KvError::KeyNotFound);
        }
        if p.lease != 0 && !self.state.leases.contains_key(&p.lease) {
            return Err(KvError::LeaseNotFound);
        }
        Ok(())
    }

    /// A transaction that only reads, answered without going through the log.
    pub fn read_txn(&self, r: &PbTxnRequest, path: &mut std::slice::Iter<'_, bool>) -> Result<PbTxnResponse, KvError> {
        let ok = path.next().copied().unwrap_or(false);
        let mut responses = Vec::new();
        for op in if ok { &r.success } else { &r.failure } {
            let response = match &op.request {
                Some(PbTxnOpRequest::RequestRange(rr)) => Some(PbTxnOpResponse::ResponseRange(self.range(rr)?)),
                Some(PbTxnOpRequest::RequestTxn(t)) => {
                    let mut inner = self.read_txn(t, path)?;
                    inner.header = Some(PbResponseHeader::default());
                    Some(PbTxnOpResponse::ResponseTxn(inner))
                }
                _ => None,
            };
            responses.push(PbResponseOp { response });
        }
        Ok(PbTxnResponse { header: header(self.rev), succeeded: ok, responses })
    }
}

/// Whether a transaction writes anything on any branch (etcd's isTxnReadonly).
pub fn txn_is_read_only(r: &PbTxnRequest) -> bool {
    r.success.iter().chain(&r.failure).all(|op| match &op.request {
        Some(PbTxnOpRequest::RequestRange(_)) | None => true,
        Some(PbTxnOpRequest::RequestTxn(t)) => txn_is_read_only(t),
        _ => false,
    })
}

fn compare_kv(c: &PbCompare, kv: &PbKeyValue) -> bool {
    use std::cmp::Ordering;
    let ord: Ordering = match (&c.target_union, c.target) {
        (Some(PbTargetUnion::Version(v)), _) => kv.version.cmp(v),
        (Some(PbTargetUnion::CreateRevision(v)), _) => kv.create_revision.cmp(v),
        (Some(PbTargetUnion::ModRevision(v)), _) => kv.mod_revision.cmp(v),
        (Some(PbTargetUnion::Value(v)), _) => kv.value.as_slice().cmp(v.as_slice()),
        (Some(PbTargetUnion::Lease(v)), _) => kv.lease.cmp(v),
        (None, CMP_TARGET_VERSION) => kv.version.cmp(&0),
        (None, CMP_TARGET_CREATE) => kv.create_revision.cmp(&0),
        (None, CMP_TARGET_MOD) => kv.mod_revision.cmp(&0),
        (None, CMP_TARGET_LEASE) => kv.lease.cmp(&0),
        (None, _) => kv.value.as_slice().cmp(&[][..]),
    };
    match c.result {
        CMP_EQUAL => ord == Ordering::Equal,
        CMP_GREATER => ord == Ordering::Greater,
        CMP_LESS => ord == Ordering::Less,
        CMP_NOT_EQUAL => ord != Ordering::Equal,
        _ => false,
    }
}

fn sort_kvs(kvs: &mut [PbKeyValue], target: i32, order: i32) {
    let key = |a: &PbKeyValue, b: &PbKeyValue| match target {
        TARGET_VERSION => a.version.cmp(&b.version),
        TARGET_CREATE => a.create_revision.cmp(&b.create_revision),
        TARGET_MOD => a.mod_revision.cmp(&b.mod_revision),
        TARGET_VALUE => a.value.cmp(&b.value),
        _ => a.key.cmp(&b.key),
    };
    match order {
        SORT_DESCEND => kvs.sort_by(|a, b| key(b, a)),
        _ => kvs.sort_by(key),
    }
}

// ---- Writing ----

/// One write transaction: every change gets revision (main, sub) with `main`
/// one past the store's current revision. Its changes go into the batch of the
/// log entry being applied, and the records it writes into that entry's
/// pending records, where the entry's later commands read them.
pub(crate) struct TxnWriter<'a> {
    pub state: &'a mut State,
    pub engine: &'a dyn Engine,
    pub main: i64,
    sub: i64,
    pub batch: &'a mut WriteBatch,
    pending: &'a mut HashMap<Revision, Record>,
    pub events: Vec<PbEvent>,
}

impl<'a> TxnWriter<'a> {
    pub fn new(
        state: &'a mut State,
        engine: &'a dyn Engine,
        batch: &'a mut WriteBatch,
        pending: &'a mut HashMap<Revision, Record>,
    ) -> Self {
        let main = state.current + 1;
        Self { state, engine, main, sub: 0, batch, pending, events: Vec::new() }
    }

    pub fn changed(&self) -> bool {
        self.sub > 0
    }

    /// The revision reads see: the transaction's own writes once it has any.
    pub fn read_rev(&self) -> i64 {
        if self.changed() { self.main } else { self.state.current }
    }

    pub fn view(&self) -> View<'_> {
        View { state: self.state, engine: self.engine, pending: Some(&*self.pending), rev: self.read_rev() }
    }

    fn live(&self, key: &[u8]) -> Result<Option<(Revision, Record)>, KvError> {
        match self.state.index.history(key).and_then(|h| h.live_at(self.read_rev())) {
            Some(rev) => Ok(Some((rev, self.view().record(rev)?))),
            None => Ok(None),
        }
    }

    fn next_rev(&mut self) -> Revision {
        let rev = Revision::new(self.main, self.sub);
        self.sub += 1;
        rev
    }

    fn write(&mut self, rev: Revision, rec: Record) {
        self.batch.put(Table::Kv, rev.encode().to_vec(), rec.encode());
        self.state.index.record(&rec.key, rev, rec.tombstone);
        self.pending.insert(rev, rec);
    }

    fn detach(&mut self, key: &[u8], lease: i64) {
        if lease != 0
            && let Some(l) = self.state.leases.get_mut(&lease)
        {
            l.keys.remove(key);
        }
    }

    pub fn put(&mut self, p: &PbPutRequest) -> Result<PbPutResponse, KvError> {
        let prev = self.live(&p.key)?;
        let prev_kv = prev.as_ref().map(|(rev, rec)| to_kv(&p.key, *rev, rec));
        let (value, lease) = match &prev {
            Some((_, rec)) => (
                if p.ignore_value { rec.value.clone() } else { p.value.clone() },
                if p.ignore_lease { rec.lease } else { p.lease },
            ),
            None => (p.value.clone(), p.lease),
        };
        let rev = self.next_rev();
        let (create_revision, version) = match &prev {
            Some((_, rec)) => (rec.create_revision, rec.version + 1),
            None => (rev.main, 1),
        };
        if let Some((_, rec)) = &prev
            && rec.lease != lease
        {
            self.detach(&p.key, rec.lease);
        }
        if lease != 0
            && let Some(l) = self.state.leases.get_mut(&lease)
        {
            l.keys.insert(p.key.clone());
        }
        let rec = Record { key: p.key.clone(), create_revision, version, lease, value, tombstone: false };
        self.events.push(PbEvent { r#type: EVENT_PUT, kv: Some(to_kv(&p.key, rev, &rec)), prev_kv: prev_kv.clone() });
        self.write(rev, rec);
        Ok(PbPutResponse { header: header(self.main), prev_kv: if p.prev_kv { prev_kv } else { None } })
    }

    pub fn delete_range(&mut self, d: &PbDeleteRequest) -> Result<PbDeleteResponse, KvError> {
        let range = KeyRange::from_etcd(&d.key, &d.range_end);
        let at = self.read_rev();
        let doomed: Vec<(Vec<u8>, Revision)> =
            self.state.index.live_in(&range, at).map(|(k, r)| (k.to_vec(), r)).collect();
        let mut prev_kvs = Vec::new();
        for (key, prev_rev) in &doomed {
            let prev = self.view().record(*prev_rev)?;
            let prev_kv = to_kv(key, *prev_rev, &prev);
            self.detach(key, prev.lease);
            let rev = self.next_rev();
            self.write(rev, Record { key: key.clone(), tombstone: true, ..Default::default() });
            self.events.push(PbEvent {
                r#type: EVENT_DELETE,
                kv: Some(PbKeyValue { key: key.clone(), mod_revision: rev.main, ..Default::default() }),
                prev_kv: Some(prev_kv.clone()),
            });
            if d.prev_kv {
                prev_kvs.push(prev_kv);
            }
        }
        Ok(PbDeleteResponse { header: header(self.read_rev()), deleted: doomed.len() as i64, prev_kvs })
    }

    /// Executes the branches chosen by `path` (see [`View::txn_path`]).
    pub fn txn(&mut self, r: &PbTxnRequest, path: &mut std::slice::Iter<'_, bool>) -> Result<PbTxnResponse, KvError> {
        let ok = path.next().copied().unwrap_or(false);
        let mut responses = Vec::new();
        for op in if ok { &r.success } else { &r.failure } {
            let response = match &op.request {
                Some(PbTxnOpRequest::RequestRange(rr)) => Some(PbTxnOpResponse::ResponseRange(self.view().range(rr)?)),
                Some(PbTxnOpRequest::RequestPut(p)) => Some(PbTxnOpResponse::ResponsePut(self.put(p)?)),
                Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
                    Some(PbTxnOpResponse::ResponseDeleteRange(self.delete_range(d)?))
                }
                Some(PbTxnOpRequest::RequestTxn(t)) => {
                    let mut inner = self.txn(t, path)?;
                    inner.header = Some(PbResponseHeader::default());
                    Some(PbTxnOpResponse::ResponseTxn(inner))
                }
                None => None,
            };
            responses.push(PbResponseOp { response });
        }
        Ok(PbTxnResponse { header: header(self.read_rev()), succeeded: ok, responses })
    }
}
