//! Types shared by the browser, REST and the server: what gennaker talks about.
//!
//! They are plain serde structs with Spinnaker's field names where Spinnaker has them, so JSON
//! users already know keeps working. Rows and SDK types never leave the server; they are
//! converted into these at the edge.

pub mod application;
pub mod artifact;
pub mod canary;
pub mod canary_report;
pub mod auth;
pub mod clouds;
pub mod cluster;
pub mod cluster_page;
pub mod execution;
pub mod execution_delta;
pub mod import;
pub mod lenient;
pub mod manifests;
pub mod names;
pub mod notification;
pub mod pipeline;
pub mod scaling;
pub mod stage_types;
pub mod time;
pub mod trigger;

pub use application::{Application, ApplicationPatch, NewApplication};
pub use cluster::{
    Artifact, Capacity, Cluster, HealthCheck, HealthState, IngressRule, Instance, Listener,
    LoadBalancer, Location, Protocol, SecurityGroup, ServerGroup,
};
pub use names::{ClusterName, Name, ServerGroupName};
