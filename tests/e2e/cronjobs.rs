//! CronJobs on hollow nodes, driven by kubectl: at the minute a
//! `kubectl create cronjob` schedule fires, a Job named for that minute
//! appears, owned by the CronJob and listed as active; a Job that completes
//! sets `lastSuccessfulTime` and is kept as history, or deleted when the
//! history limit keeps none; a suspended CronJob starts nothing. All the
//! CronJobs share one minute boundary, so the test waits for one minute at
//! most.

use std::time::Duration;

use crate::scenario::{V, cluster_with_nodes, eventually, jsonpath, out};

/// A CronJob firing every minute whose pods succeed after a second.
fn every_minute(name: &str, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
spec:
  schedule: "* * * * *"
{extra_spec}
  jobTemplate:
    metadata:
      labels:
        cronjob: {name}
    spec:
      template:
        metadata:
          annotations:
            bramble.dev/hollow-exit: "0"
            bramble.dev/hollow-run-seconds: "1"
        spec:
          restartPolicy: Never
          containers:
          - name: work
            image: busybox:1
            command: ["true"]
"#
    )
}

#[test]
fn a_cronjob_fires_on_the_minute_trims_its_history_and_rests_when_suspended() {
    let (cluster, _nodes) = cluster_with_nodes();
    cluster.ok(V, &["create", "cronjob", "tick", "--image=busybox:1", "--schedule=* * * * *", "--", "sleep", "3600"]);
    let manifests = [
        every_minute("done", ""),
        every_minute("trimmed", "  successfulJobsHistoryLimit: 0"),
        every_minute("paused", "  suspend: true"),
    ];
    for manifest in manifests {
        let applied = cluster.kubectl_stdin(V, &["apply", "-f", "-"], &manifest);
        cluster.expect_ok(V, &["apply", "-f", "-"], &applied);
    }
    let table = out(&cluster, &["get", "cronjobs"]);
    assert!(table.contains("tick") && table.contains("* * * * *"), "{table}");

    // The first minute boundary after creation: a Job named for it, owned by the CronJob.
    let job = eventually(Duration::from_secs(75), "tick's first job", || {
        let name =
            jsonpath(&cluster, &["jobs"], "{.items[?(@.metadata.ownerReferences[0].name==\"tick\")].metadata.name}");
        (!name.is_empty()).then_some(name)
    });
    let minutes: i64 = job.strip_prefix("tick-").and_then(|m| m.parse().ok()).unwrap_or_else(|| panic!("{job}"));
    let scheduled = jsonpath(
        &cluster,
        &["job", &job],
        "{.metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp}",
    );
    let at: k8s_openapi::jiff::Timestamp = scheduled.parse().unwrap_or_else(|e| panic!("{scheduled}: {e}"));
    assert_eq!(at.as_second(), minutes * 60, "{job} is named for {scheduled}");
    assert!(scheduled.ends_with(":00Z"), "{scheduled}");
    let uid = jsonpath(&cluster, &["cronjob", "tick"], "{.metadata.uid}");
    let owner = jsonpath(
        &cluster,
        &["job", &job],
        "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}",
    );
    assert_eq!(owner, format!("CronJob/{uid}/true"));
    let status = eventually(Duration::from_secs(10), "tick lists its job", || {
        let s = jsonpath(&cluster, &["cronjob", "tick"], "{.status.active[0].name} {.status.lastScheduleTime}");
        s.starts_with(&job).then_some(s)
    });
    assert_eq!(status, format!("{job} {scheduled}"));
    let events = out(&cluster, &["get", "events", "--field-selector", "involvedObject.name=tick"]);
    assert!(events.contains("SuccessfulCreate") && events.contains(&format!("Created job {job}")), "{events}");
    // Its pod runs on a hollow node.
    eventually(Duration::from_secs(30), "tick's pod runs", || {
        let phase = jsonpath(&cluster, &["pods", "-l", &format!("job-name={job}")], "{.items[0].status.phase}");
        (phase == "Running").then_some(())
    });

    // The same minute: done's Job succeeds and is seen; it stays, as history.
    let done_job = format!("done-{minutes}");
    let last_success = eventually(Duration::from_secs(45), "done's job succeeds", || {
        let s = jsonpath(&cluster, &["cronjob", "done"], "{.status.lastSuccessfulTime}");
        (!s.is_empty()).then_some(s)
    });
    assert!(last_success.as_str() >= scheduled.as_str(), "{last_success} before {scheduled}");
    assert_eq!(jsonpath(&cluster, &["cronjob", "done"], "{.status.active}"), "");
    assert_eq!(
        out(&cluster, &["get", "jobs", "-l", "cronjob=done", "-o", "name"]).trim(),
        format!("job.batch/{done_job}")
    );
    let events = out(&cluster, &["get", "events", "--field-selector", "involvedObject.name=done"]);
    assert!(events.contains(&format!("Saw completed job: {done_job}, condition: Complete")), "{events}");

    // trimmed keeps no successful Job: its Job goes, and its pods after it.
    let trimmed_job = format!("trimmed-{minutes}");
    eventually(Duration::from_secs(45), "trimmed's job succeeds and is deleted", || {
        let success = jsonpath(&cluster, &["cronjob", "trimmed"], "{.status.lastSuccessfulTime}");
        let left = out(&cluster, &["get", "jobs", "-l", "cronjob=trimmed", "-o", "name"]);
        (!success.is_empty() && left.trim().is_empty()).then_some(())
    });
    let events = out(&cluster, &["get", "events", "--field-selector", "involvedObject.name=trimmed"]);
    for expected in [format!("Created job {trimmed_job}"), format!("Deleted job {trimmed_job}")] {
        assert!(events.contains(&expected), "{expected}: {events}");
    }
    eventually(Duration::from_secs(30), "the trimmed job's pods are collected", || {
        let pods = out(&cluster, &["get", "pods", "-l", &format!("job-name={trimmed_job}"), "-o", "name"]);
        pods.trim().is_empty().then_some(())
    });

    // The boundary passed for paused too, and it started nothing.
    assert_eq!(out(&cluster, &["get", "jobs", "-l", "cronjob=paused", "-o", "name"]).trim(), "");
    assert_eq!(jsonpath(&cluster, &["cronjob", "paused"], "{.status.lastScheduleTime}"), "");
}
