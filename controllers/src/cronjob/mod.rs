//! The CronJob controller (upstream's v2): at each scheduled time it creates
//! a Job from `spec.jobTemplate`, named `<cronjob>-<minutes since the epoch>`
//! so that a time is never run twice, honouring `concurrencyPolicy`,
//! `suspend` and `startingDeadlineSeconds`; it tracks the Jobs it started in
//! `status.active`, `lastScheduleTime` and `lastSuccessfulTime`, deletes the
//! oldest finished Jobs beyond the history limits, and sleeps until the next
//! scheduled time. After downtime only the most recent missed time runs.
//!
//! It never runs a Job's pods (the Job controller does) and never adopts a
//! Job it did not create: it only reports one (`UnexpectedJob`).

mod schedule;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use self::schedule::{Schedule, load_zone};
use crate::events::{Recorder, Type};
use crate::informer::{self, Change, Informer};
use crate::owner;
use crate::queue::{self, Key, Next, Queue};

/// Upstream's annotation on each Job: the time it was scheduled for, RFC 3339 in `spec.timeZone`.
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed times than this earn a `TooManyMissedTimes` warning.
const TOO_MANY_MISSED: usize = 100;
/// Waking a little after the scheduled time, so a clock slightly behind does not miss it.
const WAKE_LATE: Duration = Duration::from_millis(100);
/// The longest sleep between looks. The wait is measured on the monotonic
/// clock, so a wall clock set forward meanwhile (a Pi without a battery
/// clock meeting NTP) delays a due Job by at most this much.
const MAX_SLEEP: Duration = Duration::from_secs(300);
/// Upstream's default `--concurrent-cron-job-syncs`.
const WORKERS: usize = 5;

pub struct Controller {
    client: kube::Client,
    cronjobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    queue: Arc<Queue>,
    events: Recorder,
    /// The zone of schedules without `timeZone` (upstream: the controller
    /// manager's local zone).
    local: TimeZone,
    /// The schedule and time zone last seen of each CronJob: a change of
    /// either waits for the new schedule's next time, as upstream, rather
    /// than running a time the new schedule "missed" since the last run.
    schedules: Mutex<HashMap<Key, (String, Option<String>)>>,
}

pub async fn run(client: kube::Client, cronjobs: Arc<Informer<CronJob>>, jobs: Arc<Informer<Job>>, events: Recorder) {
    let local = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    tracing::debug!(zone = local.iana_name().unwrap_or("(unnamed)"), "cronjob: the zone of schedules without timeZone");
    let controller = Arc::new(Controller {
        client,
        cronjobs,
        jobs,
        queue: Queue::new(),
        events,
        local,
        schedules: Mutex::default(),
    });
    let mut cronjob_changes = controller.cronjobs.subscribe();
    let mut job_changes = controller.jobs.subscribe();
    controller.cronjobs.ready().await;
    controller.jobs.ready().await;
    controller.enqueue_all();
    let worker = Arc::clone(&controller);
    let _workers = queue::spawn_workers(Arc::clone(&controller.queue), WORKERS, "cronjob", move |key| {
        let c = Arc::clone(&worker);
        async move { c.reconcile(key).await }
    });
    loop {
        tokio::select! {
            change = informer::next(&mut cronjob_changes) => match change {
                Some(Change::Applied(cj)) => controller.cronjob_changed(&cj),
                Some(Change::Deleted(cj)) => {
                    let key = Key::of(&cj.metadata);
                    controller.lock_schedules().remove(&key);
                    controller.queue.add(key);
                }
                Some(Change::Relisted) => controller.enqueue_all(),
                None => return,
            },
            change = informer::next(&mut job_changes) => match change {
                Some(Change::Applied(job) | Change::Deleted(job)) => controller.job_changed(&job),
                Some(Change::Relisted) => controller.enqueue_all(),
                None => return,
            },
        }
    }
}

