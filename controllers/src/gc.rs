//! The garbage collector: deletes objects whose owners are all gone
//! (background cascading), deletes the dependents of an owner marked
//! `foregroundDeletion` and then lets the owner go, and releases the
//! dependents of an owner marked `orphan`. It keeps a graph of owner
//! references from metadata-only watches of the kinds that have owners or
//! dependents. An owner missing from the graph is looked up in the API
//! before anything is deleted: the graph may lag, the API decides.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PropagationPolicy,
};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::task::JoinSet;

use crate::queue::{self, Key, Next, Queue};

/// The kinds watched: every built-in kind that controllers own or that owns.
fn watched() -> Vec<(ApiResource, bool)> {
    use k8s_openapi::api::{apps, batch, coordination, core, discovery};
    vec![
        (ApiResource::erase::<core::v1::Pod>(&()), true),
        (ApiResource::erase::<core::v1::ReplicationController>(&()), true),
        (ApiResource::erase::<core::v1::Service>(&()), true),
        (ApiResource::erase::<core::v1::Endpoints>(&()), true),
        (ApiResource::erase::<core::v1::ConfigMap>(&()), true),
        (ApiResource::erase::<core::v1::Secret>(&()), true),
        (ApiResource::erase::<core::v1::ServiceAccount>(&()), true),
        (ApiResource::erase::<core::v1::PersistentVolumeClaim>(&()), true),
        (ApiResource::erase::<core::v1::Node>(&()), false),
        (ApiResource::erase::<apps::v1::ReplicaSet>(&()), true),
        (ApiResource::erase::<apps::v1::Deployment>(&()), true),
        (ApiResource::erase::<apps::v1::StatefulSet>(&()), true),
        (ApiResource::erase::<apps::v1::DaemonSet>(&()), true),
        (ApiResource::erase::<apps::v1::ControllerRevision>(&()), true),
        (ApiResource::erase::<batch::v1::Job>(&()), true),
        (ApiResource::erase::<batch::v1::CronJob>(&()), true),
        (ApiResource::erase::<discovery::v1::EndpointSlice>(&()), true),
        (ApiResource::erase::<coordination::v1::Lease>(&()), true),
    ]
}

#[derive(Debug, Clone)]
struct Node {
    resource: Arc<ApiResource>,
    namespaced: bool,
    namespace: Option<String>,
    name: String,
    resource_version: Option<String>,
    owners: Vec<OwnerReference>,
    finalizers: Vec<String>,
    deleting: bool,
}

#[derive(Debug, Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// owner uid -> dependent uids.
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn upsert(&mut self, uid: &str, node: Node) {
        if let Some(old) = self.nodes.get(uid) {
            for o in &old.owners {
                if let Some(set) = self.dependents.get_mut(&o.uid) {
                    set.remove(uid);
                }
            }
        }
        for o in &node.owners {
            self.dependents.entry(o.uid.clone()).or_default().insert(uid.to_string());
        }
        self.nodes.insert(uid.to_string(), node);
    }

    fn remove(&mut self, uid: &str) -> Option<Node> {
        let node = self.nodes.remove(uid)?;
        for o in &node.owners {
            if let Some(set) = self.dependents.get_mut(&o.uid) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
        Some(node)
    }
}

struct Collector {
    client: kube::Client,
    graph: Mutex<Graph>,
    resources: Vec<(Arc<ApiResource>, bool)>,
    /// Keys are uids (in `name`); `namespace` tells the work: "" a dependent
    /// to check, "owner" an owner being deleted with a GC finalizer.
    queue: Arc<Queue>,
}

const OWNER: &str = "owner";

pub async fn run(client: kube::Client) {
    let resources: Vec<(Arc<ApiResource>, bool)> = watched().into_iter().map(|(r, ns)| (Arc::new(r), ns)).collect();
    let c = Arc::new(Collector { client: client.clone(), graph: Mutex::default(), resources, queue: Queue::new() });
    let mut watches = JoinSet::new();
    let (synced_tx, mut synced_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for (resource, namespaced) in c.resources.clone() {
        let c = Arc::clone(&c);
        let synced = synced_tx.clone();
        watches.spawn(async move {
            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(c.client.clone(), resource.as_ref());
            let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
            let mut seen_in_list = HashSet::new();
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(meta)) => c.observe(&resource, namespaced, &meta),
                    Ok(watcher::Event::Delete(meta)) => c.forget(meta.metadata.uid.as_deref().unwrap_or_default()),
                    Ok(watcher::Event::Init) => seen_in_list.clear(),
                    Ok(watcher::Event::InitApply(meta)) => {
                        seen_in_list.extend(meta.metadata.uid.clone());
                        c.observe(&resource, namespaced, &meta);
                    }
                    Ok(watcher::Event::InitDone) => {
                        c.forget_unlisted(&resource, &seen_in_list);
                        let _ = synced.send(());
                    }
                    Err(e) => tracing::debug!(kind = %resource.kind, "metadata watch failed, retrying: {e}"),
                }
            }
        });
    }
    // Act only once every kind has been listed once.
    for _ in 0..c.resources.len() {
        if synced_rx.recv().await.is_none() {
            return;
        }
    }
    tracing::debug!("garbage collector: graph synced");
    c.enqueue_all();
    let worker = Arc::clone(&c);
    let work = queue::work(Arc::clone(&c.queue), 2, "garbage-collector", move |key| {
        let c = Arc::clone(&worker);
        async move { c.process(key).await }
    });
    tokio::select! {
        () = work => {}
        _ = async { while watches.join_next().await.is_some() {} } => {}
    }
}

