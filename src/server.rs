//! `bramble server`: the embedded key-value store (or an external etcd)
//! and the Kubernetes API server; `--datastore-only` runs the store alone.
//! Controllers and the agent join in later issues.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::{Context, bail};
use kvstore::datastore::Datastore;
use kvstore::{KvConfig, KvNode};

use crate::cli::ServerArgs;

/// Where the embedded store keeps its database under the data dir (k3s keeps
/// etcd's under `server/db/etcd`).
pub fn store_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("server").join("db").join("kv")
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if args.datastore_only {
        if let Some(endpoint) = &args.datastore_endpoint {
            bail!(
                "--datastore-endpoint={endpoint} makes no sense with --datastore-only: there is no API server to point at it"
            );
        }
        return run_datastore_only(args).await;
    }
    run_server(args).await
}

fn store_config(args: &ServerArgs) -> anyhow::Result<(KvConfig, Option<kvstore::server::ClientTls>)> {
    let dir = store_dir(&args.data_dir);
    create_private_dir(&dir)?;
    let mut config = KvConfig::new(dir);
    config.client_urls = args.etcd_listen_client_urls.clone();
    config.max_request_bytes = args.etcd_max_request_bytes;
    config.progress_notify_interval = args.etcd_watch_progress_notify_interval;
    if let Some(name) = &args.node_name {
        config.name = name.clone();
    }
    let tls = match (&args.etcd_cert_file, &args.etcd_key_file) {
        (Some(cert), Some(key)) => Some(kvstore::server::ClientTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.etcd_trusted_ca_file.clone(),
        }),
        (None, None) => None,
        _ => bail!("--etcd-cert-file and --etcd-key-file go together"),
    };
    Ok((config, tls))
}

