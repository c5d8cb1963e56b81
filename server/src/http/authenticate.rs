//! The authentication middleware around every route:
//! 1. finds the caller: `Authorization: Bearer gnk_...` or the session cookie;
//! 2. lets public routes through (health, metrics, static assets, the sign-in page and
//!    endpoint) and refuses the rest: 401 JSON for the API, a redirect to `/signin` for pages;
//! 3. refuses cross-site mutations of cookie-authenticated requests (CSRF): their `Origin` (or
//!    `Referer`) must be this server;
//! 4. appends every mutation (who, what, when, from where, outcome) to the audit log.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use app::error::AppError;
use app::model::auth::Caller;
pub use app::ssr::session_token;
use app::ssr::{AuthService, ClientAddress};
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::ApiError;
use crate::store::Store;
use crate::store::audit::NewAuditEntry;

/// What the middleware needs.
#[derive(Clone)]
pub struct AuthLayer {
    pub auth: Arc<dyn AuthService>,
    pub store: Store,
    pub public_metrics: bool,
    /// The token Prometheus presents (`--metrics-token-file`) to read service discovery and
    /// the load balancers' metrics; `None`: only users may.
    pub metrics_token: Option<Arc<str>>,
    /// Top-level files of the site root (favicon.ico, robots.txt...), served to anyone.
    pub public_files: Arc<HashSet<String>>,
}

/// The credential a long-lived request (a WebSocket) came with, to check again later.
#[derive(Clone)]
pub struct PresentedCredential {
    bearer: Option<String>,
    session: Option<String>,
}

impl std::fmt::Debug for PresentedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedCredential(..)")
    }
}

impl PresentedCredential {
    /// Who the credential stands for now (roles as they are now), or `None` once it no longer
    /// works (token revoked or expired, session ended, user deleted).
    pub async fn caller_now(&self, auth: &dyn AuthService) -> Option<Caller> {
        let found = match (&self.bearer, &self.session) {
            (Some(token), _) => auth.token_caller(token).await,
            (None, Some(session)) => auth.session_caller(session).await,
            (None, None) => return None,
        };
        found.ok().flatten()
    }
}

/// How often an open socket shows its credential again.
pub const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The user name a handler reports for the audit log when the request had no caller yet
/// (sign-in): put in the response's extensions.
#[derive(Debug, Clone)]
pub struct AuditActor(pub String);

/// Server-function endpoints reachable signed out (they have fixed names, see `app::api::auth`).
const PUBLIC_SERVER_FNS: &[&str] = &["/api/sign_in", "/api/current_user"];

impl AuthLayer {
    fn is_public(&self, method: &Method, path: &str) -> bool {
        let read = method == Method::GET || method == Method::HEAD;
        match path {
            "/healthz" | "/readyz" => read,
            "/metrics" => read && self.public_metrics,
            "/signin" => read,
            "/api/v1/session" => method == Method::POST,
            _ if PUBLIC_SERVER_FNS.contains(&path) => method == Method::POST,
            _ if path.starts_with("/pkg/") => read,
            _ => read && self.public_files.contains(path.trim_start_matches('/')),
        }
    }
}

/// `Authorization: Basic base64(user:secret)`.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_string(), secret.to_string()))
}

/// Compares without stopping at the first difference, so timing does not tell how much of a
/// guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Same-origin check: the `Origin` (or, without one, the `Referer`) names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|host| host.to_str().ok()) else { return false };
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|value| value.to_str().ok());
    let Some(origin) = origin else { return false };
    let without_scheme = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    authority.eq_ignore_ascii_case(host)
}

fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A readable action: the route template, with server functions' hash suffix removed.
fn action_name(method: &Method, route: &str) -> String {
    let route = if route.starts_with("/api/") && !route.starts_with("/api/v1/") {
        route.trim_end_matches(|c: char| c.is_ascii_digit())
    } else {
        route
    };
    format!("{method} {route}")
}

