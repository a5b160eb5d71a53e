//! `pods/{name}/log`, `exec`, `attach` and `portforward`: the pod's node is
//! looked up, the request checked as upstream's pod registry checks it
//! (container defaulting, "waiting to start", completed pods), and passed
//! to the node's kubelet (`:10250`, TLS verified against the server CA,
//! with the API server's kubelet-client certificate); upgrades (SPDY/3.1,
//! WebSocket) are relayed byte for byte. WebSocket sub-protocols the
//! node's runtime cannot speak (`v5.channel.k8s.io`, the
//! `SPDY/3.1+portforward.k8s.io` tunnel) are answered with a non-101 error,
//! which makes kubectl 1.30+ fall back to SPDY; there is no WebSocket to
//! SPDY translation here.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full, Limited, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::Api;
use crate::catalog;
use crate::request::ResourceRequest;
use crate::status::ApiError;
use crate::storage;

type Body = BoxBody<Bytes, Infallible>;

/// The kubelet's port when a node does not say (`status.daemonEndpoints.kubeletEndpoint.Port`).
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// WebSocket sub-protocols of the runtime's stream server (the kubelet's
/// `cri/streaming` package, which containerd 1.6 and 1.7 carry): v4 and
/// older channel protocols; no v5, no SPDY tunnelling.
const RUNTIME_WEBSOCKET_PROTOCOLS: [&str; 4] =
    ["v4.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"];

/// The pod subresources this module serves.
pub(crate) fn handles(req: &ResourceRequest) -> bool {
    req.group.is_empty()
        && req.resource == "pods"
        && req.name.is_some()
        && matches!(req.subresource.as_deref(), Some("log" | "exec" | "attach" | "portforward"))
}

/// TLS towards kubelets.
#[derive(Clone)]
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeletClient")
    }
}

impl KubeletClient {
    /// Kubelets' serving certificates are verified against the server CA
    /// (the supervisor signs them with it); we present the kubelet-client certificate.
    pub fn new(pki: &crate::pki::Pki) -> Result<KubeletClient, crate::ApiServerError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |what: &str, e: &dyn std::fmt::Display| crate::ApiServerError::Tls(format!("{what}: {e}"));
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(pki.server_ca_pem.as_bytes()) {
            roots.add(ca.map_err(|e| bad("server CA", &e))?).map_err(|e| bad("server CA", &e))?;
        }
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pki.kubelet_client_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| bad("kubelet client certificate", &e))?;
        let key = PrivateKeyDer::from_pem_slice(pki.kubelet_client_key_pem.as_bytes())
            .map_err(|e| bad("kubelet client key", &e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("protocol versions", &e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| bad("kubelet client certificate", &e))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient { tls: Arc::new(tls) })
    }
}

/// Serves one request to a pod's log/exec/attach/portforward, already authorized.
pub(crate) async fn serve(api: &Arc<Api>, req: &ResourceRequest, http_req: Request<Incoming>) -> Response<Body> {
    match proxy(api, req, http_req).await {
        Ok(response) => response,
        Err(err) => status_response(&err),
    }
}

