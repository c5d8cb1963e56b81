//! `/api/v1/session`: sign in (sets the session cookie), see who you are, sign out.

use app::error::{AppError, ErrorBody};
use app::model::auth::{SignIn, User};
use app::ssr::{ClientAddress, Services};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Authenticated, Json};
use crate::http::authenticate::{AuditActor, session_token};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in, current, sign_out))
}

/// Signs in with a user name and password; answers the user and sets the `gennaker_session`
/// cookie (HttpOnly, SameSite=Lax). Failed attempts are throttled per account and address (429).
#[utoipa::path(post, path = "/session", tag = "auth", request_body = SignIn, security(()),
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    State(services): State<Services>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    Json(credentials): Json<SignIn>,
) -> Response {
    let username = credentials.username.clone();
    let mut response = match services.auth.sign_in(credentials, address).await {
        Ok(signed_in) => {
            let mut response = Json(signed_in.user).into_response();
            if let Ok(cookie) = signed_in.set_cookie.parse() {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => ApiError(error).into_response(),
    };
    response.extensions_mut().insert(AuditActor(username));
    response
}

/// The signed-in user.
#[utoipa::path(get, path = "/session", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn current(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<User>, ApiError> {
    Ok(Json(services.auth.me(&caller).await?))
}

/// Ends the session of the cookie sent and removes the cookie.
#[utoipa::path(delete, path = "/session", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn sign_out(
    State(services): State<Services>,
    Authenticated(_caller): Authenticated,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = session_token(&headers) else {
        return Err(ApiError(AppError::invalid("cookie", "no session cookie: API tokens are revoked at /api/v1/tokens")));
    };
    let clear = services.auth.sign_out(token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = clear.parse() {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
