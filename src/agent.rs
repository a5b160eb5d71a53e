//! `bramble agent` and `bramble token create`, and the agent that `bramble
//! server` runs in process: the wiring of the agent crate's join, node
//! registration, containerd, images, CNI, pods and kubelet API.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{AgentArgs, NodeArgs, TokenCreateArgs};

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let text = match (&args.token, &args.token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read --token-file {}", path.display()))?
        }
        (None, None) => anyhow::bail!("--token or --token-file is required to join a cluster"),
    };
    let token = agent::token::Token::parse(&text).context("--token")?;
    let name = args.node_name.clone().unwrap_or_else(crate::server::host_name);
    let internal_ips =
        if args.node_ip.is_empty() { crate::server::routed_ip().into_iter().collect() } else { args.node_ip.clone() };
    let node = Node {
        server: args.server.clone(),
        token,
        name,
        internal_ips,
        external_ips: args.node_external_ip.clone(),
        role_labels: BTreeMap::new(),
        data_dir: args.data_dir.clone(),
        cluster: None,
        cluster_dns: args.cluster_dns.map(|ip| ip.to_string()),
    };
    let running = run_node(node, &args.node);
    tokio::pin!(running);
    tokio::select! {
        result = &mut running => result,
        _ = crate::server::shutdown_signal() => {
            tracing::info!("shutting down; containers keep running");
            Ok(())
        }
    }
}

/// One node to run: who it is and which server it joins.
#[derive(Debug)]
pub struct Node {
    pub server: String,
    pub token: agent::token::Token,
    pub name: String,
    pub internal_ips: Vec<IpAddr>,
    pub external_ips: Vec<IpAddr>,
    /// Labels the node carries by its role (a server's `node-role.kubernetes.io/*`).
    pub role_labels: BTreeMap<String, String>,
    pub data_dir: PathBuf,
    /// The cluster's networks and DNS; `None`: ask the server (`/v1-k3s/config`).
    pub cluster: Option<agent::join::ClusterConfig>,
    /// `--cluster-dns`, over what the server says.
    pub cluster_dns: Option<String>,
}

