//! `exec`, `attach` and `portForward`: the runtime's streaming server does
//! the protocol work (SPDY/3.1 or WebSocket, the channel.k8s.io and
//! portforward.k8s.io sub-protocols); this module asks CRI for a streaming
//! URL and relays the client's upgrade request to it, then the upgraded
//! connection byte for byte, as the kubelet does when it does not redirect
//! (`redirectContainerStreaming=false`). It never looks inside the streams.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;

use super::lookup;
use super::{Body, Failure, State};

/// What the client asked the runtime to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamRequest {
    Exec { container: String, command: Vec<String>, stdin: bool, stdout: bool, stderr: bool, tty: bool },
    Attach { container: String, stdin: bool, stdout: bool, stderr: bool, tty: bool },
    PortForward { ports: Vec<i32> },
}

impl StreamRequest {
    /// From the kubelet's query parameters (`input`, `output`, `error`, `tty` as `1`/`true`,
    /// `command` repeated; `port` repeated for port forwarding).
    pub fn exec(container: &str, query: Option<&str>) -> Result<StreamRequest, Failure> {
        let (stdin, stdout, stderr, tty, command, _) = parse(query)?;
        if command.is_empty() {
            return Err(Failure::BadRequest("you must specify at least 1 command".into()));
        }
        let stderr = check_streams(stdin, stdout, stderr, tty)?;
        Ok(StreamRequest::Exec { container: container.into(), command, stdin, stdout, stderr, tty })
    }

    pub fn attach(container: &str, query: Option<&str>) -> Result<StreamRequest, Failure> {
        let (stdin, stdout, stderr, tty, _, _) = parse(query)?;
        let stderr = check_streams(stdin, stdout, stderr, tty)?;
        Ok(StreamRequest::Attach { container: container.into(), stdin, stdout, stderr, tty })
    }

    pub fn port_forward(query: Option<&str>) -> Result<StreamRequest, Failure> {
        let (.., ports) = parse(query)?;
        Ok(StreamRequest::PortForward { ports })
    }
}

type Parsed = (bool, bool, bool, bool, Vec<String>, Vec<i32>);

fn parse(query: Option<&str>) -> Result<Parsed, Failure> {
    let flag = |v: &str| matches!(v, "1" | "true" | "True" | "TRUE");
    let (mut stdin, mut stdout, mut stderr, mut tty) = (false, false, false, false);
    let (mut command, mut ports) = (Vec::new(), Vec::new());
    for (key, value) in super::logs::form_pairs(query.unwrap_or("")) {
        match key.as_str() {
            "input" | "stdin" => stdin = flag(&value),
            "output" | "stdout" => stdout = flag(&value),
            "error" | "stderr" => stderr = flag(&value),
            "tty" => tty = flag(&value),
            "command" => command.push(value),
            "port" => {
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    let port: i32 = part.trim().parse().ok().filter(|p| (1..=65535).contains(p)).ok_or_else(|| {
                        Failure::BadRequest(format!("invalid port {part:?}: must be between 1 and 65535"))
                    })?;
                    ports.push(port);
                }
            }
            _ => {}
        }
    }
    Ok((stdin, stdout, stderr, tty, command, ports))
}

