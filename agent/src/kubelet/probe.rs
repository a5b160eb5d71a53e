//! Container probes as the kubelet runs them: one attempt ([`probe_once`]: httpGet, tcpSocket,
//! exec, grpc) and the counting across attempts ([`ProbeCounter`], a pure state machine, and
//! [`ProbeWorker`], which adds the timing). Running a command in a container is the caller's
//! ([`ExecFn`]); what a verdict means for the container (restart, readiness) is the runtime's.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::{Container, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Success,
    /// Failed, with the kubelet's message (shown in the `Unhealthy` event).
    Failure(String),
}

/// How exec probes run: the runtime passes a closure that runs `command` in the container with
/// a timeout (through CRI ExecSync) and returns (exit code, combined output).
pub type ExecFn = Arc<
    dyn Fn(Vec<String>, Duration) -> futures::future::BoxFuture<'static, Result<(i32, Vec<u8>), String>> + Send + Sync,
>;

/// Which of a container's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

/// The kubelet's probe User-Agent, `kube-probe/<major>.<minor>`.
const USER_AGENT: &str = "kube-probe/1.33";
/// The kubelet reads at most this much of an HTTP probe's body.
const MAX_BODY: usize = 10 * 1024;

/// One probe attempt. The timeout is `timeoutSeconds` (default 1).
pub async fn probe_once(probe: &Probe, container: &Container, pod_ip: Option<IpAddr>, exec: &ExecFn) -> ProbeOutcome {
    let timeout = Duration::from_secs(positive(probe.timeout_seconds, 1));
    if let Some(action) = &probe.exec {
        let command = action.command.clone().unwrap_or_default();
        return exec_probe(exec, command, timeout).await;
    }
    if let Some(action) = &probe.http_get {
        return http_probe(action, container, pod_ip, timeout).await;
    }
    if let Some(action) = &probe.tcp_socket {
        return tcp_probe(action, container, pod_ip, timeout).await;
    }
    if let Some(action) = &probe.grpc {
        let Some(ip) = pod_ip else { return ProbeOutcome::Failure("the pod has no IP yet".to_owned()) };
        let Ok(port) = u16::try_from(action.port) else {
            return ProbeOutcome::Failure(format!("invalid port number: {}", action.port));
        };
        return grpc_probe(SocketAddr::new(ip, port), action.service.as_deref().unwrap_or(""), timeout).await;
    }
    ProbeOutcome::Failure("missing probe handler".to_owned())
}

fn positive(value: Option<i32>, default: u64) -> u64 {
    value.and_then(|v| u64::try_from(v).ok()).filter(|v| *v > 0).unwrap_or(default)
}

async fn exec_probe(exec: &ExecFn, command: Vec<String>, timeout: Duration) -> ProbeOutcome {
    let shown = format!("{command:?}");
    match tokio::time::timeout(timeout + Duration::from_secs(1), exec(command, timeout)).await {
        Err(_) => ProbeOutcome::Failure(format!("command {shown} timed out")),
        Ok(Err(message)) => ProbeOutcome::Failure(message),
        Ok(Ok((0, _))) => ProbeOutcome::Success,
        Ok(Ok((code, output))) => {
            let output = String::from_utf8_lossy(&output).trim_end().to_owned();
            if output.is_empty() {
                ProbeOutcome::Failure(format!("command {shown} exited with {code}"))
            } else {
                ProbeOutcome::Failure(output)
            }
        }
    }
}

/// A port given by number or by the name of one of the container's ports.
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(number) => *number,
        IntOrString::String(name) => match name.parse::<i32>() {
            Ok(number) => number,
            Err(_) => container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.container_port)
                .ok_or_else(|| format!("couldn't find port {name:?} in container {:?}", container.name))?,
        },
    };
    u16::try_from(number).ok().filter(|p| *p > 0).ok_or_else(|| format!("invalid port number: {number}"))
}

/// `host:port` for dialling, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn target_host(explicit: Option<&str>, pod_ip: Option<IpAddr>) -> Option<String> {
    match explicit.filter(|h| !h.is_empty()) {
        Some(host) => Some(host.to_owned()),
        None => pod_ip.map(|ip| ip.to_string()),
    }
}

