//! bramble's node agent: joining a cluster with a k3s-format token
//! ([`token`], [`join`]), registering this host as a Node and keeping it
//! Ready with its heartbeat Lease ([`node`]), containerd ([`containerd`],
//! [`cri`]), the pods ([`kubelet`], with node-pressure eviction from
//! [`eviction`]'s thresholds and `--kubelet-arg` from [`kubelet_args`]) and
//! the kubelet API ([`kubelet_server`]). Also the hollow nodes ([`hollow`]), fake kubelets for tests and
//! benchmarks of the controllers and the scheduler. The agent talks to the
//! cluster only through the API server, never to the store.

pub mod containerd;
pub mod cri;
pub mod eviction;
pub mod hollow;
pub mod join;
pub mod kubelet;
pub mod kubelet_args;
pub mod kubelet_server;
pub mod node;
pub mod paths;
pub mod token;
