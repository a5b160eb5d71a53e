//! Builds small container images from files in memory: one gzip layer, an OCI
//! image config and manifest, written out as an OCI image layout tar or as a
//! `docker save` tar. Output is deterministic (every mtime is 0, entries
//! sorted, gzip header without a time), so digests are stable across builds.
//! It does not pull, unpack or read images; `import` does the reading.
//! `push` sends a built image to a registry over plain HTTP (tests only).

mod push;

pub use push::{PushError, push};

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// OCI image manifest media type.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config media type.
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip-compressed layer media type.
pub const MEDIA_TYPE_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// containerd's annotation with an image's full name in an `index.json`.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The OCI annotation naming a manifest in an `index.json` (the tag, as containerd writes it).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One content-addressed blob of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Media type of the blob as its parent's descriptor names it.
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    /// The blob itself.
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Blob { media_type: media_type.to_string(), digest: sha256_digest(&bytes), bytes }
    }

    /// The blob's OCI descriptor (`mediaType`, `digest`, `size`).
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }

    fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// The blobs of a built image, as a registry push needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBlobs {
    /// The full image name the builder was given.
    pub name: String,
    /// Go architecture (`amd64`, `arm64`).
    pub arch: String,
    /// The OCI image manifest.
    pub manifest: Blob,
    /// The OCI image config.
    pub config: Blob,
    /// The gzip layers, bottom first.
    pub layers: Vec<Blob>,
    /// The uncompressed layer tars, in the same order (docker archives carry these).
    pub layer_tars: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Entry {
    File { bytes: Vec<u8>, mode: u32 },
    Dir,
    Symlink { target: String },
}

/// Builds a one-layer image for one platform from files in memory.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    name: String,
    arch: String,
    entries: BTreeMap<String, Entry>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
    exposed_ports: Vec<String>,
}

impl ImageBuilder {
    /// An empty image called `name` (a full reference such as
    /// `docker.io/bramble/pause:0.1`) for Linux on Go architecture `arch`.
    pub fn new(name: impl Into<String>, arch: impl Into<String>) -> Self {
        ImageBuilder {
            name: name.into(),
            arch: arch.into(),
            entries: BTreeMap::new(),
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            workdir: None,
            user: None,
            exposed_ports: Vec::new(),
        }
    }

    /// A regular file at `path` (leading `/` optional) with permission bits `mode`.
    /// Parent directories are added as needed.
    pub fn file(mut self, path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Self {
        self.insert(path, Entry::File { bytes: bytes.into(), mode });
        self
    }

    /// A directory (mode 0755).
    pub fn dir(mut self, path: &str) -> Self {
        self.insert(path, Entry::Dir);
        self
    }

    /// A symbolic link at `path` pointing at `target` (kept verbatim).
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.insert(path, Entry::Symlink { target: target.to_string() });
        self
    }

    /// The image's `Entrypoint`.
    pub fn entrypoint<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.entrypoint = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// The image's `Cmd`.
    pub fn cmd<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.cmd = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// The image's `Env` (`KEY=value` strings).
    pub fn env<S: Into<String>>(mut self, vars: impl IntoIterator<Item = S>) -> Self {
        self.env.extend(vars.into_iter().map(Into::into));
        self
    }

    /// The image's `WorkingDir`.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// The image's `User` (`uid`, `uid:gid` or a name).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// One of the image's `ExposedPorts`, such as `80/tcp`.
    pub fn exposed_port(mut self, port: impl Into<String>) -> Self {
        self.exposed_ports.push(port.into());
        self
    }