/// A terminal has no separate error stream: with `tty`, stderr is dropped, as the kubelet drops it.
fn check_streams(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> Result<bool, Failure> {
    if !(stdin || stdout || stderr) {
        return Err(Failure::BadRequest("you must specify at least 1 of stdin, stdout, stderr".into()));
    }
    Ok(stderr && !tty)
}

/// Asks the runtime for the streaming URL of `request` on pod `namespace/pod`.
pub async fn streaming_url(
    state: &State,
    namespace: &str,
    pod: &str,
    request: &StreamRequest,
) -> Result<String, Failure> {
    let cri = state.cri().await?;
    let running =
        |container: &str| {
            let cri = cri.clone();
            let container = container.to_string();
            async move {
                let instances =
                    lookup::container_instances(&cri, namespace, pod, &container).await.map_err(Failure::Runtime)?;
                instances.into_iter().rev().find(|c| c.running).map(|c| c.id).ok_or_else(|| {
                    Failure::BadRequest(format!("container {container:?} in pod {pod:?} is not running"))
                })
            }
        };
    let mut runtime = cri.runtime.clone();
    let url = match request {
        StreamRequest::Exec { container, command, stdin, stdout, stderr, tty } => {
            let container_id = running(container).await?;
            let request = cri::ExecRequest {
                container_id,
                cmd: command.clone(),
                tty: *tty,
                stdin: *stdin,
                stdout: *stdout,
                stderr: *stderr,
            };
            runtime.exec(request).await.map_err(|status| runtime_call("Exec", status))?.into_inner().url
        }
        StreamRequest::Attach { container, stdin, stdout, stderr, tty } => {
            let container_id = running(container).await?;
            let request =
                cri::AttachRequest { container_id, stdin: *stdin, tty: *tty, stdout: *stdout, stderr: *stderr };
            runtime.attach(request).await.map_err(|status| runtime_call("Attach", status))?.into_inner().url
        }
        StreamRequest::PortForward { ports } => {
            let pod_sandbox_id = lookup::ready_sandbox(&cri, namespace, pod)
                .await
                .map_err(Failure::Runtime)?
                .ok_or_else(|| Failure::NotFound(format!("pod {namespace}/{pod} has no ready sandbox")))?;
            let request = cri::PortForwardRequest { pod_sandbox_id, port: ports.clone() };
            runtime.port_forward(request).await.map_err(|status| runtime_call("PortForward", status))?.into_inner().url
        }
    };
    Ok(url)
}

fn runtime_call(call: &'static str, status: tonic::Status) -> Failure {
    Failure::Runtime(crate::cri::CriError::Call { call, status })
}

/// The request headers a streaming upgrade depends on: they pass through unchanged.
fn forwarded(name: &HeaderName) -> bool {
    let name = name.as_str();
    name == "upgrade"
        || name == "connection"
        || name == "x-stream-protocol-version"
        || name.starts_with("sec-websocket-")
        || name == "origin"
}

/// Relays `req`'s upgrade to the streaming server at `url` and, once the
/// server switches protocols, the two connections to each other.
pub async fn relay(url: &str, mut req: Request<Incoming>) -> Result<Response<Body>, Failure> {
    let bad_url = || Failure::Upstream(format!("the runtime gave an unusable streaming URL {url:?}"));
    let uri: Uri = url.parse().map_err(|_| bad_url())?;
    if uri.scheme_str() != Some("http") {
        // containerd's stream server speaks plain HTTP on loopback unless configured for TLS.
        return Err(Failure::Upstream(format!("streaming URL {url:?}: only http:// is supported")));
    }
    let authority = uri.authority().ok_or_else(bad_url)?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    let tcp = tokio::time::timeout(Duration::from_secs(10), tokio::net::TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| Failure::Upstream(format!("connecting to the streaming server {authority}: timed out")))?
        .map_err(|e| Failure::Upstream(format!("connecting to the streaming server {authority}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
        .await
        .map_err(|e| Failure::Upstream(format!("streaming server {authority}: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("streaming server connection: {e}");
        }
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut upstream = Request::builder().method(req.method().clone()).uri(path);
    if let Some(headers) = upstream.headers_mut() {
        copy_headers(req.headers(), headers);
        if let Ok(value) = authority.as_str().parse() {
            headers.insert(header::HOST, value);
        }
    }
    let upstream = upstream.body(Empty::new()).map_err(|e| Failure::Upstream(e.to_string()))?;
    let mut response = sender
        .send_request(upstream)
        .await
        .map_err(|e| Failure::Upstream(format!("streaming server {authority}: {e}")))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            Limited::new(response.into_body(), 64 * 1024).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        let mut reply = Response::new(Full::new(body).map_err(|never: Infallible| match never {}).boxed());
        *reply.status_mut() = status;
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            reply.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
        }
        return Ok(reply);
    }
    let mut reply = Response::new(Empty::new().map_err(|never: Infallible| match never {}).boxed());
    *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *reply.headers_mut() = response.headers().clone();
    let client_side = hyper::upgrade::on(&mut req);
    let server_side = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let (client, server) = match tokio::try_join!(client_side, server_side) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!("streaming upgrade failed: {e}");
                return;
            }
        };
        let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
            tracing::debug!("streaming relay ended: {e}");
        }
    });
    Ok(reply)
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if forwarded(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_attach_and_port_forward_queries() {
        let exec = StreamRequest::exec("c", Some("command=sh&command=-c&command=echo%20hi&input=1&output=1&tty=1"));
        assert_eq!(
            exec.expect("exec"),
            StreamRequest::Exec {
                container: "c".into(),
                command: vec!["sh".into(), "-c".into(), "echo hi".into()],
                stdin: true,
                stdout: true,
                stderr: false,
                tty: true,
            }
        );
        assert!(matches!(StreamRequest::exec("c", Some("output=1")), Err(Failure::BadRequest(_))));
        assert!(matches!(StreamRequest::exec("c", Some("command=ls")), Err(Failure::BadRequest(_))));
        let with_tty = StreamRequest::exec("c", Some("command=ls&output=1&error=1&tty=1")).expect("tty");
        assert!(matches!(with_tty, StreamRequest::Exec { stderr: false, tty: true, .. }), "{with_tty:?}");
        let attach = StreamRequest::attach("c", Some("output=true&error=true")).expect("attach");
        assert_eq!(
            attach,
            StreamRequest::Attach { container: "c".into(), stdin: false, stdout: true, stderr: true, tty: false }
        );
        assert_eq!(
            StreamRequest::port_forward(Some("port=80&port=8080,9090")).expect("ports"),
            StreamRequest::PortForward { ports: vec![80, 8080, 9090] }
        );
        assert_eq!(StreamRequest::port_forward(None).expect("none"), StreamRequest::PortForward { ports: vec![] });
        assert!(matches!(StreamRequest::port_forward(Some("port=0")), Err(Failure::BadRequest(_))));
    }

    #[test]
    fn only_the_upgrade_headers_pass() {
        let mut from = HeaderMap::new();
        for (name, value) in [
            ("upgrade", "SPDY/3.1"),
            ("connection", "Upgrade"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
            ("x-stream-protocol-version", "channel.k8s.io"),
            ("sec-websocket-protocol", "v4.channel.k8s.io"),
            ("authorization", "Bearer secret"),
            ("cookie", "a=b"),
        ] {
            from.append(HeaderName::from_static(name), value.parse().expect("value"));
        }
        let mut to = HeaderMap::new();
        copy_headers(&from, &mut to);
        assert_eq!(to.get_all("x-stream-protocol-version").iter().count(), 2);
        assert!(to.contains_key("upgrade") && to.contains_key("sec-websocket-protocol"));
        assert!(!to.contains_key("authorization") && !to.contains_key("cookie"));
    }
}
