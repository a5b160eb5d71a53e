//! The ServiceAccount controller's first duty: a `default` ServiceAccount
//! in every namespace, made again if it is deleted. (Tokens for it come
//! with the TokenRequest API, not from this controller.)

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::per_namespace::{self, is_benign, is_not_found};

const NAME: &str = "default";

pub async fn run(client: kube::Client) {
    let reconcile = |namespace: String| {
        let client = client.clone();
        async move { ensure(client, &namespace).await }
    };
    per_namespace::run::<ServiceAccount, _, _>(client.clone(), NAME, reconcile).await;
}

async fn ensure(client: kube::Client, namespace: &str) -> Result<(), kube::Error> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client, namespace);
    match accounts.get(NAME).await {
        Ok(_) => return Ok(()),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(e),
    }
    let account =
        ServiceAccount { metadata: ObjectMeta { name: Some(NAME.into()), ..Default::default() }, ..Default::default() };
    match accounts.create(&PostParams::default(), &account).await {
        Ok(_) => {
            tracing::debug!(%namespace, "created the default ServiceAccount");
            Ok(())
        }
        Err(e) if is_benign(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
