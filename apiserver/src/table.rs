//! Objects and lists as `meta.k8s.io` Tables (`kubectl get` asks for them):
//! the columns and cells come from the printers, each row carries the
//! object as `includeObject` asks (its metadata by default).

use serde_json::{Value, json};

use crate::catalog::Resource;
use crate::printers;
use crate::request::Query;
use crate::status::ApiError;

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn row(resource: &Resource, obj: &Value, include: &str, version: &str, now: i64) -> Value {
    let cells = printers::cells(resource.group, resource.kind, obj, now);
    let object = match include {
        "None" => Value::Null,
        "Object" => obj.clone(),
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": format!("meta.k8s.io/{version}"),
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    };
    let mut row = json!({"cells": cells});
    if !object.is_null() {
        row["object"] = object;
    }
    row
}

/// A Table of one object or of a list's items.
pub fn to_table(resource: &Resource, value: &Value, query: &Query, version: &str) -> Result<Value, ApiError> {
    let include = query.get("includeObject").unwrap_or("Metadata");
    if !matches!(include, "None" | "Metadata" | "Object") {
        return Err(ApiError::BadRequest(format!(
            "includeObject: Unsupported value: \"{include}\": supported values: \"Metadata\", \"None\", \"Object\""
        )));
    }
    let now = now_unix();
    let is_list = value.get("items").is_some_and(Value::is_array)
        && value.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"));
    let (rows, metadata) = if is_list {
        let rows: Vec<Value> = value["items"]
            .as_array()
            .map(|items| items.iter().map(|obj| row(resource, obj, include, version, now)).collect())
            .unwrap_or_default();
        (rows, value.get("metadata").cloned().unwrap_or_else(|| json!({})))
    } else {
        let rv = value.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        let metadata = if rv.is_null() { json!({}) } else { json!({"resourceVersion": rv}) };
        (vec![row(resource, value, include, version, now)], metadata)
    };
    let columns: Vec<Value> = printers::columns(resource.group, resource.kind)
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    Ok(json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }))
}