/// The embedded store and its etcd endpoint, started.
struct EmbeddedStore {
    node: std::sync::Arc<KvNode>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_embedded(args: &ServerArgs) -> anyhow::Result<EmbeddedStore> {
    let (config, tls) = store_config(args)?;
    let dir = config.dir.clone();
    // Bind first: a port in use is reported before anything is opened.
    let listeners = kvstore::server::bind(&args.etcd_listen_client_urls, tls.as_ref()).await?;
    let started = std::time::Instant::now();
    let node = KvNode::open(config).await?;
    let meta = node.store().meta();
    tracing::info!(
        dir = %dir.display(),
        revision = meta.revision,
        keys = meta.keys,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "embedded store ready on {}",
        args.etcd_listen_client_urls.join(",")
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn({
        let node = node.clone();
        async move {
            kvstore::server::serve(node, listeners, tls, async {
                let _ = stopped.await;
            })
            .await?;
            Ok(())
        }
    });
    Ok(EmbeddedStore { node, served, stop })
}

async fn run_datastore_only(args: ServerArgs) -> anyhow::Result<()> {
    let store = start_embedded(&args).await?;
    crate::notify::ready();
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = store.stop.send(());
    let _ = store.served.await;
    store.node.shutdown().await;
    Ok(())
}

/// The server's own addresses: `--node-ip`, or the source address of the default route.
fn node_ips(args: &ServerArgs) -> Vec<IpAddr> {
    if !args.node_ip.is_empty() {
        return args.node_ip.clone();
    }
    routed_ip().into_iter().collect()
}

/// The source address of the default route.
pub(crate) fn routed_ip() -> Option<IpAddr> {
    // Connecting a UDP socket sends nothing; it only asks the kernel for a route.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
}

pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

fn token_file(args: &ServerArgs) -> anyhow::Result<apiserver::TokenFile> {
    let mut tokens = apiserver::TokenFile::default();
    for arg in &args.kube_apiserver_arg {
        match arg.split_once('=') {
            Some(("token-auth-file", path)) => tokens = apiserver::TokenFile::load(Path::new(path))?,
            _ => bail!("--kube-apiserver-arg={arg} is not supported; bramble reads only token-auth-file=PATH"),
        }
    }
    Ok(tokens)
}

/// A client of our own API server for the controllers, over loopback with
/// the admin credentials (there is no RBAC yet to give them less).
async fn controller_client(pki: &apiserver::Pki, port: u16) -> anyhow::Result<kube::Client> {
    let text = apiserver::kubeconfig::render(pki, &format!("https://127.0.0.1:{port}"));
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).context("the controllers' kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .context("the controllers' client configuration")?;
    kube::Client::try_from(config).context("the controllers' client")
}

async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let tokens = token_file(&args)?;
    let service_network = apiserver::ServiceNetwork::parse(&args.service_cidr)
        .map_err(|e| anyhow::anyhow!("--service-cidr={}: {e}", args.service_cidr))?;
    let ips = node_ips(&args);
    let names = apiserver::ServingNames {
        hostname: args.node_name.clone().unwrap_or_else(host_name),
        ips: ips.iter().copied().chain(args.advertise_address).collect(),
        extra: args.tls_san.clone(),
        service_ip: Some(IpAddr::V4(service_network.first())),
    };
    let tls_dir = args.data_dir.join("server").join("tls");
    create_private_dir(&args.data_dir.join("server"))?;
    let pki = apiserver::Pki::ensure(&tls_dir, &names)?;
    let (join_password, join_token) = server_token(&args, &pki)?;

    let (store, embedded): (std::sync::Arc<dyn Datastore>, Option<EmbeddedStore>) = match &args.datastore_endpoint {
        Some(endpoint) => {
            let external = kvstore::datastore::External::connect(endpoint).await?;
            tracing::info!(%endpoint, "using an external etcd");
            (std::sync::Arc::new(external), None)
        }
        None => {
            let embedded = start_embedded(&args).await?;
            (std::sync::Arc::new(kvstore::datastore::Embedded(embedded.node.clone())), Some(embedded))
        }
    };

    let advertise = args.advertise_address.or_else(|| ips.first().copied()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let config = apiserver::ApiConfig {
        listen: SocketAddr::new(args.bind_address, args.https_listen_port),
        advertise: SocketAddr::new(advertise, args.https_listen_port).to_string(),
        advertise_ip: advertise,
        service_network,
        tokens,
        join_password: Some(join_password),
        // kube-apiserver's default `--event-ttl`.
        event_ttl: std::time::Duration::from_secs(3600),
        agent_config: apiserver::AgentConfig {
            cluster_cidr: args.cluster_cidr.clone(),
            service_cidr: args.service_cidr.clone(),
            cluster_dns: args.cluster_dns.to_string(),
            cluster_domain: args.node.cluster_domain.clone().unwrap_or_else(|| "cluster.local".into()),
        },
    };
    let server = apiserver::ApiServer::start(store, &pki, config).await?;
    let port = server.local_addr()?.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    // The listener is bound and the bootstrap objects exist: /readyz answers.
    let mode = args.write_kubeconfig_mode.unwrap_or(0o600);
    apiserver::kubeconfig::write(&pki, &format!("https://127.0.0.1:{port}"), &args.write_kubeconfig, mode)
        .with_context(|| format!("cannot write the kubeconfig {}", args.write_kubeconfig.display()))?;
    tracing::info!(
        port,
        kubeconfig = %args.write_kubeconfig.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Kubernetes API ready ({}); run `kubectl --kubeconfig {} get nodes`",
        apiserver::KUBERNETES_VERSION,
        args.write_kubeconfig.display()
    );
    if args.disable_controller_manager {
        tracing::info!("--disable-controller-manager: this server runs no controllers");
    } else {
        let client = controller_client(&pki, port).await?;
        let config = controllers::ControllerConfig {
            election: controllers::leader::Election {
                namespace: "kube-system".into(),
                name: "kube-controller-manager".into(),
                identity: controllers::identity(&args.node_name.clone().unwrap_or_else(host_name)),
                timing: Default::default(),
            },
            root_ca_pem: pki.server_ca_pem.clone(),
            scheduler: !args.disable_scheduler,
            cluster_cidrs: controllers::node_ipam::parse_cluster_cidrs(&args.cluster_cidr)
                .map_err(|e| anyhow::anyhow!("--cluster-cidr: {e}"))?,
            storage_dir: args.data_dir.join("storage"),
        };
        tokio::spawn(controllers::run(client, config));
    }
    // The server's own agent joins over loopback with the server token, as k3s's does.
    let agent = if args.disable_agent {
        tracing::info!(
            "--disable-agent: this server runs no pods; join nodes with `bramble agent --server https://<this host>:{port} --token <{}>`",
            args.data_dir.join("server").join("token").display()
        );
        None
    } else {
        let node = crate::agent::Node {
            server: format!("https://127.0.0.1:{port}"),
            token: agent::token::Token::parse(&join_token).context("the server token")?,
            name: args.node_name.clone().unwrap_or_else(host_name),
            internal_ips: ips.clone(),
            external_ips: args.node_external_ip.clone(),
            role_labels: server_role_labels(args.datastore_endpoint.is_none()),
            data_dir: args.data_dir.clone(),
            cluster: Some(agent::join::ClusterConfig {
                cluster_cidr: args.cluster_cidr.clone(),
                service_cidr: args.service_cidr.clone(),
                cluster_dns: args.cluster_dns.to_string(),
                cluster_domain: args.node.cluster_domain.clone().unwrap_or_else(|| "cluster.local".into()),
            }),
            cluster_dns: None,
        };
        let node_args = args.node.clone();
        Some(tokio::spawn(async move {
            if let Err(e) = crate::agent::run_node(node, &node_args).await {
                tracing::error!("the server's agent stopped: {e:#}");
            }
        }))
    };
    crate::notify::ready();
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(agent) = agent {
        // Containers keep running in containerd; the next start adopts them.
        agent.abort();
    }
    let _ = stop.send(());
    let _ = serving.await;
    if let Some(store) = embedded {
        let _ = store.stop.send(());
        let _ = store.served.await;
        store.node.shutdown().await;
    }
    Ok(())
}

/// The server token agents join with: `--token`, else the one an earlier
/// start made, else a new one; written in full form (`K10<CA hash>::server:<password>`)
/// to `<data-dir>/server/token`, mode 0600, as k3s does. Returns the password and the full token.
fn server_token(args: &ServerArgs, pki: &apiserver::Pki) -> anyhow::Result<(String, String)> {
    use agent::token::{Credentials, Token};
    let path = args.data_dir.join("server").join("token");
    let given = match &args.token {
        Some(text) => Some(Token::parse(text).context("--token")?),
        None => match std::fs::read_to_string(&path) {
            Ok(text) => Some(Token::parse(&text).with_context(|| format!("{} holds no valid token", path.display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        },
    };
    let actual = agent::token::ca_hash(pki.server_ca_pem.as_bytes());
    if let Some(expected) = given.as_ref().and_then(|t| t.ca_hash.as_deref())
        && expected != actual
    {
        bail!(
            "the token's CA hash {expected} is not this server's CA ({actual}, {}): the token is from another cluster",
            pki.dir.join("server-ca.crt").display()
        );
    }
    let password = given.map(|t| t.secret()).unwrap_or_else(agent::token::new_password);
    let full = Token::full(
        pki.server_ca_pem.as_bytes(),
        &Credentials::Password { user: "server".into(), password: password.clone() },
    );
    apiserver::pki::write_file(&path, format!("{full}\n").as_bytes(), 0o600)
        .with_context(|| format!("cannot write the server token {}", path.display()))?;
    Ok((password, full))
}

/// The labels of a server's node, as k3s's: control plane, and etcd when the store is embedded.
fn server_role_labels(embedded_store: bool) -> std::collections::BTreeMap<String, String> {
    let mut roles = vec!["control-plane", "master"];
    if embedded_store {
        roles.push("etcd");
    }
    roles.into_iter().map(|r| (format!("node-role.kubernetes.io/{r}"), "true".to_string())).collect()
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::warn!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
