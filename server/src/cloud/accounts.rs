//! The cloud accounts this build knows, by name and provider: the embedded `local` cloud.
//! AWS and Kubernetes accounts join when their providers land (as configuration, issue 13).

pub const KNOWN_ACCOUNTS: &[(&str, &str)] = &[("local", "local")];