fn dependent_key(uid: &str) -> Key {
    Key { namespace: String::new(), name: uid.to_string() }
}

fn owner_key(uid: &str) -> Key {
    Key { namespace: OWNER.into(), name: uid.to_string() }
}

fn has_gc_finalizer(node: &Node) -> bool {
    node.finalizers.iter().any(|f| f == "orphan" || f == "foregroundDeletion")
}

impl Collector {
    fn lock(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue_all(&self) {
        let graph = self.lock();
        for (uid, node) in &graph.nodes {
            if !node.owners.is_empty() {
                self.queue.add(dependent_key(uid));
            }
            if node.deleting && has_gc_finalizer(node) {
                self.queue.add(owner_key(uid));
            }
        }
    }

    fn observe(&self, resource: &Arc<ApiResource>, namespaced: bool, meta: &PartialObjectMeta<DynamicObject>) {
        let m = &meta.metadata;
        let Some(uid) = m.uid.clone() else { return };
        let node = Node {
            resource: Arc::clone(resource),
            namespaced,
            namespace: m.namespace.clone(),
            name: m.name.clone().unwrap_or_default(),
            resource_version: m.resource_version.clone(),
            owners: m.owner_references.clone().unwrap_or_default(),
            finalizers: m.finalizers.clone().unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
        };
        let check_dependent = !node.owners.is_empty();
        let check_owner = node.deleting && has_gc_finalizer(&node);
        let mut graph = self.lock();
        let waiting_owners: Vec<String> = node
            .owners
            .iter()
            .filter(|o| graph.nodes.get(&o.uid).is_some_and(|n| n.deleting && has_gc_finalizer(n)))
            .map(|o| o.uid.clone())
            .collect();
        // A new owner of this uid's dependents (an owner that arrived after them) re-checks them.
        let dependents: Vec<String> = graph.dependents.get(&uid).into_iter().flatten().cloned().collect();
        graph.upsert(&uid, node);
        drop(graph);
        if check_dependent {
            self.queue.add(dependent_key(&uid));
        }
        if check_owner {
            self.queue.add(owner_key(&uid));
        }
        for owner in waiting_owners {
            self.queue.add(owner_key(&owner));
        }
        if check_owner {
            for d in dependents {
                self.queue.add(dependent_key(&d));
            }
        }
    }

    fn forget(&self, uid: &str) {
        let mut graph = self.lock();
        let Some(node) = graph.remove(uid) else { return };
        let dependents: Vec<String> = graph.dependents.get(uid).into_iter().flatten().cloned().collect();
        drop(graph);
        for d in dependents {
            self.queue.add(dependent_key(&d));
        }
        // An owner waiting for its dependents to go may be done now.
        for o in &node.owners {
            self.queue.add(owner_key(&o.uid));
        }
    }

    /// After a relist: what of this kind was not listed is gone.
    fn forget_unlisted(&self, resource: &ApiResource, listed: &HashSet<String>) {
        let gone: Vec<String> = self
            .lock()
            .nodes
            .iter()
            .filter(|(uid, n)| {
                n.resource.kind == resource.kind && n.resource.group == resource.group && !listed.contains(*uid)
            })
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in gone {
            self.forget(&uid);
        }
    }

    fn api_for(&self, node: &Node) -> Api<DynamicObject> {
        match (&node.namespace, node.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, node.resource.as_ref()),
            _ => Api::all_with(self.client.clone(), node.resource.as_ref()),
        }
    }

    async fn process(&self, key: Key) -> Result<Next, kube::Error> {
        if key.namespace == OWNER {
            self.process_owner(&key.name).await
        } else {
            self.process_dependent(&key.name).await
        }
    }

