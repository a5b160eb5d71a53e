//! The embedded store as a [`Datastore`]: direct calls on the member, no gRPC.

use std::sync::Arc;

use etcd_client::proto::{PbCompactionRequest, PbRangeRequest};

use super::convert::{cas_delete, cas_put, kv, outcome, watch_message};
use super::{Datastore, DatastoreError, KeyValue, ListRequest, ListResult, Watch, WatchRequest, WriteOutcome};
use crate::error::KvError;
use crate::node::KvNode;
use crate::watch::WatchCreate;

#[derive(Debug, Clone)]
pub struct Embedded(pub Arc<KvNode>);

fn err(e: KvError) -> DatastoreError {
    match e {
        KvError::Compacted => DatastoreError::Compacted,
        KvError::FutureRevision => DatastoreError::FutureRevision,
        KvError::LeaseNotFound => DatastoreError::LeaseNotFound,
        KvError::NoLeader | KvError::Stopped => DatastoreError::Unavailable(e.to_string()),
        other => DatastoreError::Other(other.to_string()),
    }
}

#[tonic::async_trait]
impl Datastore for Embedded {
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, DatastoreError> {
        let resp = self.0.range(PbRangeRequest { key: key.to_vec(), ..Default::default() }).await.map_err(err)?;
        Ok(resp.kvs.into_iter().next().map(kv))
    }

    async fn list(&self, req: ListRequest) -> Result<ListResult, DatastoreError> {
        let resp = self
            .0
            .range(PbRangeRequest {
                key: req.start,
                range_end: req.end,
                limit: req.limit,
                revision: req.revision,
                keys_only: req.keys_only,
                count_only: req.count_only,
                ..Default::default()
            })
            .await
            .map_err(err)?;
        let revision = if req.revision > 0 { req.revision } else { resp.header.map(|h| h.revision).unwrap_or(0) };
        Ok(ListResult { kvs: resp.kvs.into_iter().map(kv).collect(), count: resp.count, more: resp.more, revision })
    }

    async fn create(&self, key: &[u8], value: &[u8], lease: i64) -> Result<WriteOutcome, DatastoreError> {
        self.0.txn(cas_put(key, value, 0, lease)).await.map(outcome).map_err(err)
    }

    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: i64,
        lease: i64,
    ) -> Result<WriteOutcome, DatastoreError> {
        self.0.txn(cas_put(key, value, expected, lease)).await.map(outcome).map_err(err)
    }

    async fn delete(&self, key: &[u8], expected: Option<i64>) -> Result<WriteOutcome, DatastoreError> {
        self.0.txn(cas_delete(key, expected)).await.map(outcome).map_err(err)
    }

    async fn compact(&self, revision: i64) -> Result<(), DatastoreError> {
        self.0.compact(PbCompactionRequest { revision, physical: false }).await.map(|_| ()).map_err(err)
    }

    async fn grant_lease(&self, ttl: i64) -> Result<i64, DatastoreError> {
        self.0.lease_grant(ttl, 0).await.map(|r| r.id).map_err(err)
    }

    async fn watch(&self, req: WatchRequest) -> Result<Watch, DatastoreError> {
        let hub = self.0.hub().clone();
        let (stream, mut rx) = hub.open_stream();
        hub.create(
            stream,
            WatchCreate {
                key: req.start,
                range_end: req.end,
                start_revision: req.start_revision,
                prev_kv: true,
                progress_notify: true,
                ..Default::default()
            },
        );
        let (tx, messages) = tokio::sync::mpsc::channel(64);
        let (progress, mut progress_rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    resp = rx.recv() => match resp {
                        Some(resp) => {
                            if let Some(msg) = watch_message(resp) {
                                let done = matches!(msg, super::WatchMessage::Compacted { .. });
                                if tx.send(Ok(msg)).await.is_err() || done {
                                    break;
                                }
                            }
                        }
                        None => break,
                    },
                    asked = progress_rx.recv() => match asked {
                        Some(()) => hub.request_progress(stream),
                        None => break,
                    },
                    () = tx.closed() => break,
                }
            }
            hub.close_stream(stream);
        });
        Ok(Watch { messages, progress })
    }

    async fn current_revision(&self) -> Result<i64, DatastoreError> {
        let resp =
            self.0.range(PbRangeRequest { key: vec![0], count_only: true, ..Default::default() }).await.map_err(err)?;
        Ok(resp.header.map(|h| h.revision).unwrap_or(0))
    }
}
