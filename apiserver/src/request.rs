//! What a request asks for, read from its method, path and query the way
//! kube-apiserver's RequestInfoFactory reads them: API group and version,
//! namespace, resource, name, subresource and the verb authorization sees.
//! It does not look resources up; routing does that.

use std::collections::HashMap;

/// A request for a resource (`/api/v1/namespaces/ns/pods/x/status`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceRequest {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
}

/// The two kinds of request kube-apiserver tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestInfo {
    Resource(ResourceRequest),
    /// Anything else: discovery, health, version, openapi.
    NonResource {
        path: String,
        verb: &'static str,
    },
}

/// Query parameters, decoded; later values of a repeated key win.
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean parameter as Go's strconv.ParseBool reads it; absent is false.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "t" | "T" | "true" | "TRUE" | "True"))
    }
}

impl RequestInfo {
    pub fn parse(method: &http::Method, path: &str, query: &Query) -> RequestInfo {
        let non_resource = |path: &str| RequestInfo::NonResource {
            path: path.to_string(),
            verb: match *method {
                http::Method::POST => "create",
                http::Method::PUT => "update",
                http::Method::PATCH => "patch",
                http::Method::DELETE => "delete",
                _ => "get",
            },
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
            ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
            _ => return non_resource(path),
        };
        // The deprecated `/watch/` path prefix means a watch.
        let (legacy_watch, rest) = match rest {
            ["watch", rest @ ..] => (true, rest),
            _ => (false, rest),
        };
        let mut req = ResourceRequest { group: group.into(), version: version.into(), ..Default::default() };
        let rest = match rest {
            // /namespaces/{ns}/{resource}... is namespaced; /namespaces/{ns}[/{sub}] is the namespace itself.
            ["namespaces", ns, resource, tail @ ..]
                if !(tail.is_empty() && matches!(*resource, "status" | "finalize")) =>
            {
                req.namespace = Some(ns.to_string());
                let mut v = vec![*resource];
                v.extend_from_slice(tail);
                v
            }
            other => other.to_vec(),
        };
        match rest.as_slice() {
            [resource] => req.resource = resource.to_string(),
            [resource, name] => {
                req.resource = resource.to_string();
                req.name = Some(name.to_string());
            }
            [resource, name, sub, ..] => {
                req.resource = resource.to_string();
                req.name = Some(name.to_string());
                req.subresource = Some(sub.to_string());
            }
            _ => return non_resource(path),
        }
        // A GET of the namespace collection itself is `/api/v1/namespaces`; a
        // single namespace is `/api/v1/namespaces/{name}`: both parsed above.
        req.verb = match *method {
            http::Method::POST => "create",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE if req.name.is_some() => "delete",
            http::Method::DELETE => "deletecollection",
            _ if legacy_watch || query.flag("watch") => "watch",
            _ if req.name.is_some() => "get",
            _ => "list",
        };
        // A list or watch filtered to one name is authorized as a get of that name upstream;
        // we keep the verb, as RBAC does for `resourceNames`.
        RequestInfo::Resource(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: http::Method,
        path_and_query: &str,
        want: Option<(&str, &str, Option<&str>, &str, Option<&str>, Option<&str>, &str)>,
    ) {
        let (path, query) = path_and_query.split_once('?').map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        let info = RequestInfo::parse(&method, path, &Query::parse(query));
        match (info, want) {
            (RequestInfo::Resource(r), Some((group, version, ns, resource, name, sub, verb))) => {
                assert_eq!(r.group, group, "{path_and_query}");
                assert_eq!(r.version, version, "{path_and_query}");
                assert_eq!(r.namespace.as_deref(), ns, "{path_and_query}");
                assert_eq!(r.resource, resource, "{path_and_query}");
                assert_eq!(r.name.as_deref(), name, "{path_and_query}");
                assert_eq!(r.subresource.as_deref(), sub, "{path_and_query}");
                assert_eq!(r.verb, verb, "{path_and_query}");
            }
            (RequestInfo::NonResource { .. }, None) => {}
            (info, want) => panic!("{path_and_query}: got {info:?}, want {want:?}"),
        }
    }

    #[test]
    fn paths() {
        use http::Method as M;
        check(M::GET, "/api/v1/pods", Some(("", "v1", None, "pods", None, None, "list")));
        check(M::GET, "/api/v1/namespaces/default/pods", Some(("", "v1", Some("default"), "pods", None, None, "list")));
        check(
            M::GET,
            "/api/v1/namespaces/default/pods?watch=true",
            Some(("", "v1", Some("default"), "pods", None, None, "watch")),
        );
        check(
            M::GET,
            "/api/v1/watch/namespaces/default/pods",
            Some(("", "v1", Some("default"), "pods", None, None, "watch")),
        );
        check(
            M::GET,
            "/api/v1/namespaces/default/pods/web",
            Some(("", "v1", Some("default"), "pods", Some("web"), None, "get")),
        );
        check(
            M::PUT,
            "/api/v1/namespaces/default/pods/web/status",
            Some(("", "v1", Some("default"), "pods", Some("web"), Some("status"), "update")),
        );
        check(
            M::POST,
            "/api/v1/namespaces/default/pods/web/binding",
            Some(("", "v1", Some("default"), "pods", Some("web"), Some("binding"), "create")),
        );
        check(M::GET, "/api/v1/namespaces", Some(("", "v1", None, "namespaces", None, None, "list")));
        check(
            M::GET,
            "/api/v1/namespaces/kube-system",
            Some(("", "v1", None, "namespaces", Some("kube-system"), None, "get")),
        );
        check(
            M::PUT,
            "/api/v1/namespaces/kube-system/finalize",
            Some(("", "v1", None, "namespaces", Some("kube-system"), Some("finalize"), "update")),
        );
        check(
            M::PATCH,
            "/api/v1/namespaces/x/status",
            Some(("", "v1", None, "namespaces", Some("x"), Some("status"), "patch")),
        );
        check(
            M::DELETE,
            "/apis/apps/v1/namespaces/a/deployments",
            Some(("apps", "v1", Some("a"), "deployments", None, None, "deletecollection")),
        );
        check(
            M::DELETE,
            "/apis/apps/v1/namespaces/a/deployments/d",
            Some(("apps", "v1", Some("a"), "deployments", Some("d"), None, "delete")),
        );
        check(M::GET, "/apis/apps/v1/deployments", Some(("apps", "v1", None, "deployments", None, None, "list")));
        check(
            M::GET,
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            Some(("apps", "v1", Some("a"), "deployments", Some("d"), Some("scale"), "get")),
        );
        check(M::GET, "/api", None);
        check(M::GET, "/api/v1", None);
        check(M::GET, "/apis", None);
        check(M::GET, "/apis/apps", None);
        check(M::GET, "/apis/apps/v1", None);
        check(M::GET, "/healthz", None);
        check(M::GET, "/version", None);
    }

    #[test]
    fn query_flags() {
        let q = Query::parse(Some("watch=1&allowWatchBookmarks=true&x=no&labelSelector=app%3Dweb%2Ctier+in+(a)"));
        assert!(q.flag("watch") && q.flag("allowWatchBookmarks") && !q.flag("x") && !q.flag("missing"));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
    }
}
