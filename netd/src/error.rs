//! Everything the plugin can fail at, and the one map from a failure to the CNI error
//! object (`code`, `msg`, `details`) of the spec's "Error" section. Nothing else in the
//! crate chooses an error code.

use std::path::PathBuf;

/// A failed CNI operation.
#[derive(Debug, thiserror::Error)]
pub enum CniError {
    /// The configuration's `cniVersion` is not one this plugin speaks.
    #[error("incompatible CNI versions: config is {requested:?}, plugin supports {supported:?}")]
    IncompatibleVersion { requested: String, supported: &'static [&'static str] },
    /// The command exists only from a later spec version than the configuration's.
    #[error("config version {version} does not allow {command}")]
    CommandNotInVersion { version: &'static str, command: &'static str },
    /// The network namespace named by `CNI_NETNS` cannot be opened.
    #[error("network namespace {} cannot be opened", path.display())]
    NoNetns {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `CNI_*` variable the command needs is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
    /// A `CNI_*` variable is set to something the spec does not allow.
    #[error("environment variable {name} is invalid: {reason}")]
    InvalidEnv { name: &'static str, reason: String },
    /// `CNI_COMMAND` names no command this plugin knows.
    #[error("unknown CNI_COMMAND {0:?}")]
    UnknownCommand(String),
    /// The plugin was started under a name that is not one of ours.
    #[error("unknown plugin {0:?}: this binary answers as bramble-cni or loopback")]
    UnknownPlugin(String),
    /// The configuration on stdin is not the JSON we expect.
    #[error("cannot decode the network configuration")]
    Decode(#[source] serde_json::Error),
    /// The configuration decodes but a field is unusable.
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
    /// Every address of the subnet is allocated.
    #[error("no free address left in {subnet} for network {network}")]
    RangeFull { network: String, subnet: String },
    /// Reading or writing a file (allocations, sysctl, stdin) failed.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A netlink request (links, addresses, routes) failed.
    #[error("{what}")]
    Netlink {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
    /// `nft` could not be run or refused the script.
    #[error("nft failed: {0}")]
    Nft(String),
    /// CHECK found the attachment different from what ADD made.
    #[error("check failed: {0}")]
    CheckFailed(String),
}

/// Error code of a plugin-specific failure (the spec reserves 1-99 for itself).
pub const CODE_RANGE_FULL: u32 = 100;
/// Error code of a failed netlink request.
pub const CODE_NETLINK: u32 = 101;
/// Error code of a failed `nft` run.
pub const CODE_NFT: u32 = 102;
/// Error code of a CHECK that found a difference.
pub const CODE_CHECK_FAILED: u32 = 103;

impl CniError {
    /// The spec's well-known code (1-11) or one of ours (100 and up).
    pub fn code(&self) -> u32 {
        match self {
            Self::IncompatibleVersion { .. } | Self::CommandNotInVersion { .. } => 1,
            Self::NoNetns { .. } => 3,
            Self::MissingEnv(_) | Self::InvalidEnv { .. } | Self::UnknownCommand(_) => 4,
            Self::Io { .. } => 5,
            Self::Decode(_) => 6,
            Self::InvalidConfig(_) | Self::UnknownPlugin(_) => 7,
            Self::RangeFull { .. } => CODE_RANGE_FULL,
            Self::Netlink { .. } => CODE_NETLINK,
            Self::Nft(_) => CODE_NFT,
            Self::CheckFailed(_) => CODE_CHECK_FAILED,
        }
    }

    /// The error object printed on stdout: `msg` is this error, `details` its causes.
    pub fn to_wire(&self, cni_version: &str) -> serde_json::Value {
        let mut details = Vec::new();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            details.push(e.to_string());
            cause = e.source();
        }
        let mut wire = serde_json::json!({
            "cniVersion": cni_version,
            "code": self.code(),
            "msg": self.to_string(),
        });
        if !details.is_empty() {
            wire["details"] = serde_json::Value::String(details.join(": "));
        }
        wire
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }

    pub(crate) fn netlink(what: impl Into<String>, source: rtnetlink::Error) -> Self {
        Self::Netlink { what: what.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: CniError, code: u32, msg: &str, details: Option<&str>) {
        let wire = error.to_wire("1.0.0");
        assert_eq!(wire["cniVersion"], "1.0.0");
        assert_eq!(wire["code"], code, "{error:?}");
        assert_eq!(wire["msg"], msg);
        assert_eq!(wire.get("details").and_then(|d| d.as_str()), details);
    }

    #[test]
    fn every_variant_has_its_code_and_message() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        check(
            CniError::IncompatibleVersion { requested: "0.2.0".into(), supported: &["1.0.0"] },
            1,
            r#"incompatible CNI versions: config is "0.2.0", plugin supports ["1.0.0"]"#,
            None,
        );
        check(
            CniError::CommandNotInVersion { version: "0.3.1", command: "CHECK" },
            1,
            "config version 0.3.1 does not allow CHECK",
            None,
        );
        check(
            CniError::NoNetns { path: "/run/netns/x".into(), source: io() },
            3,
            "network namespace /run/netns/x cannot be opened",
            Some("entity not found"),
        );
        check(CniError::MissingEnv("CNI_IFNAME"), 4, "environment variable CNI_IFNAME is not set", None);
        check(
            CniError::InvalidEnv { name: "CNI_IFNAME", reason: "too long".into() },
            4,
            "environment variable CNI_IFNAME is invalid: too long",
            None,
        );
        check(CniError::UnknownCommand("FOO".into()), 4, r#"unknown CNI_COMMAND "FOO""#, None);
        check(
            CniError::UnknownPlugin("x".into()),
            7,
            r#"unknown plugin "x": this binary answers as bramble-cni or loopback"#,
            None,
        );
        let decode = serde_json::from_str::<serde_json::Value>("{").expect_err("bad json");
        let decode_text = decode.to_string();
        check(CniError::Decode(decode), 6, "cannot decode the network configuration", Some(&decode_text));
        check(CniError::InvalidConfig("no subnet".into()), 7, "invalid network configuration: no subnet", None);
        check(
            CniError::RangeFull { network: "n".into(), subnet: "10.0.0.0/30".into() },
            100,
            "no free address left in 10.0.0.0/30 for network n",
            None,
        );
        check(CniError::io("cannot read x", io()), 5, "cannot read x", Some("entity not found"));
        check(
            CniError::netlink("cannot add link", rtnetlink::Error::RequestFailed),
            101,
            "cannot add link",
            Some("A netlink request failed"),
        );
        check(CniError::Nft("syntax".into()), 102, "nft failed: syntax", None);
        check(CniError::CheckFailed("no eth0".into()), 103, "check failed: no eth0", None);
    }
}
