//! Sidecar containers (init containers with `restartPolicy: Always`), as
//! Helm charts now use them: the sidecar starts before the app container and
//! keeps running beside it, counts for the pod's readiness, restarts when it
//! dies without making the pod Pending, and does not keep a finished Job pod
//! alive. Needs root (namespaces, containerd).

use std::time::Duration;

use crate::pods::{AGENT, BUSYBOX, PodCluster};
use crate::scenario::eventually;

fn manifest(name: &str, restart_policy: &str, app: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: {AGENT}
  restartPolicy: {restart_policy}
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: setup
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sh", "-c", "echo prepared > /shared/setup"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  - name: proxy
    image: {BUSYBOX}
    imagePullPolicy: Never
    restartPolicy: Always
    command: ["sh", "-c", "date +%s%N > /shared/proxy-started; trap 'exit 0' TERM; while true; do sleep 1; done"]
    readinessProbe:
      exec: {{command: ["test", "-e", "/shared/proxy-started"]}}
      periodSeconds: 1
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: ["sh", "-c", "{app}"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  volumes:
  - name: shared
    emptyDir: {{}}
"#
    )
}

fn init_status(cluster: &PodCluster, pod: &str, container: &str, field: &str) -> String {
    cluster.jsonpath(&["pod", pod], &format!("{{.status.initContainerStatuses[?(@.name==\"{container}\")].{field}}}"))
}

#[test]
fn sidecars_run_beside_the_app_restart_alone_and_end_with_a_job() {
    let cluster = PodCluster::start();

    // A long-running app: the sidecar ran before it, and both are up.
    cluster.apply(&manifest(
        "web",
        "Always",
        "test -e /shared/proxy-started && cat /shared/setup && echo app-up && sleep 3600",
    ));
    cluster.wait_running("web", true);
    assert!(cluster.ok("1.33", &["logs", "web", "-c", "app"]).contains("prepared\napp-up"));
    assert!(!init_status(&cluster, "web", "proxy", "state.running.startedAt").is_empty());
    assert_eq!(init_status(&cluster, "web", "proxy", "ready"), "true");
    assert_eq!(init_status(&cluster, "web", "proxy", "started"), "true");
    assert!(init_status(&cluster, "web", "setup", "state.terminated.reason").contains("Completed"));

    // The sidecar dies: it comes back, the app is not restarted, the pod stays Running.
    cluster.ok("1.33", &["exec", "web", "-c", "proxy", "--", "kill", "1"]);
    eventually(Duration::from_secs(60), &format!("proxy restarted\n{}", cluster.describe("web")), || {
        let restarts = init_status(&cluster, "web", "proxy", "restartCount");
        let running = !init_status(&cluster, "web", "proxy", "state.running.startedAt").is_empty();
        (restarts == "1" && running).then_some(())
    });
    assert_eq!(cluster.jsonpath(&["pod", "web"], "{.status.phase}"), "Running");
    assert_eq!(cluster.jsonpath(&["pod", "web"], "{.status.containerStatuses[0].restartCount}"), "0");
    // The setup container did not run again.
    assert_eq!(init_status(&cluster, "web", "setup", "restartCount"), "0");

    // A Job-style pod: when the app is done, the sidecar is stopped and the pod Succeeded.
    cluster.apply(&manifest("batch", "Never", "sleep 2; echo work-done"));
    eventually(Duration::from_secs(60), &format!("batch Succeeded\n{}", cluster.describe("batch")), || {
        (cluster.jsonpath(&["pod", "batch"], "{.status.phase}") == "Succeeded").then_some(())
    });
    assert!(cluster.ok("1.33", &["logs", "batch", "-c", "app"]).contains("work-done"));
    let proxy_exit = init_status(&cluster, "batch", "proxy", "state.terminated.exitCode");
    assert!(proxy_exit == "0" || proxy_exit == "137" || proxy_exit == "143", "sidecar state: {proxy_exit:?}");
}
