//! Content negotiation: which of the forms we can answer in a client's
//! `Accept` header asks for, and what a request body's `Content-Type` is.
//! bramble answers JSON and YAML (and JSON Tables and aggregated discovery
//! documents); it never answers protobuf, so a client that asks only for
//! protobuf gets 406, and one that lists JSON as a fallback gets JSON.

use crate::status::ApiError;

/// One entry of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    pub essence: String,
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Splits an `Accept` header into its media ranges, in the client's order
/// (Kubernetes clients do not use q-values to rank; entries with q=0 are dropped).
pub fn parse_accept(header: &str) -> Vec<MediaRange> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let essence = parts.next()?.to_ascii_lowercase();
            if essence.is_empty() {
                return None;
            }
            let params: Vec<(String, String)> = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()))
                .collect();
            if params.iter().any(|(k, v)| k == "q" && v.parse::<f32>().is_ok_and(|q| q == 0.0)) {
                return None;
            }
            Some(MediaRange { essence, params })
        })
        .collect()
}

/// How an object or list is to be written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// `meta.k8s.io` Table, of that version (`v1` or `v1beta1`).
    Table {
        version: &'static str,
    },
    /// `meta.k8s.io` PartialObjectMetadata(List): the metadata alone, of that version.
    Metadata {
        version: &'static str,
    },
}

/// The metadata form of one object.
pub fn partial_metadata(obj: &serde_json::Value, version: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

fn is_json(essence: &str) -> bool {
    matches!(essence, "application/json" | "application/*" | "*/*")
}

/// The form a resource request is answered in.
pub fn object_format(accept: Option<&str>) -> Result<Format, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Format::Json);
    };
    let ranges = parse_accept(accept);
    for range in &ranges {
        match range.param("as") {
            Some("Table") if is_json(&range.essence) && range.param("g") == Some("meta.k8s.io") => {
                match range.param("v") {
                    Some("v1") => return Ok(Format::Table { version: "v1" }),
                    Some("v1beta1") => return Ok(Format::Table { version: "v1beta1" }),
                    _ => continue,
                }
            }
            Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                if is_json(&range.essence) && range.param("g") == Some("meta.k8s.io") =>
            {
                match range.param("v") {
                    Some("v1") => return Ok(Format::Metadata { version: "v1" }),
                    Some("v1beta1") => return Ok(Format::Metadata { version: "v1beta1" }),
                    _ => continue,
                }
            }
            // Other conversions are not served.
            Some(_) => continue,
            None => {}
        }
        if is_json(&range.essence) {
            return Ok(Format::Json);
        }
        if matches!(range.essence.as_str(), "application/yaml" | "application/x-yaml" | "text/yaml") {
            return Ok(Format::Yaml);
        }
    }
    if ranges.is_empty() {
        return Ok(Format::Json);
    }
    Err(not_acceptable())
}

pub fn not_acceptable() -> ApiError {
    ApiError::NotAcceptable("only the following media types are accepted: application/json, application/yaml".into())
}

/// Which discovery document a request for `/api` or `/apis` wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryFormat {
    /// The legacy `APIVersions` / `APIGroupList`.
    Legacy,
    /// `apidiscovery.k8s.io` `APIGroupDiscoveryList` of that version.
    Aggregated { version: &'static str },
}

pub fn discovery_format(accept: Option<&str>) -> DiscoveryFormat {
    for range in parse_accept(accept.unwrap_or("")) {
        if range.param("g") == Some("apidiscovery.k8s.io") && range.param("as") == Some("APIGroupDiscoveryList") {
            match range.param("v") {
                Some("v2") => return DiscoveryFormat::Aggregated { version: "v2" },
                Some("v2beta1") => return DiscoveryFormat::Aggregated { version: "v2beta1" },
                _ => continue,
            }
        }
        if range.param("as").is_none() && (is_json(&range.essence) || range.essence.is_empty()) {
            return DiscoveryFormat::Legacy;
        }
    }
    DiscoveryFormat::Legacy
}

/// The kinds of request body the API reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
    /// `application/vnd.kubernetes.protobuf`, as client-go 1.32+ sends built-in objects.
    Protobuf,
}

pub fn body_type(content_type: Option<&str>) -> Result<BodyType, ApiError> {
    let essence = content_type.and_then(|c| c.split(';').next()).map(|e| e.trim().to_ascii_lowercase());
    Ok(match essence.as_deref() {
        None | Some("") | Some("application/json") => BodyType::Json,
        Some("application/yaml" | "application/x-yaml" | "text/yaml") => BodyType::Yaml,
        Some("application/vnd.kubernetes.protobuf") => BodyType::Protobuf,
        Some("application/json-patch+json") => BodyType::JsonPatch,
        Some("application/merge-patch+json") => BodyType::MergePatch,
        Some("application/strategic-merge-patch+json") => BodyType::StrategicMergePatch,
        Some("application/apply-patch+yaml" | "application/apply-patch+cbor") => BodyType::ApplyPatch,
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_formats() {
        let check = |accept: Option<&str>, want: Result<Format, u16>| {
            assert_eq!(object_format(accept).map_err(|e| e.code()), want, "{accept:?}");
        };
        check(None, Ok(Format::Json));
        check(Some("*/*"), Ok(Format::Json));
        check(
            Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,\
                 application/json",
            ),
            Ok(Format::Table { version: "v1" }),
        );
        check(Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io"), Ok(Format::Table { version: "v1beta1" }));
        check(Some("application/vnd.kubernetes.protobuf, application/json"), Ok(Format::Json));
        check(Some("application/yaml"), Ok(Format::Yaml));
        check(Some("application/vnd.kubernetes.protobuf"), Err(406));
        check(
            Some("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
            Ok(Format::Metadata { version: "v1" }),
        );
        check(Some("application/json;as=PartialObjectMetadata;v=v2;g=meta.k8s.io"), Err(406));
        check(Some("application/json;as=APIGroup;v=v1;g=meta.k8s.io,application/json"), Ok(Format::Json));
    }

    #[test]
    fn discovery_formats() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,\
                       application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(discovery_format(Some(kubectl)), DiscoveryFormat::Aggregated { version: "v2" });
        assert_eq!(
            discovery_format(Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")),
            DiscoveryFormat::Aggregated { version: "v2beta1" }
        );
        assert_eq!(discovery_format(Some("application/json")), DiscoveryFormat::Legacy);
        assert_eq!(discovery_format(None), DiscoveryFormat::Legacy);
    }

    #[test]
    fn body_types() {
        assert_eq!(body_type(Some("application/json; charset=utf-8")).ok(), Some(BodyType::Json));
        assert_eq!(body_type(Some("application/strategic-merge-patch+json")).ok(), Some(BodyType::StrategicMergePatch));
        assert_eq!(body_type(Some("application/vnd.kubernetes.protobuf")).ok(), Some(BodyType::Protobuf));
        assert_eq!(body_type(Some("application/cbor")).map_err(|e| e.code()), Err(415));
    }
}
