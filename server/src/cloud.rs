//! Clouds gennaker manages, behind one `provider::Provider` trait (observe, create, resize,
//! enable, disable, destroy, load balancers, security groups, jobs). Parts:
//! - `accounts`: the accounts (built in, from the clouds file, or made by admins), in the store;
//! - `clouds`: the configured providers and their accounts, and the caching agents;
//! - `cache`: the cluster cache REST and the UI read, and its live events;
//! - `leases`: one caching agent per location across instances sharing a database, the
//!   others loading what it publishes;
//! - `cidr`: the address ranges of security group ingress rules;
//! - `local::balancer`: the local cloud's load balancer, a real reverse proxy;
//! - `local::processes`: its instances, supervised child processes;
//! - `local::jobs`: its one-off processes (Run Job);
//! - `local::cloud`: the local provider tying them together, its state kept in the store;
//! - `kubernetes`: the Kubernetes provider (a manifest cloud) and its watch-based caching agent;
//! - `aws`: the AWS provider (Auto Scaling groups, ELBv2, EC2 security groups), a server-group cloud.

pub mod accounts;
pub mod aws;
pub mod cache;
pub mod cidr;
pub mod clouds;
pub mod kubernetes;
pub mod leases;
pub mod local;
pub mod provider;
