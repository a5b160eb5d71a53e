//! The namespace controller: a namespace being deleted is emptied, every
//! namespaced resource the server lists in discovery deleted through the
//! API (so that finalizers, graceful pod deletion and cascades apply as for
//! any client), and only then is its `kubernetes` finalizer removed through
//! `namespaces/{name}/finalize`, which lets the namespace go. Meanwhile its
//! status carries upstream's five deletion conditions, so `kubectl describe
//! namespace` says what is left and what holds it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use serde_json::json;

use crate::informer::{self, Change, Informer};
use crate::queue::{self, Key, Next, Queue};

const FINALIZER: &str = "kubernetes";
/// How soon to look again while content is still going away.
const RECHECK: Duration = Duration::from_secs(2);

/// What one pass found, for the conditions.
#[derive(Debug, Default, PartialEq, Eq)]
struct Pass {
    discovery_errors: Vec<String>,
    delete_errors: Vec<String>,
    /// `resource.group` -> instances left.
    remaining: BTreeMap<String, usize>,
    /// finalizer -> instances it holds.
    finalizers: BTreeMap<String, usize>,
}

pub async fn run(client: kube::Client, namespaces: Arc<Informer<Namespace>>) {
    let queue = Queue::new();
    let mut changes = namespaces.subscribe();
    namespaces.ready().await;
    let enqueue_all = |queue: &Queue| {
        for ns in namespaces.store.state() {
            if ns.metadata.deletion_timestamp.is_some() {
                queue.add(Key::of(&ns.metadata));
            }
        }
    };
    enqueue_all(&queue);
    let worker_client = client.clone();
    let worker_namespaces = Arc::clone(&namespaces);
    let _workers = queue::spawn_workers(Arc::clone(&queue), 2, "namespace", move |key| {
        let client = worker_client.clone();
        let namespaces = Arc::clone(&worker_namespaces);
        async move { reconcile(&client, &namespaces, key).await }
    });
    while let Some(change) = informer::next(&mut changes).await {
        match change {
            Change::Applied(ns) if ns.metadata.deletion_timestamp.is_some() => queue.add(Key::of(&ns.metadata)),
            Change::Applied(_) | Change::Deleted(_) => {}
            Change::Relisted => enqueue_all(&queue),
        }
    }
}

fn holds_our_finalizer(ns: &Namespace) -> bool {
    ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

async fn reconcile(client: &kube::Client, namespaces: &Informer<Namespace>, key: Key) -> Result<Next, kube::Error> {
    let Some(ns) = namespaces.get(None, &key.name) else { return Ok(Next::Done) };
    if ns.metadata.deletion_timestamp.is_none() || !holds_our_finalizer(&ns) {
        return Ok(Next::Done);
    }
    let pass = empty(client, &key.name).await;
    let api: Api<Namespace> = Api::all(client.clone());
    let conditions = conditions(&pass, ns.status.as_ref().and_then(|s| s.conditions.as_deref()), Timestamp::now());
    let current = ns.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    if !same_conditions(&current, &conditions) {
        let patch = json!({"status": {"conditions": conditions}});
        match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
            Err(e) => return Err(e),
        }
    }
    if !pass.remaining.is_empty() || !pass.discovery_errors.is_empty() || !pass.delete_errors.is_empty() {
        return Ok(Next::After(RECHECK));
    }
    // Empty: our finalizer goes, and with it (when no other holds it) the namespace.
    let fresh = match api.get(&key.name).await {
        Ok(ns) => ns,
        Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
        Err(e) => return Err(e),
    };
    let mut finalized = fresh.clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(spec.finalizers.iter().flatten().filter(|f| *f != FINALIZER).cloned().collect());
    }
    match api.replace_subresource("finalize", &key.name, &PostParams::default(), &finalized).await {
        Ok(_) => {
            tracing::info!(namespace = %key.name, "namespace emptied and finalized");
            Ok(Next::Done)
        }
        Err(e) if crate::is_gone(&e) => Ok(Next::Done),
        Err(e) => Err(e),
    }
}

/// Deletes everything in `namespace` and counts what is left.
async fn empty(client: &kube::Client, namespace: &str) -> Pass {
    let mut pass = Pass::default();
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(e) => {
            pass.discovery_errors.push(e.to_string());
            return pass;
        }
    };
    let resources: Vec<(ApiResource, Vec<String>)> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .filter(|(_, caps)| caps.scope == Scope::Namespaced && caps.supports_operation(verbs::LIST))
        .filter(|(_, caps)| caps.supports_operation(verbs::DELETE) || caps.supports_operation(verbs::DELETE_COLLECTION))
        .map(|(ar, caps)| (ar, caps.operations))
        .collect();
    for (ar, operations) in &resources {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, ar);
        let label = format!("{}.{}", ar.plural, ar.group);
        let deleted = if operations.iter().any(|v| v == verbs::DELETE_COLLECTION) {
            api.delete_collection(&DeleteParams::background(), &ListParams::default()).await.map(|_| ())
        } else {
            delete_each(&api).await
        };
        if let Err(e) = deleted
            && !crate::is_gone(&e)
        {
            pass.delete_errors.push(format!("{label}: {e}"));
        }
        match api.list_metadata(&ListParams::default()).await {
            Ok(left) if !left.items.is_empty() => {
                pass.remaining.insert(label, left.items.len());
                for item in &left.items {
                    for f in item.metadata.finalizers.iter().flatten() {
                        *pass.finalizers.entry(f.clone()).or_default() += 1;
                    }
                }
            }
            Ok(_) => {}
            Err(e) if crate::is_gone(&e) => {}
            Err(e) => pass.delete_errors.push(format!("{label}: {e}")),
        }
    }
    pass
}

