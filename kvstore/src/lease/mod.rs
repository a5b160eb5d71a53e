//! Lease expiry. The state machine holds which leases exist and their keys;
//! the [`Lessor`] holds when each one expires. Only the leader acts on expiry,
//! by logging a revoke, so every member deletes the same keys at the same
//! revision. Deadlines are not persisted: a restarted or new leader gives
//! every lease its full TTL again, as etcd does.

mod lessor;

pub use lessor::Lessor;

/// etcd's smallest TTL with its default election timeout (1 s) and heartbeat
/// (100 ms): ceil(3/2 * 1 s). Shorter grants are raised to it.
pub const MIN_TTL: i64 = 2;
/// etcd's `MaxLeaseTTL`.
pub const MAX_TTL: i64 = 9_000_000_000;
