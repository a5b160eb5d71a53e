//! Proposals on their way into the log. openraft 0.9's leader waits for each
//! append's fsync before it takes the next client write, so one command per
//! entry means one fsync per write however many are in flight. Commands that
//! arrive while a proposal is in flight are therefore gathered into one
//! [`Command::Batch`] entry: one append, one fsync and one state-machine write
//! carry them all, and each still gets its own result. A command that finds
//! nothing in flight is logged alone, as before batches existed.

use futures::stream::{FuturesUnordered, StreamExt};
use openraft::Raft;
use openraft::error::ClientWriteError;
use tokio::sync::{mpsc, oneshot};

use super::TypeConfig;
use crate::command::{Command, CommandResult};
use crate::error::KvError;

/// Commands in one entry at most, which bounds the time one entry holds the
/// store's write lock while it is applied.
const MAX_BATCH_COMMANDS: usize = 512;
/// Encoded bytes after which a batch takes no more commands (a single command
/// may be larger, up to the request size limit).
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Proposals handed to Raft and not answered yet. The leader appends one
/// entry per fsync anyway, so a second proposal would only wait in its queue
/// while taking commands that could have joined the next batch.
const MAX_IN_FLIGHT: usize = 1;
/// Logged bytes after which a snapshot (an fsync of the store) lets the log be
/// purged. Raft's own policy counts entries, and a batched entry may hold
/// hundreds of commands: without this the log would keep that many times the
/// bytes it keeps for single writes. A quarter of the log table's memtable, so
/// that most entries are purged before it is flushed and never reach a file.
const SNAPSHOT_EVERY_BYTES: usize = 1 << 20;

pub(super) type Reply = oneshot::Sender<Result<CommandResult, KvError>>;

/// A command waiting for its entry, and where its result goes.
pub(super) struct Proposal {
    pub cmd: Command,
    pub reply: Reply,
}

/// Takes proposals in arrival order and logs them, a batch at a time, until
/// every sender is gone and every proposal is answered.
pub(super) async fn run(raft: Raft<TypeConfig>, mut queue: mpsc::UnboundedReceiver<Proposal>) {
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    let mut logged_since_snapshot = 0;
    loop {
        tokio::select! {
            biased;
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            first = queue.recv(), if open && in_flight.len() < MAX_IN_FLIGHT => {
                let Some(first) = first else {
                    open = false;
                    continue;
                };
                let (cmd, bytes, replies) = gather(first, &mut queue);
                let batched = matches!(cmd, Command::Batch(_));
                match raft.client_write_ff(cmd).await {
                    Ok(rx) => in_flight.push(async move {
                        let outcome = match rx.await {
                            Ok(Ok(resp)) => Ok(resp.data),
                            Ok(Err(e)) => Err(write_error(e)),
                            Err(_) => Err(KvError::Stopped),
                        };
                        deliver(outcome, replies, batched);
                    }),
                    Err(e) => {
                        tracing::error!("raft write failed: {e}");
                        deliver(Err(KvError::Stopped), replies, batched);
                    }
                }
                logged_since_snapshot += bytes;
                if logged_since_snapshot >= SNAPSHOT_EVERY_BYTES {
                    logged_since_snapshot = 0;
                    if let Err(e) = raft.trigger().snapshot().await {
                        tracing::warn!("cannot start a snapshot: {e}");
                    }
                }
            }
            else => return,
        }
    }
}

/// The first proposal and whatever else is queued, within the batch limits:
/// the command to log (the first alone when nothing else waits), about its
/// encoded size, and the replies in command order.
fn gather(first: Proposal, queue: &mut mpsc::UnboundedReceiver<Proposal>) -> (Command, usize, Vec<Reply>) {
    let mut bytes = first.cmd.encoded_len();
    let mut cmds = vec![first.cmd];
    let mut replies = vec![first.reply];
    while cmds.len() < MAX_BATCH_COMMANDS && bytes < MAX_BATCH_BYTES {
        let Ok(next) = queue.try_recv() else { break };
        bytes += next.cmd.encoded_len();
        cmds.push(next.cmd);
        replies.push(next.reply);
    }
    let cmd = if cmds.len() == 1 { cmds.pop().expect("one command") } else { Command::Batch(cmds) };
    (cmd, bytes, replies)
}

fn write_error(e: ClientWriteError<u64, openraft::BasicNode>) -> KvError {
    match e {
        ClientWriteError::ForwardToLeader(_) => KvError::NoLeader,
        other => {
            tracing::error!("raft write failed: {other}");
            KvError::Stopped
        }
    }
}

/// Hands each command its own result.
fn deliver(outcome: Result<CommandResult, KvError>, replies: Vec<Reply>, batched: bool) {
    // A client that went away no longer waits for its result: sends may fail.
    match outcome {
        Ok(CommandResult::Batch(results)) if batched && results.len() == replies.len() => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Ok(result) if !batched => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Ok(result));
            }
        }
        Ok(other) => {
            let e = KvError::Storage(format!("the state machine answered a batch of {} with {other:?}", replies.len()));
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
