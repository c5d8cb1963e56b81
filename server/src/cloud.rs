//! Clouds gennaker manages, behind one `provider::Provider` trait (observe, create, resize,
//! enable, disable, destroy, load balancers, security groups). Caching agents, REST and deploy
//! stages on top of it come next. Parts:
//! - `cidr`: the address ranges of security group ingress rules;
//! - `local::balancer`: the local cloud's load balancer, a real reverse proxy;
//! - `local::processes`: its instances, supervised child processes;
//! - `local::cloud`: the local provider tying them together, its state kept in the store.

pub mod cidr;
pub mod local;
pub mod provider;
