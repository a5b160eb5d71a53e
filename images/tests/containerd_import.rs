//! Imports images into a real, private containerd 1.6 and checks them with
//! the real `ctr`: listed in `k8s.io`, complete after a synchronous garbage
//! collection, and runnable with runc. Needs root, containerd, ctr and runc
//! (all present on the CI machine); the containerd is killed at the end.

#![allow(clippy::unwrap_used, reason = "a test's helpers fail the test on any error")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use images::import::{self, ArchiveSource};
use images::oci::ImageBuilder;
use images::pause;

/// A containerd with its root, state and socket under a temporary directory.
struct PrivateContainerd {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl PrivateContainerd {
    /// A containerd without its CRI plugin.
    fn start() -> PrivateContainerd {
        PrivateContainerd::start_with(false)
    }

    /// With `cri`, the CRI plugin runs too (pause as its sandbox image, CNI
    /// directories empty: image calls need no network).
    fn start_with(cri: bool) -> PrivateContainerd {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
{disabled}

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
{cri}"#,
            disabled = if cri { "" } else { r#"disabled_plugins = ["io.containerd.grpc.v1.cri"]"# },
            cri = if cri {
                format!(
                    "\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"{}\"\n\
                     [plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"{}\"\n  conf_dir = \"{}\"\n",
                    pause::IMAGE,
                    dir.path().join("cni-bin").display(),
                    dir.path().join("cni-conf").display()
                )
            } else {
                String::new()
            },
            root = dir.path().join("root").display(),
            state = dir.path().join("state").display(),
            socket = socket.display(),
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd is installed");
        let containerd = PrivateContainerd { child, socket, dir };
        containerd.wait_ready();
        containerd
    }

    /// Polls `ctr version` until the daemon answers (with a deadline).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new("ctr")
                .arg("--address")
                .arg(&self.socket)
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "containerd did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// Runs `ctr -n k8s.io <args>` and returns its stdout; fails the test on error.
    fn ctr(&self, args: &[&str]) -> String {
        let output =
            Command::new("ctr").arg("--address").arg(&self.socket).args(["-n", "k8s.io"]).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "ctr {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for PrivateContainerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn busybox(name: &str, extra_mib: usize) -> ImageBuilder {
    let binary = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    // Incompressible data, so the layer exceeds the in-memory limit and is streamed.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..extra_mib << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut image = ImageBuilder::new(name, pause::ARCH)
        .file("/bin/busybox", binary, 0o755)
        .symlink("/bin/sh", "busybox")
        .symlink("/bin/echo", "busybox")
        .dir("/tmp")
        .env(["PATH=/bin"])
        .cmd(["/bin/sh"]);
    if extra_mib > 0 {
        image = image.file("/data/noise", noise, 0o644);
    }
    image
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Root, containerd: the pause image and three busybox images (OCI plain,
/// docker archive gzipped, OCI zstd with a streamed layer) are imported,
/// listed, complete after GC, and the busybox ones run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_containerd_imports_archives_that_run() {
    let containerd = PrivateContainerd::start();
    let socket = containerd.socket.clone();

    // Another build's pause under the same name is replaced.
    let stale = ImageBuilder::new(pause::IMAGE, pause::ARCH).file("/old", b"old".to_vec(), 0o644).oci_archive();
    assert_eq!(import::import_archive(&socket, stale).await.unwrap(), [pause::IMAGE]);
    assert!(import::ensure_pause(&socket).await.unwrap(), "stale pause replaced");
    assert!(!import::ensure_pause(&socket).await.unwrap(), "pause already there the second time");

    let names =
        import::import_archive(&socket, busybox("docker.io/bramble/busybox:oci", 0).oci_archive()).await.unwrap();
    assert_eq!(names, ["docker.io/bramble/busybox:oci"]);
    // Importing the same archive again only re-points the image.
    let again = ArchiveSource::Bytes {
        label: "again".into(),
        bytes: busybox("docker.io/bramble/busybox:oci", 0).oci_archive(),
    };
    assert_eq!(import::import_archive(&socket, again).await.unwrap(), ["docker.io/bramble/busybox:oci"]);

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1-docker.tar.gz", &gzip(&busybox("bramble/busybox:docker", 5).docker_archive()));
    write(
        dir.path(),
        "2-oci.tar.zst",
        &zstd::encode_all(busybox("docker.io/bramble/busybox:zst", 6).oci_archive().as_slice(), 3).unwrap(),
    );
    write(dir.path(), "3-broken.tar", b"this is not a tar archive at all");
    write(dir.path(), "README", b"not an archive, ignored");
    let results = import::import_dir(&socket, dir.path()).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].result.as_ref().unwrap(), &["docker.io/bramble/busybox:docker"]);
    assert_eq!(results[1].result.as_ref().unwrap(), &["docker.io/bramble/busybox:zst"]);
    let broken = results[2].result.as_ref().unwrap_err();
    assert!(broken.to_string().contains("3-broken.tar"), "{broken}");

    // A synchronous GC: only the gc.ref labels keep layers and configs alive now.
    containerd.ctr(&["leases", "create", "--id", "gc-trigger"]);
    containerd.ctr(&["leases", "delete", "--sync", "gc-trigger"]);

    let listed = containerd.ctr(&["images", "ls", "-q"]);
    for name in [
        pause::IMAGE,
        "docker.io/bramble/busybox:oci",
        "docker.io/bramble/busybox:docker",
        "docker.io/bramble/busybox:zst",
    ] {
        assert!(listed.lines().any(|l| l == name), "{name} not in {listed}");
    }
    let check = containerd.ctr(&["images", "check"]);
    let complete = check.lines().filter(|l| l.contains("complete")).count();
    assert_eq!(complete, 4, "{check}");
    let labels = containerd.ctr(&["images", "ls"]);
    assert!(labels.lines().filter(|l| l.contains("io.cri-containerd.image=managed")).count() >= 4, "{labels}");

    for (i, image) in
        ["docker.io/bramble/busybox:oci", "docker.io/bramble/busybox:docker", "docker.io/bramble/busybox:zst"]
            .iter()
            .enumerate()
    {
        let id = format!("bramble-import-test-{i}");
        let out = containerd.ctr(&["run", "--rm", image, &id, "/bin/echo", "hi"]);
        assert_eq!(out.trim(), "hi", "{image}");
    }
    let out = containerd.ctr(&[
        "run",
        "--rm",
        "docker.io/bramble/busybox:zst",
        "noise",
        "/bin/sh",
        "-c",
        "wc -c < /data/noise",
    ]);
    assert_eq!(out.trim(), (6 << 20).to_string());

    // The pause container stays up until SIGTERM, then exits 0.
    containerd.ctr(&["run", "-d", pause::IMAGE, "bramble-pause-test"]);
    containerd.ctr(&["task", "kill", "--signal", "SIGTERM", "bramble-pause-test"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tasks = containerd.ctr(&["task", "ls"]);
        let line = tasks.lines().find(|l| l.starts_with("bramble-pause-test")).unwrap_or_default().to_string();
        if line.contains("STOPPED") || line.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "pause did not stop: {tasks}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    containerd.ctr(&["task", "delete", "bramble-pause-test"]);
    containerd.ctr(&["containers", "delete", "bramble-pause-test"]);
}

/// Debian's `docker-registry` on a loopback port, storage under a temporary directory.
struct LoopbackRegistry {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl LoopbackRegistry {
    fn start() -> LoopbackRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen on {address}");
            std::thread::sleep(Duration::from_millis(100));
        }
        LoopbackRegistry { child, address, _dir: dir }
    }
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Root, containerd, docker-registry: an image pushed with `oci::push` is
/// pulled back by containerd over plain HTTP and runs; and containerd 1.6
/// reads the hosts.toml that `registries` writes: `docker.io` (unreachable
/// here) is pulled through the loopback mirror.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_containerd_pulls_what_push_sent() {
    let registry = LoopbackRegistry::start();
    let image = busybox("docker.io/bramble/busybox:push", 0).blobs();
    let url = format!("http://{}", registry.address);
    images::oci::push(&url, "bramble/busybox", "push", &image).await.unwrap();
    // Pushing again finds every blob present and only re-puts the manifest.
    images::oci::push(&url, "bramble/busybox", "push", &image).await.unwrap();

    let containerd = PrivateContainerd::start();
    let reference = format!("{}/bramble/busybox:push", registry.address);
    containerd.ctr(&["images", "pull", "--plain-http", &reference]);
    let out = containerd.ctr(&["run", "--rm", &reference, "bramble-push-test", "/bin/echo", "pulled"]);
    assert_eq!(out.trim(), "pulled");

    let certs_d = tempfile::tempdir().unwrap();
    let yaml = format!("mirrors:\n  docker.io:\n    endpoint:\n      - \"http://{}\"\n", registry.address);
    let registries = images::registries::Registries::parse(&yaml, Path::new("registries.yaml")).unwrap();
    registries.write_hosts_dir(certs_d.path()).unwrap();
    let hosts_dir = certs_d.path().display().to_string();
    containerd.ctr(&["images", "pull", "--hosts-dir", &hosts_dir, "docker.io/bramble/busybox:push"]);
    let out = containerd.ctr(&[
        "run",
        "--rm",
        "docker.io/bramble/busybox:push",
        "bramble-mirror-test",
        "/bin/echo",
        "mirrored",
    ]);
    assert_eq!(out.trim(), "mirrored");
}

/// Root, containerd with CRI: containerd 1.6's CRI image service lists the
/// imported pause image and reports its status (what the agent's sandbox needs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_cri_lists_imported_images() {
    use k8s_cri::v1::image_service_client::ImageServiceClient;
    use k8s_cri::v1::{ImageSpec, ImageStatusRequest, ListImagesRequest};

    let containerd = PrivateContainerd::start_with(true);
    assert!(import::ensure_pause(&containerd.socket).await.unwrap());
    let channel = containerd_client::connect(&containerd.socket).await.unwrap();
    let mut images = ImageServiceClient::new(channel);
    // The CRI plugin learns of new images from containerd's events.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = images.list_images(ListImagesRequest { filter: None }).await.unwrap().into_inner();
        if listed.images.iter().any(|i| i.repo_tags.iter().any(|t| t == pause::IMAGE)) {
            break;
        }
        assert!(Instant::now() < deadline, "CRI never listed {}: {listed:?}", pause::IMAGE);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = images
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec { image: pause::IMAGE.to_string(), ..Default::default() }),
            verbose: false,
        })
        .await
        .unwrap()
        .into_inner();
    let image = status.image.expect("CRI knows the pause image");
    assert!(image.id.starts_with("sha256:"), "{image:?}");
    assert!(image.size > 100_000, "{image:?}");
}
