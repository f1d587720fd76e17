//! The stand-in's routes. Each follows the order of checks of Appwrite 1.9's
//! `app/controllers/api/account.php` (see `shared/research/appwrite-protocol.md` §1–§4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use url::Url;

use super::html;
use super::state::{self, RateCount, SessionValue, Token};
use crate::OAuthProvider;

type Shared = Arc<super::Shared>;

/// Bodies larger than this are refused before any route sees them.
const MAX_BODY: usize = 1 << 20;

/// The most `scopes` Appwrite accepts (`APP_LIMIT_ARRAY_PARAMS_SIZE`).
const MAX_SCOPES: usize = 100;
/// The longest scope Appwrite accepts (`APP_LIMIT_ARRAY_ELEMENT_SIZE`).
const MAX_SCOPE_CHARS: usize = 4096;
/// The longest `code`/`state`/`error` the callback and redirect routes accept.
const MAX_CALLBACK_PARAM_CHARS: usize = 2048;
/// `POST /account/sessions/token` allows 10 per hour per IP and user.
const SESSION_RATE_LIMIT: u32 = 10;

/// Schemes whose URLs are checked by host, as in Appwrite's `Redirect`/`Origin` validators.
const HOST_CHECKED_SCHEMES: &[&str] = &[
    "http",
    "https",
    "chrome-extension",
    "moz-extension",
    "safari-web-extension",
    "ms-browser-extension",
    "tauri",
];

mod kind {
    pub const ARGUMENT_INVALID: &str = "general_argument_invalid";
    pub const RATE_LIMIT_EXCEEDED: &str = "general_rate_limit_exceeded";
    pub const UNKNOWN_ORIGIN: &str = "general_unknown_origin";
    pub const UNAUTHORIZED_SCOPE: &str = "general_unauthorized_scope";
    pub const SERVER_ERROR: &str = "general_server_error";
    pub const ROUTE_NOT_FOUND: &str = "general_route_not_found";
    pub const PROJECT_NOT_FOUND: &str = "project_not_found";
    pub const PROVIDER_DISABLED: &str = "project_provider_disabled";
    pub const INVALID_SUCCESS_URL: &str = "project_invalid_success_url";
    pub const INVALID_FAILURE_URL: &str = "project_invalid_failure_url";
    pub const OAUTH2_PROVIDER_ERROR: &str = "user_oauth2_provider_error";
    pub const OAUTH2_PROVIDER_FAILURE: &str = "user_oauth2_provider_failure";
    pub const INVALID_TOKEN: &str = "user_invalid_token";
    pub const SESSION_ALREADY_EXISTS: &str = "user_session_already_exists";
}

/// An Appwrite error: HTTP code, `type` and message.
#[derive(Debug)]
struct ApiError {
    code: u16,
    kind: &'static str,
    message: String,
}

/// The failure URL's `error` parameter: `{"message","type","code"}`, in that order.
#[derive(Serialize)]
struct FailureJson<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: u16,
}

/// A JSON error body: `{"message","code","type","version"}`.
#[derive(Serialize)]
struct ErrorJson<'a> {
    message: &'a str,
    code: u16,
    #[serde(rename = "type")]
    kind: &'a str,
    version: &'a str,
}

impl ApiError {
    fn new(code: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            kind,
            message: message.into(),
        }
    }

    fn server(message: impl Into<String>) -> Self {
        Self::new(500, kind::SERVER_ERROR, message)
    }

    /// The status and message Appwrite's error handler shows: only some codes pass through,
    /// every other one (424 included) becomes `500 Server Error`; the type is kept.
    fn shown(&self) -> (u16, &str) {
        const PASS_THROUGH: &[u16] = &[
            400, 401, 402, 403, 404, 405, 408, 409, 410, 412, 416, 422, 429, 451, 501, 503,
        ];
        if PASS_THROUGH.contains(&self.code) {
            (self.code, &self.message)
        } else {
            (500, "Server Error")
        }
    }

    fn json(&self) -> Response {
        let (code, message) = self.shown();
        let body = serde_json::to_string(&ErrorJson {
            message,
            code,
            kind: self.kind,
            version: super::APPWRITE_VERSION,
        })
        .unwrap_or_default();
        respond(code, "application/json", body)
    }

    /// The HTML page the routes labelled with Appwrite's `error.phtml` answer with.
    fn html(&self) -> Response {
        let (code, message) = self.shown();
        respond(
            code,
            "text/html; charset=UTF-8",
            html::error_page(code, message, self.kind),
        )
    }
}

