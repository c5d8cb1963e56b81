//! The naming convention Spinnaker users know (Frigga's): `application-stack-detail-vNNN`.
//!
//! A *cluster* name is `application[-stack[-detail]]`, where the stack may be empty when a detail
//! follows (`app--detail`). A *server group* name is a cluster name plus `-vNNN` (three digits).
//! Parsing and formatting are exact inverses for every valid name, so a name read from a provider
//! and written back never changes (the property test below checks this).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name does not follow the convention; the message says which part is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("application name must be 1 to 63 letters or digits, got {0:?}")]
    Application(String),
    #[error("stack must be letters, digits, '_' or '.' (no hyphen), got {0:?}")]
    Stack(String),
    #[error("detail must be letters, digits, '_', '.' or '-' and must not end with '-', got {0:?}")]
    Detail(String),
    #[error("a cluster name needs a stack or a detail after a hyphen, got {0:?}")]
    DanglingHyphen(String),
    #[error("server group name must end in -vNNN (three digits), got {0:?}")]
    Version(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest application name accepted: a DNS label, so it can name hosts and Kubernetes objects.
pub const MAX_APPLICATION_LEN: usize = 63;

/// Checks an application name: ASCII letters and digits only.
pub fn validate_application(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_APPLICATION_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(Error::Application(name.to_string())) }
}

fn validate_stack(stack: &str) -> Result<()> {
    if stack.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
        Ok(())
    } else {
        Err(Error::Stack(stack.to_string()))
    }
}

fn validate_detail(detail: &str) -> Result<()> {
    let chars_ok = detail
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if chars_ok && !detail.ends_with('-') {
        Ok(())
    } else {
        Err(Error::Detail(detail.to_string()))
    }
}

/// `application[-stack[-detail]]`: the name of a cluster, which is a server group name without
/// its version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterName {
    pub application: String,
    /// Empty when absent.
    pub stack: String,
    /// Empty when absent; may contain hyphens.
    pub detail: String,
}

impl ClusterName {
    /// Builds a cluster name from its parts, checking each one.
    pub fn new(application: &str, stack: &str, detail: &str) -> Result<Self> {
        validate_application(application)?;
        validate_stack(stack)?;
        validate_detail(detail)?;
        Ok(Self {
            application: application.to_string(),
            stack: stack.to_string(),
            detail: detail.to_string(),
        })
    }

    pub fn parse(name: &str) -> Result<Self> {
        let (application, rest) = match name.split_once('-') {
            None => return Self::new(name, "", ""),
            Some(parts) => parts,
        };
        validate_application(application)?;
        let (stack, detail) = rest.split_once('-').unwrap_or((rest, ""));
        if detail.is_empty() && (stack.is_empty() || rest.ends_with('-')) {
            return Err(Error::DanglingHyphen(name.to_string()));
        }
        Self::new(application, stack, detail)
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.application)?;
        match (self.stack.is_empty(), self.detail.is_empty()) {
            (true, true) => Ok(()),
            (false, true) => write!(f, "-{}", self.stack),
            (_, false) => write!(f, "-{}-{}", self.stack, self.detail),
        }
    }
}

/// `cluster-vNNN`: one deployed version of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServerGroupName {
    pub cluster: ClusterName,
    /// 0 to 999, written with three digits.
    pub version: u16,
}

/// Server group versions wrap after this, as Spinnaker's do.
pub const MAX_VERSION: u16 = 999;

impl ServerGroupName {
    pub fn new(cluster: ClusterName, version: u16) -> Result<Self> {
        if version > MAX_VERSION {
            return Err(Error::Version(format!("{cluster}-v{version}")));
        }
        Ok(Self { cluster, version })
    }

    pub fn parse(name: &str) -> Result<Self> {
        let split = name.len().checked_sub(5).filter(|&at| name.is_char_boundary(at));
        let (cluster, suffix) = match split {
            Some(at) => name.split_at(at),
            None => return Err(Error::Version(name.to_string())),
        };
        let digits = suffix.strip_prefix("-v").filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let version = digits
            .and_then(|d| d.parse::<u16>().ok())
            .ok_or_else(|| Error::Version(name.to_string()))?;
        Ok(Self { cluster: ClusterName::parse(cluster)?, version })
    }

    /// The name of the version after this one, wrapping from v999 to v000.
    pub fn next(&self) -> Self {
        Self { cluster: self.cluster.clone(), version: (self.version + 1) % (MAX_VERSION + 1) }
    }
}

impl fmt::Display for ServerGroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-v{:03}", self.cluster, self.version)
    }
}

/// Any name a provider reports: a server group name when it ends in `-vNNN`, else a cluster name
/// (Frigga's `Names.parseName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Name {
    Cluster(ClusterName),
    ServerGroup(ServerGroupName),
}

impl Name {
    pub fn parse(name: &str) -> Result<Self> {
        // `app--v001` is not a server group of cluster `app-` (invalid) but cluster `app` with
        // detail `v001`: fall back to the cluster reading whenever the versioned one fails.
        ServerGroupName::parse(name)
            .map(Self::ServerGroup)
            .or_else(|_| ClusterName::parse(name).map(Self::Cluster))
    }

