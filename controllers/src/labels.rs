//! Label selectors as the workload controllers match them
//! (`metav1.LabelSelector`, and the plain maps of ReplicationControllers
//! and Services).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`. An empty selector matches
/// everything, as upstream's `LabelSelectorAsSelector`; an operator it does
/// not know matches nothing.
pub fn matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let by_labels = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    by_labels
        && selector.match_expressions.iter().flatten().all(|req| {
            let values = req.values.as_deref().unwrap_or_default();
            match req.operator.as_str() {
                "In" => labels.get(&req.key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(&req.key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(&req.key),
                "DoesNotExist" => !labels.contains_key(&req.key),
                _ => false,
            }
        })
}

/// Whether `labels` carry every pair of a plain map selector.
pub fn matches_map(selector: &BTreeMap<String, String>, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether every label of `template` is on `labels` (ReplicaSet's
/// `fullyLabeledReplicas`).
pub fn has_all(labels: Option<&BTreeMap<String, String>>, template: Option<&BTreeMap<String, String>>) -> bool {
    matches_map(template.unwrap_or(&BTreeMap::new()), labels)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                req("tier", "In", &["front", "edge"]),
                req("canary", "DoesNotExist", &[]),
                req("zone", "NotIn", &["b"]),
            ]),
        };
        assert!(matches(&sel, Some(&labels(&[("app", "web"), ("tier", "edge")]))));
        assert!(matches(&sel, Some(&labels(&[("app", "web"), ("tier", "front"), ("zone", "a")]))));
        assert!(!matches(&sel, Some(&labels(&[("app", "web"), ("tier", "front"), ("zone", "b")]))));
        assert!(!matches(&sel, Some(&labels(&[("app", "web"), ("tier", "front"), ("canary", "1")]))));
        assert!(!matches(&sel, Some(&labels(&[("app", "db"), ("tier", "front")]))));
        assert!(!matches(&sel, None));
        assert!(matches(&LabelSelector::default(), None));
        let unknown = LabelSelector { match_expressions: Some(vec![req("a", "Gt", &["1"])]), ..Default::default() };
        assert!(!matches(&unknown, Some(&labels(&[("a", "2")]))));
    }

    #[test]
    fn maps_and_templates() {
        assert!(matches_map(&labels(&[("a", "1")]), Some(&labels(&[("a", "1"), ("b", "2")]))));
        assert!(!matches_map(&labels(&[("a", "1")]), Some(&labels(&[("b", "2")]))));
        assert!(has_all(Some(&labels(&[("a", "1"), ("b", "2")])), Some(&labels(&[("b", "2")]))));
        assert!(!has_all(Some(&labels(&[("a", "1")])), Some(&labels(&[("b", "2")]))));
    }
}
