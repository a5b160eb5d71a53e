//! The shape of every built-in type, field by field: JSON name, type,
//! protobuf number, list/map/pointer/omitempty/inline. Two users: the
//! protobuf decoder (`protobuf.rs`), and field validation here, which drops
//! the fields a type does not have, as upstream's decoding into Go structs
//! drops them, and reports them as `fieldValidation` asks: `Strict` (400),
//! `Warn` (a warning header; the default) or `Ignore`.
//!
//! [`table::MESSAGES`] is generated, not written: `generate.py` beside
//! this file reads every `types.go` of kubernetes/api and apimachinery's
//! meta/v1 at the release tag (v0.33.9), takes each struct field's
//! `json:"name,omitempty"` and `protobuf:"wire,N,..."` tags and whether its
//! Go type is a pointer, follows the types reachable from the kinds the
//! catalogue serves (all but apiextensions'), DeleteOptions and
//! authentication/v1.TokenRequest (the `serviceaccounts/token` body), and prints
//! the table. Only names and numbers are taken over. Tests check that every
//! served kind has its type and that the table names the same fields as
//! k8s-openapi's OpenAPI schemas.

#[rustfmt::skip]
mod table;

use serde_json::Value;

/// A field's type on the wire and in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    String,
    Bool,
    Int,
    Float,
    /// `[]byte`: base64 in JSON.
    Bytes,
    Message(&'static str),
    /// metav1.Time: `{seconds, nanos}`, RFC 3339 to the second in JSON.
    Time,
    /// metav1.MicroTime: RFC 3339 with microseconds.
    MicroTime,
    /// runtime.RawExtension, metav1.FieldsV1: arbitrary JSON.
    Raw,
    /// resource.Quantity: `{string}`.
    Quantity,
    /// intstr.IntOrString: `{type, intVal, strVal}`.
    IntOrString,
}

/// One field of a message type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The protobuf field number; 0 for `apiVersion` and `kind`, which have none.
    pub number: u32,
    pub json: &'static str,
    pub ty: Ty,
    flags: u8,
}

pub(crate) const NONE: u8 = 0;
/// A list.
pub(crate) const REP: u8 = 1;
/// A map: each occurrence is an entry `{key = 1, value = 2}`.
pub(crate) const MAP: u8 = 2;
/// A named slice type (`ExtraValue []string`): its items are wrapped in a message `{items = 1}`.
pub(crate) const WRAP: u8 = 4;
/// A Go pointer: present on the wire exactly when set.
pub(crate) const PTR: u8 = 8;
/// `omitempty`: left out of JSON when zero.
pub(crate) const OMIT: u8 = 16;
/// Embedded with `json:",inline"`: its fields belong to the enclosing object.
pub(crate) const INLINE: u8 = 32;

pub(crate) const fn f(number: u32, json: &'static str, ty: Ty, flags: u8) -> Field {
    Field { number, json, ty, flags }
}

impl Field {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The fields of a message type, by its name (`apps/v1.Deployment`).
pub(crate) fn fields(name: &str) -> Option<&'static [Field]> {
    table::MESSAGES.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| table::MESSAGES[i].1)
}

/// The type a kind of an apiVersion is, or `None` for kinds the table does
/// not know (custom resources). DeleteOptions is one type in every group;
/// a policy/v1beta1 Eviction (still accepted by `pods/eviction`) has the
/// fields and numbers of policy/v1's.
pub(crate) fn root_type(api_version: &str, kind: &str) -> Option<&'static str> {
    let name = if kind == "DeleteOptions" {
        "meta/v1.DeleteOptions".to_string()
    } else if kind == "Eviction" && api_version == "policy/v1beta1" {
        "policy/v1.Eviction".to_string()
    } else {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        // The Go package is the group's first label: rbac.authorization.k8s.io is "rbac".
        let package = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
        format!("{package}/{version}.{kind}")
    };
    table::MESSAGES.binary_search_by(|(n, _)| (*n).cmp(name.as_str())).ok().map(|i| table::MESSAGES[i].0)
}

/// What the client asked to happen to fields a type does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers (upstream's default).
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// From the `fieldValidation` query parameter; `None` for a value upstream refuses.
    pub fn parse(value: Option<&str>) -> Option<FieldValidation> {
        match value {
            None | Some("") | Some("Warn") => Some(FieldValidation::Warn),
            Some("Ignore") => Some(FieldValidation::Ignore),
            Some("Strict") => Some(FieldValidation::Strict),
            Some(_) => None,
        }
    }
}

/// Removes from `object` (of type `type_name`) every field the type does
/// not have, at any depth, and returns their paths as upstream prints them
/// (`spec.template.spec.containers[0].imagePullPolcy`).
pub(crate) fn prune_unknown(object: &mut Value, type_name: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    prune(object, type_name, "", &mut unknown);
    unknown
}

/// Every field of a type, with those of its inlined members.
fn all_fields(type_name: &str, out: &mut Vec<&'static Field>) {
    for field in fields(type_name).unwrap_or_default() {
        match (field.has(INLINE), field.ty) {
            (true, Ty::Message(inner)) => all_fields(inner, out),
            _ => out.push(field),
        }
    }
}

