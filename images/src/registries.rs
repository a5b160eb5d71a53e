//! k3s's `registries.yaml` (mirrors with endpoints and rewrites; per-host
//! auth and TLS) parsed strictly, and rendered for containerd 1.6: one
//! `<certs.d>/<host>/hosts.toml` per registry host namespace (the `"*"` mirror
//! as `_default`) plus the CRI plugin's `registry` section, which carries
//! `config_path` and the credentials (1.6's hosts.toml has no auth).
//!
//! Not supported, and reported by [`Registries::warnings`]: `rewrite` (stock
//! containerd 1.6 cannot rewrite repository names; k3s patches containerd for
//! it) and credentials for `"*"` (the CRI plugin looks credentials up by exact
//! host). Unknown fields are errors, so a typo such as `endpoints:` is caught
//! instead of silently ignored as k3s would.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a registries file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not have registries.yaml's shape.
    #[error("invalid registries file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A field has a value that cannot work.
    #[error("invalid registries file {path}: {field}: {message}")]
    Invalid { path: PathBuf, field: String, message: String },
    /// Writing a hosts.toml failed.
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One mirrored registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirror {
    /// Endpoint URLs, tried in order before the registry itself
    /// (`https://` assumed when no scheme is given).
    pub endpoints: Vec<String>,
    /// Repository rewrites (regex -> replacement); parsed, not applied.
    pub rewrites: BTreeMap<String, String>,
}

/// Credentials for a registry host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub username: Option<String>,
    pub password: Option<String>,
    /// base64 of `username:password`.
    pub auth: Option<String>,
    pub identitytoken: Option<String>,
}

/// TLS settings for a registry host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub ca_file: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// Auth and TLS of one registry host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub auth: Option<Auth>,
    pub tls: Option<Tls>,
}

/// A parsed registries.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registries {
    /// Mirrors by registry host (`docker.io`, `registry.example.com:5000`, `*`).
    pub mirrors: BTreeMap<String, Mirror>,
    /// Auth and TLS by registry or endpoint host.
    pub configs: BTreeMap<String, HostConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    mirrors: Option<BTreeMap<String, Option<RawMirror>>>,
    configs: Option<BTreeMap<String, Option<HostConfig>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMirror {
    endpoint: Option<Vec<String>>,
    rewrite: Option<BTreeMap<String, String>>,
}

