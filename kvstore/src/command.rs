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
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseRevoke {
        id: i64,
    },
    /// Commands proposed while another proposal was in flight, logged as one
    /// entry and applied in order, each exactly as if logged alone: its own
    /// revision, result, watch events and lease effects. A batch holds no
    /// batches (the decoder refuses them, so a corrupt log cannot recurse).
    Batch(Vec<Command>),
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
    /// One result per command of a [`Command::Batch`], in its order.
    Batch(Vec<CommandResult>),
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
const TAG_BATCH: u8 = 7;

impl Command {
    /// A tag byte and the request's own protobuf encoding. A batch is its tag
    /// and each command as a 4-byte little-endian length and its encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// The length of [`Command::encode`]'s output, without encoding.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Command::Put(r) => r.encoded_len(),
            Command::DeleteRange(r) => r.encoded_len(),
            Command::Txn(r) => r.encoded_len(),
            Command::Compact(r) => r.encoded_len(),
            Command::LeaseGrant { .. } => 16,
            Command::LeaseRevoke { .. } => 8,
            Command::Batch(cmds) => cmds.iter().map(|c| 4 + c.encoded_len()).sum(),
        }
    }

    /// [`Command::encode`], appended to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Command::Put(r) => {
                out.push(TAG_PUT);
                r.encode(out).expect("Vec grows as needed");
            }
            Command::DeleteRange(r) => {
                out.push(TAG_DELETE);
                r.encode(out).expect("Vec grows as needed");
            }
            Command::Txn(r) => {
                out.push(TAG_TXN);
                r.encode(out).expect("Vec grows as needed");
            }
            Command::Compact(r) => {
                out.push(TAG_COMPACT);
                r.encode(out).expect("Vec grows as needed");
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
            Command::Batch(cmds) => {
                out.push(TAG_BATCH);
                for cmd in cmds {
                    let at = out.len();
                    out.extend_from_slice(&[0; 4]);
                    cmd.encode_into(out);
                    let len = u32::try_from(out.len() - at - 4).expect("a log entry is smaller than 4 GiB");
                    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
                }
            }
        }
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
            TAG_BATCH => {
                let mut cmds = Vec::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (len, tail) = rest
                        .split_first_chunk::<4>()
                        .ok_or_else(|| CommandDecodeError("truncated batch length".into()))?;
                    let len = u32::from_le_bytes(*len) as usize;
                    if tail.len() < len {
                        return Err(CommandDecodeError("truncated batch".into()));
                    }
                    let (cmd, tail) = tail.split_at(len);
                    if cmd.first() == Some(&TAG_BATCH) {
                        return Err(CommandDecodeError("a batch inside a batch".into()));
                    }
                    cmds.push(Command::decode(cmd)?);
                    rest = tail;
                }
                Command::Batch(cmds)
            }
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
        for cmd in cmds.iter().cloned().chain([Command::Batch(cmds.to_vec()), Command::Batch(vec![])]) {
            let bytes = cmd.encode();
            assert_eq!(bytes.len(), cmd.encoded_len(), "{cmd:?}");
            assert_eq!(Command::decode(&bytes).expect("decodes"), cmd);
        }
        assert!(Command::decode(&[]).is_err());
        assert!(Command::decode(&[TAG_LEASE_GRANT, 1]).is_err());
        assert!(Command::decode(&[99]).is_err());
        let batch = Command::Batch(cmds.to_vec()).encode();
        assert!(Command::decode(&batch[..batch.len() - 1]).is_err(), "a cut batch is refused");
        assert!(Command::decode(&[TAG_BATCH, 1, 0]).is_err(), "a cut length is refused");
        assert!(Command::decode(&[TAG_BATCH, 1, 0, 0, 0, 99]).is_err(), "a bad inner command is refused");
        assert!(Command::decode(&[TAG_BATCH, 1, 0, 0, 0, TAG_BATCH]).is_err(), "a nested batch is refused");
    }

    /// Entries written before batches existed decode as they always did: the
    /// encodings of the single commands are unchanged.
    #[test]
    fn single_commands_keep_their_encoding() {
        let put = Command::Put(PbPutRequest { key: b"k".to_vec(), value: b"v".to_vec(), ..Default::default() });
        assert_eq!(put.encode(), [&[TAG_PUT, 0x0a, 1, b'k', 0x12, 1, b'v'][..]].concat());
        let revoke = Command::LeaseRevoke { id: 7 };
        assert_eq!(revoke.encode(), [&[TAG_LEASE_REVOKE][..], &7i64.to_le_bytes()].concat());
    }
}
