//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//! leaderelection does it, so that of several servers exactly one runs
//! the controllers. The decision is a pure function of the Lease as last
//! read and of when this process saw it change ([`decide`]); the loop
//! around it ([`run`]) reads and writes the Lease and flips a
//! `watch::Sender<bool>` that the controllers follow. Losing the Lease
//! stops the controllers, never the process.
//!
//! Expiry is judged by local observation, not by the holder's clock: a
//! Lease held by someone else is free once it has not changed for its
//! whole duration as seen here (client-go's rule; clocks may disagree).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

/// Timing, as kube-controller-manager's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a Lease holds without renewal (`--leader-elect-lease-duration`, 15 s).
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before it steps down (10 s).
    pub renew_deadline: Duration,
    /// How often a leader renews and a follower looks (2 s).
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What to do with the Lease now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is no Lease: create it, held by us.
    Create,
    /// We hold it: write a new renew time.
    Renew,
    /// Someone else held it, but it expired as seen from here: take it.
    TakeOver,
    /// Someone else holds it: look again later.
    Follow { holder: String },
}

/// The last version of the Lease this process read, and when its content last changed.
#[derive(Debug, Clone)]
pub struct Observed {
    pub spec: LeaseSpec,
    pub changed_at: Instant,
}

/// The decision for `me`, given the Lease as read now and what was observed before.
pub fn decide(
    me: &str,
    current: Option<&LeaseSpec>,
    observed: Option<&Observed>,
    now: Instant,
    timing: &Timing,
) -> Decision {
    let Some(spec) = current else { return Decision::Create };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder == me {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::TakeOver;
    }
    let duration = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
        .unwrap_or(timing.lease_duration);
    // Unchanged since we first saw it, for a whole lease duration: expired.
    match observed {
        Some(o) if o.spec == *spec && now.duration_since(o.changed_at) >= duration => Decision::TakeOver,
        _ => Decision::Follow { holder },
    }
}

/// Where the Lease lives and who we are.
#[derive(Debug, Clone)]
pub struct Election {
    pub namespace: String,
    pub name: String,
    /// This process's identity: `<host>_<random>`, as upstream spells it.
    pub identity: String,
    pub timing: Timing,
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Runs the election forever; `leading` is true while we hold the Lease.
pub async fn run(client: kube::Client, election: Election, leading: watch::Sender<bool>) {
    let leases: Api<Lease> = Api::namespaced(client, &election.namespace);
    let mut observed: Option<Observed> = None;
    let mut last_renewal = Instant::now();
    loop {
        let now = Instant::now();
        let outcome = step(&leases, &election, &mut observed, now).await;
        let is_leader = match outcome {
            Ok(holding) => {
                if holding {
                    last_renewal = now;
                }
                holding
            }
            Err(e) => {
                tracing::debug!(lease = %election.name, "leader election: {e}");
                // A leader that cannot renew keeps leading until its renew deadline passes.
                *leading.borrow() && now.duration_since(last_renewal) < election.timing.renew_deadline
            }
        };
        if *leading.borrow() != is_leader {
            tracing::info!(lease = %election.name, identity = %election.identity, leading = is_leader, "leadership changed");
        }
        leading.send_if_modified(|l| std::mem::replace(l, is_leader) != is_leader);
        tokio::time::sleep(election.timing.retry_period).await;
    }
}

/// One round: read the Lease, decide, write. Returns whether we hold it.
async fn step(
    leases: &Api<Lease>,
    election: &Election,
    observed: &mut Option<Observed>,
    now: Instant,
) -> Result<bool, kube::Error> {
    let current = leases.get_opt(&election.name).await?;
    let spec = current.as_ref().and_then(|l| l.spec.clone());
    if let Some(spec) = &spec
        && observed.as_ref().is_none_or(|o| o.spec != *spec)
    {
        *observed = Some(Observed { spec: spec.clone(), changed_at: now });
    }
    let duration = i32::try_from(election.timing.lease_duration.as_secs()).unwrap_or(15);
    match decide(&election.identity, spec.as_ref(), observed.as_ref(), now, &election.timing) {
        Decision::Follow { .. } => Ok(false),
        Decision::Create => {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(election.name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(election.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now_micro()),
                    renew_time: Some(now_micro()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            leases.create(&PostParams::default(), &lease).await?;
            Ok(true)
        }
        decision @ (Decision::Renew | Decision::TakeOver) => {
            let Some(mut lease) = current else { return Ok(false) };
            let mut spec = lease.spec.take().unwrap_or_default();
            if decision == Decision::TakeOver {
                spec.holder_identity = Some(election.identity.clone());
                spec.acquire_time = Some(now_micro());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.lease_duration_seconds = Some(duration);
            spec.renew_time = Some(now_micro());
            lease.spec = Some(spec);
            // The update carries the resourceVersion read: of two takers, one wins, one gets 409.
            leases.replace(&election.name, &PostParams::default(), &lease).await?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::from_second(renewed).expect("a time"))),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let timing = Timing::default();
        let t0 = Instant::now();
        assert_eq!(decide("me", None, None, t0, &timing), Decision::Create);
        assert_eq!(decide("me", Some(&held_by("me", 1)), None, t0, &timing), Decision::Renew);
        let theirs = held_by("them", 1);
        assert_eq!(decide("me", Some(&theirs), None, t0, &timing), Decision::Follow { holder: "them".into() });
        let seen = Observed { spec: theirs.clone(), changed_at: t0 };
        // Unchanged for less than the lease duration: theirs still.
        let soon = t0 + Duration::from_secs(14);
        assert_eq!(decide("me", Some(&theirs), Some(&seen), soon, &timing), Decision::Follow { holder: "them".into() });
        // Unchanged for the whole duration: expired, whatever their clock says.
        let later = t0 + Duration::from_secs(15);
        assert_eq!(decide("me", Some(&theirs), Some(&seen), later, &timing), Decision::TakeOver);
        // They renewed in the meantime: the observation starts over.
        let renewed = held_by("them", 2);
        assert_eq!(
            decide("me", Some(&renewed), Some(&seen), later, &timing),
            Decision::Follow { holder: "them".into() }
        );
        // A released Lease (no holder) is free at once.
        let released = LeaseSpec { holder_identity: Some(String::new()), ..Default::default() };
        assert_eq!(decide("me", Some(&released), None, t0, &timing), Decision::TakeOver);
    }
}
