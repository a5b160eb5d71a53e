//! A pod's volumes on this host, laid out as the kubelet's under
//! `<pod-dir>/volumes/kubernetes.io~<plugin>/<volume>`: emptyDir (a directory, or tmpfs for
//! `medium: Memory`), configMap, secret, projected and downwardAPI (files swapped atomically
//! behind a `..data` symlink), hostPath with its type checks, and claims bound to a PV with a
//! path on this node (local-path's hostPath or `local` volumes). It makes the host paths the
//! runtime bind-mounts, with fsGroup ownership on emptyDir and the atomically written volumes; it
//! mounts nothing into containers itself, applies no fsGroup to claims, and does not
//! enforce emptyDir size limits on disk (a Memory one is a tmpfs of that size).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Node, NodeSelectorTerm, PersistentVolume,
    PersistentVolumeClaim, Pod, Secret, ServiceAccount, Volume,
};
use kube::Api;
use kube::api::PostParams;

use super::env::{self, EnvError, ParsedQuantity, PodFacts};

/// The kubelet's default file mode of configMap, secret, projected and downwardAPI files (0644).
const DEFAULT_MODE: i32 = 0o644;
/// A token is refreshed once this share of its lifetime has passed, as the kubelet's.
const TOKEN_REFRESH_SHARE: f64 = 0.8;
/// ... or once it is a day old, whatever its lifetime.
const TOKEN_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The kubelet's default `expirationSeconds` of a projected token.
const DEFAULT_TOKEN_SECONDS: i64 = 3600;

/// What [`prepare`] works with.
pub struct VolumeContext<'a> {
    pub client: &'a kube::Client,
    pub pod: &'a Pod,
    pub pod_dir: &'a Path,
    pub node_name: &'a str,
}

/// A pod's prepared volumes: where each one is on the host.
#[derive(Debug, Clone)]
pub struct PodVolumes {
    volumes: HashMap<String, PreparedVolume>,
    pod: Pod,
}

#[derive(Debug, Clone)]
struct PreparedVolume {
    host_path: PathBuf,
    /// configMap, secret, projected and downwardAPI volumes are always mounted read-only, as
    /// the kubelet's; a claim may be read-only too.
    read_only: bool,
}

/// One bind mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub container_path: String,
    pub host_path: PathBuf,
    pub readonly: bool,
}

/// Why a volume could not be set up. Display is the kubelet's message.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound { name: String },
    #[error("secret \"{name}\" not found")]
    SecretNotFound { name: String },
    #[error("configmap references non-existent config key: {key}")]
    ConfigMapKeyMissing { key: String },
    #[error("secret references non-existent secret key: {key}")]
    SecretKeyMissing { key: String },
    #[error("persistentvolumeclaim \"{name}\" not found")]
    ClaimNotFound { name: String },
    #[error("persistentvolumeclaim \"{name}\" is not bound")]
    ClaimNotBound { name: String },
    #[error("persistentvolume \"{name}\" not found")]
    PersistentVolumeNotFound { name: String },
    #[error("persistentvolume \"{volume}\" is bound to another claim than \"{claim}\"")]
    ClaimMismatch { volume: String, claim: String },
    #[error("persistentvolume \"{volume}\" is not available on node \"{node}\"")]
    NotOnThisNode { volume: String, node: String },
    #[error("persistentvolume \"{volume}\" has no path on this node (only hostPath and local volumes are supported)")]
    UnsupportedPersistentVolume { volume: String },
    #[error("hostPath type check failed: {path} {problem}")]
    HostPathType { path: String, problem: &'static str },
    #[error("{0} is an invalid volume type")]
    InvalidHostPathType(String),
    #[error("volume \"{volume}\": unsupported volume type {kind}")]
    Unsupported { volume: String, kind: &'static str },
    #[error("cannot find volume \"{volume}\" to mount into container \"{container}\"")]
    NoSuchVolume { volume: String, container: String },
    #[error("invalid path {path:?}: {problem}")]
    InvalidPath { path: String, problem: &'static str },
    #[error("subPath {sub_path:?} of volume \"{volume}\" resolves outside the volume")]
    SubPathEscapes { sub_path: String, volume: String },
    #[error("failed to fetch token: {0}")]
    Token(#[source] kube::Error),
    #[error("failed to fetch token: the TokenRequest came back without a status")]
    TokenWithoutStatus,
    #[error("{0}")]
    Field(#[from] EnvError),
    #[error("reading {what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io { path: path.to_path_buf(), source }
}

/// Materialises every volume of the pod; idempotent, and cheap when nothing changed: the
/// atomically written volumes are rewritten only when their contents differ.
pub async fn prepare(ctx: &VolumeContext<'_>) -> Result<PodVolumes, VolumeError> {
    let mut volumes = HashMap::new();
    for volume in ctx.pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let prepared = prepare_volume(ctx, volume).await?;
        volumes.insert(volume.name.clone(), prepared);
    }
    Ok(PodVolumes { volumes, pod: ctx.pod.clone() })
}

fn plugin_dir(pod_dir: &Path, plugin: &str, volume: &str) -> PathBuf {
    pod_dir.join("volumes").join(format!("kubernetes.io~{plugin}")).join(volume)
}

async fn prepare_volume(ctx: &VolumeContext<'_>, volume: &Volume) -> Result<PreparedVolume, VolumeError> {
    let name = volume.name.as_str();
    let fs_group = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|s| s.fs_group)
        .and_then(|g| u32::try_from(g).ok());
    if let Some(source) = &volume.empty_dir {
        let dir = plugin_dir(ctx.pod_dir, "empty-dir", name);
        match source.medium.as_deref().unwrap_or("") {
            "" => make_dir(&dir, 0o777)?,
            "Memory" => {
                let size = match &source.size_limit {
                    Some(limit) => Some(ParsedQuantity::parse(&limit.0)?.ceil_scaled(1)),
                    None => None,
                };
                ensure_tmpfs(&dir, size, 0o777)?;
            }
            _ => return Err(VolumeError::Unsupported { volume: name.to_owned(), kind: "emptyDir medium" }),
        }
        if let Some(gid) = fs_group {
            // The kubelet's SetVolumeOwnership: the group owns it, and new files inherit it.
            std::os::unix::fs::chown(&dir, None, Some(gid)).map_err(io_error(&dir))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2777)).map_err(io_error(&dir))?;
        }
        return Ok(PreparedVolume { host_path: dir, read_only: false });
    }
    if let Some(source) = &volume.config_map {
        let dir = plugin_dir(ctx.pod_dir, "configmap", name);
        let mut payload = Payload::new();
        let optional = source.optional.unwrap_or(false);
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        if let Some(data) = config_map_data(ctx, &source.name, optional).await? {
            project_keys(KeySource::ConfigMap, &data, source.items.as_deref(), mode, optional, &mut payload)?;
        }
        make_dir(&dir, 0o755)?;
        write_atomically(&dir, &payload, fs_group)?;
        return Ok(PreparedVolume { host_path: dir, read_only: true });
    }
    if let Some(source) = &volume.secret {
        let dir = plugin_dir(ctx.pod_dir, "secret", name);
        let secret_name = source.secret_name.clone().unwrap_or_default();
        let mut payload = Payload::new();
        let optional = source.optional.unwrap_or(false);
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        if let Some(data) = secret_data(ctx, &secret_name, optional).await? {
            project_keys(KeySource::Secret, &data, source.items.as_deref(), mode, optional, &mut payload)?;
        }
        ensure_tmpfs(&dir, None, 0o755)?;
        write_atomically(&dir, &payload, fs_group)?;
        return Ok(PreparedVolume { host_path: dir, read_only: true });
    }
    if let Some(source) = &volume.downward_api {
        let dir = plugin_dir(ctx.pod_dir, "downward-api", name);
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        let mut payload = Payload::new();
        downward_api_files(ctx, source.items.as_deref().unwrap_or(&[]), mode, &mut payload).await?;
        make_dir(&dir, 0o755)?;
        write_atomically(&dir, &payload, fs_group)?;
        return Ok(PreparedVolume { host_path: dir, read_only: true });
    }
    if let Some(source) = &volume.projected {
        let dir = plugin_dir(ctx.pod_dir, "projected", name);
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        let mut payload = Payload::new();
        for (index, projection) in source.sources.iter().flatten().enumerate() {
            if let Some(cm) = &projection.config_map {
                let optional = cm.optional.unwrap_or(false);
                if let Some(data) = config_map_data(ctx, &cm.name, optional).await? {
                    project_keys(KeySource::ConfigMap, &data, cm.items.as_deref(), mode, optional, &mut payload)?;
                }
            } else if let Some(secret) = &projection.secret {
                let optional = secret.optional.unwrap_or(false);
                if let Some(data) = secret_data(ctx, &secret.name, optional).await? {
                    project_keys(KeySource::Secret, &data, secret.items.as_deref(), mode, optional, &mut payload)?;
                }
            } else if let Some(downward) = &projection.downward_api {
                downward_api_files(ctx, downward.items.as_deref().unwrap_or(&[]), mode, &mut payload).await?;
            } else if let Some(token) = &projection.service_account_token {
                let key = TokenKey {
                    pod_uid: ctx.pod.metadata.uid.clone().unwrap_or_default(),
                    volume: name.to_owned(),
                    index,
                };
                let value = service_account_token(
                    ctx,
                    key,
                    token.audience.as_deref().unwrap_or(""),
                    token.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS),
                )
                .await?;
                payload.insert(checked_relative(&token.path)?, FileContent { data: value.into_bytes(), mode });
            } else if projection.cluster_trust_bundle.is_some() {
                return Err(VolumeError::Unsupported { volume: name.to_owned(), kind: "clusterTrustBundle" });
            }
        }
        ensure_tmpfs(&dir, None, 0o755)?;
        write_atomically(&dir, &payload, fs_group)?;
        return Ok(PreparedVolume { host_path: dir, read_only: true });
    }
    if let Some(source) = &volume.host_path {
        check_host_path(Path::new(&source.path), source.type_.as_deref().unwrap_or(""))?;
        return Ok(PreparedVolume { host_path: PathBuf::from(&source.path), read_only: false });
    }
    if let Some(source) = &volume.persistent_volume_claim {
        let path = claim_path(ctx, &source.claim_name).await?;
        return Ok(PreparedVolume { host_path: path, read_only: source.read_only.unwrap_or(false) });
    }
    Err(VolumeError::Unsupported { volume: name.to_owned(), kind: volume_kind(volume) })
}