fn status_response(err: &ApiError) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(err.to_status().to_string())).boxed());
    *response.status_mut() = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn proxy(api: &Arc<Api>, req: &ResourceRequest, http_req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let client = api
        .kubelet_client
        .clone()
        .ok_or_else(|| ApiError::Internal("this API server has no kubelet client certificate".into()))?;
    let namespace = req.namespace.clone().unwrap_or_default();
    let name = req.name.clone().unwrap_or_default();
    let subresource = req.subresource.clone().unwrap_or_default();
    let pod = load(api, "pods", Some(&namespace), &name).await?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(http_req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let path = kubelet_path(&pod, &subresource, &pairs)?;
    let node_name = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
    if node_name.is_empty() {
        return Err(ApiError::BadRequest(format!("pod {name} does not have a host assigned")));
    }
    let node = load(api, "nodes", None, node_name).await?;
    let (ip, port) = kubelet_endpoint(&node)
        .ok_or_else(|| ApiError::BadRequest(format!("node {node_name} has no address to reach its kubelet at")))?;
    let upgrade = is_upgrade(http_req.headers());
    let mut headers = HeaderMap::new();
    if upgrade {
        for (name, value) in http_req.headers() {
            if forwarded(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        if is_websocket(http_req.headers()) {
            let offered = offered_protocols(http_req.headers());
            let usable = runtime_protocols(&offered);
            if usable.is_empty() {
                // A non-101 answer: kubectl 1.30+ falls back to SPDY on it (an UpgradeFailureError).
                return Err(ApiError::BadRequest(format!(
                    "upgrade request failed: the node's runtime speaks none of the WebSocket sub-protocols {offered:?}; use SPDY/3.1"
                )));
            }
            headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
            if let Ok(value) = HeaderValue::from_str(&usable.join(", ")) {
                headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
            }
        }
    } else if subresource != "log" {
        return Err(ApiError::BadRequest("Upgrade request required".into()));
    }
    let method = http_req.method().clone();
    let mut sender = connect(&client, ip, port).await?;
    let mut outgoing = Request::builder().method(method).uri(path);
    if let Some(h) = outgoing.headers_mut() {
        *h = headers;
        if let Ok(host) = HeaderValue::from_str(&host_port(ip, port)) {
            h.insert(header::HOST, host);
        }
    }
    let outgoing = outgoing.body(Empty::new()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let unreachable = |e: hyper::Error| ApiError::Internal(format!("error dialing backend: {e}"));
    let mut response = sender.send_request(outgoing).await.map_err(unreachable)?;
    if upgrade && response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let mut reply = Response::new(Empty::new().map_err(|never: Infallible| match never {}).boxed());
        *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        *reply.headers_mut() = response.headers().clone();
        let mut http_req = http_req;
        let client_side = hyper::upgrade::on(&mut http_req);
        let kubelet_side = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            match tokio::try_join!(client_side, kubelet_side) {
                Ok((client, kubelet)) => {
                    let (mut client, mut kubelet) = (TokioIo::new(client), TokioIo::new(kubelet));
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await {
                        tracing::debug!("node proxy stream ended: {e}");
                    }
                }
                Err(e) => tracing::debug!("node proxy upgrade failed: {e}"),
            }
        });
        return Ok(reply);
    }
    if !response.status().is_success() {
        let code = response.status().as_u16();
        let body =
            Limited::new(response.into_body(), 64 * 1024).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        let text = String::from_utf8_lossy(&body).trim().to_string();
        return Err(kubelet_error(code, text));
    }
    // The log: stream the kubelet's body as it comes.
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let frames = response.into_body().into_data_stream().take_while(|chunk| std::future::ready(chunk.is_ok()));
    let frames = frames.filter_map(|chunk| std::future::ready(chunk.ok().map(|b| Ok::<_, Infallible>(Frame::data(b)))));
    let mut reply = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.unwrap_or_else(|| HeaderValue::from_static("text/plain")));
    Ok(reply)
}

/// The kubelet's refusal as a Status, its text kept: a request error (400,
/// and 404 for a container the runtime does not know) or a server error.
fn kubelet_error(code: u16, text: String) -> ApiError {
    match code {
        400 | 404 => ApiError::BadRequest(text),
        401 | 403 => ApiError::Internal(format!("the kubelet refused the API server ({code}): {text}")),
        _ => ApiError::Internal(text),
    }
}

async fn load(api: &Arc<Api>, plural: &str, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let resource = catalog::find("", "v1", plural).ok_or(ApiError::NoSuchResource)?;
    let key = storage::key(resource, namespace, name);
    match api.store.get(&key).await? {
        Some(kv) => storage::decode(resource, &kv),
        None => Err(ApiError::not_found("", plural, name)),
    }
}

