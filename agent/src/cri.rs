//! A CRI `runtime.v1` client over a unix socket: both services (runtime and
//! image) on one tonic channel, with thin helpers that name what failed.
//! It knows nothing of Kubernetes objects; turning a Pod into CRI configs is
//! the kubelet's job (`kubelet::spec`).

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// The CRI API version we speak.
pub const API_VERSION: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("connecting to the CRI socket {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("CRI {call}: {status}")]
    Call {
        call: &'static str,
        #[source]
        status: tonic::Status,
    },
    #[error("CRI {call}: the runtime's answer has no {field}")]
    Incomplete { call: &'static str, field: &'static str },
}

impl CriError {
    /// The gRPC code of a failed call (`NotFound` when a container or sandbox is already gone).
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            CriError::Call { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
    }

    /// The runtime's own message, without our prefix (what a pod's waiting reason shows).
    pub fn message(&self) -> String {
        match self {
            CriError::Call { status, .. } => status.message().to_string(),
            other => other.to_string(),
        }
    }
}

fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> CriError {
    move |status| CriError::Call { call, status }
}

/// Connects to a unix socket for every new HTTP/2 connection tonic opens.
#[derive(Clone)]
struct UnixConnector(PathBuf);

impl tonic::codegen::Service<Uri> for UnixConnector {
    type Response = TokioIo<tokio::net::UnixStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let path = self.0.clone();
        Box::pin(async move { Ok(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) })
    }
}

/// Both CRI services of one runtime. Cheap to clone (one shared channel).
#[derive(Clone)]
pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

/// Connects to the CRI socket at `socket` (a path, or `unix://` + path).
pub async fn connect(socket: &Path) -> Result<Cri, CriError> {
    let path = match socket.to_str().and_then(|s| s.strip_prefix("unix://")) {
        Some(rest) => PathBuf::from(rest),
        None => socket.to_path_buf(),
    };
    let endpoint = Endpoint::from_static("http://[::]:50051").connect_timeout(Duration::from_secs(5));
    let channel = endpoint
        .connect_with_connector(UnixConnector(path.clone()))
        .await
        .map_err(|source| CriError::Connect { path, source })?;
    // Image lists and container lists of a busy node exceed tonic's 4 MiB default.
    let runtime = RuntimeServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let images = ImageServiceClient::new(channel).max_decoding_message_size(64 << 20);
    Ok(Cri { runtime, images })
}

impl Cri {
    pub async fn version(&self) -> Result<cri::VersionResponse, CriError> {
        let request = cri::VersionRequest { version: API_VERSION.into() };
        Ok(self.runtime.clone().version(request).await.map_err(call("Version"))?.into_inner())
    }

