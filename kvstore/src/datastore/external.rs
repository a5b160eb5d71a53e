//! An external etcd as a [`Datastore`] (k3s's `--datastore-endpoint`),
//! through the etcd-client crate.

use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, WatchOptions};

use super::convert::{kv, outcome, watch_message};
use super::{Datastore, DatastoreError, KeyValue, ListRequest, ListResult, Watch, WatchRequest, WriteOutcome};

#[derive(Clone)]
pub struct External {
    client: Client,
}

impl std::fmt::Debug for External {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("External").finish_non_exhaustive()
    }
}

impl External {
    /// Connects to comma-separated etcd endpoints (`http://host:2379,...`).
    pub async fn connect(endpoints: &str) -> Result<Self, DatastoreError> {
        let endpoints: Vec<&str> = endpoints.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        let client = Client::connect(&endpoints, None).await.map_err(|e| {
            DatastoreError::Unavailable(format!("cannot connect to etcd at {}: {e}", endpoints.join(",")))
        })?;
        Ok(Self { client })
    }
}

fn err(e: etcd_client::Error) -> DatastoreError {
    let text = e.to_string();
    if text.contains("required revision has been compacted") {
        DatastoreError::Compacted
    } else if text.contains("required revision is a future revision") {
        DatastoreError::FutureRevision
    } else if text.contains("requested lease not found") {
        DatastoreError::LeaseNotFound
    } else if matches!(e, etcd_client::Error::TransportError(_)) || text.contains("Unavailable") {
        DatastoreError::Unavailable(text)
    } else {
        DatastoreError::Other(text)
    }
}

fn cas(key: &[u8], expected: i64, then: TxnOp) -> Txn {
    Txn::new()
        .when([Compare::mod_revision(key.to_vec(), CompareOp::Equal, expected)])
        .and_then([then])
        .or_else([TxnOp::get(key.to_vec(), None)])
}

#[tonic::async_trait]
impl Datastore for External {
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>, DatastoreError> {
        let resp = self.client.kv_client().get(key.to_vec(), None).await.map_err(err)?;
        Ok(resp.0.kvs.into_iter().next().map(kv))
    }

    async fn list(&self, req: ListRequest) -> Result<ListResult, DatastoreError> {
        let mut opts = GetOptions::new().with_range(req.end).with_limit(req.limit).with_revision(req.revision);
        if req.keys_only {
            opts = opts.with_keys_only();
        }
        if req.count_only {
            opts = opts.with_count_only();
        }
        let resp = self.client.kv_client().get(req.start, Some(opts)).await.map_err(err)?.0;
        let revision = if req.revision > 0 { req.revision } else { resp.header.map(|h| h.revision).unwrap_or(0) };
        Ok(ListResult { kvs: resp.kvs.into_iter().map(kv).collect(), count: resp.count, more: resp.more, revision })
    }

    async fn create(&self, key: &[u8], value: &[u8], lease: i64) -> Result<WriteOutcome, DatastoreError> {
        self.update(key, value, 0, lease).await
    }

    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: i64,
        lease: i64,
    ) -> Result<WriteOutcome, DatastoreError> {
        let put = TxnOp::put(
            key.to_vec(),
            value.to_vec(),
            (lease != 0).then(|| etcd_client::PutOptions::new().with_lease(lease)),
        );
        let resp = self.client.kv_client().txn(cas(key, expected, put)).await.map_err(err)?;
        Ok(outcome(resp.0))
    }

    async fn delete(&self, key: &[u8], expected: Option<i64>) -> Result<WriteOutcome, DatastoreError> {
        let del = TxnOp::delete(key.to_vec(), None);
        let txn = match expected {
            Some(rev) => cas(key, rev, del),
            None => Txn::new().and_then([del]),
        };
        let resp = self.client.kv_client().txn(txn).await.map_err(err)?;
        Ok(outcome(resp.0))
    }

    async fn compact(&self, revision: i64) -> Result<(), DatastoreError> {
        self.client.kv_client().compact(revision, None).await.map(|_| ()).map_err(err)
    }

    async fn grant_lease(&self, ttl: i64) -> Result<i64, DatastoreError> {
        self.client.lease_client().grant(ttl, None).await.map(|r| r.id()).map_err(err)
    }

    async fn watch(&self, req: WatchRequest) -> Result<Watch, DatastoreError> {
        let opts = WatchOptions::new()
            .with_range(req.end)
            .with_start_revision(req.start_revision)
            .with_prev_key()
            .with_progress_notify();
        let stream = self.client.watch_client().watch(req.start, Some(opts)).await.map_err(err)?;
        let (mut sender, mut responses) = stream.split();
        let (tx, messages) = tokio::sync::mpsc::channel(64);
        let (progress, mut progress_rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    resp = responses.message() => match resp {
                        Ok(Some(resp)) => {
                            if let Some(msg) = watch_message(resp.0) {
                                let done = matches!(msg, super::WatchMessage::Compacted { .. });
                                if tx.send(Ok(msg)).await.is_err() || done {
                                    break;
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(err(e))).await;
                            break;
                        }
                    },
                    asked = progress_rx.recv() => match asked {
                        Some(()) => {
                            if let Err(e) = sender.request_progress().await {
                                let _ = tx.send(Err(err(e))).await;
                                break;
                            }
                        }
                        None => break,
                    },
                    () = tx.closed() => break,
                }
            }
        });
        Ok(Watch { messages, progress })
    }

    async fn current_revision(&self) -> Result<i64, DatastoreError> {
        let resp =
            self.client.kv_client().get(vec![0], Some(GetOptions::new().with_count_only())).await.map_err(err)?;
        Ok(resp.0.header.map(|h| h.revision).unwrap_or(0))
    }
}