/// The name of a volume source we do not support, for the error.
fn volume_kind(volume: &Volume) -> &'static str {
    let value = serde_json::to_value(volume).unwrap_or_default();
    const KINDS: &[&str] = &[
        "awsElasticBlockStore",
        "azureDisk",
        "azureFile",
        "cephfs",
        "cinder",
        "csi",
        "ephemeral",
        "fc",
        "flexVolume",
        "flocker",
        "gcePersistentDisk",
        "gitRepo",
        "glusterfs",
        "image",
        "iscsi",
        "nfs",
        "photonPersistentDisk",
        "portworxVolume",
        "quobyte",
        "rbd",
        "scaleIO",
        "storageos",
        "vsphereVolume",
    ];
    KINDS.iter().copied().find(|kind| value.get(*kind).is_some()).unwrap_or("(none)")
}

// ---------------------------------------------------------------------------------------------
// Payloads: the files of an atomically written volume.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileContent {
    data: Vec<u8>,
    mode: i32,
}

/// Relative path → file, as the kubelet's `map[string]FileProjection`.
type Payload = BTreeMap<PathBuf, FileContent>;

#[derive(Clone, Copy)]
enum KeySource {
    ConfigMap,
    Secret,
}

/// Keys of a ConfigMap or Secret as files: every key when `items` is empty, else the listed
/// keys at their paths (a missing key is an error unless the source is optional).
fn project_keys(
    source: KeySource,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
    payload: &mut Payload,
) -> Result<(), VolumeError> {
    match items.filter(|items| !items.is_empty()) {
        None => {
            for (key, value) in data {
                payload.insert(checked_relative(key)?, FileContent { data: value.clone(), mode: default_mode });
            }
        }
        Some(items) => {
            for item in items {
                let Some(value) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    let key = item.key.clone();
                    return Err(match source {
                        KeySource::ConfigMap => VolumeError::ConfigMapKeyMissing { key },
                        KeySource::Secret => VolumeError::SecretKeyMissing { key },
                    });
                };
                let mode = item.mode.unwrap_or(default_mode);
                payload.insert(checked_relative(&item.path)?, FileContent { data: value.clone(), mode });
            }
        }
    }
    Ok(())
}

/// A payload path: relative, not empty, no `..` element, not starting with `..` (the atomic
/// writer's own names).
fn checked_relative(path: &str) -> Result<PathBuf, VolumeError> {
    let invalid = |problem| VolumeError::InvalidPath { path: path.to_owned(), problem };
    if path.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if path.starts_with("..") {
        return Err(invalid("must not start with '..'"));
    }
    check_relative_components(path).map_err(invalid)?;
    Ok(PathBuf::from(path))
}

fn check_relative_components(path: &str) -> Result<(), &'static str> {
    for component in Path::new(path).components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("must not contain '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("must be a relative path"),
        }
    }
    Ok(())
}

async fn config_map_data(
    ctx: &VolumeContext<'_>,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, VolumeError> {
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace(ctx.pod));
    let found =
        api.get_opt(name).await.map_err(|source| VolumeError::Api { what: format!("configmap {name:?}"), source })?;
    match found {
        Some(cm) => {
            let mut data: BTreeMap<String, Vec<u8>> =
                cm.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
            data.extend(cm.binary_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)));
            Ok(Some(data))
        }
        None if optional => Ok(None),
        None => Err(VolumeError::ConfigMapNotFound { name: name.to_owned() }),
    }
}

async fn secret_data(
    ctx: &VolumeContext<'_>,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, VolumeError> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace(ctx.pod));
    let found =
        api.get_opt(name).await.map_err(|source| VolumeError::Api { what: format!("secret {name:?}"), source })?;
    match found {
        Some(secret) => Ok(Some(secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect())),
        None if optional => Ok(None),
        None => Err(VolumeError::SecretNotFound { name: name.to_owned() }),
    }
}

fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

async fn downward_api_files(
    ctx: &VolumeContext<'_>,
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
    payload: &mut Payload,
) -> Result<(), VolumeError> {
    let mut allocatable = None;
    for item in items {
        let value = if let Some(field) = &item.field_ref {
            env::metadata_field_value(ctx.pod, &field.field_path)?
        } else if let Some(selector) = &item.resource_field_ref {
            let name = selector.container_name.as_deref().unwrap_or("");
            let container = ctx
                .pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
                .find(|c| c.name == name)
                .ok_or_else(|| EnvError::NoSuchContainer(name.to_owned()))?;
            if allocatable.is_none() && env::needs_allocatable(selector, container) {
                allocatable = Some(node_allocatable(ctx).await?);
            }
            env::container_resource_value(selector, container, allocatable.as_ref().unwrap_or(&BTreeMap::new()))?
        } else {
            continue;
        };
        let mode = item.mode.unwrap_or(default_mode);
        payload.insert(checked_relative(&item.path)?, FileContent { data: value.into_bytes(), mode });
    }
    Ok(())
}

async fn node_allocatable(
    ctx: &VolumeContext<'_>,
) -> Result<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>, VolumeError> {
    Ok(node(ctx).await?.and_then(|n| n.status).and_then(|s| s.allocatable).unwrap_or_default())
}

async fn node(ctx: &VolumeContext<'_>) -> Result<Option<Node>, VolumeError> {
    let api: Api<Node> = Api::all(ctx.client.clone());
    api.get_opt(ctx.node_name)
        .await
        .map_err(|source| VolumeError::Api { what: format!("node {:?}", ctx.node_name), source })
}

// ---------------------------------------------------------------------------------------------
// Service account tokens.
// ---------------------------------------------------------------------------------------------

