//! Pushes an [`ImageBlobs`] to a registry with the distribution v2 API over
//! plain HTTP/1.1 (one connection per request, `Connection: close`): blobs by
//! monolithic upload unless the registry has them, then the manifest by tag.
//! For tests against a loopback registry: no TLS, no authentication, no
//! chunked responses, no redirects.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Blob, ImageBlobs};

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The address is not `http://host:port`.
    #[error("registry address {0:?} is not http://host:port")]
    Address(String),
    /// The connection failed.
    #[error("HTTP {method} {path} to {registry} failed")]
    Io {
        registry: String,
        method: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The registry answered with an unexpected status.
    #[error("HTTP {method} {path} to {registry}: status {status}: {body}")]
    Status { registry: String, method: &'static str, path: String, status: u16, body: String },
}

/// An HTTP response, read whole.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Pushes `image` to `registry` (`http://127.0.0.1:5000`) as `repository:tag`.
pub async fn push(registry: &str, repository: &str, tag: &str, image: &ImageBlobs) -> Result<(), PushError> {
    let authority = registry
        .strip_prefix("http://")
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| PushError::Address(registry.to_string()))?;
    let client = Client { authority };
    for blob in image.layers.iter().chain([&image.config]) {
        client.push_blob(repository, blob).await?;
    }
    let path = format!("/v2/{repository}/manifests/{tag}");
    let response =
        client.request("PUT", &path, &[("Content-Type", &image.manifest.media_type)], &image.manifest.bytes).await?;
    client.expect("PUT", &path, &response, &[201])
}

struct Client<'a> {
    authority: &'a str,
}

impl Client<'_> {
    async fn push_blob(&self, repository: &str, blob: &Blob) -> Result<(), PushError> {
        let path = format!("/v2/{repository}/blobs/{}", blob.digest);
        if self.request("HEAD", &path, &[], &[]).await?.status == 200 {
            return Ok(());
        }
        let start = format!("/v2/{repository}/blobs/uploads/");
        let response = self.request("POST", &start, &[], &[]).await?;
        self.expect("POST", &start, &response, &[202])?;
        let location = response.header("Location").unwrap_or_default();
        // The location may be absolute; only its path and query matter here.
        let location = match location.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let upload = format!("{location}{separator}digest={}", blob.digest);
        let response =
            self.request("PUT", &upload, &[("Content-Type", "application/octet-stream")], &blob.bytes).await?;
        self.expect("PUT", &upload, &response, &[201])
    }

    fn expect(&self, method: &'static str, path: &str, response: &Response, ok: &[u16]) -> Result<(), PushError> {
        if ok.contains(&response.status) {
            return Ok(());
        }
        Err(PushError::Status {
            registry: self.authority.to_string(),
            method,
            path: path.to_string(),
            status: response.status,
            body: String::from_utf8_lossy(&response.body).chars().take(500).collect(),
        })
    }

    async fn request(
        &self,
        method: &'static str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, PushError> {
        let io_error =
            |source| PushError::Io { registry: self.authority.to_string(), method, path: path.to_string(), source };
        let mut stream = TcpStream::connect(self.authority).await.map_err(io_error)?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.authority);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await.map_err(io_error)?;
        stream.write_all(body).await.map_err(io_error)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(io_error)?;
        parse_response(&raw, method == "HEAD")
            .map_err(|m| io_error(std::io::Error::new(std::io::ErrorKind::InvalidData, m)))
    }
}

fn parse_response(raw: &[u8], head_only: bool) -> Result<Response, &'static str> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("response without a header end")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "response header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = if head_only { Vec::new() } else { raw[end + 4..].to_vec() };
    Ok(Response { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_responses() {
        let raw = b"HTTP/1.1 202 Accepted\r\nLocation: /v2/x/blobs/uploads/abc?_state=s\r\nContent-Length: 2\r\n\r\nok";
        let response = parse_response(raw, false).unwrap();
        assert_eq!(response.status, 202);
        assert_eq!(response.header("location"), Some("/v2/x/blobs/uploads/abc?_state=s"));
        assert_eq!(response.body, b"ok");
        assert!(parse_response(b"garbage", false).is_err());
    }
}
