//! The commands that go through the replicated log, and their results. A
//! command is decided before it is logged (lease ids, validation), so applying
//! it is deterministic on every member.

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDeleteRequest, PbDeleteResponse, PbLeaseGrantResponse,
    PbLeaseRevokeResponse, PbPutRequest, PbPutResponse, PbTxnRequest, PbTxnResponse,
};
use prost::Message;

use crate::error::KvError;

/// A state-machine command, as stored in a log entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Put(PbPutRequest),
    DeleteRange(PbDeleteRequest),
    Txn(PbTxnRequest),
    Compact(PbCompactionRequest),
    LeaseGrant { id: i64, ttl: i64 },
    LeaseRevoke { id: i64 },
}

/// What applying a command produced. Request-level failures (a lease that is
/// gone by the time the command applies, say) are results, not storage errors.
#[derive(Debug, Clone)]
pub enum CommandResult {
    Put(PbPutResponse),
    DeleteRange(PbDeleteResponse),
    Txn(PbTxnResponse),
    Compact(PbCompactionResponse),
    LeaseGrant(PbLeaseGrantResponse),
    LeaseRevoke(PbLeaseRevokeResponse),
    Failed(KvError),
    /// Log entries that carry no command (Raft's blank and membership entries).
    Nothing,
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt command in the log: {0}")]
pub struct CommandDecodeError(pub String);

const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;
const TAG_TXN: u8 = 3;
const TAG_COMPACT: u8 = 4;
const TAG_LEASE_GRANT: u8 = 5;
const TAG_LEASE_REVOKE: u8 = 6;

impl Command {
    /// A tag byte and the request's own protobuf encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Command::Put(r) => {
                out.push(TAG_PUT);
                r.encode(&mut out).expect("Vec grows as needed");
            }
            Command::DeleteRange(r) => {
                out.push(TAG_DELETE);
                r.encode(&mut out).expect("Vec grows as needed");
            }
            Command::Txn(r) => {
                out.push(TAG_TXN);
                r.encode(&mut out).expect("Vec grows as needed");
            }
            Command::Compact(r) => {
                out.push(TAG_COMPACT);
                r.encode(&mut out).expect("Vec grows as needed");
            }
            Command::LeaseGrant { id, ttl } => {
                out.push(TAG_LEASE_GRANT);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&ttl.to_le_bytes());
            }
            Command::LeaseRevoke { id } => {
                out.push(TAG_LEASE_REVOKE);
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CommandDecodeError> {
        let err = |e: prost::DecodeError| CommandDecodeError(e.to_string());
        let (&tag, body) = bytes.split_first().ok_or_else(|| CommandDecodeError("empty".into()))?;
        let int = |i: usize| -> Result<i64, CommandDecodeError> {
            body.get(i * 8..i * 8 + 8)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_le_bytes)
                .ok_or_else(|| CommandDecodeError("truncated lease command".into()))
        };
        Ok(match tag {
            TAG_PUT => Command::Put(PbPutRequest::decode(body).map_err(err)?),
            TAG_DELETE => Command::DeleteRange(PbDeleteRequest::decode(body).map_err(err)?),
            TAG_TXN => Command::Txn(PbTxnRequest::decode(body).map_err(err)?),
            TAG_COMPACT => Command::Compact(PbCompactionRequest::decode(body).map_err(err)?),
            TAG_LEASE_GRANT => Command::LeaseGrant { id: int(0)?, ttl: int(1)? },
            TAG_LEASE_REVOKE => Command::LeaseRevoke { id: int(0)? },
            other => return Err(CommandDecodeError(format!("unknown command tag {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let cmds = [
            Command::Put(PbPutRequest { key: b"k".to_vec(), value: b"v".to_vec(), lease: 5, ..Default::default() }),
            Command::DeleteRange(PbDeleteRequest { key: b"a".to_vec(), range_end: b"b".to_vec(), prev_kv: true }),
            Command::Txn(PbTxnRequest::default()),
            Command::Compact(PbCompactionRequest { revision: 9, physical: true }),
            Command::LeaseGrant { id: 7, ttl: 60 },
            Command::LeaseRevoke { id: 7 },
        ];
        for cmd in cmds {
            assert_eq!(Command::decode(&cmd.encode()).expect("decodes"), cmd);
        }
        assert!(Command::decode(&[]).is_err());
        assert!(Command::decode(&[TAG_LEASE_GRANT, 1]).is_err());
        assert!(Command::decode(&[99]).is_err());
    }
}
