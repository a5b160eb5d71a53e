//! The scheduling queue (upstream's activeQ with PrioritySort): pods
//! waiting for a decision, the highest priority first and, among equals,
//! in the order they were queued. A pod is queued once however often it is
//! added, and one added while it is being decided is queued again
//! afterwards. Pods that fit nowhere wait outside it, in the scheduler's
//! unschedulable set, until something changes.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::queue::Key;

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    priority: i32,
    /// When it was queued: lower is earlier.
    seq: u64,
    key: Key,
}

impl Ord for Entry {
    /// The greatest entry is decided first: higher priority, then queued earlier.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Default)]
struct State {
    heap: BinaryHeap<Entry>,
    queued: HashSet<Key>,
    /// Being decided; `Some(priority)` when added again meanwhile.
    deciding: HashMap<Key, Option<i32>>,
    seq: u64,
}

impl State {
    fn push(&mut self, key: Key, priority: i32) {
        if self.queued.insert(key.clone()) {
            self.seq += 1;
            self.heap.push(Entry { priority, seq: self.seq, key });
        }
    }
}

#[derive(Debug, Default)]
pub struct SchedulingQueue {
    state: Mutex<State>,
    ready: Notify,
}

impl SchedulingQueue {
    pub fn new() -> Arc<SchedulingQueue> {
        Arc::new(SchedulingQueue::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, key: Key, priority: i32) {
        let mut state = self.lock();
        if let Some(again) = state.deciding.get_mut(&key) {
            *again = Some(priority);
            return;
        }
        state.push(key, priority);
        drop(state);
        self.ready.notify_one();
    }

    pub fn add_after(self: &Arc<Self>, key: Key, priority: i32, delay: Duration) {
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key, priority);
        });
    }

    /// The next pod to decide; it is the caller's until [`done`](Self::done).
    pub async fn next(&self) -> Key {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.lock();
                if let Some(entry) = state.heap.pop() {
                    state.queued.remove(&entry.key);
                    state.deciding.insert(entry.key.clone(), None);
                    return entry.key;
                }
            }
            notified.await;
        }
    }

    pub fn done(&self, key: &Key) {
        let mut state = self.lock();
        if let Some(Some(priority)) = state.deciding.remove(key) {
            state.push(key.clone(), priority);
            drop(state);
            self.ready.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key::new(Some("ns"), name)
    }

    #[tokio::test]
    async fn higher_priority_first_then_in_queued_order() {
        let q = SchedulingQueue::new();
        q.add(key("low-1"), 0);
        q.add(key("high"), 1000);
        q.add(key("low-2"), 0);
        q.add(key("negative"), -5);
        q.add(key("system"), 2_000_001_000);
        q.add(key("low-1"), 0); // already queued: keeps its place
        let mut order = Vec::new();
        for _ in 0..5 {
            let k = q.next().await;
            q.done(&k);
            order.push(k.name);
        }
        assert_eq!(order, ["system", "high", "low-1", "low-2", "negative"]);
    }

    #[tokio::test]
    async fn a_pod_added_while_decided_is_queued_again_afterwards() {
        let q = SchedulingQueue::new();
        q.add(key("a"), 0);
        let a = q.next().await;
        q.add(key("a"), 0);
        q.add(key("b"), 0);
        assert_eq!(q.next().await, key("b"), "a waits for its decision to end");
        q.done(&key("b"));
        q.done(&a);
        assert_eq!(q.next().await, key("a"));
    }
}
