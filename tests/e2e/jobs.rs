//! Jobs on hollow nodes, driven by kubectl: a Job runs its completions with
//! its parallelism and reports Complete; a failing one is retried with
//! back-off until its backoffLimit and reports Failed; an Indexed Job gives
//! each pod its index; a finished Job with ttlSecondsAfterFinished goes away.
//! The hollow kubelets finish a pod with the exit code of its
//! `bramble.dev/hollow-exit` annotation.

use std::time::Duration;

use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath, out};

fn job(name: &str, exit: i32, completions: i32, parallelism: i32, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completions: {completions}
  parallelism: {parallelism}
{extra_spec}
  template:
    metadata:
      annotations:
        bramble.dev/hollow-exit: "{exit}"
        bramble.dev/hollow-run-seconds: "1"
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox:1
        command: ["sh", "-c", "exit {exit}"]
"#
    )
}

#[test]
fn a_job_completes_and_a_failing_one_hits_its_backoff_limit() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.kubectl_stdin(V, &["apply", "-f", "-"], &job("pi", 0, 4, 2, ""));
    let applied = cluster.kubectl_stdin(V, &["apply", "-f", "-"], &job("broken", 1, 1, 1, "  backoffLimit: 1"));
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));

    let waited = cluster.ok(V, &["wait", "--for=condition=complete", "job/pi", "--timeout=60s"]);
    assert!(waited.contains("condition met"), "{waited}");
    let counts = jsonpath(&cluster, &["job", "pi"], "{.status.succeeded}/{.status.failed}/{.status.active}");
    assert_eq!(counts, "4//", "four successes, no failures, nothing active");
    let pods = out(&cluster, &["get", "pods", "-l", "job-name=pi", "-o", "name"]);
    assert_eq!(pods.lines().count(), 4, "{pods}");
    // Every counted pod had its tracking finalizer removed.
    let finalizers = jsonpath(&cluster, &["pods", "-l", "job-name=pi"], "{.items[*].metadata.finalizers}");
    assert!(finalizers.is_empty(), "{finalizers}");
    let table = out(&cluster, &["get", "job", "pi"]);
    assert!(table.contains("4/4"), "{table}");
    let events = out(&cluster, &["get", "events", "--field-selector", "involvedObject.name=pi"]);
    assert!(events.contains("Completed") && events.contains("SuccessfulCreate"), "{events}");

    // One retry after a back-off of about 10 s, then Failed.
    let failed = eventually(Duration::from_secs(60), "the broken job fails", || {
        let c = jsonpath(&cluster, &["job", "broken"], "{.status.conditions[?(@.type==\"Failed\")].reason}");
        (!c.is_empty()).then_some(c)
    });
    assert_eq!(failed, "BackoffLimitExceeded");
    assert_eq!(jsonpath(&cluster, &["job", "broken"], "{.status.failed}"), "2");
    let described = out(&cluster, &["describe", "job", "broken"]);
    assert!(described.contains("Job has reached the specified backoff limit"), "{described}");
    let wait_failed = cluster.kubectl(V, &["wait", "--for=condition=complete", "job/broken", "--timeout=1s"]);
    assert!(!wait_failed.status.success());
}

#[test]
fn an_indexed_job_runs_each_index_once_and_a_finished_job_expires() {
    let (cluster, _nodes) = cluster_with_nodes();
    let spec = "  completionMode: Indexed\n  ttlSecondsAfterFinished: 3";
    let applied = cluster.kubectl_stdin(V, &["apply", "-f", "-"], &job("shards", 0, 3, 3, spec));
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let indexes = eventually(Duration::from_secs(30), "three indexed pods", || {
        let i = jsonpath(
            &cluster,
            &["pods", "-l", "job-name=shards"],
            "{range .items[*]}{.metadata.annotations.batch\\.kubernetes\\.io/job-completion-index}{\"\\n\"}{end}",
        );
        let mut v: Vec<String> = i.lines().map(String::from).collect();
        v.sort();
        (v.len() == 3).then_some(v)
    });
    assert_eq!(indexes, ["0", "1", "2"]);
    let hostnames = jsonpath(&cluster, &["pods", "-l", "job-name=shards"], "{.items[*].spec.hostname}");
    assert!(hostnames.contains("shards-0") && hostnames.contains("shards-2"), "{hostnames}");
    let env = jsonpath(&cluster, &["pods", "-l", "job-name=shards"], "{.items[0].spec.containers[0].env[0].name}");
    assert_eq!(env, "JOB_COMPLETION_INDEX");
    eventually(Duration::from_secs(30), "the indexed job completes", || {
        (jsonpath(&cluster, &["job", "shards"], "{.status.completedIndexes}") == "0-2").then_some(())
    });
    // ttlSecondsAfterFinished: 3, then the Job and its pods are deleted.
    eventually(Duration::from_secs(30), "the finished job is deleted", || {
        let o = cluster.kubectl(V, &["get", "job", "shards"]);
        (!o.status.success()).then_some(())
    });
    eventually(Duration::from_secs(30), "its pods go with it", || {
        out(&cluster, &["get", "pods", "-l", "job-name=shards", "-o", "name"]).trim().is_empty().then_some(())
    });
}

#[test]
fn a_suspended_job_starts_nothing_until_resumed() {
    let (cluster, _nodes) = cluster_with_nodes();
    let applied = cluster.kubectl_stdin(V, &["apply", "-f", "-"], &job("later", 0, 1, 1, "  suspend: true"));
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    eventually(Duration::from_secs(20), "the Suspended condition", || {
        (jsonpath(&cluster, &["job", "later"], "{.status.conditions[?(@.type==\"Suspended\")].status}") == "True")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(out(&cluster, &["get", "pods", "-l", "job-name=later", "-o", "name"]).trim().is_empty());
    cluster.ok(V, &["patch", "job", "later", "--type=merge", "-p", r#"{"spec":{"suspend":false}}"#]);
    let waited = cluster.ok(V, &["wait", "--for=condition=complete", "job/later", "--timeout=60s"]);
    assert!(waited.contains("condition met"), "{waited}");
    let resumed = jsonpath(&cluster, &["job", "later"], "{.status.conditions[?(@.type==\"Suspended\")].reason}");
    assert_eq!(resumed, "JobResumed");
}