impl Controller {
    fn lock_schedules(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (String, Option<String>)>> {
        self.schedules.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue_all(&self) {
        let all = self.cronjobs.store.state();
        let mut schedules = self.lock_schedules();
        let present: HashSet<Key> = all.iter().map(|cj| Key::of(&cj.metadata)).collect();
        schedules.retain(|key, _| present.contains(key));
        for cj in all {
            schedules.insert(Key::of(&cj.metadata), schedule_of(&cj));
            self.queue.add(Key::of(&cj.metadata));
        }
    }

    /// Any change syncs now, except a new schedule or time zone, which
    /// waits for its next time.
    fn cronjob_changed(&self, cj: &CronJob) {
        let key = Key::of(&cj.metadata);
        let now_seen = schedule_of(cj);
        let before = self.lock_schedules().insert(key.clone(), now_seen.clone());
        if before.is_none() || before == Some(now_seen) {
            self.queue.add(key);
            return;
        }
        let Ok(zone) = self.zone_of(cj) else {
            // The sync reports the unknown zone.
            self.queue.add(key);
            return;
        };
        match Schedule::parse(&spec_of(cj).schedule, zone, &self.local) {
            Ok(schedule) => match requeue_after(cj, Timestamp::now(), &schedule) {
                Some(wait) => self.queue.add_after(key, wait),
                None => self.queue.add(key),
            },
            Err(_) => self.events.record(
                cj,
                Type::Warning,
                "UnParseableCronJobSchedule",
                format!("unparseable schedule for cronjob: {}", spec_of(cj).schedule),
            ),
        }
    }

    /// A Job's controlling CronJob, if it is one we know.
    fn job_changed(&self, job: &Job) {
        let Some(r) = owner::controller_of(&job.metadata) else { return };
        if r.kind != "CronJob" {
            return;
        }
        let namespace = job.metadata.namespace.as_deref();
        if let Some(cj) = self.cronjobs.get(namespace, &r.name)
            && cj.metadata.uid.as_deref() == Some(r.uid.as_str())
        {
            self.queue.add(Key::of(&cj.metadata));
        }
    }

    /// `spec.timeZone` as a zone, or the local zone when unset.
    fn zone_of(&self, cj: &CronJob) -> Result<TimeZone, schedule::UnknownZone> {
        match &spec_of(cj).time_zone {
            Some(name) => load_zone(name, &self.local),
            None => Ok(self.local.clone()),
        }
    }

    async fn reconcile(&self, key: Key) -> Result<Next, kube::Error> {
        let Some(cached) = self.cronjobs.get(Some(&key.namespace), &key.name) else {
            return Ok(Next::Done);
        };
        let uid = cached.metadata.uid.clone().unwrap_or_default();
        let jobs: Vec<Arc<Job>> = self
            .jobs
            .in_namespace(&key.namespace)
            .into_iter()
            .filter(|j| owner::controller_of(&j.metadata).is_some_and(|r| r.kind == "CronJob" && r.uid == uid))
            .collect();
        let mut cj = (*cached).clone();
        // The status as stored in the version `cj` is: what a write must change.
        let mut stored = status_value(&cj);
        let deleted = self.delete_old_finished(&mut cj, &jobs).await;
        let outcome = self.sync(&mut cj, &mut stored, &jobs, &deleted).await;
        if status_value(&cj) != stored {
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), &key.namespace);
            let patch = json!({
                "metadata": {"resourceVersion": cj.metadata.resource_version},
                "status": status_value(&cj),
            });
            match api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => {}
                // Gone, or changed meanwhile: the change brings the key back.
                Err(e) if crate::is_gone(&e) => return Ok(Next::Done),
                Err(e) => return Err(e),
            }
        }
        Ok(match outcome? {
            Some(wait) => Next::After(wait.min(MAX_SLEEP)),
            None => Next::Done,
        })
    }

    /// Deletes the oldest finished Jobs beyond the history limits; returns
    /// the UIDs deleted.
    async fn delete_old_finished(&self, cj: &mut CronJob, jobs: &[Arc<Job>]) -> HashSet<String> {
        let spec = spec_of(cj);
        let limits = [("Complete", spec.successful_jobs_history_limit), ("Failed", spec.failed_jobs_history_limit)];
        let mut deleted = HashSet::new();
        for (condition, limit) in limits {
            let Some(limit) = limit else { continue };
            let mut finished: Vec<&Job> = jobs
                .iter()
                .map(AsRef::as_ref)
                .filter(|j| j.metadata.deletion_timestamp.is_none() && finished_as(j) == Some(condition))
                .collect();
            let excess = finished.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
            sort_oldest_first(&mut finished);
            for job in finished.into_iter().take(excess) {
                if self.delete_job(cj, job).await.is_ok() {
                    deleted.extend(job.metadata.uid.clone());
                }
            }
        }
        deleted
    }

    /// Deletes `job` (its pods in the background) and drops it from `status.active`.
    async fn delete_job(&self, cj: &mut CronJob, job: &Job) -> Result<(), kube::Error> {
        let name = job.metadata.name.clone().unwrap_or_default();
        let api: Api<Job> = Api::namespaced(self.client.clone(), job.metadata.namespace.as_deref().unwrap_or_default());
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => self.events.record(cj, Type::Normal, "SuccessfulDelete", format!("Deleted job {name}")),
            // Already gone: nothing to report.
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                self.events.record(cj, Type::Warning, "FailedDelete", format!("Deleted job: {}", message(&e)));
                return Err(e);
            }
        }
        if let Some(uid) = &job.metadata.uid {
            remove_active(cj, uid);
        }
        Ok(())
    }

    /// Upstream's `syncCronJob`: brings `cj.status` up to date with its
    /// Jobs and starts the Job due now, if any; returns when to look again.
    /// `cj` may be replaced by a fresher copy from the API (`stored` then
    /// follows it); `deleted` are the Jobs deleted for the history limits.
    async fn sync(
        &self,
        cj: &mut CronJob,
        stored: &mut Value,
        jobs: &[Arc<Job>],
        deleted: &HashSet<String>,
    ) -> Result<Option<Duration>, kube::Error> {
        let now = Timestamp::now();
        let namespace = cj.metadata.namespace.clone().unwrap_or_default();
        let name = cj.metadata.name.clone().unwrap_or_default();
        let cronjob_api: Api<CronJob> = Api::namespaced(self.client.clone(), &namespace);
        let job_api: Api<Job> = Api::namespaced(self.client.clone(), &namespace);

        let uid_of = |job: &Job| job.metadata.uid.clone().unwrap_or_default();
        // The cached CronJob may be older than the cached Jobs (a Job we just
        // started, not yet in the status we read): ask the API once before
        // calling a running Job unexpected.
        if jobs.iter().any(|j| finished_as(j).is_none() && !is_active(cj, &uid_of(j))) {
            let Some(fresh) = cronjob_api.get_opt(&name).await? else { return Ok(None) };
            *stored = status_value(&fresh);
            *cj = fresh;
            for uid in deleted {
                remove_active(cj, uid);
            }
        }
        let mut children = HashSet::new();
        for job in jobs {
            let uid = uid_of(job);
            let job_name = job.metadata.name.as_deref().unwrap_or_default();
            children.insert(uid.clone());
            let listed = is_active(cj, &uid);
            match finished_as(job) {
                None if !listed => self.events.record(
                    cj,
                    Type::Warning,
                    "UnexpectedJob",
                    format!("Saw a job that the controller did not create or forgot: {job_name}"),
                ),
                None => {}
                Some(condition) => {
                    if listed {
                        remove_active(cj, &uid);
                        self.events.record(
                            cj,
                            Type::Normal,
                            "SawCompletedJob",
                            format!("Saw completed job: {job_name}, condition: {condition}"),
                        );
                    }
                    if condition == "Complete" {
                        let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
                        let status = cj.status.get_or_insert_with(Default::default);
                        if let Some(completed) = completed
                            && status.last_successful_time.as_ref().is_none_or(|last| completed.0 > last.0)
                        {
                            status.last_successful_time = Some(completed);
                        }
                    }
                }
            }
        }

        // An active Job the cache does not show may just be new: only the API can say it is gone.
        for r in active(cj) {
            let uid = r.uid.clone().unwrap_or_default();
            if children.contains(&uid) {
                continue;
            }
            let job_name = r.name.clone().unwrap_or_default();
            let found = job_api.get_opt(&job_name).await?;
            if found.is_none_or(|j| j.metadata.uid.as_deref() != Some(uid.as_str())) {
                self.events.record(cj, Type::Normal, "MissingJob", format!("Active job went missing: {job_name}"));
                remove_active(cj, &uid);
            }
        }

        if cj.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let spec = spec_of(cj).clone();
        let zone = match self.zone_of(cj) {
            Ok(zone) => zone,
            Err(e) => {
                let tz = spec.time_zone.as_deref().unwrap_or_default();
                self.events.record(cj, Type::Warning, "UnknownTimeZone", format!("invalid timeZone: {tz:?}: {e}"));
                return Ok(None);
            }
        };
        if spec.suspend == Some(true) {
            return Ok(None);
        }
        if spec.schedule.contains("TZ") {
            self.events.record(
                cj,
                Type::Warning,
                "UnsupportedSchedule",
                format!(
                    "CRON_TZ or TZ used in schedule {:?} is not officially supported, see \
                     https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                    spec.schedule
                ),
            );
        }
        let schedule = match Schedule::parse(&spec.schedule, zone, &self.local) {
            Ok(schedule) => schedule,
            Err(e) => {
                let message = format!("unparseable schedule: {:?} : {e}", spec.schedule);
                self.events.record(cj, Type::Warning, "UnparseableSchedule", message);
                return Ok(None);
            }
        };
        let due = match most_recent(cj, now, &schedule, true) {
            Ok(recent) => recent,
            Err(e) => {
                let message = format!("invalid schedule: {} : {e}", spec.schedule);
                self.events.record(cj, Type::Warning, "InvalidSchedule", message);
                return Ok(None);
            }
        };
        let Some(scheduled) = due.latest else {
            return Ok(requeue_after(cj, now, &schedule));
        };
        if due.count > TOO_MANY_MISSED {
            self.events.record(
                cj,
                Type::Warning,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
            );
        }
        if let Some(deadline) = spec.starting_deadline_seconds
            && scheduled.checked_add(SignedDuration::from_secs(deadline)).is_ok_and(|late| late < now)
        {
            let at = scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000");
            let message = format!("Missed scheduled time to start a job: {at}");
            self.events.record(cj, Type::Warning, "MissSchedule", message);
            return Ok(requeue_after(cj, now, &schedule));
        }
        let wanted = job_name(&name, scheduled);
        let last = cj.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(|t| t.0);
        if active(cj).iter().any(|r| r.name.as_deref() == Some(wanted.as_str())) || last == Some(scheduled) {
            return Ok(requeue_after(cj, now, &schedule));
        }
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if !active(cj).is_empty() => {
                self.events.record(
                    cj,
                    Type::Normal,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
                );
                return Ok(requeue_after(cj, now, &schedule));
            }
            Some("Replace") => {
                for r in active(cj) {
                    let running = match job_api.get(r.name.as_deref().unwrap_or_default()).await {
                        Ok(job) => job,
                        Err(e) => {
                            self.events.record(cj, Type::Warning, "FailedGet", format!("Get job: {}", message(&e)));
                            return Err(e);
                        }
                    };
                    self.delete_job(cj, &running).await?;
                }
            }
            _ => {}
        }

        let annotation_zone =
            load_zone(spec.time_zone.as_deref().unwrap_or_default(), &self.local).unwrap_or(TimeZone::UTC);
        let request = job_for(cj, scheduled, &annotation_zone);
        let created = match job_api.create(&PostParams::default(), &request).await {
            Ok(job) => {
                self.events.record(cj, Type::Normal, "SuccessfulCreate", format!("Created job {wanted}"));
                job
            }
            // The namespace is going away, and the CronJob with it.
            Err(e) if crate::is_terminating(&e) => return Ok(None),
            Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "AlreadyExists" => {
                // Created before, by us (and the status write was lost) or by someone else.
                let existing = job_api.get(&wanted).await?;
                let uid = cj.metadata.uid.clone().unwrap_or_default();
                let existing_uid = existing.metadata.uid.clone().unwrap_or_default();
                if !owner::controlled_by(&existing.metadata, &uid) || is_active(cj, &existing_uid) {
                    return Ok(requeue_after(cj, now, &schedule));
                }
                tracing::info!(cronjob = %Key::of(&cj.metadata), job = wanted, "job already exists");
                existing
            }
            Err(e) => {
                self.events.record(cj, Type::Warning, "FailedCreate", format!("Error creating job: {}", message(&e)));
                return Err(e);
            }
        };
        let status = cj.status.get_or_insert_with(Default::default);
        status.active.get_or_insert_with(Vec::new).push(reference_to(&created));
        status.last_schedule_time = Some(Time(scheduled));
        Ok(requeue_after(cj, now, &schedule))
    }
}

