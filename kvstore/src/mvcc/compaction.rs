//! Physical compaction: deletes the history records that logical compaction
//! made unreachable, in small batches on a background thread, so writers are
//! never blocked for long. Progress is persisted; a restart resumes it.

use std::sync::{Arc, Condvar, Mutex, Weak};

use super::store::{META_COMPACT_FINISHED, MvccStore};
use super::{Record, Revision};
use crate::engine::{Durability, Engine, Table, WriteBatch};

/// Records examined per batch; the store's read lock is held for one batch.
const BATCH: usize = 1000;

#[derive(Debug, Default)]
struct Progress {
    target: i64,
    finished: i64,
}

pub(crate) struct Compactor {
    shared: Arc<(Mutex<Progress>, Condvar)>,
    finished_tx: tokio::sync::watch::Sender<i64>,
}

impl Compactor {
    pub fn new(engine: Arc<dyn Engine>, store: Weak<MvccStore>, finished: i64) -> Self {
        let shared = Arc::new((Mutex::new(Progress { target: finished, finished }), Condvar::new()));
        let (finished_tx, _) = tokio::sync::watch::channel(finished);
        let worker_shared = shared.clone();
        let worker_tx = finished_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("kv-compactor".into())
            .spawn(move || run(engine, store, worker_shared, worker_tx));
        if let Err(e) = spawned {
            tracing::error!("cannot start the compaction thread: {e}; history will not be reclaimed");
        }
        Self { shared, finished_tx }
    }

    pub fn schedule(&self, rev: i64) {
        let (lock, cvar) = &*self.shared;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        p.target = p.target.max(rev);
        cvar.notify_one();
    }

    pub async fn wait(&self, rev: i64) {
        let mut rx = self.finished_tx.subscribe();
        let _ = rx.wait_for(|done| *done >= rev).await;
    }
}

fn run(
    engine: Arc<dyn Engine>,
    store: Weak<MvccStore>,
    shared: Arc<(Mutex<Progress>, Condvar)>,
    done: tokio::sync::watch::Sender<i64>,
) {
    let (lock, cvar) = &*shared;
    // The store is still being built when this thread starts: only a store
    // that was alive and is gone means "stop".
    let mut seen_alive = false;
    loop {
        let (from, target) = {
            let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
            while p.target <= p.finished {
                if store.strong_count() > 0 {
                    seen_alive = true;
                } else if seen_alive {
                    return;
                }
                let (guard, _) =
                    cvar.wait_timeout(p, std::time::Duration::from_secs(1)).unwrap_or_else(|e| e.into_inner());
                p = guard;
            }
            (p.finished, p.target)
        };
        match compact_range(&*engine, &store, from, target) {
            Ok(()) => {
                let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
                p.finished = target;
                done.send_replace(target);
                tracing::info!(revision = target, "compaction finished");
            }
            Err(e) => {
                tracing::error!("compaction to revision {target} failed: {e}; retrying in 5 s");
                std::thread::sleep(std::time::Duration::from_secs(5));
            }
        }
    }
}

/// Deletes unreachable records with revisions in `[1, target]`. Records below
/// `from` were handled by an earlier compaction, except the ones it kept, which
/// are few; scanning from the start keeps this simple and restartable.
fn compact_range(engine: &dyn Engine, store: &Weak<MvccStore>, _from: i64, target: i64) -> Result<(), String> {
    let end = Revision::start_of(target + 1);
    let mut cursor = Revision::start_of(0).to_vec();
    loop {
        let mut chunk: Vec<(Revision, Vec<u8>)> = Vec::with_capacity(BATCH);
        let mut failure = None;
        engine
            .scan(Table::Kv, &cursor, Some(&end), &mut |k, v| {
                match Revision::decode(k)
                    .ok_or("corrupt revision key")
                    .and_then(|rev| Record::decode(rev, v).map(|r| (rev, r.key)).map_err(|_| "corrupt record"))
                {
                    Ok(entry) => chunk.push(entry),
                    Err(e) => failure = Some(e),
                }
                chunk.len() < BATCH && failure.is_none()
            })
            .map_err(|e| e.to_string())?;
        if let Some(e) = failure {
            return Err(e.to_string());
        }
        let Some(last) = chunk.last().map(|(rev, _)| *rev) else { break };
        let Some(store) = store.upgrade() else { return Err("store closed".into()) };
        let doomed = store.doomed(&chunk);
        let mut batch = WriteBatch::default();
        for rev in doomed {
            batch.delete(Table::Kv, rev.encode().to_vec());
        }
        if !batch.is_empty() {
            engine.write(batch, Durability::Buffered).map_err(|e| e.to_string())?;
        }
        if chunk.len() < BATCH {
            break;
        }
        cursor = Revision::new(last.main, last.sub + 1).encode().to_vec();
    }
    let mut batch = WriteBatch::default();
    batch.put(Table::Meta, META_COMPACT_FINISHED, target.to_le_bytes());
    engine.write(batch, Durability::Buffered).map_err(|e| e.to_string())
}
