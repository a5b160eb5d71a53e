//! The admission chain of a write, in upstream's order: defaulting (on
//! every decoded body), the create-time admission defaults (service
//! account, default tolerations), Priority (`priority.rs`, which reads the
//! stored PriorityClasses), DefaultStorageClass (`storage_class.rs`, which
//! reads the stored StorageClasses), then validation, whose errors become one 422
//! Invalid with a cause per field, and last Priority's check that one
//! PriorityClass at most is the global default.

use serde_json::Value;

use crate::Api;
use crate::catalog::Resource;
use crate::defaults;
use crate::status::{ApiError, Cause};
use crate::storage;
use crate::validation::{self, FieldError};
use crate::{priority, storage_class};

fn invalid(resource: &Resource, obj: &Value, errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        return Ok(());
    }
    let name = storage::name_of(obj).to_string();
    let message = validation::invalid_message(resource.kind, resource.group, &name, &errors);
    let qualified_kind = if resource.group.is_empty() {
        resource.kind.to_string()
    } else {
        format!("{}.{}", resource.kind, resource.group)
    };
    Err(ApiError::Invalid {
        qualified_kind,
        group: resource.group.to_string(),
        kind: resource.kind.to_string(),
        name,
        message,
        causes: errors
            .iter()
            .map(|e| Cause { reason: e.kind.reason().to_string(), message: e.cause_message(), field: e.field.clone() })
            .collect(),
    })
}

pub async fn admit_create(api: &Api, resource: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    defaults::apply_defaults(resource.group, resource.version, resource.kind, obj);
    defaults::apply_admission_defaults(resource.group, resource.kind, obj);
    priority::admit_create(api, resource, obj).await?;
    storage_class::admit_create(api, resource, obj).await?;
    invalid(resource, obj, validation::validate_create(resource.group, resource.kind, obj))?;
    priority::validate(api, resource, obj, false).await
}

pub async fn admit_update(api: &Api, resource: &Resource, obj: &mut Value, old: &Value) -> Result<(), ApiError> {
    defaults::apply_defaults(resource.group, resource.version, resource.kind, obj);
    priority::admit_update(resource, obj, old);
    invalid(resource, obj, validation::validate_update(resource.group, resource.kind, obj, old))?;
    priority::validate(api, resource, obj, true).await
}
