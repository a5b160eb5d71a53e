//! Every error the API answers with, mapped to kube-apiserver's
//! `metav1.Status` (reason, code, message wording, details) in this one
//! place. Handlers return [`ApiError`]; nothing else builds a failure body.

use serde_json::{Value, json};

/// One cause of an Invalid (422) error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, ...
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// The group and resource an error is about, as upstream prints them
/// (`pods`, `deployments.apps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> GroupResource {
        GroupResource { group: group.to_string(), resource: resource.to_string() }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() { f.write_str(&self.resource) } else { write!(f, "{}.{}", self.resource, self.group) }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{gr} \"{name}\" not found")]
    NotFound { gr: GroupResource, name: String },
    #[error("{gr} \"{name}\" already exists")]
    AlreadyExists { gr: GroupResource, name: String },
    /// An optimistic-concurrency failure or another conflict; `detail` ends the message.
    #[error("Operation cannot be fulfilled on {gr} \"{name}\": {detail}")]
    Conflict { gr: GroupResource, name: String, detail: String },
    /// `kind` is the qualified kind (`Deployment.apps`).
    #[error("{message}")]
    Invalid { qualified_kind: String, group: String, kind: String, name: String, message: String, causes: Vec<Cause> },
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { message: String, gr: Option<GroupResource>, name: String },
    #[error("the server does not allow this method on the requested resource")]
    MethodNotSupported { gr: GroupResource },
    #[error("the server could not find the requested resource")]
    NoSuchResource,
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A resource version or continue token older than the compacted history.
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    RequestEntityTooLarge(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// An eviction the pod's PodDisruptionBudget does not allow now; `cause`
    /// says why, and a client may try again after `retry_after_seconds` (0: no advice).
    #[error("Cannot evict pod as it would violate the pod's disruption budget.")]
    DisruptionBudget { cause: String, retry_after_seconds: u32 },
    /// An eviction of a pod that several PodDisruptionBudgets select.
    #[error("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")]
    MultipleDisruptionBudgets,
    #[error("{0}")]
    ServiceUnavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::NotFound { gr: GroupResource::new(group, resource), name: name.to_string() }
    }

    pub fn conflict_modified(group: &str, resource: &str, name: &str) -> ApiError {
        ApiError::Conflict {
            gr: GroupResource::new(group, resource),
            name: name.to_string(),
            detail: "the object has been modified; please apply your changes to the latest version and try again"
                .into(),
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::NoSuchResource => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotSupported { .. } => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Expired(_) | ApiError::Gone(_) => 410,
            ApiError::RequestEntityTooLarge(_) => 413,
            ApiError::Timeout(_) => 504,
            ApiError::TooManyRequests(_) | ApiError::DisruptionBudget { .. } => 429,
            ApiError::ServiceUnavailable(_) => 503,
            ApiError::Internal(_) | ApiError::MultipleDisruptionBudgets => 500,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::NoSuchResource => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotSupported { .. } => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Expired(_) => "Expired",
            ApiError::Gone(_) => "Gone",
            ApiError::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            ApiError::Timeout(_) => "Timeout",
            ApiError::TooManyRequests(_) | ApiError::DisruptionBudget { .. } => "TooManyRequests",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
            ApiError::Internal(_) => "InternalError",
            // Upstream answers this one with a Status of its own that has no reason.
            ApiError::MultipleDisruptionBudgets => "",
        }
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            ApiError::NotFound { gr, name }
            | ApiError::AlreadyExists { gr, name }
            | ApiError::Conflict { gr, name, .. } => Some(gr_details(gr, name)),
            ApiError::Forbidden { gr: Some(gr), name, .. } => Some(gr_details(gr, name)),
            ApiError::MethodNotSupported { gr } => Some(gr_details(gr, "")),
            ApiError::Invalid { group, kind, name, causes, .. } => {
                let mut d = serde_json::Map::new();
                if !name.is_empty() {
                    d.insert("name".into(), json!(name));
                }
                if !group.is_empty() {
                    d.insert("group".into(), json!(group));
                }
                d.insert("kind".into(), json!(kind));
                if !causes.is_empty() {
                    let causes: Vec<Value> = causes
                        .iter()
                        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                        .collect();
                    d.insert("causes".into(), Value::Array(causes));
                }
                Some(Value::Object(d))
            }
            ApiError::DisruptionBudget { cause, retry_after_seconds } => {
                let mut d = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
                if *retry_after_seconds > 0 {
                    d["retryAfterSeconds"] = json!(retry_after_seconds);
                }
                Some(d)
            }
            _ => None,
        };
        if self.reason().is_empty()
            && let Some(obj) = status.as_object_mut()
        {
            obj.remove("reason");
        }
        if let (Some(details), Some(obj)) = (details, status.as_object_mut()) {
            // Upstream omits an empty details object.
            if details.as_object().is_some_and(|d| !d.is_empty()) {
                obj.insert("details".into(), details);
            }
        }
        // The 'reason' of an Internal error is empty upstream when none is known.
        status
    }
}

