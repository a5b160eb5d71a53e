//! The API server's proxy to kubelets, with a stand-in kubelet on loopback
//! (TLS with a serving certificate from the server CA, the API server's
//! kubelet-client certificate required): `pods/log` streamed through (and
//! read by the real kubectls), a SPDY exec upgrade relayed byte for byte,
//! WebSocket v5 refused with a non-101 answer (kubectl's cue to fall back to
//! SPDY) and v4 passed on. The real kubelet server and containerd are tested
//! in the agent crate; SPDY itself by kubectl in the e2e tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver::{ApiConfig, ApiServer, Pki, ServiceNetwork, ServingNames, TokenFile};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the stand-in kubelet saw: method, path and query, and the headers it was sent.
type Seen = Arc<Mutex<Vec<(String, String, http::HeaderMap)>>>;

/// A kubelet that answers logs with two lines and upgrades with 101, then echoes.
async fn fake_kubelet(pki: &Pki, seen: Seen) -> SocketAddr {
    let ca_key = rcgen::KeyPair::from_pem(&pki.server_ca_key_pem).expect("ca key");
    let issuer = rcgen::Issuer::from_ca_cert_pem(&pki.server_ca_pem, ca_key).expect("issuer");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("serving cert");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(pki.client_ca_pem.as_bytes()).expect("ca")).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("verifier");
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).expect("key"),
        )
        .expect("tls");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let target = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                        seen.lock().expect("lock").push((
                            req.method().to_string(),
                            target.clone(),
                            req.headers().clone(),
                        ));
                        let mut response = http::Response::new(Full::new(Bytes::new()));
                        if target.starts_with("/containerLogs/") {
                            *response.body_mut() = Full::new(Bytes::from_static(b"first line\nsecond line\n"));
                        } else {
                            *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
                            let headers = response.headers_mut();
                            headers.insert("connection", "Upgrade".parse().expect("value"));
                            for name in ["upgrade", "sec-websocket-protocol"] {
                                if let Some(value) = req.headers().get(name) {
                                    headers.insert(name, value.clone());
                                }
                            }
                            headers.insert("x-stream-protocol-version", "v4.channel.k8s.io".parse().expect("value"));
                            let upgrade = hyper::upgrade::on(&mut req);
                            tokio::spawn(async move {
                                let Ok(upgraded) = upgrade.await else { return };
                                let mut io = TokioIo::new(upgraded);
                                let mut buf = [0u8; 64];
                                while let Ok(n) = io.read(&mut buf).await {
                                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            });
                        }
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

fn admin_tls(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(pki.server_ca_pem.as_bytes()).expect("ca")).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(pki.admin_cert_pem.as_bytes()).expect("cert")],
            PrivateKeyDer::from_pem_slice(pki.admin_key_pem.as_bytes()).expect("key"),
        )
        .expect("client auth");
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(tls)
}

async fn send(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
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
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    sender.send_request(builder.body(Full::new(body)).expect("request")).await.expect("send")
}

