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

/// How the rows of one request are made: which object each row carries
/// (`includeObject`), for which Table version, at which time.
pub struct Rows {
    include: &'static str,
    version: &'static str,
    now: i64,
}

impl Rows {
    pub fn new(query: &Query, version: &'static str) -> Result<Rows, ApiError> {
        let include = match query.get("includeObject").unwrap_or("Metadata") {
            "None" => "None",
            "Metadata" => "Metadata",
            "Object" => "Object",
            other => {
                return Err(ApiError::BadRequest(format!(
                    "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
                )));
            }
        };
        Ok(Rows { include, version, now: now_unix() })
    }

    /// The row of one object.
    pub fn row(&self, resource: &Resource, obj: &Value) -> Value {
        row(resource, obj, self.include, self.version, self.now)
    }
}

/// The column definitions of a kind, as a Table lists them.
pub fn column_definitions(resource: &Resource) -> Vec<Value> {
    printers::columns(resource.group, resource.kind)
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
        .collect()
}

/// A Table of one object or of a list's items.
pub fn to_table(resource: &Resource, value: &Value, query: &Query, version: &'static str) -> Result<Value, ApiError> {
    let rows_for = Rows::new(query, version)?;
    let is_list = value.get("items").is_some_and(Value::is_array)
        && value.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"));
    let (rows, metadata) = if is_list {
        let rows: Vec<Value> = value["items"]
            .as_array()
            .map(|items| items.iter().map(|obj| rows_for.row(resource, obj)).collect())
            .unwrap_or_default();
        (rows, value.get("metadata").cloned().unwrap_or_else(|| json!({})))
    } else {
        let rv = value.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        let metadata = if rv.is_null() { json!({}) } else { json!({"resourceVersion": rv}) };
        (vec![rows_for.row(resource, value)], metadata)
    };
    Ok(json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": metadata,
        "columnDefinitions": column_definitions(resource),
        "rows": rows,
    }))
}
