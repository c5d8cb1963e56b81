//! Clouds gennaker manages. The provider trait (observe, create, resize, enable, disable,
//! destroy, load balancers, security groups, jobs) and the caching agents arrive with the rest
//! of the local cloud; what is here is already used by it:
//! - `cidr`: the address ranges of security group ingress rules;
//! - `local::balancer`: the local cloud's load balancer, a real reverse proxy;
//! - `local::processes`: its instances, supervised child processes.

pub mod cidr;
pub mod local;