pub async fn authenticate(State(layer): State<AuthLayer>, mut request: Request<Body>, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    request.extensions_mut().insert(ClientAddress(address));

    // The metrics scraper's token opens the two routes it scrapes, and nothing else; it is no
    // user, so it is checked here rather than looked up as an API token.
    let scrape_route = path == "/metrics" || path == "/api/v1/metrics/targets";
    // Prometheus 2.42 sends the token of `http_sd_configs` without the `Bearer` scheme unless
    // `type: Bearer` is written, so the bare token is taken too (on these two routes only).
    let bare = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::trim);
    if scrape_route && method == Method::GET
        && let (Some(expected), Some(presented)) = (&layer.metrics_token, bearer(request.headers()).or(bare))
        && constant_time_eq(expected.as_bytes(), presented.as_bytes())
    {
        request.extensions_mut().insert(crate::http::metrics_sd::MetricsScraper);
        return next.run(request).await;
    }

    let headers = request.headers();
    let (bearer_token, session) = (bearer(headers).map(str::to_string), session_token(headers).map(str::to_string));
    let basic_credentials = if bearer_token.is_none() { basic(headers) } else { None };
    let caller = match (bearer_token.as_deref(), session.as_deref()) {
        (Some(token), _) => match layer.auth.token_caller(token).await {
            Ok(Some(caller)) => Some(caller),
            Ok(None) => return ApiError(AppError::unauthenticated("invalid or expired API token")).into_response(),
            Err(error) => return ApiError(error).into_response(),
        },
        // What `spin` and Terraform send. Not cookie-bound, so, like a token, no CSRF check.
        (None, _) if basic_credentials.is_some() => {
            let (user, secret) = basic_credentials.as_ref().expect("checked");
            match layer.auth.basic_caller(user, secret, address).await {
                Ok(caller) => Some(caller),
                Err(error) => return ApiError(error).into_response(),
            }
        }
        (None, Some(session)) => match layer.auth.session_caller(session).await {
            Ok(caller) => caller,
            Err(error) => return ApiError(error).into_response(),
        },
        (None, None) => None,
    };

    // A signed webhook checks its signature itself (against the trigger's secret).
    let signed_webhook = method == Method::POST
        && path.starts_with("/api/v1/webhooks/")
        && crate::triggers::webhook::SIGNATURE_HEADERS.iter().any(|name| request.headers().contains_key(*name));
    let public = layer.is_public(&method, &path) || signed_webhook;
    if caller.is_none() && !public {
        // Browsers asking for a page go to the sign-in page; API clients get a 401 to act on.
        let wants_page = method == Method::GET
            && !path.starts_with("/api/")
            && request.headers().get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        if !wants_page {
            let mut response = ApiError(AppError::unauthenticated("sign in or send an API token")).into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return response;
        }
        let next_page = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let target = format!("/signin?next={}", urlencode(next_page));
        return Redirect::to(&target).into_response();
    }

    // Cookies ride along on cross-site requests; tokens do not. So only requests that a browser
    // could be tricked into sending (cookie, or a sign-in from a foreign page) must be same-origin.
    let cookie_bound =
        bearer_token.is_none() && basic_credentials.is_none() && (session.is_some() || request.headers().contains_key(header::ORIGIN));
    // WebSockets are not bound by CORS: a foreign page could open one with the user's cookie
    // and read events (cross-site WebSocket hijacking), so the upgrade must be same-origin too.
    let websocket = path == "/api/v1/ws" || path == "/api/v1/ws/clusters";
    if (is_mutation(&method) || websocket) && cookie_bound && !same_origin(request.headers()) {
        return ApiError(AppError::forbidden("cross-site request refused: Origin does not match this server"))
            .into_response();
    }

    if websocket {
        // A socket lives on after this request: it shows the credential again from time to
        // time, so a revoked token, an ended session or lost roles close it.
        request.extensions_mut().insert(PresentedCredential { bearer: bearer_token.clone(), session: session.clone() });
    }
    let route = request.extensions().get::<MatchedPath>().map(|matched| matched.as_str().to_string());
    let actor = caller.as_ref().map(|caller| caller.name.clone());
    if let Some(caller) = caller {
        request.extensions_mut().insert::<Caller>(caller);
    }
    let response = next.run(request).await;

    // Throttled requests and refusals of callers nobody knows (a webhook with a wrong
    // signature) are counted in /metrics (`gennaker_http_requests` by route and status), not stored: a
    // stranger must not be able to grow the audit log without bound. Failed sign-ins that were
    // checked are stored, and the throttle bounds them.
    let reported_actor = response.extensions().get::<AuditActor>().map(|actor| actor.0.clone()).or(actor);
    let status = response.status().as_u16();
    let stranger_refused = status == 429 || (reported_actor.is_none() && status == 401 && path.starts_with("/api/v1/webhooks/"));
    if is_mutation(&method) && !stranger_refused {
        let actor = reported_actor.unwrap_or_else(|| "anonymous".to_string());
        let entry = NewAuditEntry {
            ts: crate::store::now_millis(),
            actor: &actor,
            action: &action_name(&method, route.as_deref().unwrap_or(&path)),
            target: &path,
            address: &address.to_string(),
            status,
        };
        if let Err(error) = layer.store.append_audit(&entry).await {
            tracing::error!(%error, "could not write the audit log");
            return ApiError(AppError::Internal).into_response();
        }
    }
    response
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn finds_the_session_cookie_among_others() {
        let map = headers(&[(header::COOKIE, "a=1; gennaker_session=abc; b=2")]);
        assert_eq!(session_token(&map), Some("abc"));
        assert_eq!(session_token(&headers(&[(header::COOKIE, "gennaker_session=")])), None);
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer(&headers(&[(header::AUTHORIZATION, "bearer gnk_x")])), Some("gnk_x"));
        assert_eq!(bearer(&headers(&[(header::AUTHORIZATION, "Basic abc")])), None);
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        let ok = headers(&[(header::HOST, "127.0.0.1:3000"), (header::ORIGIN, "http://127.0.0.1:3000")]);
        assert!(same_origin(&ok));
        let referer = headers(&[(header::HOST, "127.0.0.1:3000"), (header::REFERER, "http://127.0.0.1:3000/applications")]);
        assert!(same_origin(&referer));
        let evil = headers(&[(header::HOST, "127.0.0.1:3000"), (header::ORIGIN, "http://evil.example")]);
        assert!(!same_origin(&evil));
        assert!(!same_origin(&headers(&[(header::HOST, "127.0.0.1:3000")])));
    }

    #[test]
    fn server_function_actions_lose_their_hash() {
        assert_eq!(action_name(&Method::POST, "/api/create_application5510078200618828270"), "POST /api/create_application");
        assert_eq!(action_name(&Method::PUT, "/api/v1/secrets/{name}"), "PUT /api/v1/secrets/{name}");
    }
}
