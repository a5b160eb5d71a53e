//! The root CA publisher: a `kube-root-ca.crt` ConfigMap in every namespace
//! holding the CA that signs the API server's certificate, so that pods can
//! trust the API server (projected service-account volumes mount it).
//! A changed or deleted ConfigMap is put back.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::per_namespace::{self, is_benign, is_not_found};

const NAME: &str = "kube-root-ca.crt";
const KEY: &str = "ca.crt";
/// Upstream's annotation on the ConfigMap.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal \
endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across \
distributions of Kubernetes clusters.";

pub async fn run(client: kube::Client, ca_pem: String) {
    let reconcile = |namespace: String| {
        let (client, ca_pem) = (client.clone(), ca_pem.clone());
        async move { ensure(client, &namespace, &ca_pem).await }
    };
    per_namespace::run::<ConfigMap, _, _>(client.clone(), NAME, reconcile).await;
}

fn wanted(ca_pem: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            annotations: Some(BTreeMap::from([("kubernetes.io/description".to_string(), DESCRIPTION.to_string())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(KEY.to_string(), ca_pem.to_string())])),
        ..Default::default()
    }
}

async fn ensure(client: kube::Client, namespace: &str, ca_pem: &str) -> Result<(), kube::Error> {
    let maps: Api<ConfigMap> = Api::namespaced(client, namespace);
    let mut want = wanted(ca_pem);
    let result = match maps.get(NAME).await {
        Ok(current) if current.data == want.data => return Ok(()),
        Ok(current) => {
            want.metadata.resource_version = current.metadata.resource_version;
            maps.replace(NAME, &PostParams::default(), &want).await
        }
        Err(e) if is_not_found(&e) => maps.create(&PostParams::default(), &want).await,
        Err(e) => return Err(e),
    };
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_benign(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