fn respond(code: u16, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A redirect with Appwrite's no-cache headers.
fn redirect(code: u16, location: &str) -> Response {
    let mut response = respond(code, "text/html; charset=UTF-8", Body::empty());
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            headers.insert(header::LOCATION, value);
        }
        Err(_) => return ApiError::server("Redirect target is not a valid header value").html(),
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn with_rate_headers(mut response: Response, rate: Option<RateCount>) -> Response {
    if let Some(rate) = rate {
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(rate.limit)),
            ("x-ratelimit-remaining", u64::from(rate.remaining)),
            ("x-ratelimit-reset", rate.reset),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    response
}

pub(super) fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/v1/account/tokens/oauth2/{provider}",
            get(create_oauth2_token),
        )
        .route("/provider/{provider}/authorize", get(provider_authorize))
        .route(
            "/provider/{provider}/consent/{consent}/{decision}",
            get(provider_decide),
        )
        .route(
            "/v1/account/sessions/oauth2/callback/{provider}/{project}",
            get(oauth2_callback).post(oauth2_callback),
        )
        .route(
            "/v1/account/sessions/oauth2/{provider}/redirect",
            get(oauth2_redirect),
        )
        .route("/v1/account/sessions/token", post(create_session))
        .route("/v1/account", get(get_account))
        .route(
            "/v1/account/sessions/current",
            get(get_current_session).delete(delete_current_session),
        )
        .route("/console/auth/oauth2/{outcome}", get(console_relay))
        .fallback(route_not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Records every request, exactly as sent, before it is routed.
async fn record(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::new(413, kind::ARGUMENT_INVALID, "Request body is too large.").json();
    };
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    shared.log().push(super::RecordedRequest {
        method: parts.method.as_str().to_owned(),
        uri,
        headers,
        body: body.to_vec(),
    });
    next.run(Request::from_parts(parts, Body::from(body))).await
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A parameter's value; like PHP, the last of repeated keys wins.
fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The host (with port) the client addressed, used for absolute URLs as Appwrite does.
fn request_host(shared: &Shared, headers: &HeaderMap) -> String {
    header_str(headers, "host")
        .filter(|host| !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']))
        .map_or_else(|| shared.addr.to_string(), str::to_owned)
}

/// The project from the `project` query parameter, else the `X-Appwrite-Project` header.
fn resolve_project(
    shared: &Shared,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let project = param(pairs, "project").or_else(|| header_str(headers, "x-appwrite-project"));
    if project == Some(shared.config.project_id.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            404,
            kind::PROJECT_NOT_FOUND,
            "Project with the requested ID could not be found. Please check the value of the \
             X-Appwrite-Project header to ensure the correct project ID is being used.",
        ))
    }
}

fn parse_provider(name: &str) -> Result<OAuthProvider, ApiError> {
    name.parse().map_err(|_| {
        let names: Vec<&str> = OAuthProvider::ALL.iter().map(|p| p.as_str()).collect();
        ApiError::new(
            400,
            kind::ARGUMENT_INVALID,
            format!(
                "Invalid `provider` param: Value must be one of ({})",
                names.join(", ")
            ),
        )
    })
}

fn host_allowed(shared: &Shared, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    std::iter::once("localhost")
        .chain(shared.config.allowed_hosts.iter().map(String::as_str))
        .any(|allowed| match allowed.strip_prefix("*.") {
            _ if allowed == "*" => true,
            Some(apex) => host.ends_with(&format!(".{apex}")),
            None => host == allowed,
        })
}

/// Appwrite's `Redirect` validator: web-like schemes are checked by host (port ignored),
/// other schemes must be `exp` or `appwrite-callback-<project>`.
fn redirect_url_allowed(shared: &Shared, url: &str) -> Result<(), String> {
    let Ok(parsed) = Url::parse(url) else {
        return Err(url.to_owned());
    };
    let scheme = parsed.scheme();
    if HOST_CHECKED_SCHEMES.contains(&scheme) {
        match parsed.host_str() {
            Some(host) if !host.is_empty() && host_allowed(shared, host) => Ok(()),
            host => Err(host.unwrap_or_default().to_owned()),
        }
    } else if scheme == "exp" || scheme == format!("appwrite-callback-{}", shared.config.project_id)
    {
        Ok(())
    } else {
        Err(scheme.to_owned())
    }
}

