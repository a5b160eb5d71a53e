//! Needs root, containerd and runc: starts a private containerd through
//! `Containerd::start` in a temporary directory, imports a busybox image built
//! here from `/bin/busybox`, and runs a hostNetwork pod through the pod worker
//! (sandbox, containers, exec probe, restart back-off, adoption by a second
//! worker, graceful termination). No API server: reports are read from the
//! worker's channel, and the API answers 404 to every read (no Services, no Secrets).

#![allow(clippy::unwrap_used, reason = "a test's helpers fail the test on any error")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use agent::containerd::{Containerd, ContainerdOptions, PAUSE_IMAGE};
use agent::kubelet::pod_worker::{PodRuntime, PodWorker, Report};
use agent::kubelet::spec::POD_UID_LABEL;
use agent::paths::AgentPaths;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

const BUSYBOX_IMAGE: &str = "docker.io/bramble/busybox:test";
const WEB_UID: &str = "0d7c1c55-1111-4a2b-9c3d-cri-runtime-test";
const JOB_UID: &str = "5b1e0c2a-2222-4f00-8e1d-cri-runtime-done";

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A docker-archive with two images sharing one busybox layer: the sandbox image (sleeps)
/// and a shell image.
fn build_images(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "echo", "cat", "true", "ls", "env"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let layer = archive.join("layer.tar");
    run(Command::new("tar").arg("-C").arg(&rootfs).arg("--numeric-owner").arg("-cf").arg(&layer).arg("."));
    let diff_id = format!("sha256:{}", sha256_hex(&std::fs::read(&layer).unwrap()));
    let mut manifest = Vec::new();
    for (tag, entrypoint, cmd) in [
        (PAUSE_IMAGE, serde_json::json!(["/bin/sleep", "2147483647"]), serde_json::json!([])),
        (BUSYBOX_IMAGE, serde_json::json!(null), serde_json::json!(["/bin/sh"])),
    ] {
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": entrypoint, "Cmd": cmd, "Env": ["PATH=/bin"], "User": "0"},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let bytes = serde_json::to_vec(&config).unwrap();
        let name = format!("{}.json", sha256_hex(&bytes));
        std::fs::write(archive.join(&name), bytes).unwrap();
        manifest.push(serde_json::json!({"Config": name, "RepoTags": [tag], "Layers": ["layer.tar"]}));
    }
    std::fs::write(archive.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let tar = dir.join("images.tar");
    run(Command::new("tar").arg("-C").arg(&archive).arg("-cf").arg(&tar).arg("."));
    tar
}

fn test_pod() -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "test", "uid": WEB_UID},
        "spec": {
            "hostNetwork": true,
            "enableServiceLinks": false,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 2,
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [
                {"name": "main", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                 "command": ["/bin/sh", "-c"], "args": ["echo hello from $GREETING; echo stored > /data/out; exec sleep 3600"],
                 "env": [{"name": "GREETING", "value": "bramble"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                 "readinessProbe": {"exec": {"command": ["/bin/cat", "/data/out"]}, "periodSeconds": 1},
                 "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "echo prestop ran > /proc/1/fd/1"]}}}},
                {"name": "crasher", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                 "command": ["/bin/sh", "-c", "echo boom; exit 3"]},
            ],
        },
    }))
    .unwrap()
}

fn container<'a>(status: &'a PodStatus, name: &str) -> &'a k8s_openapi::api::core::v1::ContainerStatus {
    status.container_statuses.iter().flatten().find(|c| c.name == name).unwrap()
}

