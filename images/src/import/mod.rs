//! Imports image archives (OCI image layouts and `docker save` tars, plain,
//! gzip or zstd) into containerd's `k8s.io` namespace through its native API:
//! blobs into the content store under a lease, `containerd.io/gc.ref.content.*`
//! labels on every manifest and index, then an image record labelled
//! `io.cri-containerd.image=managed`. Layers are not unpacked into snapshots:
//! containerd 1.6's CRI unpacks an image when a container first needs it.
//! Pulling from registries is not done here.

mod archive;
mod containerd;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

pub use archive::ArchiveSource;
use archive::{Compression, Piece, compression_of};
use containerd::{Containerd, Written};

use crate::oci::{self, sha256_digest};
use crate::pause;

/// containerd namespace of the CRI plugin.
pub const NAMESPACE: &str = "k8s.io";
/// Label that makes containerd 1.6's CRI plugin treat an image as its own.
pub const CRI_MANAGED_LABEL: (&str, &str) = ("io.cri-containerd.image", "managed");

const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MEDIA_TYPE_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const MEDIA_TYPE_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const MEDIA_TYPE_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// What failed while importing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The containerd socket does not answer.
    #[error("cannot connect to containerd at {socket}")]
    Connect {
        socket: PathBuf,
        #[source]
        source: tonic::transport::Error,
    },
    /// The archive cannot be read or is not a tar.
    #[error("cannot read image archive {archive}")]
    Read {
        archive: String,
        #[source]
        source: std::io::Error,
    },
    /// The tar holds neither `index.json` nor `manifest.json`.
    #[error("{archive} is not an image archive: it has neither index.json nor manifest.json")]
    NotAnImageArchive { archive: String },
    /// A JSON document in the archive is malformed.
    #[error("{archive}: malformed {document}")]
    BadDocument {
        archive: String,
        document: String,
        #[source]
        source: serde_json::Error,
    },
    /// A file that a manifest or `manifest.json` names is neither in the archive nor in containerd.
    #[error("{archive}: {what} is missing from the archive")]
    Missing { archive: String, what: String },
    /// A blob's bytes do not match the digest that names it.
    #[error("{archive}: {path} does not match its digest {digest}")]
    DigestMismatch { archive: String, path: String, digest: String },
    /// containerd refused a call.
    #[error("containerd {operation} failed for {archive}")]
    Containerd {
        archive: String,
        operation: &'static str,
        #[source]
        source: tonic::Status,
    },
    /// The air-gap image directory cannot be listed.
    #[error("cannot list image directory {dir}")]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The reading thread died.
    #[error("reading {archive} stopped unexpectedly")]
    ReaderGone { archive: String },
}

/// The outcome of importing one file of an image directory.
#[derive(Debug)]
pub struct ArchiveImport {
    /// The archive file.
    pub path: PathBuf,
    /// The image names it created or updated, or why it failed.
    pub result: Result<Vec<String>, ImportError>,
}

/// Imports `source` into containerd at `socket`; returns the image names.
pub async fn import_archive(socket: &Path, source: impl Into<ArchiveSource>) -> Result<Vec<String>, ImportError> {
    Importer::connect(socket).await?.import_archive(source.into()).await
}

/// Imports every `*.tar`, `*.tar.gz`, `*.tgz`, `*.tar.zst` (and `*.tzst`) in
/// `dir`, in name order, as k3s does with `agent/images/`. A broken archive
/// does not stop the others: each file has its own result (failures are also
/// logged). A missing directory is no error and imports nothing.
pub async fn import_dir(socket: &Path, dir: &Path) -> Result<Vec<ArchiveImport>, ImportError> {
    let files = archives_in(dir)?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let importer = Importer::connect(socket).await?;
    let mut out = Vec::new();
    for path in files {
        let result = importer.import_archive(ArchiveSource::Path(path.clone())).await;
        match &result {
            Ok(names) => tracing::info!(archive = %path.display(), images = ?names, "imported image archive"),
            Err(e) => tracing::warn!(archive = %path.display(), error = %error_chain(e), "image archive not imported"),
        }
        out.push(ArchiveImport { path, result });
    }
    Ok(out)
}

