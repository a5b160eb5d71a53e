//! The HTTPS front: TLS with optional client certificates, HTTP/1.1 and
//! HTTP/2 on one port, authentication and authorization of every request,
//! the non-resource endpoints (health, version, discovery), and the
//! hand-off of resource requests to `rest`. Responses are built here from
//! [`Reply`] values, so handlers never see hyper.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::Api;
use crate::auth::{self, User};
use crate::discovery;
use crate::negotiate::{self, DiscoveryFormat};
use crate::request::{Query, RequestInfo};
use crate::status::ApiError;

/// A response, before it becomes HTTP.
pub enum Reply {
    Full {
        code: u16,
        content_type: String,
        body: Bytes,
    },
    /// A watch: one frame per event, until the sender hangs up.
    Stream {
        content_type: String,
        frames: mpsc::Receiver<Bytes>,
    },
    /// A reply with `Warning` headers (unknown fields under `fieldValidation=Warn`).
    Warned {
        warnings: Vec<String>,
        reply: Box<Reply>,
    },
    /// A response made whole, headers and all: a kubelet's, relayed by
    /// `node_proxy` (logs, upgrades), or the cacheable OIDC documents.
    Proxied(Response<Body>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Full { code, content_type, body } => write!(f, "Full({code}, {content_type}, {} bytes)", body.len()),
            Reply::Stream { content_type, .. } => write!(f, "Stream({content_type})"),
            Reply::Warned { warnings, reply } => write!(f, "{reply:?} with {} warnings", warnings.len()),
            Reply::Proxied(response) => write!(f, "Proxied({})", response.status()),
        }
    }
}

pub fn json_reply(code: u16, value: &Value) -> Reply {
    Reply::Full { code, content_type: "application/json".into(), body: Bytes::from(value.to_string()) }
}

pub fn yaml_reply(code: u16, value: &Value) -> Reply {
    match serde_saphyr::to_string(value) {
        Ok(text) => Reply::Full { code, content_type: "application/yaml".into(), body: Bytes::from(text) },
        Err(e) => error_reply(&ApiError::Internal(format!("cannot encode YAML: {e}"))),
    }
}

pub fn error_reply(err: &ApiError) -> Reply {
    json_reply(err.code(), &err.to_status())
}

fn text_reply(code: u16, text: &str) -> Reply {
    Reply::Full { code, content_type: "text/plain; charset=utf-8".into(), body: Bytes::from(text.to_string()) }
}

pub(crate) type Body = BoxBody<Bytes, Infallible>;