async fn json_ok(response: http::Response<hyper::body::Incoming>) -> Value {
    let code = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert!(code.is_success(), "{code}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

fn kubectl(version: &str) -> Option<std::path::PathBuf> {
    let out = std::process::Command::new("sh").args(["-c", "command -v kubectl"]).output().ok()?;
    let link = std::fs::canonicalize(String::from_utf8_lossy(&out.stdout).trim()).ok()?;
    Some(link.parent()?.join(format!("kubectl.{version}"))).filter(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_log_and_exec_go_to_the_nodes_kubelet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pki = Pki::ensure(&tmp.path().join("tls"), &ServingNames::default()).expect("pki");
    let node = kvstore::node::KvNode::open(kvstore::node::KvConfig::new(tmp.path().join("db"))).await.expect("store");
    let store = Arc::new(kvstore::datastore::Embedded(node));
    let server = ApiServer::start(
        store,
        &pki,
        ApiConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertise: "127.0.0.1".into(),
            advertise_ip: "127.0.0.1".parse().expect("ip"),
            service_network: ServiceNetwork::parse("10.43.0.0/16").expect("cidr"),
            tokens: TokenFile::default(),
            join_password: None,
            event_ttl: Duration::from_secs(3600),
            agent_config: Default::default(),
        },
    )
    .await
    .expect("api server");
    let api = server.local_addr().expect("addr");
    tokio::spawn(server.serve(std::future::pending()));
    let seen: Seen = Arc::default();
    let kubelet = fake_kubelet(&pki, seen.clone()).await;
    let tls = admin_tls(&pki);

    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
    json_ok(send(api, tls.clone(), "POST", "/api/v1/nodes", &[], Some(node)).await).await;
    let mut node = json_ok(send(api, tls.clone(), "GET", "/api/v1/nodes/n1", &[], None).await).await;
    node["status"] = json!({
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port()}},
    });
    json_ok(send(api, tls.clone(), "PUT", "/api/v1/nodes/n1/status", &[], Some(node)).await).await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}});
    json_ok(send(api, tls.clone(), "POST", "/api/v1/namespaces/default/pods", &[], Some(pod)).await).await;

    // Not started yet: upstream's 400.
    let response = send(api, tls.clone(), "GET", "/api/v1/namespaces/default/pods/p/log", &[], None).await;
    assert_eq!(response.status(), 400);
    let mut pod = json_ok(send(api, tls.clone(), "GET", "/api/v1/namespaces/default/pods/p", &[], None).await).await;
    pod["status"] = json!({"phase": "Running", "containerStatuses": [
        {"name": "c", "ready": true, "restartCount": 0, "image": "busybox", "imageID": "", "state": {"running": {}}}]});
    json_ok(send(api, tls.clone(), "PUT", "/api/v1/namespaces/default/pods/p/status", &[], Some(pod)).await).await;

    let response =
        send(api, tls.clone(), "GET", "/api/v1/namespaces/default/pods/p/log?tailLines=5&follow=true", &[], None).await;
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"first line\nsecond line\n");
    assert_eq!(
        seen.lock().expect("lock").last().map(|s| s.1.clone()).as_deref(),
        Some("/containerLogs/default/p/c?follow=true&tailLines=5")
    );

    // SPDY exec: upgraded on both sides, bytes relayed.
    let response = send(
        api,
        tls.clone(),
        "POST",
        "/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&command=echo%20hi&stdin=true&stdout=true&tty=true",
        &[("connection", "Upgrade"), ("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", "v4.channel.k8s.io"),
          ("x-stream-protocol-version", "channel.k8s.io")],
        None,
    )
    .await;
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-stream-protocol-version"], "v4.channel.k8s.io");
    {
        let seen = seen.lock().expect("lock");
        let (method, target, headers) = seen.last().expect("exec seen");
        assert_eq!(
            (method.as_str(), target.as_str()),
            ("POST", "/exec/default/p/c?command=sh&command=-c&command=echo+hi&input=1&output=1&tty=1")
        );
        assert_eq!(headers.get_all("x-stream-protocol-version").iter().count(), 2);
        assert!(headers.get("authorization").is_none());
    }
    let mut upgraded = TokioIo::new(hyper::upgrade::on(response).await.expect("upgrade"));
    upgraded.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), upgraded.read_exact(&mut echo)).await.expect("in time").expect("read");
    assert_eq!(&echo, b"ping");

    // WebSocket v5 only (kubectl 1.30+): a non-101 answer, and the kubelet is not asked.
    let before = seen.lock().expect("lock").len();
    let ws = |protocols: &'static str| {
        vec![
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", protocols),
        ]
    };
    let path = "/api/v1/namespaces/default/pods/p/exec?command=ls&stdout=true";
    let response = send(api, tls.clone(), "GET", path, &ws("v5.channel.k8s.io"), None).await;
    assert_eq!(response.status(), 400);
    let response = send(
        api,
        tls.clone(),
        "GET",
        "/api/v1/namespaces/default/pods/p/portforward",
        &ws("SPDY/3.1+portforward.k8s.io"),
        None,
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(seen.lock().expect("lock").len(), before);
    // v5 and v4 (kube-rs): the kubelet is offered v4 only.
    let response = send(api, tls.clone(), "GET", path, &ws("v5.channel.k8s.io, v4.channel.k8s.io"), None).await;
    assert_eq!(response.status(), 101);
    assert_eq!(seen.lock().expect("lock").last().expect("seen").2["sec-websocket-protocol"], "v4.channel.k8s.io");

    // The real kubectls read the log through the proxy.
    let kubeconfig = tmp.path().join("kubeconfig");
    apiserver::kubeconfig::write(&pki, &format!("https://{api}"), &kubeconfig, 0o600).expect("kubeconfig");
    for version in ["1.27", "1.30", "1.33"] {
        let binary = kubectl(version).unwrap_or_else(|| panic!("kubectl.{version} is installed next to kubectl"));
        let out = tokio::process::Command::new(binary)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["logs", "p", "--tail=1"])
            .output()
            .await
            .expect("kubectl");
        assert!(out.status.success(), "kubectl {version}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "first line\nsecond line\n", "kubectl {version}");
        assert!(seen.lock().expect("lock").last().expect("seen").1.ends_with("?tailLines=1"), "kubectl {version}");
    }
}
