//! `bramble agent` and `bramble token create`: the wiring of the agent
//! crate's join, node registration and bootstrap tokens.

use anyhow::Context;

use crate::cli::{AgentArgs, TokenCreateArgs};

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
    if name.is_empty() {
        anyhow::bail!("cannot tell this host's name; set --node-name");
    }
    let internal_ips =
        if args.node_ip.is_empty() { crate::server::routed_ip().into_iter().collect() } else { args.node_ip.clone() };
    let node = agent::node::NodeConfig {
        name: name.clone(),
        internal_ips: internal_ips.clone(),
        external_ips: args.node_external_ip.clone(),
        labels: agent::node::parse_labels(&args.node_labels)?,
        taints: agent::node::parse_taints(&args.node_taints)?,
        data_dir: args.data_dir.clone(),
        max_pods: 110,
    };
    let join = agent::join::JoinConfig {
        server: args.server.clone(),
        token,
        node_name: name,
        node_ips: internal_ips.into_iter().chain(args.node_external_ip.iter().copied()).collect(),
        files: agent::join::AgentFiles::new(args.data_dir.join("agent")),
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
    crate::notify::ready();
    let registered = agent::node::run(client, node);
    tokio::pin!(registered);
    tokio::select! {
        result = &mut registered => result.context("node registration"),
        _ = crate::server::shutdown_signal() => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
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
