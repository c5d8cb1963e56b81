//! The error every door of gennaker speaks: REST answers it as
//! `{"error":{"code","message","field"}}` with the status of its variant, server functions carry
//! it to the browser, and pages show its message.
//!
//! Which error type goes where: store and provider code have narrow errors of their own; the
//! service layer turns them into `AppError`, logging internal causes (a database error becomes
//! `Internal` with a generic message, so nothing internal leaks to clients); HTTP maps `AppError`
//! to a status at the boundary only.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    /// 400: the request is malformed or a field is invalid; `field` names it when known.
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// 401: no valid credentials.
    #[error("{message}")]
    Unauthenticated { message: String },
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden { message: String },
    /// 404: the named thing does not exist.
    #[error("{message}")]
    NotFound { message: String },
    /// 409: it conflicts with what is stored (a duplicate name, a stale revision).
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    /// 429: too many failed attempts; try again after the given seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_seconds: u64 },
    /// 500: something on our side failed; the cause is in the server log, not here.
    #[error("internal error, see the server log")]
    Internal,
    /// 503: a dependency (the database) is unreachable.
    #[error("{message}")]
    Unavailable { message: String },
    /// The server function transport itself failed (network, encoding).
    #[error("{0}")]
    Transport(String),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: Some(field.into()), message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound { message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden { message: message.into() }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated { message: message.into() }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict { field: Some(field.into()), message: message.into() }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid { .. } => 400,
            Self::Unauthenticated { .. } => 401,
            Self::Forbidden { .. } => 403,
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::TooManyRequests { .. } => 429,
            Self::Internal | Self::Transport(_) => 500,
            Self::Unavailable { .. } => 503,
        }
    }

    /// A stable machine-readable code for the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Internal | Self::Transport(_) => "internal",
            Self::Unavailable { .. } => "unavailable",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
                field: self.field().map(str::to_string),
            },
        }
    }
}

impl From<crate::model::application::Invalid> for AppError {
    fn from(invalid: crate::model::application::Invalid) -> Self {
        Self::invalid(invalid.field, invalid.message)
    }
}

impl From<crate::model::auth::RoleError> for AppError {
    fn from(error: crate::model::auth::RoleError) -> Self {
        Self::invalid("roles", error.to_string())
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

/// The JSON body of every REST error: `{"error":{"code":..., "message":..., "field":...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