/// One projected token: the pod, the volume and the source's place in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    pod_uid: String,
    volume: String,
    index: usize,
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: String,
    audience: String,
    fetched: Instant,
    lifetime: Duration,
}

impl CachedToken {
    /// Whether the kubelet would request a new token: 80 % of its lifetime or a day passed.
    fn needs_refresh(&self, now: Instant) -> bool {
        let age = now.saturating_duration_since(self.fetched);
        age >= self.lifetime.mul_f64(TOKEN_REFRESH_SHARE) || age >= TOKEN_MAX_AGE
    }
}

/// Tokens of this process's pods, so that a refresh every minute does not request a token
/// every minute. A restarted agent requests new ones, as a restarted kubelet does.
static TOKENS: LazyLock<Mutex<HashMap<TokenKey, CachedToken>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

async fn service_account_token(
    ctx: &VolumeContext<'_>,
    key: TokenKey,
    audience: &str,
    expiration_seconds: i64,
) -> Result<String, VolumeError> {
    let now = Instant::now();
    if let Ok(tokens) = TOKENS.lock()
        && let Some(cached) = tokens.get(&key)
        && cached.audience == audience
        && !cached.needs_refresh(now)
    {
        return Ok(cached.token.clone());
    }
    let spec = ctx.pod.spec.as_ref();
    let account = spec.and_then(|s| s.service_account_name.clone()).filter(|s| !s.is_empty());
    let account = account.unwrap_or_else(|| "default".to_owned());
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: if audience.is_empty() { Vec::new() } else { vec![audience.to_owned()] },
            expiration_seconds: Some(expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: ctx.pod.metadata.name.clone(),
                uid: ctx.pod.metadata.uid.clone(),
            }),
        },
        ..TokenRequest::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace(ctx.pod));
    let answer =
        api.create_token_request(&account, &PostParams::default(), &request).await.map_err(VolumeError::Token)?;
    let Some(status) = answer.status else {
        return Err(VolumeError::TokenWithoutStatus);
    };
    let now_unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let expires = status.expiration_timestamp.0.as_second();
    let lifetime =
        u64::try_from(expires - now_unix).ok().filter(|s| *s > 0).unwrap_or(expiration_seconds.max(1).unsigned_abs());
    let cached = CachedToken {
        token: status.token.clone(),
        audience: audience.to_owned(),
        fetched: now,
        lifetime: Duration::from_secs(lifetime),
    };
    if let Ok(mut tokens) = TOKENS.lock() {
        tokens.insert(key, cached);
    }
    Ok(status.token)
}

// ---------------------------------------------------------------------------------------------
// hostPath and persistent volumes.
// ---------------------------------------------------------------------------------------------

/// The kubelet's hostPath type check: `DirectoryOrCreate` and `FileOrCreate` create what is
/// missing (0755, 0644), the others only check; `""` checks nothing.
fn check_host_path(path: &Path, path_type: &str) -> Result<(), VolumeError> {
    let shown = path.display().to_string();
    let failed = |problem| VolumeError::HostPathType { path: shown.clone(), problem };
    let metadata = std::fs::metadata(path).ok();
    let file_type = metadata.as_ref().map(|m| m.file_type());
    match path_type {
        "" => Ok(()),
        "DirectoryOrCreate" if metadata.is_none() => {
            std::fs::create_dir_all(path).map_err(io_error(path))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io_error(path))
        }
        "DirectoryOrCreate" | "Directory" => {
            if file_type.is_some_and(|t| t.is_dir()) {
                Ok(())
            } else {
                Err(failed("is not a directory"))
            }
        }
        "FileOrCreate" if metadata.is_none() => {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io_error(path))?;
            file.set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io_error(path))
        }
        "FileOrCreate" | "File" => {
            if file_type.is_some_and(|t| t.is_file()) {
                Ok(())
            } else {
                Err(failed("is not a file"))
            }
        }
        "Socket" => {
            if file_type.is_some_and(|t| t.is_socket()) {
                Ok(())
            } else {
                Err(failed("is not a socket file"))
            }
        }
        "CharDevice" => {
            if file_type.is_some_and(|t| t.is_char_device()) {
                Ok(())
            } else {
                Err(failed("is not a character device"))
            }
        }
        "BlockDevice" => {
            if file_type.is_some_and(|t| t.is_block_device()) {
                Ok(())
            } else {
                Err(failed("is not a block device"))
            }
        }
        other => Err(VolumeError::InvalidHostPathType(other.to_owned())),
    }
}

/// The host path of a claim's bound PV on this node.
async fn claim_path(ctx: &VolumeContext<'_>, claim_name: &str) -> Result<PathBuf, VolumeError> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace(ctx.pod));
    let claim = claims
        .get_opt(claim_name)
        .await
        .map_err(|source| VolumeError::Api { what: format!("persistentvolumeclaim {claim_name:?}"), source })?
        .ok_or_else(|| VolumeError::ClaimNotFound { name: claim_name.to_owned() })?;
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.clone()).filter(|v| !v.is_empty());
    let (Some("Bound"), Some(volume_name)) = (phase, volume_name) else {
        return Err(VolumeError::ClaimNotBound { name: claim_name.to_owned() });
    };
    let volumes: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let volume = volumes
        .get_opt(&volume_name)
        .await
        .map_err(|source| VolumeError::Api { what: format!("persistentvolume {volume_name:?}"), source })?
        .ok_or_else(|| VolumeError::PersistentVolumeNotFound { name: volume_name.clone() })?;
    let spec = volume.spec.unwrap_or_default();
    let bound_uid = spec.claim_ref.as_ref().and_then(|r| r.uid.as_deref());
    if bound_uid.is_some() && bound_uid != claim.metadata.uid.as_deref() {
        return Err(VolumeError::ClaimMismatch { volume: volume_name, claim: claim_name.to_owned() });
    }
    let terms = spec
        .node_affinity
        .as_ref()
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.clone())
        .unwrap_or_default();
    if !terms.is_empty() {
        let labels = node(ctx).await?.and_then(|n| n.metadata.labels).unwrap_or_default();
        if !terms.iter().any(|term| term_matches(term, &labels, ctx.node_name)) {
            return Err(VolumeError::NotOnThisNode { volume: volume_name, node: ctx.node_name.to_owned() });
        }
    }
    if let Some(host_path) = &spec.host_path {
        check_host_path(Path::new(&host_path.path), host_path.type_.as_deref().unwrap_or(""))?;
        return Ok(PathBuf::from(&host_path.path));
    }
    if let Some(local) = &spec.local {
        let path = PathBuf::from(&local.path);
        std::fs::metadata(&path).map_err(io_error(&path))?;
        return Ok(path);
    }
    Err(VolumeError::UnsupportedPersistentVolume { volume: volume_name })
}

