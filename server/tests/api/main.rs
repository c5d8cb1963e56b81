//! Black-box tests: the real application on a free port, over HTTP, against SQLite and Postgres.

mod applications;
mod artifacts;
mod architecture;
mod balancer;
mod auth;
mod binary;
mod clusters;
mod compatibility;
mod demo;
mod demo_app;
mod durability;
mod engine;
mod execution_filters;
mod gate;
mod helpers;
mod import;
mod jenkins;
mod local_cloud;
mod notifications;
mod pipelines;
mod platform;
mod processes;
mod secrets;
mod security;
mod strategies;
mod triggers;
