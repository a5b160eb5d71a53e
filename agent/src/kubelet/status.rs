//! A pod's API status computed from what the runtime observed: phase,
//! conditions, container statuses (state, lastState, restarts, readiness,
//! image and container IDs), IPs, start time and QoS class. Pure: the pod
//! worker gathers the observations, and writes the result only when it changed.

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP,
    Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::eviction::Eviction;
use super::spec::qos_class;

/// Why a container is not running, as set by the runtime (`ErrImagePull`, `CrashLoopBackOff`,
/// `CreateContainerConfigError`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

impl Waiting {
    pub fn new(reason: &str, message: impl Into<String>) -> Waiting {
        Waiting { reason: reason.into(), message: message.into() }
    }
}

/// What the runtime knows of one container of the pod.
#[derive(Debug, Clone, Default)]
pub struct ObservedContainer {
    pub name: String,
    /// The image as the spec names it.
    pub image: String,
    /// The latest instance.
    pub current: Option<cri::ContainerStatus>,
    /// The instance before it (`lastState`).
    pub previous: Option<cri::ContainerStatus>,
    pub restart_count: u32,
    /// Set while the runtime holds the container back (back-off, pull or config errors).
    pub waiting: Option<Waiting>,
    pub ready: bool,
    pub started: bool,
    /// An init container with `restartPolicy: Always` (a sidecar): it keeps running
    /// beside the containers, and counts as done once started.
    pub sidecar: bool,
}

/// What the runtime knows of the pod.
///
/// `initialized`: the init containers were all done once (a sidecar that
/// restarts later does not make the pod Pending again).
#[derive(Debug, Clone, Default)]
pub struct ObservedPod {
    /// The eviction manager evicted the pod: it is Failed, whatever its containers did.
    pub evicted: Option<Eviction>,
    pub initialized: bool,
    pub sandbox_ready: bool,
    pub pod_ips: Vec<String>,
    pub host_ip: String,
    pub start_time: Option<Timestamp>,
    pub init: Vec<ObservedContainer>,
    pub containers: Vec<ObservedContainer>,
}

fn time_of(nanos: i64) -> Option<Time> {
    if nanos <= 0 {
        return None;
    }
    // The API's timestamps have whole seconds.
    Timestamp::from_second(nanos / 1_000_000_000).ok().map(Time)
}

fn is_state(status: &cri::ContainerStatus, state: cri::ContainerState) -> bool {
    status.state == state as i32
}

fn terminated(status: &cri::ContainerStatus) -> ContainerStateTerminated {
    let reason = if !status.reason.is_empty() {
        status.reason.clone()
    } else if status.exit_code == 0 {
        "Completed".into()
    } else {
        "Error".into()
    };
    ContainerStateTerminated {
        exit_code: status.exit_code,
        reason: Some(reason),
        message: Some(status.message.clone()).filter(|m| !m.is_empty()),
        started_at: time_of(status.started_at),
        finished_at: time_of(status.finished_at),
        container_id: Some(format!("containerd://{}", status.id)),
        signal: None,
    }
}

fn waiting_state(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: Some(message.to_string()).filter(|m| !m.is_empty()),
        }),
        ..Default::default()
    }
}

/// One container's API status; `default_waiting` is the reason of a container never created.
pub fn container_status(observed: &ObservedContainer, default_waiting: &str) -> ContainerStatus {
    let current = observed.current.as_ref();
    let exited = current.filter(|c| is_state(c, cri::ContainerState::ContainerExited));
    let (state, last) = match (&observed.waiting, current) {
        // Held back after an exit: the exit is the last state.
        (Some(w), Some(c)) if exited.is_some() => (waiting_state(&w.reason, &w.message), Some(terminated(c))),
        (Some(w), _) => (waiting_state(&w.reason, &w.message), observed.previous.as_ref().map(terminated)),
        (None, None) => (waiting_state(default_waiting, ""), observed.previous.as_ref().map(terminated)),
        (None, Some(c)) => {
            let state = if is_state(c, cri::ContainerState::ContainerRunning) {
                ContainerState {
                    running: Some(ContainerStateRunning { started_at: time_of(c.started_at) }),
                    ..Default::default()
                }
            } else if exited.is_some() {
                ContainerState { terminated: Some(terminated(c)), ..Default::default() }
            } else {
                waiting_state("ContainerCreating", "")
            };
            (state, observed.previous.as_ref().map(terminated))
        }
    };
    let running = state.running.is_some();
    ContainerStatus {
        name: observed.name.clone(),
        image: current
            .and_then(|c| c.image.as_ref())
            .map(|i| i.user_specified_image.clone())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| observed.image.clone()),
        image_id: current.map(|c| c.image_ref.clone()).unwrap_or_default(),
        container_id: current.map(|c| format!("containerd://{}", c.id)),
        state: Some(state),
        last_state: Some(
            last.map(|t| ContainerState { terminated: Some(t), ..Default::default() }).unwrap_or_default(),
        ),
        ready: observed.ready && running,
        started: Some(observed.started && running),
        restart_count: i32::try_from(observed.restart_count).unwrap_or(i32::MAX),
        ..Default::default()
    }
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always")
}

