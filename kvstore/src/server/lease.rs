//! etcd's Lease service.

use std::pin::Pin;
use std::sync::Arc;

use etcd_client::proto::{
    PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse, PbLeaseLeasesRequest,
    PbLeaseLeasesResponse, PbLeaseRevokeRequest, PbLeaseRevokeResponse, PbLeaseService, PbLeaseStatus,
    PbLeaseTimeToLiveRequest, PbLeaseTimeToLiveResponse,
};
use tonic::{Request, Response, Status, Streaming};

use super::status::to_status;
use crate::node::KvNode;

#[derive(Debug, Clone)]
pub struct LeaseService(pub Arc<KvNode>);

#[tonic::async_trait]
impl PbLeaseService for LeaseService {
    async fn lease_grant(&self, req: Request<PbLeaseGrantRequest>) -> Result<Response<PbLeaseGrantResponse>, Status> {
        let r = req.into_inner();
        self.0.lease_grant(r.ttl, r.id).await.map(Response::new).map_err(to_status)
    }

    async fn lease_revoke(
        &self,
        req: Request<PbLeaseRevokeRequest>,
    ) -> Result<Response<PbLeaseRevokeResponse>, Status> {
        self.0.lease_revoke(req.into_inner().id).await.map(Response::new).map_err(to_status)
    }

    type LeaseKeepAliveStream =
        Pin<Box<dyn futures::Stream<Item = Result<PbLeaseKeepAliveResponse, Status>> + Send + 'static>>;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<PbLeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let node = self.0.clone();
        let inbound = req.into_inner();
        let outbound = futures::stream::unfold((inbound, node), |(mut inbound, node)| async move {
            let msg = match inbound.message().await {
                Ok(Some(msg)) => msg,
                Ok(None) => return None,
                Err(e) => return Some((Err(e), (inbound, node))),
            };
            let resp = match node.lease_renew(msg.id).await {
                Ok(ttl) => Ok(PbLeaseKeepAliveResponse {
                    header: node.header(node.store().current_revision()),
                    id: msg.id,
                    // etcd answers a keep-alive of an unknown lease with TTL 0.
                    ttl: ttl.unwrap_or(0),
                }),
                Err(e) => Err(to_status(e)),
            };
            Some((resp, (inbound, node)))
        });
        Ok(Response::new(Box::pin(outbound)))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<PbLeaseTimeToLiveRequest>,
    ) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
        let r = req.into_inner();
        let header = self.0.header(self.0.store().current_revision());
        let resp = match self.0.lease_info(r.id) {
            Some(info) => PbLeaseTimeToLiveResponse {
                header,
                id: r.id,
                ttl: info.remaining,
                granted_ttl: info.granted_ttl,
                keys: if r.keys { info.keys } else { vec![] },
            },
            // etcd reports an unknown or expired lease as TTL -1.
            None => PbLeaseTimeToLiveResponse { header, id: r.id, ttl: -1, granted_ttl: 0, keys: vec![] },
        };
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _req: Request<PbLeaseLeasesRequest>,
    ) -> Result<Response<PbLeaseLeasesResponse>, Status> {
        let leases = self.0.lease_ids().into_iter().map(|id| PbLeaseStatus { id }).collect();
        Ok(Response::new(PbLeaseLeasesResponse { header: self.0.header(self.0.store().current_revision()), leases }))
    }
}
