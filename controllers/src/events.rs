//! Events as upstream's controllers record them (core/v1, which `kubectl
//! describe` and `kubectl get events` read), with client-go's
//! de-duplication: the same event for the same object again within
//! [`DEDUP_WINDOW`] bumps `count` and `lastTimestamp` instead of adding an
//! object. Recording never blocks a reconcile: events go through a bounded
//! channel to one sender, and are dropped (with a log line) when it is full,
//! as client-go drops them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::mpsc;

pub const DEDUP_WINDOW: Duration = Duration::from_secs(600);
const BACKLOG: usize = 1000;

#[derive(Debug, Clone)]
pub struct Recorder {
    component: &'static str,
    tx: mpsc::Sender<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Normal,
    Warning,
}

impl Recorder {
    /// Starts the sender on `tasks`; the recorder stops with them.
    pub fn start(tasks: &mut tokio::task::JoinSet<()>, client: kube::Client, component: &'static str) -> Recorder {
        let (tx, rx) = mpsc::channel(BACKLOG);
        tasks.spawn(send_all(client, rx));
        Recorder { component, tx }
    }

    /// Records an event about `obj`.
    pub fn record<K: kube::Resource<DynamicType = ()>>(&self, obj: &K, kind: Type, reason: &str, message: String) {
        let meta = obj.meta();
        let involved = ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            ..Default::default()
        };
        let now = Timestamp::now();
        let name = format!("{}.{:x}", meta.name.as_deref().unwrap_or("object"), now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(meta.namespace.clone().unwrap_or_else(|| "default".into())),
                ..Default::default()
            },
            involved_object: involved,
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(match kind {
                Type::Normal => "Normal".into(),
                Type::Warning => "Warning".into(),
            }),
            source: Some(EventSource { component: Some(self.component.into()), host: None }),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.component.into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            ..Default::default()
        };
        if self.tx.try_send(event).is_err() {
            tracing::debug!(component = self.component, "event backlog full: dropping an event");
        }
    }
}

/// What makes two events the same, as client-go's aggregation key.
fn dedup_key(e: &Event) -> String {
    let o = &e.involved_object;
    format!("{:?}/{:?}/{:?}/{:?}/{:?}/{:?}", o.namespace, o.kind, o.name, o.uid, e.reason, e.message)
}

struct Seen {
    namespace: String,
    name: String,
    count: i32,
    at: Instant,
}

async fn send_all(client: kube::Client, mut rx: mpsc::Receiver<Event>) {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    while let Some(event) = rx.recv().await {
        let key = dedup_key(&event);
        let now = Instant::now();
        seen.retain(|_, s| now.duration_since(s.at) < DEDUP_WINDOW);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        if let Some(s) = seen.get_mut(&key) {
            let patch = json!({"count": s.count + 1, "lastTimestamp": event.last_timestamp});
            match api.patch(&s.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {
                    s.count += 1;
                    s.at = now;
                    continue;
                }
                Err(e) => tracing::debug!("cannot update event {}/{}: {e}", s.namespace, s.name),
            }
        }
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => {
                let name = created.metadata.name.unwrap_or_default();
                seen.insert(key, Seen { namespace, name, count: 1, at: now });
            }
            Err(e) => tracing::debug!("cannot record event in {namespace}: {e}"),
        }
    }
}
