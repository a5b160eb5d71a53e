//! The store on an `https://` client URL with client-certificate
//! authentication, driven by real etcdctl. Certificates are made with the
//! `openssl` command (Debian package openssl).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{free_port, required_program};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new(required_program("openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca"]);
    openssl(dir, &ca);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        .expect("write extensions");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("write extensions");
    for name in ["server", "client"] {
        let (key, csr, crt, ext, subj) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
            format!("/CN={name}"),
        );
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "1",
                "-extfile",
                &ext,
            ],
        );
    }
}

fn etcdctl(dir: &Path, url: &str, with_client_cert: bool, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(required_program("etcdctl", "etcd-client"));
    cmd.current_dir(dir).env("ETCDCTL_API", "3").arg(format!("--endpoints={url}")).args(["--cacert", "ca.crt"]);
    if with_client_cert {
        cmd.args(["--cert", "client.crt", "--key", "client.key"]);
    }
    cmd.args(["--command-timeout=3s", "--dial-timeout=2s"]).args(args).output().expect("run etcdctl")
}

#[test]
fn https_client_url_requires_a_client_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_certificates(dir.path());
    let url = format!("https://127.0.0.1:{}", free_port());
    let mut server = Command::new(env!("CARGO_BIN_EXE_bramble"))
        .current_dir(dir.path())
        .args(["server", "--datastore-only", "--data-dir", "data", "--etcd-listen-client-urls", &url])
        .args(["--etcd-cert-file", "server.crt", "--etcd-key-file", "server.key", "--etcd-trusted-ca-file", "ca.crt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bramble");
    let mut put = etcdctl(dir.path(), &url, true, &["put", "k", "v"]);
    for _ in 0..50 {
        if put.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        put = etcdctl(dir.path(), &url, true, &["put", "k", "v"]);
    }
    let get = etcdctl(dir.path(), &url, true, &["get", "k", "--print-value-only"]);
    let anonymous = etcdctl(dir.path(), &url, false, &["get", "k"]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(put.status.success(), "put over TLS: {}", String::from_utf8_lossy(&put.stderr));
    assert_eq!(String::from_utf8_lossy(&get.stdout), "v\n");
    assert!(!anonymous.status.success(), "a client without a certificate must be refused");
}