fn spec_of(cj: &CronJob) -> &k8s_openapi::api::batch::v1::CronJobSpec {
    static EMPTY: std::sync::OnceLock<k8s_openapi::api::batch::v1::CronJobSpec> = std::sync::OnceLock::new();
    cj.spec.as_ref().unwrap_or_else(|| EMPTY.get_or_init(Default::default))
}

fn schedule_of(cj: &CronJob) -> (String, Option<String>) {
    let spec = spec_of(cj);
    (spec.schedule.clone(), spec.time_zone.clone())
}

/// The status fields this controller owns, as the merge patch sets them
/// (absent ones as null, so that they are removed).
fn status_value(cj: &CronJob) -> Value {
    let status = cj.status.clone().unwrap_or_default();
    let active = status.active.filter(|a| !a.is_empty());
    json!({
        "active": active,
        "lastScheduleTime": status.last_schedule_time,
        "lastSuccessfulTime": status.last_successful_time,
    })
}

fn active(cj: &CronJob) -> Vec<ObjectReference> {
    cj.status.as_ref().and_then(|s| s.active.clone()).unwrap_or_default()
}

fn is_active(cj: &CronJob, uid: &str) -> bool {
    cj.status.as_ref().and_then(|s| s.active.as_ref()).is_some_and(|a| a.iter().any(|r| r.uid.as_deref() == Some(uid)))
}