    /// The image's full name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn insert(&mut self, path: &str, entry: Entry) {
        let path = clean_path(path);
        let mut parent = String::new();
        for component in path.split('/').take(path.split('/').count().saturating_sub(1)) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            self.entries.entry(parent.clone()).or_insert(Entry::Dir);
        }
        if !path.is_empty() {
            self.entries.insert(path, entry);
        }
    }

    /// The uncompressed layer tar: entries in path order, owned by root, mtime 0.
    fn layer_tar(&self) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_ustar();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            // Writing to a Vec cannot fail; a name too long for ustar is the
            // only error and then GNU long-name entries are used instead.
            let result = match entry {
                Entry::File { bytes, mode } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, path, bytes.as_slice())
                }
                Entry::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, path, std::io::empty())
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, path, target)
                }
            };
            result.expect("writing a tar into memory");
        }
        tar.into_inner().expect("finishing a tar in memory")
    }

    fn config_json(&self, diff_ids: &[String]) -> Vec<u8> {
        let mut config = serde_json::Map::new();
        if let Some(entrypoint) = &self.entrypoint {
            config.insert("Entrypoint".into(), json!(entrypoint));
        }
        if let Some(cmd) = &self.cmd {
            config.insert("Cmd".into(), json!(cmd));
        }
        if !self.env.is_empty() {
            config.insert("Env".into(), json!(self.env));
        }
        if let Some(workdir) = &self.workdir {
            config.insert("WorkingDir".into(), json!(workdir));
        }
        if let Some(user) = &self.user {
            config.insert("User".into(), json!(user));
        }
        if !self.exposed_ports.is_empty() {
            let ports: serde_json::Map<String, Value> =
                self.exposed_ports.iter().map(|p| (p.clone(), json!({}))).collect();
            config.insert("ExposedPorts".into(), Value::Object(ports));
        }
        let doc = json!({
            "created": "1970-01-01T00:00:00Z",
            "architecture": self.arch,
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "bramble images::oci"}],
        });
        serde_json::to_vec(&doc).expect("JSON values serialise")
    }

    /// Builds the layer, config and manifest.
    pub fn blobs(&self) -> ImageBlobs {
        let layer_tar = self.layer_tar();
        let diff_id = sha256_digest(&layer_tar);
        let layer = Blob::new(MEDIA_TYPE_OCI_LAYER_GZIP, gzip(&layer_tar));
        let config = Blob::new(MEDIA_TYPE_OCI_CONFIG, self.config_json(std::slice::from_ref(&diff_id)));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        });
        let manifest = Blob::new(MEDIA_TYPE_OCI_MANIFEST, serde_json::to_vec(&manifest).expect("JSON serialises"));
        ImageBlobs {
            name: self.name.clone(),
            arch: self.arch.clone(),
            manifest,
            config,
            layers: vec![layer],
            layer_tars: vec![layer_tar],
        }
    }

    /// The image as an OCI image layout tar (`oci-layout`, `index.json`, `blobs/sha256/*`).
    pub fn oci_archive(&self) -> Vec<u8> {
        oci_archive(&[self.blobs()])
    }

    /// The image as a `docker save` tar (`manifest.json`, `<hex>.json`, `<hex>/layer.tar`).
    pub fn docker_archive(&self) -> Vec<u8> {
        let image = self.blobs();
        let mut tar = tar::Builder::new(Vec::new());
        let config_name = format!("{}.json", image.config.hex());
        append_file(&mut tar, &config_name, &image.config.bytes);
        let mut layer_names = Vec::new();
        for layer_tar in &image.layer_tars {
            let hex = hex::encode(Sha256::digest(layer_tar));
            let name = format!("{hex}/layer.tar");
            append_file(&mut tar, &name, layer_tar);
            layer_names.push(name);
        }
        let manifest = json!([{"Config": config_name, "RepoTags": [image.name], "Layers": layer_names}]);
        append_file(&mut tar, "manifest.json", &serde_json::to_vec(&manifest).expect("JSON serialises"));
        tar.into_inner().expect("finishing a tar in memory")
    }
}

/// An OCI image layout: its `index.json` and its blobs by hex digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The top-level `index.json`.
    pub index: Value,
    /// Every blob, keyed by the hex part of its sha256 digest.
    pub blobs: BTreeMap<String, Vec<u8>>,
}

