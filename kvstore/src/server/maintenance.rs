//! etcd's Maintenance service: status, defragmentation, hashes, snapshots and
//! alarms (none are raised: there is no space quota yet).

use std::pin::Pin;
use std::sync::Arc;

use etcd_client::proto::{
    PbAlarmRequest, PbAlarmResponse, PbDefragmentRequest, PbDefragmentResponse, PbDowngradeRequest,
    PbDowngradeResponse, PbHashKvRequest, PbHashKvResponse, PbHashRequest, PbHashResponse, PbMaintenanceService,
    PbMoveLeaderRequest, PbMoveLeaderResponse, PbSnapshotRequest, PbSnapshotResponse, PbStatusRequest,
    PbStatusResponse,
};
use tonic::{Request, Response, Status};

use super::status::to_status;
use crate::engine::Table;
use crate::error::KvError;
use crate::mvcc::Revision;
use crate::node::{ETCD_VERSION, KvNode};

const SNAPSHOT_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct MaintenanceService(pub Arc<KvNode>);

impl MaintenanceService {
    /// CRC-32 of every history record up to `revision` (all when 0).
    fn hash(&self, revision: i64) -> Result<u32, KvError> {
        let mut hasher = crc32fast::Hasher::new();
        let end = if revision > 0 { Some(Revision::start_of(revision + 1)) } else { None };
        self.0.engine().scan(Table::Kv, &[], end.as_ref().map(|e| &e[..]), &mut |k, v| {
            hasher.update(k);
            hasher.update(v);
            true
        })?;
        Ok(hasher.finalize())
    }
}

#[tonic::async_trait]
impl PbMaintenanceService for MaintenanceService {
    async fn alarm(&self, _req: Request<PbAlarmRequest>) -> Result<Response<PbAlarmResponse>, Status> {
        Ok(Response::new(PbAlarmResponse { header: self.0.header(self.0.store().current_revision()), alarms: vec![] }))
    }

    async fn status(&self, _req: Request<PbStatusRequest>) -> Result<Response<PbStatusResponse>, Status> {
        let node = &self.0;
        let meta = node.store().meta();
        let raft = node.raft_status();
        Ok(Response::new(PbStatusResponse {
            header: node.header(meta.revision),
            version: ETCD_VERSION.into(),
            db_size: meta.db_size as i64,
            leader: raft.leader.unwrap_or(0),
            raft_index: raft.last_log_index,
            raft_term: raft.term,
            raft_applied_index: raft.applied_index,
            errors: vec![],
            db_size_in_use: meta.db_size as i64,
            is_learner: false,
            storage_version: String::new(),
            db_size_quota: 0,
            downgrade_info: None,
        }))
    }

    async fn defragment(&self, _req: Request<PbDefragmentRequest>) -> Result<Response<PbDefragmentResponse>, Status> {
        let node = self.0.clone();
        tokio::task::spawn_blocking(move || node.engine().reclaim_space())
            .await
            .map_err(|e| Status::internal(format!("bramble: defragment task failed: {e}")))?
            .map_err(|e| to_status(e.into()))?;
        Ok(Response::new(PbDefragmentResponse { header: self.0.header(self.0.store().current_revision()) }))
    }

    async fn hash(&self, _req: Request<PbHashRequest>) -> Result<Response<PbHashResponse>, Status> {
        let hash = self.hash(0).map_err(to_status)?;
        Ok(Response::new(PbHashResponse { header: self.0.header(self.0.store().current_revision()), hash }))
    }

    async fn hash_kv(&self, req: Request<PbHashKvRequest>) -> Result<Response<PbHashKvResponse>, Status> {
        let meta = self.0.store().meta();
        let revision = match req.into_inner().revision {
            0 => meta.revision,
            r if r > meta.revision => return Err(to_status(KvError::FutureRevision)),
            r if r < meta.compacted => return Err(to_status(KvError::Compacted)),
            r => r,
        };
        let hash = self.hash(revision).map_err(to_status)?;
        Ok(Response::new(PbHashKvResponse {
            header: self.0.header(meta.revision),
            hash,
            compact_revision: meta.compacted,
            hash_revision: revision,
        }))
    }

    type SnapshotStream = Pin<Box<dyn futures::Stream<Item = Result<PbSnapshotResponse, Status>> + Send + 'static>>;

    async fn snapshot(&self, _req: Request<PbSnapshotRequest>) -> Result<Response<Self::SnapshotStream>, Status> {
        let node = self.0.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<PbSnapshotResponse, Status>>(4);
        let header = node.header(node.store().current_revision());
        tokio::task::spawn_blocking(move || {
            let estimate = node.store().meta().db_size;
            let mut sent = 0u64;
            let mut first = true;
            let result = crate::snapshot::write_snapshot(&**node.engine(), SNAPSHOT_CHUNK, &mut |blob| {
                sent += blob.len() as u64;
                let resp = PbSnapshotResponse {
                    header: if first { header } else { None },
                    remaining_bytes: estimate.saturating_sub(sent).max(1),
                    blob,
                    version: if first { ETCD_VERSION.into() } else { String::new() },
                };
                first = false;
                tx.blocking_send(Ok(resp)).is_ok()
            });
            match result {
                Ok(true) => {
                    let _ = tx.blocking_send(Ok(PbSnapshotResponse { remaining_bytes: 0, ..Default::default() }));
                }
                Ok(false) => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(to_status(e.into())));
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn move_leader(&self, _req: Request<PbMoveLeaderRequest>) -> Result<Response<PbMoveLeaderResponse>, Status> {
        Err(Status::unimplemented("bramble: move-leader is not supported: the store runs as a single member"))
    }

    async fn downgrade(&self, _req: Request<PbDowngradeRequest>) -> Result<Response<PbDowngradeResponse>, Status> {
        Err(Status::unimplemented("bramble: downgrade is not supported"))
    }
}
