//! Finding a pod's containers and sandbox in the runtime by the CRI labels
//! the kubelet puts on them (`io.kubernetes.pod.namespace`/`.name`,
//! `io.kubernetes.container.name`); the container's CRI `attempt` is its
//! restart count. Only lookups: nothing here starts or stops anything.

use std::collections::HashMap;

use k8s_cri::v1 as cri;

use crate::cri::{Cri, CriError};

pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// One instance (attempt) of a pod's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstance {
    pub id: String,
    pub pod_uid: String,
    pub attempt: u32,
    pub running: bool,
    pub created_at: i64,
}

impl ContainerInstance {
    fn from_cri(container: &cri::Container) -> ContainerInstance {
        ContainerInstance {
            id: container.id.clone(),
            pod_uid: container.labels.get(POD_UID_LABEL).cloned().unwrap_or_default(),
            attempt: container.metadata.as_ref().map(|m| m.attempt).unwrap_or_default(),
            running: container.state == cri::ContainerState::ContainerRunning as i32,
            created_at: container.created_at,
        }
    }
}

/// Every instance of container `container` of pod `namespace/pod`, oldest
/// attempt first (newest pod first when a pod of that name was re-made:
/// ties on attempt are broken by creation time).
pub async fn container_instances(
    cri: &Cri,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<Vec<ContainerInstance>, CriError> {
    let labels = HashMap::from([
        (POD_NAMESPACE_LABEL.to_string(), namespace.to_string()),
        (POD_NAME_LABEL.to_string(), pod.to_string()),
        (CONTAINER_NAME_LABEL.to_string(), container.to_string()),
    ]);
    let mut found: Vec<ContainerInstance> =
        cri.list_containers("", labels).await?.iter().map(ContainerInstance::from_cri).collect();
    order(&mut found);
    Ok(found)
}

/// Only the newest pod's instances, oldest attempt first.
fn order(found: &mut Vec<ContainerInstance>) {
    found.sort_by_key(|c| c.created_at);
    if let Some(newest_uid) = found.last().map(|c| c.pod_uid.clone()) {
        found.retain(|c| c.pod_uid == newest_uid);
    }
    found.sort_by_key(|c| (c.attempt, c.created_at));
}

/// The ready sandbox of pod `namespace/pod`, for port forwarding.
pub async fn ready_sandbox(cri: &Cri, namespace: &str, pod: &str) -> Result<Option<String>, CriError> {
    let labels = HashMap::from([
        (POD_NAMESPACE_LABEL.to_string(), namespace.to_string()),
        (POD_NAME_LABEL.to_string(), pod.to_string()),
    ]);
    let mut sandboxes: Vec<cri::PodSandbox> = cri
        .list_pod_sandboxes(labels)
        .await?
        .into_iter()
        .filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32)
        .collect();
    sandboxes.sort_by_key(|s| s.created_at);
    Ok(sandboxes.pop().map(|s| s.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(uid: &str, attempt: u32, created_at: i64) -> ContainerInstance {
        ContainerInstance { id: format!("{uid}-{attempt}"), pod_uid: uid.into(), attempt, running: false, created_at }
    }

    #[test]
    fn only_the_newest_pod_counts_oldest_attempt_first() {
        let mut found =
            vec![instance("new", 1, 40), instance("old", 5, 10), instance("new", 0, 30), instance("old", 6, 20)];
        order(&mut found);
        let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["new-0", "new-1"]);
        let mut none = Vec::new();
        order(&mut none);
        assert!(none.is_empty());
    }
}
