//! Images for bramble's agent: an in-memory OCI image builder (`oci`), the
//! pause image from our own C source (`pause`), import of image archives into
//! containerd's `k8s.io` namespace (`import`), and k3s's `registries.yaml`
//! rendered for containerd 1.6 (`registries`). Pulling images is containerd's
//! job (through CRI); nothing here talks to a registry except `oci::push`.

pub mod import;
pub mod oci;
pub mod pause;
pub mod registries;