impl Registries {
    /// Reads `path`; `Ok(None)` when there is no such file (no registries configured).
    pub fn load(path: &Path) -> Result<Option<Registries>, RegistriesError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Registries::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RegistriesError::Read { path: path.to_path_buf(), source }),
        }
    }

    /// Parses registries.yaml text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Registries, RegistriesError> {
        if text.trim().is_empty() {
            return Ok(Registries::default());
        }
        let raw: Option<RawFile> = serde_saphyr::from_str(text)
            .map_err(|e| RegistriesError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        let Some(raw) = raw else { return Ok(Registries::default()) };
        let invalid = |field: String, message: &str| RegistriesError::Invalid {
            path: path.to_path_buf(),
            field,
            message: message.to_string(),
        };
        let mut registries = Registries::default();
        for (host, mirror) in raw.mirrors.unwrap_or_default() {
            let mirror = mirror.map_or_else(Mirror::default, |m| Mirror {
                endpoints: m.endpoint.unwrap_or_default(),
                rewrites: m.rewrite.unwrap_or_default(),
            });
            check_host(&host).map_err(|m| invalid(format!("mirrors.{host:?}"), m))?;
            for (i, endpoint) in mirror.endpoints.iter().enumerate() {
                endpoint_url(endpoint).map_err(|m| invalid(format!("mirrors.{host:?}.endpoint[{i}]"), m))?;
            }
            registries.mirrors.insert(host, mirror);
        }
        for (host, config) in raw.configs.unwrap_or_default() {
            let config = config.unwrap_or_default();
            check_host(&host).map_err(|m| invalid(format!("configs.{host:?}"), m))?;
            if let Some(tls) = &config.tls {
                match (&tls.cert_file, &tls.key_file) {
                    (Some(_), None) => {
                        return Err(invalid(
                            format!("configs.{host:?}.tls.key_file"),
                            "cert_file is set without key_file",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(invalid(
                            format!("configs.{host:?}.tls.cert_file"),
                            "key_file is set without cert_file",
                        ));
                    }
                    _ => {}
                }
            }
            if let Some(auth) = &config.auth
                && auth.password.is_some()
                && auth.username.is_none()
            {
                return Err(invalid(format!("configs.{host:?}.auth.username"), "password is set without username"));
            }
            registries.configs.insert(host, config);
        }
        Ok(registries)
    }

    /// What this configuration asks for that containerd 1.6 cannot do.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (host, mirror) in &self.mirrors {
            if !mirror.rewrites.is_empty() {
                out.push(format!(
                    "mirrors.{host:?}.rewrite: repository rewrites are not supported by containerd 1.6 and are ignored"
                ));
            }
        }
        if self.configs.get("*").is_some_and(|c| c.auth.is_some()) {
            out.push(
                "configs.\"*\".auth: credentials for every registry are not supported by containerd 1.6 and are ignored"
                    .to_string(),
            );
        }
        out
    }

    /// The hosts.toml documents, by registry host namespace directory name.
    pub fn hosts_files(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut namespaces: Vec<&str> = self.mirrors.keys().map(String::as_str).collect();
        // A host with TLS settings but no mirror still needs a namespace, so
        // the settings apply when it is pulled from directly.
        namespaces.extend(self.configs.iter().filter(|(_, c)| c.tls.is_some()).map(|(h, _)| h.as_str()));
        namespaces.sort_unstable();
        namespaces.dedup();
        for host in namespaces {
            let mut text = String::new();
            let server = (host != "*").then(|| default_endpoint(host));
            if let Some(server) = &server {
                let _ = writeln!(text, "server = {}", quote(server));
                if let Some(tls) = self.tls_for(host) {
                    write_tls(&mut text, tls, "");
                }
            }
            let mut hosts: Vec<String> = Vec::new();
            for endpoint in self.mirrors.get(host).map(|m| m.endpoints.as_slice()).unwrap_or_default() {
                let Ok(url) = endpoint_url(endpoint) else { continue };
                // k3s ignores mirror endpoints that are the default endpoint: it is tried last anyway.
                if server.as_deref().is_some_and(|s| same_endpoint(s, &url)) {
                    continue;
                }
                hosts.push(url);
            }
            // containerd 1.6 refuses a hosts.toml without a `[host]` table
            // ("invalid `host` tree") and falls back to its defaults, dropping
            // the server's TLS settings: a registry without mirrors is its own
            // one host, as k3s writes it.
            if hosts.is_empty()
                && let Some(server) = &server
            {
                hosts.push(server.clone());
            }
            for url in hosts {
                let _ = writeln!(text, "\n[host.{}]", quote(&url));
                let _ = writeln!(text, "  capabilities = [\"pull\", \"resolve\"]");
                if let Some(tls) = self.tls_for(url_host(&url)) {
                    write_tls(&mut text, tls, "  ");
                }
            }
            let dir = if host == "*" { "_default".to_string() } else { host.to_string() };
            out.insert(dir, text);
        }
        out
    }

    /// TLS settings for a host: its own config, else the `"*"` one.
    fn tls_for(&self, host: &str) -> Option<&Tls> {
        match self.configs.get(host) {
            Some(config) => config.tls.as_ref(),
            None => self.configs.get("*").and_then(|c| c.tls.as_ref()),
        }
    }

    /// Writes `<certs_d>/<namespace>/hosts.toml` for every namespace, and
    /// removes the hosts.toml of namespaces no longer configured (the
    /// directory belongs to bramble).
    pub fn write_hosts_dir(&self, certs_d: &Path) -> Result<(), RegistriesError> {
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RegistriesError::Write { path, source }
        };
        let files = self.hosts_files();
        std::fs::create_dir_all(certs_d).map_err(write_error(certs_d))?;
        for entry in std::fs::read_dir(certs_d).map_err(write_error(certs_d))? {
            let entry = entry.map_err(write_error(certs_d))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = entry.path().join("hosts.toml");
            if !files.contains_key(&name) && stale.is_file() {
                std::fs::remove_file(&stale).map_err(write_error(&stale))?;
                // Only an empty directory goes; certificates a user put there stay.
                let _ = std::fs::remove_dir(entry.path());
            }
        }
        for (dir, text) in files {
            let dir = certs_d.join(dir);
            std::fs::create_dir_all(&dir).map_err(write_error(&dir))?;
            let path = dir.join("hosts.toml");
            let tmp = dir.join(".hosts.toml.tmp");
            std::fs::write(&tmp, text).map_err(write_error(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(write_error(&path))?;
        }
        Ok(())
    }

    /// The `[plugins."io.containerd.grpc.v1.cri".registry]` section of a
    /// containerd 1.6 config.toml: `config_path` and per-host credentials.
    pub fn cri_registry_toml(&self, certs_d: &Path) -> String {
        let mut text = String::from("[plugins.\"io.containerd.grpc.v1.cri\".registry]\n");
        let _ = writeln!(text, "  config_path = {}", quote(&certs_d.display().to_string()));
        for (host, config) in &self.configs {
            let Some(auth) = config.auth.as_ref().filter(|_| host != "*") else { continue };
            let _ = writeln!(text, "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.{}.auth]", quote(host));
            for (key, value) in [
                ("username", &auth.username),
                ("password", &auth.password),
                ("auth", &auth.auth),
                ("identitytoken", &auth.identitytoken),
            ] {
                if let Some(value) = value {
                    let _ = writeln!(text, "  {key} = {}", quote(value));
                }
            }
        }
        text
    }
}

