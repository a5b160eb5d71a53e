//! A store member, assembled: engine, MVCC store, watch hub, lessor and Raft.
//! Both the gRPC services and the in-process [`Datastore`](crate::Datastore)
//! call it; it is the one place that decides what goes through the log.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDeleteRequest, PbDeleteResponse, PbLeaseGrantResponse,
    PbLeaseRevokeResponse, PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbResponseHeader,
    PbTxnRequest, PbTxnResponse,
};
use prost::Message;

use crate::command::{Command, CommandResult};
use crate::engine::{Durability, Engine, EngineError, RocksEngine, Table, WriteBatch};
use crate::error::KvError;
use crate::lease::{Lessor, MAX_TTL, MIN_TTL};
use crate::mvcc::{self, LeaseInfo, MvccStore};
use crate::raft::{Consensus, RaftStatus};
use crate::watch::WatchHub;

/// The version reported by Maintenance.Status. kube-apiserver turns on
/// consistent reads from its watch cache only for etcd >= 3.5.13, and our
/// RequestProgress has the semantics that gate stands for.
pub const ETCD_VERSION: &str = "3.5.21";
const FORMAT: &[u8] = b"bramble-kv/1";
const META_FORMAT: &[u8] = b"format";
const META_CLUSTER_ID: &[u8] = b"cluster_id";
const META_MEMBER_ID: &[u8] = b"member_id";

/// How a store member is set up.
#[derive(Debug, Clone)]
pub struct KvConfig {
    /// The directory of the store's database.
    pub dir: PathBuf,
    /// This member's name in MemberList.
    pub name: String,
    pub client_urls: Vec<String>,
    pub peer_url: String,
    /// etcd's `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// etcd's `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// etcd's `--experimental-watch-progress-notify-interval`.
    pub progress_notify_interval: Duration,
}

impl KvConfig {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            name: hostname(),
            client_urls: vec!["http://127.0.0.1:2379".into()],
            peer_url: "http://127.0.0.1:2380".into(),
            max_request_bytes: 1536 * 1024,
            max_txn_ops: 128,
            progress_notify_interval: Duration::from_secs(600),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "default".into())
}

#[derive(Debug, thiserror::Error)]
pub enum KvStartError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot load the store at {path}: {source}")]
    Load { path: PathBuf, source: KvError },
    #[error(transparent)]
    Consensus(#[from] crate::raft::ConsensusError),
}

pub struct KvNode {
    pub config: KvConfig,
    engine: Arc<dyn Engine>,
    store: Arc<MvccStore>,
    hub: Arc<WatchHub>,
    lessor: Arc<Lessor>,
    consensus: Consensus,
    pub cluster_id: u64,
    pub member_id: u64,
}

impl std::fmt::Debug for KvNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvNode").field("dir", &self.config.dir).field("member_id", &self.member_id).finish()
    }
}

/// Checks the store's format mark, or writes it with fresh identities on an
/// empty store. Returns (cluster id, member id).
fn identity(engine: &dyn Engine, dir: &std::path::Path) -> Result<(u64, u64), KvStartError> {
    let id = |key: &[u8]| -> Result<Option<u64>, EngineError> {
        Ok(engine.get(Table::Meta, key)?.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map(u64::from_le_bytes))
    };
    match engine.get(Table::Meta, META_FORMAT)? {
        Some(f) if f == FORMAT => match (id(META_CLUSTER_ID)?, id(META_MEMBER_ID)?) {
            (Some(c), Some(m)) => Ok((c, m)),
            _ => Err(EngineError::Foreign { path: dir.to_owned(), reason: "the store has no cluster identity".into() }
                .into()),
        },
        Some(f) => Err(EngineError::Foreign {
            path: dir.to_owned(),
            reason: format!("unknown store format {:?}", String::from_utf8_lossy(&f)),
        }
        .into()),
        None => {
            let mut any = false;
            for table in Table::ALL {
                engine.scan(table, &[], None, &mut |_, _| {
                    any = true;
                    false
                })?;
            }
            if any {
                return Err(EngineError::Foreign {
                    path: dir.to_owned(),
                    reason: "data without a bramble format mark".into(),
                }
                .into());
            }
            let (cluster, member) = (rand::random::<u64>() >> 1 | 1, rand::random::<u64>() >> 1 | 1);
            let mut batch = WriteBatch::default();
            batch.put(Table::Meta, META_FORMAT, FORMAT.to_vec());
            batch.put(Table::Meta, META_CLUSTER_ID, cluster.to_le_bytes());
            batch.put(Table::Meta, META_MEMBER_ID, member.to_le_bytes());
            engine.write(batch, Durability::Synced)?;
            Ok((cluster, member))
        }
    }
}