fn gr_details(gr: &GroupResource, name: &str) -> Value {
    let mut d = serde_json::Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !gr.group.is_empty() {
        d.insert("group".into(), json!(gr.group));
    }
    d.insert("kind".into(), json!(gr.resource));
    Value::Object(d)
}

/// A successful `metav1.Status`, as some deletes answer.
pub fn success(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource, "uid": uid});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

impl From<kvstore::datastore::DatastoreError> for ApiError {
    fn from(err: kvstore::datastore::DatastoreError) -> ApiError {
        use kvstore::datastore::DatastoreError as E;
        match err {
            E::Compacted => ApiError::Expired("The resourceVersion for the provided list is too old.".into()),
            E::FutureRevision => ApiError::Timeout("Too large resource version".into()),
            E::Unavailable(msg) => ApiError::ServiceUnavailable(format!("the datastore is unavailable: {msg}")),
            E::LeaseNotFound | E::Other(_) => ApiError::Internal(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: ApiError, code: u16, reason: &str, message: &str, details: Option<Value>) {
        let status = err.to_status();
        assert_eq!(status["code"], json!(code), "{status}");
        assert_eq!(status["reason"], json!(reason), "{status}");
        assert_eq!(status["message"], json!(message), "{status}");
        assert_eq!(status.get("details").cloned(), details, "{status}");
        assert_eq!(status["status"], json!("Failure"));
    }

    #[test]
    fn every_variant() {
        check(
            ApiError::not_found("", "pods", "web"),
            404,
            "NotFound",
            "pods \"web\" not found",
            Some(json!({"name": "web", "kind": "pods"})),
        );
        check(
            ApiError::AlreadyExists { gr: GroupResource::new("apps", "deployments"), name: "web".into() },
            409,
            "AlreadyExists",
            "deployments.apps \"web\" already exists",
            Some(json!({"name": "web", "group": "apps", "kind": "deployments"})),
        );
        check(
            ApiError::conflict_modified("", "configmaps", "c"),
            409,
            "Conflict",
            "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your \
             changes to the latest version and try again",
            Some(json!({"name": "c", "kind": "configmaps"})),
        );
        check(
            ApiError::Invalid {
                qualified_kind: "Pod".into(),
                group: "".into(),
                kind: "Pod".into(),
                name: "p".into(),
                message: "Pod \"p\" is invalid: spec.containers: Required value".into(),
                causes: vec![Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: "spec.containers".into(),
                }],
            },
            422,
            "Invalid",
            "Pod \"p\" is invalid: spec.containers: Required value",
            Some(json!({"name": "p", "kind": "Pod", "causes": [
                {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]})),
        );
        check(ApiError::BadRequest("bad".into()), 400, "BadRequest", "bad", None);
        check(ApiError::Unauthorized, 401, "Unauthorized", "Unauthorized", None);
        check(
            ApiError::Forbidden {
                message: "forbidden: User \"bob\" cannot get path \"/api\"".into(),
                gr: None,
                name: String::new(),
            },
            403,
            "Forbidden",
            "forbidden: User \"bob\" cannot get path \"/api\"",
            None,
        );
        check(
            ApiError::MethodNotSupported { gr: GroupResource::new("", "bindings") },
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            Some(json!({"kind": "bindings"})),
        );
        check(ApiError::NoSuchResource, 404, "NotFound", "the server could not find the requested resource", None);
        check(ApiError::NotAcceptable("x".into()), 406, "NotAcceptable", "x", None);
        check(ApiError::UnsupportedMediaType("x".into()), 415, "UnsupportedMediaType", "x", None);
        check(ApiError::Expired("old".into()), 410, "Expired", "old", None);
        check(ApiError::Gone("gone".into()), 410, "Gone", "gone", None);
        check(ApiError::RequestEntityTooLarge("big".into()), 413, "RequestEntityTooLarge", "big", None);
        check(ApiError::Timeout("t".into()), 504, "Timeout", "t", None);
        check(ApiError::TooManyRequests("slow".into()), 429, "TooManyRequests", "slow", None);
        check(ApiError::ServiceUnavailable("down".into()), 503, "ServiceUnavailable", "down", None);
        check(ApiError::Internal("boom".into()), 500, "InternalError", "boom", None);
        check(
            ApiError::DisruptionBudget {
                cause: "The disruption budget web needs 2 healthy pods and has 2 currently".into(),
                retry_after_seconds: 0,
            },
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            Some(json!({"causes": [{"reason": "DisruptionBudget",
                "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]})),
        );
        check(
            ApiError::DisruptionBudget {
                cause: "The disruption budget web is still being processed by the server.".into(),
                retry_after_seconds: 10,
            },
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            Some(json!({"retryAfterSeconds": 10, "causes": [{"reason": "DisruptionBudget",
                "message": "The disruption budget web is still being processed by the server."}]})),
        );
        let multiple = ApiError::MultipleDisruptionBudgets.to_status();
        assert_eq!(multiple["code"], json!(500));
        assert_eq!(multiple.get("reason"), None, "{multiple}");
        assert_eq!(
            multiple["message"],
            json!("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        );
    }
}