fn running(c: &ObservedContainer) -> bool {
    c.current.as_ref().is_some_and(|s| is_state(s, cri::ContainerState::ContainerRunning))
}

/// Whether an init container is done: completed successfully, or for a
/// sidecar, running and past its startup probe.
fn init_succeeded(c: &ObservedContainer) -> bool {
    if c.sidecar {
        return running(c) && c.started;
    }
    c.current.as_ref().is_some_and(|s| is_state(s, cri::ContainerState::ContainerExited) && s.exit_code == 0)
        && c.waiting.is_none()
}

fn init_failed_for_good(pod: &Pod, c: &ObservedContainer) -> bool {
    !c.sidecar
        && restart_policy(pod) == "Never"
        && c.current.as_ref().is_some_and(|s| is_state(s, cri::ContainerState::ContainerExited) && s.exit_code != 0)
}

fn initialized(observed: &ObservedPod) -> bool {
    observed.initialized || observed.init.iter().all(init_succeeded)
}

/// The pod's phase, by the kubelet's rules.
pub fn phase(pod: &Pod, observed: &ObservedPod) -> &'static str {
    if observed.evicted.is_some() {
        return "Failed";
    }
    if observed.init.iter().any(|c| init_failed_for_good(pod, c)) {
        return "Failed";
    }
    if !initialized(observed) {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in &observed.containers {
        let status = container_status(c, "ContainerCreating");
        let state = status.state.unwrap_or_default();
        let had_exit = status.last_state.and_then(|s| s.terminated).is_some();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if had_exit {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    let policy = restart_policy(pod);
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    previous: Option<&PodStatus>,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let since = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|list| list.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone());
    PodCondition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.filter(|_| !ok).map(Into::into),
        message: message.filter(|_| !ok),
        last_transition_time: Some(since.unwrap_or_else(|| {
            Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH))
        })),
        ..Default::default()
    }
}

