//! Reading one object, and the pieces every write shares: the current
//! object with its revision, system metadata (uid, creation time,
//! generation), the namespace lifecycle check, and the scale subresource's
//! view of a workload.

use serde_json::{Map, Value, json};

use super::Ctx;
use crate::catalog;
use crate::http::Reply;
use crate::status::ApiError;
use crate::storage;

/// The object and the revision it was read at.
pub(crate) struct Current {
    pub obj: Value,
    pub revision: i64,
}

pub(crate) async fn load(ctx: &Ctx<'_>, name: &str) -> Result<Option<Current>, ApiError> {
    let key = storage::key(ctx.resource, ctx.namespace(), name);
    match ctx.api.store.get(&key).await? {
        None => Ok(None),
        Some(kv) => Ok(Some(Current { obj: storage::decode(ctx.resource, &kv)?, revision: kv.mod_revision })),
    }
}

pub(crate) async fn load_existing(ctx: &Ctx<'_>, name: &str) -> Result<Current, ApiError> {
    load(ctx, name).await?.ok_or_else(|| ApiError::not_found(ctx.resource.group, ctx.resource.plural, name))
}

pub(crate) async fn get(ctx: &Ctx<'_>, name: &str) -> Result<Reply, ApiError> {
    let current = load_existing(ctx, name).await?;
    Ok(ctx.respond(200, current.obj))
}

pub(crate) fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    crate::time::format_rfc3339(now as i64)
}

/// A random version-4 UUID, as Kubernetes uids are.
pub(crate) fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// `generateName` plus five random characters from upstream's alphabet
/// (no vowels, so no words, and no look-alike digits).
pub(crate) fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    // Upstream cuts the prefix so that the whole name fits 63 characters.
    let prefix: String = prefix.chars().take(58).collect();
    let suffix: String = (0..5).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{suffix}")
}

pub(crate) fn metadata_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let map = obj.as_object_mut().ok_or_else(|| ApiError::BadRequest("the object is not a JSON object".into()))?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    meta.as_object_mut().ok_or_else(|| ApiError::BadRequest("metadata must be an object".into()))
}

/// Refuses a create in a namespace that does not exist or is being deleted,
/// as the NamespaceLifecycle admission plugin does.
pub(crate) async fn check_namespace(ctx: &Ctx<'_>, namespace: &str) -> Result<(), ApiError> {
    let namespaces = catalog::find("", "v1", "namespaces").ok_or(ApiError::NoSuchResource)?;
    let key = storage::key(namespaces, None, namespace);
    let Some(kv) = ctx.api.store.get(&key).await? else {
        return Err(ApiError::not_found("", "namespaces", namespace));
    };
    let ns = storage::decode(namespaces, &kv)?;
    let terminating = ns.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
        || ns.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating");
    if terminating {
        return Err(ApiError::Forbidden {
            message: format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                ctx.gr(),
                ctx.req.name.as_deref().unwrap_or("")
            ),
            gr: Some(ctx.gr()),
            name: String::new(),
        });
    }
    Ok(())
}

/// The resource whose `scale` subresource answers for `plural`, and where
/// its replica counts live.
fn scale_paths(plural: &str) -> Option<(&'static str, &'static str)> {
    match plural {
        "deployments" | "replicasets" | "statefulsets" | "replicationcontrollers" => {
            Some(("/spec/replicas", "/status/replicas"))
        }
        _ => None,
    }
}

/// The `autoscaling/v1` Scale of a workload.
pub(crate) fn scale_of(ctx: &Ctx<'_>, obj: &Value) -> Result<Value, ApiError> {
    let (spec_path, status_path) = scale_paths(ctx.resource.plural).ok_or(ApiError::NoSuchResource)?;
    let selector = match obj.pointer("/spec/selector") {
        // ReplicationControllers have a plain map selector.
        Some(Value::Object(map)) if ctx.resource.plural == "replicationcontrollers" => {
            map.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect::<Vec<_>>().join(",")
        }
        Some(sel) => crate::selector::LabelSelector::from_api(sel).map(|s| s.to_string()).unwrap_or_default(),
        None => String::new(),
    };
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut scale = json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer(spec_path).and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": obj.pointer(status_path).and_then(Value::as_i64).unwrap_or(0)},
    });
    if !selector.is_empty() {
        scale["status"]["selector"] = json!(selector);
    }
    Ok(scale)
}

pub(crate) async fn get_scale(ctx: &Ctx<'_>, name: &str) -> Result<Reply, ApiError> {
    let current = load_existing(ctx, name).await?;
    Ok(super::Ctx::respond_raw_json(200, scale_of(ctx, &current.obj)?))
}

impl Ctx<'_> {
    /// A body that is not of this resource's kind (Scale, Status) is always JSON.
    pub fn respond_raw_json(code: u16, value: Value) -> Reply {
        crate::http::json_reply(code, &value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_version_4() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(uid.as_bytes()[14], b'4');
        assert!(matches!(uid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn generated_names() {
        let name = generated_name("web-");
        assert_eq!(name.len(), 9);
        assert!(name.starts_with("web-"));
        assert!(name[4..].bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
        assert_eq!(generated_name(&"x".repeat(80)).len(), 63);
    }
}