fn invalid_redirect_param(name: &str, client: &str) -> ApiError {
    ApiError::new(
        400,
        kind::ARGUMENT_INVALID,
        format!(
            "Invalid `{name}` param: Invalid URI. Register your new client ({client}) as a new \
             Web platform on your project console dashboard"
        ),
    )
}

/// An `Origin` header, when present, must belong to an allowed platform.
fn check_origin(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = header_str(headers, "origin") else {
        return Ok(());
    };
    redirect_url_allowed(shared, origin).map_err(|client| {
        ApiError::new(
            403,
            kind::UNKNOWN_ORIGIN,
            format!(
                "Invalid Origin. Register your new client ({client}) as a new Web platform on \
                 your project console dashboard"
            ),
        )
    })
}

/// Counts a request against the per-IP limit that the token and redirect routes share.
fn count_ip(shared: &Shared, peer: SocketAddr) -> Result<Option<RateCount>, ApiError> {
    let Some(limit) = shared.config.rate_limit_per_hour else {
        return Ok(None);
    };
    let rate = shared.state().count(format!("ip:{}", peer.ip()), limit);
    if rate.exceeded {
        return Err(rate_limited());
    }
    Ok(Some(rate))
}

fn rate_limited() -> ApiError {
    ApiError::new(
        429,
        kind::RATE_LIMIT_EXCEEDED,
        "Rate limit for the current endpoint has been exceeded. Please try again after some time.",
    )
}

fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|error| ApiError::server(format!("No randomness available: {error}")))?;
    Ok(buffer.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// An Appwrite-style id: 20 lower-case hex characters.
fn unique_id() -> Result<String, ApiError> {
    random_hex(10)
}

/// `http_build_query`: PHP `urlencode` of every key and value (`*` encoded, unlike the WHATWG
/// form encoder).
fn php_build_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .replace('*', "%2A")
}

/// Appends parameters to a URL as Appwrite's redirect route does: the URL's own query is kept
/// (keys already present are overwritten in place), a bare `scheme://` gets the path `/`, and an
/// empty fragment `#` is added when the URL has none.
fn with_query(target: &str, extra: &[(&str, &str)]) -> Result<String, ApiError> {
    let mut url = Url::parse(target).map_err(|_| ApiError::server("Invalid redirect URL"))?;
    let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for (key, value) in extra {
        match pairs.iter_mut().find(|(existing, _)| existing == key) {
            Some(pair) => pair.1 = (*value).to_owned(),
            None => pairs.push(((*key).to_owned(), (*value).to_owned())),
        }
    }
    if url.path().is_empty() {
        url.set_path("/");
    }
    url.set_query(Some(&php_build_query(&pairs)));
    if url.fragment().is_none() {
        url.set_fragment(Some(""));
    }
    Ok(url.into())
}

/// The Console's OAuth2 relay page, Appwrite's default `success`/`failure`: on the console
/// hostname (`localhost` by default), which is always allowed.
fn console_url(shared: &Shared, outcome: &str) -> String {
    format!(
        "http://localhost:{}/console/auth/oauth2/{outcome}",
        shared.addr.port()
    )
}

// ---------------------------------------------------------------------------------------------
// 1. GET /v1/account/tokens/oauth2/{provider}
// ---------------------------------------------------------------------------------------------

/// The `state` Appwrite hands the provider: plain JSON, unsigned.
#[derive(Serialize, Deserialize)]
struct LoginState {
    #[serde(default)]
    success: String,
    #[serde(default)]
    failure: String,
    #[serde(default)]
    token: bool,
}

fn parse_scopes(pairs: &[(String, String)]) -> Result<Vec<String>, ApiError> {
    let invalid = || {
        ApiError::new(
            400,
            kind::ARGUMENT_INVALID,
            format!(
                "Invalid `scopes` param: Value must a valid array no longer than {MAX_SCOPES} \
                 items and Value must be a valid string and no longer than {MAX_SCOPE_CHARS} chars"
            ),
        )
    };
    let mut scopes = Vec::new();
    for (key, value) in pairs {
        if key == "scopes" {
            // PHP sees a string, not an array.
            return Err(invalid());
        }
        if let Some(index) = key
            .strip_prefix("scopes[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if !index.is_empty() && index.parse::<usize>().is_err() {
                return Err(invalid());
            }
            scopes.push(value.clone());
        }
    }
    if scopes.len() > MAX_SCOPES || scopes.iter().any(|s| s.chars().count() > MAX_SCOPE_CHARS) {
        return Err(invalid());
    }
    Ok(scopes)
}