/// A node selector term against this node's labels (and `metadata.name` fields).
fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, node_name: &str) -> bool {
    let expressions = term.match_expressions.iter().flatten().map(|e| (e, labels.get(&e.key).map(String::as_str)));
    let fields =
        term.match_fields.iter().flatten().map(|e| (e, if e.key == "metadata.name" { Some(node_name) } else { None }));
    let mut any = false;
    for (requirement, value) in expressions.chain(fields) {
        any = true;
        let values = requirement.values.as_deref().unwrap_or(&[]);
        let ok = match requirement.operator.as_str() {
            "In" => value.is_some_and(|v| values.iter().any(|w| w == v)),
            "NotIn" => !value.is_some_and(|v| values.iter().any(|w| w == v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            "Gt" | "Lt" => {
                let have = value.and_then(|v| v.parse::<i64>().ok());
                let want = values.first().and_then(|v| v.parse::<i64>().ok());
                match (have, want) {
                    (Some(h), Some(w)) => {
                        (requirement.operator == "Gt" && h > w) || (requirement.operator == "Lt" && h < w)
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    any
}

// ---------------------------------------------------------------------------------------------
// Container mounts.
// ---------------------------------------------------------------------------------------------

impl PodVolumes {
    /// The bind mounts of one container, from its volumeMounts. `subPathExpr` expands the
    /// container's literal and `fieldRef` variables; use [`PodVolumes::mounts_with_env`] with the
    /// resolved environment to expand the others too. Mount propagation is ignored.
    pub fn mounts(&self, container: &Container) -> Result<Vec<Mount>, VolumeError> {
        self.mounts_with_env(container, &self.local_env(container))
    }

    /// [`PodVolumes::mounts`] with `subPathExpr` expanded against `env`.
    pub fn mounts_with_env(&self, container: &Container, env: &[(String, String)]) -> Result<Vec<Mount>, VolumeError> {
        let mut mounts = Vec::new();
        for mount in container.volume_mounts.iter().flatten() {
            let volume = self.volumes.get(&mount.name).ok_or_else(|| VolumeError::NoSuchVolume {
                volume: mount.name.clone(),
                container: container.name.clone(),
            })?;
            let sub_path = match (&mount.sub_path, &mount.sub_path_expr) {
                (Some(path), _) if !path.is_empty() => path.clone(),
                (_, Some(expr)) if !expr.is_empty() => {
                    env::expand(expr, |name| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
                }
                _ => String::new(),
            };
            let host_path = if sub_path.is_empty() {
                volume.host_path.clone()
            } else {
                sub_path_host_path(&volume.host_path, &sub_path, &mount.name)?
            };
            mounts.push(Mount {
                container_path: mount.mount_path.clone(),
                host_path,
                readonly: mount.read_only.unwrap_or(false) || volume.read_only,
            });
        }
        Ok(mounts)
    }

    /// The variables [`PodVolumes::mounts`] can know without the API: literal values and
    /// `fieldRef`s of the pod as it is.
    fn local_env(&self, container: &Container) -> Vec<(String, String)> {
        let pod = &self.pod;
        let facts = PodFacts {
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
            host_ips: pod.status.iter().flat_map(|s| s.host_ips.iter().flatten()).map(|ip| ip.ip.clone()).collect(),
            pod_ips: pod.status.iter().flat_map(|s| s.pod_ips.iter().flatten()).map(|ip| ip.ip.clone()).collect(),
        };
        let mut vars: Vec<(String, String)> = Vec::new();
        for var in container.env.iter().flatten() {
            let value = match (&var.value, var.value_from.as_ref().and_then(|f| f.field_ref.as_ref())) {
                (Some(value), _) if !value.is_empty() => {
                    env::expand(value, |name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
                }
                (_, Some(field)) => match env::pod_field_value(pod, &field.field_path, &facts) {
                    Ok(value) => value,
                    Err(_) => continue,
                },
                _ => continue,
            };
            vars.push((var.name.clone(), value));
        }
        vars
    }
}

/// A subPath inside a volume, created as a directory when missing (as the kubelet does), and
/// refused when it resolves outside the volume through `..` or a symlink.
fn sub_path_host_path(volume_path: &Path, sub_path: &str, volume: &str) -> Result<PathBuf, VolumeError> {
    check_relative_components(sub_path)
        .map_err(|problem| VolumeError::InvalidPath { path: sub_path.to_owned(), problem })?;
    let joined = volume_path.join(sub_path);
    if std::fs::symlink_metadata(&joined).is_err() {
        std::fs::create_dir_all(&joined).map_err(io_error(&joined))?;
    }
    let root = std::fs::canonicalize(volume_path).map_err(io_error(volume_path))?;
    let resolved = std::fs::canonicalize(&joined).map_err(io_error(&joined))?;
    if !resolved.starts_with(&root) {
        return Err(VolumeError::SubPathEscapes { sub_path: sub_path.to_owned(), volume: volume.to_owned() });
    }
    Ok(resolved)
}

// ---------------------------------------------------------------------------------------------
// The atomic writer: `..<timestamp>` directories behind a `..data` symlink.
// ---------------------------------------------------------------------------------------------

const DATA_LINK: &str = "..data";
const DATA_LINK_TMP: &str = "..data_tmp";

/// Makes `dir` hold exactly `payload`, as the kubelet's AtomicWriter: the files go into a new
/// `..<timestamp>` directory, `..data` is swapped to it with one rename, every top-level name is
/// a symlink `name -> ..data/name`, and the old directory is removed afterwards. A reader
/// following the links sees the old or the new contents, never a mix. Returns whether anything
/// changed.
///
/// With an `fsGroup`, as the kubelet's SetVolumeOwnership on these read-only volumes, files and
/// directories belong to that group, files gain `0440`, directories `0550` and setgid.
fn write_atomically(dir: &Path, payload: &Payload, fs_group: Option<u32>) -> Result<bool, VolumeError> {
    let owned;
    let payload = match fs_group {
        None => payload,
        Some(_) => {
            owned = payload
                .iter()
                .map(|(path, file)| (path.clone(), FileContent { data: file.data.clone(), mode: file.mode | 0o440 }))
                .collect::<Payload>();
            &owned
        }
    };
    let current = std::fs::read_link(dir.join(DATA_LINK)).ok();
    // A directory that cannot be read (say, left half-written by a crash) is rewritten.
    let unchanged =
        current.as_ref().is_some_and(|current| payload_matches(&dir.join(current), payload).unwrap_or(false));
    if !unchanged {
        let ts_name = timestamp_dir_name(SystemTime::now());
        let ts_dir = dir.join(&ts_name);
        make_dir(&ts_dir, 0o755)?;
        for (path, file) in payload {
            let target = ts_dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io_error(parent))?;
            }
            std::fs::write(&target, &file.data).map_err(io_error(&target))?;
            let mode = u32::try_from(file.mode).unwrap_or(0o644) & 0o7777;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).map_err(io_error(&target))?;
            if let Some(gid) = fs_group {
                std::os::unix::fs::chown(&target, None, Some(gid)).map_err(io_error(&target))?;
            }
        }
        if let Some(gid) = fs_group {
            group_own_dirs(&ts_dir, gid)?;
        }
        let tmp_link = dir.join(DATA_LINK_TMP);
        let _ = std::fs::remove_file(&tmp_link);
        symlink(&ts_name, &tmp_link).map_err(io_error(&tmp_link))?;
        std::fs::rename(&tmp_link, dir.join(DATA_LINK)).map_err(io_error(&tmp_link))?;
    }
    let visible: BTreeSet<String> = payload
        .keys()
        .filter_map(|path| {
            path.components().find_map(|c| match c {
                Component::Normal(name) => name.to_str().map(str::to_owned),
                _ => None,
            })
        })
        .collect();
    for name in &visible {
        let link = dir.join(name);
        let want = Path::new(DATA_LINK).join(name);
        if std::fs::read_link(&link).ok().as_deref() == Some(want.as_path()) {
            continue;
        }
        if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&link).map_err(io_error(&link))?;
        }
        symlink(&want, &link).map_err(io_error(&link))?;
    }
    let live = std::fs::read_link(dir.join(DATA_LINK)).ok();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_symlink = entry.file_type().is_ok_and(|t| t.is_symlink());
        if name.starts_with("..") {
            let is_old_data = name != DATA_LINK && entry.file_type().is_ok_and(|t| t.is_dir());
            if is_old_data && live.as_deref() != Some(Path::new(&name)) {
                std::fs::remove_dir_all(&path).map_err(io_error(&path))?;
            }
        } else if is_symlink && !visible.contains(&name) {
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(!unchanged)
}

/// `dir` and the directories under it: owned by `gid`, `0550` and setgid added.
fn group_own_dirs(dir: &Path, gid: u32) -> Result<(), VolumeError> {
    std::os::unix::fs::chown(dir, None, Some(gid)).map_err(io_error(dir))?;
    let mode = std::fs::metadata(dir).map_err(io_error(dir))?.mode() & 0o7777;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o2550)).map_err(io_error(dir))?;
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            group_own_dirs(&entry.path(), gid)?;
        }
    }
    Ok(())
}

/// Whether `ts_dir` holds exactly the payload's files with their contents and modes.
fn payload_matches(ts_dir: &Path, payload: &Payload) -> io::Result<bool> {
    let mut found = BTreeSet::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in std::fs::read_dir(ts_dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                found.insert(path);
            }
        }
    }
    if found.len() != payload.len() || !payload.keys().all(|k| found.contains(k)) {
        return Ok(false);
    }
    for (path, file) in payload {
        let full = ts_dir.join(path);
        let mode = std::fs::metadata(&full)?.mode() & 0o7777;
        if i64::from(mode) != i64::from(file.mode & 0o7777) || std::fs::read(&full)? != file.data {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `..2006_01_02_15_04_05.<nanoseconds>`, the kubelet's timestamp directory name (Go's temp
/// directory adds a random suffix; the nanoseconds keep ours unique).
fn timestamp_dir_name(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    format!(
        "..{year:04}_{month:02}_{day:02}_{:02}_{:02}_{:02}.{:09}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_nanos()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------------------------
// Directories, tmpfs and cleanup.
// ---------------------------------------------------------------------------------------------

fn make_dir(dir: &Path, mode: u32) -> Result<(), VolumeError> {
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(io_error(dir))?;
    }
    Ok(())
}

/// A tmpfs at `dir` unless one is mounted there already; `size` in bytes.
fn ensure_tmpfs(dir: &Path, size: Option<i128>, mode: u32) -> Result<(), VolumeError> {
    make_dir(dir, mode)?;
    let canonical = std::fs::canonicalize(dir).map_err(io_error(dir))?;
    if mount_points().map_err(io_error(Path::new("/proc/self/mountinfo")))?.contains(&canonical) {
        return Ok(());
    }
    let mut options = format!("mode={mode:o}");
    if let Some(size) = size.filter(|s| *s > 0) {
        options.push_str(&format!(",size={size}"));
    }
    let options = CString::new(options).map_err(|e| io_error(dir)(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let flags = rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV;
    rustix::mount::mount("tmpfs", &canonical, "tmpfs", flags, options.as_c_str()).map_err(|e| io_error(dir)(e.into()))
}

/// Every mount point of this mount namespace, from `/proc/self/mountinfo`.
fn mount_points() -> io::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(text.lines().filter_map(|line| line.split(' ').nth(4)).map(|p| PathBuf::from(unescape_mountinfo(p))).collect())
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(digits) = bytes.get(i + 1..i + 4)
            && let Some(value) = std::str::from_utf8(digits).ok().and_then(|d| u8::from_str_radix(d, 8).ok())
        {
            out.push(value);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes a pod's volume directories once its containers are gone: unmounts every tmpfs under
/// `<pod-dir>/volumes`, then deletes the tree without following symlinks or crossing into
/// another filesystem (so never through a hostPath or a PV, which live elsewhere anyway), and
/// the pod directory itself when nothing else is left in it. Forgets the pod's tokens.
pub fn cleanup(pod_dir: &Path) -> io::Result<()> {
    if let Some(uid) = pod_dir.file_name().and_then(|n| n.to_str())
        && let Ok(mut tokens) = TOKENS.lock()
    {
        tokens.retain(|key, _| key.pod_uid != uid);
    }
    let volumes = pod_dir.join("volumes");
    let Ok(root) = std::fs::canonicalize(&volumes) else { return Ok(()) };
    let mut mounted: Vec<PathBuf> = mount_points()?.into_iter().filter(|p| p.starts_with(&root)).collect();
    // Deepest first, so that a mount inside another comes off before its parent.
    mounted.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in &mounted {
        if let Err(err) = rustix::mount::unmount(point, rustix::mount::UnmountFlags::empty()) {
            if err == rustix::io::Errno::BUSY {
                rustix::mount::unmount(point, rustix::mount::UnmountFlags::DETACH)?;
            } else if err != rustix::io::Errno::INVAL {
                return Err(err.into());
            }
        }
    }
    let device = std::fs::symlink_metadata(&root)?.dev();
    remove_tree(&root, device)?;
    // Only succeeds when the runtime left nothing else in the pod directory.
    let _ = std::fs::remove_dir(pod_dir);
    Ok(())
}

/// `rm -r` that never follows a symlink and refuses to enter another filesystem.
fn remove_tree(dir: &Path, device: u64) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let metadata = std::fs::symlink_metadata(&path)?;
        if metadata.is_dir() {
            if metadata.dev() != device {
                return Err(io::Error::other(format!("{} is still a mount point", path.display())));
            }
            remove_tree(&path, device)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EnvVar, NodeSelectorRequirement, VolumeMount};

    fn payload(files: &[(&str, &str, i32)]) -> Payload {
        files
            .iter()
            .map(|(p, d, m)| (PathBuf::from(p), FileContent { data: d.as_bytes().to_vec(), mode: *m }))
            .collect()
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn keys_project_to_paths_with_modes() {
        let source = data(&[("a", "1"), ("b", "2")]);
        let mut all = Payload::new();
        project_keys(KeySource::ConfigMap, &source, None, 0o644, false, &mut all).unwrap();
        assert_eq!(all, payload(&[("a", "1", 0o644), ("b", "2", 0o644)]));

        let items = vec![
            KeyToPath { key: "a".into(), path: "dir/x".into(), mode: Some(0o400) },
            KeyToPath { key: "b".into(), path: "y".into(), mode: None },
        ];
        let mut some = Payload::new();
        project_keys(KeySource::Secret, &source, Some(&items), 0o600, false, &mut some).unwrap();
        assert_eq!(some, payload(&[("dir/x", "1", 0o400), ("y", "2", 0o600)]));

        let missing = vec![KeyToPath { key: "c".into(), path: "c".into(), mode: None }];
        let err = project_keys(KeySource::ConfigMap, &source, Some(&missing), 0o644, false, &mut Payload::new());
        assert_eq!(err.unwrap_err().to_string(), "configmap references non-existent config key: c");
        let err = project_keys(KeySource::Secret, &source, Some(&missing), 0o644, false, &mut Payload::new());
        assert_eq!(err.unwrap_err().to_string(), "secret references non-existent secret key: c");
        let mut optional = Payload::new();
        project_keys(KeySource::Secret, &source, Some(&missing), 0o644, true, &mut optional).unwrap();
        assert!(optional.is_empty());

        for bad in ["../x", "/etc/passwd", "..data", "a/../../b", ""] {
            assert!(checked_relative(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn atomic_writer_swaps_data_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let first = payload(&[("ca.crt", "CA", 0o644), ("token", "t1", 0o600), ("sub/file", "f", 0o644)]);
        assert!(write_atomically(root, &first, None).unwrap());
        let ts1 = std::fs::read_link(root.join("..data")).unwrap();
        assert!(ts1.to_str().unwrap().starts_with("..20"));
        assert_eq!(std::fs::read_link(root.join("token")).unwrap(), Path::new("..data/token"));
        assert_eq!(std::fs::read_link(root.join("sub")).unwrap(), Path::new("..data/sub"));
        assert_eq!(std::fs::read_to_string(root.join("sub/file")).unwrap(), "f");
        let mode = std::fs::metadata(root.join("token")).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o600);

        // The same payload again changes nothing.
        assert!(!write_atomically(root, &first, None).unwrap());
        assert_eq!(std::fs::read_link(root.join("..data")).unwrap(), ts1);

        // A new payload: new directory, stale link and old directory gone.
        let second = payload(&[("ca.crt", "CA", 0o644), ("token", "t2", 0o600)]);
        assert!(write_atomically(root, &second, None).unwrap());
        let ts2 = std::fs::read_link(root.join("..data")).unwrap();
        assert_ne!(ts1, ts2);
        assert!(!root.join(&ts1).exists());
        assert!(std::fs::symlink_metadata(root.join("sub")).is_err());
        assert_eq!(std::fs::read_to_string(root.join("token")).unwrap(), "t2");
        let mut names: Vec<String> =
            std::fs::read_dir(root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, vec![ts2.to_string_lossy().into_owned(), "..data".into(), "ca.crt".into(), "token".into()]);

        // A dangling `..data` (a crash before the swap completed) is repaired.
        std::fs::remove_dir_all(root.join(&ts2)).unwrap();
        assert!(write_atomically(root, &second, None).unwrap());
        assert_eq!(std::fs::read_to_string(root.join("token")).unwrap(), "t2");

        // A mode change alone is a change.
        let third = payload(&[("ca.crt", "CA", 0o640), ("token", "t2", 0o600)]);
        assert!(write_atomically(root, &third, None).unwrap());
    }

    /// Needs root: chown to another group.
    #[test]
    fn root_fs_group_owns_atomic_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let files = payload(&[("token", "t", 0o600), ("sub/ca.crt", "c", 0o644)]);
        assert!(write_atomically(dir.path(), &files, Some(2000)).unwrap());
        let token = std::fs::metadata(dir.path().join("token")).unwrap();
        assert_eq!((token.gid(), token.mode() & 0o7777), (2000, 0o640));
        let sub = std::fs::metadata(dir.path().join("sub")).unwrap();
        assert_eq!((sub.gid(), sub.mode() & 0o7777), (2000, 0o2755));
        assert!(!write_atomically(dir.path(), &files, Some(2000)).unwrap(), "stable across refreshes");
    }

    #[test]
    fn timestamp_names_like_the_kubelet() {
        let at = UNIX_EPOCH + Duration::new(1_709_251_199, 5); // 2024-02-29 23:59:59 UTC
        assert_eq!(timestamp_dir_name(at), "..2024_02_29_23_59_59.000000005");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn host_path_types() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("made");
        check_host_path(&sub, "DirectoryOrCreate").unwrap();
        assert!(sub.is_dir());
        check_host_path(&sub, "Directory").unwrap();
        let file = dir.path().join("file");
        check_host_path(&file, "FileOrCreate").unwrap();
        assert!(file.is_file());
        check_host_path(&file, "File").unwrap();
        check_host_path(&dir.path().join("whatever"), "").unwrap();
        let check_err = |path: &Path, kind: &str, want: String| {
            assert_eq!(check_host_path(path, kind).unwrap_err().to_string(), want, "{kind}");
        };
        check_err(&file, "Directory", format!("hostPath type check failed: {} is not a directory", file.display()));
        check_err(
            &file,
            "DirectoryOrCreate",
            format!("hostPath type check failed: {} is not a directory", file.display()),
        );
        check_err(&sub, "File", format!("hostPath type check failed: {} is not a file", sub.display()));
        let absent = dir.path().join("absent");
        check_err(&absent, "Directory", format!("hostPath type check failed: {} is not a directory", absent.display()));
        check_err(&file, "Socket", format!("hostPath type check failed: {} is not a socket file", file.display()));
        check_err(
            &file,
            "BlockDevice",
            format!("hostPath type check failed: {} is not a block device", file.display()),
        );
        check_host_path(Path::new("/dev/null"), "CharDevice").unwrap();
        check_err(&file, "Bogus", "Bogus is an invalid volume type".to_owned());
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        check_host_path(&socket, "Socket").unwrap();
    }

    #[test]
    fn node_affinity_terms() {
        let labels: BTreeMap<String, String> = [("kubernetes.io/hostname".to_owned(), "n1".to_owned())].into();
        let term = |key: &str, op: &str, values: &[&str]| NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
            }]),
            match_fields: None,
        };
        assert!(term_matches(&term("kubernetes.io/hostname", "In", &["n1"]), &labels, "n1"));
        assert!(!term_matches(&term("kubernetes.io/hostname", "In", &["n2"]), &labels, "n1"));
        assert!(term_matches(&term("zone", "DoesNotExist", &[]), &labels, "n1"));
        assert!(!term_matches(&NodeSelectorTerm::default(), &labels, "n1"));
    }

    fn prepared(host_path: &Path, read_only: bool) -> PreparedVolume {
        PreparedVolume { host_path: host_path.to_path_buf(), read_only }
    }

    #[test]
    fn container_mounts_with_sub_paths() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir(&config).unwrap();
        write_atomically(&config, &payload(&[("app.conf", "x", 0o644)]), None).unwrap();
        let mut pod = Pod::default();
        pod.metadata.name = Some("web-0".into());
        let volumes = PodVolumes {
            volumes: [("data".to_owned(), prepared(&data, false)), ("config".to_owned(), prepared(&config, true))]
                .into(),
            pod,
        };
        let mount = |name: &str, path: &str, sub: Option<&str>, expr: Option<&str>, ro: bool| VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            sub_path: sub.map(str::to_owned),
            sub_path_expr: expr.map(str::to_owned),
            read_only: Some(ro),
            ..VolumeMount::default()
        };
        let container = Container {
            name: "app".into(),
            env: Some(vec![
                EnvVar {
                    name: "POD".into(),
                    value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                        field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                            field_path: "metadata.name".into(),
                            api_version: None,
                        }),
                        ..Default::default()
                    }),
                    value: None,
                },
                EnvVar { name: "DIR".into(), value: Some("logs-$(POD)".into()), value_from: None },
            ]),
            volume_mounts: Some(vec![
                mount("data", "/data", None, None, false),
                mount("data", "/logs", None, Some("$(DIR)"), true),
                mount("config", "/etc/app.conf", Some("app.conf"), None, false),
            ]),
            ..Container::default()
        };
        let mounts = volumes.mounts(&container).unwrap();
        let config_file = std::fs::canonicalize(config.join("app.conf")).unwrap();
        let canonical_data = std::fs::canonicalize(&data).unwrap();
        assert_eq!(
            mounts,
            vec![
                Mount { container_path: "/data".into(), host_path: data.clone(), readonly: false },
                Mount { container_path: "/logs".into(), host_path: canonical_data.join("logs-web-0"), readonly: true },
                Mount { container_path: "/etc/app.conf".into(), host_path: config_file, readonly: true },
            ]
        );
        assert!(data.join("logs-web-0").is_dir());

        let escape = Container {
            volume_mounts: Some(vec![mount("data", "/x", Some("../etc"), None, false)]),
            ..container.clone()
        };
        assert_eq!(volumes.mounts(&escape).unwrap_err().to_string(), "invalid path \"../etc\": must not contain '..'");
        symlink("/etc", data.join("link")).unwrap();
        let through_link = Container {
            volume_mounts: Some(vec![mount("data", "/x", Some("link"), None, false)]),
            ..container.clone()
        };
        assert_eq!(
            volumes.mounts(&through_link).unwrap_err().to_string(),
            "subPath \"link\" of volume \"data\" resolves outside the volume"
        );
        let unknown = Container { volume_mounts: Some(vec![mount("nope", "/x", None, None, false)]), ..container };
        assert_eq!(
            volumes.mounts(&unknown).unwrap_err().to_string(),
            "cannot find volume \"nope\" to mount into container \"app\""
        );
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo("/end\\04"), "/end\\04");
    }

    /// Needs root: mounts a tmpfs emptyDir and a tmpfs secret-style volume, then cleans up.
    #[test]
    fn root_tmpfs_volumes_mount_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let pod_dir = dir.path().join("pods").join("uid-tmpfs");
        let empty = plugin_dir(&pod_dir, "empty-dir", "cache");
        ensure_tmpfs(&empty, Some(1 << 20), 0o777).unwrap();
        // Idempotent: a second call finds the mount.
        ensure_tmpfs(&empty, Some(1 << 20), 0o777).unwrap();
        let canonical = std::fs::canonicalize(&empty).unwrap();
        let count = mount_points().unwrap().iter().filter(|p| **p == canonical).count();
        assert_eq!(count, 1);
        let stat = rustix::fs::statfs(&empty).unwrap();
        assert_eq!(stat.f_type as i64, 0x0102_1994, "not a tmpfs");
        assert_eq!(stat.f_blocks * stat.f_bsize as u64, 1 << 20);
        std::fs::write(empty.join("f"), "x").unwrap();

        let secret = plugin_dir(&pod_dir, "secret", "creds");
        ensure_tmpfs(&secret, None, 0o755).unwrap();
        write_atomically(&secret, &payload(&[("password", "p", 0o644)]), None).unwrap();

        // A hostPath-like directory elsewhere must survive cleanup.
        let host = dir.path().join("host");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("keep"), "k").unwrap();
        symlink(&host, empty.join("to-host")).unwrap();

        cleanup(&pod_dir).unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert!(mount_points().unwrap().iter().all(|p| !p.starts_with(&root)));
        assert!(!pod_dir.exists());
        assert_eq!(std::fs::read_to_string(host.join("keep")).unwrap(), "k");
        // Cleaning up again is fine.
        cleanup(&pod_dir).unwrap();
    }

    #[test]
    fn token_refresh_after_eighty_percent() {
        let fetched = Instant::now();
        let token =
            CachedToken { token: "t".into(), audience: String::new(), fetched, lifetime: Duration::from_secs(3600) };
        assert!(!token.needs_refresh(fetched + Duration::from_secs(2879)));
        assert!(token.needs_refresh(fetched + Duration::from_secs(2880)));
        let long = CachedToken { lifetime: Duration::from_secs(7 * 24 * 3600), ..token };
        assert!(!long.needs_refresh(fetched + Duration::from_secs(23 * 3600)));
        assert!(long.needs_refresh(fetched + TOKEN_MAX_AGE));
    }
}