    pub async fn run_pod_sandbox(&self, config: cri::PodSandboxConfig) -> Result<String, CriError> {
        let request = cri::RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() };
        Ok(self
            .runtime
            .clone()
            .run_pod_sandbox(request)
            .await
            .map_err(call("RunPodSandbox"))?
            .into_inner()
            .pod_sandbox_id)
    }

    pub async fn stop_pod_sandbox(&self, id: &str) -> Result<(), CriError> {
        let request = cri::StopPodSandboxRequest { pod_sandbox_id: id.into() };
        self.runtime.clone().stop_pod_sandbox(request).await.map_err(call("StopPodSandbox"))?;
        Ok(())
    }

    pub async fn remove_pod_sandbox(&self, id: &str) -> Result<(), CriError> {
        let request = cri::RemovePodSandboxRequest { pod_sandbox_id: id.into() };
        self.runtime.clone().remove_pod_sandbox(request).await.map_err(call("RemovePodSandbox"))?;
        Ok(())
    }

    pub async fn pod_sandbox_status(&self, id: &str) -> Result<cri::PodSandboxStatus, CriError> {
        let request = cri::PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: false };
        let response = self.runtime.clone().pod_sandbox_status(request).await.map_err(call("PodSandboxStatus"))?;
        response.into_inner().status.ok_or(CriError::Incomplete { call: "PodSandboxStatus", field: "status" })
    }

    /// The sandboxes whose labels include all of `labels`.
    pub async fn list_pod_sandboxes(&self, labels: HashMap<String, String>) -> Result<Vec<cri::PodSandbox>, CriError> {
        let filter = cri::PodSandboxFilter { label_selector: labels, ..Default::default() };
        let request = cri::ListPodSandboxRequest { filter: Some(filter) };
        Ok(self.runtime.clone().list_pod_sandbox(request).await.map_err(call("ListPodSandbox"))?.into_inner().items)
    }

    pub async fn create_container(
        &self,
        sandbox_id: &str,
        config: cri::ContainerConfig,
        sandbox_config: cri::PodSandboxConfig,
    ) -> Result<String, CriError> {
        let request = cri::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.into(),
            config: Some(config),
            sandbox_config: Some(sandbox_config),
        };
        Ok(self
            .runtime
            .clone()
            .create_container(request)
            .await
            .map_err(call("CreateContainer"))?
            .into_inner()
            .container_id)
    }

    pub async fn start_container(&self, id: &str) -> Result<(), CriError> {
        let request = cri::StartContainerRequest { container_id: id.into() };
        self.runtime.clone().start_container(request).await.map_err(call("StartContainer"))?;
        Ok(())
    }

    /// SIGTERM (or the image's stop signal), then SIGKILL after `grace`.
    pub async fn stop_container(&self, id: &str, grace: Duration) -> Result<(), CriError> {
        let timeout = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        let request = cri::StopContainerRequest { container_id: id.into(), timeout };
        let mut runtime = self.runtime.clone();
        // The call lasts as long as the grace period; tonic has no default deadline.
        runtime.stop_container(request).await.map_err(call("StopContainer"))?;
        Ok(())
    }

    pub async fn remove_container(&self, id: &str) -> Result<(), CriError> {
        let request = cri::RemoveContainerRequest { container_id: id.into() };
        self.runtime.clone().remove_container(request).await.map_err(call("RemoveContainer"))?;
        Ok(())
    }

    /// The containers of one sandbox (`sandbox_id` empty: of all), whose labels include all of `labels`.
    pub async fn list_containers(
        &self,
        sandbox_id: &str,
        labels: HashMap<String, String>,
    ) -> Result<Vec<cri::Container>, CriError> {
        let filter =
            cri::ContainerFilter { pod_sandbox_id: sandbox_id.into(), label_selector: labels, ..Default::default() };
        let request = cri::ListContainersRequest { filter: Some(filter) };
        Ok(self.runtime.clone().list_containers(request).await.map_err(call("ListContainers"))?.into_inner().containers)
    }

    pub async fn container_status(&self, id: &str) -> Result<cri::ContainerStatus, CriError> {
        let request = cri::ContainerStatusRequest { container_id: id.into(), verbose: false };
        let response = self.runtime.clone().container_status(request).await.map_err(call("ContainerStatus"))?;
        response.into_inner().status.ok_or(CriError::Incomplete { call: "ContainerStatus", field: "status" })
    }

    /// Runs `cmd` in a container and waits for it, at most `timeout` (whole seconds, at least 1).
    pub async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> Result<cri::ExecSyncResponse, CriError> {
        let secs = i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX);
        let request = cri::ExecSyncRequest { container_id: id.into(), cmd, timeout: secs };
        let mut request = tonic::Request::new(request);
        // A little more than the runtime's own timeout, so the runtime reports it, not us.
        request.set_timeout(timeout + Duration::from_secs(5));
        Ok(self.runtime.clone().exec_sync(request).await.map_err(call("ExecSync"))?.into_inner())
    }

    /// The image's status, `None` when the runtime does not have it.
    pub async fn image_status(&self, image: &str) -> Result<Option<cri::Image>, CriError> {
        let spec = cri::ImageSpec { image: image.into(), ..Default::default() };
        let request = cri::ImageStatusRequest { image: Some(spec), verbose: false };
        Ok(self.images.clone().image_status(request).await.map_err(call("ImageStatus"))?.into_inner().image)
    }

    /// Pulls an image; returns its reference (`sha256:...`).
    pub async fn pull_image(
        &self,
        image: &str,
        auth: Option<cri::AuthConfig>,
        sandbox_config: Option<cri::PodSandboxConfig>,
    ) -> Result<String, CriError> {
        let spec = cri::ImageSpec { image: image.into(), ..Default::default() };
        let request = cri::PullImageRequest { image: Some(spec), auth, sandbox_config };
        Ok(self.images.clone().pull_image(request).await.map_err(call("PullImage"))?.into_inner().image_ref)
    }
}
