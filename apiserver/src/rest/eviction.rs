//! `pods/eviction`: a delete that asks the pod's PodDisruptionBudget first,
//! with kube-apiserver's semantics. A pod that is finished, pending or
//! already going is deleted without asking; an unready pod goes when its
//! budget's `unhealthyPodEvictionPolicy` lets it; any other needs the one
//! budget that selects it to allow a disruption, which the eviction takes
//! (`disruptionsAllowed` - 1, the pod in `disruptedPods`) in one
//! compare-and-swap of the budget before it deletes the pod. Giving the
//! disruption back once the pod is gone, or when it never goes, is the
//! disruption controller's work (in `controllers`), not this file's.
//! Refusals are 429s without a `Retry-After` header: clients such as
//! `kubectl drain` wait and ask again on their own.

use kvstore::datastore::{ListRequest, WriteOutcome, prefix_end};
use serde_json::{Map, Value, json};

use super::object::{self, Current};
use super::{Ctx, DeleteOptions};
use crate::catalog::{self, Resource};
use crate::http::Reply;
use crate::selector::LabelSelector;
use crate::status::{ApiError, GroupResource};
use crate::storage;

/// Attempts at a step that lost a race, as upstream's `EvictionsRetry` steps.
const RETRIES: usize = 20;
/// A budget with more evictions not yet confirmed by its controller than
/// this refuses more (upstream's `MaxDisruptedPodSize`).
const MAX_DISRUPTED_PODS: usize = 2000;
/// What a client is told to wait when a budget's status is behind its spec.
const PROCESSING_RETRY_SECONDS: u32 = 10;

pub(crate) async fn evict(ctx: &Ctx<'_>, name: &str, body: Value) -> Result<Reply, ApiError> {
    let opts = eviction_options(ctx, name, body)?;
    let pinned_by_client = opts.precondition_resource_version.is_some();

    // A pod that needs no budget is deleted; a race with a change of the pod is retried.
    let mut attempts = 0;
    let pod = loop {
        let current = object::load_existing(ctx, name).await?;
        if !can_ignore_budget(&current.obj) {
            break current;
        }
        let mut opts = opts.clone();
        if !pinned_by_client && !is_terminal_or_deleting(&current.obj) {
            // A pending pod must not become ready (and count) between this read and the delete.
            opts.precondition_resource_version = Some(current.revision.to_string());
        }
        match mark_and_delete(ctx, name, opts).await {
            Ok(()) => return Ok(success()),
            Err(ApiError::Conflict { .. }) if !pinned_by_client && attempts + 1 < RETRIES => attempts += 1,
            Err(e) => return Err(e),
        }
    };

    let budget_resource = budgets()?;
    let namespace = ctx.namespace().unwrap_or_default();
    let mut selecting = budgets_selecting(ctx, budget_resource, namespace, &pod.obj).await?;
    if selecting.len() > 1 {
        return Err(ApiError::MultipleDisruptionBudgets);
    }
    let mut opts = opts;
    let mut pinned_here = None;
    if let Some(budget) = selecting.pop() {
        let budget_name = storage::name_of(&budget.obj).to_string();
        if unhealthy_may_go(&pod.obj, &budget.obj) {
            // It does not count as healthy, so it takes nothing from the budget; the
            // revision makes sure it has not become ready since.
            if !pinned_by_client {
                opts.precondition_resource_version = Some(pod.revision.to_string());
                pinned_here = Some(budget_name);
            }
        } else {
            take_disruption(ctx, budget_resource, namespace, budget, name, opts.dry_run).await?;
        }
    }
    match mark_and_delete(ctx, name, opts).await {
        Ok(()) => Ok(success()),
        Err(ApiError::Conflict { .. }) if pinned_here.is_some() => {
            Err(still_processing(pinned_here.as_deref().unwrap_or_default()))
        }
        Err(e) => Err(e),
    }
}

