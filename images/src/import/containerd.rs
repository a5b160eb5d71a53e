//! The few containerd calls an import needs (content Info/Write/Update,
//! leases, images), each carrying the `k8s.io` namespace and, during an
//! import, the import's lease. It decides nothing about archives.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use containerd_client::services::v1::{
    CreateImageRequest, CreateRequest, DeleteRequest, GetImageRequest, Image, InfoRequest, UpdateImageRequest,
    UpdateRequest, WriteAction, WriteContentRequest, WriteContentResponse, content_client::ContentClient,
    images_client::ImagesClient, leases_client::LeasesClient,
};
use containerd_client::types::Descriptor as ApiDescriptor;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

use super::archive::CHUNK;
use super::{Descriptor, NAMESPACE};

/// A blob streamed into the content store while the archive was read.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) digest: String,
    pub(crate) size: u64,
    /// Its first bytes, to tell compressed layers apart.
    pub(crate) head: Vec<u8>,
}

/// containerd's API in the `k8s.io` namespace, optionally under a lease.
#[derive(Debug, Clone)]
pub(crate) struct Containerd {
    channel: Channel,
    lease: Option<String>,
}

impl Containerd {
    pub(crate) fn new(channel: Channel) -> Self {
        Containerd { channel, lease: None }
    }

    pub(crate) fn with_lease(&self, lease: &str) -> Self {
        Containerd { channel: self.channel.clone(), lease: Some(lease.to_string()) }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        metadata.insert("containerd-namespace", MetadataValue::from_static(NAMESPACE));
        if let Some(lease) = &self.lease
            && let Ok(value) = MetadataValue::try_from(lease.as_str())
        {
            metadata.insert("containerd-lease", value);
        }
        request
    }