impl Layout {
    /// The layout of `images`. One image becomes one `index.json` entry (its
    /// manifest, named); several images with the same name (one per
    /// architecture) become one named entry pointing at a nested image index
    /// that lists each manifest with its platform.
    pub fn of(images: &[ImageBlobs]) -> Layout {
        let mut by_name: BTreeMap<&str, Vec<&ImageBlobs>> = BTreeMap::new();
        for image in images {
            by_name.entry(image.name.as_str()).or_default().push(image);
        }
        let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut top = Vec::new();
        for (name, platforms) in by_name {
            for image in &platforms {
                for blob in std::iter::once(&image.manifest).chain([&image.config]).chain(&image.layers) {
                    blobs.insert(blob.hex().to_string(), blob.bytes.clone());
                }
            }
            let mut descriptor = if let [image] = platforms.as_slice() {
                platform_descriptor(image)
            } else {
                let index = json!({
                    "schemaVersion": 2,
                    "mediaType": MEDIA_TYPE_OCI_INDEX,
                    "manifests": platforms.iter().map(|image| platform_descriptor(image)).collect::<Vec<_>>(),
                });
                let index = Blob::new(MEDIA_TYPE_OCI_INDEX, serde_json::to_vec(&index).expect("JSON serialises"));
                blobs.insert(index.hex().to_string(), index.bytes.clone());
                index.descriptor()
            };
            descriptor["annotations"] = json!({
                ANNOTATION_CONTAINERD_NAME: name,
                ANNOTATION_REF_NAME: reference_tag(name),
            });
            top.push(descriptor);
        }
        Layout { index: json!({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": top}), blobs }
    }

    /// The digest of the `index.json` entry named `name` (what containerd's
    /// image record for that name should point at).
    pub fn target_digest(&self, name: &str) -> Option<&str> {
        self.index["manifests"]
            .as_array()?
            .iter()
            .find(|m| m["annotations"][ANNOTATION_CONTAINERD_NAME] == name)?["digest"]
            .as_str()
    }

    /// The layout as a tar (`oci-layout`, `index.json`, `blobs/sha256/*`).
    pub fn archive(&self) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        append_file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        append_file(&mut tar, "index.json", &serde_json::to_vec(&self.index).expect("JSON serialises"));
        for (hex, bytes) in &self.blobs {
            append_file(&mut tar, &format!("blobs/sha256/{hex}"), bytes);
        }
        tar.into_inner().expect("finishing a tar in memory")
    }
}

/// An OCI image layout tar holding `images` (see [`Layout::of`]).
pub fn oci_archive(images: &[ImageBlobs]) -> Vec<u8> {
    Layout::of(images).archive()
}

fn platform_descriptor(image: &ImageBlobs) -> Value {
    let mut descriptor = image.manifest.descriptor();
    descriptor["platform"] = json!({"architecture": image.arch, "os": "linux"});
    descriptor
}

/// The tag (or digest) part of a reference, as containerd's exporter puts it
/// into `org.opencontainers.image.ref.name`; the whole name if it has none.
fn reference_tag(name: &str) -> &str {
    if let Some((_, digest)) = name.split_once('@') {
        return digest;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag,
        None => name,
    }
}

fn append_file(tar: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(bytes.len() as u64);
    tar.append_data(&mut header, path, bytes).expect("writing a tar into memory");
}

fn clean_path(path: &str) -> String {
    path.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // GzBuilder writes mtime 0 and no file name unless told otherwise.
    let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("compressing into memory");
    encoder.finish().expect("compressing into memory")
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn busybox_like() -> ImageBuilder {
        ImageBuilder::new("docker.io/bramble/test:1", "amd64")
            .file("/bin/tool", b"#!/bin/sh\necho hi\n".to_vec(), 0o755)
            .symlink("/bin/sh", "tool")
            .dir("/tmp")
            .entrypoint(["/bin/tool"])
            .cmd(["a", "b"])
            .env(["PATH=/bin"])
            .workdir("/tmp")
            .user("65534")
            .exposed_port("80/tcp")
    }

    fn entries(tar_bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut archive = tar::Archive::new(tar_bytes);
        let mut out = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.insert(path, data);
        }
        out
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(busybox_like().oci_archive(), busybox_like().oci_archive());
        assert_eq!(busybox_like().docker_archive(), busybox_like().docker_archive());
    }

    #[test]
    fn oci_archive_is_a_complete_layout() {
        let files = entries(&busybox_like().oci_archive());
        assert_eq!(files["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
        let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let top = &index["manifests"][0];
        assert_eq!(top["mediaType"], MEDIA_TYPE_OCI_MANIFEST);
        assert_eq!(top["annotations"][ANNOTATION_CONTAINERD_NAME], "docker.io/bramble/test:1");
        assert_eq!(top["annotations"][ANNOTATION_REF_NAME], "1");
        assert_eq!(top["platform"]["architecture"], "amd64");
        // Every blob is stored under its own digest.
        for (path, bytes) in &files {
            if let Some(hex) = path.strip_prefix("blobs/sha256/") {
                assert_eq!(sha256_digest(bytes), format!("sha256:{hex}"));
            }
        }
        let manifest_hex = top["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let manifest: Value = serde_json::from_slice(&files[&format!("blobs/sha256/{manifest_hex}")]).unwrap();
        assert_eq!(manifest["layers"][0]["mediaType"], MEDIA_TYPE_OCI_LAYER_GZIP);
        let config_hex = manifest["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let config: Value = serde_json::from_slice(&files[&format!("blobs/sha256/{config_hex}")]).unwrap();
        assert_eq!(config["config"]["Entrypoint"], json!(["/bin/tool"]));
        assert_eq!(config["config"]["Cmd"], json!(["a", "b"]));
        assert_eq!(config["config"]["ExposedPorts"], json!({"80/tcp": {}}));
        assert_eq!(config["config"]["User"], "65534");
        assert_eq!(config["config"]["WorkingDir"], "/tmp");
        // The layer's diff_id is the digest of the uncompressed tar.
        let layer_hex = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let mut layer_tar = Vec::new();
        flate2::read::GzDecoder::new(files[&format!("blobs/sha256/{layer_hex}")].as_slice())
            .read_to_end(&mut layer_tar)
            .unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256_digest(&layer_tar));
    }

    #[test]
    fn layer_has_parents_first_and_keeps_modes_and_links() {
        let image = busybox_like().blobs();
        let mut archive = tar::Archive::new(image.layer_tars[0].as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            let link = entry.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
            seen.push((
                entry.path().unwrap().to_string_lossy().into_owned(),
                header.entry_type(),
                header.mode().unwrap(),
                header.mtime().unwrap(),
                link,
            ));
        }
        assert_eq!(
            seen,
            vec![
                ("bin".into(), tar::EntryType::Directory, 0o755, 0, None),
                ("bin/sh".into(), tar::EntryType::Symlink, 0o777, 0, Some("tool".into())),
                ("bin/tool".into(), tar::EntryType::Regular, 0o755, 0, None),
                ("tmp".into(), tar::EntryType::Directory, 0o755, 0, None),
            ]
        );
    }

    #[test]
    fn docker_archive_names_config_and_layers() {
        let image = busybox_like().blobs();
        let files = entries(&busybox_like().docker_archive());
        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["RepoTags"], json!(["docker.io/bramble/test:1"]));
        let config = manifest[0]["Config"].as_str().unwrap();
        assert_eq!(files[config], image.config.bytes);
        let layer = manifest[0]["Layers"][0].as_str().unwrap();
        assert_eq!(files[layer], image.layer_tars[0]);
    }

    #[test]
    fn two_platforms_share_one_named_index() {
        let amd = busybox_like().blobs();
        let arm = ImageBuilder::new("docker.io/bramble/test:1", "arm64").blobs();
        let files = entries(&oci_archive(&[amd, arm]));
        let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
        let top = &index["manifests"][0];
        assert_eq!(top["mediaType"], MEDIA_TYPE_OCI_INDEX);
        let hex = top["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let nested: Value = serde_json::from_slice(&files[&format!("blobs/sha256/{hex}")]).unwrap();
        let arches: Vec<_> =
            nested["manifests"].as_array().unwrap().iter().map(|m| &m["platform"]["architecture"]).collect();
        assert_eq!(arches, [&json!("amd64"), &json!("arm64")]);
    }

    #[test]
    fn reference_tags() {
        for (name, tag) in [
            ("docker.io/bramble/pause:0.1", "0.1"),
            ("localhost:5000/x", "localhost:5000/x"),
            ("localhost:5000/x:v2", "v2"),
            ("x@sha256:ab", "sha256:ab"),
        ] {
            assert_eq!(reference_tag(name), tag, "{name}");
        }
    }
}
