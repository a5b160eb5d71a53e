//! `bramble hollow-nodes`: the wiring of the agent crate's hollow nodes.

use anyhow::Context;

use crate::cli::HollowArgs;

pub async fn run(args: HollowArgs) -> anyhow::Result<()> {
    let mut labels = std::collections::BTreeMap::new();
    for label in &args.node_labels {
        let (k, v) = label.split_once('=').with_context(|| format!("--node-label {label:?}: expected key=value"))?;
        labels.insert(k.to_string(), v.to_string());
    }
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("cannot read the kubeconfig {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .with_context(|| format!("the kubeconfig {} is not usable", args.kubeconfig.display()))?;
    let client = kube::Client::try_from(config).context("cannot build a client from the kubeconfig")?;
    let config = agent::hollow::Config {
        prefix: args.name_prefix,
        count: args.nodes,
        cpu: args.cpu,
        memory: args.memory,
        max_pods: args.max_pods,
        labels,
    };
    crate::notify::ready();
    agent::hollow::run(client, config).await.context("hollow nodes")
}