fn remove_active(cj: &mut CronJob, uid: &str) {
    if let Some(active) = cj.status.as_mut().and_then(|s| s.active.as_mut()) {
        active.retain(|r| r.uid.as_deref() != Some(uid));
    }
}

/// `Complete` or `Failed`, when the Job has that condition `True`.
fn finished_as(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref())?;
    conditions.iter().find_map(|c| match c.type_.as_str() {
        "Complete" if c.status == "True" => Some("Complete"),
        "Failed" if c.status == "True" => Some("Failed"),
        _ => None,
    })
}

/// Oldest start first; Jobs that never started last; ties by name.
fn sort_oldest_first(jobs: &mut [&Job]) {
    let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
    jobs.sort_by(|a, b| match (start(a), start(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => a.metadata.name.cmp(&b.metadata.name),
    });
}

/// `<cronjob>-<scheduled time in minutes since the epoch>`.
fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second() / 60)
}

/// The Job for the time `scheduled`: the template's labels, annotations and
/// spec, the scheduled time as an annotation, and `cj` as its controller.
fn job_for(cj: &CronJob, scheduled: Timestamp, zone: &TimeZone) -> Job {
    let template = spec_of(cj).job_template.clone();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP_ANNOTATION.to_string(), rfc3339(scheduled, zone));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj.metadata.name.as_deref().unwrap_or_default(), scheduled)),
            namespace: cj.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner::controller_ref(cj)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Go's `time.RFC3339` in `zone`: seconds, and `Z` for a zero offset.