/// Imports the pause image unless containerd's [`pause::IMAGE`] already is
/// this build's (same target digest, content present; an older build's pause
/// under the same tag is replaced). Returns whether it imported.
pub async fn ensure_pause(socket: &Path) -> Result<bool, ImportError> {
    let importer = Importer::connect(socket).await?;
    let target = importer.containerd.image_target(pause::IMAGE).await.map_err(|e| importer.failed("Images.Get", e))?;
    if let Some(target) = target
        && target.digest == pause::target_digest()
        && importer.containerd.has_blob(&target.digest).await.map_err(|e| importer.failed("Content.Info", e))?
    {
        return Ok(false);
    }
    let source = ArchiveSource::Bytes { label: "the pause image".to_string(), bytes: pause::archive() };
    importer.import_archive(source).await?;
    Ok(true)
}

/// The archive files of an image directory, sorted by name.
pub fn archives_in(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ImportError::ReadDir { dir: dir.to_path_buf(), source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ImportError::ReadDir { dir: dir.to_path_buf(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_archive = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst"].iter().any(|ext| name.ends_with(ext));
        if is_archive && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// A connection to containerd that imports archives.
#[derive(Debug, Clone)]
pub struct Importer {
    containerd: Containerd,
    /// The archive being imported, for error messages.
    label: String,
}

/// A file of the archive: in memory, or already written to containerd.
#[derive(Debug)]
enum File {
    Memory(Vec<u8>),
    Stored(Written),
}

/// Everything one pass over the archive learned.
#[derive(Debug, Default)]
struct Files {
    by_path: HashMap<String, File>,
}

impl Importer {
    /// Connects to containerd's socket.
    pub async fn connect(socket: &Path) -> Result<Importer, ImportError> {
        let channel = containerd_client::connect(socket)
            .await
            .map_err(|source| ImportError::Connect { socket: socket.to_path_buf(), source })?;
        Ok(Importer { containerd: Containerd::new(channel), label: String::new() })
    }

    fn failed(&self, operation: &'static str, source: tonic::Status) -> ImportError {
        ImportError::Containerd { archive: self.label.clone(), operation, source }
    }

    /// Imports one archive; returns the image names it created or updated.
    pub async fn import_archive(&self, source: ArchiveSource) -> Result<Vec<String>, ImportError> {
        let mut this = self.clone();
        this.label = source.label();
        let lease = this.containerd.create_lease().await.map_err(|e| this.failed("Leases.Create", e))?;
        let containerd = this.containerd.with_lease(&lease);
        let this = Importer { containerd, label: this.label };
        let result = this.import_under_lease(source).await;
        // The image records now hold everything; the lease only guarded the
        // window between writing blobs and naming them.
        if let Err(e) = this.containerd.delete_lease(&lease).await {
            tracing::warn!(lease, error = %e, "cannot delete import lease; it expires on its own");
        }
        result
    }

    async fn import_under_lease(&self, source: ArchiveSource) -> Result<Vec<String>, ImportError> {
        let files = self.read_archive(source).await?;
        let images = if files.by_path.contains_key("index.json") {
            self.oci_images(&files).await?
        } else if files.by_path.contains_key("manifest.json") {
            self.docker_images(&files).await?
        } else {
            return Err(ImportError::NotAnImageArchive { archive: self.label.clone() });
        };
        let mut names = Vec::new();
        for (name, target) in images {
            self.containerd
                .put_image(&name, target, [CRI_MANAGED_LABEL])
                .await
                .map_err(|e| self.failed("Images.Create/Update", e))?;
            names.push(name);
        }
        Ok(names)
    }

    /// One pass over the archive: small files kept, large files streamed
    /// into the content store as they are read.
    async fn read_archive(&self, source: ArchiveSource) -> Result<Files, ImportError> {
        let (tx, mut rx) = mpsc::channel(8);
        let reader = tokio::task::spawn_blocking(move || archive::read_pieces(source, tx));
        let mut files = Files::default();
        let read_error = |source| ImportError::Read { archive: self.label.clone(), source };
        while let Some(piece) = rx.recv().await {
            match piece.map_err(read_error)? {
                Piece::Small { path, data } => {
                    files.by_path.insert(path, File::Memory(data));
                }
                Piece::Begin { path, size } => {
                    let expected = blob_digest(&path);
                    let mut upload = self
                        .containerd
                        .begin_write(expected.as_deref(), size)
                        .await
                        .map_err(|e| self.failed("Content.Write", e))?;
                    let mut hasher = Sha256::new();
                    let mut head = Vec::new();
                    loop {
                        match rx.recv().await {
                            Some(Ok(Piece::Chunk(data))) => {
                                hasher.update(&data);
                                if head.is_empty() {
                                    head = data[..data.len().min(8)].to_vec();
                                }
                                if let Some(upload) = upload.as_mut() {
                                    upload.write(data).await.map_err(|e| self.failed("Content.Write", e))?;
                                }
                            }
                            Some(Ok(Piece::End)) => break,
                            Some(Err(e)) => return Err(read_error(e)),
                            Some(Ok(_)) | None => return Err(ImportError::ReaderGone { archive: self.label.clone() }),
                        }
                    }
                    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
                    if let Some(expected) = &expected
                        && *expected != digest
                    {
                        if let Some(upload) = upload {
                            upload.abort().await;
                        }
                        return Err(ImportError::DigestMismatch {
                            archive: self.label.clone(),
                            path,
                            digest: expected.clone(),
                        });
                    }
                    if let Some(upload) = upload {
                        upload.commit(&digest, BTreeMap::new()).await.map_err(|e| self.failed("Content.Write", e))?;
                    }
                    files.by_path.insert(path, File::Stored(Written { digest, size, head }));
                }
                Piece::Chunk(_) | Piece::End => return Err(ImportError::ReaderGone { archive: self.label.clone() }),
            }
        }
        reader.await.map_err(|_| ImportError::ReaderGone { archive: self.label.clone() })?;
        Ok(files)
    }

    fn document(&self, files: &Files, path: &str) -> Result<Option<Value>, ImportError> {
        match files.by_path.get(path) {
            Some(File::Memory(bytes)) => serde_json::from_slice(bytes).map(Some).map_err(|source| {
                ImportError::BadDocument { archive: self.label.clone(), document: path.to_string(), source }
            }),
            Some(File::Stored(_)) | None => Ok(None),
        }
    }

    /// The images of an OCI layout: each `index.json` entry with a name.
    async fn oci_images(&self, files: &Files) -> Result<Vec<(String, Descriptor)>, ImportError> {
        let index = self.document(files, "index.json")?.unwrap_or_default();
        let index: Index = self.parse("index.json", index)?;
        // Names that `docker save` (Docker 25+) records in manifest.json, by config digest.
        let docker_names = self.docker_names_by_config(files)?;
        let mut images = Vec::new();
        for descriptor in index.manifests {
            self.store_tree(files, &descriptor, true).await?;
            let mut names: Vec<String> = Vec::new();
            let annotations = &descriptor.annotations;
            if let Some(name) = annotations.get(oci::ANNOTATION_CONTAINERD_NAME).and_then(|n| normalize_reference(n)) {
                names.push(name);
            } else if let Some(name) = annotations.get(oci::ANNOTATION_REF_NAME).filter(|n| n.contains(['/', ':']))
                && let Some(name) = normalize_reference(name)
            {
                names.push(name);
            } else if let Some(config) = self.config_of(files, &descriptor)? {
                names.extend(docker_names.get(&config).cloned().unwrap_or_default());
            }
            if names.is_empty() {
                tracing::warn!(archive = %self.label, digest = %descriptor.digest, "index.json entry without an image name; not imported");
            }
            for name in names {
                images.push((name, descriptor.clone()));
            }
        }
        Ok(images)
    }

    fn config_of(&self, files: &Files, descriptor: &Descriptor) -> Result<Option<String>, ImportError> {
        if !is_manifest(&descriptor.media_type) {
            return Ok(None);
        }
        let path = blob_path(&descriptor.digest);
        let Some(doc) = self.document(files, &path)? else { return Ok(None) };
        let manifest: Manifest = self.parse(&path, doc)?;
        Ok(Some(manifest.config.digest))
    }

    fn docker_names_by_config(&self, files: &Files) -> Result<HashMap<String, Vec<String>>, ImportError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let Some(doc) = self.document(files, "manifest.json")? else { return Ok(out) };
        let entries: Vec<DockerEntry> = self.parse("manifest.json", doc)?;
        for entry in entries {
            if let Some(hex) = entry.config.rsplit('/').next().map(|c| c.trim_end_matches(".json")) {
                let names = entry.repo_tags.iter().filter_map(|t| normalize_reference(t));
                out.entry(format!("sha256:{hex}")).or_default().extend(names);
            }
        }
        Ok(out)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, document: &str, value: Value) -> Result<T, ImportError> {
        serde_json::from_value(value).map_err(|source| ImportError::BadDocument {
            archive: self.label.clone(),
            document: document.to_string(),
            source,
        })
    }

    /// Stores the blob `descriptor` names and, for manifests and indexes,
    /// everything below it, labelling each parent with its children.
    /// A manifest missing from an index is skipped when `required` is false
    /// (archives often carry one platform of a multi-platform index).
    async fn store_tree(&self, files: &Files, root: &Descriptor, required: bool) -> Result<(), ImportError> {
        let mut stack = vec![(root.clone(), required)];
        while let Some((descriptor, required)) = stack.pop() {
            let path = blob_path(&descriptor.digest);
            let present = self.store_blob(files, &path, &descriptor.digest).await?;
            if !present {
                if required {
                    return Err(ImportError::Missing {
                        archive: self.label.clone(),
                        what: format!("blob {}", descriptor.digest),
                    });
                }
                tracing::debug!(archive = %self.label, digest = %descriptor.digest, "manifest of another platform not in the archive");
                continue;
            }
            let mut labels = BTreeMap::new();
            if is_index(&descriptor.media_type) {
                let Some(doc) = self.document(files, &path)? else { continue };
                let index: Index = self.parse(&path, doc)?;
                for (i, child) in index.manifests.into_iter().enumerate() {
                    labels.insert(format!("containerd.io/gc.ref.content.m.{i}"), child.digest.clone());
                    stack.push((child, false));
                }
            } else if is_manifest(&descriptor.media_type) {
                let Some(doc) = self.document(files, &path)? else { continue };
                let manifest: Manifest = self.parse(&path, doc)?;
                labels.insert("containerd.io/gc.ref.content.config".to_string(), manifest.config.digest.clone());
                stack.push((manifest.config, true));
                for (i, layer) in manifest.layers.into_iter().enumerate() {
                    labels.insert(format!("containerd.io/gc.ref.content.l.{i}"), layer.digest.clone());
                    stack.push((layer, true));
                }
            }
            if !labels.is_empty() {
                self.containerd
                    .add_labels(&descriptor.digest, labels)
                    .await
                    .map_err(|e| self.failed("Content.Update", e))?;
            }
        }
        Ok(())
    }

    /// Makes sure the content store has `digest`: written from memory if the
    /// archive has it and containerd does not. Returns whether it is there.
    async fn store_blob(&self, files: &Files, path: &str, digest: &str) -> Result<bool, ImportError> {
        match files.by_path.get(path) {
            Some(File::Stored(_)) => Ok(true),
            Some(File::Memory(bytes)) => {
                if sha256_digest(bytes) != digest {
                    return Err(ImportError::DigestMismatch {
                        archive: self.label.clone(),
                        path: path.to_string(),
                        digest: digest.to_string(),
                    });
                }
                self.write_memory(digest, bytes).await?;
                Ok(true)
            }
            None => self.containerd.has_blob(digest).await.map_err(|e| self.failed("Content.Info", e)),
        }
    }

    async fn write_memory(&self, digest: &str, bytes: &[u8]) -> Result<(), ImportError> {
        if self.containerd.has_blob(digest).await.map_err(|e| self.failed("Content.Info", e))? {
            return Ok(());
        }
        self.containerd.write_all(digest, bytes).await.map_err(|e| self.failed("Content.Write", e))
    }

    /// The images of a `docker save` archive: its manifest.json entries made
    /// into Docker v2 manifests (written as new blobs).
    async fn docker_images(&self, files: &Files) -> Result<Vec<(String, Descriptor)>, ImportError> {
        let doc = self.document(files, "manifest.json")?.unwrap_or_default();
        let entries: Vec<DockerEntry> = self.parse("manifest.json", doc)?;
        let mut images = Vec::new();
        for entry in entries {
            let config_path = archive_path(&entry.config);
            let Some(File::Memory(config)) = files.by_path.get(&config_path) else {
                return Err(ImportError::Missing {
                    archive: self.label.clone(),
                    what: format!("config {}", entry.config),
                });
            };
            let config_digest = sha256_digest(config);
            self.write_memory(&config_digest, config).await?;
            let mut layers = Vec::new();
            for layer in &entry.layers {
                let layer_path = archive_path(layer);
                let (digest, size, head) = match files.by_path.get(&layer_path) {
                    Some(File::Memory(bytes)) => {
                        let digest = sha256_digest(bytes);
                        self.write_memory(&digest, bytes).await?;
                        (digest, bytes.len() as u64, bytes[..bytes.len().min(8)].to_vec())
                    }
                    Some(File::Stored(written)) => (written.digest.clone(), written.size, written.head.clone()),
                    None => {
                        return Err(ImportError::Missing {
                            archive: self.label.clone(),
                            what: format!("layer {layer}"),
                        });
                    }
                };
                let media_type = match compression_of(&head) {
                    Compression::None => MEDIA_TYPE_DOCKER_LAYER,
                    Compression::Gzip => MEDIA_TYPE_DOCKER_LAYER_GZIP,
                    Compression::Zstd => MEDIA_TYPE_OCI_LAYER_ZSTD,
                };
                layers.push(json!({"mediaType": media_type, "digest": digest, "size": size}));
            }
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_TYPE_DOCKER_MANIFEST,
                "config": {"mediaType": MEDIA_TYPE_DOCKER_CONFIG, "digest": config_digest, "size": config.len()},
                "layers": layers,
            });
            let manifest = serde_json::to_vec(&manifest).expect("JSON values serialise");
            let digest = sha256_digest(&manifest);
            self.write_memory(&digest, &manifest).await?;
            let mut labels = BTreeMap::new();
            labels.insert("containerd.io/gc.ref.content.config".to_string(), config_digest.clone());
            for (i, layer) in layers.iter().enumerate() {
                labels.insert(
                    format!("containerd.io/gc.ref.content.l.{i}"),
                    layer["digest"].as_str().unwrap_or_default().to_string(),
                );
            }
            self.containerd.add_labels(&digest, labels).await.map_err(|e| self.failed("Content.Update", e))?;
            let descriptor = Descriptor {
                media_type: MEDIA_TYPE_DOCKER_MANIFEST.to_string(),
                digest,
                size: manifest.len() as i64,
                annotations: BTreeMap::new(),
            };
            let names: Vec<String> = entry.repo_tags.iter().filter_map(|t| normalize_reference(t)).collect();
            if names.is_empty() {
                tracing::warn!(archive = %self.label, config = %entry.config, "manifest.json entry without RepoTags; not imported");
            }
            images.extend(names.into_iter().map(|name| (name, descriptor.clone())));
        }
        Ok(images)
    }
}

/// An OCI descriptor as index.json and manifests carry it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    pub(crate) size: i64,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn is_index(media_type: &str) -> bool {
    media_type == oci::MEDIA_TYPE_OCI_INDEX || media_type == MEDIA_TYPE_DOCKER_LIST
}

