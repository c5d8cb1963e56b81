//! Authentication and authorization, inside the one binary (no Fiat service).
//!
//! - `password`: argon2id hashes; `token`: random secrets and their SHA-256 digests.
//! - `policy`: every allow/deny decision, in one place, used by REST, server functions and
//!   (later) WebSocket subscriptions alike.
//! - `access`: the store-backed checks (may this caller use this application, these accounts).
//!
//! The middleware that finds the caller (session cookie or bearer token) is HTTP's:
//! `http::authenticate`.
//! - `service`: sign-in (throttled), sessions, API tokens and users.
//! - `bootstrap`: the first `admin` user.

pub mod access;
pub mod bootstrap;
pub mod cli;
pub mod password;
pub mod policy;
pub mod service;
pub mod throttle;
pub mod token;

pub use app::ssr::SESSION_COOKIE;
