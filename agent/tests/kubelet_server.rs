//! Needs root, containerd and runc: a private containerd (`Containerd::start`
//! in a temporary directory), a busybox image built from `/bin/busybox`, a
//! hostNetwork sandbox and container made through CRI directly, and the
//! kubelet server in front of them, called over TLS with client
//! certificates: `/containerLogs` (tail, timestamps, follow), `/exec` over
//! WebSocket v4 read frame by frame, the SPDY upgrade answered with 101, and
//! who is refused. SPDY streams themselves are driven by kubectl in the e2e tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use agent::containerd::{Containerd, ContainerdOptions, PAUSE_IMAGE};
use agent::kubelet_server::{KubeletServer, KubeletServerConfig};
use agent::paths::AgentPaths;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BUSYBOX_IMAGE: &str = "docker.io/bramble/busybox:kubelet-server-test";
const UID: &str = "5e1f0c2a-2222-4b3c-8d4e-kubelet-server";

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A docker-archive with the sandbox image and a shell image on one busybox layer.
fn build_images(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
    for applet in ["sh", "sleep", "echo", "cat"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("symlink");
    }
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive).expect("mkdir");
    let layer = archive.join("layer.tar");
    run(Command::new("tar").arg("-C").arg(&rootfs).arg("--numeric-owner").arg("-cf").arg(&layer).arg("."));
    let diff_id = format!("sha256:{}", sha256_hex(&std::fs::read(&layer).expect("layer")));
    let mut manifest = Vec::new();
    for (tag, entrypoint, cmd) in [
        (PAUSE_IMAGE, serde_json::json!(["/bin/sleep", "2147483647"]), serde_json::json!([])),
        (BUSYBOX_IMAGE, serde_json::json!(null), serde_json::json!(["/bin/sh"])),
    ] {
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": entrypoint, "Cmd": cmd, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let bytes = serde_json::to_vec(&config).expect("json");
        let name = format!("{}.json", sha256_hex(&bytes));
        std::fs::write(archive.join(&name), bytes).expect("config");
        manifest.push(serde_json::json!({"Config": name, "RepoTags": [tag], "Layers": ["layer.tar"]}));
    }
    std::fs::write(archive.join("manifest.json"), serde_json::to_vec(&manifest).expect("json")).expect("manifest");
    let tar = dir.join("images.tar");
    run(Command::new("tar").arg("-C").arg(&archive).arg("-cf").arg(&tar).arg("."));
    tar
}

struct Certs {
    ca_pem: String,
    serving: (String, String),
    api_server: (String, String),
    node: (String, String),
}

fn certs() -> Certs {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "test-ca");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let ca_pem = ca_cert.pem();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("issuer");
    let leaf = |cn: &str, orgs: &[&str], sans: Vec<String>, usage| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(sans).expect("params");
        for org in orgs {
            params.distinguished_name.push(rcgen::DnType::OrganizationName, *org);
        }
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        (params.signed_by(&key, &issuer).expect("leaf").pem(), key.serialize_pem())
    };
    Certs {
        serving: leaf("node-1", &[], vec!["127.0.0.1".into()], rcgen::ExtendedKeyUsagePurpose::ServerAuth),
        api_server: leaf(
            "system:kube-apiserver",
            &["system:masters"],
            vec![],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ),
        node: leaf("system:node:node-1", &["system:nodes"], vec![], rcgen::ExtendedKeyUsagePurpose::ClientAuth),
        ca_pem,
    }
}

fn client_tls(certs: &Certs, identity: Option<&(String, String)>) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(certs.ca_pem.as_bytes()).expect("ca")).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
            )
            .expect("client auth"),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// One HTTPS request; the response with its connection kept for upgrades.
async fn request(
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<hyper::body::Incoming> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
    let stream = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await.expect("tls");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    let mut builder = http::Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    sender.send_request(builder.body(Empty::<Bytes>::new()).expect("request")).await.expect("send")
}

async fn text(response: http::Response<hyper::body::Incoming>) -> (u16, String) {
    let code = response.status().as_u16();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (code, String::from_utf8_lossy(&body).into_owned())
}

