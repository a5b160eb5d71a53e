//! Creating and deleting an owner's pods as upstream's `PodControl` does,
//! for the ReplicaSet, Job and DaemonSet controllers: creates go in
//! slow-start batches (1, 2, 4, ...) so that a failing template costs one
//! request, not hundreds; every create and delete is recorded as an event on
//! the owner and as an expectation until the cache shows it.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};

use crate::events::{Recorder, Type};
use crate::expectations::Expectations;
use crate::queue::Key;

/// What the pod operations of one owner need.
pub struct PodControl<'a, O: kube::Resource<DynamicType = ()>> {
    pub api: &'a Api<Pod>,
    pub owner: &'a O,
    pub key: &'a Key,
    pub events: &'a Recorder,
    pub expectations: &'a Expectations,
}

impl<O: kube::Resource<DynamicType = ()>> PodControl<'_, O> {
    /// Creates `pods` in slow-start batches, stopping at the first batch with
    /// a failure. A terminating namespace is not a failure: nothing is made.
    pub async fn create(&self, pods: Vec<Pod>) -> Result<(), kube::Error> {
        let mut pending = pods.into_iter();
        let mut batch = 1;
        loop {
            let chunk: Vec<Pod> = pending.by_ref().take(batch).collect();
            if chunk.is_empty() {
                return Ok(());
            }
            let params = PostParams::default();
            let results = futures::future::join_all(chunk.iter().map(|p| self.api.create(&params, p))).await;
            let mut first_error = None;
            for result in results {
                match result {
                    Ok(pod) => {
                        let name = pod.metadata.name.clone().unwrap_or_default();
                        self.events.record(
                            self.owner,
                            Type::Normal,
                            "SuccessfulCreate",
                            format!("Created pod: {name}"),
                        );
                        self.expectations.created(self.key, name);
                    }
                    Err(e) if crate::is_terminating(&e) => return Ok(()),
                    Err(e) => {
                        self.events.record(self.owner, Type::Warning, "FailedCreate", format!("Error creating: {e}"));
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            batch *= 2;
        }
    }

    /// Deletes `victims` at once; pods already gone are not an error.
    pub async fn delete(&self, victims: &[Arc<Pod>]) -> Result<(), kube::Error> {
        let results = futures::future::join_all(victims.iter().map(|pod| async move {
            let name = pod.metadata.name.clone().unwrap_or_default();
            (pod, self.api.delete(&name, &DeleteParams::default()).await)
        }))
        .await;
        for (pod, result) in results {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            match result {
                Ok(_) => {
                    self.events.record(self.owner, Type::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                    self.expectations.deleted(self.key, pod.metadata.uid.clone());
                }
                Err(e) if crate::is_gone(&e) => {}
                Err(e) => {
                    self.events.record(self.owner, Type::Warning, "FailedDelete", format!("Error deleting: {e}"));
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}
