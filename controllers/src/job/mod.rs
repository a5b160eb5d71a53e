//! The Job controller: runs a Job's pods until enough succeed (`completions`,
//! `parallelism`, NonIndexed or Indexed), or fails it on its backoff limit,
//! its active deadline or a `podFailurePolicy` rule; suspends and resumes
//! it; and deletes it `ttlSecondsAfterFinished` after it finished.
//!
//! Pods are counted as upstream counts them, through the finalizer
//! `batch.kubernetes.io/job-tracking`: a finished pod's UID goes into
//! `status.uncountedTerminatedPods` first, its finalizer comes off next, and
//! only then is it moved into `succeeded` or `failed`. A pod deleted by
//! anyone at any time is therefore counted exactly once, across restarts and
//! leader changes. The back-off between failed pods is read from the failed
//! pods' finish times, so it survives them too.

mod failure_policy;
mod indexes;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, PropagationPolicy};
use serde_json::json;

use self::failure_policy::Action;
use crate::events::{Recorder, Type};
use crate::expectations::Expectations;
use crate::informer::{self, Informer};
use crate::pod_control::PodControl;
use crate::queue::{self, Key, Next, Queue};
use crate::{labels, owner, pods};

pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Most pods created or deleted in one reconcile.
const BURST: usize = 500;
/// The delay before replacing a failed pod doubles from this, up to [`BACKOFF_MAX`].
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);
/// Jobs another controller manages (`spec.managedBy`) are left alone.
const MANAGED_BY_US: &str = "kubernetes.io/job-controller";

pub struct Controller {
    client: kube::Client,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<Queue>,
    expectations: Expectations,
    events: Recorder,
}

pub async fn run(client: kube::Client, jobs: Arc<Informer<Job>>, pods: Arc<Informer<Pod>>, events: Recorder) {
    let controller =
        Arc::new(Controller { client, jobs, pods, queue: Queue::new(), expectations: Expectations::default(), events });
    let job_changes = controller.jobs.subscribe();
    let pod_changes = controller.pods.subscribe();
    controller.jobs.ready().await;
    controller.pods.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    let _workers = queue::spawn_workers(Arc::clone(&controller.queue), 4, "job", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    tokio::join!(
        informer::feed(job_changes, || controller.enqueue_all(), |job| controller.queue.add(Key::of(&job.metadata))),
        informer::feed(pod_changes, || controller.enqueue_all(), |pod| controller.pod_changed(pod)),
    );
}

/// What one reconcile found and decided, gathered before the status is written.
#[derive(Debug, Default)]
struct Observed {
    active: Vec<Arc<Pod>>,
    terminating: usize,
    ready: usize,
    /// The message of a `FailJob` rule matched by a newly failed pod.
    fail_job: Option<String>,
    /// Restarts of the active pods' containers (they count as failures under `OnFailure`).
    restarts: i32,
}

fn condition<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_ && c.status == "True")
}

fn set_condition(status: &mut JobStatus, type_: &str, value: &str, reason: &str, message: &str, now: Timestamp) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != value {
            c.last_transition_time = Some(Time(now));
        }
        c.status = value.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(Time(now));
        return;
    }
    conditions.push(JobCondition {
        type_: type_.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    });
}

/// `Complete` or `Failed`, whichever is true.
fn finished(status: &JobStatus) -> Option<&JobCondition> {
    condition(status, "Complete").or_else(|| condition(status, "Failed"))
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata.finalizers.iter().flatten().any(|f| f == TRACKING_FINALIZER)
}

/// Whether a pod counts as failed: its phase says so, or (without a failure
/// policy, which waits for the kubelet's verdict) it is being deleted unfinished.
fn is_failed(pod: &Pod, has_policy: bool) -> bool {
    match pods::phase(pod) {
        "Failed" => true,
        "Succeeded" => false,
        _ => !has_policy && pod.metadata.deletion_timestamp.is_some(),
    }
}

impl Controller {
    fn enqueue_all(&self) {
        for job in self.jobs.store.state() {
            self.queue.add(Key::of(&job.metadata));
        }
    }