/// Server-to-client WebSocket frames (unmasked) until the connection closes: (opcode, payload).
async fn read_frames(io: &mut (impl AsyncReadExt + Unpin)) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    loop {
        let mut head = [0u8; 2];
        if io.read_exact(&mut head).await.is_err() {
            return frames;
        }
        let opcode = head[0] & 0x0f;
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                io.read_exact(&mut b).await.expect("len16");
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                io.read_exact(&mut b).await.expect("len64");
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).expect("len")];
        io.read_exact(&mut payload).await.expect("payload");
        frames.push((opcode, payload));
        if opcode == 8 {
            return frames;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_kubelet_server_serves_logs_and_relays_exec_on_a_private_containerd() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths = AgentPaths::new(&tmp.path().join("data"), &tmp.path().join("run"), &tmp.path().join("logs"));
    let images = build_images(tmp.path());
    let containerd = Containerd::start(&paths, &ContainerdOptions::default()).await.expect("containerd starts");
    let _guard = StopOnDrop(containerd.pid());
    run(Command::new("ctr")
        .arg("--address")
        .arg(&containerd.socket)
        .args(["-n", "k8s.io", "images", "import"])
        .arg(&images));
    let runtime = containerd.cri.clone();

    let pod_labels = HashMap::from([
        ("io.kubernetes.pod.name".to_string(), "web".to_string()),
        ("io.kubernetes.pod.namespace".to_string(), "default".to_string()),
        ("io.kubernetes.pod.uid".to_string(), UID.to_string()),
    ]);
    let log_dir = paths.pod_logs("default", "web", UID);
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let sandbox_config = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: "web".into(),
            uid: UID.into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        log_directory: log_dir.display().to_string(),
        labels: pod_labels.clone(),
        linux: Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let sandbox = runtime.run_pod_sandbox(sandbox_config.clone()).await.expect("sandbox");
    let mut labels = pod_labels.clone();
    labels.insert("io.kubernetes.container.name".into(), "main".into());
    let config = cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata { name: "main".into(), attempt: 0 }),
        image: Some(cri::ImageSpec { image: BUSYBOX_IMAGE.into(), ..Default::default() }),
        command: vec!["/bin/sh".into(), "-c".into()],
        args: vec!["echo hello; echo oops >&2; sleep 3; echo later; exec sleep 3600".into()],
        labels,
        log_path: "main/0.log".into(),
        ..Default::default()
    };
    let container = runtime.create_container(&sandbox, config, sandbox_config).await.expect("create");
    runtime.start_container(&container).await.expect("start");

    let certs = certs();
    let server = KubeletServer::bind(KubeletServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        serving_cert_pem: certs.serving.0.clone(),
        serving_key_pem: certs.serving.1.clone(),
        client_ca_pem: certs.ca_pem.clone(),
        cri_socket: containerd.socket.clone(),
        paths: paths.clone(),
    })
    .await
    .expect("bind");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    let api = client_tls(&certs, Some(&certs.api_server));

    // Who is refused.
    assert_eq!(text(request(addr, client_tls(&certs, None), "GET", "/healthz", &[]).await).await.0, 401);
    let (code, body) = text(request(addr, client_tls(&certs, Some(&certs.node)), "GET", "/healthz", &[]).await).await;
    assert_eq!(
        (code, body.trim()),
        (403, "Forbidden (user=system:node:node-1, verb=get, resource=nodes, subresource(s)=[proxy])")
    );
    assert_eq!(text(request(addr, api.clone(), "GET", "/healthz", &[]).await).await, (200, "ok".into()));

    // The log: wait until the container wrote its first lines.
    let logs = "/containerLogs/default/web/main";
    let mut body = String::new();
    for _ in 0..50 {
        body = text(request(addr, api.clone(), "GET", logs, &[]).await).await.1;
        if body.contains("hello") && body.contains("oops") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.contains("hello\n") && body.contains("oops\n"), "{body:?}");
    let (code, tail) =
        text(request(addr, api.clone(), "GET", &format!("{logs}?tailLines=1&timestamps=true"), &[]).await).await;
    assert_eq!(code, 200);
    assert_eq!(tail.lines().count(), 1, "{tail:?}");
    let (stamp, line) = tail.trim_end().split_once(' ').expect("timestamp");
    assert!(agent::kubelet_server::cri_log::parse_rfc3339_nanos(stamp).is_some(), "{stamp}");
    assert!(body.lines().last() == Some(line), "{line:?} is the last line of {body:?}");
    let (code, missing) = text(request(addr, api.clone(), "GET", "/containerLogs/default/web/nope", &[]).await).await;
    assert_eq!(code, 404, "{missing}");

    // Following: the later line arrives on the open stream.
    let followed = request(addr, api.clone(), "GET", &format!("{logs}?follow=true"), &[]).await;
    assert_eq!(followed.status(), 200);
    let mut followed = followed.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains("later\n") {
        let frame = tokio::time::timeout_at(deadline, followed.frame()).await.expect("later line in time");
        let frame = frame.expect("stream open").expect("frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.starts_with("hello\n") || seen.starts_with("oops\n"), "{seen:?}");
    drop(followed);

    // Exec over WebSocket v4: the relayed upgrade carries the runtime's frames.
    let exec = "/exec/default/web/main?command=echo&command=hi%20there&output=1&error=1";
    let response = request(
        addr,
        api.clone(),
        "GET",
        exec,
        &[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "v4.channel.k8s.io"),
        ],
    )
    .await;
    assert_eq!(response.status(), 101, "{:?}", response.headers());
    assert_eq!(response.headers()["sec-websocket-protocol"], "v4.channel.k8s.io");
    assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let mut upgraded = TokioIo::new(hyper::upgrade::on(response).await.expect("upgraded"));
    let frames =
        tokio::time::timeout(Duration::from_secs(15), read_frames(&mut upgraded)).await.expect("frames in time");
    let stdout: Vec<u8> =
        frames.iter().filter(|(op, p)| *op == 2 && p.first() == Some(&1)).flat_map(|(_, p)| p[1..].to_vec()).collect();
    assert_eq!(String::from_utf8_lossy(&stdout), "hi there\n", "{frames:?}");
    let status: Vec<u8> =
        frames.iter().filter(|(op, p)| *op == 2 && p.first() == Some(&3)).flat_map(|(_, p)| p[1..].to_vec()).collect();
    assert!(String::from_utf8_lossy(&status).contains("\"Success\""), "{frames:?}");
    let _ = upgraded.shutdown().await;

    // SPDY: the runtime switches protocols and the relay passes its answer on.
    let response = request(
        addr,
        api.clone(),
        "POST",
        "/exec/default/web/main?command=true&output=1",
        &[("connection", "Upgrade"), ("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", "v4.channel.k8s.io")],
    )
    .await;
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-stream-protocol-version"], "v4.channel.k8s.io");
    let response = request(
        addr,
        api.clone(),
        "POST",
        "/portForward/default/web",
        &[("connection", "Upgrade"), ("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", "portforward.k8s.io")],
    )
    .await;
    assert_eq!(response.status(), 101);
    // Exec without a command is the kubelet's 400, before the runtime is asked.
    let (code, _) = text(request(addr, api.clone(), "POST", "/exec/default/web/main?output=1", &[]).await).await;
    assert_eq!(code, 400);

    let _ = stop.send(());
    let _ = serving.await;
    runtime.stop_container(&container, Duration::from_secs(1)).await.expect("stop");
    runtime.remove_container(&container).await.expect("remove");
    runtime.stop_pod_sandbox(&sandbox).await.expect("stop sandbox");
    runtime.remove_pod_sandbox(&sandbox).await.expect("remove sandbox");
    containerd.stop(Duration::from_secs(10)).await;
}

/// Stops the test's containerd even when an assertion fails (it runs in its own process group).
struct StopOnDrop(Option<u32>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}