/// Joins, starts (or finds) containerd, imports images, registers the node
/// and runs its pods and kubelet API until one of them fails. Containers are
/// not stopped when this returns: they run on in containerd, and the next
/// start adopts them.
pub async fn run_node(node: Node, args: &NodeArgs) -> anyhow::Result<()> {
    if node.name.is_empty() {
        anyhow::bail!("cannot tell this host's name; set --node-name");
    }
    let kubelet_args = agent::kubelet_args::KubeletArgs::parse(&args.kubelet_args)?;
    let join = agent::join::JoinConfig {
        server: node.server.clone(),
        token: node.token.clone(),
        node_name: node.name.clone(),
        node_ips: node.internal_ips.iter().chain(node.external_ips.iter()).copied().collect(),
        files: agent::join::AgentFiles::new(node.data_dir.join("agent")),
    };
    // A server that is not up yet is waited for, as k3s's agent waits; a refusal is final.
    let kubeconfig = loop {
        match agent::join::join(&join).await {
            Err(e @ agent::join::JoinError::Connect { .. }) => {
                tracing::warn!("{e}; retrying in 5 s");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            other => break other?,
        }
    };
    let client = client(&kubeconfig).await?;
    let cluster = match node.cluster.clone() {
        Some(cluster) => cluster,
        None => agent::join::cluster_config(&join).await.unwrap_or_else(|e| {
            let defaults = agent::join::ClusterConfig::default();
            tracing::warn!("cannot read the cluster's configuration ({e}); assuming k3s's defaults {defaults:?}");
            defaults
        }),
    };
    let cluster_dns = node.cluster_dns.clone().unwrap_or_else(|| cluster.cluster_dns.clone());
    let cluster_domain = args.cluster_domain.clone().unwrap_or_else(|| cluster.cluster_domain.clone());
    tracing::info!(
        cluster_cidr = %cluster.cluster_cidr,
        service_cidr = %cluster.service_cidr,
        %cluster_dns,
        %cluster_domain,
        "cluster networks"
    );
    let paths = agent::paths::AgentPaths::new(&node.data_dir, &args.run_dir, &args.pod_log_dir);

    let registries = load_registries(&args.private_registry)?;
    let certs_d = paths.containerd_certs_d();
    let registry_toml = match &registries {
        Some(r) => {
            r.write_hosts_dir(&certs_d).with_context(|| format!("cannot write {}", certs_d.display()))?;
            Some(r.cri_registry_toml(&certs_d))
        }
        None => None,
    };
    let options = agent::containerd::ContainerdOptions {
        endpoint: args.container_runtime_endpoint.as_deref().map(socket_path),
        sandbox_image: args.pause_image.clone().unwrap_or_else(|| images::pause::IMAGE.to_string()),
        registry_toml,
        ..Default::default()
    };
    let runtime = agent::containerd::Containerd::start(&paths, &options).await.context("containerd")?;
    let socket = runtime.socket.clone();
    if args.pause_image.is_none() {
        images::import::ensure_pause(&socket).await.context("cannot import bramble's pause image")?;
    }
    let mut pinned_images = import_images(&socket, &paths.images_dir()).await;
    pinned_images.push(options.sandbox_image.clone());
    link_cni_plugins(&paths.cni_bin_dir())?;
    let version = format!("containerd://{}", runtime.version);

    let config = agent::node::NodeConfig {
        name: node.name.clone(),
        internal_ips: node.internal_ips.clone(),
        external_ips: node.external_ips.clone(),
        labels: node.role_labels.clone().into_iter().chain(agent::node::parse_labels(&args.node_labels)?).collect(),
        taints: agent::node::parse_taints(&args.node_taints)?,
        data_dir: node.data_dir.clone(),
        max_pods: kubelet_args.max_pods,
        runtime_version: version,
        kubelet_port: args.kubelet_port,
        thresholds: kubelet_args.thresholds.clone(),
    };
    crate::notify::ready();
    let files = agent::join::AgentFiles::new(node.data_dir.join("agent"));
    let client_ca = std::fs::read_to_string(files.client_ca())
        .with_context(|| format!("cannot read the client CA {}", files.client_ca().display()))?;
    let mut api_config =
        agent::kubelet_server::KubeletServerConfig::from_agent_files(&files, client_ca, socket.clone(), paths.clone())?;
    api_config.listen = std::net::SocketAddr::new(IpAddr::from([0, 0, 0, 0]), args.kubelet_port);
    let kubelet_api = agent::kubelet_server::serve(api_config, std::future::pending());
    let network = pod_network(&client, &node.name, &paths, &cluster.cluster_cidr);
    let (pressure_tx, pressure_rx) = tokio::sync::watch::channel(agent::eviction::Pressure::default());
    let kubelet = agent::kubelet::run(
        client.clone(),
        agent::kubelet::KubeletConfig {
            node_name: node.name.clone(),
            paths: paths.clone(),
            cri_socket: socket.clone(),
            node_ip: node.internal_ips.first().map(IpAddr::to_string).unwrap_or_default(),
            pod_cidr: None,
            cluster_dns: vec![cluster_dns],
            cluster_domain,
            data_dir: node.data_dir.clone(),
            thresholds: kubelet_args.thresholds,
            image_gc: kubelet_args.image_gc,
            pinned_images,
            pressure: pressure_tx,
        },
    );
    tokio::select! {
        result = agent::node::run(client.clone(), config, Some(pressure_rx)) => result.context("node registration"),
        result = kubelet => result.context("pods"),
        result = kubelet_api => result.context("the kubelet API"),
        result = network => result,
    }
}

/// `unix:///run/x.sock` or `/run/x.sock`.
fn socket_path(endpoint: &str) -> PathBuf {
    PathBuf::from(endpoint.strip_prefix("unix://").unwrap_or(endpoint))
}

fn load_registries(path: &Path) -> anyhow::Result<Option<images::registries::Registries>> {
    let registries = images::registries::Registries::load(path).context("--private-registry")?;
    for warning in registries.iter().flat_map(|r| r.warnings()) {
        tracing::warn!(file = %path.display(), "{warning}");
    }
    Ok(registries)
}

/// Imports the air-gap archives in `<data-dir>/agent/images`, as k3s does,
/// and returns the names imported. A broken archive is logged by name; the
/// others are still imported.
async fn import_images(socket: &Path, dir: &Path) -> Vec<String> {
    let mut imported = Vec::new();
    match images::import::import_dir(socket, dir).await {
        Ok(archives) => {
            for archive in archives {
                match archive.result {
                    Ok(names) => {
                        tracing::info!(archive = %archive.path.display(), "imported {}", names.join(", "));
                        imported.extend(names);
                    }
                    Err(e) => tracing::error!(archive = %archive.path.display(), "cannot import: {e}"),
                }
            }
        }
        Err(e) => tracing::error!(dir = %dir.display(), "image import: {e}"),
    }
    imported
}

/// containerd runs the CNI plugins by name from its bin directory: the
/// bridge plugin and loopback are this binary under those names.
fn link_cni_plugins(bin_dir: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the bramble binary for the CNI plugins")?;
    std::fs::create_dir_all(bin_dir).with_context(|| format!("cannot create {}", bin_dir.display()))?;
    for name in ["bramble-cni", "loopback"] {
        let link = bin_dir.join(name);
        if std::fs::read_link(&link).is_ok_and(|target| target == exe) {
            continue;
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&exe, &link).with_context(|| format!("cannot link {}", link.display()))?;
    }
    Ok(())
}

/// Writes the CNI configuration once the node has its podCIDR, and again if
/// it changes; never returns unless it cannot write.
async fn pod_network(
    client: &kube::Client,
    name: &str,
    paths: &agent::paths::AgentPaths,
    cluster_cidr: &str,
) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Node;
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    let mut written: Option<String> = None;
    loop {
        let cidr = match nodes.get_opt(name).await {
            Ok(node) => node.and_then(|n| n.spec).and_then(|s| s.pod_cidr),
            Err(e) => {
                tracing::debug!("cannot read node {name}: {e}");
                None
            }
        };
        if let Some(cidr) = cidr
            && written.as_deref() != Some(cidr.as_str())
        {
            let dir = paths.cni_conf_dir();
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let text = netd::conflist("bramble", &cidr, &cluster_cidr_for(cluster_cidr, &cidr), &paths.cni_data_dir());
            let path = dir.join("10-bramble.conflist");
            let temp = dir.join(".10-bramble.conflist.tmp");
            std::fs::write(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
            std::fs::rename(&temp, &path).with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(pod_cidr = %cidr, "pod network configured");
            written = Some(cidr);
        }
        tokio::time::sleep(std::time::Duration::from_secs(if written.is_some() { 60 } else { 1 })).await;
    }
}

/// The cluster network a node's podCIDR belongs to, for masquerading: the
/// one of `--cluster-cidr`'s (one per family) that holds it, else the
/// podCIDR itself.
fn cluster_cidr_for(cluster_cidrs: &str, pod_cidr: &str) -> String {
    let parse = |cidr: &str| -> Option<(std::net::IpAddr, u8)> {
        let (ip, len) = cidr.trim().split_once('/')?;
        Some((ip.parse().ok()?, len.parse().ok()?))
    };
    let contains = |(net, len): (std::net::IpAddr, u8), ip: std::net::IpAddr| match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    };
    let Some((pod_ip, _)) = parse(pod_cidr) else { return pod_cidr.to_string() };
    cluster_cidrs
        .split(',')
        .map(str::trim)
        .find(|c| parse(c).is_some_and(|net| contains(net, pod_ip)))
        .map(str::to_string)
        .unwrap_or_else(|| pod_cidr.to_string())
}