fn names(containers: Option<&Value>) -> Vec<String> {
    containers
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from)).collect())
        .unwrap_or_default()
}

/// The container a request is for: the named one, or the only one; upstream's errors otherwise.
fn container_of(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let containers = names(pod.pointer("/spec/containers"));
    let init = names(pod.pointer("/spec/initContainers"));
    let ephemeral = names(pod.pointer("/spec/ephemeralContainers"));
    let Some(requested) = requested.filter(|c| !c.is_empty()) else {
        if containers.len() == 1 {
            return Ok(containers[0].clone());
        }
        let mut message =
            format!("a container name must be specified for pod {pod_name}, choose one of: [{}]", containers.join(" "));
        if !init.is_empty() {
            message.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
        }
        if !ephemeral.is_empty() {
            message.push_str(&format!(" or one of the ephemeral containers: [{}]", ephemeral.join(" ")));
        }
        return Err(ApiError::BadRequest(message));
    };
    if containers.iter().chain(&init).chain(&ephemeral).any(|c| c == requested) {
        return Ok(requested.to_string());
    }
    Err(ApiError::BadRequest(format!("container {requested} is not valid for pod {pod_name}")))
}

/// The container's status entry, wherever it is.
fn container_status<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    ["/status/containerStatuses", "/status/initContainerStatuses", "/status/ephemeralContainerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
}

fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn flag(pairs: &[(String, String)], key: &str) -> bool {
    matches!(last(pairs, key), Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// The kubelet URL path and query for the request, after upstream's checks.
fn kubelet_path(pod: &Value, subresource: &str, pairs: &[(String, String)]) -> Result<String, ApiError> {
    let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut query = form_urlencoded::Serializer::new(String::new());
    let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default();
    let path = match subresource {
        "log" => {
            let container = container_of(pod, last(pairs, "container"))?;
            let previous = flag(pairs, "previous");
            check_log_ready(pod, &container, previous)?;
            for key in ["follow", "previous", "timestamps"] {
                if flag(pairs, key) {
                    query.append_pair(key, "true");
                }
            }
            for key in ["tailLines", "limitBytes", "sinceSeconds", "sinceTime"] {
                if let Some(value) = last(pairs, key) {
                    query.append_pair(key, value);
                }
            }
            format!("/containerLogs/{}/{}/{}", encode(namespace), encode(pod_name), encode(&container))
        }
        "exec" | "attach" => {
            if matches!(phase, "Succeeded" | "Failed") {
                return Err(ApiError::BadRequest(format!(
                    "cannot {subresource} into a container in a completed pod; current phase is {phase}"
                )));
            }
            let container = container_of(pod, last(pairs, "container"))?;
            if subresource == "exec" {
                let commands: Vec<&str> =
                    pairs.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.as_str()).collect();
                if commands.is_empty() {
                    return Err(ApiError::BadRequest("you must specify at least 1 command".into()));
                }
                for command in commands {
                    query.append_pair("command", command);
                }
            }
            for (ours, kubelets) in [("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")] {
                if flag(pairs, ours) {
                    query.append_pair(kubelets, "1");
                }
            }
            format!("/{subresource}/{}/{}/{}", encode(namespace), encode(pod_name), encode(&container))
        }
        "portforward" => {
            for (_, ports) in pairs.iter().filter(|(k, _)| k == "ports") {
                for port in ports.split(',').filter(|p| !p.is_empty()) {
                    query.append_pair("port", port.trim());
                }
            }
            format!("/portForward/{}/{}", encode(namespace), encode(pod_name))
        }
        other => return Err(ApiError::BadRequest(format!("unsupported subresource {other}"))),
    };
    let query = query.finish();
    Ok(if query.is_empty() { path } else { format!("{path}?{query}") })
}

/// The kubelet's "waiting to start" answer, given here from the pod's status.
fn check_log_ready(pod: &Value, container: &str, previous: bool) -> Result<(), ApiError> {
    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let status = container_status(pod, container);
    if previous {
        if status.and_then(|s| s.pointer("/lastState/terminated")).is_none() {
            return Err(ApiError::BadRequest(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            )));
        }
        return Ok(());
    }
    let waiting = match status {
        None => Some("ContainerCreating".to_string()),
        Some(s) => {
            let started = s.pointer("/state/running").is_some()
                || s.pointer("/state/terminated").is_some()
                || s.pointer("/lastState/terminated").is_some();
            if started {
                None
            } else {
                Some(
                    s.pointer("/state/waiting/reason")
                        .and_then(Value::as_str)
                        .unwrap_or("ContainerCreating")
                        .to_string(),
                )
            }
        }
    };
    match waiting {
        Some(reason) => Err(ApiError::BadRequest(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        ))),
        None => Ok(()),
    }
}

