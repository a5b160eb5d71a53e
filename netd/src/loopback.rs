//! loopback: `lo` up in the pod (ADD) or down (DEL), reporting lo's addresses as the
//! reference plugin does. containerd's CRI runs it for every sandbox.

use ipnet::IpNet;

use crate::error::CniError;
use crate::links;
use crate::netns::{Netns, with_netlink};
use crate::spec::{Attachment, Interface, IpConfig, Outcome};

/// ADD: `lo` up; the result lists `lo` and its addresses (127.0.0.1/8, ::1/128).
pub fn add(attachment: &Attachment) -> Result<Outcome, CniError> {
    let path = attachment.netns.as_deref().ok_or(CniError::MissingEnv("CNI_NETNS"))?;
    let netns = Netns::open(path)?;
    let addresses = with_netlink(Some(&netns), |h| async move {
        let lo = links::set_state(&h, "lo", true).await?;
        links::addresses(&h, lo.index).await
    })?;
    let ips = addresses
        .into_iter()
        .filter_map(|(ip, prefix)| IpNet::new(ip, prefix).ok())
        .map(|address| IpConfig { address, gateway: None, interface: Some(0) })
        .collect();
    Ok(Outcome {
        interfaces: vec![Interface {
            name: "lo".to_owned(),
            mac: "00:00:00:00:00:00".to_owned(),
            sandbox: Some(netns.path().display().to_string()),
        }],
        ips,
        routes: Vec::new(),
    })
}

/// DEL: `lo` down; a namespace that is gone is nothing to do.
pub fn del(attachment: &Attachment) -> Result<(), CniError> {
    let Some(path) = attachment.netns.as_deref() else { return Ok(()) };
    let Some(netns) = Netns::open_if_exists(path)? else { return Ok(()) };
    with_netlink(Some(&netns), |h| async move { links::set_state(&h, "lo", false).await.map(|_| ()) })
}

/// CHECK: `lo` is up.
pub fn check(attachment: &Attachment) -> Result<(), CniError> {
    let path = attachment.netns.as_deref().ok_or(CniError::MissingEnv("CNI_NETNS"))?;
    let netns = Netns::open(path)?;
    let up = with_netlink(Some(&netns), |h| async move { Ok(links::find(&h, "lo").await?.is_some_and(|lo| lo.up)) })?;
    if up { Ok(()) } else { Err(CniError::CheckFailed("lo is down".to_owned())) }
}