pub async fn token_create(args: TokenCreateArgs) -> anyhow::Result<()> {
    let client = client(&args.kubeconfig).await?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("cannot read the kubeconfig {}", args.kubeconfig.display()))?;
    let ca = agent::token::kubeconfig_ca(&kubeconfig)
        .context("the kubeconfig has no usable certificate-authority-data to hash into the token")?;
    let token = agent::token::create_bootstrap(client, &ca, args.ttl, &args.description)
        .await
        .context("cannot store the bootstrap token")?;
    println!("{token}");
    Ok(())
}

async fn client(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("the kubeconfig {} is not usable", path.display()))?;
    kube::Client::try_from(config).context("cannot build a client from the kubeconfig")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_masquerade_network_is_the_cluster_cidr_holding_the_pod_cidr() {
        assert_eq!(cluster_cidr_for("10.42.0.0/16", "10.42.3.0/24"), "10.42.0.0/16");
        assert_eq!(cluster_cidr_for("10.0.0.0/8", "10.200.1.0/24"), "10.0.0.0/8");
        assert_eq!(cluster_cidr_for("fd00::/48, 10.42.0.0/15", "10.43.9.0/24"), "10.42.0.0/15");
        assert_eq!(cluster_cidr_for("fd00::/48,10.42.0.0/16", "fd00:0:0:5::/64"), "fd00::/48");
        // A podCIDR outside every cluster network masquerades only beyond itself.
        assert_eq!(cluster_cidr_for("10.42.0.0/16", "192.168.7.0/24"), "192.168.7.0/24");
    }
}
