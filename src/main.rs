//! The `bramble` binary: one program for the server (store, and later the API
//! server, controllers and agent) and its tools. Only wiring lives here.

mod agent;
mod cli;
mod config_file;
mod hollow;
mod notify;
mod server;

use clap::Parser;

/// Names under which containerd runs this binary as a CNI plugin (links in
/// the agent's CNI bin directory).
const CNI_PLUGINS: &[&str] = &["bramble-cni", "loopback"];

fn main() -> std::process::ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let called = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    if CNI_PLUGINS.contains(&called.as_str()) {
        // The CNI protocol: config on stdin, result on stdout, no logging to the terminal.
        let code = netd::plugin_main(&called);
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let args = match config_file::args_with_config(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bramble: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let cli = cli::Cli::parse_from(args);
    init_logging(cli.debug);
    // One crypto provider for rustls, tonic and etcd-client (ARCHITECTURE.md).
    if rustls::crypto::aws_lc_rs::default_provider().install_default().is_err() {
        tracing::debug!("a rustls crypto provider was already installed");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bramble: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Server(args) => server::run(args).await,
            cli::Command::Agent(args) => agent::run(args).await,
            cli::Command::Token(cli::TokenArgs { command: cli::TokenCommand::Create(args) }) => {
                agent::token_create(args).await
            }
            cli::Command::HollowNodes(args) => hollow::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("bramble: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(debug: bool) {
    let default = if debug { "debug,openraft=info,h2=info,tower=info" } else { "info,openraft=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