/// The node's InternalIP (else ExternalIP) and kubelet port.
fn kubelet_endpoint(node: &Value) -> Option<(IpAddr, u16)> {
    let addresses = node.pointer("/status/addresses").and_then(Value::as_array)?;
    let of_type = |wanted: &str| {
        addresses
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) == Some(wanted))
            .find_map(|a| a.get("address").and_then(Value::as_str).and_then(|s| s.parse::<IpAddr>().ok()))
    };
    let ip = of_type("InternalIP").or_else(|| of_type("ExternalIP"))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Some((ip, port))
}

fn host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
        && headers.contains_key(header::UPGRADE)
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The offered sub-protocols the runtime can serve, in the client's order.
fn runtime_protocols(offered: &[String]) -> Vec<String> {
    offered.iter().filter(|p| RUNTIME_WEBSOCKET_PROTOCOLS.contains(&p.as_str())).cloned().collect()
}

/// The request headers an upgrade depends on; credentials never go to the kubelet.
fn forwarded(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(name, "upgrade" | "connection" | "x-stream-protocol-version" | "origin")
        || name.starts_with("sec-websocket-")
}

async fn connect(
    client: &KubeletClient,
    ip: IpAddr,
    port: u16,
) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, ApiError> {
    let dial = |e: &dyn std::fmt::Display| ApiError::Internal(format!("error dialing backend: {e}"));
    let tcp = tokio::time::timeout(Duration::from_secs(10), tokio::net::TcpStream::connect((ip, port)))
        .await
        .map_err(|_| dial(&"timed out"))?
        .map_err(|e| dial(&e))?;
    let _ = tcp.set_nodelay(true);
    let server_name = rustls_pki_types::ServerName::IpAddress(ip.into());
    let tls =
        tokio_rustls::TlsConnector::from(client.tls.clone()).connect(server_name, tcp).await.map_err(|e| dial(&e))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| dial(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("kubelet connection: {e}");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str], statuses: Value) -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "nodeName": "n1",
                "containers": containers.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
                "initContainers": init.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
            },
            "status": {"phase": "Running", "containerStatuses": statuses},
        })
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    fn message(err: ApiError) -> String {
        err.to_status()["message"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn containers_default_and_are_checked() {
        let one = pod(&["a"], &[], json!([]));
        assert_eq!(container_of(&one, None).expect("only one"), "a");
        let two = pod(&["a", "b"], &["i"], json!([]));
        assert_eq!(
            message(container_of(&two, None).expect_err("two")),
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
        assert_eq!(container_of(&two, Some("i")).expect("init"), "i");
        assert_eq!(message(container_of(&two, Some("z")).expect_err("unknown")), "container z is not valid for pod p");
    }

    #[test]
    fn logs_wait_for_the_container_to_start() {
        let waiting = pod(&["c"], &[], json!([{"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]));
        let err = kubelet_path(&waiting, "log", &pairs("")).expect_err("waiting");
        assert_eq!(err.code(), 400);
        assert_eq!(message(err), "container \"c\" in pod \"p\" is waiting to start: ContainerCreating");
        let err = kubelet_path(&waiting, "log", &pairs("previous=true")).expect_err("no previous");
        assert_eq!(message(err), "previous terminated container \"c\" in pod \"p\" not found");
        let crashing = pod(
            &["c"],
            &[],
            json!([{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}}]),
        );
        assert_eq!(
            kubelet_path(&crashing, "log", &pairs("previous=true&tailLines=5&follow=false")).expect("previous"),
            "/containerLogs/ns/p/c?previous=true&tailLines=5"
        );
        let running = pod(&["c"], &[], json!([{"name": "c", "state": {"running": {}}}]));
        assert_eq!(
            kubelet_path(&running, "log", &pairs("follow=true&timestamps=true&sinceSeconds=10&limitBytes=9"))
                .expect("log"),
            "/containerLogs/ns/p/c?follow=true&timestamps=true&limitBytes=9&sinceSeconds=10"
        );
    }

    #[test]
    fn exec_attach_and_portforward_paths() {
        let running = pod(&["c"], &[], json!([{"name": "c", "state": {"running": {}}}]));
        assert_eq!(
            kubelet_path(
                &running,
                "exec",
                &pairs("command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&tty=true")
            )
            .expect("exec"),
            "/exec/ns/p/c?command=sh&command=-c&command=echo+hi&input=1&output=1&tty=1"
        );
        assert_eq!(
            message(kubelet_path(&running, "exec", &pairs("stdout=true")).expect_err("no command")),
            "you must specify at least 1 command"
        );
        assert_eq!(
            kubelet_path(&running, "attach", &pairs("container=c&stdout=true&stderr=true")).expect("attach"),
            "/attach/ns/p/c?output=1&error=1"
        );
        assert_eq!(
            kubelet_path(&running, "portforward", &pairs("ports=80,8080")).expect("pf"),
            "/portForward/ns/p?port=80&port=8080"
        );
        assert_eq!(kubelet_path(&running, "portforward", &pairs("")).expect("pf"), "/portForward/ns/p");
        let mut done = running.clone();
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(
            message(kubelet_path(&done, "exec", &pairs("command=ls")).expect_err("completed")),
            "cannot exec into a container in a completed pod; current phase is Succeeded"
        );
    }

    #[test]
    fn kubelet_endpoints() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}},
        }});
        assert_eq!(kubelet_endpoint(&node), Some(("10.0.0.5".parse().expect("ip"), 10251)));
        let node = json!({"status": {"addresses": [{"type": "ExternalIP", "address": "fd00::5"}]}});
        assert_eq!(kubelet_endpoint(&node), Some(("fd00::5".parse().expect("ip"), 10250)));
        assert_eq!(host_port("fd00::5".parse().expect("ip"), 10250), "[fd00::5]:10250");
        assert_eq!(kubelet_endpoint(&json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}})), None);
    }

    #[test]
    fn websocket_protocols_the_runtime_cannot_speak_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("v5.channel.k8s.io"));
        assert!(is_upgrade(&headers) && is_websocket(&headers));
        // kubectl 1.30+: v5 only, so it gets a non-101 answer and falls back to SPDY.
        assert!(runtime_protocols(&offered_protocols(&headers)).is_empty());
        // kube-rs offers v5 and v4; v4 goes to the runtime.
        headers
            .insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"));
        assert_eq!(runtime_protocols(&offered_protocols(&headers)), ["v4.channel.k8s.io"]);
        // kubectl 1.31+ port-forward tunnels SPDY over WebSocket: refused, it falls back.
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("SPDY/3.1+portforward.k8s.io"));
        assert!(runtime_protocols(&offered_protocols(&headers)).is_empty());
        let mut spdy = HeaderMap::new();
        spdy.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        spdy.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(is_upgrade(&spdy) && !is_websocket(&spdy));
        assert!(forwarded(&HeaderName::from_static("x-stream-protocol-version")));
        assert!(!forwarded(&header::AUTHORIZATION));
    }
}
