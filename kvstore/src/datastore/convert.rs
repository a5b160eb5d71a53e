//! etcd wire types to the datastore's own, and the transactions kube-apiserver
//! sends, built once for both implementations.

use etcd_client::proto::{
    PbCompare, PbDeleteRequest, PbKeyValue, PbPutRequest, PbRangeRequest, PbTargetUnion, PbTxnOpRequest,
    PbTxnOpResponse, PbTxnRequest, PbTxnRequestOp, PbTxnResponse, PbWatchResponse,
};

use super::{EventKind, KeyValue, WatchEvent, WatchMessage, WriteOutcome};

const CMP_EQUAL: i32 = 0;
const CMP_TARGET_MOD: i32 = 2;
const EVENT_DELETE: i32 = 1;

pub fn kv(p: PbKeyValue) -> KeyValue {
    KeyValue {
        key: p.key,
        value: p.value,
        create_revision: p.create_revision,
        mod_revision: p.mod_revision,
        version: p.version,
        lease: p.lease,
    }
}

fn op(request: PbTxnOpRequest) -> PbTxnRequestOp {
    PbTxnRequestOp { request: Some(request) }
}

fn get(key: &[u8]) -> PbTxnRequestOp {
    op(PbTxnOpRequest::RequestRange(PbRangeRequest { key: key.to_vec(), ..Default::default() }))
}

fn mod_is(key: &[u8], rev: i64) -> PbCompare {
    PbCompare {
        result: CMP_EQUAL,
        target: CMP_TARGET_MOD,
        key: key.to_vec(),
        range_end: vec![],
        target_union: Some(PbTargetUnion::ModRevision(rev)),
    }
}

/// `MOD(key) == expected ? Put : Get` (create when `expected` is 0).
pub fn cas_put(key: &[u8], value: &[u8], expected: i64, lease: i64) -> PbTxnRequest {
    PbTxnRequest {
        compare: vec![mod_is(key, expected)],
        success: vec![op(PbTxnOpRequest::RequestPut(PbPutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        }))],
        failure: vec![get(key)],
    }
}

/// `MOD(key) == expected ? Delete : Get`, or an unconditional delete.
pub fn cas_delete(key: &[u8], expected: Option<i64>) -> PbTxnRequest {
    let delete = op(PbTxnOpRequest::RequestDeleteRange(PbDeleteRequest { key: key.to_vec(), ..Default::default() }));
    match expected {
        Some(rev) => PbTxnRequest { compare: vec![mod_is(key, rev)], success: vec![delete], failure: vec![get(key)] },
        None => PbTxnRequest { compare: vec![], success: vec![delete], failure: vec![] },
    }
}

pub fn outcome(resp: PbTxnResponse) -> WriteOutcome {
    let revision = resp.header.as_ref().map(|h| h.revision).unwrap_or(0);
    let mut responses = resp.responses.into_iter().filter_map(|r| r.response);
    match (resp.succeeded, responses.next()) {
        (true, Some(PbTxnOpResponse::ResponseDeleteRange(d))) if d.deleted == 0 => {
            WriteOutcome::Conflict { current: None }
        }
        (true, _) => WriteOutcome::Written { revision },
        (false, Some(PbTxnOpResponse::ResponseRange(r))) => {
            WriteOutcome::Conflict { current: r.kvs.into_iter().next().map(kv) }
        }
        (false, _) => WriteOutcome::Conflict { current: None },
    }
}

/// One watch response as the datastore reports it; `None` for responses
/// that carry nothing for the caller (created).
pub fn watch_message(resp: PbWatchResponse) -> Option<WatchMessage> {
    if resp.compact_revision != 0 {
        return Some(WatchMessage::Compacted { compact_revision: resp.compact_revision });
    }
    if resp.created || resp.canceled {
        return None;
    }
    if resp.events.is_empty() {
        return Some(WatchMessage::Progress { revision: resp.header.map(|h| h.revision).unwrap_or(0) });
    }
    let events = resp
        .events
        .into_iter()
        .map(|e| WatchEvent {
            kind: if e.r#type == EVENT_DELETE { EventKind::Delete } else { EventKind::Put },
            kv: e.kv.map(kv).unwrap_or_default(),
            prev: e.prev_kv.map(kv),
        })
        .collect();
    Some(WatchMessage::Events(events))
}
