//! What the kubectl scenarios on hollow nodes share: a cluster with three
//! Ready nodes, polling until a condition holds, and kubectl's output.

use std::time::{Duration, Instant};

use crate::cluster::{Cluster, Datastore};

/// The kubectl version the scenarios drive (older ones where a test says so).
pub const V: &str = "1.33";

#[track_caller]
pub fn eventually<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn out(cluster: &Cluster, args: &[&str]) -> String {
    let o = cluster.kubectl(V, args);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn jsonpath(cluster: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let path = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &path]);
    out(cluster, &args).trim().to_string()
}

/// Three Ready hollow nodes (their not-ready taint removed by the node controller).
pub fn cluster_with_nodes() -> (Cluster, crate::cluster::HollowNodes) {
    let cluster = Cluster::start(Datastore::Embedded);
    let nodes = cluster.hollow_nodes(3, &[]);
    eventually(Duration::from_secs(30), "three untainted Ready nodes", || {
        let taints = jsonpath(&cluster, &["nodes"], "{range .items[*]}{.metadata.name}={.spec.taints}{\"\\n\"}{end}");
        let lines: Vec<&str> = taints.lines().collect();
        (lines.len() == 3 && lines.iter().all(|l| l.ends_with('='))).then_some(())
    });
    (cluster, nodes)
}
