//! bramble's node agent. Real pods through containerd come with issue 5;
//! today this crate has the hollow nodes ([`hollow`]), fake kubelets for
//! tests and benchmarks of the controllers and the scheduler.

pub mod hollow;