    fn pod_changed(&self, pod: &Pod) {
        match owner::controller_of(&pod.metadata) {
            Some(r) if r.kind == "Job" && has_finalizer(pod) => {
                let job = self.jobs.get(pod.metadata.namespace.as_deref(), &r.name);
                if job.is_none_or(|j| j.metadata.uid.as_deref() != Some(r.uid.as_str())) {
                    self.release_orphan(pod);
                }
            }
            // An orphan (its Job deleted with `--cascade=orphan`) keeps no finalizer of ours.
            None if has_finalizer(pod) => self.release_orphan(pod),
            _ => {}
        }
        for key in owner::keys_for_pod(pod, &self.jobs, |job, labels| {
            job.spec.as_ref().and_then(|s| s.selector.as_ref()).is_some_and(|s| crate::labels::matches(s, labels))
        }) {
            self.queue.add(key);
        }
    }

    /// Removes our finalizer from a pod whose Job is gone, off the queue.
    fn release_orphan(&self, pod: &Pod) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
        let pod = pod.clone();
        tokio::spawn(async move {
            if let Err(e) = remove_finalizer(&api, &pod).await {
                tracing::debug!(pod = ?pod.metadata.name, "cannot release an orphan of its job-tracking finalizer: {e}");
            }
        });
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(job) = self.jobs.get(Some(&key.namespace), &key.name) else {
            self.expectations.forget(&key);
            // The Job is gone: its pods must not stay held by its finalizer.
            let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
            for pod in self.pods.in_namespace(&key.namespace) {
                let ours = owner::controller_of(&pod.metadata).is_some_and(|r| r.kind == "Job" && r.name == key.name);
                if ours && has_finalizer(&pod) {
                    remove_finalizer(&pod_api, &pod).await?;
                }
            }
            return Ok(Next::Done);
        };
        let spec = job.spec.clone().unwrap_or_default();
        if spec.managed_by.as_deref().is_some_and(|m| m != MANAGED_BY_US) {
            return Ok(Next::Done);
        }
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let all = self.pods.in_namespace(&key.namespace);
        let owned = match &spec.selector {
            Some(selector) => {
                owner::claim(&pod_api, &all, job.as_ref(), |p| labels::matches(selector, p.metadata.labels.as_ref()))
                    .await?
            }
            None => Vec::new(),
        };
        if job.metadata.deletion_timestamp.is_some() {
            // The garbage collector deletes the pods; let them go.
            for pod in owned.iter().filter(|p| has_finalizer(p)) {
                remove_finalizer(&pod_api, pod).await?;
            }
            return Ok(Next::Done);
        }

        let now = Timestamp::now();
        let (job, observed) = self.track(&job, &pod_api, &owned).await?;
        let mut status = job.status.clone().unwrap_or_default();
        let original = status.clone();
        let mut next = Next::Done;

        if let Some(done) = finished(&status).cloned() {
            status.active = None;
            status.ready = Some(i32::try_from(observed.ready).unwrap_or(i32::MAX));
            status.terminating = Some(i32::try_from(observed.terminating).unwrap_or(i32::MAX));
            self.write_status(&job, status, &original).await?;
            return self.expire(&job, &done, now).await;
        }

        let suspended = spec.suspend == Some(true);
        let mut deletions: Vec<Arc<Pod>> = Vec::new();
        if suspended {
            if condition(&status, "Suspended").is_none() {
                set_condition(&mut status, "Suspended", "True", "JobSuspended", "Job suspended", now);
                self.events.record(&job, Type::Normal, "Suspended", "Job suspended".into());
            }
            deletions.extend(observed.active.iter().cloned());
        } else {
            if condition(&status, "Suspended").is_some() {
                set_condition(&mut status, "Suspended", "False", "JobResumed", "Job resumed", now);
                self.events.record(&job, Type::Normal, "Resumed", "Job resumed".into());
                status.start_time = Some(Time(now));
            }
            status.start_time.get_or_insert(Time(now));
        }