impl KvNode {
    /// Opens (or creates) the store on RocksDB and starts its Raft member.
    pub async fn open(config: KvConfig) -> Result<Arc<Self>, KvStartError> {
        let engine: Arc<dyn Engine> = Arc::new(RocksEngine::open(&config.dir)?);
        Self::open_on(config, engine).await
    }

    /// Opens the store on any engine (the memory engine in tests).
    pub async fn open_on(config: KvConfig, engine: Arc<dyn Engine>) -> Result<Arc<Self>, KvStartError> {
        let (cluster_id, member_id) = identity(&*engine, &config.dir)?;
        let hub = WatchHub::new(config.max_request_bytes);
        let lessor = Arc::new(Lessor::new());
        let store = MvccStore::open(engine.clone(), hub.clone(), lessor.clone())
            .map_err(|source| KvStartError::Load { path: config.dir.clone(), source })?;
        let consensus = Consensus::start(engine.clone(), store.clone(), member_id, config.peer_url.clone()).await?;
        hub.set_identity(cluster_id, member_id, consensus.status().term);
        lessor.promote();
        tokio::spawn(hub.clone().run_catch_up(Arc::downgrade(&store)));
        let node = Arc::new(Self { config, engine, store, hub, lessor, consensus, cluster_id, member_id });
        tokio::spawn(expire_leases(Arc::downgrade(&node)));
        Ok(node)
    }