/// Syncs until a reported status satisfies `done`; returns it.
async fn sync_until(
    worker: &mut PodWorker,
    reports: &mut mpsc::UnboundedReceiver<Report>,
    last: &mut Option<PodStatus>,
    what: &str,
    done: impl Fn(&PodStatus) -> bool,
) -> PodStatus {
    for _ in 0..60 {
        worker.sync().await;
        while let Ok(report) = reports.try_recv() {
            match report {
                Report::Status { status, .. } => *last = Some(status),
                other => eprintln!("{other:?}"),
            }
        }
        if let Some(status) = last.as_ref().filter(|s| done(s)) {
            return status.clone();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what}: last status {last:#?}");
}

/// A private containerd with the test images, and a pod runtime on it.
struct Harness {
    _tmp: tempfile::TempDir,
    paths: AgentPaths,
    containerd: Containerd,
    _guard: StopOnDrop,
    rt: Arc<PodRuntime>,
    reports: mpsc::UnboundedReceiver<Report>,
}

async fn harness(pod_uid: &str) -> Harness {
    let tmp = tempfile::tempdir().unwrap();
    let paths = AgentPaths::new(&tmp.path().join("data"), &tmp.path().join("run"), &tmp.path().join("logs"));
    let images = build_images(tmp.path());

    let containerd = Containerd::start(&paths, &ContainerdOptions::default()).await.expect("containerd starts");
    assert!(containerd.started_here());
    let guard =
        StopOnDrop { pid: containerd.pid(), dir: tmp.path().to_path_buf(), pod_uids: vec![pod_uid.to_string()] };
    assert!(!containerd.version.is_empty());
    // A second start finds it serving and reuses it.
    let again = Containerd::start(&paths, &ContainerdOptions::default()).await.unwrap();
    assert!(!again.started_here());
    run(Command::new("ctr")
        .arg("--address")
        .arg(&containerd.socket)
        .args(["-n", "k8s.io", "images", "import"])
        .arg(&images));

    let api = not_found_api().await;
    let client = kube::Client::try_from(kube::Config::new(format!("http://{api}").parse().unwrap())).unwrap();
    let (tx, reports) = mpsc::unbounded_channel();
    let rt = Arc::new(PodRuntime {
        cri: containerd.cri.clone(),
        client,
        paths: paths.clone(),
        node_name: "node-1".into(),
        node_ip: "127.0.0.1".into(),
        cluster_dns: vec![],
        cluster_domain: "cluster.local".into(),
        host_resolv_conf: "nameserver 127.0.0.1\n".into(),
        host_hosts: "127.0.0.1 localhost\n".into(),
        node_hostname: "node-1".into(),
        memory_capacity: 8 << 30,
        reports: tx,
        active: Default::default(),
        evictions: Default::default(),
    });
    Harness { _tmp: tmp, paths, containerd, _guard: guard, rt, reports }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_pod_runs_restarts_is_adopted_and_terminates_on_a_private_containerd() {
    let Harness { _tmp, paths, containerd, _guard, rt, mut reports } = harness(WEB_UID).await;
    let pod = test_pod();
    let uid = pod.metadata.uid.clone().unwrap();
    let mut worker = PodWorker::new(rt.clone(), pod.clone());
    let mut last = None;

    let status = sync_until(&mut worker, &mut reports, &mut last, "main ready, crasher restarted", |s| {
        let main = container(s, "main");
        let crasher = container(s, "crasher");
        main.ready
            && crasher.restart_count >= 1
            && crasher.last_state.as_ref().and_then(|l| l.terminated.as_ref()).is_some()
    })
    .await;
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("127.0.0.1"));
    let main = container(&status, "main");
    assert!(main.container_id.as_deref().unwrap().starts_with("containerd://"));
    assert!(main.image_id.starts_with("sha256:"));
    let crashed = container(&status, "crasher").last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((crashed.exit_code, crashed.reason.as_deref()), (3, Some("Error")));

    let log = paths.container_log("test", "web", &uid, "main", 0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("stdout F hello from bramble"), "{text}");
    let stored = paths.pod_dir(&uid).join("volumes/kubernetes.io~empty-dir/data/out");
    assert_eq!(std::fs::read_to_string(stored).unwrap(), "stored\n");

    // The crasher ends up held back with the kubelet's reason.
    sync_until(&mut worker, &mut reports, &mut last, "CrashLoopBackOff", |s| {
        let state = container(s, "crasher").state.clone().unwrap_or_default();
        state.waiting.and_then(|w| w.reason).as_deref() == Some("CrashLoopBackOff")
    })
    .await;

    // A new worker (an agent restart) adopts the running container instead of starting another.
    let main_id = container(last.as_ref().unwrap(), "main").container_id.clone();
    drop(worker);
    let (tx2, mut reports2) = mpsc::unbounded_channel();
    let rt2 = Arc::new(PodRuntime { reports: tx2, ..clone_runtime(&rt) });
    let mut adopter = PodWorker::new(rt2, pod.clone());
    let mut last2 = None;
    let adopted = sync_until(&mut adopter, &mut reports2, &mut last2, "adopted", |s| container(s, "main").ready).await;
    assert_eq!(container(&adopted, "main").container_id, main_id);
    assert_eq!(container(&adopted, "main").restart_count, 0);
    assert!(container(&adopted, "crasher").restart_count >= 1);
    let labels = std::collections::HashMap::from([(POD_UID_LABEL.to_string(), uid.clone())]);
    let mains: Vec<_> = containerd
        .cri
        .list_containers("", labels.clone())
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.metadata.as_ref().is_some_and(|m| m.name == "main"))
        .collect();
    assert_eq!(mains.len(), 1, "no duplicate of an adopted container");
    assert_eq!(containerd.cri.list_pod_sandboxes(labels.clone()).await.unwrap().len(), 1);

    // A graceful delete through the worker's loop: preStop, stop, remove, then the final delete.
    drop(adopter);
    let (tx3, mut reports3) = mpsc::unbounded_channel();
    let rt3 = Arc::new(PodRuntime { reports: tx3, ..clone_runtime(&rt) });
    let (pod_tx, pod_rx) = tokio::sync::watch::channel(Some(pod.clone()));
    let worker = tokio::spawn(agent::kubelet::pod_worker::run(rt3, pod_rx));
    let mut deleting = pod.clone();
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
    deleting.metadata.deletion_grace_period_seconds = Some(2);
    pod_tx.send(Some(deleting)).unwrap();
    let terminated = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(report) = reports3.recv().await {
            if let Report::Terminated { uid, .. } = report {
                return uid;
            }
        }
        panic!("reports ended without Terminated");
    })
    .await
    .expect("terminated within 30 s");
    assert_eq!(terminated, uid);
    tokio::time::timeout(Duration::from_secs(5), worker).await.expect("worker ends").unwrap();
    assert!(containerd.cri.list_containers("", labels.clone()).await.unwrap().is_empty());
    assert!(containerd.cri.list_pod_sandboxes(labels).await.unwrap().is_empty());
    assert!(!paths.pod_dir(&uid).exists());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("stdout F prestop ran"), "{text}");

    containerd.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_finished_pod_keeps_its_status_and_stops_its_sandbox() {
    let Harness { _tmp, paths, containerd, _guard, rt, mut reports } = harness(JOB_UID).await;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "job", "namespace": "test", "uid": JOB_UID},
        "spec": {
            "hostNetwork": true, "enableServiceLinks": false, "restartPolicy": "Never",
            "initContainers": [{"name": "setup", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                "command": ["/bin/echo", "init done"]}],
            "containers": [{"name": "work", "image": BUSYBOX_IMAGE, "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", "echo working; exit 0"]}],
        },
    }))
    .unwrap();
    let uid = pod.metadata.uid.clone().unwrap();
    let mut worker = PodWorker::new(rt.clone(), pod.clone());
    let mut last = None;
    let status =
        sync_until(&mut worker, &mut reports, &mut last, "Succeeded", |s| s.phase.as_deref() == Some("Succeeded"))
            .await;
    let init = &status.init_container_statuses.as_ref().unwrap()[0];
    let done = init.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((done.exit_code, done.reason.as_deref()), (0, Some("Completed")));
    let work = container(&status, "work").state.clone().unwrap().terminated.unwrap();
    assert_eq!(work.exit_code, 0);
    let ready = status.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("False", Some("PodCompleted")));
    let labels = std::collections::HashMap::from([(POD_UID_LABEL.to_string(), uid.clone())]);
    let sandboxes = containerd.cri.list_pod_sandboxes(labels.clone()).await.unwrap();
    assert_eq!(sandboxes.len(), 1);
    assert_eq!(sandboxes[0].state, k8s_cri::v1::PodSandboxState::SandboxNotready as i32, "the sandbox is stopped");
    let log = std::fs::read_to_string(paths.container_log("test", "job", &uid, "setup", 0)).unwrap();
    assert!(log.contains("stdout F init done"), "{log}");
    // Further syncs change nothing.
    worker.sync().await;
    assert!(reports.try_recv().is_err());
    // After an agent restart, a worker for the finished pod runs nothing and writes nothing.
    let mut finished = pod.clone();
    finished.status = Some(status.clone());
    let mut restarted = PodWorker::new(rt.clone(), finished);
    restarted.sync().await;
    assert!(reports.try_recv().is_err());
    assert_eq!(containerd.cri.list_pod_sandboxes(labels.clone()).await.unwrap().len(), 1);
    let works = containerd.cri.list_containers("", labels.clone()).await.unwrap();
    assert_eq!(works.iter().filter(|c| c.metadata.as_ref().is_some_and(|m| m.name == "work")).count(), 1);
    restarted.terminate(Duration::from_secs(1)).await;
    assert!(containerd.cri.list_pod_sandboxes(labels).await.unwrap().is_empty());
    containerd.stop(Duration::from_secs(10)).await;
}