fn write_tls(text: &mut String, tls: &Tls, indent: &str) {
    if let Some(ca) = &tls.ca_file {
        let _ = writeln!(text, "{indent}ca = {}", quote(ca));
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        let _ = writeln!(text, "{indent}client = [[{}, {}]]", quote(cert), quote(key));
    }
    if tls.insecure_skip_verify {
        let _ = writeln!(text, "{indent}skip_verify = true");
    }
}

/// A TOML basic string (always double-quoted, as containerd's examples are).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// containerd's default endpoint for a registry host namespace.
fn default_endpoint(host: &str) -> String {
    if host == "docker.io" { "https://registry-1.docker.io".to_string() } else { format!("https://{host}") }
}

fn same_endpoint(a: &str, b: &str) -> bool {
    let trim = |s: &str| s.trim_end_matches('/').trim_end_matches("/v2").trim_end_matches('/').to_string();
    trim(a) == trim(b)
}

fn check_host(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("registry host is empty");
    }
    if host.contains("://") || host.contains('/') {
        return Err("registry host must be a host name with an optional port, not a URL");
    }
    if host.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err("registry host contains whitespace or quotes");
    }
    Ok(())
}

/// An endpoint as a URL: `https://` added when no scheme is given.
fn endpoint_url(endpoint: &str) -> Result<String, &'static str> {
    let endpoint = endpoint.trim();
    let url = if endpoint.contains("://") { endpoint.to_string() } else { format!("https://{endpoint}") };
    let Some((scheme, rest)) = url.split_once("://") else { return Err("not a URL") };
    if scheme != "http" && scheme != "https" {
        return Err("endpoint scheme must be http or https");
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err("endpoint has no host");
    }
    if url.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err("endpoint contains whitespace or quotes");
    }
    Ok(url)
}

/// `host[:port]` of a URL.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Registries, RegistriesError> {
        Registries::parse(text, Path::new("/etc/bramble/registries.yaml"))
    }

    const SAMPLE: &str = r#"
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example.com:5000"
      - "http://10.0.0.5:5000/v2"
      - "https://registry-1.docker.io"
    rewrite:
      "^rancher/(.*)": "mirror/rancher-images/$1"
  "*":
    endpoint:
      - "plain.example.com"
  registry.example.com:
configs:
  "mirror.example.com:5000":
    auth:
      username: user
      password: "p\"ss"
    tls:
      ca_file: /etc/ssl/mirror-ca.pem
      cert_file: /etc/ssl/client.pem
      key_file: /etc/ssl/client.key
  "docker.io":
  "*":
    tls:
      insecure_skip_verify: true
  secure.example.com:
    tls:
      ca_file: /etc/ssl/secure.pem
    auth:
      identitytoken: tok
