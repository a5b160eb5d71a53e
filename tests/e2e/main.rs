//! End-to-end tests: the real `bramble` binary, real etcd 3.4 from Debian,
//! real `etcdctl` and real `kubectl` of several versions, driven as a user would. Nothing here links the store's code.

mod cluster;
mod support;

mod bad_data_dir;
mod bad_requests;
mod client_library;
mod controllers;
mod crash_loop;
mod etcdctl_diff;
mod kubectl_battery;
mod server_restart;
mod tls;
mod watch_guarantees;
mod workloads;