    /// A lease that expires after an hour on its own, should we die mid-import.
    pub(crate) async fn create_lease(&self) -> Result<String, Status> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let id = format!("bramble-import-{}-{}", now.as_nanos(), std::process::id());
        let expire = rfc3339(now + Duration::from_secs(3600));
        let labels = HashMap::from([("containerd.io/gc.expire".to_string(), expire)]);
        LeasesClient::new(self.channel.clone()).create(self.request(CreateRequest { id: id.clone(), labels })).await?;
        Ok(id)
    }

    pub(crate) async fn delete_lease(&self, id: &str) -> Result<(), Status> {
        LeasesClient::new(self.channel.clone())
            .delete(self.request(DeleteRequest { id: id.to_string(), sync: false }))
            .await?;
        Ok(())
    }

    pub(crate) async fn has_blob(&self, digest: &str) -> Result<bool, Status> {
        match ContentClient::new(self.channel.clone())
            .info(self.request(InfoRequest { digest: digest.to_string() }))
            .await
        {
            Ok(_) => Ok(true),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(status),
        }
    }

    /// Merges `labels` into the blob's labels (containerd replaces all labels
    /// when no field mask is given, so the present ones are read first).
    pub(crate) async fn add_labels(&self, digest: &str, labels: BTreeMap<String, String>) -> Result<(), Status> {
        let mut client = ContentClient::new(self.channel.clone());
        let info = client.info(self.request(InfoRequest { digest: digest.to_string() })).await?.into_inner();
        let mut info = info.info.ok_or_else(|| Status::internal("Content.Info answered without info"))?;
        if labels.iter().all(|(k, v)| info.labels.get(k) == Some(v)) {
            return Ok(());
        }
        info.labels.extend(labels);
        client.update(self.request(UpdateRequest { info: Some(info), update_mask: None })).await?;
        Ok(())
    }

    /// Writes a whole blob from memory.
    pub(crate) async fn write_all(&self, digest: &str, bytes: &[u8]) -> Result<(), Status> {
        let Some(mut upload) = self.begin_write(Some(digest), bytes.len() as u64).await? else { return Ok(()) };
        for chunk in bytes.chunks(CHUNK) {
            upload.write(chunk.to_vec()).await?;
        }
        upload.commit(digest, BTreeMap::new()).await
    }

    /// Opens a Content.Write stream for a blob of `total` bytes; `None` when
    /// containerd already has `expected`.
    pub(crate) async fn begin_write(&self, expected: Option<&str>, total: u64) -> Result<Option<Upload>, Status> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        // Unique per write, so two imports of the same blob never contend for
        // one ingest ("ref locked"); an abandoned ingest belongs to the
        // import's lease and goes with it.
        let reference = format!(
            "bramble-import-{}-{}-{}",
            expected.unwrap_or("unknown").trim_start_matches("sha256:"),
            now.as_nanos(),
            std::process::id()
        );
        let (tx, rx) = mpsc::channel(2);
        // The first message must be queued before the call: containerd
        // answers (and sends headers) only once it has read one.
        let status = WriteContentRequest {
            action: WriteAction::Stat as i32,
            r#ref: reference.clone(),
            total: total as i64,
            expected: expected.unwrap_or_default().to_string(),
            ..Default::default()
        };
        tx.send(status).await.map_err(|_| Status::internal("write stream closed"))?;
        let opened = ContentClient::new(self.channel.clone()).write(self.request(ReceiverStream::new(rx))).await;
        let responses = match opened {
            Ok(responses) => responses.into_inner(),
            Err(status) if status.code() == Code::AlreadyExists => return Ok(None),
            Err(status) => return Err(status),
        };
        let mut upload = Upload { tx, responses, reference, total, offset: 0 };
        match upload.reply().await {
            Ok(_) => Ok(Some(upload)),
            Err(status) if status.code() == Code::AlreadyExists => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// The target of image `name`, if containerd has it.
    pub(crate) async fn image_target(&self, name: &str) -> Result<Option<ApiDescriptor>, Status> {
        match ImagesClient::new(self.channel.clone())
            .get(self.request(GetImageRequest { name: name.to_string() }))
            .await
        {
            Ok(response) => Ok(response.into_inner().image.and_then(|image| image.target)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// Creates image `name` pointing at `target`, or points it there.
    pub(crate) async fn put_image<'a>(
        &self,
        name: &str,
        target: Descriptor,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), Status> {
        let image = Image {
            name: name.to_string(),
            labels: labels.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            target: Some(ApiDescriptor {
                media_type: target.media_type,
                digest: target.digest,
                size: target.size,
                annotations: HashMap::new(),
            }),
            created_at: None,
            updated_at: None,
        };
        let mut client = ImagesClient::new(self.channel.clone());
        match client
            .create(self.request(CreateImageRequest { image: Some(image.clone()), source_date_epoch: None }))
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::AlreadyExists => {
                client
                    .update(self.request(UpdateImageRequest {
                        image: Some(image),
                        update_mask: None,
                        source_date_epoch: None,
                    }))
                    .await?;
                Ok(())
            }
            Err(status) => Err(status),
        }
    }
}

/// An open Content.Write stream.
#[derive(Debug)]
pub(crate) struct Upload {
    tx: mpsc::Sender<WriteContentRequest>,
    responses: Streaming<WriteContentResponse>,
    reference: String,
    total: u64,
    offset: u64,
}

impl Upload {
    async fn reply(&mut self) -> Result<WriteContentResponse, Status> {
        self.responses.message().await?.ok_or_else(|| Status::internal("Content.Write stream ended early"))
    }

    async fn send(&mut self, request: WriteContentRequest) -> Result<WriteContentResponse, Status> {
        if self.tx.send(request).await.is_err() {
            // containerd closed the stream; its status says why.
            return Err(self
                .responses
                .message()
                .await
                .err()
                .unwrap_or_else(|| Status::internal("write stream closed")));
        }
        self.reply().await
    }

    /// Appends `data` at the current offset.
    pub(crate) async fn write(&mut self, data: Vec<u8>) -> Result<(), Status> {
        let len = data.len() as u64;
        let request = WriteContentRequest {
            action: WriteAction::Write as i32,
            r#ref: self.reference.clone(),
            total: self.total as i64,
            offset: self.offset as i64,
            data,
            ..Default::default()
        };
        self.send(request).await?;
        self.offset += len;
        Ok(())
    }

    /// Commits the blob as `digest`; an already present blob is success.
    pub(crate) async fn commit(mut self, digest: &str, labels: BTreeMap<String, String>) -> Result<(), Status> {
        let request = WriteContentRequest {
            action: WriteAction::Commit as i32,
            r#ref: self.reference.clone(),
            total: self.total as i64,
            offset: self.offset as i64,
            expected: digest.to_string(),
            labels: labels.into_iter().collect(),
            ..Default::default()
        };
        match self.send(request).await {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::AlreadyExists => Ok(()),
            Err(status) => Err(status),
        }
    }

    /// Gives up on the blob; containerd drops the partial ingest when its
    /// stream closes without a commit and the lease goes.
    pub(crate) async fn abort(self) {
        drop(self.tx);
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time since the Unix epoch.
fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(Duration::from_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(Duration::from_secs(1_796_256_000 + 3661)), "2026-12-03T01:01:01Z");
    }
}