/// The pod's status. `previous` is the status last written: conditions that did not change
/// keep their transition times, so an unchanged pod gives an equal status.
pub fn pod_status(pod: &Pod, observed: &ObservedPod, previous: Option<&PodStatus>) -> PodStatus {
    let phase = phase(pod, observed);
    let initialized = initialized(observed);
    let init_statuses: Vec<ContainerStatus> =
        observed.init.iter().map(|c| container_status(c, "PodInitializing")).collect();
    let default_waiting = if initialized { "ContainerCreating" } else { "PodInitializing" };
    let statuses: Vec<ContainerStatus> =
        observed.containers.iter().map(|c| container_status(c, default_waiting)).collect();
    // Sidecars count towards readiness, as upstream's ContainersReady counts them.
    let unready: Vec<&str> = observed
        .init
        .iter()
        .filter(|c| c.sidecar && !(c.ready && running(c)))
        .map(|c| c.name.as_str())
        .chain(statuses.iter().filter(|s| !s.ready).map(|s| s.name.as_str()))
        .collect();
    let incomplete: Vec<&str> = observed.init.iter().filter(|c| !init_succeeded(c)).map(|c| c.name.as_str()).collect();
    let finished = phase == "Succeeded" || phase == "Failed";
    let containers_ready = unready.is_empty() && !finished;
    let gates_ready = pod.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()).into_iter().flatten().all(|gate| {
        pod.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|list| list.iter().any(|c| c.type_ == gate.condition_type && c.status == "True"))
    });
    let (not_ready_reason, not_ready_message) = if finished {
        ("PodCompleted", None)
    } else if !unready.is_empty() {
        ("ContainersNotReady", Some(format!("containers with unready status: [{}]", unready.join(" "))))
    } else {
        ("ReadinessGatesNotReady", Some("the status of pod readiness gates is not \"True\"".into()))
    };
    let mut conditions = vec![
        condition("PodReadyToStartContainers", observed.sandbox_ready, None, None, previous),
        condition(
            "Initialized",
            initialized || finished,
            Some("ContainersNotInitialized"),
            Some(format!("containers with incomplete status: [{}]", incomplete.join(" "))),
            previous,
        ),
        condition(
            "Ready",
            containers_ready && gates_ready,
            Some(not_ready_reason),
            not_ready_message.clone(),
            previous,
        ),
        condition(
            "ContainersReady",
            containers_ready,
            Some(if finished { "PodCompleted" } else { "ContainersNotReady" }),
            not_ready_message.filter(|_| !unready.is_empty()),
            previous,
        ),
        condition("PodScheduled", true, None, None, previous),
    ];
    let evicted = observed.evicted.as_ref();
    if let Some(eviction) = evicted.filter(|e| e.disruption) {
        let mut target = condition("DisruptionTarget", true, None, None, previous);
        target.reason = Some("TerminationByKubelet".into());
        target.message = Some(eviction.message.clone());
        conditions.insert(0, target);
    }
    let pod_ips: Vec<PodIP> = observed.pod_ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect();
    PodStatus {
        phase: Some(phase.into()),
        reason: evicted.map(|_| "Evicted".into()),
        message: evicted.map(|e| e.message.clone()),
        conditions: Some(conditions),
        host_ip: Some(observed.host_ip.clone()).filter(|ip| !ip.is_empty()),
        host_ips: Some(vec![HostIP { ip: observed.host_ip.clone() }]).filter(|_| !observed.host_ip.is_empty()),
        pod_ip: observed.pod_ips.first().cloned(),
        pod_ips: Some(pod_ips).filter(|ips| !ips.is_empty()),
        start_time: observed.start_time.and_then(|t| Timestamp::from_second(t.as_second()).ok()).map(Time),
        qos_class: Some(qos_class(pod).as_str().into()),
        container_statuses: Some(statuses),
        init_container_statuses: Some(init_statuses).filter(|s| !s.is_empty()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(restart_policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": restart_policy, "containers": [{"name": "c", "image": "busybox:1"}]},
        }))
        .unwrap()
    }

    fn cri_status(state: cri::ContainerState, exit_code: i32) -> cri::ContainerStatus {
        cri::ContainerStatus {
            id: "abc".into(),
            state: state as i32,
            started_at: 1_700_000_000_000_000_000,
            finished_at: if state == cri::ContainerState::ContainerExited { 1_700_000_005_000_000_000 } else { 0 },
            exit_code,
            image_ref: "sha256:img".into(),
            ..Default::default()
        }
    }

    fn observed(c: ObservedContainer) -> ObservedPod {
        ObservedPod {
            evicted: None,
            initialized: false,
            sandbox_ready: true,
            pod_ips: vec!["10.42.0.7".into()],
            host_ip: "192.168.1.10".into(),
            start_time: Some(Timestamp::from_second(1_700_000_000).unwrap()),
            init: vec![],
            containers: vec![c],
        }
    }

    fn container(current: Option<cri::ContainerStatus>) -> ObservedContainer {
        ObservedContainer { name: "c".into(), image: "busybox:1".into(), current, ..Default::default() }
    }

    #[test]
    fn phases() {
        let check = |policy: &str, c: ObservedContainer, want: &str| {
            assert_eq!(phase(&pod(policy), &observed(c.clone())), want, "{policy} {c:?}");
        };
        check("Always", container(None), "Pending");
        check("Always", container(Some(cri_status(cri::ContainerState::ContainerRunning, 0))), "Running");
        check("Never", container(Some(cri_status(cri::ContainerState::ContainerExited, 0))), "Succeeded");
        check("Never", container(Some(cri_status(cri::ContainerState::ContainerExited, 1))), "Failed");
        check("OnFailure", container(Some(cri_status(cri::ContainerState::ContainerExited, 0))), "Succeeded");
        check("OnFailure", container(Some(cri_status(cri::ContainerState::ContainerExited, 1))), "Running");
        let mut crashing = container(Some(cri_status(cri::ContainerState::ContainerExited, 1)));
        crashing.waiting = Some(Waiting::new("CrashLoopBackOff", "back-off 10s restarting failed container"));
        check("Always", crashing, "Running");
        let mut pulling = container(None);
        pulling.waiting = Some(Waiting::new("ErrImagePull", "not found"));
        check("Always", pulling, "Pending");
    }

    #[test]
    fn running_ready_container_status() {
        let mut c = container(Some(cri_status(cri::ContainerState::ContainerRunning, 0)));
        c.ready = true;
        c.started = true;
        c.restart_count = 2;
        c.previous = Some(cri_status(cri::ContainerState::ContainerExited, 137));
        let status = pod_status(&pod("Always"), &observed(c), None);
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip.as_deref(), Some("10.42.0.7"));
        assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
        let cs = &status.container_statuses.as_ref().unwrap()[0];
        assert!(cs.ready);
        assert_eq!(cs.restart_count, 2);
        assert_eq!(cs.container_id.as_deref(), Some("containerd://abc"));
        assert_eq!(cs.image_id, "sha256:img");
        assert!(cs.state.as_ref().unwrap().running.is_some());
        let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (137, Some("Error")));
        let ready = status.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
    }

    #[test]
    fn crash_loop_shows_the_exit_as_last_state() {
        let mut c = container(Some(cri_status(cri::ContainerState::ContainerExited, 2)));
        c.waiting = Some(Waiting::new("CrashLoopBackOff", "back-off"));
        let cs = container_status(&c, "ContainerCreating");
        assert_eq!(cs.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap().exit_code, 2);
        assert!(!cs.ready);
    }

    #[test]
    fn unchanged_pod_gives_an_equal_status() {
        let c = container(Some(cri_status(cri::ContainerState::ContainerRunning, 0)));
        let first = pod_status(&pod("Always"), &observed(c.clone()), None);
        let second = pod_status(&pod("Always"), &observed(c), Some(&first));
        assert_eq!(first, second);
        let ready = first.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "ContainersReady").unwrap();
        assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
        assert_eq!(ready.message.as_deref(), Some("containers with unready status: [c]"));
    }

    #[test]
    fn init_containers_gate_the_pod() {
        let mut o = observed(container(None));
        let mut init = container(Some(cri_status(cri::ContainerState::ContainerRunning, 0)));
        init.name = "setup".into();
        o.init = vec![init.clone()];
        let p = pod("Always");
        let status = pod_status(&p, &o, None);
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        let cs = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(cs.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some("PodInitializing"));
        init.current = Some(cri_status(cri::ContainerState::ContainerExited, 1));
        o.init = vec![init];
        assert_eq!(phase(&pod("Never"), &o), "Failed");
    }

    #[test]
    fn an_evicted_pod_is_failed_with_the_reason_and_a_disruption_target() {
        let mut o = observed(container(Some(cri_status(cri::ContainerState::ContainerExited, 137))));
        o.evicted =
            Some(Eviction { message: "The node was low on resource: ephemeral-storage. ".into(), disruption: true });
        let status = pod_status(&pod("Always"), &o, None);
        assert_eq!(status.phase.as_deref(), Some("Failed"));
        assert_eq!(status.reason.as_deref(), Some("Evicted"));
        assert_eq!(status.message.as_deref(), Some("The node was low on resource: ephemeral-storage. "));
        let conditions = status.conditions.unwrap();
        let target = conditions.iter().find(|c| c.type_ == "DisruptionTarget").unwrap();
        assert_eq!((target.status.as_str(), target.reason.as_deref()), ("True", Some("TerminationByKubelet")));
        // Over its own limits: evicted, but no disruption condition.
        o.evicted = Some(Eviction {
            message: "Usage of EmptyDir volume \"x\" exceeds the limit \"1Mi\". ".into(),
            disruption: false,
        });
        let status = pod_status(&pod("Always"), &o, None);
        assert_eq!(status.reason.as_deref(), Some("Evicted"));
        assert!(status.conditions.unwrap().iter().all(|c| c.type_ != "DisruptionTarget"));
    }

    #[test]
    fn sidecars_are_done_once_started_and_count_for_readiness() {
        let mut o = observed(container(Some(cri_status(cri::ContainerState::ContainerRunning, 0))));
        o.containers[0].ready = true;
        o.containers[0].started = true;
        let mut sidecar = container(Some(cri_status(cri::ContainerState::ContainerRunning, 0)));
        sidecar.name = "proxy".into();
        sidecar.sidecar = true;
        sidecar.started = true;
        o.init = vec![sidecar.clone()];
        let status = pod_status(&pod("Always"), &o, None);
        assert_eq!(status.phase.as_deref(), Some("Running"));
        let by_type = |s: &PodStatus, t: &str| {
            s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == t).map(|c| c.status.clone()).unwrap()
        };
        assert_eq!(by_type(&status, "Initialized"), "True");
        // Not ready: neither is the pod.
        assert_eq!(by_type(&status, "Ready"), "False");
        o.init[0].ready = true;
        let status = pod_status(&pod("Always"), &o, None);
        assert_eq!(by_type(&status, "Ready"), "True");
        let init = &status.init_container_statuses.as_ref().unwrap()[0];
        assert!(init.state.as_ref().unwrap().running.is_some() && init.ready && init.started == Some(true));
        // A sidecar in back-off after the pod was initialized leaves the pod Running, not Pending.
        o.init[0].current = Some(cri_status(cri::ContainerState::ContainerExited, 1));
        o.initialized = true;
        assert_eq!(phase(&pod("Never"), &o), "Running");
        // Before it ever started, the pod waits.
        o.initialized = false;
        assert_eq!(phase(&pod("Always"), &o), "Pending");
        // When the regular containers are done, the pod is, whatever the sidecar does.
        o.initialized = true;
        o.init[0].current = Some(cri_status(cri::ContainerState::ContainerRunning, 0));
        o.containers[0].current = Some(cri_status(cri::ContainerState::ContainerExited, 0));
        assert_eq!(phase(&pod("Never"), &o), "Succeeded");
    }
}