/// A fake API server on 127.0.0.1 for the tests of this module and of `env`: canned objects by
/// path, 404 Status otherwise, and TokenRequests answered with numbered tokens.
#[cfg(test)]
pub(crate) mod fake_api {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    use serde_json::{Value, json};
    use tokio::net::TcpListener;

    /// The objects served and the TokenRequest bodies received.
    #[derive(Default)]
    pub(crate) struct FakeApi {
        pub(crate) objects: HashMap<String, Value>,
        pub(crate) token_requests: Vec<(String, Value)>,
    }

    pub(crate) async fn serve(objects: HashMap<String, Value>) -> (kube::Client, Arc<Mutex<FakeApi>>) {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let state = Arc::new(Mutex::new(FakeApi { objects, token_requests: Vec::new() }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let post = request.method() == http::Method::POST;
                        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let (status, value) = answer(&state, &path, post, &body);
                        let response = http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(value.to_string())))
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        let config = kube::Config::new(format!("http://{address}").parse().unwrap());
        (kube::Client::try_from(config).unwrap(), state)
    }

    fn answer(state: &Mutex<FakeApi>, path: &str, post: bool, body: &[u8]) -> (u16, Value) {
        let mut state = state.lock().unwrap();
        if post && path.ends_with("/token") {
            let request: Value = serde_json::from_slice(body).unwrap_or_default();
            state.token_requests.push((path.to_owned(), request.clone()));
            let n = state.token_requests.len();
            let mut answer = request;
            answer["status"] = json!({ "token": format!("token-{n}"), "expirationTimestamp": "2099-01-01T00:00:00Z" });
            return (201, answer);
        }
        if let Some(list) = path.strip_suffix("/services")
            && !post
        {
            let items: Vec<Value> = state
                .objects
                .iter()
                .filter(|(p, _)| p.starts_with(&format!("{list}/services/")))
                .map(|(_, v)| v.clone())
                .collect();
            return (200, json!({ "apiVersion": "v1", "kind": "ServiceList", "metadata": {}, "items": items }));
        }
        match state.objects.get(path) {
            Some(value) => (200, value.clone()),
            None => (
                404,
                json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                        "message": format!("{path} not found") }),
            ),
        }
    }
}

