//! Watches with etcd's guarantees: ordered, unique, atomic per revision,
//! reliable, resumable, bookmarkable. Live events come from the apply step;
//! watchers that fall behind (slow clients, past start revisions) catch up
//! from history on disk, so a slow client costs no unbounded memory.

mod hub;

pub use hub::{StreamId, WatchCreate, WatchHub, WatchReceiver};
