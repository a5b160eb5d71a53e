//! Command-line flags, named as k3s names them wherever k3s has the flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "bramble", version, about = "A lightweight, k3s-compatible Kubernetes for Raspberry Pi clusters")]
#[command(args_override_self = true)]
pub struct Cli {
    /// Turn on debug logs.
    #[arg(long, global = true, env = "BRAMBLE_DEBUG")]
    pub debug: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a server: the key-value store and the Kubernetes API server.
    Server(ServerArgs),
    /// Run an agent: join the cluster at --server with --token, register
    /// this host as a node and run its pods on containerd.
    Agent(AgentArgs),
    /// Manage bootstrap tokens for joining nodes.
    Token(TokenArgs),
    /// Test and benchmark mode: register fake nodes and play their kubelets
    /// (bound pods become Running and Ready; no containers run).
    HollowNodes(HollowArgs),
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Config file (YAML; keys are flag names without dashes, e.g. `server:`,
    /// `token:`, `node-label:`). Read before the command line, which wins.
    #[arg(long, short = 'c', env = "BRAMBLE_CONFIG_FILE", default_value = "/etc/bramble/config.yaml")]
    pub config: PathBuf,

    /// The server to join, https://<host>:<port>.
    #[arg(long, short = 's', env = "BRAMBLE_URL")]
    pub server: String,

    /// The join token: the server's <data-dir>/server/token, a `bramble token create` token, or a bare password.
    #[arg(long, short = 't', env = "BRAMBLE_TOKEN", hide_env_values = true, required_unless_present = "token_file")]
    pub token: Option<String>,

    /// A file holding the join token.
    #[arg(long, env = "BRAMBLE_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,

    /// Folder to hold state; the agent's is under <data-dir>/agent.
    #[arg(long, short = 'd', env = "BRAMBLE_DATA_DIR", default_value = "/var/lib/bramble")]
    pub data_dir: PathBuf,

    /// Node name; the host name by default.
    #[arg(long, env = "BRAMBLE_NODE_NAME")]
    pub node_name: Option<String>,

    /// IP addresses of this node; the address of the default route by default.
    #[arg(long, short = 'i', value_delimiter = ',')]
    pub node_ip: Vec<std::net::IpAddr>,

    /// External IP addresses of this node.
    #[arg(long, value_delimiter = ',')]
    pub node_external_ip: Vec<std::net::IpAddr>,

    #[command(flatten)]
    pub node: NodeArgs,

    /// Cluster DNS service IP, for pods' resolv.conf; the server's `--cluster-dns` by default.
    #[arg(long)]
    pub cluster_dns: Option<std::net::IpAddr>,
}

/// What the agent needs to run pods, on `bramble agent` and `bramble server` alike.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Labels for the node at registration, as key=value (repeatable).
    #[arg(long = "node-label")]
    pub node_labels: Vec<String>,

    /// Taints for the node at registration, as key=value:Effect (repeatable).
    #[arg(long = "node-taint")]
    pub node_taints: Vec<String>,

    /// A running containerd's socket (unix:///path or /path); by default the
    /// agent starts Debian's containerd with a configuration of its own.
    #[arg(long, env = "CONTAINER_RUNTIME_ENDPOINT")]
    pub container_runtime_endpoint: Option<String>,

    /// The pods' sandbox image; bramble's own pause image, imported at start, by default.
    #[arg(long)]
    pub pause_image: Option<String>,

    /// Registry mirrors, rewrites and credentials, in k3s's registries.yaml format.
    #[arg(long, default_value = "/etc/bramble/registries.yaml")]
    pub private_registry: PathBuf,

    /// Cluster domain, for pods' DNS search paths (on an agent, the server's by default;
    /// else cluster.local).
    #[arg(long)]
    pub cluster_domain: Option<String>,

    /// A kubelet setting, as key=value (repeatable), as k3s's `--kubelet-arg`:
    /// eviction-hard, eviction-minimum-reclaim, image-gc-high-threshold,
    /// image-gc-low-threshold, image-minimum-gc-age, max-pods.
    #[arg(long = "kubelet-arg")]
    pub kubelet_args: Vec<String>,

    /// Port of the kubelet API (logs, exec, port-forward).
    #[arg(long, default_value_t = 10250, hide = true)]
    pub kubelet_port: u16,

    /// Runtime state that does not survive a reboot (containerd's state and socket).
    #[arg(long, env = "BRAMBLE_RUN_DIR", default_value = "/run/bramble", hide = true)]
    pub run_dir: PathBuf,

    /// Where container logs are written, as the kubelet's /var/log/pods.
    #[arg(long, env = "BRAMBLE_POD_LOG_DIR", default_value = "/var/log/pods", hide = true)]
    pub pod_log_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bootstrap token (a `bootstrap-token-<id>` Secret in kube-system) and print it.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The admin kubeconfig of the cluster.
    #[arg(long, env = "KUBECONFIG", default_value = "/etc/bramble/bramble.yaml")]
    pub kubeconfig: PathBuf,

    /// How long the token is valid (e.g. 24h, 90m); 0 never expires.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub ttl: std::time::Duration,

    /// A description stored with the token.
    #[arg(long, default_value = "")]
    pub description: String,
}

#[derive(Debug, Args)]
pub struct HollowArgs {
    /// The kubeconfig of the cluster to join, with rights to write nodes and pods.
    #[arg(long, env = "KUBECONFIG", default_value = "/etc/bramble/bramble.yaml")]
    pub kubeconfig: PathBuf,

    /// How many nodes to register.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,