    /// Whether the owner `r` of an object in `namespace` exists (with that uid),
    /// and whether it waits for its dependents (foreground deletion).
    async fn owner_state(&self, r: &OwnerReference, namespace: Option<&str>) -> Result<OwnerState, kube::Error> {
        if let Some(n) = self.lock().nodes.get(&r.uid) {
            let waiting = n.deleting && n.finalizers.iter().any(|f| f == "foregroundDeletion");
            return Ok(if waiting { OwnerState::Waiting } else { OwnerState::Present });
        }
        let (group, version) = match r.api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), r.api_version.clone()),
        };
        let gvk = GroupVersionKind { group, version, kind: r.kind.clone() };
        let known = self.resources.iter().find(|(res, _)| res.group == gvk.group && res.kind == gvk.kind).cloned();
        let (resource, namespaced) = match known {
            Some((res, ns)) => (res.as_ref().clone(), ns),
            None => match kube::discovery::pinned_kind(&self.client, &gvk).await {
                Ok((res, caps)) => (res, caps.scope == kube::discovery::Scope::Namespaced),
                // A kind the server does not serve: the owner cannot exist.
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(OwnerState::Absent),
                Err(e) => return Err(e),
            },
        };
        let api: Api<DynamicObject> = match (namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &resource),
            (None, true) => return Ok(OwnerState::Absent),
            _ => Api::all_with(self.client.clone(), &resource),
        };
        match api.get_metadata_opt(&r.name).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                let waiting = o.metadata.deletion_timestamp.is_some()
                    && o.metadata.finalizers.iter().flatten().any(|f| f == "foregroundDeletion");
                Ok(if waiting { OwnerState::Waiting } else { OwnerState::Present })
            }
            _ => Ok(OwnerState::Absent),
        }
    }

    async fn process_dependent(&self, uid: &str) -> Result<Next, kube::Error> {
        let Some(node) = self.lock().nodes.get(uid).cloned() else { return Ok(Next::Done) };
        if node.owners.is_empty() || node.deleting {
            return Ok(Next::Done);
        }
        let mut absent = Vec::new();
        let mut present = 0;
        let mut waiting = 0;
        for r in &node.owners {
            match self.owner_state(r, node.namespace.as_deref()).await? {
                OwnerState::Absent => absent.push(r.uid.clone()),
                OwnerState::Present => present += 1,
                OwnerState::Waiting => waiting += 1,
            }
        }
        let api = self.api_for(&node);
        if present == 0 && waiting == 0 {
            tracing::debug!(kind = %node.resource.kind, name = %node.name, "owners gone: deleting");
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: Some(kube::api::Preconditions { uid: Some(uid.to_string()), resource_version: None }),
                ..Default::default()
            };
            return ignore_gone(api.delete(&node.name, &params).await.map(|_| ()));
        }
        if !absent.is_empty() {
            let refs: Vec<&OwnerReference> = node.owners.iter().filter(|r| !absent.contains(&r.uid)).collect();
            let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": node.resource_version}});
            return ignore_gone(
                api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()),
            );
        }
        if present == 0 {
            // Every owner waits for its dependents: go, taking ours first.
            let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Foreground), ..Default::default() };
            return ignore_gone(api.delete(&node.name, &params).await.map(|_| ()));
        }
        Ok(Next::Done)
    }

    async fn process_owner(&self, uid: &str) -> Result<Next, kube::Error> {
        let Some(node) = self.lock().nodes.get(uid).cloned() else { return Ok(Next::Done) };
        if !node.deleting {
            return Ok(Next::Done);
        }
        let dependents: Vec<(String, Node)> = {
            let graph = self.lock();
            let uids = graph.dependents.get(uid).into_iter().flatten();
            uids.filter_map(|d| graph.nodes.get(d).map(|n| (d.clone(), n.clone()))).collect()
        };
        if node.finalizers.iter().any(|f| f == "orphan") {
            for (_, d) in &dependents {
                let refs: Vec<&OwnerReference> = d.owners.iter().filter(|r| r.uid != uid).collect();
                let patch = json!({"metadata": {
                    "ownerReferences": if refs.is_empty() { serde_json::Value::Null } else { json!(refs) },
                    "resourceVersion": d.resource_version,
                }});
                ignore_gone(
                    self.api_for(d).patch(&d.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()),
                )?;
            }
            return self.remove_finalizer(&node, "orphan").await;
        }
        if node.finalizers.iter().any(|f| f == "foregroundDeletion") {
            let blocking = dependents
                .iter()
                .any(|(_, d)| d.owners.iter().any(|r| r.uid == uid && r.block_owner_deletion == Some(true)));
            if !blocking {
                return self.remove_finalizer(&node, "foregroundDeletion").await;
            }
            for (d_uid, _) in dependents.iter().filter(|(_, d)| !d.deleting) {
                self.queue.add(dependent_key(d_uid));
            }
        }
        Ok(Next::Done)
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> Result<Next, kube::Error> {
        let rest: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
        let patch = json!({"metadata": {
            "finalizers": if rest.is_empty() { serde_json::Value::Null } else { json!(rest) },
            "resourceVersion": node.resource_version,
        }});
        ignore_gone(
            self.api_for(node).patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| ()),
        )
    }
}

enum OwnerState {
    Absent,
    Present,
    /// Being deleted in the foreground: its dependents go first.
    Waiting,
}

/// A 404 or 409: the object changed or went meanwhile; its next event brings it back.
fn ignore_gone(result: Result<(), kube::Error>) -> Result<Next, kube::Error> {
    match result {
        Ok(()) => Ok(Next::Done),
        Err(e) if crate::is_gone(&e) => Ok(Next::Done),
        Err(e) => Err(e),
    }
}
