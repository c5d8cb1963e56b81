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
        Self(AppError::Invalid { field: field_of(&text), message })
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
        let field = field_of(&message).or_else(|| {
            let detail = message.split_once("query string: ")?.1;
            let (path, _) = detail.split_once(": ")?;
            (!path.is_empty() && path != "." && !path.contains(' ')).then(|| path.to_string())
        });
        Self(AppError::Invalid { field, message })
    }
}

/// The field a serde error is about: the one in backticks for unknown/missing fields, else the
/// path serde_path_to_error put before the message (`capacity.min: invalid type ...`).
pub(crate) fn field_of(text: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start + marker.len()..];
            return rest.split('`').next().map(str::to_string);
        }
    }
    let detail = text.split_once("target type: ")?.1;
    let (path, _) = detail.split_once(": ")?;
    (!path.is_empty() && path != "." && !path.contains(' ')).then(|| path.to_string())
}

pub async fn unknown_route() -> ApiError {
    ApiError(AppError::not_found("no such API route"))
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn finds_the_field_in_serde_messages() {
        assert_eq!(field_of("... unknown field `owner`, expected one of `name`").as_deref(), Some("owner"));
        assert_eq!(field_of("... missing field `name` at line 1").as_deref(), Some("name"));
        assert_eq!(
            field_of("Failed to deserialize the JSON body into the target type: email: invalid type: integer `5`").as_deref(),
            Some("email")
        );
        assert_eq!(field_of("Failed to parse the request body as JSON: expected value"), None);
        #[derive(Debug, serde::Deserialize)]
        struct Limit {
            #[allow(dead_code)]
            limit: u32,
        }
        let rejection = axum::extract::Query::<Limit>::try_from_uri(&"/x?limit=ten".parse().unwrap()).unwrap_err();
        assert_eq!(super::ApiError::from(rejection).0.body().error.field.as_deref(), Some("limit"));
    }
}