    pub fn cluster(&self) -> &ClusterName {
        match self {
            Self::Cluster(cluster) => cluster,
            Self::ServerGroup(server_group) => &server_group.cluster,
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cluster(cluster) => cluster.fmt(f),
            Self::ServerGroup(server_group) => server_group.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cluster(application: &str, stack: &str, detail: &str) -> ClusterName {
        ClusterName::new(application, stack, detail).unwrap()
    }

    #[test]
    fn cluster_names_from_the_convention() {
        assert_eq!(ClusterName::parse("app").unwrap(), cluster("app", "", ""));
        assert_eq!(ClusterName::parse("app-stack").unwrap(), cluster("app", "stack", ""));
        assert_eq!(ClusterName::parse("app--detail").unwrap(), cluster("app", "", "detail"));
        assert_eq!(ClusterName::parse("app-stack-detail").unwrap(), cluster("app", "stack", "detail"));
        assert_eq!(ClusterName::parse("app-s-de-tail").unwrap(), cluster("app", "s", "de-tail"));
    }

    #[test]
    fn server_group_names_carry_three_digit_versions() {
        let name = ServerGroupName::parse("shop-prod-canary-v007").unwrap();
        assert_eq!(name.cluster, cluster("shop", "prod", "canary"));
        assert_eq!(name.version, 7);
        assert_eq!(name.to_string(), "shop-prod-canary-v007");
        assert_eq!(ServerGroupName::parse("app-v000").unwrap().cluster, cluster("app", "", ""));
        assert_eq!(ServerGroupName::parse("app--d-v999").unwrap().cluster, cluster("app", "", "d"));
    }

    #[test]
    fn versions_that_are_not_three_digits_are_not_versions() {
        assert!(matches!(ServerGroupName::parse("app-v1"), Err(Error::Version(_))));
        assert!(matches!(ServerGroupName::parse("app-v0001"), Err(Error::Version(_))));
        assert!(matches!(ServerGroupName::parse("v001"), Err(Error::Version(_))));
        // As a plain name, a short version is part of the detail.
        assert_eq!(Name::parse("app-s-v1").unwrap(), Name::Cluster(cluster("app", "s", "v1")));
        assert!(matches!(Name::parse("app-s-v001").unwrap(), Name::ServerGroup(_)));
    }

    #[test]
    fn malformed_names_say_which_part_is_wrong() {
        assert!(matches!(ClusterName::parse(""), Err(Error::Application(_))));
        assert!(matches!(ClusterName::parse("bad name!"), Err(Error::Application(_))));
        assert!(matches!(ClusterName::parse("-stack"), Err(Error::Application(_))));
        assert!(matches!(ClusterName::parse("app-"), Err(Error::DanglingHyphen(_))));
        assert!(matches!(ClusterName::parse("app--"), Err(Error::DanglingHyphen(_))));
        assert!(matches!(ClusterName::parse("app-stack-"), Err(Error::DanglingHyphen(_))));
        assert!(matches!(ClusterName::parse("app-st ack"), Err(Error::Stack(_))));
        assert!(matches!(ClusterName::parse("app-s-d-"), Err(Error::Detail(_))));
        assert!(matches!(ClusterName::parse("app-s-d/x"), Err(Error::Detail(_))));
        assert!(validate_application(&"a".repeat(64)).is_err());
        assert!(validate_application(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn non_ascii_never_panics() {
        assert!(ServerGroupName::parse("ab-vé01").is_err());
        assert!(Name::parse("é").is_err());
    }

    #[test]
    fn next_version_wraps() {
        let last = ServerGroupName::parse("app-v999").unwrap();
        assert_eq!(last.next().to_string(), "app-v000");
    }

    fn arb_cluster() -> impl Strategy<Value = ClusterName> {
        (
            "[a-zA-Z0-9]{1,12}",
            "[a-zA-Z0-9_.]{0,6}",
            prop_oneof![Just(String::new()), "[a-zA-Z0-9_.-]{0,8}[a-zA-Z0-9_.]"],
        )
            .prop_map(|(a, s, d)| ClusterName { application: a, stack: s, detail: d })
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(cluster in arb_cluster(), version in 0u16..=999) {
            let text = cluster.to_string();
            prop_assert_eq!(ClusterName::parse(&text).unwrap(), cluster.clone());
            let server_group = ServerGroupName::new(cluster, version).unwrap();
            let text = server_group.to_string();
            prop_assert_eq!(ServerGroupName::parse(&text).unwrap(), server_group.clone());
            prop_assert_eq!(Name::parse(&text).unwrap(), Name::ServerGroup(server_group));
        }

        #[test]
        fn parse_then_format_is_identity(text in "[a-z0-9]{1,4}(-[a-z0-9_.]{0,3}(-[a-z0-9-]{0,4})?)?(-v[0-9]{3})?") {
            if let Ok(name) = Name::parse(&text) {
                prop_assert_eq!(name.to_string(), text);
            }
        }
    }
}
