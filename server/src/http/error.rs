//! HTTP errors: `AppError` answered with its status and the JSON body
//! `{"error":{"code","message","field"}}`, and a `Json` extractor whose rejections (malformed
//! JSON, unknown or missing fields, wrong content type) answer in the same shape.

use app::error::AppError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An `AppError` on its way out of a handler.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.0.body())).into_response();
        if let AppError::TooManyRequests { retry_after_seconds, .. } = &self.0 {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_seconds).into());
        }
        response
    }
}

/// `axum::Json`, but rejections speak our error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let text = rejection.body_text();
        let message = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a JSON body with content-type: application/json".to_string()
            }
            _ => text.clone(),
        };
        Self(AppError::Invalid { field: crate::serde_errors::field_of(&text), message })
    }
}

/// `axum::extract::Query`, but rejections speak our error shape and name the parameter
/// (`?limit=ten` answers 400 with `field` `limit`).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let message = rejection.body_text();
        let field = crate::serde_errors::field_of(&message).or_else(|| {
            let detail = message.split_once("query string: ")?.1;
            let (path, _) = detail.split_once(": ")?;
            (!path.is_empty() && path != "." && !path.contains(' ')).then(|| path.to_string())
        });
        Self(AppError::Invalid { field, message })
    }
}

pub async fn unknown_route() -> ApiError {
    ApiError(AppError::not_found("no such API route"))
}
