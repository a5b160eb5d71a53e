//! The cluster's certificates and keys, made on first start and kept under
//! `<data-dir>/server/tls` with k3s's file names: a server CA that signs the
//! API server's serving certificate, a client CA that signs client
//! certificates (the admin's, later the nodes'), and the service-account
//! signing key. The serving certificate is re-issued when the names it must
//! carry change (a new `--tls-san`, a new node IP) or when it nears expiry;
//! the CAs never change once made. This module does not serve TLS.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ::time::{Duration, OffsetDateTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// CAs last ten years, as k3s's do.
const CA_LIFETIME: Duration = Duration::days(3650);
/// Leaf certificates last a year and are renewed in their last 90 days, as k3s's are.
const LEAF_LIFETIME: Duration = Duration::days(365);
const RENEW_BEFORE: Duration = Duration::days(90);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable {what}: {detail}")]
    Corrupt { path: PathBuf, what: &'static str, detail: String },
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Who the API server is to kubelets: k3s's `client-kube-apiserver.crt` subject.
pub const KUBELET_CLIENT_IDENTITY: (&str, [&str; 1]) = ("system:kube-apiserver", ["system:masters"]);

/// What the serving certificate must name.
#[derive(Debug, Clone, Default)]
pub struct ServingNames {
    pub hostname: String,
    pub ips: Vec<IpAddr>,
    /// `--tls-san` values: host names or IP addresses.
    pub extra: Vec<String>,
    /// The first address of the service CIDR (10.43.0.1 by default).
    pub service_ip: Option<IpAddr>,
}

impl ServingNames {
    /// Every subject alternative name, as kube-apiserver's certificate holds them.
    pub fn sans(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "127.0.0.1",
            "::1",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        if !self.hostname.is_empty() {
            names.insert(self.hostname.clone());
        }
        names.extend(self.ips.iter().map(IpAddr::to_string));
        names.extend(self.service_ip.iter().map(IpAddr::to_string));
        names.extend(self.extra.iter().filter(|s| !s.is_empty()).cloned());
        names
    }
}

/// The PEM files of the cluster, loaded.
#[derive(Debug, Clone)]
pub struct Pki {
    pub dir: PathBuf,
    pub server_ca_pem: String,
    /// The CAs' keys, for the certificates the supervisor issues to nodes.
    pub server_ca_key_pem: String,
    pub client_ca_pem: String,
    pub client_ca_key_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    /// The API server's client certificate for kubelets (k3s's `client-kube-apiserver`).
    pub kubelet_client_cert_pem: String,
    pub kubelet_client_key_pem: String,
    pub service_account_key_pem: String,
}

impl Pki {
    /// Loads the PKI from `dir`, making whatever is missing, and re-issues
    /// the serving certificate when `names` are not all in it.
    pub fn ensure(dir: &Path, names: &ServingNames) -> Result<Pki, PkiError> {
        create_dir(dir)?;
        let server_ca = ensure_ca(dir, "server-ca", "bramble-server-ca")?;
        let client_ca = ensure_ca(dir, "client-ca", "bramble-client-ca")?;

        let wanted = names.sans();
        let serving = ensure_leaf(
            dir,
            "serving-kube-apiserver",
            &server_ca,
            |existing| existing.is_some_and(|sans| wanted.is_subset(sans)),
            || leaf_params("kube-apiserver", &[], &wanted, ExtendedKeyUsagePurpose::ServerAuth),
        )?;
        let admin = ensure_leaf(
            dir,
            "client-admin",
            &client_ca,
            |_| true,
            || leaf_params("system:admin", &["system:masters"], &BTreeSet::new(), ExtendedKeyUsagePurpose::ClientAuth),
        )?;
        let kubelet_client = ensure_leaf(
            dir,
            "client-kube-apiserver",
            &client_ca,
            |_| true,
            || {
                let (cn, orgs) = KUBELET_CLIENT_IDENTITY;
                leaf_params(cn, &orgs, &BTreeSet::new(), ExtendedKeyUsagePurpose::ClientAuth)
            },
        )?;

        let sa_path = dir.join("service.key");
        let service_account_key_pem = match read_optional(&sa_path)? {
            Some(pem) => {
                KeyPair::from_pem(&pem).map_err(|e| corrupt(&sa_path, "private key", e))?;
                pem
            }
            None => {
                let key = KeyPair::generate()?;
                write_file(&sa_path, key.serialize_pem().as_bytes(), 0o600)?;
                key.serialize_pem()
            }
        };

        Ok(Pki {
            dir: dir.to_path_buf(),
            server_ca_pem: server_ca.cert_pem,
            server_ca_key_pem: server_ca.key_pem,
            client_ca_pem: client_ca.cert_pem,
            client_ca_key_pem: client_ca.key_pem,
            serving_cert_pem: serving.0,
            serving_key_pem: serving.1,
            admin_cert_pem: admin.0,
            admin_key_pem: admin.1,
            kubelet_client_cert_pem: kubelet_client.0,
            kubelet_client_key_pem: kubelet_client.1,
            service_account_key_pem,
        })
    }
}

struct Ca {
    cert_pem: String,
    key_pem: String,
}

fn ensure_ca(dir: &Path, file: &str, common_name: &str) -> Result<Ca, PkiError> {
    let cert_path = dir.join(format!("{file}.crt"));
    let key_path = dir.join(format!("{file}.key"));
    match (read_optional(&cert_path)?, read_optional(&key_path)?) {
        (Some(cert_pem), Some(key_pem)) => {
            let key = KeyPair::from_pem(&key_pem).map_err(|e| corrupt(&key_path, "private key", e))?;
            Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|e| corrupt(&cert_path, "CA certificate", e))?;
            Ok(Ca { cert_pem, key_pem })
        }
        (None, None) => {
            let key = KeyPair::generate()?;
            let now = OffsetDateTime::now_utc();
            let mut params = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            // k3s names its CAs "<name>@<unix time>" so that a re-made CA is told apart.
            dn.push(DnType::CommonName, format!("{common_name}@{}", now.unix_timestamp()));
            params.distinguished_name = dn;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages =
                vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
            params.not_before = now - Duration::hours(1);
            params.not_after = now + CA_LIFETIME;
            let cert = params.self_signed(&key)?;
            // The key goes first: a certificate without its key is useless, a
            // key without its certificate is re-made on the next start.
            write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
            Ok(Ca { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
        }
        (Some(_), None) => Err(PkiError::Corrupt {
            path: key_path,
            what: "private key",
            detail: format!("missing, but {} exists; restore it from a backup", cert_path.display()),
        }),
        (None, Some(_)) => Err(PkiError::Corrupt {
            path: cert_path,
            what: "CA certificate",
            detail: format!("missing, but {} exists; restore it from a backup", key_path.display()),
        }),
    }
}

pub(crate) fn leaf_params(
    common_name: &str,
    organizations: &[&str],
    sans: &BTreeSet<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::new())?;
    let mut dn = DistinguishedName::new();
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.subject_alt_names = sans
        .iter()
        .map(|name| match name.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => Ok(SanType::DnsName(name.clone().try_into()?)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![usage];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + LEAF_LIFETIME;
    Ok(params)
}

/// Loads `<file>.crt`/`.key`, or issues them from `ca` when they are
/// missing, near expiry, or `fits` rejects their SANs.
fn ensure_leaf(
    dir: &Path,
    file: &str,
    ca: &Ca,
    fits: impl Fn(Option<&BTreeSet<String>>) -> bool,
    params: impl Fn() -> Result<CertificateParams, PkiError>,
) -> Result<(String, String), PkiError> {
    let cert_path = dir.join(format!("{file}.crt"));
    let key_path = dir.join(format!("{file}.key"));
    if let (Some(cert_pem), Some(key_pem)) = (read_optional(&cert_path)?, read_optional(&key_path)?) {
        KeyPair::from_pem(&key_pem).map_err(|e| corrupt(&key_path, "private key", e))?;
        let (sans, not_after) = inspect(&cert_pem).map_err(|e| corrupt(&cert_path, "certificate", e))?;
        let fresh = not_after - OffsetDateTime::now_utc() > RENEW_BEFORE;
        if fresh && fits(Some(&sans)) {
            return Ok((cert_pem, key_pem));
        }
        tracing::info!(cert = %cert_path.display(), "re-issuing a certificate (expiring, or its names changed)");
    }
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(|e| corrupt(&dir.join("ca.key"), "private key", e))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)
        .map_err(|e| corrupt(&dir.join("ca.crt"), "CA certificate", e))?;
    let key = KeyPair::generate()?;
    let cert = params()?.signed_by(&key, &issuer)?;
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A certificate's subject alternative names and expiry.
fn inspect(pem: &str) -> Result<(BTreeSet<String>, OffsetDateTime), String> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let cert = parsed.parse_x509().map_err(|e| e.to_string())?;
    let mut sans = BTreeSet::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => {
                    sans.insert(dns.to_string());
                }
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    sans.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    let not_after =
        OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp()).map_err(|e| e.to_string())?;
    Ok((sans, not_after))
}

fn corrupt(path: &Path, what: &'static str, err: impl std::fmt::Display) -> PkiError {
    PkiError::Corrupt { path: path.to_path_buf(), what, detail: err.to_string() }
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PkiError::Write { path: dir.to_path_buf(), source })
}

fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Read { path: path.to_path_buf(), source }),
    }
}

/// Writes through a temporary file and a rename, so a crash leaves the old
/// file or the new one, never half of one.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| PkiError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp).map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(extra: &[&str]) -> ServingNames {
        ServingNames {
            hostname: "pi1".into(),
            ips: vec!["192.168.1.10".parse().expect("ip")],
            extra: extra.iter().map(|s| s.to_string()).collect(),
            service_ip: Some("10.43.0.1".parse().expect("ip")),
        }
    }

    #[test]
    fn made_once_then_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Pki::ensure(dir.path(), &names(&[])).expect("first");
        let second = Pki::ensure(dir.path(), &names(&[])).expect("second");
        assert_eq!(first.server_ca_pem, second.server_ca_pem);
        assert_eq!(first.serving_cert_pem, second.serving_cert_pem);
        assert_eq!(first.admin_key_pem, second.admin_key_pem);
        assert_eq!(first.kubelet_client_cert_pem, second.kubelet_client_cert_pem);
        let (_, parsed) = x509_parser::pem::parse_x509_pem(first.kubelet_client_cert_pem.as_bytes()).expect("pem");
        let cert = parsed.parse_x509().expect("x509");
        assert_eq!(cert.subject().to_string(), "O=system:masters, CN=system:kube-apiserver");
        let (_, ca) = x509_parser::pem::parse_x509_pem(first.client_ca_pem.as_bytes()).expect("ca pem");
        assert_eq!(cert.issuer().to_string(), ca.parse_x509().expect("ca").subject().to_string());
        assert_eq!(first.service_account_key_pem, second.service_account_key_pem);
        let (sans, _) = inspect(&first.serving_cert_pem).expect("inspect");
        for want in ["pi1", "192.168.1.10", "10.43.0.1", "127.0.0.1", "kubernetes.default.svc.cluster.local"] {
            assert!(sans.contains(want), "{want} missing from {sans:?}");
        }
    }

    #[test]
    fn a_new_tls_san_reissues_the_serving_cert_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Pki::ensure(dir.path(), &names(&[])).expect("first");
        let second = Pki::ensure(dir.path(), &names(&["vip.home.arpa", "192.168.1.100"])).expect("second");
        assert_eq!(first.server_ca_pem, second.server_ca_pem);
        assert_eq!(first.admin_cert_pem, second.admin_cert_pem);
        assert_ne!(first.serving_cert_pem, second.serving_cert_pem);
        let (sans, _) = inspect(&second.serving_cert_pem).expect("inspect");
        assert!(sans.contains("vip.home.arpa") && sans.contains("192.168.1.100"));
    }

    #[test]
    fn a_damaged_key_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        Pki::ensure(dir.path(), &names(&[])).expect("first");
        std::fs::write(dir.path().join("client-ca.key"), "garbage").expect("write");
        let err = Pki::ensure(dir.path(), &names(&[])).expect_err("must refuse");
        assert!(err.to_string().contains("client-ca.key"), "{err}");
        std::fs::remove_file(dir.path().join("client-ca.key")).expect("rm");
        let err = Pki::ensure(dir.path(), &names(&[])).expect_err("must refuse");
        assert!(err.to_string().contains("client-ca.key") && err.to_string().contains("missing"), "{err}");
    }
}
