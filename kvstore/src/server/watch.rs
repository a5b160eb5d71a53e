//! etcd's Watch service: one hub stream per gRPC stream; requests are turned
//! into hub calls, the hub's responses are sent back in order.

use std::pin::Pin;
use std::sync::Arc;

use etcd_client::proto::{PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchService};
use tonic::{Request, Response, Status, Streaming};

use crate::node::KvNode;
use crate::watch::WatchCreate;

#[derive(Debug, Clone)]
pub struct WatchService(pub Arc<KvNode>);

#[tonic::async_trait]
impl PbWatchService for WatchService {
    type WatchStream = Pin<Box<dyn futures::Stream<Item = Result<PbWatchResponse, Status>> + Send + 'static>>;

    async fn watch(&self, req: Request<Streaming<PbWatchRequest>>) -> Result<Response<Self::WatchStream>, Status> {
        let mut inbound = req.into_inner();
        let hub = self.0.hub().clone();
        let (stream_id, rx) = hub.open_stream();
        let interval = self.0.config.progress_notify_interval;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                tokio::select! {
                    msg = inbound.message() => match msg {
                        Ok(Some(req)) => match req.request_union {
                            Some(PbWatchRequestUnion::CreateRequest(c)) => hub.create(stream_id, WatchCreate {
                                key: c.key,
                                range_end: c.range_end,
                                start_revision: c.start_revision,
                                progress_notify: c.progress_notify,
                                filters: c.filters,
                                prev_kv: c.prev_kv,
                                watch_id: c.watch_id,
                                fragment: c.fragment,
                            }),
                            Some(PbWatchRequestUnion::CancelRequest(c)) => hub.cancel(stream_id, c.watch_id),
                            Some(PbWatchRequestUnion::ProgressRequest(_)) => hub.request_progress(stream_id),
                            None => {}
                        },
                        Ok(None) | Err(_) => break,
                    },
                    _ = ticker.tick() => hub.progress_tick(stream_id),
                }
            }
            hub.close_stream(stream_id);
        });
        let outbound = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (Ok(r), rx)) });
        Ok(Response::new(Box::pin(outbound)))
    }
}
