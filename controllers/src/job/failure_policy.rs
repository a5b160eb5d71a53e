//! A Job's `podFailurePolicy`: which rule, if any, a failed pod matches, in
//! rule order, with upstream's messages for a rule that fails the Job.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::Pod;

/// What a matching rule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fail the whole Job, with this message.
    FailJob(String),
    /// Fail the pod's index (Indexed Jobs with backoffLimitPerIndex).
    FailIndex,
    /// Do not count the failure against the backoff limit.
    Ignore,
    /// Count it, as without a policy.
    Count,
}

/// The action of the first rule that `pod` (a failed pod) matches.
pub fn evaluate(policy: &PodFailurePolicy, pod: &Pod) -> Option<Action> {
    policy.rules.iter().enumerate().find_map(|(i, rule)| {
        let why = matches(rule, pod)?;
        Some(match rule.action.as_str() {
            "FailJob" => Action::FailJob(format!("{why} matching FailJob rule at index {i}")),
            "FailIndex" => Action::FailIndex,
            "Ignore" => Action::Ignore,
            _ => Action::Count,
        })
    })
}

/// Why the rule matches (the start of upstream's message), if it does.
fn matches(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let status = pod.status.as_ref()?;
    if let Some(req) = &rule.on_exit_codes {
        let statuses =
            status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
        for cs in statuses {
            if req.container_name.as_ref().is_some_and(|n| n != &cs.name) {
                continue;
            }
            let Some(code) = cs.state.as_ref().and_then(|s| s.terminated.as_ref()).map(|t| t.exit_code) else {
                continue;
            };
            // Exit code 0 is success, never a failure to match.
            if code == 0 {
                continue;
            }
            let listed = req.values.contains(&code);
            let hit = match req.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            };
            if hit {
                return Some(format!("Container {} for pod {namespace}/{name} failed with exit code {code}", cs.name));
            }
        }
        return None;
    }
    for pattern in rule.on_pod_conditions.iter().flatten() {
        let want = pattern.status.as_str();
        if status.conditions.iter().flatten().any(|c| c.type_ == pattern.type_ && c.status == want) {
            return Some(format!("Pod {namespace}/{name} has condition {}", pattern.type_));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::{PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodStatus,
    };
    use kube::api::ObjectMeta;

    use super::*;

    fn failed_pod(code: i32, conditions: &[&str]) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some("p".into()), namespace: Some("ns".into()), ..Default::default() },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Failed".into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "main".into(),
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated { exit_code: code, ..Default::default() }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                conditions: Some(
                    conditions
                        .iter()
                        .map(|t| PodCondition { type_: (*t).into(), status: "True".into(), ..Default::default() })
                        .collect(),
                ),
                ..Default::default()
            }),
        }
    }

    fn exit_rule(action: &str, operator: &str, values: &[i32]) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: None,
                operator: operator.into(),
                values: values.to_vec(),
            }),
            on_pod_conditions: None,
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let policy = PodFailurePolicy {
            rules: vec![
                PodFailurePolicyRule {
                    action: "Ignore".into(),
                    on_exit_codes: None,
                    on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                        type_: "DisruptionTarget".into(),
                        status: "True".into(),
                    }]),
                },
                exit_rule("FailJob", "In", &[42]),
                exit_rule("Count", "NotIn", &[0, 42]),
            ],
        };
        assert_eq!(evaluate(&policy, &failed_pod(1, &["DisruptionTarget"])), Some(Action::Ignore));
        assert_eq!(
            evaluate(&policy, &failed_pod(42, &[])),
            Some(Action::FailJob(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1".into()
            ))
        );
        assert_eq!(evaluate(&policy, &failed_pod(3, &[])), Some(Action::Count));
        assert_eq!(
            evaluate(&PodFailurePolicy { rules: vec![exit_rule("FailJob", "In", &[42])] }, &failed_pod(1, &[])),
            None
        );
    }
}
