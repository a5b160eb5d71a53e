//! Encodings of Raft's own records (log ids, votes, entries, memberships) in
//! the engine. Fixed-width integers; memberships, which are rare and small, as
//! JSON of a mirror type so openraft's types need no serde.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Membership, StoredMembership, Vote};
use serde::{Deserialize, Serialize};

use super::TypeConfig;
use crate::command::Command;

#[derive(Debug, thiserror::Error)]
#[error("corrupt Raft record: {0}")]
pub struct CodecError(pub String);

fn err(what: impl Into<String>) -> CodecError {
    CodecError(what.into())
}

fn u64_at(bytes: &[u8], i: usize) -> Result<u64, CodecError> {
    bytes
        .get(i * 8..i * 8 + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| err("truncated integer"))
}

pub fn encode_log_id(id: &LogId<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    out.extend_from_slice(&id.leader_id.term.to_le_bytes());
    out.extend_from_slice(&id.leader_id.node_id.to_le_bytes());
    out.extend_from_slice(&id.index.to_le_bytes());
    out
}

pub fn decode_log_id(bytes: &[u8]) -> Result<LogId<u64>, CodecError> {
    Ok(LogId::new(CommittedLeaderId::new(u64_at(bytes, 0)?, u64_at(bytes, 1)?), u64_at(bytes, 2)?))
}

pub fn encode_vote(v: &Vote<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    out.extend_from_slice(&v.leader_id.term.to_le_bytes());
    out.extend_from_slice(&v.leader_id.node_id.to_le_bytes());
    out.push(u8::from(v.committed));
    out
}

pub fn decode_vote(bytes: &[u8]) -> Result<Vote<u64>, CodecError> {
    let (term, node) = (u64_at(bytes, 0)?, u64_at(bytes, 1)?);
    match bytes.get(16) {
        Some(1) => Ok(Vote::new_committed(term, node)),
        Some(0) => Ok(Vote::new(term, node)),
        _ => Err(err("vote without committed flag")),
    }
}

#[derive(Serialize, Deserialize)]
struct MembershipRecord {
    log_id: Option<(u64, u64, u64)>,
    configs: Vec<BTreeSet<u64>>,
    nodes: BTreeMap<u64, String>,
}

pub fn encode_membership(m: &StoredMembership<u64, BasicNode>) -> Vec<u8> {
    let rec = MembershipRecord {
        log_id: m.log_id().map(|l| (l.leader_id.term, l.leader_id.node_id, l.index)),
        configs: m.membership().get_joint_config().clone(),
        nodes: m.membership().nodes().map(|(id, n)| (*id, n.addr.clone())).collect(),
    };
    serde_json::to_vec(&rec).expect("a membership record always serialises")
}

pub fn decode_membership(bytes: &[u8]) -> Result<StoredMembership<u64, BasicNode>, CodecError> {
    let rec: MembershipRecord = serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))?;
    let nodes: BTreeMap<u64, BasicNode> = rec.nodes.into_iter().map(|(id, addr)| (id, BasicNode { addr })).collect();
    let log_id = rec.log_id.map(|(t, n, i)| LogId::new(CommittedLeaderId::new(t, n), i));
    Ok(StoredMembership::new(log_id, Membership::new(rec.configs, nodes)))
}

const PAYLOAD_BLANK: u8 = 0;
const PAYLOAD_NORMAL: u8 = 1;
const PAYLOAD_MEMBERSHIP: u8 = 2;

pub fn encode_entry(e: &Entry<TypeConfig>) -> Vec<u8> {
    let mut out = encode_log_id(&e.log_id);
    match &e.payload {
        EntryPayload::Blank => out.push(PAYLOAD_BLANK),
        EntryPayload::Normal(cmd) => {
            out.push(PAYLOAD_NORMAL);
            cmd.encode_into(&mut out);
        }
        EntryPayload::Membership(m) => {
            out.push(PAYLOAD_MEMBERSHIP);
            out.extend_from_slice(&encode_membership(&StoredMembership::new(None, m.clone())));
        }
    }
    out
}

pub fn decode_entry(bytes: &[u8]) -> Result<Entry<TypeConfig>, CodecError> {
    let log_id = decode_log_id(bytes)?;
    let payload = match bytes.get(24) {
        Some(&PAYLOAD_BLANK) => EntryPayload::Blank,
        Some(&PAYLOAD_NORMAL) => EntryPayload::Normal(Command::decode(&bytes[25..]).map_err(|e| err(e.to_string()))?),
        Some(&PAYLOAD_MEMBERSHIP) => EntryPayload::Membership(decode_membership(&bytes[25..])?.membership().clone()),
        _ => return Err(err(format!("entry {} has no payload kind", log_id.index))),
    };
    Ok(Entry { log_id, payload })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = LogId::new(CommittedLeaderId::new(3, 1), 42);
        assert_eq!(decode_log_id(&encode_log_id(&id)).expect("decodes"), id);
        for v in [Vote::new(2, 1), Vote::new_committed(5, 1)] {
            assert_eq!(decode_vote(&encode_vote(&v)).expect("decodes"), v);
        }
        let nodes: BTreeMap<u64, BasicNode> = [(1, BasicNode { addr: "127.0.0.1:2380".into() })].into();
        let m = StoredMembership::new(Some(id), Membership::new(vec![[1].into()], nodes));
        assert_eq!(decode_membership(&encode_membership(&m)).expect("decodes"), m);
        let entries = [
            Entry { log_id: id, payload: EntryPayload::Blank },
            Entry { log_id: id, payload: EntryPayload::Normal(Command::LeaseRevoke { id: 9 }) },
            Entry { log_id: id, payload: EntryPayload::Membership(m.membership().clone()) },
        ];
        for e in entries {
            let back = decode_entry(&encode_entry(&e)).expect("decodes");
            assert_eq!(back.log_id, e.log_id);
            assert_eq!(format!("{:?}", back.payload), format!("{:?}", e.payload));
        }
        assert!(decode_entry(&[1, 2, 3]).is_err());
    }
}