fn into_response(reply: Reply) -> Response<Body> {
    let (mut reply, mut warnings) = (reply, Vec::new());
    while let Reply::Warned { warnings: more, reply: inner } = reply {
        warnings.extend(more);
        reply = *inner;
    }
    let (code, content_type, body): (u16, String, Body) = match reply {
        Reply::Warned { reply, .. } => return into_response(*reply),
        Reply::Proxied(response) => return response,
        Reply::Full { code, content_type, body } => (code, content_type, Full::new(body).boxed()),
        Reply::Stream { content_type, frames } => {
            let stream =
                tokio_stream::wrappers::ReceiverStream::new(frames).map(|b| Ok::<_, Infallible>(Frame::data(b)));
            (200, content_type, BodyExt::boxed(StreamBody::new(stream)))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache, private"));
    for warning in warnings {
        // RFC 7234 warn-code 299, agent "-", the text quoted, as upstream writes them.
        let text = warning.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// The version this API server claims: the Kubernetes release whose API it serves.
pub const KUBERNETES_VERSION: &str = "v1.33.5";

fn version_document() -> Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": format!("{KUBERNETES_VERSION}+bramble"),
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "n/a (bramble is written in Rust)",
        "compiler": "rustc",
        "platform": format!("linux/{arch}"),
    })
}

async fn non_resource(api: &Api, path: &str, accept: Option<&str>) -> Result<Reply, ApiError> {
    let trimmed = path.trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        ["healthz" | "livez"] | ["healthz" | "livez", "ping"] => Ok(text_reply(200, "ok")),
        ["readyz"] | ["readyz", _] => match api.store.current_revision().await {
            Ok(_) => Ok(text_reply(200, "ok")),
            Err(e) => Ok(text_reply(500, &format!("[-]etcd failed: {e}\nreadyz check failed"))),
        },
        ["version"] => Ok(json_reply(200, &version_document())),
        [".well-known", "openid-configuration"] => Ok(issuer_discovery(
            "application/json",
            &api.service_account_tokens.openid_configuration(&api.server_address),
        )),
        ["openid", "v1", "jwks"] => {
            Ok(issuer_discovery("application/jwk-set+json", &api.service_account_tokens.jwks()))
        }
        ["openapi", "v2"] => Ok(openapi_v2(accept)),
        ["openapi", "v3"] => Ok(json_reply(200, &crate::openapi::index())),
        ["openapi", "v3", ..] => {
            let gv = trimmed.trim_start_matches("/openapi/v3/");
            let doc = crate::openapi::document_at(gv).ok_or(ApiError::NoSuchResource)?;
            Ok(Reply::Full {
                code: 200,
                content_type: crate::openapi::CONTENT_TYPE.into(),
                body: Bytes::from(doc.to_string()),
            })
        }
        ["api"] => Ok(match negotiate::discovery_format(accept) {
            DiscoveryFormat::Aggregated { version } => aggregated_reply(true, version),
            DiscoveryFormat::Legacy => json_reply(200, &discovery::api_versions(&api.server_address)),
        }),
        ["apis"] => Ok(match negotiate::discovery_format(accept) {
            DiscoveryFormat::Aggregated { version } => aggregated_reply(false, version),
            DiscoveryFormat::Legacy => json_reply(200, &discovery::api_group_list()),
        }),
        ["api", version] => {
            discovery::api_resource_list("", version).map(|d| json_reply(200, &d)).ok_or(ApiError::NoSuchResource)
        }
        ["apis", group] => {
            discovery::api_group_document(group).map(|d| json_reply(200, &d)).ok_or(ApiError::NoSuchResource)
        }
        ["apis", group, version] => {
            discovery::api_resource_list(group, version).map(|d| json_reply(200, &d)).ok_or(ApiError::NoSuchResource)
        }
        _ => Err(ApiError::NoSuchResource),
    }
}

/// An OIDC discovery document of the service-account issuer: public and
/// cacheable for an hour, where every other answer is `no-cache, private`
/// (upstream overrides its global header the same way).
fn issuer_discovery(content_type: &'static str, doc: &Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(doc.to_string())).boxed());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let max_age = format!("public, max-age={}", crate::tokens::DISCOVERY_MAX_AGE_SECONDS);
    if let Ok(value) = HeaderValue::from_str(&max_age) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    Reply::Proxied(response)
}

/// `/openapi/v2`: kubectl 1.27 and 1.28 refuse to apply, create or explain
/// without it, and ask for it only as protobuf. An empty document (zero
/// bytes is a valid empty protobuf message) satisfies them; the schemas
/// kubectl uses come from `/openapi/v3`. JSON clients get an empty swagger.
fn openapi_v2(accept: Option<&str>) -> Reply {
    let wants_protobuf = negotiate::parse_accept(accept.unwrap_or(""))
        .iter()
        .any(|r| r.essence.starts_with("application/com.github.proto-openapi.spec.v2"));
    if wants_protobuf {
        return Reply::Full {
            code: 200,
            content_type: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf".into(),
            body: Bytes::new(),
        };
    }
    json_reply(
        200,
        &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION}, "paths": {}, "definitions": {}}),
    )
}

fn aggregated_reply(core: bool, version: &'static str) -> Reply {
    let doc = discovery::aggregated(core, version);
    Reply::Full {
        code: 200,
        content_type: discovery::aggregated_content_type(version),
        body: Bytes::from(doc.to_string()),
    }
}