    pub fn header(&self, revision: i64) -> Option<PbResponseHeader> {
        Some(PbResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.member_id,
            revision,
            raft_term: self.consensus.status().term,
        })
    }

    fn fill(&self, header: &mut Option<PbResponseHeader>) {
        let revision = header.as_ref().map(|h| h.revision).unwrap_or_else(|| self.store.current_revision());
        *header = self.header(revision);
    }

    pub fn hub(&self) -> &Arc<WatchHub> {
        &self.hub
    }

    pub fn store(&self) -> &Arc<MvccStore> {
        &self.store
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    pub fn raft_status(&self) -> RaftStatus {
        self.consensus.status()
    }

    fn check_size(&self, len: usize) -> Result<(), KvError> {
        if len > self.config.max_request_bytes {
            return Err(KvError::RequestTooLarge);
        }
        Ok(())
    }

    async fn propose(&self, cmd: Command) -> Result<CommandResult, KvError> {
        match self.consensus.propose(cmd).await? {
            CommandResult::Failed(e) => Err(e),
            other => Ok(other),
        }
    }

    pub async fn range(&self, r: PbRangeRequest) -> Result<PbRangeResponse, KvError> {
        mvcc::check_range(&r)?;
        if !r.serializable {
            self.consensus.read_barrier().await?;
        }
        let mut resp = self.store.range(&r)?;
        self.fill(&mut resp.header);
        Ok(resp)
    }

    pub async fn put(&self, r: PbPutRequest) -> Result<PbPutResponse, KvError> {
        mvcc::check_put(&r)?;
        self.check_size(r.encoded_len())?;
        match self.propose(Command::Put(r)).await? {
            CommandResult::Put(mut resp) => {
                self.fill(&mut resp.header);
                Ok(resp)
            }
            other => Err(unexpected(other)),
        }
    }

    pub async fn delete_range(&self, r: PbDeleteRequest) -> Result<PbDeleteResponse, KvError> {
        mvcc::check_delete(&r)?;
        self.check_size(r.encoded_len())?;
        match self.propose(Command::DeleteRange(r)).await? {
            CommandResult::DeleteRange(mut resp) => {
                self.fill(&mut resp.header);
                Ok(resp)
            }
            other => Err(unexpected(other)),
        }
    }

    pub async fn txn(&self, r: PbTxnRequest) -> Result<PbTxnResponse, KvError> {
        mvcc::check_txn(&r, self.config.max_txn_ops)?;
        self.check_size(r.encoded_len())?;
        if mvcc::txn_is_read_only(&r) {
            self.consensus.read_barrier().await?;
            if let Some(result) = self.store.read_txn(&r) {
                let mut resp = result?;
                self.fill(&mut resp.header);
                return Ok(resp);
            }
        }
        match self.propose(Command::Txn(r)).await? {
            CommandResult::Txn(mut resp) => {
                self.fill(&mut resp.header);
                Ok(resp)
            }
            other => Err(unexpected(other)),
        }
    }

    pub async fn compact(&self, r: PbCompactionRequest) -> Result<PbCompactionResponse, KvError> {
        let physical = r.physical;
        let revision = r.revision;
        match self.propose(Command::Compact(r)).await? {
            CommandResult::Compact(mut resp) => {
                if physical {
                    self.store.wait_compacted(revision).await;
                }
                self.fill(&mut resp.header);
                Ok(resp)
            }
            other => Err(unexpected(other)),
        }
    }

    /// Grants a lease; `id` 0 lets the server pick one.
    pub async fn lease_grant(&self, ttl: i64, id: i64) -> Result<PbLeaseGrantResponse, KvError> {
        if ttl > MAX_TTL {
            return Err(KvError::LeaseTtlTooLarge);
        }
        let ttl = ttl.max(MIN_TTL);
        let id = if id != 0 {
            id
        } else {
            loop {
                let candidate = (rand::random::<u64>() >> 1) as i64;
                if candidate != 0 && !self.store.exists_lease(candidate) {
                    break candidate;
                }
            }
        };
        match self.propose(Command::LeaseGrant { id, ttl }).await? {
            CommandResult::LeaseGrant(mut resp) => {
                self.fill(&mut resp.header);
                Ok(resp)
            }
            other => Err(unexpected(other)),
        }
    }

    pub async fn lease_revoke(&self, id: i64) -> Result<PbLeaseRevokeResponse, KvError> {
        match self.propose(Command::LeaseRevoke { id }).await? {
            CommandResult::LeaseRevoke(mut resp) => {
                self.fill(&mut resp.header);
                Ok(resp)
            }
            other => Err(unexpected(other)),
        }
    }

    /// Renews a lease; its TTL, or `None` when it does not exist.
    pub async fn lease_renew(&self, id: i64) -> Result<Option<i64>, KvError> {
        if !self.consensus.is_leader() {
            return Err(KvError::NoLeader);
        }
        Ok(self.lessor.renew(id))
    }

    /// (granted TTL, seconds left, attached keys), or `None` for no lease.
    pub fn lease_info(&self, id: i64) -> Option<LeaseInfo> {
        let lease = self.store.lease(id)?;
        let remaining = self.lessor.remaining(id).unwrap_or(0);
        Some(LeaseInfo { granted_ttl: lease.ttl, remaining, keys: lease.keys.into_iter().collect() })
    }

    /// Every lease, soonest expiry first.
    pub fn lease_ids(&self) -> Vec<i64> {
        let mut ids = self.store.lease_ids();
        self.lessor.by_expiry(&mut ids);
        ids
    }

    pub async fn shutdown(&self) {
        self.consensus.shutdown().await;
        if let Err(e) = self.engine.sync() {
            tracing::error!("final sync of the store failed: {e}");
        }
    }
}

fn unexpected(result: CommandResult) -> KvError {
    KvError::Storage(format!("the state machine answered a command with {result:?}"))
}

/// The leader's expiry loop: logs a revoke for every lease past its deadline.
async fn expire_leases(node: std::sync::Weak<KvNode>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let Some(node) = node.upgrade() else { return };
        if !node.consensus.is_leader() {
            continue;
        }
        for id in node.lessor.take_expired(Duration::from_secs(3)) {
            let node = node.clone();
            tokio::spawn(async move {
                match node.propose(Command::LeaseRevoke { id }).await {
                    Ok(_) | Err(KvError::LeaseNotFound) => {}
                    Err(e) => tracing::warn!(lease = id, "revoking an expired lease failed: {e}"),
                }
            });
        }
    }
}