async fn tcp_probe(
    action: &TCPSocketAction,
    container: &Container,
    pod_ip: Option<IpAddr>,
    timeout: Duration,
) -> ProbeOutcome {
    let port = match resolve_port(&action.port, container) {
        Ok(port) => port,
        Err(message) => return ProbeOutcome::Failure(message),
    };
    let Some(host) = target_host(action.host.as_deref(), pod_ip) else {
        return ProbeOutcome::Failure("the pod has no IP yet".to_owned());
    };
    let address = host_port(&host, port);
    match tokio::time::timeout(timeout, TcpStream::connect(&address)).await {
        Ok(Ok(_)) => ProbeOutcome::Success,
        Ok(Err(e)) => ProbeOutcome::Failure(format!("dial tcp {address}: {e}")),
        Err(_) => ProbeOutcome::Failure(format!("dial tcp {address}: i/o timeout")),
    }
}

async fn http_probe(
    action: &HTTPGetAction,
    container: &Container,
    pod_ip: Option<IpAddr>,
    timeout: Duration,
) -> ProbeOutcome {
    let port = match resolve_port(&action.port, container) {
        Ok(port) => port,
        Err(message) => return ProbeOutcome::Failure(message),
    };
    let Some(host) = target_host(action.host.as_deref(), pod_ip) else {
        return ProbeOutcome::Failure("the pod has no IP yet".to_owned());
    };
    let https = action.scheme.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"));
    let mut path = action.path.clone().unwrap_or_default();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let address = host_port(&host, port);
    let scheme = if https { "https" } else { "http" };
    let url = format!("{scheme}://{address}{path}");
    let headers = action.http_headers.as_deref().unwrap_or(&[]);
    let attempt = async {
        // Redirects on the same host are followed (ten at most, as Go's client); one to another
        // host ends the probe as a success, as the kubelet's "Probe terminated redirects".
        for _ in 0..=MAX_REDIRECTS {
            let (status, location) = http_get(&address, &host, https, &path, headers).await?;
            let Some(location) = location.filter(|_| (300..400).contains(&status)) else {
                return Ok(status);
            };
            match same_host_redirect(&location, scheme, &address) {
                Some(next) => path = next,
                None => return Ok(status),
            }
        }
        Err(format!("stopped after {MAX_REDIRECTS} redirects"))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => ProbeOutcome::Failure(format!(
            "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(message)) => ProbeOutcome::Failure(format!("Get {url:?}: {message}")),
        Ok(Ok(status)) if (200..400).contains(&status) => ProbeOutcome::Success,
        Ok(Ok(status)) => ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {status}")),
    }
}

/// Go's http client follows at most this many redirects.
const MAX_REDIRECTS: usize = 10;

/// The path to request next when `location` stays on `address` with the same scheme.
fn same_host_redirect(location: &str, scheme: &str, address: &str) -> Option<String> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Some(location.to_owned());
    }
    let uri: http::Uri = location.parse().ok()?;
    if uri.scheme_str() != Some(scheme) {
        return None;
    }
    let authority = uri.authority()?;
    let default_port = if scheme == "https" { 443 } else { 80 };
    let target = host_port(
        authority.host().trim_start_matches('[').trim_end_matches(']'),
        authority.port_u16().unwrap_or(default_port),
    );
    if target != address {
        return None;
    }
    Some(uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".to_owned()))
}

/// One GET on a new connection: the status and the `Location` header.
async fn http_get(
    address: &str,
    host: &str,
    https: bool,
    path: &str,
    headers: &[k8s_openapi::api::core::v1::HTTPHeader],
) -> Result<(u16, Option<String>), String> {
    let mut request = http::Request::get(path);
    let has = |name: &str| headers.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    if !has("host") {
        request = request.header(http::header::HOST, address);
    }
    if !has("user-agent") {
        request = request.header(http::header::USER_AGENT, USER_AGENT);
    }
    if !has("accept") {
        request = request.header(http::header::ACCEPT, "*/*");
    }
    for header in headers {
        request = request.header(header.name.as_str(), header.value.as_str());
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(address).await.map_err(|e| format!("dial tcp {address}: {e}"))?;
    if https {
        let stream = tls_connect(stream, host).await?;
        send_http1(stream, request).await
    } else {
        send_http1(stream, request).await
    }
}

/// One HTTP/1.1 request on `stream`: the status and the `Location` header; at most
/// [`MAX_BODY`] of the body is read.
async fn send_http1<S>(stream: S, request: http::Request<Empty<Bytes>>) -> Result<(u16, Option<String>), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let connection = tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| e.to_string());
    let result = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let location =
                response.headers().get(http::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
            // The kubelet reads a bounded prefix of the body; a longer one is no failure.
            let _ = Limited::new(response.into_body(), MAX_BODY).collect().await;
            Ok((status, location))
        }
        Err(e) => Err(e),
    };
    connection.abort();
    result
}