async fn create_oauth2_token(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    token_route(&shared, peer, &provider, &uri, &headers).unwrap_or_else(|error| error.html())
}

fn token_route(
    shared: &Shared,
    peer: SocketAddr,
    provider: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri);
    resolve_project(shared, &pairs, headers)?;
    check_origin(shared, headers)?;
    let rate = count_ip(shared, peer)?;
    let provider = parse_provider(provider)?;
    let success = param(&pairs, "success").unwrap_or_default();
    let failure = param(&pairs, "failure").unwrap_or_default();
    for (name, value) in [("success", success), ("failure", failure)] {
        if !value.is_empty() {
            redirect_url_allowed(shared, value)
                .map_err(|client| invalid_redirect_param(name, &client))?;
        }
    }
    let scopes = parse_scopes(&pairs)?;
    if shared.config.disabled_providers.contains(&provider) {
        return Err(ApiError::new(
            412,
            kind::PROVIDER_DISABLED,
            "This provider is disabled. Please enable the provider from your Appwrite console to \
             continue.",
        ));
    }

    let host = request_host(shared, headers);
    let project = &shared.config.project_id;
    let state = LoginState {
        success: if success.is_empty() {
            console_url(shared, "success")
        } else {
            success.to_owned()
        },
        failure: if failure.is_empty() {
            console_url(shared, "failure")
        } else {
            failure.to_owned()
        },
        token: true,
    };
    let state = serde_json::to_string(&state).map_err(|e| ApiError::server(e.to_string()))?;
    let callback =
        format!("http://{host}/v1/account/sessions/oauth2/callback/{provider}/{project}");
    let scope = std::iter::once("email")
        .chain(scopes.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut location = Url::parse(&format!("http://{host}/provider/{provider}/authorize"))
        .map_err(|e| ApiError::server(e.to_string()))?;
    location
        .query_pairs_mut()
        .append_pair("client_id", project)
        .append_pair("redirect_uri", &callback)
        .append_pair("scope", &scope)
        .append_pair("state", &state);
    Ok(with_rate_headers(redirect(301, location.as_str()), rate))
}

// ---------------------------------------------------------------------------------------------
// 2. The fake provider
// ---------------------------------------------------------------------------------------------

fn provider_page(code: u16, message: &str) -> Response {
    respond(
        code,
        "text/html; charset=UTF-8",
        html::provider_error_page(message),
    )
}

async fn provider_authorize(
    State(shared): State<Shared>,
    Path(provider): Path<String>,
    uri: Uri,
) -> Response {
    let Ok(provider) = provider.parse::<OAuthProvider>() else {
        return provider_page(404, "Unknown provider.");
    };
    let pairs = query_pairs(&uri);
    let project = &shared.config.project_id;
    if param(&pairs, "client_id") != Some(project.as_str()) {
        return provider_page(400, "Unknown client_id.");
    }
    let expected_path = format!("/v1/account/sessions/oauth2/callback/{provider}/{project}");
    let redirect_uri = param(&pairs, "redirect_uri").unwrap_or_default();
    if Url::parse(redirect_uri).map_or(true, |url| url.path() != expected_path) {
        return provider_page(
            400,
            "The redirect_uri is not registered for this application.",
        );
    }
    let consent = state::Consent {
        provider,
        redirect_uri: redirect_uri.to_owned(),
        state: param(&pairs, "state").unwrap_or_default().to_owned(),
    };
    if shared.config.auto_approve {
        return decide(&shared, consent, true);
    }
    let Ok(id) = random_hex(16) else {
        return provider_page(500, "No randomness available.");
    };
    let scope = param(&pairs, "scope").unwrap_or_default().to_owned();
    shared.state().consents.insert(id.clone(), consent);
    let base = format!("/provider/{provider}/consent/{id}");
    respond(
        200,
        "text/html; charset=UTF-8",
        html::consent_page(
            provider,
            &scope,
            &format!("{base}/allow"),
            &format!("{base}/deny"),
        ),
    )
}

async fn provider_decide(
    State(shared): State<Shared>,
    Path((provider, id, decision)): Path<(String, String, String)>,
) -> Response {
    let allow = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return provider_page(404, "Unknown choice."),
    };
    let consent = shared.state().consents.remove(&id);
    match consent {
        Some(consent) if consent.provider.as_str() == provider => decide(&shared, consent, allow),
        _ => provider_page(
            404,
            "This sign-in request has expired or was already answered.",
        ),
    }
}

