//! Pulling images from a registry (issue 5): Debian's `docker-registry`
//! runs inside the agent's network namespace, and the agent's registries.yaml
//! names it as docker.io's mirror on loopback, so the pull goes through
//! registries.yaml -> hosts.toml -> containerd's CRI pull -> the registry.
//! The test process pushes to the same registry on the lab bridge. Nothing
//! here leaves the machine: the image that fails to pull names the loopback
//! registry itself, because a docker.io image missing from the mirror would
//! fall back to Docker Hub. Needs root.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::pods::{AGENT, NodeProcess, Options, PodCluster, pod_manifest};
use crate::scenario::eventually;

/// The registry's port inside node 1 (where nothing else listens on it).
const PORT: u16 = 5000;
/// The image that exists only in the registry (not in the air-gap archive).
const IMAGE: &str = "docker.io/bramble/pulled:v1";
/// A file of that image, so that its digest differs from the air-gap busybox's.
const MARK: &str = "pulled through the loopback mirror";

/// An image the registry does not have, named by the registry's own loopback address.
fn missing_image() -> String {
    format!("127.0.0.1:{PORT}/bramble/missing:v1")
}

/// One line of the registry's access log (gorilla's combined log format).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    remote: String,
    method: String,
    path: String,
    status: u16,
    user_agent: String,
}

impl Request {
    /// The path without its query (containerd adds `?ns=<registry>` when it asks a mirror).
    fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// `127.0.0.1 - - [04/Dec/2026:02:04:10 +0000] "HEAD /v2/x/manifests/v1 HTTP/1.1" 404 92 "" "containerd/1.6"`
fn parse_access_line(line: &str) -> Option<Request> {
    let (remote, rest) = line.split_once(" - - [")?;
    let (_, rest) = rest.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut parts = request.split(' ');
    let (method, path) = (parts.next()?, parts.next()?);
    let status = rest.split(' ').next()?.parse().ok()?;
    let user_agent = rest.rsplit('"').nth(1)?;
    Some(Request {
        remote: remote.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        status,
        user_agent: user_agent.to_string(),
    })
}

/// Debian's docker-registry (distribution 2.8) in node 1, storage in the scratch directory.
struct Registry {
    process: NodeProcess,
    /// `http://<node 1's lab address>:<port>`, where the test process pushes.
    lab_url: String,
}

impl Registry {
    fn start(cluster: &PodCluster) -> Registry {
        let program = crate::support::required_program("docker-registry", "docker-registry");
        let dir = cluster.scratch().join("registry");
        std::fs::create_dir_all(dir.join("data")).expect("registry directory");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 0.0.0.0:{PORT}\n  secret: bramble-e2e\n",
                dir.join("data").display()
            ),
        )
        .expect("write the registry's config");
        let args: Vec<OsString> = vec!["serve".into(), config.into()];
        let process = cluster.spawn(1, &program, &args, "registry.log");
        let registry = Registry { process, lab_url: format!("http://{}:{PORT}", cluster.lab().ip(1)) };
        let authority = format!("{}:{PORT}", cluster.lab().ip(1));
        eventually(Duration::from_secs(20), &format!("docker-registry answers /v2/\n{}", registry.log()), || {
            (http_status(&authority, "/v2/") == Some(200)).then_some(())
        });
        registry
    }

    fn push(&self, repository: &str, tag: &str, image: &images::oci::ImageBlobs) {
        crate::support::runtime()
            .block_on(images::oci::push(&self.lab_url, repository, tag, image))
            .unwrap_or_else(|e| panic!("push to {}: {e}\n{}", self.lab_url, self.log()));
    }

    fn log(&self) -> String {
        self.process.log_text()
    }

    /// The requests containerd made: from loopback inside node 1, not the test's pushes.
    fn loopback_requests(&self, repository: &str) -> Vec<Request> {
        let prefix = format!("/v2/{repository}/");
        self.log()
            .lines()
            .filter_map(parse_access_line)
            .filter(|r| r.remote == "127.0.0.1" && r.path.starts_with(&prefix))
            .collect()
    }
}

/// The status of `GET path` at `authority`, or `None` when nothing answers.
fn http_status(authority: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split(' ').nth(1)?.parse().ok()
}

