//! The loop shared by the controllers that keep one object in every
//! namespace: reconcile a namespace when it appears or changes, when its
//! object changes or is deleted, and every [`RESYNC`] for good measure. Terminating
//! namespaces are left alone (the API refuses creates there).

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

/// How often every namespace is reconciled even without events.
pub const RESYNC: Duration = Duration::from_secs(300);

enum Trigger {
    Namespace(Namespace),
    /// The object in this namespace changed or went away.
    Object(String),
    Resync,
}

/// Calls `reconcile(namespace)` as described above, for the objects of kind
/// `K` named `name`. A reconcile that finds its object as it should be
/// writes nothing, so the events of its own writes end there. Never returns.
pub async fn run<K, F, Fut>(client: kube::Client, name: &'static str, reconcile: F)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
    K::DynamicType: Default,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let objects: Api<K> = Api::all(client);
    let namespace_events =
        watcher(namespaces.clone(), watcher::Config::default()).default_backoff().filter_map(|e| async {
            match e {
                Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns)) => Some(Trigger::Namespace(ns)),
                _ => None,
            }
        });
    let object_events = watcher(objects, watcher::Config::default().fields(&format!("metadata.name={name}")))
        .default_backoff()
        .filter_map(|e| async {
            match e {
                Ok(watcher::Event::Apply(obj) | watcher::Event::Delete(obj)) => {
                    obj.meta().namespace.clone().map(Trigger::Object)
                }
                _ => None,
            }
        });
    let resync = futures::stream::unfold((), |()| async {
        tokio::time::sleep(RESYNC).await;
        Some((Trigger::Resync, ()))
    });
    let mut triggers =
        futures::stream::select(futures::stream::select(namespace_events, object_events), resync).boxed();
    while let Some(trigger) = triggers.next().await {
        let todo: Vec<String> = match trigger {
            Trigger::Namespace(ns) if is_active(&ns) => ns.metadata.name.into_iter().collect(),
            Trigger::Namespace(_) => Vec::new(),
            Trigger::Object(ns) => vec![ns],
            Trigger::Resync => match namespaces.list(&Default::default()).await {
                Ok(list) => list.items.into_iter().filter(is_active).filter_map(|ns| ns.metadata.name).collect(),
                Err(e) => {
                    tracing::warn!("cannot list namespaces: {e}");
                    Vec::new()
                }
            },
        };
        for ns in todo {
            if let Err(e) = reconcile(ns.clone()).await {
                tracing::warn!(namespace = %ns, object = name, "reconcile failed: {e}");
            }
        }
    }
}

fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// Whether an API error says the object is not there (404).
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}

/// Whether an API error is one a controller expects and skips: the object
/// appeared meanwhile (409), or its namespace is going away (403).
pub fn is_benign(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409 || status.code == 403)
}