/// TLS without verification, as the kubelet's HTTPS probes (`InsecureSkipVerify`).
async fn tls_connect(stream: TcpStream, host: &str) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = match host.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?,
    };
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, stream).await.map_err(|e| e.to_string())
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The gRPC health protocol's statuses (`grpc.health.v1.HealthCheckResponse.ServingStatus`).
fn serving_status_name(status: u64) -> &'static str {
    match status {
        0 => "UNKNOWN",
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNRECOGNIZED",
    }
}

/// `grpc.health.v1.Health/Check` over plaintext HTTP/2, as the kubelet's gRPC probe.
async fn grpc_probe(address: SocketAddr, service: &str, timeout: Duration) -> ProbeOutcome {
    let attempt = async {
        let stream = TcpStream::connect(address).await.map_err(|e| format!("dial tcp {address}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        let connection = tokio::spawn(connection);
        let request = http::Request::post(format!("http://{address}/grpc.health.v1.Health/Check"))
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header("te", "trailers")
            .header(http::header::USER_AGENT, USER_AGENT)
            .body(Full::new(Bytes::from(grpc_health_request(service))))
            .map_err(|e| e.to_string())?;
        let result = async {
            let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
            let headers = response.headers().clone();
            let collected = response.into_body().collect().await.map_err(|e| e.to_string())?;
            let trailers = collected.trailers().cloned().unwrap_or_default();
            let status_of = |name: &str| {
                trailers.get(name).or_else(|| headers.get(name)).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let code = status_of("grpc-status").unwrap_or_else(|| "0".to_owned());
            if code != "0" {
                let message = status_of("grpc-message").unwrap_or_default();
                return Err(format!("rpc error: code = {code} desc = {message}"));
            }
            grpc_health_status(&collected.to_bytes())
        }
        .await;
        connection.abort();
        result
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => ProbeOutcome::Failure(format!("timeout: health rpc did not complete within {timeout:?}")),
        Ok(Err(message)) => ProbeOutcome::Failure(message),
        Ok(Ok(1)) => ProbeOutcome::Success,
        Ok(Ok(status)) => {
            ProbeOutcome::Failure(format!("service unhealthy (responded with {:?})", serving_status_name(status)))
        }
    }
}

/// A length-prefixed `HealthCheckRequest { service }`.
fn grpc_health_request(service: &str) -> Vec<u8> {
    let mut message = Vec::new();
    if !service.is_empty() {
        message.push(0x0a);
        put_varint(&mut message, service.len() as u64);
        message.extend_from_slice(service.as_bytes());
    }
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    framed.extend_from_slice(&message);
    framed
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The `status` of a length-prefixed `HealthCheckResponse` (0 when absent, as proto3).
fn grpc_health_status(body: &[u8]) -> Result<u64, String> {
    let bad = || "malformed health check response".to_owned();
    if body.len() < 5 || body[0] != 0 {
        return Err(bad());
    }
    let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let message = body.get(5..5 + length).ok_or_else(bad)?;
    let mut at = 0;
    let mut status = 0;
    while at < message.len() {
        let key = get_varint(message, &mut at).ok_or_else(bad)?;
        match key & 7 {
            0 => {
                let value = get_varint(message, &mut at).ok_or_else(bad)?;
                if key >> 3 == 1 {
                    status = value;
                }
            }
            2 => {
                let length = get_varint(message, &mut at).ok_or_else(bad)? as usize;
                at = at.checked_add(length).filter(|end| *end <= message.len()).ok_or_else(bad)?;
            }
            5 => at += 4,
            1 => at += 8,
            _ => return Err(bad()),
        }
    }
    Ok(status)
}

/// The counting of the kubelet's probe worker, without time: consecutive equal results are a
/// run; the verdict changes only when a run reaches `successThreshold` or `failureThreshold`.
#[derive(Debug, Clone)]
pub struct ProbeCounter {
    kind: ProbeKind,
    success_threshold: u32,
    failure_threshold: u32,
    last: Option<bool>,
    run: u32,
    verdict: Option<bool>,
    /// A failed liveness or startup probe stops probing until the container is replaced; a
    /// startup probe that succeeded stops for good.
    stopped: bool,
}

impl ProbeCounter {
    pub fn new(probe: &Probe, kind: ProbeKind) -> Self {
        // Liveness and startup probes must have successThreshold 1, as validation insists.
        let success_threshold =
            if kind == ProbeKind::Readiness { positive(probe.success_threshold, 1) as u32 } else { 1 };
        ProbeCounter {
            kind,
            success_threshold,
            failure_threshold: positive(probe.failure_threshold, 3) as u32,
            last: None,
            run: 0,
            verdict: match kind {
                ProbeKind::Readiness => Some(false),
                ProbeKind::Liveness => Some(true),
                ProbeKind::Startup => None,
            },
            stopped: false,
        }
    }

    /// The current verdict: `Some(true)` healthy, `Some(false)` failed, `None` undecided.
    pub fn verdict(&self) -> Option<bool> {
        self.verdict
    }

    /// Whether attempts have stopped (see the field's doc).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Counts one attempt's result and returns the verdict.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if self.stopped {
            return self.verdict;
        }
        if self.last == Some(success) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(success);
            self.run = 1;
        }
        let threshold = if success { self.success_threshold } else { self.failure_threshold };
        if self.run < threshold {
            return self.verdict;
        }
        self.verdict = Some(success);
        match (self.kind, success) {
            (ProbeKind::Liveness | ProbeKind::Startup, false) => {
                self.stopped = true;
                self.run = 0;
            }
            (ProbeKind::Startup, true) => self.stopped = true,
            _ => {}
        }
        self.verdict
    }
}

/// A probe's state across attempts: the first attempt after `initialDelaySeconds`, then one
/// every `periodSeconds` (default 10), each with `timeoutSeconds`, counted by [`ProbeCounter`].
/// One worker serves one container instance: after a liveness or startup failure it stops
/// probing, and the runtime makes a new worker for the restarted container.
pub struct ProbeWorker {
    probe: Probe,
    counter: ProbeCounter,
    period: Duration,
    next_due: Instant,
    last_failure: Option<String>,
}

impl ProbeWorker {
    pub fn new(probe: Probe, kind: ProbeKind) -> Self {
        let counter = ProbeCounter::new(&probe, kind);
        let period = Duration::from_secs(positive(probe.period_seconds, 10));
        let delay = Duration::from_secs(probe.initial_delay_seconds.and_then(|d| u64::try_from(d).ok()).unwrap_or(0));
        ProbeWorker { probe, counter, period, next_due: Instant::now() + delay, last_failure: None }
    }

    /// Waits until the next attempt is due, runs it, and returns the current verdict
    /// (`Some(true)` healthy, `Some(false)` failed past the threshold, `None` not decided yet).
    /// Once stopped it waits a period and returns the standing verdict without probing.
    /// Cancelling it (as in a `select!`) skips at most the attempt under way, never repeats one.
    pub async fn next(&mut self, container: &Container, pod_ip: Option<IpAddr>, exec: &ExecFn) -> Option<bool> {
        tokio::time::sleep_until(self.next_due).await;
        // A slow attempt does not cause a burst of catch-up attempts.
        self.next_due = (self.next_due + self.period).max(Instant::now());
        if self.counter.stopped() {
            return self.counter.verdict();
        }
        let outcome = probe_once(&self.probe, container, pod_ip, exec).await;
        let success = outcome == ProbeOutcome::Success;
        self.last_failure = match outcome {
            ProbeOutcome::Success => None,
            ProbeOutcome::Failure(message) => Some(message),
        };
        self.counter.record(success)
    }

    /// The message of the last attempt when it failed, for the `Unhealthy` event.
    pub fn last_failure(&self) -> Option<&str> {
        self.last_failure.as_deref()
    }

    /// The current verdict without waiting.
    pub fn verdict(&self) -> Option<bool> {
        self.counter.verdict()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use k8s_openapi::api::core::v1::{ContainerPort, ExecAction, GRPCAction, HTTPHeader};
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn no_exec() -> ExecFn {
        Arc::new(|_, _| async { Err("exec not expected".to_owned()) }.boxed())
    }

    fn probe_with(f: impl FnOnce(&mut Probe)) -> Probe {
        let mut probe = Probe::default();
        f(&mut probe);
        probe
    }

    #[test]
    fn thresholds_count_like_the_kubelet() {
        let probe = probe_with(|p| {
            p.success_threshold = Some(2);
            p.failure_threshold = Some(3);
        });
        let mut readiness = ProbeCounter::new(&probe, ProbeKind::Readiness);
        let steps = [
            (true, Some(false)),
            (true, Some(true)),
            (false, Some(true)),
            (false, Some(true)),
            (true, Some(true)),
            (false, Some(true)),
            (false, Some(true)),
            (false, Some(false)),
            (false, Some(false)),
            (true, Some(false)),
            (true, Some(true)),
        ];
        for (i, (success, want)) in steps.into_iter().enumerate() {
            assert_eq!(readiness.record(success), want, "step {i}");
        }
        assert!(!readiness.stopped());

        let mut liveness = ProbeCounter::new(&probe, ProbeKind::Liveness);
        assert_eq!(liveness.verdict(), Some(true));
        assert_eq!(liveness.record(false), Some(true));
        assert_eq!(liveness.record(true), Some(true), "successThreshold is 1 for liveness");
        assert_eq!(liveness.record(false), Some(true));
        assert_eq!(liveness.record(false), Some(true));
        assert_eq!(liveness.record(false), Some(false));
        assert!(liveness.stopped());
        assert_eq!(liveness.record(true), Some(false), "on hold until the container is replaced");

        let mut startup = ProbeCounter::new(&Probe::default(), ProbeKind::Startup);
        assert_eq!(startup.verdict(), None);
        assert_eq!(startup.record(false), None);
        assert_eq!(startup.record(true), Some(true));
        assert!(startup.stopped());
        assert_eq!(startup.record(false), Some(true));
    }

    /// A one-shot HTTP server on 127.0.0.1 answering each request with `status`, recording the
    /// request heads.
    async fn http_server(status: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
        redirecting_server(status, Vec::new()).await
    }

    /// [`http_server`] that answers the paths in `redirects` with a 302 to their target.
    async fn redirecting_server(status: u16, redirects: Vec<(String, String)>) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = vec![0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let Ok(n) = stream.read(&mut buffer).await else { break };
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buffer[..n]);
                }
                record.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
                let request_path = String::from_utf8_lossy(&head).split(' ').nth(1).unwrap_or("").to_owned();
                let answer = match redirects.iter().find(|(from, _)| *from == request_path) {
                    Some((_, to)) => format!(
                        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    ),
                    None => format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"),
                };
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (port, seen)
    }

    fn http_probe_on(port: IntOrString, path: &str) -> Probe {
        probe_with(|p| {
            p.http_get = Some(HTTPGetAction {
                port,
                path: Some(path.into()),
                http_headers: Some(vec![HTTPHeader { name: "X-Check".into(), value: "yes".into() }]),
                ..Default::default()
            })
        })
    }

    #[tokio::test]
    async fn http_probes_by_status() {
        let localhost = Some(IpAddr::from([127, 0, 0, 1]));
        let container = Container {
            name: "app".into(),
            ports: Some(vec![ContainerPort { name: Some("web".into()), container_port: 0, ..Default::default() }]),
            ..Default::default()
        };
        for (status, ok) in [(200, true), (204, true), (302, true), (399, true), (404, false), (500, false)] {
            let (port, seen) = http_server(status).await;
            let probe = http_probe_on(IntOrString::Int(i32::from(port)), "/healthz");
            let outcome = probe_once(&probe, &container, localhost, &no_exec()).await;
            if ok {
                assert_eq!(outcome, ProbeOutcome::Success, "status {status}");
            } else {
                assert_eq!(outcome, ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {status}")));
            }
            let head = seen.lock().unwrap()[0].to_lowercase();
            assert!(head.starts_with("get /healthz http/1.1\r\n"), "{head}");
            assert!(head.contains("user-agent: kube-probe/1.33"), "{head}");
            assert!(head.contains("x-check: yes"), "{head}");
            assert!(head.contains(&format!("host: 127.0.0.1:{port}")), "{head}");
        }
        // By port name.
        let (port, _) = http_server(200).await;
        let named = Container {
            ports: Some(vec![ContainerPort {
                name: Some("web".into()),
                container_port: i32::from(port),
                ..Default::default()
            }]),
            ..container.clone()
        };
        let probe = http_probe_on(IntOrString::String("web".into()), "healthz");
        assert_eq!(probe_once(&probe, &named, localhost, &no_exec()).await, ProbeOutcome::Success);
        let probe = http_probe_on(IntOrString::String("nope".into()), "/");
        assert_eq!(
            probe_once(&probe, &named, localhost, &no_exec()).await,
            ProbeOutcome::Failure("couldn't find port \"nope\" in container \"app\"".into())
        );
        // Nothing listening.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let probe = http_probe_on(IntOrString::Int(i32::from(closed)), "/");
        let ProbeOutcome::Failure(message) = probe_once(&probe, &container, localhost, &no_exec()).await else {
            panic!("a closed port succeeded")
        };
        assert!(message.starts_with(&format!("Get \"http://127.0.0.1:{closed}/\": dial tcp")), "{message}");
    }

    #[tokio::test]
    async fn http_probes_follow_redirects_on_the_same_host() {
        let localhost = Some(IpAddr::from([127, 0, 0, 1]));
        let c = Container::default();
        let redirects = vec![
            ("/old".to_owned(), "/healthz".to_owned()),
            ("/away".to_owned(), "http://192.0.2.1/elsewhere".to_owned()),
            ("/loop".to_owned(), "/loop".to_owned()),
        ];
        let (port, seen) = redirecting_server(500, redirects).await;
        let probe = |path: &str| http_probe_on(IntOrString::Int(i32::from(port)), path);
        assert_eq!(
            probe_once(&probe("/old"), &c, localhost, &no_exec()).await,
            ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into()),
            "the redirect's target decides"
        );
        assert!(seen.lock().unwrap()[1].starts_with("GET /healthz "));
        assert_eq!(probe_once(&probe("/away"), &c, localhost, &no_exec()).await, ProbeOutcome::Success);
        let ProbeOutcome::Failure(message) = probe_once(&probe("/loop"), &c, localhost, &no_exec()).await else {
            panic!("a redirect loop succeeded")
        };
        assert!(message.ends_with("stopped after 10 redirects"), "{message}");
        assert_eq!(same_host_redirect("http://127.0.0.1:8080/x?y", "http", "127.0.0.1:8080").as_deref(), Some("/x?y"));
        assert_eq!(same_host_redirect("https://127.0.0.1:8080/x", "http", "127.0.0.1:8080"), None);
        assert_eq!(same_host_redirect("//other/x", "http", "127.0.0.1:8080"), None);
    }

    /// HTTPS probes skip certificate verification, as the kubelet's: a self-signed server for
    /// another name passes.
    #[tokio::test]
    async fn https_probes_accept_any_certificate() {
        let key = rcgen::generate_simple_self_signed(vec!["elsewhere.example".to_owned()]).unwrap();
        let cert = key.cert.der().clone();
        let private = rustls_pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], private)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(stream).await else { continue };
                let mut buffer = vec![0u8; 4096];
                let _ = tls.read(&mut buffer).await;
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                let _ = tls.shutdown().await;
            }
        });
        let probe = probe_with(|p| {
            p.http_get = Some(HTTPGetAction {
                port: IntOrString::Int(i32::from(port)),
                scheme: Some("HTTPS".into()),
                ..Default::default()
            })
        });
        let outcome = probe_once(&probe, &Container::default(), Some(IpAddr::from([127, 0, 0, 1])), &no_exec()).await;
        assert_eq!(outcome, ProbeOutcome::Success);
    }

    #[tokio::test]
    async fn http_probe_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and never answers.
        let _server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let probe = http_probe_on(IntOrString::Int(i32::from(port)), "/");
        let ProbeOutcome::Failure(message) =
            probe_once(&probe, &Container::default(), Some(IpAddr::from([127, 0, 0, 1])), &no_exec()).await
        else {
            panic!("a silent server succeeded")
        };
        assert!(message.contains("context deadline exceeded"), "{message}");
    }

    #[tokio::test]
    async fn tcp_probes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let probe = probe_with(|p| {
            p.tcp_socket = Some(TCPSocketAction { port: IntOrString::Int(i32::from(port)), host: None })
        });
        let localhost = Some(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(probe_once(&probe, &Container::default(), localhost, &no_exec()).await, ProbeOutcome::Success);
        drop(listener);
        let ProbeOutcome::Failure(message) = probe_once(&probe, &Container::default(), localhost, &no_exec()).await
        else {
            panic!("a closed port succeeded")
        };
        assert!(message.starts_with(&format!("dial tcp 127.0.0.1:{port}: ")), "{message}");
        assert_eq!(
            probe_once(&probe, &Container::default(), None, &no_exec()).await,
            ProbeOutcome::Failure("the pod has no IP yet".into())
        );
    }

    #[tokio::test]
    async fn exec_probes() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let record = calls.clone();
        let exec: ExecFn = Arc::new(move |command: Vec<String>, timeout| {
            record.lock().unwrap().push((command.clone(), timeout));
            async move {
                match command.first().map(String::as_str) {
                    Some("true") => Ok((0, Vec::new())),
                    Some("say") => Ok((1, b"not ready\n".to_vec())),
                    Some("quiet") => Ok((2, Vec::new())),
                    _ => Err("container not running".to_owned()),
                }
            }
            .boxed()
        });
        let check = |command: &str| {
            probe_with(|p| {
                p.exec = Some(ExecAction { command: Some(vec![command.into(), "arg".into()]) });
                p.timeout_seconds = Some(5);
            })
        };
        let c = Container::default();
        assert_eq!(probe_once(&check("true"), &c, None, &exec).await, ProbeOutcome::Success);
        assert_eq!(probe_once(&check("say"), &c, None, &exec).await, ProbeOutcome::Failure("not ready".into()));
        assert_eq!(
            probe_once(&check("quiet"), &c, None, &exec).await,
            ProbeOutcome::Failure("command [\"quiet\", \"arg\"] exited with 2".into())
        );
        assert_eq!(
            probe_once(&check("gone"), &c, None, &exec).await,
            ProbeOutcome::Failure("container not running".into())
        );
        let calls = calls.lock().unwrap();
        assert_eq!(calls[0], (vec!["true".to_owned(), "arg".to_owned()], Duration::from_secs(5)));
    }

    /// A plaintext HTTP/2 gRPC health server on 127.0.0.1 answering with `status`.
    async fn grpc_server(status: u8) -> u16 {
        use http_body_util::StreamBody;
        use hyper::body::Frame;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service =
                    hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| async move {
                        assert_eq!(request.uri().path(), "/grpc.health.v1.Health/Check");
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        assert_eq!(&body[..], &grpc_health_request("db")[..]);
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
                            Ok(Frame::data(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]))),
                            Ok(Frame::trailers(trailers)),
                        ];
                        let response = http::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(StreamBody::new(futures::stream::iter(frames)))
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(response)
                    });
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        port
    }

    #[tokio::test]
    async fn grpc_probes() {
        let localhost = Some(IpAddr::from([127, 0, 0, 1]));
        for (status, want) in [
            (1, ProbeOutcome::Success),
            (2, ProbeOutcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into())),
        ] {
            let port = grpc_server(status).await;
            let probe = probe_with(|p| p.grpc = Some(GRPCAction { port: i32::from(port), service: Some("db".into()) }));
            assert_eq!(probe_once(&probe, &Container::default(), localhost, &no_exec()).await, want);
        }
        assert_eq!(grpc_health_status(&[0, 0, 0, 0, 0]).unwrap(), 0);
        assert!(grpc_health_status(&[0, 0, 0, 0, 9, 8]).is_err());
    }

    #[tokio::test]
    async fn worker_waits_for_the_initial_delay_then_counts() {
        let exec: ExecFn = Arc::new(|_, _| async { Ok((1, b"down".to_vec())) }.boxed());
        let probe = probe_with(|p| {
            p.exec = Some(ExecAction { command: Some(vec!["check".into()]) });
            p.initial_delay_seconds = Some(1);
            p.period_seconds = Some(1);
            p.failure_threshold = Some(2);
        });
        let mut worker = ProbeWorker::new(probe, ProbeKind::Liveness);
        assert_eq!(worker.verdict(), Some(true));
        let started = Instant::now();
        let c = Container::default();
        assert_eq!(worker.next(&c, None, &exec).await, Some(true));
        assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
        assert_eq!(worker.last_failure(), Some("down"));
        assert_eq!(worker.next(&c, None, &exec).await, Some(false));
        assert!(started.elapsed() >= Duration::from_millis(1950), "{:?}", started.elapsed());
    }
}