/// Sends the browser back to Appwrite's callback with a fresh single-use `code`, or with
/// `error=access_denied`, and the `state` unchanged.
fn decide(shared: &Shared, consent: state::Consent, allow: bool) -> Response {
    let Ok(mut target) = Url::parse(&consent.redirect_uri) else {
        return provider_page(400, "The redirect_uri is not a URL.");
    };
    if allow {
        let Ok(code) = random_hex(16) else {
            return provider_page(500, "No randomness available.");
        };
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &consent.state);
        let issued = state::Code {
            provider: consent.provider,
        };
        shared.state().codes.insert(code, issued);
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "The user has denied your application access.",
            )
            .append_pair("state", &consent.state);
    }
    redirect(302, target.as_str())
}

// ---------------------------------------------------------------------------------------------
// 3. Callback and redirect
// ---------------------------------------------------------------------------------------------

async fn oauth2_callback(
    State(shared): State<Shared>,
    Path((provider, project)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    callback_route(&shared, &provider, &project, &method, &uri, &headers, &body)
        .unwrap_or_else(|error| error.html())
}

fn callback_route(
    shared: &Shared,
    provider: &str,
    project: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let provider = parse_provider(provider)?;
    if project != shared.config.project_id {
        return Err(ApiError::new(
            404,
            kind::PROJECT_NOT_FOUND,
            "Project with the requested ID could not be found.",
        ));
    }
    let mut pairs = query_pairs(uri);
    // Providers such as Apple `form_post` their answer.
    if method == Method::POST {
        pairs.extend(url::form_urlencoded::parse(body).into_owned());
    }
    for name in ["code", "state", "error", "error_description"] {
        if param(&pairs, name).is_some_and(|v| v.chars().count() > MAX_CALLBACK_PARAM_CHARS) {
            return Err(ApiError::new(
                400,
                kind::ARGUMENT_INVALID,
                format!(
                    "Invalid `{name}` param: Value must be a valid string and no longer than \
                     {MAX_CALLBACK_PARAM_CHARS} chars"
                ),
            ));
        }
    }
    pairs.retain(|(key, _)| key != "project");
    pairs.push(("project".to_owned(), project.to_owned()));
    let host = request_host(shared, headers);
    Ok(redirect(
        301,
        &format!(
            "http://{host}/v1/account/sessions/oauth2/{provider}/redirect?{}",
            php_build_query(&pairs)
        ),
    ))
}

async fn oauth2_redirect(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    redirect_route(&shared, peer, &provider, &uri, &headers)
}

fn redirect_route(
    shared: &Shared,
    peer: SocketAddr,
    provider: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let pairs = query_pairs(uri);
    // Until the state is read there is no failure URL: errors are HTML pages.
    let checked = (|| {
        resolve_project(shared, &pairs, headers)?;
        let rate = count_ip(shared, peer)?;
        let provider = parse_provider(provider)?;
        let state: LoginState = serde_json::from_str(param(&pairs, "state").unwrap_or_default())
            .map_err(|_| {
                ApiError::server(
                    "Failed to parse login state params as passed from OAuth2 provider",
                )
            })?;
        let success = if state.success.is_empty() {
            console_url(shared, "success")
        } else {
            state.success
        };
        if redirect_url_allowed(shared, &success).is_err() {
            return Err(ApiError::new(
                400,
                kind::INVALID_SUCCESS_URL,
                "Invalid redirect URL for OAuth success.",
            ));
        }
        if !state.failure.is_empty() && redirect_url_allowed(shared, &state.failure).is_err() {
            return Err(ApiError::new(
                400,
                kind::INVALID_FAILURE_URL,
                "Invalid redirect URL for OAuth failure.",
            ));
        }
        Ok((rate, provider, success, state.failure))
    })();
    let (rate, provider, success, failure) = match checked {
        Ok(checked) => checked,
        Err(error) => return error.html(),
    };

    // From here on, errors go to the failure URL with an `error` JSON parameter.
    let outcome = sign_in(shared, provider, &pairs).and_then(|(user_id, secret)| {
        with_query(&success, &[("secret", &secret), ("userId", &user_id)])
    });
    let response = match outcome {
        Ok(location) => redirect(301, &location),
        Err(error) if failure.is_empty() => error.html(),
        Err(error) => failure_redirect(&failure, &error),
    };
    with_rate_headers(response, rate)
}

fn failure_redirect(failure: &str, error: &ApiError) -> Response {
    let json = serde_json::to_string(&FailureJson {
        message: &error.message,
        kind: error.kind,
        code: error.code,
    })
    .unwrap_or_default();
    match with_query(failure, &[("error", &json)]) {
        Ok(location) => redirect(301, &location),
        Err(error) => error.html(),
    }
}

/// The provider's answer turned into a user and a single-use token secret: `(userId, secret)`.
fn sign_in(
    shared: &Shared,
    provider: OAuthProvider,
    pairs: &[(String, String)],
) -> Result<(String, String), ApiError> {
    let name = provider.display_name();
    if shared.config.disabled_providers.contains(&provider) {
        return Err(ApiError::new(
            412,
            kind::PROVIDER_DISABLED,
            "This provider is disabled. Please enable the provider from your Appwrite console to \
             continue.",
        ));
    }
    if let Some(error) = param(pairs, "error").filter(|e| !e.is_empty()) {
        let mut message = format!("The {name} OAuth2 provider returned an error: {error}");
        if let Some(description) = param(pairs, "error_description").filter(|d| !d.is_empty()) {
            message.push_str(": ");
            message.push_str(description);
        }
        return Err(ApiError::new(424, kind::OAUTH2_PROVIDER_ERROR, message));
    }
    let Some(code) = param(pairs, "code").filter(|c| !c.is_empty()) else {
        return Err(ApiError::new(
            424,
            kind::OAUTH2_PROVIDER_ERROR,
            "Missing OAuth2 code. Please contact the Appwrite team for additional support.",
        ));
    };
    let new_user_id = unique_id()?;
    let secret = token_secret(shared, provider)?;
    let mut state = shared.state();
    match state.codes.remove(code) {
        Some(issued) if issued.provider == provider => {}
        _ => {
            return Err(ApiError::new(
                424,
                kind::OAUTH2_PROVIDER_FAILURE,
                format!(
                    "{name} couldn't complete sign-in (bad_verification_code). Please try again."
                ),
            ));
        }
    }
    let user_id = state.resolve_player(provider, new_user_id);
    state.tokens.insert(
        secret.clone(),
        Token {
            user_id: user_id.clone(),
            provider,
            valid_until: Instant::now() + shared.config.token_secret_lifetime,
        },
    );
    Ok((user_id, secret))
}

/// A token secret shaped like Appwrite 1.9's: an HS256 JWT `{secret, provider, exp}`. The
/// stand-in looks secrets up rather than verifying signatures, so the signature is random.
fn token_secret(shared: &Shared, provider: OAuthProvider) -> Result<String, ApiError> {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let expires = SystemTime::now() + shared.config.token_secret_lifetime;
    let payload = serde_json::json!({
        "secret": random_hex(32)?,
        "provider": provider.as_str(),
        "exp": state::unix_seconds(expires),
    });
    Ok(format!(
        "{}.{}.{}",
        engine.encode(r#"{"typ":"JWT","alg":"HS256"}"#),
        engine.encode(payload.to_string()),
        engine.encode(random_hex(16)?),
    ))
}

// ---------------------------------------------------------------------------------------------
// 4. POST /v1/account/sessions/token
// ---------------------------------------------------------------------------------------------

/// Where a request's session came from, in Appwrite's order of precedence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SessionSource {
    Cookie,
    Header,
    FallbackCookies,
}

/// The first non-empty session value a request carries: cookie `a_session_<P>` (or its
/// `_legacy` twin), then `X-Appwrite-Session`, then `X-Fallback-Cookies`.
fn request_session(shared: &Shared, headers: &HeaderMap) -> Option<(SessionValue, SessionSource)> {
    let name = format!("a_session_{}", shared.config.project_id);
    let legacy = format!("{name}_legacy");
    let cookies: Vec<(String, String)> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(key, value)| {
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            (key.to_owned(), value.into_owned())
        })
        .collect();
    let cookie = [&name, &legacy]
        .into_iter()
        .find_map(|wanted| param(&cookies, wanted).and_then(SessionValue::decode));
    if let Some(value) = cookie {
        return Some((value, SessionSource::Cookie));
    }
    if let Some(value) = header_str(headers, "x-appwrite-session").and_then(SessionValue::decode) {
        return Some((value, SessionSource::Header));
    }
    let fallback = header_str(headers, "x-fallback-cookies")
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|json| json.get(&name)?.as_str().and_then(SessionValue::decode));
    fallback.map(|value| (value, SessionSource::FallbackCookies))
}