"#;

    #[test]
    fn sample_parses() {
        let registries = parse(SAMPLE).unwrap();
        assert_eq!(registries.mirrors.len(), 3);
        assert_eq!(registries.mirrors["docker.io"].endpoints.len(), 3);
        assert_eq!(registries.mirrors["docker.io"].rewrites["^rancher/(.*)"], "mirror/rancher-images/$1");
        assert_eq!(registries.mirrors["registry.example.com"], Mirror::default());
        assert_eq!(registries.configs["docker.io"], HostConfig::default());
        assert!(registries.configs["*"].tls.as_ref().unwrap().insecure_skip_verify);
        assert_eq!(
            registries.configs["mirror.example.com:5000"].auth.as_ref().unwrap().password.as_deref(),
            Some("p\"ss")
        );
    }

    #[test]
    fn hosts_files_for_sample() {
        let files = parse(SAMPLE).unwrap().hosts_files();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["_default", "docker.io", "mirror.example.com:5000", "registry.example.com", "secure.example.com"]
        );
        // The mirror itself, pulled from directly, gets its TLS settings too:
        // its server is also its one `[host]`, which containerd 1.6 requires.
        assert_eq!(
            files["mirror.example.com:5000"],
            r#"server = "https://mirror.example.com:5000"
ca = "/etc/ssl/mirror-ca.pem"
client = [["/etc/ssl/client.pem", "/etc/ssl/client.key"]]

[host."https://mirror.example.com:5000"]
  capabilities = ["pull", "resolve"]
  ca = "/etc/ssl/mirror-ca.pem"
  client = [["/etc/ssl/client.pem", "/etc/ssl/client.key"]]
"#
        );
        assert_eq!(
            files["docker.io"],
            r#"server = "https://registry-1.docker.io"

[host."https://mirror.example.com:5000"]
  capabilities = ["pull", "resolve"]
  ca = "/etc/ssl/mirror-ca.pem"
  client = [["/etc/ssl/client.pem", "/etc/ssl/client.key"]]

[host."http://10.0.0.5:5000/v2"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
"#
        );
        assert_eq!(
            files["_default"],
            r#"
[host."https://plain.example.com"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
"#
        );
        assert_eq!(
            files["registry.example.com"],
            r#"server = "https://registry.example.com"
skip_verify = true

[host."https://registry.example.com"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
"#
        );
        assert_eq!(
            files["secure.example.com"],
            r#"server = "https://secure.example.com"
ca = "/etc/ssl/secure.pem"

[host."https://secure.example.com"]
  capabilities = ["pull", "resolve"]
  ca = "/etc/ssl/secure.pem"
"#
        );
        // Every document is valid TOML with the fields containerd reads, and
        // has the `[host]` table without which containerd 1.6 ignores it.
        for (dir, text) in &files {
            let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{dir}: {e}\n{text}"));
            let hosts = doc.get("host").and_then(|h| h.as_table());
            assert!(hosts.is_some_and(|h| !h.is_empty()), "{dir} has a [host] table:\n{text}");
            for (url, host) in hosts.into_iter().flatten() {
                assert!(host.get("capabilities").is_some(), "{dir} {url}");
            }
        }
    }

    #[test]
    fn cri_section_carries_path_and_credentials() {
        let text = parse(SAMPLE).unwrap().cri_registry_toml(Path::new("/var/lib/bramble/agent/etc/containerd/certs.d"));
        assert_eq!(
            text,
            r#"[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/var/lib/bramble/agent/etc/containerd/certs.d"

[plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example.com:5000".auth]
  username = "user"
  password = "p\"ss"

[plugins."io.containerd.grpc.v1.cri".registry.configs."secure.example.com".auth]
  identitytoken = "tok"
"#
        );
        let doc: toml::Table = text.parse().unwrap();
        let auth =
            &doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"]["mirror.example.com:5000"]["auth"];
        assert_eq!(auth["password"].as_str(), Some("p\"ss"));
    }

    #[test]
    fn rewrites_are_reported_unsupported() {
        let warnings = parse(SAMPLE).unwrap().warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("mirrors.\"docker.io\".rewrite"));
    }

    #[test]
    fn empty_files_configure_nothing() {
        for text in ["", "  \n", "mirrors:\nconfigs:\n"] {
            assert_eq!(parse(text).unwrap(), Registries::default(), "{text:?}");
        }
        assert!(Registries::load(Path::new("/nonexistent/registries.yaml")).unwrap().is_none());
    }

    #[test]
    fn bad_input_names_file_and_field() {
        for (text, wanted) in [
            ("mirrors:\n  docker.io:\n    endpoints: [\"https://x\"]\n", "endpoints"),
            ("mirrors:\n  docker.io:\n    endpoint: \"https://x\"\n", "endpoint"),
            ("configs:\n  x.io:\n    tls:\n      insecure_skip_verify: maybe\n", "insecure_skip_verify"),
            ("configs:\n  x.io:\n    tls:\n      cert_file: /c\n", "configs.\"x.io\".tls.key_file"),
            ("configs:\n  x.io:\n    auth:\n      password: p\n", "configs.\"x.io\".auth.username"),
            ("mirrors:\n  docker.io:\n    endpoint: [\"ftp://x\"]\n", "mirrors.\"docker.io\".endpoint[0]"),
            ("mirrors:\n  https://docker.io:\n    endpoint: []\n", "mirrors.\"https://docker.io\""),
            ("mirror:\n  docker.io: {}\n", "mirror"),
            ("- just\n- a list\n", "invalid registries file"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains("/etc/bramble/registries.yaml"), "{error}");
            assert!(error.contains(wanted), "{text:?}: {error}");
        }
    }

    #[test]
    fn hosts_dir_is_written_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        parse(SAMPLE).unwrap().write_hosts_dir(dir.path()).unwrap();
        let written = std::fs::read_to_string(dir.path().join("docker.io/hosts.toml")).unwrap();
        assert!(written.starts_with("server = \"https://registry-1.docker.io\""));
        assert!(dir.path().join("_default/hosts.toml").is_file());
        // A user's certificate next to a hosts.toml survives a prune.
        std::fs::write(dir.path().join("secure.example.com/ca.crt"), b"pem").unwrap();
        parse("mirrors:\n  docker.io:\n    endpoint: [\"https://m\"]\n").unwrap().write_hosts_dir(dir.path()).unwrap();
        assert!(!dir.path().join("_default").exists());
        assert!(!dir.path().join("secure.example.com/hosts.toml").exists());
        assert!(dir.path().join("secure.example.com/ca.crt").exists());
        assert!(dir.path().join("docker.io/hosts.toml").is_file());
    }
}