fn prune(value: &mut Value, type_name: &str, path: &str, unknown: &mut Vec<String>) {
    let Value::Object(map) = value else { return };
    let mut known = Vec::new();
    all_fields(type_name, &mut known);
    map.retain(|key, _| {
        let keep = known.iter().any(|f| f.json == key);
        if !keep {
            unknown.push(if path.is_empty() { key.clone() } else { format!("{path}.{key}") });
        }
        keep
    });
    for field in known {
        let Ty::Message(inner) = field.ty else { continue };
        let Some(child) = map.get_mut(field.json) else { continue };
        let here = if path.is_empty() { field.json.to_string() } else { format!("{path}.{}", field.json) };
        match child {
            Value::Array(items) if field.has(REP) && !field.has(MAP) => {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item, inner, &format!("{here}[{i}]"), unknown);
                }
            }
            Value::Object(entries) if field.has(MAP) => {
                for (key, item) in entries.iter_mut() {
                    prune(item, inner, &format!("{here}[{key}]"), unknown);
                }
            }
            child => prune(child, inner, &here, unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_is_sorted_and_reaches_every_type_it_names() {
        assert!(table::MESSAGES.windows(2).all(|w| w[0].0 < w[1].0), "sorted for binary search");
        for (name, fields) in table::MESSAGES {
            for field in *fields {
                if let Ty::Message(inner) = field.ty {
                    assert!(super::fields(inner).is_some(), "{name}.{} names {inner}, not in the table", field.json);
                }
            }
        }
    }

    /// The table and k8s-openapi's schemas come from the same Go types by
    /// different routes; they must name the same fields.
    #[test]
    fn the_table_has_the_fields_of_the_openapi_schemas() {
        let mut checked = 0;
        for group_version in ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/networking.k8s.io/v1", "apis/policy/v1"]
        {
            let doc = crate::openapi::document_at(group_version).expect("a served group-version");
            let schemas = doc["components"]["schemas"].as_object().expect("schemas");
            for (name, schema) in schemas {
                let ours = name.strip_prefix("io.k8s.api.").map(|rest| rest.replacen('.', "/", 1)).or_else(|| {
                    name.strip_prefix("io.k8s.apimachinery.pkg.apis.meta.").map(|rest| format!("meta/{rest}"))
                });
                let Some(ours) = ours.filter(|n| fields(n).is_some()) else { continue };
                let Some(properties) = schema["properties"].as_object() else { continue };
                let mut known = Vec::new();
                all_fields(&ours, &mut known);
                let mut theirs: Vec<&str> = properties.keys().map(String::as_str).collect();
                let mut mine: Vec<&str> = known.iter().map(|f| f.json).collect();
                theirs.sort_unstable();
                mine.sort_unstable();
                assert_eq!(mine, theirs, "{ours} against {name}");
                checked += 1;
            }
        }
        assert!(checked > 150, "only {checked} types were compared");
    }

    #[test]
    fn every_served_kind_but_crds_has_a_type() {
        for r in crate::catalog::RESOURCES.iter().filter(|r| r.group != "apiextensions.k8s.io") {
            let api_version = crate::storage::api_version(r.group, r.version);
            assert!(root_type(&api_version, r.kind).is_some(), "{api_version} {} is not in the table", r.kind);
        }
    }

    #[test]
    fn unknown_fields_are_dropped_with_upstreams_paths() {
        let mut deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "colour": "red"},
            "spec": {
                "replica": 3,
                "template": {"spec": {"containers": [
                    {"name": "a", "image": "nginx", "imagePullPolcy": "Always"},
                    {"name": "b", "image": "nginx", "resources": {"requests": {"cpu": "1"}}},
                ]}},
            },
        });
        let unknown = prune_unknown(&mut deployment, "apps/v1.Deployment");
        assert_eq!(unknown, ["metadata.colour", "spec.replica", "spec.template.spec.containers[0].imagePullPolcy"]);
        assert!(deployment["spec"].get("replica").is_none());
        assert_eq!(deployment["spec"]["template"]["spec"]["containers"][1]["resources"]["requests"]["cpu"], "1");
        assert_eq!(deployment["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn inlined_members_and_raw_fields_are_known() {
        let mut pod = json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/srv"}}],
                                      "containers": [{"name": "c", "livenessProbe": {"httpGet": {"port": 80}}}]}});
        assert!(prune_unknown(&mut pod, "core/v1.Pod").is_empty(), "{pod}");
        let mut revision = json!({"revision": 1, "data": {"anything": {"goes": true}}});
        assert!(prune_unknown(&mut revision, "apps/v1.ControllerRevision").is_empty());
        assert_eq!(root_type("rbac.authorization.k8s.io/v1", "Role"), Some("rbac/v1.Role"));
        assert_eq!(root_type("v1", "Pod"), Some("core/v1.Pod"));
        assert_eq!(root_type("example.com/v1", "Widget"), None);
    }
}
