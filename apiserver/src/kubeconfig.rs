//! The admin kubeconfig k3s users copy off the server: cluster, user and
//! context all named `default`, the server CA and the admin's client
//! certificate embedded, written with the mode `--write-kubeconfig-mode`
//! asks for.

use std::path::Path;

use base64::Engine;

use crate::pki::{Pki, PkiError, write_file};

pub fn render(pki: &Pki, server_url: &str) -> String {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());
    format!(
        "apiVersion: v1\n\
         clusters:\n\
         - cluster:\n    certificate-authority-data: {ca}\n    server: {server_url}\n  name: default\n\
         contexts:\n\
         - context:\n    cluster: default\n    user: default\n  name: default\n\
         current-context: default\n\
         kind: Config\n\
         preferences: {{}}\n\
         users:\n\
         - name: default\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(&pki.server_ca_pem),
        cert = b64(&pki.admin_cert_pem),
        key = b64(&pki.admin_key_pem),
    )
}

/// Writes the kubeconfig to `path`, creating its directory.
pub fn write(pki: &Pki, server_url: &str, path: &Path, mode: u32) -> Result<(), PkiError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Write { path: dir.to_path_buf(), source })?;
    }
    write_file(path, render(pki, server_url).as_bytes(), mode)?;
    // The mode of an existing file is not changed by open(); set it explicitly.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| PkiError::Write { path: path.to_path_buf(), source })
}