fn rfc3339(t: Timestamp, zone: &TimeZone) -> String {
    let zoned = t.to_zoned(zone.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// What `status.active` holds for a Job.
fn reference_to(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// An API error as upstream prints it in events: its message.
fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// The scheduled times due since the last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Due {
    /// The last run, or the CronJob's creation (moved up to the starting deadline if asked).
    earliest: Timestamp,
    /// The most recent scheduled time in (earliest, now].
    latest: Option<Timestamp>,
    /// How many times are due, counted up to one more than [`TOO_MANY_MISSED`].
    count: usize,
}

/// The schedule fires at no time in the next five years (`0 0 30 2 *`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the schedule matches no time in the five years after {0}")]
struct NeverFires(Timestamp);

/// Upstream's `mostRecentScheduleTime`, but exact: the times are counted
/// one by one while there are few, and past [`TOO_MANY_MISSED`] the most
/// recent is found by searching back from `now` instead of estimating from
/// the first interval (which misses it for irregular schedules such as
/// weekdays only).
fn most_recent(cj: &CronJob, now: Timestamp, schedule: &Schedule, with_deadline: bool) -> Result<Due, NeverFires> {
    let last = cj.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(|t| t.0);
    let created = cj.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let mut earliest = last.or(created).unwrap_or(now);
    if with_deadline
        && let Some(deadline) = spec_of(cj).starting_deadline_seconds
        && let Ok(limit) = now.checked_sub(SignedDuration::from_secs(deadline))
    {
        earliest = earliest.max(limit);
    }
    let first = schedule.next_after(earliest).ok_or(NeverFires(earliest))?;
    if first > now {
        return Ok(Due { earliest, latest: None, count: 0 });
    }
    let mut latest = first;
    let mut count = 1;
    while count <= TOO_MANY_MISSED {
        match schedule.next_after(latest) {
            Some(t) if t <= now => {
                latest = t;
                count += 1;
            }
            _ => return Ok(Due { earliest, latest: Some(latest), count }),
        }
    }
    Ok(Due { earliest, latest: Some(latest_before(schedule, latest, now)), count })
}

/// The last time in (`from`, `now`] the schedule fires, or `from` (itself a
/// fire time) if none: searched in windows back from `now` that double
/// until one holds a time.
fn latest_before(schedule: &Schedule, from: Timestamp, now: Timestamp) -> Timestamp {
    let spacing = schedule.next_after(from).map_or(SignedDuration::from_secs(60), |t| t.duration_since(from));
    let mut window = spacing.max(SignedDuration::from_secs(1)).saturating_mul(2);
    loop {
        let start = now.checked_sub(window).map_or(from, |s| s.max(from));
        let mut latest = None;
        let mut t = start;
        while let Some(next) = schedule.next_after(t).filter(|n| *n <= now) {
            latest = Some(next);
            t = next;
        }
        if let Some(latest) = latest {
            return latest;
        }
        if start == from {
            return from;
        }
        window = window.saturating_mul(2);
    }
}

/// Upstream's `nextScheduleTimeDuration`: how long until the time after the
/// last one due (ignoring the starting deadline), plus [`WAKE_LATE`];
/// `None` if the schedule never fires again.
fn requeue_after(cj: &CronJob, now: Timestamp, schedule: &Schedule) -> Option<Duration> {
    let from = match most_recent(cj, now, schedule, false) {
        Ok(Due { latest: Some(latest), .. }) => latest,
        Ok(Due { earliest, .. }) => earliest,
        Err(_) => now,
    };
    let next = schedule.next_after(from)?;
    let wait = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
    Some(wait + WAKE_LATE)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::{CronJobSpec, CronJobStatus, JobCondition, JobStatus, JobTemplateSpec};
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    use std::collections::BTreeMap;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn cronjob(schedule: &str, created: &str, last: Option<&str>) -> CronJob {
        CronJob {
            metadata: ObjectMeta {
                name: Some("backup".into()),
                namespace: Some("ops".into()),
                uid: Some("cj-uid".into()),
                creation_timestamp: Some(Time(at(created))),
                ..Default::default()
            },
            spec: Some(CronJobSpec { schedule: schedule.into(), ..Default::default() }),
            status: Some(CronJobStatus { last_schedule_time: last.map(|t| Time(at(t))), ..Default::default() }),
        }
    }

    fn parse(spec: &str) -> Schedule {
        Schedule::parse(spec, TimeZone::UTC, &TimeZone::UTC).unwrap()
    }

    #[test]
    fn due_times_since_the_last_run() {
        let hourly = parse("0 * * * *");
        // Nothing due yet.
        let cj = cronjob("0 * * * *", "2024-05-01T10:10:00Z", None);
        let due = most_recent(&cj, at("2024-05-01T10:59:00Z"), &hourly, true).unwrap();
        assert_eq!(due, Due { earliest: at("2024-05-01T10:10:00Z"), latest: None, count: 0 });
        // One due.
        let due = most_recent(&cj, at("2024-05-01T11:00:05Z"), &hourly, true).unwrap();
        assert_eq!((due.latest, due.count), (Some(at("2024-05-01T11:00:00Z")), 1));
        // Three missed since the last run: only the most recent is run.
        let cj = cronjob("0 * * * *", "2024-05-01T00:00:00Z", Some("2024-05-01T11:00:00Z"));
        let due = most_recent(&cj, at("2024-05-01T14:30:00Z"), &hourly, true).unwrap();
        assert_eq!((due.latest, due.count), (Some(at("2024-05-01T14:00:00Z")), 3));
    }

    #[test]
    fn more_than_a_hundred_missed_still_finds_the_most_recent() {
        let every_minute = parse("* * * * *");
        let cj = cronjob("* * * * *", "2024-05-01T00:00:00Z", Some("2024-05-01T00:00:00Z"));
        let due = most_recent(&cj, at("2024-05-03T07:42:10Z"), &every_minute, true).unwrap();
        assert_eq!(due.latest, Some(at("2024-05-03T07:42:00Z")));
        assert!(due.count > TOO_MANY_MISSED);
        // Weekdays at 09:00, last run on a Monday in January, looked at on a Sunday in June.
        let weekdays = parse("0 9 * * 1-5");
        let cj = cronjob("0 9 * * 1-5", "2024-01-01T00:00:00Z", Some("2024-01-01T09:00:00Z"));
        let due = most_recent(&cj, at("2024-06-09T10:00:00Z"), &weekdays, true).unwrap();
        // 2024-06-09 is a Sunday: the last run due was Friday the 7th.
        assert_eq!(due.latest, Some(at("2024-06-07T09:00:00Z")));
        assert!(due.count > TOO_MANY_MISSED);
    }

    #[test]
    fn the_starting_deadline_drops_older_times() {
        let hourly = parse("0 * * * *");
        let mut cj = cronjob("0 * * * *", "2024-05-01T00:00:00Z", Some("2024-05-01T08:00:00Z"));
        cj.spec.as_mut().unwrap().starting_deadline_seconds = Some(600);
        // 14:00 is 30 minutes past: beyond the 10 minute deadline, nothing is due.
        let due = most_recent(&cj, at("2024-05-01T14:30:00Z"), &hourly, true).unwrap();
        assert_eq!(due.latest, None);
        assert_eq!(due.earliest, at("2024-05-01T14:20:00Z"));
        // Within it, the time is due; without the deadline, all six are.
        let due = most_recent(&cj, at("2024-05-01T14:05:00Z"), &hourly, true).unwrap();
        assert_eq!(due.latest, Some(at("2024-05-01T14:00:00Z")));
        assert_eq!(most_recent(&cj, at("2024-05-01T14:05:00Z"), &hourly, false).unwrap().count, 6);
    }

    #[test]
    fn requeue_waits_for_the_next_time() {
        let hourly = parse("0 * * * *");
        let cj = cronjob("0 * * * *", "2024-05-01T10:10:00Z", None);
        assert_eq!(
            requeue_after(&cj, at("2024-05-01T10:30:00Z"), &hourly),
            Some(Duration::from_secs(1800) + WAKE_LATE)
        );
        // After a run at 11:00, the next is 12:00.
        let cj = cronjob("0 * * * *", "2024-05-01T10:10:00Z", Some("2024-05-01T11:00:00Z"));
        assert_eq!(
            requeue_after(&cj, at("2024-05-01T11:00:01Z"), &hourly),
            Some(Duration::from_secs(3599) + WAKE_LATE)
        );
        // A missed time not run (a deadline, Forbid): still the time after it.
        let cj = cronjob("0 * * * *", "2024-05-01T10:10:00Z", Some("2024-05-01T09:00:00Z"));
        assert_eq!(
            requeue_after(&cj, at("2024-05-01T11:20:00Z"), &hourly),
            Some(Duration::from_secs(2400) + WAKE_LATE)
        );
        // Never again: no requeue.
        let never = parse("0 0 30 2 *");
        assert_eq!(requeue_after(&cj, at("2024-05-01T11:20:00Z"), &never), None);
        assert!(most_recent(&cj, at("2024-05-01T11:20:00Z"), &never, true).is_err());
    }

    #[test]
    fn a_job_from_the_template() {
        let mut cj = cronjob("*/5 * * * *", "2024-05-01T00:00:00Z", None);
        cj.spec.as_mut().unwrap().job_template = JobTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".into(), "backup".into())])),
                annotations: Some(BTreeMap::from([("team".into(), "ops".into())])),
                ..Default::default()
            }),
            spec: Some(k8s_openapi::api::batch::v1::JobSpec {
                backoff_limit: Some(2),
                template: PodTemplateSpec::default(),
                ..Default::default()
            }),
        };
        let scheduled = at("2024-05-01T10:05:00Z");
        let job = job_for(&cj, scheduled, &TimeZone::UTC);
        assert_eq!(job.metadata.name.as_deref(), Some("backup-28575965"));
        assert_eq!(28_575_965 * 60, scheduled.as_second());
        assert_eq!(job.metadata.namespace.as_deref(), Some("ops"));
        assert_eq!(job.metadata.labels, Some(BTreeMap::from([("app".into(), "backup".into())])));
        let annotations = job.metadata.annotations.unwrap();
        assert_eq!(annotations["team"], "ops");
        assert_eq!(annotations[SCHEDULED_TIMESTAMP_ANNOTATION], "2024-05-01T10:05:00Z");
        let owner = &job.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.api_version.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("CronJob", "batch/v1", "backup", "cj-uid")
        );
        assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));
        assert_eq!(job.spec.unwrap().backoff_limit, Some(2));
        // In a named zone the annotation carries its offset.
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(rfc3339(scheduled, &tokyo), "2024-05-01T19:05:00+09:00");
    }

    fn job(name: &str, start: Option<&str>, condition: Option<(&str, &str)>) -> Job {
        Job {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: None,
            status: Some(JobStatus {
                start_time: start.map(|t| Time(at(t))),
                conditions: condition.map(|(type_, status)| {
                    vec![JobCondition { type_: type_.into(), status: status.into(), ..Default::default() }]
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn finished_jobs_and_their_age() {
        assert_eq!(finished_as(&job("a", None, Some(("Complete", "True")))), Some("Complete"));
        assert_eq!(finished_as(&job("a", None, Some(("Failed", "True")))), Some("Failed"));
        assert_eq!(finished_as(&job("a", None, Some(("Complete", "False")))), None);
        assert_eq!(finished_as(&job("a", None, Some(("Suspended", "True")))), None);
        assert_eq!(finished_as(&job("a", None, None)), None);

        let jobs = [
            job("d", None, None),
            job("c", Some("2024-05-01T10:00:00Z"), None),
            job("b", Some("2024-05-01T09:00:00Z"), None),
            job("a", Some("2024-05-01T10:00:00Z"), None),
            job("0", None, None),
        ];
        let mut sorted: Vec<&Job> = jobs.iter().collect();
        sort_oldest_first(&mut sorted);
        let names: Vec<&str> = sorted.iter().map(|j| j.metadata.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["b", "a", "c", "0", "d"]);
    }

    #[test]
    fn status_lists_active_jobs_and_removes_them_by_uid() {
        let mut cj = cronjob("* * * * *", "2024-05-01T00:00:00Z", Some("2024-05-01T10:05:00Z"));
        let mut j = job("backup-1", None, None);
        j.metadata.uid = Some("job-uid".into());
        j.metadata.namespace = Some("ops".into());
        cj.status.as_mut().unwrap().active = Some(vec![reference_to(&j)]);
        assert!(is_active(&cj, "job-uid"));
        assert_eq!(
            status_value(&cj),
            json!({
                "active": [{"apiVersion": "batch/v1", "kind": "Job", "name": "backup-1", "namespace": "ops", "uid": "job-uid"}],
                "lastScheduleTime": "2024-05-01T10:05:00Z",
                "lastSuccessfulTime": null,
            })
        );
        remove_active(&mut cj, "job-uid");
        assert!(!is_active(&cj, "job-uid"));
        assert_eq!(status_value(&cj)["active"], Value::Null);
    }
}
