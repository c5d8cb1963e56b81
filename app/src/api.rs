//! Server functions: the UI's private RPC. Each is thin: fetch the services, call one, return.
//! Automation uses the REST API under `/api/v1`, which calls the same services.

pub mod applications;
pub mod auth;
pub mod canary;
#[cfg(any(feature = "ssr", test))]
mod canary_form;
pub mod clouds;
pub mod clusters;
pub mod overview;
pub mod pipelines;
pub mod search;
#[cfg(any(feature = "ssr", test))]
mod server_group_tasks;
pub mod tasks;
