//! bramble's node agent: joining a cluster with a k3s-format token
//! ([`token`], [`join`]), registering this host as a Node and keeping it
//! Ready with its heartbeat Lease ([`node`]). Pods on containerd come with
//! issue 5. Also the hollow nodes ([`hollow`]), fake kubelets for tests and
//! benchmarks of the controllers and the scheduler. The agent talks to the
//! cluster only through the API server, never to the store.

pub mod containerd;
pub mod cri;
pub mod hollow;
pub mod join;
pub mod kubelet;
pub mod kubelet_server;
pub mod node;
pub mod paths;
pub mod token;
