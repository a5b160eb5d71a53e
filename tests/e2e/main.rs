//! End-to-end tests: the real `bramble` binary, real etcd 3.4 from Debian,
//! real `etcdctl` and real `kubectl` of several versions, driven as a user would. Nothing here links the store's code.

mod cluster;
mod netlab;
mod scenario;
mod support;

mod agent_join;
mod bad_data_dir;
mod bad_requests;
mod client_library;
mod controllers;
mod crash_loop;
mod cronjobs;
mod daemonsets;
mod drain;
mod endpoints;
mod etcdctl_diff;
mod eviction;
mod jobs;
mod kubectl_battery;
mod namespaces;
mod pods;
mod preemption;
mod registry;
mod server_restart;
mod service_accounts;
mod sidecars;
mod statefulsets;
mod streaming;
mod tls;
mod watch_guarantees;
mod workloads;
