//! The pod network (see ARCHITECTURE.md): our CNI plugins, which containerd runs as
//! `bramble-cni` (bridge, veth pairs, file-backed IPAM, masquerade and hostPorts in
//! nftables) and `loopback`. No WireGuard mesh, service proxy or DNS yet.

pub mod bridge;
pub mod config;
pub mod error;
pub mod ipam;
mod links;
pub mod loopback;
pub mod netns;
pub mod nft;
pub mod plugin;
pub mod spec;

pub use config::conflist;
pub use error::CniError;
pub use plugin::{Reply, plugin_main, run};
