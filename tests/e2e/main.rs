//! End-to-end tests: the real `bramble` binary, real etcd 3.4 from Debian and
//! real `etcdctl`, driven as a user would. Nothing here links the store's code.

mod support;

mod bad_data_dir;
mod crash_loop;
mod etcdctl_diff;
mod tls;
mod watch_guarantees;