/// Appwrite sends `X-Fallback-Cookies` unless the request's Origin (or Referer) is on the API's
/// own domain — so always for native clients, which send neither.
fn fallback_mode(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(origin) = header_str(headers, "origin").or_else(|| header_str(headers, "referer"))
    else {
        return true;
    };
    let api_host = request_host(shared, headers);
    let api_host = api_host
        .rsplit_once(':')
        .map_or(api_host.as_str(), |(h, _)| h);
    Url::parse(origin).map_or(true, |url| url.host_str() != Some(api_host))
}

fn unauthorized() -> ApiError {
    ApiError::new(
        401,
        kind::UNAUTHORIZED_SCOPE,
        r#"User (role: guests) missing scopes (["account"])"#,
    )
}

#[derive(Deserialize)]
struct CreateSessionBody {
    #[serde(rename = "userId")]
    user_id: Option<serde_json::Value>,
    secret: Option<serde_json::Value>,
}

async fn create_session(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    session_route(&shared, peer, &uri, &headers, &body).unwrap_or_else(|error| error.json())
}

fn string_param(value: Option<serde_json::Value>, name: &str) -> Result<String, ApiError> {
    match value {
        Some(serde_json::Value::String(value)) => Ok(value),
        Some(_) => Err(ApiError::new(
            400,
            kind::ARGUMENT_INVALID,
            format!("Invalid `{name}` param: Value must be a valid string"),
        )),
        None => Err(ApiError::new(
            400,
            kind::ARGUMENT_INVALID,
            format!("Param \"{name}\" is not optional."),
        )),
    }
}

