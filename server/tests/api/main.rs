//! Black-box tests: the real application on a free port, over HTTP, against SQLite and Postgres.

mod applications;
mod helpers;
mod platform;
