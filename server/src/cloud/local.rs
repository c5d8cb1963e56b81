//! The embedded `local` cloud: instances are processes on this machine, load balancers are
//! reverse proxies inside gennaker.

pub mod autoscaler;
pub mod balancer;
pub mod builds;
pub mod cloud;
pub mod jobs;
pub mod processes;
pub mod sandbox;
