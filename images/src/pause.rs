//! The pause image, built from our own `pause/pause.c` (compiled by
//! `build.rs` for the target architecture, and for arm64 too when an x86_64
//! build host has the cross compiler). It only packages the binary; importing
//! it into containerd is `import::ensure_pause`.

use crate::oci::{ImageBlobs, ImageBuilder, Layout};

/// The pause image's name; containerd's `sandbox_image` names it too.
pub const IMAGE: &str = "docker.io/bramble/pause:0.1";

/// Go architecture of the target the crate was built for.
pub const ARCH: &str = env!("BRAMBLE_PAUSE_GOARCH");

/// The static pause binary for [`ARCH`].
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause-", env!("BRAMBLE_PAUSE_GOARCH")));

/// The arm64 binary built next to an x86_64 one, empty when no cross compiler was found.
const ARM64_EXTRA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause-arm64-extra"));

/// The pause binaries this build has, as (Go architecture, binary).
pub fn binaries() -> Vec<(&'static str, &'static [u8])> {
    let mut out = vec![(ARCH, BINARY)];
    if !ARM64_EXTRA.is_empty() && ARCH != "arm64" {
        out.push(("arm64", ARM64_EXTRA));
    }
    out
}

/// The pause image for one architecture: `/pause` as entrypoint, run as root
/// (containerd's CRI runs the sandbox with the image's user).
pub fn image(arch: &str, binary: &[u8]) -> ImageBlobs {
    ImageBuilder::new(IMAGE, arch).file("/pause", binary.to_vec(), 0o755).entrypoint(["/pause"]).blobs()
}

/// The pause image's OCI layout: one manifest for the host platform, or an
/// index of both platforms when the arm64 binary was built as well.
pub fn layout() -> Layout {
    let images: Vec<ImageBlobs> = binaries().into_iter().map(|(arch, binary)| image(arch, binary)).collect();
    Layout::of(&images)
}

/// The pause image as an OCI archive (see [`layout`]).
pub fn archive() -> Vec<u8> {
    layout().archive()
}

/// The digest containerd's `IMAGE` record points at when it holds this build's pause image.
pub fn target_digest() -> String {
    layout().target_digest(IMAGE).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ELF e_machine for a Go architecture.
    fn machine(arch: &str) -> u16 {
        match arch {
            "amd64" => 62,
            "arm64" => 183,
            "arm" => 40,
            "riscv64" => 243,
            other => panic!("unexpected arch {other}"),
        }
    }

    #[test]
    fn embedded_binaries_are_static_elfs_of_their_machine() {
        for (arch, binary) in binaries() {
            assert_eq!(&binary[..4], b"\x7fELF", "{arch}");
            assert_eq!(binary[4], 2, "{arch}: 64-bit");
            assert_eq!(binary[5], 1, "{arch}: little endian");
            let e_type = u16::from_le_bytes([binary[16], binary[17]]);
            assert_eq!(e_type, 2, "{arch}: ET_EXEC (static, not PIE)");
            assert_eq!(u16::from_le_bytes([binary[18], binary[19]]), machine(arch), "{arch}");
            // A static binary has no PT_INTERP program header (type 3).
            let phoff = u64::from_le_bytes(binary[32..40].try_into().unwrap()) as usize;
            let phentsize = u16::from_le_bytes([binary[54], binary[55]]) as usize;
            let phnum = u16::from_le_bytes([binary[56], binary[57]]) as usize;
            for i in 0..phnum {
                let at = phoff + i * phentsize;
                let p_type = u32::from_le_bytes(binary[at..at + 4].try_into().unwrap());
                assert_ne!(p_type, 3, "{arch}: has an interpreter");
            }
        }
        let host = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        assert_eq!(ARCH, host, "built for the host in tests");
    }

    /// Runs the binary: it stays up until SIGTERM and then exits 0.
    #[test]
    fn pause_exits_zero_on_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause");
        std::fs::write(&path, BINARY).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "pause exited on its own");
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
    }

    #[test]
    fn archive_names_the_image() {
        let archive = archive();
        let mut tar = tar::Archive::new(archive.as_slice());
        let mut index = None;
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_str() == Some("index.json") {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                index = Some(serde_json::from_str::<serde_json::Value>(&text).unwrap());
            }
        }
        let index = index.unwrap();
        assert_eq!(index["manifests"][0]["annotations"][crate::oci::ANNOTATION_CONTAINERD_NAME], IMAGE);
        assert_eq!(index["manifests"][0]["digest"], target_digest());
        assert!(target_digest().starts_with("sha256:"));
    }
}
