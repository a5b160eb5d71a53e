//! Consensus: every mutation is a [`Command`](crate::command::Command) in an
//! openraft log, applied in order to the MVCC store. Today the group has one
//! member; the log, vote and state machine already live in the engine the way
//! a multi-member group needs them. openraft's types stay inside this module.

mod codec;
mod log_store;
mod network;
mod proposer;
mod state_machine;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, CommandResult};
use crate::engine::Engine;
use crate::error::KvError;
use crate::mvcc::MvccStore;

openraft::declare_raft_types!(
    /// bramble's Raft types.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = u64,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// Log entries kept behind the latest snapshot. The state machine is
/// persistent, so older entries are only needed by lagging followers. An entry
/// may be a batch of many commands (see `proposer.rs`, which also starts a
/// snapshot every few MiB logged).
const LOG_KEPT_AFTER_SNAPSHOT: u64 = 100;
const SNAPSHOT_EVERY: u64 = 10_000;

/// A running Raft group member over the store.
#[derive(Clone)]
pub struct Consensus {
    raft: Raft<TypeConfig>,
    member_id: u64,
    proposals: mpsc::UnboundedSender<proposer::Proposal>,
}

impl std::fmt::Debug for Consensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus").field("member_id", &self.member_id).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error("invalid Raft configuration: {0}")]
    Config(String),
    #[error("cannot start Raft: {0}")]
    Start(String),
}

/// Raft figures for Maintenance.Status.
#[derive(Debug, Clone, Copy, Default)]
pub struct RaftStatus {
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: u64,
    pub applied_index: u64,
}

impl Consensus {
    /// Starts the member, creating the one-member group on first start, and
    /// waits until it leads.
    pub async fn start(
        engine: Arc<dyn Engine>,
        store: Arc<MvccStore>,
        member_id: u64,
        peer_url: String,
    ) -> Result<Self, ConsensusError> {
        let config = Config {
            cluster_name: "bramble".into(),
            heartbeat_interval: 100,
            election_timeout_min: 1000,
            election_timeout_max: 2000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(SNAPSHOT_EVERY),
            max_in_snapshot_log_to_keep: LOG_KEPT_AFTER_SNAPSHOT,
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(|e| ConsensusError::Config(e.to_string()))?);
        let log = log_store::LogStore::new(engine).map_err(|e| ConsensusError::Start(e.to_string()))?;
        let sm = state_machine::StateMachine::new(store);
        let raft = Raft::new(member_id, config, network::SingleMemberNetwork, log, sm)
            .await
            .map_err(|e| ConsensusError::Start(e.to_string()))?;
        if !raft.is_initialized().await.map_err(|e| ConsensusError::Start(e.to_string()))? {
            let members: BTreeMap<u64, BasicNode> = [(member_id, BasicNode { addr: peer_url })].into();
            raft.initialize(members).await.map_err(|e| ConsensusError::Start(e.to_string()))?;
        }
        raft.wait(Some(std::time::Duration::from_secs(30)))
            .current_leader(member_id, "this member leads its one-member group")
            .await
            .map_err(|e| ConsensusError::Start(e.to_string()))?;
        let (proposals, queue) = mpsc::unbounded_channel();
        tokio::spawn(proposer::run(raft.clone(), queue));
        Ok(Self { raft, member_id, proposals })
    }

    /// Logs a command and returns what applying it produced. Returns once the
    /// entry is durable and applied. Commands proposed concurrently may share
    /// an entry; each is applied as if logged alone.
    pub async fn propose(&self, cmd: Command) -> Result<CommandResult, KvError> {
        let (reply, result) = oneshot::channel();
        self.proposals.send(proposer::Proposal { cmd, reply }).map_err(|_| KvError::Stopped)?;
        result.await.map_err(|_| KvError::Stopped)?
    }

    /// Waits until this member may serve a linearizable read.
    pub async fn read_barrier(&self) -> Result<(), KvError> {
        self.raft.ensure_linearizable().await.map(|_| ()).map_err(|e| match e {
            openraft::error::RaftError::APIError(_) => KvError::NoLeader,
            openraft::error::RaftError::Fatal(_) => KvError::Stopped,
        })
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.member_id)
    }

    pub fn status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        RaftStatus {
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
        }
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}
