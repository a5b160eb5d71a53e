//! Pulling images from a registry (issue 5): Debian's `docker-registry`
//! runs inside the agent's network namespace and containerd reaches it on
//! loopback, so every pull goes through registries.yaml -> hosts.toml and the
//! CRI registry config -> containerd's CRI pull -> the registry, whose access
//! log shows what containerd asked. The test process pushes on the lab bridge.
//! Covered: a mirror of docker.io; a registry with basic auth (htpasswd),
//! with credentials from registries.yaml `configs` or from a pod's
//! `imagePullSecrets`; a registry serving TLS with a certificate of a private
//! CA, trusted through `configs.<host>.tls.ca_file`. Nothing here leaves the
//! machine: images that must fail name the registry itself (a docker.io image
//! missing from a mirror would fall back to Docker Hub). Needs root.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::pods::{AGENT, NodeProcess, Options, PodCluster, pod_manifest};
use crate::scenario::eventually;

/// The ports inside node 1 (where nothing else listens on them) of the open
/// mirror, the registry with basic auth and the one serving TLS.
const MIRROR_PORT: u16 = 5000;
const PRIVATE_PORT: u16 = 5001;
const TLS_PORT: u16 = 5002;
/// The image that exists only in the mirror (not in the air-gap archive).
const IMAGE: &str = "docker.io/bramble/pulled:v1";
/// A file of that image, so that its digest differs from the air-gap busybox's.
const MARK: &str = "pulled through the loopback mirror";
/// The private registry's one user.
const USER: &str = "bramble";
const PASSWORD: &str = "s3cret-e2e";
/// [`USER`] with the bcrypt hash (cost 5) of [`PASSWORD`], made once with
/// Python's `crypt` (libxcrypt): distribution's htpasswd accepts only bcrypt.
const HTPASSWD: &str = "bramble:$2b$05$WHKNU25fj192fFc0Qr3bFeLBKdOMIZ6SZTHsnF5tbDhP3BmPOUNNG\n";