fn success() -> Reply {
    Ctx::respond_raw_json(
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

fn budgets() -> Result<&'static Resource, ApiError> {
    catalog::find("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::Internal("PodDisruptionBudgets are not in the catalogue".into()))
}

/// The Eviction's delete options, after checking the body as upstream's
/// decoding does: policy/v1 or policy/v1beta1, this pod's name and
/// namespace, and a `dryRun` that agrees with the query's.
fn eviction_options(ctx: &Ctx<'_>, name: &str, mut body: Value) -> Result<DeleteOptions, ApiError> {
    let version = match body.get("apiVersion").and_then(Value::as_str) {
        Some("policy/v1beta1") => "policy/v1beta1",
        _ => "policy/v1",
    };
    super::create::check_type(ctx, &mut body, "Eviction", version)?;
    super::create::check_body_namespace(ctx, &body)?;
    if storage::name_of(&body) != name {
        return Err(ApiError::BadRequest("name in URL does not match name in Eviction object".into()));
    }
    let delete_options = body.get("deleteOptions").filter(|v| v.is_object());
    let mut opts = delete_options.map(DeleteOptions::from_object).unwrap_or_default().checked()?;
    let in_body = strings(delete_options.and_then(|o| o.get("dryRun")));
    let in_query: Vec<String> = if ctx.dry_run()? { vec!["All".into()] } else { Vec::new() };
    opts.dry_run = propagate_dry_run(&in_query, &in_body)?;
    Ok(opts)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default()
}

/// The request's `dryRun` goes into the Eviction's delete options unless
/// those name their own; two lists that differ are refused.
fn propagate_dry_run(in_query: &[String], in_body: &[String]) -> Result<bool, ApiError> {
    if !in_query.is_empty() && !in_body.is_empty() && in_query != in_body {
        return Err(ApiError::BadRequest(format!(
            "Non-matching dry-run options in request and content: [{}] and [{}]",
            in_query.join(" "),
            in_body.join(" ")
        )));
    }
    Ok(in_query.iter().chain(in_body).any(|v| v == "All"))
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("")
}

fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

fn is_terminal_or_deleting(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed") || is_deleting(pod)
}

/// A finished pod has disrupted already, a pending one serves nothing yet,
/// and one being deleted is going anyway: none of them asks a budget.
fn can_ignore_budget(pod: &Value) -> bool {
    is_terminal_or_deleting(pod) || phase(pod) == "Pending"
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn status_int(budget: &Value, field: &str) -> i64 {
    budget.pointer(&format!("/status/{field}")).and_then(Value::as_i64).unwrap_or(0)
}

/// Whether an unready pod may go without taking a disruption: always under
/// `AlwaysAllow`, and under `IfHealthyBudget` (the default) while the
/// application has the healthy pods it needs.
fn unhealthy_may_go(pod: &Value, budget: &Value) -> bool {
    if is_ready(pod) {
        return false;
    }
    if budget.pointer("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str) == Some("AlwaysAllow") {
        return true;
    }
    let desired = status_int(budget, "desiredHealthy");
    status_int(budget, "currentHealthy") >= desired && desired > 0
}

/// Whether `budget` selects `pod`. A budget whose selector is empty, absent
/// or invalid selects nothing here, as upstream's eviction reads it.
fn selects(budget: &Value, pod: &Value) -> bool {
    let selector = budget.pointer("/spec/selector").unwrap_or(&Value::Null);
    match LabelSelector::from_api(selector) {
        Ok(selector) => !selector.is_empty() && selector.matches_object(pod),
        Err(_) => false,
    }
}

/// The budgets of the pod's namespace that select it, read from the store.
async fn budgets_selecting(
    ctx: &Ctx<'_>,
    resource: &'static Resource,
    namespace: &str,
    pod: &Value,
) -> Result<Vec<Current>, ApiError> {
    let prefix = storage::prefix(resource, Some(namespace));
    let listed =
        ctx.api.store.list(ListRequest { end: prefix_end(&prefix), start: prefix, ..Default::default() }).await?;
    let mut selecting = Vec::new();
    for kv in &listed.kvs {
        let obj = storage::decode(resource, kv)?;
        if selects(&obj, pod) {
            selecting.push(Current { obj, revision: kv.mod_revision });
        }
    }
    Ok(selecting)
}

fn still_processing(budget: &str) -> ApiError {
    ApiError::DisruptionBudget {
        cause: format!("The disruption budget {budget} is still being processed by the server."),
        retry_after_seconds: PROCESSING_RETRY_SECONDS,
    }
}

fn budget_forbidden(budget: &str, why: &str) -> ApiError {
    ApiError::Forbidden {
        message: format!("poddisruptionbudget.policy \"{budget}\" is forbidden: {why}"),
        gr: Some(GroupResource::new("policy", "poddisruptionbudget")),
        name: budget.into(),
    }
}

/// Takes one disruption from `budget` for `pod`, writing the budget with
/// compare-and-swap and re-reading it when another writer came first.
async fn take_disruption(
    ctx: &Ctx<'_>,
    resource: &'static Resource,
    namespace: &str,
    mut budget: Current,
    pod: &str,
    dry_run: bool,
) -> Result<(), ApiError> {
    let name = storage::name_of(&budget.obj).to_string();
    let key = storage::key(resource, Some(namespace), &name);
    for _ in 0..RETRIES {
        let mut obj = budget.obj.clone();
        check_and_decrement(&mut obj, pod, &object::now_rfc3339())?;
        if dry_run {
            return Ok(());
        }
        let bytes = storage::encode(resource, &obj)?;
        match ctx.api.store.update(&key, &bytes, budget.revision, 0).await? {
            WriteOutcome::Written { .. } => return Ok(()),
            WriteOutcome::Conflict { current: None } => {
                return Err(ApiError::not_found(resource.group, resource.plural, &name));
            }
            WriteOutcome::Conflict { current: Some(kv) } => {
                budget = Current { obj: storage::decode(resource, &kv)?, revision: kv.mod_revision };
            }
        }
    }
    Err(ApiError::Timeout(format!("Timeout: couldn't update PodDisruptionBudget \"{name}\" due to conflicts")))
}

/// Upstream's checkAndDecrement on the budget's JSON: refuses unless its
/// status is current and allows a disruption, then takes one and records
/// `pod` as disrupted at `now`.
fn check_and_decrement(budget: &mut Value, pod: &str, now: &str) -> Result<(), ApiError> {
    let name = storage::name_of(budget).to_string();
    let generation = budget.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let observed = status_int(budget, "observedGeneration");
    if observed < generation {
        return Err(still_processing(&name));
    }
    let allowed = status_int(budget, "disruptionsAllowed");
    if allowed < 0 {
        return Err(budget_forbidden(&name, "pdb disruptions allowed is negative"));
    }
    let disrupted = budget.pointer("/status/disruptedPods").and_then(Value::as_object).map_or(0, Map::len);
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(budget_forbidden(
            &name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(ApiError::DisruptionBudget {
            cause: format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                status_int(budget, "desiredHealthy"),
                status_int(budget, "currentHealthy")
            ),
            retry_after_seconds: 0,
        });
    }
    let status = budget
        .as_object_mut()
        .map(|m| m.entry("status").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::Internal(format!("PodDisruptionBudget {name} is not an object")))?;
    status.insert("disruptionsAllowed".into(), json!(allowed - 1));
    if allowed - 1 == 0 {
        set_insufficient_pods(status, observed, now);
    }
    let pods = status.entry("disruptedPods").or_insert_with(|| json!({}));
    if !pods.is_object() {
        *pods = json!({});
    }
    if let Some(pods) = pods.as_object_mut() {
        pods.insert(pod.into(), json!(now));
    }
    Ok(())
}

/// The DisruptionAllowed condition once the last disruption is taken, as
/// upstream's SetStatusCondition sets it: the transition time moves only
/// when the status changes.
fn set_insufficient_pods(status: &mut Map<String, Value>, observed_generation: i64, now: &str) {
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(conditions) = conditions.as_array_mut() else { return };
    let wanted = json!({
        "type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "",
        "observedGeneration": observed_generation, "lastTransitionTime": now,
    });
    match conditions.iter_mut().find(|c| c["type"] == "DisruptionAllowed") {
        Some(c) => {
            let since = if c["status"] == "False" { c["lastTransitionTime"].clone() } else { json!(now) };
            *c = wanted;
            c["lastTransitionTime"] = since;
        }
        None => conditions.push(wanted),
    }
}

/// Marks the pod with `DisruptionTarget` and deletes it with `opts`. A
/// resourceVersion precondition is checked against the pod before the
/// mark and moved to the marked version, so it still guards the delete.
async fn mark_and_delete(ctx: &Ctx<'_>, name: &str, mut opts: DeleteOptions) -> Result<(), ApiError> {
    if !(opts.dry_run || ctx.dry_run()?) {
        let revision = mark_disruption_target(ctx, name, &opts).await?;
        if opts.precondition_resource_version.is_some() {
            opts.precondition_resource_version = Some(revision.to_string());
        }
    }
    super::delete::delete(ctx, name, opts).await.map(|_| ())
}

/// Sets the pod's `DisruptionTarget` condition (reason `EvictionByEvictionAPI`)
/// and returns the pod's revision after it.
async fn mark_disruption_target(ctx: &Ctx<'_>, name: &str, opts: &DeleteOptions) -> Result<i64, ApiError> {
    let key = storage::key(ctx.resource, ctx.namespace(), name);
    for _ in 0..RETRIES {
        let Current { mut obj, revision } = object::load_existing(ctx, name).await?;
        check_preconditions(name, opts, &obj, revision)?;
        if !set_disruption_target(&mut obj, &object::now_rfc3339()) {
            return Ok(revision);
        }
        let bytes = storage::encode(ctx.resource, &obj)?;
        match ctx.api.store.update(&key, &bytes, revision, 0).await? {
            WriteOutcome::Written { revision } => return Ok(revision),
            WriteOutcome::Conflict { current: None } => return Err(ApiError::not_found("", "pods", name)),
            WriteOutcome::Conflict { .. } => {}
        }
    }
    Err(ApiError::conflict_modified("", "pods", name))
}

/// The delete's preconditions against the pod about to be marked, with
/// upstream's wording for this step.
fn check_preconditions(name: &str, opts: &DeleteOptions, pod: &Value, revision: i64) -> Result<(), ApiError> {
    let conflict = |detail: String| ApiError::Conflict { gr: GroupResource::new("", "Pod"), name: name.into(), detail };
    if let Some(uid) = opts.precondition_uid.as_deref().filter(|u| !u.is_empty()) {
        let actual = pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
        if uid != actual {
            return Err(conflict(format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({actual}). \
                 The object might have been deleted and then recreated"
            )));
        }
    }
    if let Some(rv) = opts.precondition_resource_version.as_deref().filter(|r| !r.is_empty())
        && rv != revision.to_string()
    {
        return Err(conflict(format!(
            "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record \
             ({revision}). The object might have been modified"
        )));
    }
    Ok(())
}

/// Upstream's UpdatePodCondition with DisruptionTarget=True; false when the
/// pod has that condition already.
fn set_disruption_target(pod: &mut Value, now: &str) -> bool {
    let Some(obj) = pod.as_object_mut() else { return false };
    let status = obj.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else { return false };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(conditions) = conditions.as_array_mut() else { return false };
    let mut wanted = json!({
        "type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting", "lastProbeTime": null, "lastTransitionTime": now,
    });
    match conditions.iter_mut().find(|c| c["type"] == "DisruptionTarget") {
        Some(c) => {
            if c["status"] == "True" {
                wanted["lastTransitionTime"] = c["lastTransitionTime"].clone();
            }
            let same = ["status", "reason", "message", "lastTransitionTime"].iter().all(|f| c[*f] == wanted[*f])
                && c.get("lastProbeTime").is_none_or(Value::is_null);
            if same {
                return false;
            }
            *c = wanted;
        }
        None => conditions.push(wanted),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2025-01-02T03:04:05Z";

    fn pod(phase: &str, ready: bool) -> Value {
        json!({"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn budget(generation: i64, status: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 2}, "status": status})
    }

    fn cause(err: &ApiError) -> String {
        match err {
            ApiError::DisruptionBudget { cause, .. } => cause.clone(),
            other => panic!("not a disruption budget refusal: {other:?}"),
        }
    }

    #[test]
    fn pods_that_need_no_budget() {
        for (phase, ignored) in [("Succeeded", true), ("Failed", true), ("Pending", true), ("Running", false)] {
            assert_eq!(can_ignore_budget(&pod(phase, true)), ignored, "{phase}");
        }
        let mut going = pod("Running", true);
        going["metadata"]["deletionTimestamp"] = json!(NOW);
        assert!(can_ignore_budget(&going));
        assert!(is_terminal_or_deleting(&going));
        assert!(!is_terminal_or_deleting(&pod("Pending", false)), "a pending pod is pinned to its revision");
    }

    #[test]
    fn selectors_as_eviction_reads_them() {
        let p = pod("Running", true);
        assert!(selects(&budget(1, json!({})), &p));
        let mut other = budget(1, json!({}));
        other["spec"]["selector"] = json!({"matchLabels": {"app": "db"}});
        assert!(!selects(&other, &p));
        other["spec"]["selector"] = json!({});
        assert!(!selects(&other, &p), "an empty selector selects nothing here");
        other["spec"].as_object_mut().unwrap().remove("selector");
        assert!(!selects(&other, &p), "an absent selector selects nothing");
        other["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "Near"}]});
        assert!(!selects(&other, &p), "an invalid selector selects nothing");
        other["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]});
        assert!(selects(&other, &p));
    }

    #[test]
    fn unready_pods_and_the_unhealthy_pod_eviction_policy() {
        let healthy = budget(1, json!({"currentHealthy": 2, "desiredHealthy": 2}));
        let short = budget(1, json!({"currentHealthy": 1, "desiredHealthy": 2}));
        let unready = pod("Running", false);
        assert!(unhealthy_may_go(&unready, &healthy), "IfHealthyBudget with enough healthy pods");
        assert!(!unhealthy_may_go(&unready, &short), "IfHealthyBudget without");
        assert!(!unhealthy_may_go(&unready, &budget(1, json!({}))), "a budget that wants none");
        let mut always = short.clone();
        always["spec"]["unhealthyPodEvictionPolicy"] = json!("AlwaysAllow");
        assert!(unhealthy_may_go(&unready, &always));
        assert!(!unhealthy_may_go(&pod("Running", true), &always), "a ready pod always asks");
    }

    #[test]
    fn a_budget_behind_its_spec_or_without_disruptions_refuses() {
        let mut behind = budget(2, json!({"observedGeneration": 1, "disruptionsAllowed": 1}));
        let err = check_and_decrement(&mut behind, "web-1", NOW).unwrap_err();
        assert_eq!(cause(&err), "The disruption budget web is still being processed by the server.");
        assert!(matches!(err, ApiError::DisruptionBudget { retry_after_seconds: 10, .. }));

        let mut none = budget(
            1,
            json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2}),
        );
        let err = check_and_decrement(&mut none, "web-1", NOW).unwrap_err();
        assert_eq!(cause(&err), "The disruption budget web needs 2 healthy pods and has 2 currently");
        assert_eq!(err.code(), 429);
        assert_eq!(err.to_string(), "Cannot evict pod as it would violate the pod's disruption budget.");

        let mut negative = budget(1, json!({"observedGeneration": 1, "disruptionsAllowed": -1}));
        let err = check_and_decrement(&mut negative, "web-1", NOW).unwrap_err();
        assert_eq!(err.code(), 403);
        assert_eq!(
            err.to_string(),
            "poddisruptionbudget.policy \"web\" is forbidden: pdb disruptions allowed is negative"
        );

        let crowded: Map<String, Value> = (0..=MAX_DISRUPTED_PODS).map(|i| (format!("p{i}"), json!(NOW))).collect();
        let mut full = budget(1, json!({"observedGeneration": 1, "disruptionsAllowed": 5, "disruptedPods": crowded}));
        assert_eq!(check_and_decrement(&mut full, "web-1", NOW).unwrap_err().code(), 403);
    }

    #[test]
    fn taking_a_disruption_records_the_pod_and_the_condition() {
        let mut b = budget(
            1,
            json!({"observedGeneration": 1, "disruptionsAllowed": 2, "currentHealthy": 3, "desiredHealthy": 1,
                "conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                    "message": "", "observedGeneration": 1, "lastTransitionTime": "2020-01-01T00:00:00Z"}]}),
        );
        check_and_decrement(&mut b, "web-1", NOW).unwrap();
        assert_eq!(b["status"]["disruptionsAllowed"], json!(1));
        assert_eq!(b["status"]["disruptedPods"], json!({"web-1": NOW}));
        assert_eq!(b["status"]["conditions"][0]["reason"], json!("SufficientPods"), "one left: unchanged");

        check_and_decrement(&mut b, "web-2", "2025-01-02T03:04:06Z").unwrap();
        assert_eq!(b["status"]["disruptionsAllowed"], json!(0));
        assert_eq!(b["status"]["disruptedPods"].as_object().map(Map::len), Some(2));
        let condition = &b["status"]["conditions"][0];
        assert_eq!(condition["status"], json!("False"));
        assert_eq!(condition["reason"], json!("InsufficientPods"));
        assert_eq!(condition["lastTransitionTime"], json!("2025-01-02T03:04:06Z"));
        assert_eq!(b["status"]["conditions"].as_array().map(Vec::len), Some(1));
        assert!(check_and_decrement(&mut b, "web-3", NOW).is_err(), "nothing left to take");
    }

    #[test]
    fn the_condition_is_added_when_the_budget_had_none() {
        let mut b = budget(1, json!({"observedGeneration": 1, "disruptionsAllowed": 1}));
        check_and_decrement(&mut b, "web-1", NOW).unwrap();
        assert_eq!(
            b["status"]["conditions"],
            json!([{"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "",
                "observedGeneration": 1, "lastTransitionTime": NOW}])
        );
    }

    #[test]
    fn dry_run_from_the_query_and_the_body() {
        let all = vec!["All".to_string()];
        assert!(!propagate_dry_run(&[], &[]).unwrap());
        assert!(propagate_dry_run(&all, &[]).unwrap());
        assert!(propagate_dry_run(&[], &all).unwrap());
        assert!(propagate_dry_run(&all, &all).unwrap());
        let err = propagate_dry_run(&all, &["Some".to_string()]).unwrap_err();
        assert_eq!(err.to_string(), "Non-matching dry-run options in request and content: [All] and [Some]");
    }

    #[test]
    fn the_disruption_target_condition() {
        let mut p = pod("Running", true);
        assert!(set_disruption_target(&mut p, NOW));
        let condition = p["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "DisruptionTarget");
        assert_eq!(
            condition,
            Some(&json!({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                "message": "Eviction API: evicting", "lastProbeTime": null, "lastTransitionTime": NOW}))
        );
        assert!(!set_disruption_target(&mut p, "2030-01-01T00:00:00Z"), "already marked: no write");
        // A stale False condition (reset by the disruption controller) turns True again.
        let mut stale = pod("Running", true);
        stale["status"]["conditions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "DisruptionTarget", "status": "False", "lastTransitionTime": "2020-01-01T00:00:00Z"}));
        assert!(set_disruption_target(&mut stale, NOW));
        let marked =
            stale["status"]["conditions"].as_array().unwrap().iter().filter(|c| c["type"] == "DisruptionTarget");
        assert_eq!(marked.map(|c| c["lastTransitionTime"].clone()).collect::<Vec<_>>(), vec![json!(NOW)]);
    }

    #[test]
    fn preconditions_before_the_mark() {
        let mut p = pod("Running", true);
        p["metadata"]["uid"] = json!("u1");
        let opts = |uid: Option<&str>, rv: Option<&str>| DeleteOptions {
            precondition_uid: uid.map(String::from),
            precondition_resource_version: rv.map(String::from),
            ..Default::default()
        };
        assert!(check_preconditions("web-1", &opts(Some("u1"), Some("7")), &p, 7).is_ok());
        let err = check_preconditions("web-1", &opts(Some("u2"), None), &p, 7).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Operation cannot be fulfilled on Pod \"web-1\": the UID in the precondition (u2) does not match the UID \
             in record (u1). The object might have been deleted and then recreated"
        );
        let err = check_preconditions("web-1", &opts(None, Some("6")), &p, 7).unwrap_err();
        assert_eq!(err.code(), 409);
        assert!(err.to_string().contains("the ResourceVersion in the precondition (6) does not match"), "{err}");
    }
}
