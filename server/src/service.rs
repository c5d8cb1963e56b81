//! The service layer: business rules for each resource, called alike by REST handlers and
//! server functions. It turns store errors into `AppError`s, logging causes clients must not see.

pub mod applications;

use std::sync::Arc;

use app::error::AppError;
use app::ssr::Services;

use crate::store::{self, Store};

pub fn build(store: Store) -> Services {
    Services { applications: Arc::new(applications::Applications::new(store)) }
}

impl From<store::Error> for AppError {
    fn from(error: store::Error) -> Self {
        match error {
            store::Error::Duplicate(what) => AppError::conflict("name", format!("{what} already exists")),
            store::Error::NotFound(what) => AppError::not_found(format!("{what} not found")),
            other => {
                tracing::error!(error = %other, "store failure");
                AppError::Internal
            }
        }
    }
}