async fn handle(api: Arc<Api>, peer_cert: Option<Arc<Vec<u8>>>, req: Request<Incoming>) -> Response<Body> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let reply = serve_request(&api, peer_cert.as_deref().map(Vec::as_slice), req).await;
    let reply = reply.unwrap_or_else(|err| error_reply(&err));
    if let Reply::Full { code, .. } = &reply {
        tracing::debug!(%method, %path, code, elapsed_us = started.elapsed().as_micros() as u64, "request");
    }
    into_response(reply)
}

async fn serve_request(api: &Arc<Api>, peer_cert: Option<&[u8]>, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let (parts, body) = req.into_parts();
    if crate::supervisor::handles(parts.uri.path()) {
        // The supervisor authenticates with join tokens, not as the API does.
        let body = match Limited::new(body, crate::supervisor::MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Err(ApiError::RequestEntityTooLarge("the request body is too large".into())),
        };
        return Ok(crate::supervisor::serve(api, &parts.method, parts.uri.path(), &parts.headers, body).await);
    }
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let user: User = auth::authenticate_request(api, peer_cert, header(header::AUTHORIZATION)).await?;
    let as_groups: Vec<String> =
        parts.headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok().map(String::from)).collect();
    let user = auth::impersonate(
        user,
        parts.headers.get("impersonate-user").and_then(|v| v.to_str().ok()),
        as_groups,
        parts.headers.get("impersonate-uid").and_then(|v| v.to_str().ok()),
    )?;
    let query = Query::parse(parts.uri.query());
    let info = RequestInfo::parse(&parts.method, parts.uri.path(), &query);
    auth::authorize(&user, &info)?;
    crate::node_authorizer::check(api, &user, &info).await?;
    if let RequestInfo::Resource(req) = &info
        && crate::node_proxy::handles(req)
    {
        // Logs and upgrades go to the pod's kubelet with the body unread.
        let request = Request::from_parts(parts, body);
        return Ok(Reply::Proxied(crate::node_proxy::serve(api, req, request).await));
    }
    let body = match Limited::new(body, crate::rest::MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(ApiError::RequestEntityTooLarge(format!(
                "the request body is too large: limit is {} bytes",
                crate::rest::MAX_BODY_BYTES
            )));
        }
        Err(e) => return Err(ApiError::BadRequest(format!("cannot read the request body: {e}"))),
    };
    let accept = header(header::ACCEPT);
    match &info {
        RequestInfo::NonResource { path, .. } => non_resource(api, path, accept).await,
        RequestInfo::Resource(req) => {
            crate::rest::handle(api, &user, req, &query, accept, header(header::CONTENT_TYPE), body).await
        }
    }
}

/// Serves HTTPS on `listener` until `shutdown` completes.
pub async fn serve(
    api: Arc<Api>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let api = api.clone();
        tokio::spawn(async move {
            let tls_stream = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let peer_cert = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| Arc::new(c.as_ref().to_vec()));
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                let peer_cert = peer_cert.clone();
                async move { Ok::<_, Infallible>(handle(api, peer_cert, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // With upgrades: exec, attach and portforward switch protocols (node_proxy).
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// The TLS configuration: our serving certificate, client certificates
/// verified against the client CA but not required, HTTP/2 and HTTP/1.1.
pub fn tls_config(pki: &crate::pki::Pki) -> Result<Arc<rustls::ServerConfig>, crate::ApiServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| crate::ApiServerError::Tls(format!("{what}: {e}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pki.serving_cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad("serving certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(pki.serving_key_pem.as_bytes()).map_err(|e| bad("serving key", &e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pki.client_ca_pem.as_bytes()) {
        roots.add(ca.map_err(|e| bad("client CA", &e))?).map_err(|e| bad("client CA", &e))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .allow_unauthenticated()
        .build()
        .map_err(|e| bad("client verifier", &e))?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| bad("serving certificate", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