fn valid_uid(id: &str) -> bool {
    id.len() <= 36
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn session_route(
    shared: &Shared,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri);
    resolve_project(shared, &pairs, headers)?;
    check_origin(shared, headers)?;
    if let Some((value, _)) = request_session(shared, headers)
        && shared.state().live_session(&value).is_some()
    {
        return Err(ApiError::new(
            401,
            kind::SESSION_ALREADY_EXISTS,
            "Creation of a session is prohibited when a session is active.",
        ));
    }
    let is_json = header_str(headers, "content-type")
        .is_some_and(|content_type| content_type.starts_with("application/json"));
    let params: CreateSessionBody = if is_json {
        serde_json::from_slice(body).map_err(|error| {
            ApiError::new(
                400,
                kind::ARGUMENT_INVALID,
                format!("Invalid JSON body: {error}"),
            )
        })?
    } else {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        let field = |name| param(&form, name).map(|v| serde_json::Value::String(v.to_owned()));
        CreateSessionBody {
            user_id: field("userId"),
            secret: field("secret"),
        }
    };
    let user_id = string_param(params.user_id, "userId")?;
    let secret = string_param(params.secret, "secret")?;
    if !valid_uid(&user_id) {
        return Err(ApiError::new(
            400,
            kind::ARGUMENT_INVALID,
            "Invalid `userId` param: UID must contain at most 36 chars. Valid chars are a-z, A-Z, \
             0-9, period, hyphen, and underscore. Can't start with a special char",
        ));
    }
    if secret.is_empty() || secret.chars().count() > 256 {
        return Err(ApiError::new(
            400,
            kind::ARGUMENT_INVALID,
            "Invalid `secret` param: Value must be a valid string and at least 1 chars and no \
             longer than 256 chars",
        ));
    }
    let rate_key = format!("ip:{},userId:{user_id}", peer.ip());
    if shared.config.rate_limit_per_hour.is_some()
        && shared
            .state()
            .count(rate_key.clone(), SESSION_RATE_LIMIT)
            .exceeded
    {
        return Err(rate_limited());
    }

    let session_id = unique_id()?;
    let session_secret = random_hex(128)?;
    let access_token = random_hex(16)?;
    let client_name = header_str(headers, "user-agent")
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    let mut state = shared.state();
    // Like Appwrite, a secret presented with the wrong user id is refused but not spent.
    let valid = state
        .tokens
        .get(&secret)
        .is_some_and(|token| token.user_id == user_id && token.valid_until > Instant::now());
    let Some(token) = valid.then(|| state.tokens.remove(&secret)).flatten() else {
        return Err(ApiError::new(
            401,
            kind::INVALID_TOKEN,
            "Invalid token passed in the request.",
        ));
    };
    state.rate.remove(&rate_key);
    let session = state.create_session(
        session_id,
        session_secret.clone(),
        &token,
        peer.ip().to_string(),
        client_name,
        access_token,
    );
    let body = state::session_json(session, true).to_string();
    let expire = session.expire;
    drop(state);

    let value = SessionValue {
        id: user_id,
        secret: session_secret,
    }
    .encode();
    let mut response = respond(201, "application/json", body);
    let cookie_value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    set_session_cookies(shared, &mut response, &cookie_value, expire);
    if fallback_mode(shared, headers) {
        let name = format!("a_session_{}", shared.config.project_id);
        let fallback = serde_json::json!({ name: value }).to_string();
        if let Ok(fallback) = HeaderValue::from_str(&fallback) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-fallback-cookies"), fallback);
        }
    }
    Ok(response)
}