/// An image the registry does not have, named by the registry's own loopback address.
fn missing_image() -> String {
    format!("127.0.0.1:{MIRROR_PORT}/bramble/missing:v1")
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

/// What a registry asks of its clients.
#[derive(Debug, Clone, Default)]
enum Serving {
    /// Plain HTTP, no credentials.
    #[default]
    Open,
    /// `auth: htpasswd:` with [`HTPASSWD`]: every request needs [`USER`] and [`PASSWORD`].
    Htpasswd,
    /// `http: tls:` with this certificate and key.
    Tls { certificate: PathBuf, key: PathBuf },
}

/// Debian's docker-registry (distribution 2.8) in node 1, storage in the scratch directory.
struct Registry {
    process: NodeProcess,
    /// `http://<node 1's lab address>:<port>`, where the test process pushes.
    lab_url: String,
}

impl Registry {
    /// An open registry on `port`.
    fn start(cluster: &PodCluster, port: u16) -> Registry {
        Registry::serve(cluster, port, &Serving::Open, &format!("registry-{port}.log"))
    }

    /// A registry on `port` that has `images` (repository -> image, tag `v1`)
    /// and serves as `serving` says. The test's push speaks neither basic
    /// auth nor TLS, so the images are pushed while the registry is open, and
    /// the registry is then started again on the same storage.
    fn start_with(
        cluster: &PodCluster,
        port: u16,
        serving: &Serving,
        images: &[(&str, &images::oci::ImageBlobs)],
    ) -> Registry {
        let open = Registry::serve(cluster, port, &Serving::Open, &format!("registry-{port}-open.log"));
        for (repository, image) in images {
            open.push(repository, "v1", image);
        }
        drop(open);
        Registry::serve(cluster, port, serving, &format!("registry-{port}.log"))
    }

    fn serve(cluster: &PodCluster, port: u16, serving: &Serving, log_name: &str) -> Registry {
        let program = crate::support::required_program("docker-registry", "docker-registry");
        let dir = cluster.scratch().join(format!("registry-{port}"));
        std::fs::create_dir_all(dir.join("data")).expect("registry directory");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 0.0.0.0:{port}\n  secret: bramble-e2e\n",
            dir.join("data").display()
        );
        match serving {
            Serving::Open => {}
            Serving::Htpasswd => {
                let htpasswd = dir.join("htpasswd");
                std::fs::write(&htpasswd, HTPASSWD).expect("write the htpasswd file");
                config += &format!("auth:\n  htpasswd:\n    realm: bramble-e2e\n    path: {}\n", htpasswd.display());
            }
            Serving::Tls { certificate, key } => {
                config += &format!("  tls:\n    certificate: {}\n    key: {}\n", certificate.display(), key.display());
            }
        }
        let path = dir.join("config.yml");
        std::fs::write(&path, config).expect("write the registry's config");
        let args: Vec<OsString> = vec!["serve".into(), path.into()];
        let process = cluster.spawn(1, &program, &args, log_name);
        let registry = Registry { process, lab_url: format!("http://{}:{port}", cluster.lab().ip(1)) };
        // Any answer will do: 200 when open, 401 with auth, 400 for plain HTTP to TLS.
        let authority = format!("{}:{port}", cluster.lab().ip(1));
        eventually(Duration::from_secs(20), &format!("docker-registry answers /v2/\n{}", registry.log()), || {
            http_status(&authority, "/v2/").map(|_| ())
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

    /// Whether the registry logged a request for `uri` whose credentials it accepted.
    fn authorized(&self, uri: &str) -> bool {
        self.logged(uri, "msg=\"authorized request\"")
    }

    /// Whether the registry logged a request for `uri` with credentials it refused
    /// (a request without any is refused too, but logs no user).
    fn refused_credentials(&self, uri: &str) -> bool {
        self.logged(uri, &format!("msg=\"error authenticating user \\\"{USER}\\\": authentication failure\""))
    }

    /// Whether a line of the registry's own log (logrus text) about `uri` contains `text`.
    fn logged(&self, uri: &str, text: &str) -> bool {
        let uri = format!("http.request.uri={uri} ");
        self.log().lines().any(|l| l.contains(text) && l.contains(&uri))
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
    let registries = format!("mirrors:\n  docker.io:\n    endpoint:\n      - \"http://127.0.0.1:{MIRROR_PORT}\"\n");
    let cluster = PodCluster::start_with(Options { agent_registries: Some(registries), ..Default::default() });
    let hosts_toml = cluster.scratch().join("agent/data/agent/etc/containerd/certs.d/docker.io/hosts.toml");
    let hosts = std::fs::read_to_string(&hosts_toml).unwrap_or_else(|e| panic!("{}: {e}", hosts_toml.display()));
    assert!(
        hosts.contains(&format!("[host.\"http://127.0.0.1:{MIRROR_PORT}\"]")),
        "the agent rendered the mirror:\n{hosts}"
    );

    let registry = Registry::start(&cluster, MIRROR_PORT);
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

/// A busybox image whose `/etc/pulled.txt` holds `mark`.
fn marked_image(name: &str, mark: &str) -> images::oci::ImageBlobs {
    crate::pods::busybox_image(name).file("/etc/pulled.txt", format!("{mark}\n"), 0o644).blobs()
}

/// A pod of [`containers`] on the agent, with `imagePullSecrets` naming `secrets`.
fn pod_with_secrets(name: &str, image: &str, policy: Option<&str>, secrets: &[&str]) -> String {
    let mut manifest = pod_manifest(name, AGENT, &containers(image, policy));
    if !secrets.is_empty() {
        manifest += "  imagePullSecrets:\n";
        for secret in secrets {
            manifest += &format!("  - name: {secret}\n");
        }
    }
    manifest
}

/// Waits for `pod` to run and print `mark`, the file of the image it pulled.
fn wait_for_mark(cluster: &PodCluster, pod: &str, mark: &str) {
    cluster.wait_running(pod, true);
    eventually(Duration::from_secs(30), &format!("{mark:?} in pod {pod}'s log"), || {
        let text = String::from_utf8_lossy(&cluster.kubectl("1.33", &["logs", pod]).stdout).into_owned();
        (text.trim() == mark).then_some(())
    });
}

/// Waits for the first failed pull of `pod`'s image: the container waiting
/// in ErrImagePull (until the retry 10 s later turns it into
/// ImagePullBackOff); the waiting message, which carries containerd's error.
fn failed_pull(cluster: &PodCluster, pod: &str) -> String {
    let path =
        "{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}";
    let message = eventually(Duration::from_secs(60), &format!("pod {pod} in ErrImagePull"), || {
        let text = cluster.jsonpath(&["pod", pod], path);
        let (reason, message) = text.split_once('|')?;
        (reason == "ErrImagePull").then(|| message.to_string())
    });
    assert_eq!(cluster.jsonpath(&["pod", pod], "{.status.phase}"), "Pending", "pod {pod}");
    message
}

/// The statuses of the manifest requests for `repository:v1` among `requests`, in order.
fn manifest_statuses(requests: &[Request], repository: &str) -> Vec<u16> {
    requests.iter().filter(|r| resolves_tag(r, repository, "v1")).map(|r| r.status).collect()
}

/// A registry with basic auth is pulled from with the credentials that
/// registries.yaml's `configs` gives its host, in the form k3s documents (a
/// plain-HTTP registry as its own mirror, `auth: {username, password}`): the
/// pod runs, the registry's log shows containerd's anonymous request refused
/// with 401 and then the same request with the credentials answered, the
/// layer fetched. The registry by names whose config has a wrong password,
/// or no credentials, leaves the pod in ErrImagePull with the 401 in its
/// message. A pod with its own (wrong) pull secret for the registry is
/// pulled with that secret alone, not with the node's credentials, as the
/// kubelet does.
#[test]
fn a_registry_with_basic_auth_is_pulled_from_with_registries_yaml_credentials() {
    // One registry, three names: containerd looks credentials up by host, and all
    // of 127.0.0.0/8 is loopback, so 127.0.0.2 and 127.0.0.3 reach the same
    // registry with a wrong password and with none.
    let registries = format!(
        r#"mirrors:
  "127.0.0.1:{PRIVATE_PORT}":
    endpoint:
      - "http://127.0.0.1:{PRIVATE_PORT}"
  "127.0.0.2:{PRIVATE_PORT}":
    endpoint:
      - "http://127.0.0.2:{PRIVATE_PORT}"
  "127.0.0.3:{PRIVATE_PORT}":
    endpoint:
      - "http://127.0.0.3:{PRIVATE_PORT}"
configs:
  "127.0.0.1:{PRIVATE_PORT}":
    auth:
      username: {USER}
      password: {PASSWORD}
  "127.0.0.2:{PRIVATE_PORT}":
    auth:
      username: {USER}
      password: not-{PASSWORD}
"#
    );
    let cluster = PodCluster::start_with(Options { agent_registries: Some(registries), ..Default::default() });
    let config_toml = cluster.scratch().join("agent/data/agent/etc/containerd/config.toml");
    let config = std::fs::read_to_string(&config_toml).unwrap_or_else(|e| panic!("{}: {e}", config_toml.display()));
    assert!(
        config.contains(&format!(
            "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"127.0.0.1:{PRIVATE_PORT}\".auth]\n  \
             username = \"{USER}\"\n  password = \"{PASSWORD}\"\n"
        )),
        "the agent gave containerd the credentials:\n{config}"
    );

    let mark = "pulled from the registry with basic auth";
    let blobs = marked_image("127.0.0.1/bramble/private:v1", mark);
    let repositories = ["bramble/private", "bramble/wrong", "bramble/anonymous", "bramble/own"];
    let images: Vec<(&str, &images::oci::ImageBlobs)> = repositories.iter().map(|r| (*r, &blobs)).collect();
    let registry = Registry::start_with(&cluster, PRIVATE_PORT, &Serving::Htpasswd, &images);
    cluster.ok(
        "1.33",
        &[
            "create",
            "secret",
            "docker-registry",
            "wrong",
            &format!("--docker-server=127.0.0.1:{PRIVATE_PORT}"),
            &format!("--docker-username={USER}"),
            &format!("--docker-password=not-{PASSWORD}"),
        ],
    );
    let image = |n: u8, repository: &str| format!("127.0.0.{n}:{PRIVATE_PORT}/{repository}:v1");
    cluster.apply(&pod_with_secrets("private", &image(1, "bramble/private"), None, &[]));
    cluster.apply(&pod_with_secrets("wrong-password", &image(2, "bramble/wrong"), None, &[]));
    cluster.apply(&pod_with_secrets("no-credentials", &image(3, "bramble/anonymous"), None, &[]));
    cluster.apply(&pod_with_secrets("own-secret", &image(1, "bramble/own"), None, &["wrong"]));

    wait_for_mark(&cluster, "private", mark);
    let pulls = registry.loopback_requests("bramble/private");
    let statuses = manifest_statuses(&pulls, "bramble/private");
    assert_eq!(statuses.first(), Some(&401), "containerd's first request carries no credentials: {pulls:#?}");
    assert!(statuses[1..].contains(&200), "then the credentials are sent and accepted: {pulls:#?}");
    let layer = format!("/v2/bramble/private/blobs/{}", blobs.layers[0].digest);
    assert!(
        pulls.iter().any(|r| r.method == "GET" && r.route() == layer && r.status == 200),
        "layer fetched with the credentials: {pulls:#?}"
    );
    assert!(
        registry.authorized("/v2/bramble/private/manifests/v1"),
        "the registry accepted the credentials for the manifest:\n{}",
        registry.log()
    );

    for (pod, n, repository) in [
        ("wrong-password", 2, "bramble/wrong"),
        ("no-credentials", 3, "bramble/anonymous"),
        ("own-secret", 1, "bramble/own"),
    ] {
        let message = failed_pull(&cluster, pod);
        assert!(
            message.contains(&format!("\"{}\"", image(n, repository))),
            "{pod}: the message names the image: {message:?}"
        );
        assert!(message.contains("401 Unauthorized"), "{pod}: the message says the registry refused: {message:?}");
        let requests = registry.loopback_requests(repository);
        let statuses = manifest_statuses(&requests, repository);
        assert!(
            !statuses.is_empty() && statuses.iter().all(|s| *s == 401),
            "{pod}: every request for {repository} refused: {requests:#?}\n{}",
            registry.log()
        );
        // Credentials were sent, and refused, for the wrong password and the pod's own secret.
        assert_eq!(
            registry.refused_credentials(&format!("/v2/{repository}/manifests/v1")),
            pod != "no-credentials",
            "{pod}: whether {USER} was refused with a wrong password:\n{}",
            registry.log()
        );
    }
}

/// A pod's `imagePullSecrets` carry the credentials for a registry with basic
/// auth that registries.yaml knows nothing of: with a
/// `kubernetes.io/dockerconfigjson` Secret from `kubectl create secret
/// docker-registry`, the pod pulls and runs; without it (and with pull policy
/// Always, so that the image the first pod pulled does not count) the pod
/// waits in ErrImagePull with the registry's 401.
#[test]
fn a_registry_with_basic_auth_is_pulled_from_with_an_image_pull_secret() {
    let cluster = PodCluster::start();
    let mark = "pulled with an image pull secret";
    let blobs = marked_image("127.0.0.1/bramble/private:v1", mark);
    let registry = Registry::start_with(&cluster, PRIVATE_PORT, &Serving::Htpasswd, &[("bramble/private", &blobs)]);
    cluster.ok(
        "1.33",
        &[
            "create",
            "secret",
            "docker-registry",
            "regcred",
            &format!("--docker-server=127.0.0.1:{PRIVATE_PORT}"),
            &format!("--docker-username={USER}"),
            &format!("--docker-password={PASSWORD}"),
        ],
    );
    assert_eq!(cluster.jsonpath(&["secret", "regcred"], "{.type}"), "kubernetes.io/dockerconfigjson");

    let image = format!("127.0.0.1:{PRIVATE_PORT}/bramble/private:v1");
    cluster.apply(&pod_with_secrets("with-secret", &image, None, &["regcred"]));
    cluster.apply(&pod_with_secrets("without-secret", &image, Some("Always"), &[]));

    wait_for_mark(&cluster, "with-secret", mark);
    let message = failed_pull(&cluster, "without-secret");
    assert!(message.contains(&format!("\"{image}\"")), "the message names the image: {message:?}");
    assert!(message.contains("401 Unauthorized"), "the message says the registry refused: {message:?}");

    let pulls = registry.loopback_requests("bramble/private");
    let statuses = manifest_statuses(&pulls, "bramble/private");
    assert!(statuses.contains(&200), "the secret's credentials were accepted: {pulls:#?}");
    assert!(statuses.contains(&401), "and the pod without them refused: {pulls:#?}");
    assert!(
        registry.authorized("/v2/bramble/private/manifests/v1"),
        "the registry accepted the credentials for the manifest:\n{}",
        registry.log()
    );
}

/// A CA of the test's own and a registry certificate it signs, made with the openssl CLI.
struct PrivateCa {
    dir: tempfile::TempDir,
}

impl PrivateCa {
    fn new() -> PrivateCa {
        let ca = PrivateCa { dir: tempfile::tempdir().expect("a directory for the CA") };
        ca.openssl(
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 \
             -subj /CN=bramble-e2e-registry-ca",
        );
        ca
    }

    fn certificate(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A server certificate for these IP addresses: (certificate, key).
    fn issue(&self, ips: &[&str]) -> (PathBuf, PathBuf) {
        let names: Vec<String> = ips.iter().map(|ip| format!("IP:{ip}")).collect();
        let extensions = format!(
            "basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = {}\n",
            names.join(",")
        );
        std::fs::write(self.dir.path().join("server.ext"), extensions).expect("write the extensions");
        self.openssl(
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
             -subj /CN=bramble-e2e-registry",
        );
        self.openssl(
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext \
             -out server.crt",
        );
        (self.dir.path().join("server.crt"), self.dir.path().join("server.key"))
    }

    /// `openssl <args>` (split at spaces) in the CA's directory.
    fn openssl(&self, args: &str) {
        let out = Command::new(crate::support::required_program("openssl", "openssl"))
            .current_dir(self.dir.path())
            .args(args.split_whitespace())
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl {args}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Reads `<certs.d>/<namespace>/hosts.toml` of the agent.
fn hosts_toml(cluster: &PodCluster, namespace: &str) -> String {
    let path = cluster.scratch().join("agent/data/agent/etc/containerd/certs.d").join(namespace).join("hosts.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A registry serving TLS with a certificate of a CA the test makes is
/// trusted through registries.yaml's `configs.<host>.tls.ca_file`, in the form
/// k3s documents (the registry as docker.io's `https://` mirror, its TLS
/// settings under its own host): the pod of a docker.io image is pulled
/// through the mirror, and the pod of an image named by the registry itself
/// directly, both over TLS checked against the CA. The same registry by a
/// name with no ca_file is refused by containerd's certificate check: the pod
/// waits in ErrImagePull with the x509 error, and the registry logs the
/// handshake the client broke off.
#[test]
fn a_registry_with_a_private_ca_is_pulled_from_over_tls() {
    let ca = PrivateCa::new();
    let secure = format!("127.0.0.1:{TLS_PORT}");
    let registries = format!(
        r#"mirrors:
  docker.io:
    endpoint:
      - "https://{secure}"
configs:
  "{secure}":
    tls:
      ca_file: {ca}
"#,
        ca = ca.certificate().display()
    );
    let cluster = PodCluster::start_with(Options { agent_registries: Some(registries), ..Default::default() });
    let ca_line = format!("ca = \"{}\"", ca.certificate().display());
    let mirror = hosts_toml(&cluster, "docker.io");
    assert!(
        mirror
            .contains(&format!("[host.\"https://{secure}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  {ca_line}\n")),
        "docker.io's hosts.toml trusts the CA at the mirror:\n{mirror}"
    );
    let own = hosts_toml(&cluster, &secure);
    assert_eq!(
        own,
        format!(
            "server = \"https://{secure}\"\n{ca_line}\n\n[host.\"https://{secure}\"]\n  \
             capabilities = [\"pull\", \"resolve\"]\n  {ca_line}\n"
        ),
        "the registry's own hosts.toml: its server, also as the one host containerd 1.6 needs"
    );

    let lab_ip = cluster.lab().ip(1);
    let (certificate, key) = ca.issue(&["127.0.0.1", &lab_ip]);
    let mark = "pulled over TLS";
    let blobs = marked_image("docker.io/bramble/secure:v1", mark);
    let registry =
        Registry::start_with(&cluster, TLS_PORT, &Serving::Tls { certificate, key }, &[("bramble/secure", &blobs)]);

    cluster.apply(&pod_with_secrets("mirrored", "docker.io/bramble/secure:v1", None, &[]));
    cluster.apply(&pod_with_secrets("direct", &format!("{secure}/bramble/secure:v1"), None, &[]));
    let untrusted = format!("{lab_ip}:{TLS_PORT}/bramble/secure:v1");
    cluster.apply(&pod_with_secrets("untrusted", &untrusted, None, &[]));

    wait_for_mark(&cluster, "mirrored", mark);
    wait_for_mark(&cluster, "direct", mark);
    let pulls = registry.loopback_requests("bramble/secure");
    let resolved: Vec<&Request> = pulls.iter().filter(|r| resolves_tag(r, "bramble/secure", "v1")).collect();
    assert!(
        resolved.iter().any(|r| r.status == 200 && r.path.ends_with("?ns=docker.io")),
        "the tag resolved at the registry as docker.io's mirror: {pulls:#?}\n{}",
        registry.log()
    );
    assert!(resolved.iter().any(|r| r.status == 200 && !r.path.contains('?')), "and by its own name: {pulls:#?}");

    let message = failed_pull(&cluster, "untrusted");
    assert!(message.contains(&format!("\"{untrusted}\"")), "the message names the image: {message:?}");
    assert!(
        message.contains("x509: certificate signed by unknown authority"),
        "the message says the certificate is not trusted: {message:?}"
    );
    assert!(
        registry.log().contains(&format!("TLS handshake error from {lab_ip}:")),
        "the registry saw the handshake broken off:\n{}",
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