fn clone_runtime(rt: &PodRuntime) -> PodRuntime {
    PodRuntime {
        cri: rt.cri.clone(),
        client: rt.client.clone(),
        paths: rt.paths.clone(),
        node_name: rt.node_name.clone(),
        node_ip: rt.node_ip.clone(),
        cluster_dns: rt.cluster_dns.clone(),
        cluster_domain: rt.cluster_domain.clone(),
        host_resolv_conf: rt.host_resolv_conf.clone(),
        host_hosts: rt.host_hosts.clone(),
        node_hostname: rt.node_hostname.clone(),
        memory_capacity: rt.memory_capacity,
        reports: rt.reports.clone(),
        active: Default::default(),
        evictions: Default::default(),
    }
}

/// Stops the test's containerd when the test ends. After a failed assertion it also kills
/// what the test left running (processes in the test pods' cgroups, shims of this
/// containerd) and unmounts what is mounted under the test's directory, by pid and path.
struct StopOnDrop {
    pid: Option<u32>,
    dir: PathBuf,
    pod_uids: Vec<String>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir = self.dir.to_string_lossy().into_owned();
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
                let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let in_pod = self.pod_uids.iter().any(|uid| cgroup.contains(&format!("pod{uid}")));
                let our_shim = String::from_utf8_lossy(&cmdline).contains(&dir) && Some(pid) != self.pid;
                if in_pod || our_shim {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let mut points: Vec<&str> =
                mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(dir.as_str())).collect();
            points.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for point in points {
                let _ = Command::new("umount").args(["-l", point]).status();
            }
            for uid in &self.pod_uids {
                for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
                    let pod = hierarchy.path().join("kubepods/besteffort").join(format!("pod{uid}"));
                    for child in std::fs::read_dir(&pod).into_iter().flatten().flatten() {
                        let _ = std::fs::remove_dir(child.path());
                    }
                    let _ = std::fs::remove_dir(pod);
                }
            }
        }
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(std::process::Stdio::null()).status();
        }
    }
}

/// An API server on loopback that has nothing: every request gets a 404 Status.
async fn not_found_api() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"NotFound","code":404}"#;
                    let response = http::Response::builder()
                        .status(404)
                        .header("content-type", "application/json")
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes())))
                        .unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    addr
}