    /// Node names are `<prefix>-0`, `<prefix>-1`, ...
    #[arg(long, default_value = "hollow")]
    pub name_prefix: String,

    /// Each node's CPU capacity.
    #[arg(long, default_value = "4")]
    pub cpu: String,

    /// Each node's memory capacity.
    #[arg(long, default_value = "8Gi")]
    pub memory: String,

    /// Each node's pod capacity.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,

    /// Extra labels on every node, as key=value (repeatable).
    #[arg(long = "node-label")]
    pub node_labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Config file (YAML; keys are flag names without dashes). Read before
    /// the command line, which wins.
    #[arg(long, short = 'c', env = "BRAMBLE_CONFIG_FILE", default_value = "/etc/bramble/config.yaml")]
    pub config: PathBuf,

    /// Folder to hold state.
    #[arg(long, short = 'd', env = "BRAMBLE_DATA_DIR", default_value = "/var/lib/bramble")]
    pub data_dir: PathBuf,

    /// Run only the embedded key-value store (an etcd v3 endpoint), without
    /// the Kubernetes API server.
    #[arg(long)]
    pub datastore_only: bool,

    /// Client URLs the embedded store listens on, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub etcd_listen_client_urls: Vec<String>,

    /// Certificate (PEM) for https:// client URLs of the embedded store.
    #[arg(long)]
    pub etcd_cert_file: Option<PathBuf>,

    /// Private key (PEM) of --etcd-cert-file.
    #[arg(long)]
    pub etcd_key_file: Option<PathBuf>,

    /// CA (PEM) that client certificates must be signed by; when given,
    /// https clients must present one (etcd's --client-cert-auth).
    #[arg(long)]
    pub etcd_trusted_ca_file: Option<PathBuf>,

    /// An external etcd to use instead of the embedded store (e.g. http://10.0.0.5:2379).
    #[arg(long, env = "BRAMBLE_DATASTORE_ENDPOINT")]
    pub datastore_endpoint: Option<String>,

    /// The largest request the store accepts, in bytes (etcd's --max-request-bytes).
    #[arg(long, default_value_t = 1536 * 1024)]
    pub etcd_max_request_bytes: usize,

    /// Interval of watch progress notifications (etcd's
    /// --experimental-watch-progress-notify-interval), e.g. 10m, 5s.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub etcd_watch_progress_notify_interval: std::time::Duration,

    /// Node name; the host name by default.
    #[arg(long, env = "BRAMBLE_NODE_NAME")]
    pub node_name: Option<String>,

    /// HTTPS port of the Kubernetes API.
    #[arg(long, default_value_t = 6443)]
    pub https_listen_port: u16,

    /// Address the Kubernetes API listens on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: std::net::IpAddr,

    /// Address the API server advertises to clients; the first --node-ip by default.
    #[arg(long)]
    pub advertise_address: Option<std::net::IpAddr>,

    /// Write the admin kubeconfig to this file.
    #[arg(long, short = 'o', env = "BRAMBLE_KUBECONFIG_OUTPUT", default_value = "/etc/bramble/bramble.yaml")]
    pub write_kubeconfig: PathBuf,

    /// Mode of the kubeconfig file, in octal (e.g. 644).
    #[arg(long, env = "BRAMBLE_KUBECONFIG_MODE", value_parser = parse_mode)]
    pub write_kubeconfig_mode: Option<u32>,

    /// Extra host names or IPs for the API server's certificate.
    #[arg(long, value_delimiter = ',')]
    pub tls_san: Vec<String>,

    /// IP addresses of this node; the address of the default route by default.
    #[arg(long, value_delimiter = ',')]
    pub node_ip: Vec<std::net::IpAddr>,

    /// Pod network, one /24 per node.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,

    /// Service network; its first address is the `kubernetes` Service.
    #[arg(long, default_value = "10.43.0.0/16")]
    pub service_cidr: String,

    /// Cluster DNS service IP.
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: std::net::IpAddr,

    /// The join token agents present: a password or a full K10 token. Made on
    /// first start when not given; the full form is kept in <data-dir>/server/token.
    #[arg(long, short = 't', env = "BRAMBLE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Do not run the agent on this server.
    #[arg(long)]
    pub disable_agent: bool,

    /// External IP addresses of this node.
    #[arg(long, value_delimiter = ',')]
    pub node_external_ip: Vec<std::net::IpAddr>,

    #[command(flatten)]
    pub node: NodeArgs,

    /// Do not run the controllers on this server.
    #[arg(long)]
    pub disable_controller_manager: bool,

    /// Do not run the scheduler (pods then wait for another one).
    #[arg(long)]
    pub disable_scheduler: bool,

    /// Packaged components not to deploy (k3s: coredns, servicelb, traefik, local-storage, metrics-server).
    #[arg(long, value_delimiter = ',')]
    pub disable: Vec<String>,

    /// Extra kube-apiserver flags as key=value; bramble reads token-auth-file.
    #[arg(long)]
    pub kube_apiserver_arg: Vec<String>,
}

/// File modes as k3s takes them: octal digits, with or without a leading 0.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("invalid file mode {s:?}: expected octal digits such as 600 or 0644"))
}

/// Durations as k3s writes them: `500ms`, `5s`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: expected e.g. 5s, 10m"))?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    Ok(std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(parse_duration("100ms"), Ok(std::time::Duration::from_millis(100)));
        assert_eq!(parse_duration("10m"), Ok(std::time::Duration::from_secs(600)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("644"), Ok(0o644));
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert!(parse_mode("999").is_err());
        assert!(parse_mode("7777").is_err());
    }
}