        let completions = spec.completions;
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let succeeded = status.succeeded.unwrap_or(0);
        let on_failure = spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) == Some("OnFailure");
        let failed = status.failed.unwrap_or(0) + if on_failure { observed.restarts } else { 0 };
        let completed = indexes::parse(status.completed_indexes.as_deref(), completions.unwrap_or(0));

        // Has the Job failed, or met its success criteria?
        let failure =
            condition(&status, "FailureTarget").map(|c| (c.reason.clone(), c.message.clone())).or_else(|| {
                let started = status.start_time.as_ref().map(|t| t.0);
                let deadline = spec.active_deadline_seconds.zip(started).map(|(s, t)| t.as_second() + s);
                if let Some(message) = &observed.fail_job {
                    Some((Some("PodFailurePolicy".into()), Some(message.clone())))
                } else if failed > spec.backoff_limit.unwrap_or(6) {
                    Some((
                        Some("BackoffLimitExceeded".into()),
                        Some("Job has reached the specified backoff limit".into()),
                    ))
                } else if !suspended && deadline.is_some_and(|d| now.as_second() >= d) {
                    Some((
                        Some("DeadlineExceeded".into()),
                        Some("Job was active longer than specified deadline".into()),
                    ))
                } else {
                    if let Some(d) = deadline.filter(|_| !suspended) {
                        next = sooner(next, Duration::from_secs((d - now.as_second()).max(1) as u64));
                    }
                    None
                }
            });
        let success = condition(&status, "SuccessCriteriaMet").is_some()
            || match (indexed, completions) {
                (true, Some(c)) => completed.len() >= usize::try_from(c).unwrap_or(0),
                (false, Some(c)) => succeeded >= c,
                (_, None) => succeeded > 0 && observed.active.is_empty(),
            };

        if let Some((reason, message)) = failure {
            let (reason, message) = (reason.unwrap_or_default(), message.unwrap_or_default());
            if condition(&status, "FailureTarget").is_none() {
                set_condition(&mut status, "FailureTarget", "True", &reason, &message, now);
            }
            deletions.extend(observed.active.iter().cloned());
            if observed.active.is_empty() && observed.terminating == 0 {
                set_condition(&mut status, "Failed", "True", &reason, &message, now);
                self.events.record(&job, Type::Warning, &reason, message);
            }
        } else if success {
            const WHY: &str = "Reached expected number of succeeded pods";
            if condition(&status, "SuccessCriteriaMet").is_none() {
                set_condition(&mut status, "SuccessCriteriaMet", "True", "CompletionsReached", WHY, now);
            }
            deletions.extend(observed.active.iter().cloned());
            if observed.active.is_empty() && observed.terminating == 0 {
                set_condition(&mut status, "Complete", "True", "CompletionsReached", WHY, now);
                status.completion_time = Some(Time(now));
                self.events.record(&job, Type::Normal, "Completed", "Job completed".into());
            }
        } else if !suspended && self.expectations.met(&key, &all) {
            let plan = plan(&spec, &observed, succeeded, &completed);
            deletions.extend(plan.excess);
            if !plan.create.is_empty() {
                match backoff_left(&owned, now) {
                    Some(left) => next = sooner(next, left),
                    None => {
                        let pods = plan.create.iter().map(|i| pod_for(&job, *i)).collect();
                        self.control(&key, &job, &pod_api).create(pods).await?;
                    }
                }
            }
        }
        deletions.sort_by(|a, b| a.metadata.uid.cmp(&b.metadata.uid));
        deletions.dedup_by(|a, b| a.metadata.uid == b.metadata.uid);
        if !deletions.is_empty() {
            deletions.truncate(BURST);
            self.control(&key, &job, &pod_api).delete(&deletions).await?;
        }

        let active = observed.active.len() - deletions.len().min(observed.active.len());
        status.active = (active > 0).then(|| i32::try_from(active).unwrap_or(i32::MAX));
        status.ready = Some(i32::try_from(observed.ready).unwrap_or(i32::MAX));
        status.terminating = Some(i32::try_from(observed.terminating + deletions.len()).unwrap_or(i32::MAX));
        let done = finished(&status).cloned();
        let job = self.write_status(&job, status, &original).await?;
        if let Some(done) = done {
            return self.expire(&job, &done, now).await;
        }
        Ok(next)
    }

    /// Counts the pods that finished since the last reconcile, by the
    /// finalizer protocol, and returns the Job as written with what it saw.
    async fn track(&self, job: &Job, api: &Api<Pod>, owned: &[Arc<Pod>]) -> Result<(Job, Observed), kube::Error> {
        let spec = job.spec.clone().unwrap_or_default();
        let policy = spec.pod_failure_policy.as_ref();
        let completions = spec.completions.unwrap_or(0);
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let mut status = job.status.clone().unwrap_or_default();
        let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
        let mut completed = indexes::parse(status.completed_indexes.as_deref(), completions);
        let in_list = |list: &Option<Vec<String>>, uid: &str| list.iter().flatten().any(|u| u == uid);

        let mut observed = Observed::default();
        let mut release: Vec<&Arc<Pod>> = Vec::new();
        let (mut new_succeeded, mut new_failed) = (0u32, 0u32);
        for pod in owned {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let terminal_or_failed = pods::is_terminal(pod) || is_failed(pod, policy.is_some());
            if !terminal_or_failed {
                if pod.metadata.deletion_timestamp.is_some() {
                    observed.terminating += 1;
                } else {
                    observed.restarts += pod
                        .status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum::<i32>());
                    if pods::is_ready(pod) {
                        observed.ready += 1;
                    }
                    observed.active.push(Arc::clone(pod));
                }
                continue;
            }
            if !has_finalizer(pod) {
                continue;
            }
            release.push(pod);
            if in_list(&uncounted.succeeded, &uid) || in_list(&uncounted.failed, &uid) {
                continue;
            }
            if pods::phase(pod) == "Succeeded" {
                let index = indexed.then(|| indexes::of(pod, completions));
                match index {
                    // A second success of a completed index, or a pod without a valid index.
                    Some(None) => continue,
                    Some(Some(i)) if !completed.insert(i) => continue,
                    _ => {}
                }
                uncounted.succeeded.get_or_insert_with(Vec::new).push(uid);
                new_succeeded += 1;
                continue;
            }
            match policy.and_then(|p| failure_policy::evaluate(p, pod)) {
                Some(Action::Ignore) => continue,
                Some(Action::FailJob(message)) => {
                    observed.fail_job.get_or_insert(message);
                }
                Some(Action::FailIndex | Action::Count) | None => {}
            }
            uncounted.failed.get_or_insert_with(Vec::new).push(uid);
            new_failed += 1;
        }
        // Step 1: the finished pods' UIDs are recorded before their finalizers go.
        let mut job = job.clone();
        if new_succeeded + new_failed > 0 {
            let mut recorded = status.clone();
            recorded.uncounted_terminated_pods = Some(uncounted.clone());
            if indexed {
                recorded.completed_indexes = Some(indexes::format(&completed));
            }
            let original = status.clone();
            job = self.write_status(&job, recorded, &original).await?;
            status = job.status.clone().unwrap_or_default();
        }
        // Step 2: the finalizers come off.
        let mut still_held: Vec<String> = Vec::new();
        for pod in release {
            if let Err(e) = remove_finalizer(api, pod).await {
                tracing::debug!(pod = ?pod.metadata.name, "cannot remove the job-tracking finalizer: {e}");
                still_held.extend(pod.metadata.uid.clone());
            }
        }
        // Step 3 (written with the rest of the status): released UIDs move into the counts.
        let mut flushed = UncountedTerminatedPods::default();
        for (list, count, kept) in [
            (uncounted.succeeded.take(), &mut status.succeeded, &mut flushed.succeeded),
            (uncounted.failed.take(), &mut status.failed, &mut flushed.failed),
        ] {
            for uid in list.into_iter().flatten() {
                if still_held.contains(&uid) {
                    kept.get_or_insert_with(Vec::new).push(uid);
                } else {
                    *count = Some(count.unwrap_or(0) + 1);
                }
            }
        }
        status.uncounted_terminated_pods = Some(flushed);
        if indexed {
            status.completed_indexes = Some(indexes::format(&completed));
        }
        job.status = Some(status);
        Ok((job, observed))
    }

    fn control<'a>(&'a self, key: &'a Key, job: &'a Job, api: &'a Api<Pod>) -> PodControl<'a, Job> {
        PodControl { api, owner: job, key, events: &self.events, expectations: &self.expectations }
    }

    /// Writes `status` when it differs from `original`; returns the Job as stored.
    async fn write_status(&self, job: &Job, status: JobStatus, original: &JobStatus) -> Result<Job, kube::Error> {
        if &status == original {
            return Ok(Job { status: Some(status), ..job.clone() });
        }
        let api: Api<Job> = Api::namespaced(self.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let updated = Job { status: Some(status), ..job.clone() };
        api.replace_status(job.metadata.name.as_deref().unwrap_or_default(), &PostParams::default(), &updated).await
    }

    /// `ttlSecondsAfterFinished`: deletes the finished Job (and, in the
    /// foreground, its pods) once its time is up, as the TTL controller does.
    async fn expire(&self, job: &Job, done: &JobCondition, now: Timestamp) -> Result<Next, kube::Error> {
        let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else { return Ok(Next::Done) };
        let finished_at = job
            .status
            .as_ref()
            .and_then(|s| s.completion_time.as_ref())
            .or(done.last_transition_time.as_ref())
            .map_or(now, |t| t.0);
        let left = finished_at.as_second() + i64::from(ttl) - now.as_second();
        if left > 0 {
            return Ok(Next::After(Duration::from_secs(left as u64)));
        }
        let api: Api<Job> = Api::namespaced(self.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(kube::api::Preconditions { uid: job.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(job.metadata.name.as_deref().unwrap_or_default(), &params).await {
            Ok(_) => Ok(Next::Done),
            Err(e) if crate::is_gone(&e) => Ok(Next::Done),
            Err(e) => Err(e),
        }
    }
}

/// When the pod finished: its containers' latest end, else when it stopped being Ready.
fn finished_at(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    let ends = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    let latest = ends.filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0)).max();
    latest.or_else(|| {
        let ready = status.conditions.iter().flatten().find(|c| c.type_ == "Ready")?;
        ready.last_transition_time.as_ref().map(|t| t.0)
    })
}

/// How long until a failed pod may be replaced: the failures since the last
/// success double the delay from 10 s, counted from the latest. Read from
/// the pods themselves, as upstream rebuilds its back-off record, so that a
/// restart or a new leader keeps it.
fn backoff_left(owned: &[Arc<Pod>], now: Timestamp) -> Option<Duration> {
    let last_success = owned.iter().filter(|p| pods::phase(p) == "Succeeded").filter_map(|p| finished_at(p)).max();
    let failures: Vec<Timestamp> = owned
        .iter()
        .filter(|p| pods::phase(p) == "Failed")
        .filter_map(|p| finished_at(p))
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    let last = failures.iter().max()?;
    let n = u32::try_from(failures.len()).unwrap_or(u32::MAX);
    let delay = BACKOFF_BASE.saturating_mul(1 << (n - 1).min(10)).min(BACKOFF_MAX);
    let elapsed = Duration::from_secs(u64::try_from(now.as_second() - last.as_second()).unwrap_or(0));
    delay.checked_sub(elapsed).filter(|left| !left.is_zero())
}

fn sooner(next: Next, d: Duration) -> Next {
    match next {
        Next::After(e) if e <= d => next,
        _ => Next::After(d),
    }
}

/// Pods to create (their indexes, `None` when NonIndexed) and active pods to delete.
#[derive(Debug, Default)]
struct Plan {
    create: Vec<Option<i32>>,
    excess: Vec<Arc<Pod>>,
}

fn plan(
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    observed: &Observed,
    succeeded: i32,
    completed: &BTreeSet<i32>,
) -> Plan {
    let parallelism = usize::try_from(spec.parallelism.unwrap_or(1)).unwrap_or(0);
    // Without `podReplacementPolicy: Failed` a terminating pod is replaced at once.
    let waits_for_terminal = spec.pod_replacement_policy.as_deref() == Some("Failed");
    let busy = observed.active.len() + if waits_for_terminal { observed.terminating } else { 0 };
    let mut plan = Plan::default();
    if spec.completion_mode.as_deref() == Some("Indexed") {
        let completions = spec.completions.unwrap_or(0);
        let mut by_index: HashMap<i32, Vec<&Arc<Pod>>> = HashMap::new();
        for pod in &observed.active {
            match indexes::of(pod, completions) {
                Some(i) if !completed.contains(&i) => by_index.entry(i).or_default().push(pod),
                // An index out of range, or done already: the pod is not needed.
                _ => plan.excess.push(Arc::clone(pod)),
            }
        }
        for pods in by_index.values_mut() {
            pods.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            plan.excess.extend(pods.iter().skip(1).map(|p| Arc::clone(p)));
        }
        let running = by_index.len() + if waits_for_terminal { observed.terminating } else { 0 };
        let room = parallelism.saturating_sub(running).min(BURST);
        plan.create = (0..completions)
            .filter(|i| !completed.contains(i) && !by_index.contains_key(i))
            .take(room)
            .map(Some)
            .collect();
        return plan;
    }
    let want = match spec.completions {
        Some(c) => parallelism.min(usize::try_from(c - succeeded).unwrap_or(0)),
        // A work queue: once one pod succeeded, no new ones start.
        None if succeeded > 0 => observed.active.len(),
        None => parallelism,
    };
    if busy < want {
        plan.create = vec![None; (want - busy).min(BURST)];
    } else if observed.active.len() > want {
        let mut victims: Vec<&Pod> = observed.active.iter().map(AsRef::as_ref).collect();
        pods::sort_for_deletion(&mut victims);
        let n = observed.active.len() - want;
        let names: Vec<&str> = victims.iter().take(n).filter_map(|p| p.metadata.name.as_deref()).collect();
        plan.excess = observed
            .active
            .iter()
            .filter(|p| p.metadata.name.as_deref().is_some_and(|n| names.contains(&n)))
            .cloned()
            .collect();
    }
    plan
}

async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let rest: Vec<&String> = pod.metadata.finalizers.iter().flatten().filter(|f| *f != TRACKING_FINALIZER).collect();
    let patch = json!({"metadata": {
        "finalizers": if rest.is_empty() { serde_json::Value::Null } else { json!(rest) },
        "resourceVersion": pod.metadata.resource_version,
    }});
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A pod for `job` from its template; `index` for Indexed Jobs.
fn pod_for(job: &Job, index: Option<i32>) -> Pod {
    let template = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    finalizers.push(TRACKING_FINALIZER.into());
    let mut spec = template.spec;
    let generate_name = match index {
        Some(i) => {
            labels.insert(indexes::ANNOTATION.into(), i.to_string());
            annotations.insert(indexes::ANNOTATION.into(), i.to_string());
            if let Some(spec) = spec.as_mut() {
                spec.hostname.get_or_insert_with(|| format!("{name}-{i}"));
                let env = EnvVar {
                    name: "JOB_COMPLETION_INDEX".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            api_version: None,
                            field_path: format!("metadata.annotations['{}']", indexes::ANNOTATION),
                        }),
                        ..Default::default()
                    }),
                };
                for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
                    let vars = c.env.get_or_insert_with(Vec::new);
                    if !vars.iter().any(|v| v.name == env.name) {
                        vars.push(env.clone());
                    }
                }
            }
            crate::replicaset::generate_name_prefix(&format!("{name}-{i}"))
        }
        None => crate::replicaset::generate_name_prefix(name),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![owner::controller_ref(job)]),
            ..Default::default()
        },
        spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::JobSpec;

    use super::*;

    fn active(n: usize, indexed: Option<&[i32]>) -> Observed {
        let pods = (0..n)
            .map(|i| {
                let mut p = Pod::default();
                p.metadata.name = Some(format!("p{i}"));
                if let Some(idx) = indexed {
                    p.metadata.annotations =
                        Some([(indexes::ANNOTATION.to_string(), idx[i].to_string())].into_iter().collect());
                }
                Arc::new(p)
            })
            .collect();
        Observed { active: pods, ..Default::default() }
    }

    #[test]
    fn non_indexed_jobs_run_parallelism_pods_up_to_the_completions_left() {
        let spec = JobSpec { completions: Some(5), parallelism: Some(2), ..Default::default() };
        assert_eq!(plan(&spec, &active(0, None), 0, &BTreeSet::new()).create.len(), 2);
        assert_eq!(plan(&spec, &active(1, None), 4, &BTreeSet::new()).create.len(), 0);
        assert_eq!(plan(&spec, &active(2, None), 4, &BTreeSet::new()).excess.len(), 1);
        let queue = JobSpec { completions: None, parallelism: Some(3), ..Default::default() };
        assert_eq!(
            plan(&queue, &active(1, None), 1, &BTreeSet::new()).create.len(),
            0,
            "a work queue stops once one succeeded"
        );
        assert_eq!(plan(&queue, &active(0, None), 0, &BTreeSet::new()).create.len(), 3);
    }

    #[test]
    fn indexed_jobs_create_the_lowest_missing_indexes_and_drop_duplicates() {
        let spec = JobSpec {
            completions: Some(4),
            parallelism: Some(3),
            completion_mode: Some("Indexed".into()),
            ..Default::default()
        };
        let completed: BTreeSet<i32> = [0].into_iter().collect();
        let p = plan(&spec, &active(3, Some(&[1, 1, 0])), 0, &completed);
        assert_eq!(p.create, [Some(2), Some(3)]);
        let excess: Vec<_> = p.excess.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
        assert_eq!(excess.len(), 2, "index 0 is done and index 1 runs twice: {excess:?}");
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let mut job = Job::default();
        job.metadata.name = Some("work".into());
        job.metadata.uid = Some("u".into());
        let mut spec = JobSpec::default();
        spec.template.spec =
            Some(k8s_openapi::api::core::v1::PodSpec { containers: vec![Default::default()], ..Default::default() });
        job.spec = Some(spec);
        let pod = pod_for(&job, Some(3));
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("work-3-"));
        assert_eq!(pod.metadata.annotations.unwrap()[indexes::ANNOTATION], "3");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("work-3"));
        assert_eq!(spec.containers[0].env.as_ref().unwrap()[0].name, "JOB_COMPLETION_INDEX");
        assert!(pod.metadata.finalizers.unwrap().contains(&TRACKING_FINALIZER.to_string()));
    }

    fn finished(phase: &str, at: i64) -> Arc<Pod> {
        use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, ContainerStatus, PodStatus};
        Arc::new(Pod {
            status: Some(PodStatus {
                phase: Some(phase.into()),
                container_statuses: Some(vec![ContainerStatus {
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            finished_at: Some(Time(Timestamp::from_second(at).unwrap())),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn the_backoff_doubles_with_failures_since_the_last_success() {
        let at = |s| Timestamp::from_second(s).unwrap();
        assert_eq!(backoff_left(&[], at(100)), None);
        let one = [finished("Failed", 100)];
        assert_eq!(backoff_left(&one, at(104)), Some(Duration::from_secs(6)));
        assert_eq!(backoff_left(&one, at(110)), None);
        let three = [finished("Failed", 50), finished("Failed", 90), finished("Failed", 100)];
        assert_eq!(backoff_left(&three, at(110)), Some(Duration::from_secs(30)), "40 s after the third");
        let after_success = [finished("Failed", 50), finished("Succeeded", 95), finished("Failed", 100)];
        assert_eq!(backoff_left(&after_success, at(101)), Some(Duration::from_secs(9)));
    }
}
