//! etcd's Cluster service: the member list. Membership changes need a
//! multi-member store, which bramble does not have yet.

use std::sync::Arc;

use etcd_client::proto::{
    PbClusterService, PbMember, PbMemberAddRequest, PbMemberAddResponse, PbMemberListRequest, PbMemberListResponse,
    PbMemberPromoteRequest, PbMemberPromoteResponse, PbMemberRemoveRequest, PbMemberRemoveResponse,
    PbMemberUpdateRequest, PbMemberUpdateResponse,
};
use tonic::{Request, Response, Status};

use crate::node::KvNode;

#[derive(Debug, Clone)]
pub struct ClusterService(pub Arc<KvNode>);

fn single_member(verb: &str) -> Status {
    Status::unimplemented(format!("bramble: member {verb} is not supported: the store runs as a single member"))
}

#[tonic::async_trait]
impl PbClusterService for ClusterService {
    async fn member_add(&self, _r: Request<PbMemberAddRequest>) -> Result<Response<PbMemberAddResponse>, Status> {
        Err(single_member("add"))
    }

    async fn member_remove(
        &self,
        _r: Request<PbMemberRemoveRequest>,
    ) -> Result<Response<PbMemberRemoveResponse>, Status> {
        Err(single_member("remove"))
    }

    async fn member_update(
        &self,
        _r: Request<PbMemberUpdateRequest>,
    ) -> Result<Response<PbMemberUpdateResponse>, Status> {
        Err(single_member("update"))
    }

    async fn member_list(&self, _r: Request<PbMemberListRequest>) -> Result<Response<PbMemberListResponse>, Status> {
        let node = &self.0;
        let member = PbMember {
            id: node.member_id,
            name: node.config.name.clone(),
            peer_ur_ls: vec![node.config.peer_url.clone()],
            client_ur_ls: node.config.client_urls.clone(),
            is_learner: false,
        };
        Ok(Response::new(PbMemberListResponse {
            // etcd's MemberList header carries no revision.
            header: node.header(0),
            members: vec![member],
        }))
    }

    async fn member_promote(
        &self,
        _r: Request<PbMemberPromoteRequest>,
    ) -> Result<Response<PbMemberPromoteResponse>, Status> {
        Err(single_member("promote"))
    }
}