#[cfg(test)]
mod prepare_tests {
    use super::fake_api;
    use super::*;
    use serde_json::json;

    fn objects() -> HashMap<String, serde_json::Value> {
        let mut objects = HashMap::new();
        objects.insert(
            "/api/v1/namespaces/prod/configmaps/kube-root-ca.crt".to_owned(),
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "kube-root-ca.crt" },
                    "data": { "ca.crt": "-----BEGIN CERTIFICATE-----\n" } }),
        );
        objects.insert(
            "/api/v1/namespaces/prod/configmaps/app".to_owned(),
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app" },
                    "data": { "a.conf": "A", "b.conf": "B" }, "binaryData": { "bin": "AAE=" } }),
        );
        objects.insert(
            "/api/v1/namespaces/prod/secrets/creds".to_owned(),
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "creds" },
                    "data": { "password": "aHVudGVyMg==" } }),
        );
        objects.insert(
            "/api/v1/namespaces/prod/persistentvolumeclaims/data".to_owned(),
            json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": "data", "uid": "claim-uid" },
                    "spec": { "volumeName": "pvc-1" }, "status": { "phase": "Bound" } }),
        );
        objects.insert(
            "/api/v1/namespaces/prod/persistentvolumeclaims/waiting".to_owned(),
            json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": "waiting" },
                    "spec": {}, "status": { "phase": "Pending" } }),
        );
        objects.insert(
            "/api/v1/nodes/n1".to_owned(),
            json!({ "apiVersion": "v1", "kind": "Node",
                    "metadata": { "name": "n1", "labels": { "kubernetes.io/hostname": "n1" } },
                    "status": { "allocatable": { "memory": "2Gi" } } }),
        );
        objects
    }

    fn pod(volumes: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "web-0", "namespace": "prod", "uid": "pod-uid", "labels": { "app": "web" } },
            "spec": {
                "serviceAccountName": "builder",
                "nodeName": "n1",
                "containers": [{ "name": "app", "image": "busybox",
                                 "resources": { "limits": { "cpu": "500m" } } }],
                "volumes": volumes,
            }
        }))
        .unwrap()
    }

    async fn prepare_pod(client: &kube::Client, pod: &Pod, pod_dir: &Path) -> Result<PodVolumes, VolumeError> {
        prepare(&VolumeContext { client, pod, pod_dir, node_name: "n1" }).await
    }

    /// Needs root: the secret and projected volumes are tmpfs mounts, removed by cleanup.
    #[tokio::test]
    async fn root_prepare_materialises_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("storage/pvc-1");
        let mut objects = objects();
        objects.insert(
            "/api/v1/persistentvolumes/pvc-1".to_owned(),
            json!({ "apiVersion": "v1", "kind": "PersistentVolume", "metadata": { "name": "pvc-1" },
                    "spec": { "hostPath": { "path": host.to_str().unwrap(), "type": "DirectoryOrCreate" },
                              "claimRef": { "name": "data", "namespace": "prod", "uid": "claim-uid" },
                              "nodeAffinity": { "required": { "nodeSelectorTerms": [{ "matchExpressions": [
                                  { "key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"] }] }] } } } }),
        );
        let (client, state) = fake_api::serve(objects).await;
        let pod = pod(json!([
            { "name": "kube-api-access-abcde", "projected": { "defaultMode": 420, "sources": [
                { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                { "downwardAPI": { "items": [{ "path": "namespace",
                    "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } }] } } ] } },
            { "name": "config", "configMap": { "name": "app", "items": [{ "key": "a.conf", "path": "conf/a", "mode": 256 }] } },
            { "name": "all-config", "configMap": { "name": "app" } },
            { "name": "creds", "secret": { "secretName": "creds", "defaultMode": 384 } },
            { "name": "maybe", "secret": { "secretName": "absent", "optional": true } },
            { "name": "info", "downwardAPI": { "items": [
                { "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } },
                { "path": "cpu", "resourceFieldRef": { "containerName": "app", "resource": "limits.cpu", "divisor": "1m" } },
                { "path": "mem", "resourceFieldRef": { "containerName": "app", "resource": "limits.memory", "divisor": "1Mi" } } ] } },
            { "name": "scratch", "emptyDir": {} },
            { "name": "data", "persistentVolumeClaim": { "claimName": "data" } }
        ]));
        let pod_dir = dir.path().join("pods/pod-uid");
        let volumes = prepare_pod(&client, &pod, &pod_dir).await.unwrap();
        let sa = pod_dir.join("volumes/kubernetes.io~projected/kube-api-access-abcde");
        assert_eq!(std::fs::read_to_string(sa.join("token")).unwrap(), "token-1");
        assert_eq!(std::fs::read_to_string(sa.join("ca.crt")).unwrap(), "-----BEGIN CERTIFICATE-----\n");
        assert_eq!(std::fs::read_to_string(sa.join("namespace")).unwrap(), "prod");
        assert_eq!(std::fs::metadata(sa.join("token")).unwrap().mode() & 0o777, 0o644);
        {
            let state = state.lock().unwrap();
            let (path, request) = &state.token_requests[0];
            assert_eq!(path, "/api/v1/namespaces/prod/serviceaccounts/builder/token");
            assert_eq!(request["spec"]["expirationSeconds"], 3607);
            assert_eq!(
                request["spec"]["boundObjectRef"],
                json!({ "apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "pod-uid" })
            );
        }
        let config = pod_dir.join("volumes/kubernetes.io~configmap/config");
        assert_eq!(std::fs::read_to_string(config.join("conf/a")).unwrap(), "A");
        assert_eq!(std::fs::metadata(config.join("conf/a")).unwrap().mode() & 0o777, 0o400);
        assert!(!config.join("b.conf").exists());
        let all = pod_dir.join("volumes/kubernetes.io~configmap/all-config");
        assert_eq!(std::fs::read(all.join("bin")).unwrap(), vec![0, 1]);
        assert_eq!(std::fs::read_to_string(all.join("b.conf")).unwrap(), "B");
        let creds = pod_dir.join("volumes/kubernetes.io~secret/creds");
        assert_eq!(std::fs::read_to_string(creds.join("password")).unwrap(), "hunter2");
        assert_eq!(std::fs::metadata(creds.join("password")).unwrap().mode() & 0o777, 0o600);
        let info = pod_dir.join("volumes/kubernetes.io~downward-api/info");
        assert_eq!(std::fs::read_to_string(info.join("labels")).unwrap(), "app=\"web\"");
        assert_eq!(std::fs::read_to_string(info.join("cpu")).unwrap(), "500");
        assert_eq!(std::fs::read_to_string(info.join("mem")).unwrap(), "2048", "node allocatable for an unset limit");
        assert!(pod_dir.join("volumes/kubernetes.io~empty-dir/scratch").is_dir());
        assert!(host.is_dir(), "DirectoryOrCreate made the PV's directory");

        let container: Container = serde_json::from_value(json!({ "name": "app", "volumeMounts": [
            { "name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true },
            { "name": "data", "mountPath": "/data" },
            { "name": "creds", "mountPath": "/creds" } ] }))
        .unwrap();
        let mounts = volumes.mounts(&container).unwrap();
        assert_eq!(
            mounts,
            vec![
                Mount {
                    container_path: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
                    host_path: sa.clone(),
                    readonly: true
                },
                Mount { container_path: "/data".into(), host_path: host.clone(), readonly: false },
                Mount { container_path: "/creds".into(), host_path: creds.clone(), readonly: true },
            ]
        );

        // A second pass rewrites nothing and keeps the cached token.
        let before = std::fs::read_link(sa.join("..data")).unwrap();
        prepare_pod(&client, &pod, &pod_dir).await.unwrap();
        assert_eq!(std::fs::read_link(sa.join("..data")).unwrap(), before);
        assert_eq!(state.lock().unwrap().token_requests.len(), 1);

        // A ConfigMap update is swapped in.
        state.lock().unwrap().objects.insert(
            "/api/v1/namespaces/prod/configmaps/app".to_owned(),
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app" }, "data": { "a.conf": "A2" } }),
        );
        prepare_pod(&client, &pod, &pod_dir).await.unwrap();
        assert_eq!(std::fs::read_to_string(config.join("conf/a")).unwrap(), "A2");
        assert!(!all.join("b.conf").exists());

        cleanup(&pod_dir).unwrap();
        assert!(!pod_dir.exists());
        assert!(host.is_dir(), "cleanup left the PV alone");
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert!(mount_points().unwrap().iter().all(|p| !p.starts_with(&root)));
    }

    /// Needs root: chown to the pod's fsGroup.
    #[tokio::test]
    async fn root_empty_dir_belongs_to_the_fs_group() {
        let (client, _) = fake_api::serve(objects()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut pod = pod(json!([{ "name": "scratch", "emptyDir": {} }]));
        pod.spec.as_mut().unwrap().security_context = Some(serde_json::from_value(json!({ "fsGroup": 2000 })).unwrap());
        let pod_dir = dir.path().join("pods/p");
        prepare_pod(&client, &pod, &pod_dir).await.unwrap();
        let scratch = std::fs::metadata(pod_dir.join("volumes/kubernetes.io~empty-dir/scratch")).unwrap();
        assert_eq!((scratch.gid(), scratch.mode() & 0o7777), (2000, 0o2777));
        cleanup(&pod_dir).unwrap();
    }

    #[tokio::test]
    async fn local_persistent_volumes_on_this_node_only() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("disk");
        std::fs::create_dir(&local).unwrap();
        let mut objects = objects();
        let affinity = |node: &str| {
            json!({ "required": { "nodeSelectorTerms": [{ "matchExpressions": [
                { "key": "kubernetes.io/hostname", "operator": "In", "values": [node] }] }] } })
        };
        for (claim, volume, node) in [("here", "pv-here", "n1"), ("there", "pv-there", "n2")] {
            objects.insert(
                format!("/api/v1/namespaces/prod/persistentvolumeclaims/{claim}"),
                json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": claim, "uid": claim },
                        "spec": { "volumeName": volume }, "status": { "phase": "Bound" } }),
            );
            objects.insert(
                format!("/api/v1/persistentvolumes/{volume}"),
                json!({ "apiVersion": "v1", "kind": "PersistentVolume", "metadata": { "name": volume },
                        "spec": { "local": { "path": local.to_str().unwrap() }, "claimRef": { "uid": claim },
                                  "nodeAffinity": affinity(node) } }),
            );
        }
        let (client, _) = fake_api::serve(objects).await;
        let pod_dir = dir.path().join("pods/p");
        let here = pod(json!([{ "name": "d", "persistentVolumeClaim": { "claimName": "here", "readOnly": true } }]));
        let volumes = prepare_pod(&client, &here, &pod_dir).await.unwrap();
        let container: Container =
            serde_json::from_value(json!({ "name": "app", "volumeMounts": [{ "name": "d", "mountPath": "/d" }] }))
                .unwrap();
        assert_eq!(
            volumes.mounts(&container).unwrap(),
            vec![Mount { container_path: "/d".into(), host_path: local.clone(), readonly: true }]
        );
        let there = pod(json!([{ "name": "d", "persistentVolumeClaim": { "claimName": "there" } }]));
        assert_eq!(
            prepare_pod(&client, &there, &pod_dir).await.unwrap_err().to_string(),
            "persistentvolume \"pv-there\" is not available on node \"n1\""
        );
    }

    #[tokio::test]
    async fn prepare_errors_read_like_the_kubelet() {
        let (client, _) = fake_api::serve(objects()).await;
        let dir = tempfile::tempdir().unwrap();
        let check = |volumes: serde_json::Value, want: &'static str| {
            let client = client.clone();
            let pod_dir = dir.path().join("pods/x");
            async move {
                let err = prepare_pod(&client, &pod(volumes), &pod_dir).await.unwrap_err();
                assert_eq!(err.to_string(), want);
            }
        };
        check(json!([{ "name": "c", "configMap": { "name": "foo" } }]), "configmap \"foo\" not found").await;
        check(json!([{ "name": "s", "secret": { "secretName": "bar" } }]), "secret \"bar\" not found").await;
        check(
            json!([{ "name": "c", "configMap": { "name": "app", "items": [{ "key": "zz", "path": "zz" }] } }]),
            "configmap references non-existent config key: zz",
        )
        .await;
        check(
            json!([{ "name": "p", "persistentVolumeClaim": { "claimName": "waiting" } }]),
            "persistentvolumeclaim \"waiting\" is not bound",
        )
        .await;
        check(
            json!([{ "name": "p", "persistentVolumeClaim": { "claimName": "c" } }]),
            "persistentvolumeclaim \"c\" not found",
        )
        .await;
        check(
            json!([{ "name": "n", "nfs": { "server": "x", "path": "/" } }]),
            "volume \"n\": unsupported volume type nfs",
        )
        .await;
        check(
            json!([{ "name": "h", "hostPath": { "path": "/nonexistent/bramble", "type": "Directory" } }]),
            "hostPath type check failed: /nonexistent/bramble is not a directory",
        )
        .await;
    }
}