/// `Set-Cookie` for `a_session_<P>_legacy` and `a_session_<P>` (the latter `SameSite=None`).
/// No `domain` for loopback hosts and no `secure` over plain HTTP, as Appwrite does.
fn set_session_cookies(shared: &Shared, response: &mut Response, value: &str, expire: SystemTime) {
    let name = format!("a_session_{}", shared.config.project_id);
    let expires = httpdate::fmt_http_date(expire);
    for cookie in [
        format!("{name}_legacy={value}; expires={expires}; path=/; httponly"),
        format!("{name}={value}; expires={expires}; path=/; httponly; samesite=None"),
    ] {
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The account routes
// ---------------------------------------------------------------------------------------------

/// The request's live session: `(session secret, source)`, or `401 general_unauthorized_scope`.
fn authenticate(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(String, SessionSource), ApiError> {
    resolve_project(shared, &query_pairs(uri), headers)?;
    check_origin(shared, headers)?;
    let (value, source) = request_session(shared, headers).ok_or_else(unauthorized)?;
    shared
        .state()
        .live_session(&value)
        .ok_or_else(unauthorized)?;
    Ok((value.secret, source))
}

fn mark_fallback(mut response: Response, source: SessionSource) -> Response {
    if source == SessionSource::FallbackCookies {
        response.headers_mut().insert(
            HeaderName::from_static("x-debug-fallback"),
            HeaderValue::from_static("true"),
        );
    }
    response
}

async fn get_account(State(shared): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let result = authenticate(&shared, &uri, &headers).and_then(|(secret, source)| {
        let mut state = shared.state();
        let user_id = state
            .sessions
            .get(&secret)
            .map(|session| session.user_id.clone())
            .ok_or_else(unauthorized)?;
        let user = state
            .users
            .iter_mut()
            .find(|user| user.id == user_id)
            .ok_or_else(unauthorized)?;
        user.accessed_at = SystemTime::now();
        let body = state::user_json(user).to_string();
        Ok(mark_fallback(
            respond(200, "application/json", body),
            source,
        ))
    });
    result.unwrap_or_else(|error| error.json())
}

async fn get_current_session(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let result = authenticate(&shared, &uri, &headers).and_then(|(secret, source)| {
        let state = shared.state();
        let session = state.sessions.get(&secret).ok_or_else(unauthorized)?;
        let body = state::session_json(session, true).to_string();
        Ok(mark_fallback(
            respond(200, "application/json", body),
            source,
        ))
    });
    result.unwrap_or_else(|error| error.json())
}

async fn delete_current_session(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let result = authenticate(&shared, &uri, &headers).map(|(secret, source)| {
        shared.state().sessions.remove(&secret);
        let mut response = respond(204, "application/json", Body::empty());
        response.headers_mut().remove(header::CONTENT_TYPE);
        let name = format!("a_session_{}", shared.config.project_id);
        for cookie in [format!("{name}_legacy"), name] {
            let expired = format!(
                "{cookie}=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; path=/; httponly"
            );
            if let Ok(expired) = HeaderValue::from_str(&expired) {
                response.headers_mut().append(header::SET_COOKIE, expired);
            }
        }
        if fallback_mode(&shared, &headers) {
            response.headers_mut().insert(
                HeaderName::from_static("x-fallback-cookies"),
                HeaderValue::from_static("[]"),
            );
        }
        mark_fallback(response, source)
    });
    result.unwrap_or_else(|error| error.json())
}

async fn console_relay(Path(outcome): Path<String>) -> Response {
    respond(
        200,
        "text/html; charset=UTF-8",
        html::console_relay_page(&outcome),
    )
}

async fn route_not_found() -> Response {
    ApiError::new(
        404,
        kind::ROUTE_NOT_FOUND,
        "The requested route was not found. Please refer to the API docs and try again.",
    )
    .json()
}