async fn delete_each(api: &Api<DynamicObject>) -> Result<(), kube::Error> {
    for item in api.list_metadata(&ListParams::default()).await?.items {
        let name = item.metadata.name.unwrap_or_default();
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if crate::is_gone(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Upstream's five namespace deletion conditions for `pass`, keeping the
/// transition time of those whose status did not change.
fn conditions(pass: &Pass, previous: Option<&[NamespaceCondition]>, now: Timestamp) -> Vec<NamespaceCondition> {
    let list = |m: &BTreeMap<String, usize>, fmt: &dyn Fn(&String, &usize) -> String| {
        m.iter().map(|(k, v)| fmt(k, v)).collect::<Vec<_>>().join(", ")
    };
    let wanted: [(&str, bool, &str, String); 5] = [
        if pass.discovery_errors.is_empty() {
            (
                "NamespaceDeletionDiscoveryFailure",
                false,
                "ResourcesDiscovered",
                "All resources successfully discovered".into(),
            )
        } else {
            (
                "NamespaceDeletionDiscoveryFailure",
                true,
                "DiscoveryFailed",
                format!("Discovery failed for some groups: {}", pass.discovery_errors.join(", ")),
            )
        },
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
        if pass.delete_errors.is_empty() {
            (
                "NamespaceDeletionContentFailure",
                false,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".into(),
            )
        } else {
            (
                "NamespaceDeletionContentFailure",
                true,
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    pass.delete_errors.len(),
                    pass.delete_errors.join(", ")
                ),
            )
        },
        if pass.remaining.is_empty() {
            ("NamespaceContentRemaining", false, "ContentRemoved", "All content successfully removed".into())
        } else {
            (
                "NamespaceContentRemaining",
                true,
                "SomeResourcesRemain",
                format!(
                    "Some resources are remaining: {}",
                    list(&pass.remaining, &|r, n| format!("{r} has {n} resource instances"))
                ),
            )
        },
        if pass.finalizers.is_empty() {
            (
                "NamespaceFinalizersRemaining",
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".into(),
            )
        } else {
            (
                "NamespaceFinalizersRemaining",
                true,
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    list(&pass.finalizers, &|f, n| format!("{f} in {n} resource instances"))
                ),
            )
        },
    ];
    wanted
        .into_iter()
        .map(|(type_, is_true, reason, message)| {
            let status = if is_true { "True" } else { "False" };
            let since = previous
                .into_iter()
                .flatten()
                .find(|c| c.type_ == type_ && c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or(Time(now));
            NamespaceCondition {
                type_: type_.into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message),
                last_transition_time: Some(since),
            }
        })
        .collect()
}

fn same_conditions(a: &[NamespaceCondition], b: &[NamespaceCondition]) -> bool {
    let key = |c: &NamespaceCondition| (c.type_.clone(), c.status.clone(), c.reason.clone(), c.message.clone());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key(x) == key(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_say_what_is_left_and_what_holds_it() {
        let pass = Pass {
            remaining: [("pods.".to_string(), 2), ("configmaps.".to_string(), 1)].into_iter().collect(),
            finalizers: [("batch.kubernetes.io/job-tracking".to_string(), 2)].into_iter().collect(),
            ..Default::default()
        };
        let now = Timestamp::UNIX_EPOCH;
        let c = conditions(&pass, None, now);
        let remaining = c.iter().find(|c| c.type_ == "NamespaceContentRemaining").unwrap();
        assert_eq!(remaining.status, "True");
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances")
        );
        let held = c.iter().find(|c| c.type_ == "NamespaceFinalizersRemaining").unwrap();
        assert_eq!(
            held.message.as_deref(),
            Some(
                "Some content in the namespace has finalizers remaining: batch.kubernetes.io/job-tracking in 2 resource instances"
            )
        );
        let done = conditions(&Pass::default(), Some(&c), now);
        assert!(done.iter().all(|c| c.status == "False"), "{done:?}");
        assert_eq!(done.len(), 5);
        assert!(same_conditions(&done, &conditions(&Pass::default(), Some(&done), Timestamp::now())));
    }
}