fn is_manifest(media_type: &str) -> bool {
    media_type == oci::MEDIA_TYPE_OCI_MANIFEST || media_type == MEDIA_TYPE_DOCKER_MANIFEST
}

fn blob_path(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => format!("blobs/{algorithm}/{hex}"),
        None => format!("blobs/{digest}"),
    }
}

/// The digest a `blobs/<alg>/<hex>` path names, if it is one.
fn blob_digest(path: &str) -> Option<String> {
    let hex = path.strip_prefix("blobs/sha256/")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

fn archive_path(name: &str) -> String {
    name.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

/// A reference as containerd stores it: `busybox` becomes
/// `docker.io/library/busybox:latest`, `me/app:1` becomes
/// `docker.io/me/app:1`; `None` for something that is no reference.
pub fn normalize_reference(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return None;
    }
    let (first, rest) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest.to_string()),
        _ => ("docker.io", name.to_string()),
    };
    let mut path = rest;
    if first == "docker.io" && !path.contains('/') {
        path = format!("library/{path}");
    }
    let last = path.rsplit('/').next().unwrap_or(&path);
    if !last.contains(':') && !path.contains('@') {
        path.push_str(":latest");
    }
    Some(format!("{first}/{path}"))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalized_as_containerd_does() {
        for (name, want) in [
            ("busybox", Some("docker.io/library/busybox:latest")),
            ("busybox:1.36", Some("docker.io/library/busybox:1.36")),
            ("me/app:1", Some("docker.io/me/app:1")),
            ("docker.io/bramble/pause:0.1", Some("docker.io/bramble/pause:0.1")),
            ("localhost:5000/x", Some("localhost:5000/x:latest")),
            ("localhost/x:2", Some("localhost/x:2")),
            ("registry.k8s.io/pause@sha256:abc", Some("registry.k8s.io/pause@sha256:abc")),
            ("", None),
            ("has space", None),
        ] {
            assert_eq!(normalize_reference(name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn blob_paths_round_trip() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(blob_digest(&blob_path(&digest)), Some(digest));
        assert_eq!(blob_digest("blobs/sha256/short"), None);
        assert_eq!(blob_digest("manifest.json"), None);
    }

    #[test]
    fn image_directory_lists_archives_only_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.tar", "a.tar.zst", "c.tgz", "d.tar.gz", "notes.txt", "e.tar.bak"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.tar")).unwrap();
        let names: Vec<_> = archives_in(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.tar.zst", "b.tar", "c.tgz", "d.tar.gz"]);
        assert!(archives_in(&dir.path().join("absent")).unwrap().is_empty());
    }
}
