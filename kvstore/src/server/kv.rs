//! etcd's KV service over the store member.

use std::pin::Pin;
use std::sync::Arc;

use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDeleteRequest, PbDeleteResponse, PbKvService, PbPutRequest,
    PbPutResponse, PbRangeRequest, PbRangeResponse, PbRangeStreamResponse, PbTxnRequest, PbTxnResponse,
};
use tonic::{Request, Response, Status};

use super::status::to_status;
use crate::node::KvNode;

#[derive(Debug, Clone)]
pub struct KvService(pub Arc<KvNode>);

#[tonic::async_trait]
impl PbKvService for KvService {
    async fn range(&self, req: Request<PbRangeRequest>) -> Result<Response<PbRangeResponse>, Status> {
        self.0.range(req.into_inner()).await.map(Response::new).map_err(to_status)
    }

    type RangeStreamStream =
        Pin<Box<dyn futures::Stream<Item = Result<PbRangeStreamResponse, Status>> + Send + 'static>>;

    async fn range_stream(&self, _req: Request<PbRangeRequest>) -> Result<Response<Self::RangeStreamStream>, Status> {
        // kube-apiserver falls back to paged Range on Unimplemented.
        Err(Status::unimplemented("bramble: RangeStream is not supported; use Range"))
    }

    async fn put(&self, req: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
        self.0.put(req.into_inner()).await.map(Response::new).map_err(to_status)
    }

    async fn delete_range(&self, req: Request<PbDeleteRequest>) -> Result<Response<PbDeleteResponse>, Status> {
        self.0.delete_range(req.into_inner()).await.map(Response::new).map_err(to_status)
    }

    async fn txn(&self, req: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
        self.0.txn(req.into_inner()).await.map(Response::new).map_err(to_status)
    }

    async fn compact(&self, req: Request<PbCompactionRequest>) -> Result<Response<PbCompactionResponse>, Status> {
        self.0.compact(req.into_inner()).await.map(Response::new).map_err(to_status)
    }
}