/// A busybox container that prints `/etc/pulled.txt` and stays up.
fn containers(image: &str, policy: Option<&str>) -> String {
    let policy = policy.map(|p| format!("    imagePullPolicy: {p}\n")).unwrap_or_default();
    format!(
        "  - name: main\n    image: {image}\n{policy}    command: [\"sh\", \"-c\", \"cat /etc/pulled.txt; while true; do sleep 1; done\"]\n"
    )
}

/// Whether a manifest request resolved `tag` (containerd resolves by HEAD, some clients by GET).
fn resolves_tag(request: &Request, repository: &str, tag: &str) -> bool {
    request.route() == format!("/v2/{repository}/manifests/{tag}")
        && (request.method == "HEAD" || request.method == "GET")
}

/// An image that only a registry has is pulled through the mirror that
/// registries.yaml names on loopback: the pod runs with the image's own
/// file, the registry saw containerd fetch the manifest and layer, and the
/// image is in the agent's containerd. IfNotPresent then pulls nothing,
/// Always goes to the registry again, and an image the registry lacks leaves
/// the pod waiting in ErrImagePull/ImagePullBackOff with an event naming it.
#[test]
fn an_image_is_pulled_from_a_loopback_registry_through_a_registries_yaml_mirror() {
    let registries = format!("mirrors:\n  docker.io:\n    endpoint:\n      - \"http://127.0.0.1:{PORT}\"\n");
    let cluster = PodCluster::start_with(Options { agent_registries: Some(registries), ..Default::default() });
    let hosts_toml = cluster.scratch().join("agent/data/agent/etc/containerd/certs.d/docker.io/hosts.toml");
    let hosts = std::fs::read_to_string(&hosts_toml).unwrap_or_else(|e| panic!("{}: {e}", hosts_toml.display()));
    assert!(hosts.contains(&format!("[host.\"http://127.0.0.1:{PORT}\"]")), "the agent rendered the mirror:\n{hosts}");

    let registry = Registry::start(&cluster);
    let blobs = crate::pods::busybox_image(IMAGE).file("/etc/pulled.txt", format!("{MARK}\n"), 0o644).blobs();
    registry.push("bramble/pulled", "v1", &blobs);
    assert!(
        !cluster.ctr(1, &["images", "ls", "-q"]).lines().any(|l| l == IMAGE),
        "{IMAGE} is not on the agent before the pod asks for it"
    );
    assert!(registry.loopback_requests("bramble/pulled").is_empty(), "no pull before the pod:\n{}", registry.log());

    cluster.apply(&pod_manifest("pulled", AGENT, &containers(IMAGE, None)));
    let missing = missing_image();
    cluster.apply(&pod_manifest("missing", AGENT, &containers(&missing, None)));

    cluster.wait_running("pulled", true);
    let logs = eventually(Duration::from_secs(30), "the pulled image's file in the pod's log", || {
        let text = String::from_utf8_lossy(&cluster.kubectl("1.33", &["logs", "pulled"]).stdout).into_owned();
        text.contains(MARK).then_some(text)
    });
    assert_eq!(logs.trim(), MARK);
    let image_id = cluster.jsonpath(&["pod", "pulled"], "{.status.containerStatuses[0].imageID}");
    assert!(image_id.contains(&blobs.manifest.digest), "imageID {image_id:?} names the pushed manifest");
    // Events are posted in the background: wait for the one about the pull.
    eventually(Duration::from_secs(20), "a Pulled event naming the image", || {
        let events = cluster.ok(
            "1.33",
            &[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=pulled",
                "-o",
                "custom-columns=R:.reason,M:.message",
            ],
        );
        events.lines().any(|l| l.starts_with("Pulled") && l.contains(&format!("\"{IMAGE}\""))).then_some(())
    });

    // The pull came from containerd on loopback: the tag resolved, the layer fetched.
    let pulls = registry.loopback_requests("bramble/pulled");
    let layer = format!("/v2/bramble/pulled/blobs/{}", blobs.layers[0].digest);
    assert!(
        pulls.iter().any(|r| resolves_tag(r, "bramble/pulled", "v1") && r.status == 200),
        "containerd resolved the tag at the mirror: {pulls:#?}\n{}",
        registry.log()
    );
    assert!(
        pulls.iter().any(|r| r.method == "GET" && r.route() == layer && r.status == 200),
        "layer fetched: {pulls:#?}"
    );
    assert!(
        pulls.iter().all(|r| r.path.ends_with("?ns=docker.io")),
        "containerd asked the registry as docker.io's mirror: {pulls:#?}"
    );
    assert!(pulls.iter().all(|r| r.user_agent.starts_with("containerd/")), "{pulls:#?}");
    let listed = cluster.ctr(1, &["images", "ls"]);
    assert!(
        listed.lines().any(|l| l.starts_with(&format!("{IMAGE} ")) && l.contains(&blobs.manifest.digest)),
        "ctr lists {IMAGE} with the pushed digest:\n{listed}"
    );

    // IfNotPresent: the image is present, so the registry hears nothing.
    let before = registry.loopback_requests("bramble/pulled").len();
    cluster.apply(&pod_manifest("cached", AGENT, &containers(IMAGE, Some("IfNotPresent"))));
    cluster.wait_running("cached", true);
    let after = registry.loopback_requests("bramble/pulled");
    assert_eq!(after.len(), before, "IfNotPresent pulled nothing: {:#?}", &after[before..]);

    // Always: the tag is resolved at the registry again, though the image is present.
    cluster.apply(&pod_manifest("always", AGENT, &containers(IMAGE, Some("Always"))));
    cluster.wait_running("always", true);
    let again = registry.loopback_requests("bramble/pulled");
    assert!(
        again[before..].iter().any(|r| resolves_tag(r, "bramble/pulled", "v1") && r.status == 200),
        "Always resolved the tag at the registry again: {:#?}",
        &again[before..]
    );
    let logs = String::from_utf8_lossy(&cluster.kubectl("1.33", &["logs", "always"]).stdout).into_owned();
    assert!(logs.contains(MARK), "the Always pod runs the same image: {logs:?}");

    // The image the registry lacks: waiting, with the reason and a message naming it.
    let (reason, message) = eventually(
        Duration::from_secs(60),
        &format!("pod missing waits on its image\n{}", cluster.describe("missing")),
        || {
            let reason = cluster.jsonpath(&["pod", "missing"], "{.status.containerStatuses[0].state.waiting.reason}");
            let message = cluster.jsonpath(&["pod", "missing"], "{.status.containerStatuses[0].state.waiting.message}");
            (reason == "ErrImagePull" || reason == "ImagePullBackOff").then_some((reason, message))
        },
    );
    assert!(message.contains(&format!("\"{missing}\"")), "{reason}: the message names the image: {message:?}");
    assert_eq!(cluster.jsonpath(&["pod", "missing"], "{.status.phase}"), "Pending");
    let described = cluster.ok("1.33", &["describe", "pod", "missing"]);
    let events = described.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events.lines().any(|l| l.contains("Warning") && l.contains(&missing) && l.contains("not found")),
        "kubectl describe shows a warning event naming the image and the registry's answer:\n{described}"
    );
    let misses = registry.loopback_requests("bramble/missing");
    assert!(
        misses.iter().any(|r| resolves_tag(r, "bramble/missing", "v1") && r.status == 404),
        "the registry answered 404 for the missing image: {misses:#?}\n{}",
        registry.log()
    );
}

#[test]
fn access_log_lines_parse() {
    let line = r#"127.0.0.1 - - [04/Dec/2026:02:04:10 +0000] "HEAD /v2/bramble/x/manifests/v1?ns=docker.io HTTP/1.1" 404 92 "" "containerd/1.6.20~ds1""#;
    let request = parse_access_line(line).expect("an access log line");
    assert_eq!(
        request,
        Request {
            remote: "127.0.0.1".into(),
            method: "HEAD".into(),
            path: "/v2/bramble/x/manifests/v1?ns=docker.io".into(),
            status: 404,
            user_agent: "containerd/1.6.20~ds1".into(),
        }
    );
    assert!(resolves_tag(&request, "bramble/x", "v1"));
    let app_line = r#"time="2026-12-04T02:04:10Z" level=info msg="response completed" http.request.method=GET"#;
    assert_eq!(parse_access_line(app_line), None);
}
