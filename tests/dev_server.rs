//! The Appwrite stand-in over real HTTP on loopback: the whole OAuth2 token login, driven by a
//! plain HTTP client that follows the fake provider's consent links, and every error path.

use std::time::Duration;

use bevy_appwrite::OAuthProvider;
use bevy_appwrite::dev_server::{DevServer, DevServerConfig};
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use url::Url;

const SUCCESS: &str = "http://localhost:4567/done?keep=1&note=a+b";
const FAILURE: &str = "http://localhost:4567/failed?keep=2";

fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("a plain HTTP client builds")
}

fn start(config: DevServerConfig) -> DevServer {
    DevServer::start(config).expect("the stand-in starts on an ephemeral port")
}

/// `{endpoint}/account/tokens/oauth2/{provider}?{query}`, the query form-encoded as the SDKs do.
fn token_url(server: &DevServer, provider: &str, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!(
        "{}/account/tokens/oauth2/{provider}",
        server.endpoint()
    ))
    .unwrap();
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
    }
    url.into()
}

fn login_params(server: &DevServer) -> Vec<(&'static str, String)> {
    vec![
        ("success", SUCCESS.to_owned()),
        ("failure", FAILURE.to_owned()),
        ("project", server.project_id().to_owned()),
    ]
}

fn as_refs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a redirect has a Location")
        .to_str()
        .unwrap()
        .to_owned()
}

fn query_of(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn query_value(url: &str, key: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The `href` of the consent page's link with this `id`, resolved against the page URL.
fn consent_link(page_url: &str, html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" href=\"");
    let start = html.find(&marker).expect("the consent page has the link") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    let href = html[start..end].replace("&amp;", "&");
    Url::parse(page_url).unwrap().join(&href).unwrap().into()
}

async fn get(client: &Client, url: &str) -> Response {
    client.get(url).send().await.expect("the stand-in answers")
}

/// Token URL → consent page → the chosen link → callback → redirect; returns the redirect
/// route's response (a 301 to the success or failure URL).
async fn sign_in_with(client: &Client, token_url: &str, choice: &str) -> Response {
    let token = get(client, token_url).await;
    assert_eq!(token.status(), StatusCode::MOVED_PERMANENTLY);
    let authorize = location(&token);
    let consent = get(client, &authorize).await;
    // With auto-approve the provider answers at once; otherwise the player picks a link.
    let provider_back = if consent.status() == StatusCode::FOUND {
        consent
    } else {
        assert_eq!(consent.status(), StatusCode::OK);
        let html = consent.text().await.unwrap();
        get(client, &consent_link(&authorize, &html, choice)).await
    };
    assert_eq!(provider_back.status(), StatusCode::FOUND);
    let callback = get(client, &location(&provider_back)).await;
    assert_eq!(callback.status(), StatusCode::MOVED_PERMANENTLY);
    get(client, &location(&callback)).await
}

/// A full sign-in that the player allows; returns `(userId, secret)` from the success URL.
async fn sign_in(server: &DevServer, client: &Client) -> (String, String) {
    let params = login_params(server);
    let redirect = sign_in_with(
        client,
        &token_url(server, "github", &as_refs(&params)),
        "allow",
    )
    .await;
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    let success = location(&redirect);
    (
        query_value(&success, "userId").expect("userId on the success URL"),
        query_value(&success, "secret").expect("secret on the success URL"),
    )
}

async fn exchange(server: &DevServer, client: &Client, user_id: &str, secret: &str) -> Response {
    client
        .post(format!("{}/account/sessions/token", server.endpoint()))
        .header("X-Appwrite-Project", server.project_id())
        .json(&json!({ "userId": user_id, "secret": secret }))
        .send()
        .await
        .unwrap()
}

fn session_value(headers: &HeaderMap, project: &str) -> String {
    let fallback: Value =
        serde_json::from_str(headers.get("x-fallback-cookies").unwrap().to_str().unwrap()).unwrap();
    fallback[format!("a_session_{project}")]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn account(server: &DevServer, client: &Client, session: Option<&str>) -> Response {
    let mut request = client
        .get(format!("{}/account", server.endpoint()))
        .header("X-Appwrite-Project", server.project_id());
    if let Some(session) = session {
        request = request.header("X-Appwrite-Session", session);
    }
    request.send().await.unwrap()
}

async fn json_error(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "errors of this route are JSON"
    );
    (status, response.json().await.unwrap())
}

/// The token route's HTML error page: status, `<h1>` message and `<span class='type'>`.
async fn html_error(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/html"),
        "not HTML: {content_type}"
    );
    let body = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_err(), "never JSON");
    let between = |open: &str, close: &str| {
        let start = body
            .find(open)
            .unwrap_or_else(|| panic!("no {open} in {body}"))
            + open.len();
        body[start..start + body[start..].find(close).unwrap()].to_owned()
    };
    assert!(body.contains(&format!("Error {status}")));
    (
        status,
        between("<h1>", "</h1>"),
        between("<span class='type'>", "</span>"),
    )
}

#[tokio::test]
async fn full_login_then_account_then_logout() {
    let server = start(DevServerConfig::new());
    let client = client();
    let params = login_params(&server);
    let url = token_url(&server, "github", &as_refs(&params));

    let token = get(&client, &url).await;
    assert_eq!(token.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        token.headers()["cache-control"],
        "no-store, no-cache, must-revalidate, max-age=0"
    );
    let authorize = location(&token);
    assert!(authorize.starts_with(&format!(
        "http://{}/provider/github/authorize?",
        server.addr()
    )));
    assert_eq!(
        query_value(&authorize, "redirect_uri").unwrap(),
        format!(
            "{}/account/sessions/oauth2/callback/github/{}",
            server.endpoint(),
            server.project_id()
        )
    );
    let state: Value = serde_json::from_str(&query_value(&authorize, "state").unwrap()).unwrap();
    assert_eq!(
        state,
        json!({ "success": SUCCESS, "failure": FAILURE, "token": true })
    );

    let consent = get(&client, &authorize).await;
    let html = consent.text().await.unwrap();
    assert!(
        html.contains("Sign in with GitHub as Test Player"),
        "{html}"
    );
    assert!(html.contains("id=\"deny\""));
    let back = get(&client, &consent_link(&authorize, &html, "allow")).await;
    assert_eq!(back.status(), StatusCode::FOUND);
    let callback_url = location(&back);
    assert!(query_value(&callback_url, "code").is_some());
    assert_eq!(
        query_value(&callback_url, "state"),
        query_value(&authorize, "state")
    );

    let callback = get(&client, &callback_url).await;
    assert_eq!(callback.status(), StatusCode::MOVED_PERMANENTLY);
    let redirect_url = location(&callback);
    assert!(redirect_url.contains("/v1/account/sessions/oauth2/github/redirect?code="));
    assert_eq!(
        query_value(&redirect_url, "project").as_deref(),
        Some(server.project_id())
    );

    let redirect = get(&client, &redirect_url).await;
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    let success = location(&redirect);
    assert!(
        success.starts_with("http://localhost:4567/done?keep=1&note=a+b&secret="),
        "{success}"
    );
    assert!(
        success.ends_with('#'),
        "an empty fragment is appended: {success}"
    );
    let pairs = query_of(&success);
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["keep", "note", "secret", "userId"]);
    let user_id = query_value(&success, "userId").unwrap();
    let secret = query_value(&success, "secret").unwrap();
    assert_eq!(secret.split('.').count(), 3, "1.9-style JWT-shaped secret");
    assert!(secret.len() <= 256);

    let created = exchange(&server, &client, &user_id, &secret).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let headers = created.headers().clone();
    let cookies: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let project = server.project_id();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with(&format!("a_session_{project}_legacy=")));
    assert!(cookies[1].starts_with(&format!("a_session_{project}=")));
    assert!(cookies[1].contains("samesite=None"));
    let value = session_value(&headers, project);
    let session: Value = created.json().await.unwrap();
    assert_eq!(
        session["secret"], "",
        "the JSON never carries the session secret"
    );
    assert_eq!(session["userId"], user_id.as_str());
    assert_eq!(session["provider"], "github");
    assert_eq!(session["current"], true);

    let me = account(&server, &client, Some(&value)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let user: Value = me.json().await.unwrap();
    assert_eq!(user["$id"], user_id.as_str());
    assert_eq!(user["name"], "Test Player");
    assert_eq!(user["emailVerification"], true);

    let current = client
        .get(format!("{}/account/sessions/current", server.endpoint()))
        .header("X-Appwrite-Project", project)
        .header("X-Appwrite-Session", &value)
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(
        current.json::<Value>().await.unwrap()["$id"],
        session["$id"]
    );

    let logout = client
        .delete(format!("{}/account/sessions/current", server.endpoint()))
        .header("X-Appwrite-Project", project)
        .header("X-Appwrite-Session", &value)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(logout.headers()["x-fallback-cookies"], "[]");

    let (status, error) = json_error(account(&server, &client, Some(&value)).await).await;
    assert_eq!(status, 401);
    assert_eq!(error["type"], "general_unauthorized_scope");
    assert_eq!(error["code"], 401);

    // The request log holds what the client sent, byte for byte.
    let log = server.requests();
    let post = log
        .iter()
        .find(|r| r.method == "POST" && r.path() == "/v1/account/sessions/token")
        .unwrap();
    assert_eq!(post.header("x-appwrite-project"), Some(project));
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body, json!({ "userId": user_id, "secret": secret }));
    let first = &log[0];
    assert_eq!(first.method, "GET");
    assert_eq!(format!("http://{}{}", server.addr(), first.uri), url);
}

#[tokio::test]
async fn the_session_is_accepted_from_cookie_and_fallback_header_too() {
    let server = start(DevServerConfig::new().auto_approve(true));
    let client = client();
    let params = login_params(&server);
    let token = get(&client, &token_url(&server, "discord", &as_refs(&params))).await;
    // Auto-approve: the provider answers with the callback at once.
    let back = get(&client, &location(&token)).await;
    assert_eq!(back.status(), StatusCode::FOUND);
    let redirect = get(&client, &location(&get(&client, &location(&back)).await)).await;
    let success = location(&redirect);
    let (user_id, secret) = (
        query_value(&success, "userId").unwrap(),
        query_value(&success, "secret").unwrap(),
    );
    let created = exchange(&server, &client, &user_id, &secret).await;
    let value = session_value(created.headers(), server.project_id());
    let project = server.project_id();
    let cookie = created
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("a_session_{project}=")))
        .unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();

    let by_cookie = client
        .get(format!("{}/account", server.endpoint()))
        .header("X-Appwrite-Project", project)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);

    let by_fallback = client
        .get(format!("{}/account", server.endpoint()))
        .header("X-Appwrite-Project", project)
        .header(
            "X-Fallback-Cookies",
            json!({ format!("a_session_{project}"): value }).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_fallback.status(), StatusCode::OK);
    assert_eq!(by_fallback.headers()["x-debug-fallback"], "true");
    let user: Value = by_fallback.json().await.unwrap();
    assert_eq!(user["$id"], user_id.as_str());
}

#[tokio::test]
async fn success_and_failure_hosts_are_checked_like_appwrite() {
    let server = start(DevServerConfig::new());
    let client = client();
    let project = server.project_id().to_owned();
    let attempt = |success: String| {
        let url = token_url(
            &server,
            "github",
            &[("success", &success), ("project", &project)],
        );
        let client = client.clone();
        async move { get(&client, &url).await }
    };

    // `localhost` is allowed on any port; `127.0.0.1` only when configured (released Appwrite).
    assert_eq!(attempt("http://localhost:1/x".into()).await.status(), 301);
    assert_eq!(attempt("https://LOCALHOST/x".into()).await.status(), 301);
    let (status, message, kind) = html_error(attempt("http://127.0.0.1:9/x".into()).await).await;
    assert_eq!((status, kind.as_str()), (400, "general_argument_invalid"));
    assert_eq!(
        message,
        "Invalid `success` param: Invalid URI. Register your new client (127.0.0.1) as a new Web \
         platform on your project console dashboard"
    );
    let (status, _, _) = html_error(attempt("https://evil.example/steal".into()).await).await;
    assert_eq!(status, 400);

    // Deep-link schemes: `appwrite-callback-<project>` and `exp` only.
    assert_eq!(
        attempt(format!("appwrite-callback-{project}://"))
            .await
            .status(),
        301
    );
    assert_eq!(attempt("exp://192.168.0.1:8081".into()).await.status(), 301);
    let (status, _, _) = html_error(attempt("appwrite-callback-other://".into()).await).await;
    assert_eq!(status, 400);
    let (status, _, _) = html_error(attempt("random-scheme://localhost".into()).await).await;
    assert_eq!(status, 400);

    // The failure URL is checked the same way.
    let url = token_url(
        &server,
        "github",
        &[("failure", "http://example.com/"), ("project", &project)],
    );
    let (status, message, _) = html_error(get(&client, &url).await).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("Invalid `failure` param"), "{message}");

    let configured = start(
        DevServerConfig::new()
            .allow_host("127.0.0.1")
            .allow_host("*.example.org"),
    );
    for allowed in ["http://127.0.0.1:5555/cb", "https://play.example.org/"] {
        let url = token_url(
            &configured,
            "github",
            &[("success", allowed), ("project", configured.project_id())],
        );
        assert_eq!(get(&client, &url).await.status(), 301, "{allowed}");
    }
    // A wildcard matches sub-domains, not the apex.
    let url = token_url(
        &configured,
        "github",
        &[
            ("success", "https://example.org/"),
            ("project", configured.project_id()),
        ],
    );
    assert_eq!(get(&client, &url).await.status(), 400);
}

#[tokio::test]
async fn deep_link_success_urls_get_the_appwrite_shape() {
    let server = start(DevServerConfig::new().auto_approve(true));
    let client = client();
    let success = format!("appwrite-callback-{}://", server.project_id());
    let url = token_url(
        &server,
        "google",
        &[("success", &success), ("project", server.project_id())],
    );
    let back = get(&client, &location(&get(&client, &url).await)).await;
    let redirect = get(&client, &location(&get(&client, &location(&back)).await)).await;
    assert_eq!(redirect.status(), 301, "{:?}", redirect.text().await);
    let target = location(&redirect);
    let prefix = format!("appwrite-callback-{}:///?secret=", server.project_id());
    assert!(target.starts_with(&prefix), "{target}");
    assert!(target.contains("&userId="));
    assert!(target.ends_with('#'));
}

#[tokio::test]
async fn providers_are_case_sensitive_wire_names() {
    let server = start(DevServerConfig::new());
    let client = client();
    let project = server.project_id();
    for wrong in ["GitHub", "paypalsandbox", "mock", "nope"] {
        let (status, message, kind) =
            html_error(get(&client, &token_url(&server, wrong, &[("project", project)])).await)
                .await;
        assert_eq!(
            (status, kind.as_str()),
            (400, "general_argument_invalid"),
            "{wrong}"
        );
        assert!(
            message.starts_with("Invalid `provider` param: Value must be one of (amazon, apple,")
        );
    }
    for provider in OAuthProvider::ALL {
        let response = get(
            &client,
            &token_url(&server, provider.as_str(), &[("project", project)]),
        )
        .await;
        assert_eq!(response.status(), 301, "{provider}");
    }
}

#[tokio::test]
async fn scopes_are_read_in_both_array_forms_and_limited() {
    let server = start(DevServerConfig::new().rate_limit_per_hour(None));
    let client = client();
    let base = format!(
        "{}/account/tokens/oauth2/github?project={}",
        server.endpoint(),
        server.project_id()
    );
    for query in [
        "&scopes[]=read:user&scopes[]=repo",
        "&scopes%5B%5D=read%3Auser&scopes%5B%5D=repo",
        "&scopes%5B0%5D=read%3Auser&scopes%5B1%5D=repo",
    ] {
        let response = get(&client, &format!("{base}{query}")).await;
        assert_eq!(response.status(), 301, "{query}");
        assert_eq!(
            query_value(&location(&response), "scope").unwrap(),
            "email read:user repo"
        );
    }

    let hundred: String = (0..100).map(|i| format!("&scopes%5B{i}%5D=s{i}")).collect();
    assert_eq!(
        get(&client, &format!("{base}{hundred}")).await.status(),
        301
    );
    let too_many = format!("{base}{hundred}&scopes%5B100%5D=one-more");
    let (status, message, kind) = html_error(get(&client, &too_many).await).await;
    assert_eq!((status, kind.as_str()), (400, "general_argument_invalid"));
    assert!(message.starts_with("Invalid `scopes` param"), "{message}");

    let longest = "a".repeat(4096);
    assert_eq!(
        get(&client, &format!("{base}&scopes%5B%5D={longest}"))
            .await
            .status(),
        301
    );
    let too_long = format!("{base}&scopes%5B%5D={longest}a");
    assert_eq!(html_error(get(&client, &too_long).await).await.0, 400);
    let not_an_array = format!("{base}&scopes=email");
    assert_eq!(html_error(get(&client, &not_an_array).await).await.0, 400);
}

#[tokio::test]
async fn unknown_project_is_404_and_the_header_works_when_the_query_has_none() {
    let server = start(DevServerConfig::new().project("my-game"));
    let client = client();
    assert_eq!(server.project_id(), "my-game");
    let (status, message, kind) = html_error(
        get(
            &client,
            &token_url(&server, "github", &[("project", "other")]),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (404, "project_not_found"));
    assert!(message.contains("X-Appwrite-Project"));

    let by_header = client
        .get(token_url(&server, "github", &[]))
        .header("X-Appwrite-Project", "my-game")
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 301);
    // The query parameter wins over the header.
    let both = client
        .get(token_url(&server, "github", &[("project", "other")]))
        .header("X-Appwrite-Project", "my-game")
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 404);
}

#[tokio::test]
async fn a_disabled_provider_is_412() {
    let server = start(DevServerConfig::new().disable_provider(OAuthProvider::Twitch));
    let client = client();
    let url = token_url(&server, "twitch", &[("project", server.project_id())]);
    let (status, message, kind) = html_error(get(&client, &url).await).await;
    assert_eq!((status, kind.as_str()), (412, "project_provider_disabled"));
    assert!(message.starts_with("This provider is disabled."));
    let other = token_url(&server, "github", &[("project", server.project_id())]);
    assert_eq!(get(&client, &other).await.status(), 301);
}

#[tokio::test]
async fn the_rate_limit_answers_429_after_the_limit() {
    let server = start(DevServerConfig::new().rate_limit_per_hour(Some(3)));
    let client = client();
    let url = token_url(&server, "github", &[("project", server.project_id())]);
    for remaining in [2, 1, 0] {
        let response = get(&client, &url).await;
        assert_eq!(response.status(), 301);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let (status, message, kind) = html_error(get(&client, &url).await).await;
    assert_eq!(
        (status, kind.as_str()),
        (429, "general_rate_limit_exceeded")
    );
    assert!(message.starts_with("Rate limit for the current endpoint has been exceeded."));
}

#[tokio::test]
async fn denying_at_the_provider_sends_the_error_to_the_failure_url() {
    let server = start(DevServerConfig::new());
    let client = client();
    let params = login_params(&server);
    let redirect = sign_in_with(
        &client,
        &token_url(&server, "github", &as_refs(&params)),
        "deny",
    )
    .await;
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    let failure = location(&redirect);
    assert!(
        failure.starts_with("http://localhost:4567/failed?keep=2&error="),
        "{failure}"
    );
    assert!(query_value(&failure, "secret").is_none());
    let error: Value = serde_json::from_str(&query_value(&failure, "error").unwrap()).unwrap();
    assert_eq!(
        error,
        json!({
            "message": "The GitHub OAuth2 provider returned an error: access_denied: The user has denied your application access.",
            "type": "user_oauth2_provider_error",
            "code": 424,
        })
    );
    // Key order as Appwrite's json_encode writes it.
    let raw = query_value(&failure, "error").unwrap();
    assert!(
        raw.starts_with(r#"{"message":"#) && raw.contains(r#"","type":"#),
        "{raw}"
    );
}

#[tokio::test]
async fn a_token_secret_is_single_use() {
    let server = start(DevServerConfig::new());
    let client = client();
    let (user_id, secret) = sign_in(&server, &client).await;
    // A wrong user id is refused and does not spend the secret.
    let (status, error) =
        json_error(exchange(&server, &client, "someone-else", &secret).await).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (401, Some("user_invalid_token"))
    );
    assert_eq!(
        exchange(&server, &client, &user_id, &secret).await.status(),
        201
    );
    let (status, error) = json_error(exchange(&server, &client, &user_id, &secret).await).await;
    assert_eq!(status, 401);
    assert_eq!(error["type"], "user_invalid_token");
    assert_eq!(error["message"], "Invalid token passed in the request.");
    assert_eq!(error["version"], "1.9.6");
    let (status, error) = json_error(exchange(&server, &client, &user_id, "made-up").await).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (401, Some("user_invalid_token"))
    );
}

#[tokio::test]
async fn an_expired_token_secret_is_refused() {
    // A zero lifetime: the secret has expired by the time anyone can present it, exactly as a
    // 1.9 secret has 60 seconds after the redirect.
    let server = start(DevServerConfig::new().token_secret_lifetime(Duration::ZERO));
    let client = client();
    let (user_id, secret) = sign_in(&server, &client).await;
    let (status, error) = json_error(exchange(&server, &client, &user_id, &secret).await).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (401, Some("user_invalid_token"))
    );
}

#[tokio::test]
async fn creating_a_session_while_holding_one_is_refused() {
    let server = start(DevServerConfig::new().auto_approve(true));
    let client = client();
    let (user_id, secret) = sign_in(&server, &client).await;
    let created = exchange(&server, &client, &user_id, &secret).await;
    let value = session_value(created.headers(), server.project_id());
    let (user_id, secret) = sign_in(&server, &client).await;
    let again = client
        .post(format!("{}/account/sessions/token", server.endpoint()))
        .header("X-Appwrite-Project", server.project_id())
        .header("X-Appwrite-Session", &value)
        .json(&json!({ "userId": user_id, "secret": secret }))
        .send()
        .await
        .unwrap();
    let (status, error) = json_error(again).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (401, Some("user_session_already_exists"))
    );
    // Without the stale session the same secret still works.
    assert_eq!(
        exchange(&server, &client, &user_id, &secret).await.status(),
        201
    );
}

#[tokio::test]
async fn bad_session_requests_get_json_errors() {
    let server = start(DevServerConfig::new());
    let client = client();
    let post = |body: Value| {
        client
            .post(format!("{}/account/sessions/token", server.endpoint()))
            .header("X-Appwrite-Project", server.project_id())
            .json(&body)
            .send()
    };
    let (status, error) = json_error(post(json!({ "secret": "x" })).await.unwrap()).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (400, Some("general_argument_invalid"))
    );
    assert_eq!(error["message"], "Param \"userId\" is not optional.");
    let long = "s".repeat(257);
    let (status, _) = json_error(
        post(json!({ "userId": "abc", "secret": long }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = json_error(
        post(json!({ "userId": "_bad", "secret": "x" }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, error) = json_error(
        client
            .post(format!("{}/account/sessions/token", server.endpoint()))
            .header("X-Appwrite-Project", "nope")
            .json(&json!({ "userId": "abc", "secret": "x" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["type"].as_str()),
        (404, Some("project_not_found"))
    );
    let (status, error) =
        json_error(get(&client, &format!("{}/nothing/here", server.endpoint())).await).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (404, Some("general_route_not_found"))
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = start(DevServerConfig::new());
    let endpoint = server.endpoint().to_owned();
    let client = client();
    assert_eq!(
        get(&client, &format!("{endpoint}/account")).await.status(),
        404
    );
    server.shutdown();
    let refused = client.get(format!("{endpoint}/account")).send().await;
    assert!(refused.is_err(), "nothing listens after shutdown");
}

// ---------------------------------------------------------------------------------------------
// The JSON the stand-in answers with, checked against the official Appwrite 1.8 client spec.
// ---------------------------------------------------------------------------------------------

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/open-api3-1.8.x-client.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks `value` against an OpenAPI 3.0 schema: `$ref`, `type`, `nullable`, `required`,
/// `properties`, `items`, `oneOf`. Returns every mismatch with its JSON path.
fn validate(spec: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return validate(
            spec,
            &spec["components"]["schemas"][name],
            value,
            path,
            errors,
        );
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = options.iter().any(|option| {
            let mut inner = Vec::new();
            validate(spec, option, value, path, &mut inner);
            inner.is_empty()
        });
        if !fits {
            errors.push(format!("{path}: matches none of oneOf"));
        }
        return;
    }
    if value.is_null() {
        if schema["nullable"] != true {
            errors.push(format!("{path}: null but not nullable"));
        }
        return;
    }
    let fits = match schema["type"].as_str() {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    };
    if !fits {
        errors.push(format!("{path}: expected {}, got {value}", schema["type"]));
        return;
    }
    if let Some(required) = schema["required"].as_array() {
        for key in required.iter().filter_map(Value::as_str) {
            if value.get(key).is_none() {
                errors.push(format!("{path}.{key}: required but missing"));
            }
        }
    }
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object())
    {
        for (key, item) in object {
            match properties.get(key) {
                Some(property) => validate(spec, property, item, &format!("{path}.{key}"), errors),
                None => errors.push(format!("{path}.{key}: not in the schema")),
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            validate(spec, items, item, &format!("{path}[{index}]"), errors);
        }
    }
}

fn assert_fits(spec: &Value, schema: &Value, value: &Value) {
    let mut errors = Vec::new();
    validate(spec, schema, value, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

#[tokio::test]
async fn session_user_and_error_json_fit_the_official_spec() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let server = start(DevServerConfig::new().auto_approve(true));
    let client = client();
    let (user_id, secret) = sign_in(&server, &client).await;
    let created = exchange(&server, &client, &user_id, &secret).await;
    let value = session_value(created.headers(), server.project_id());
    let session: Value = created.json().await.unwrap();
    assert_fits(&spec, &schemas["session"], &session);

    let user: Value = account(&server, &client, Some(&value))
        .await
        .json()
        .await
        .unwrap();
    assert_fits(&spec, &schemas["user"], &user);
    assert_eq!(user["targets"][0]["providerType"], "email");

    let (status, error) = json_error(account(&server, &client, None).await).await;
    assert_eq!(status, 401);
    // The spec declares `code` a string, but Appwrite emits the HTTP status as an integer
    // (its Response model does no casting; shared/research/appwrite-protocol.md §6.1). The
    // stand-in does what the server does; everything else must match the spec exactly.
    assert_eq!(error["code"], 401);
    let mut error_schema = schemas["error"].clone();
    error_schema["properties"]["code"] = json!({ "type": "integer" });
    assert_fits(&spec, &error_schema, &error);
    assert_eq!(
        error["message"],
        r#"User (role: guests) missing scopes (["account"])"#
    );

    // The validator itself rejects what does not fit.
    let mut errors = Vec::new();
    validate(
        &spec,
        &schemas["session"],
        &json!({ "current": "yes" }),
        "$",
        &mut errors,
    );
    assert!(
        errors.iter().any(|e| e.contains("$.current: expected")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("$.userId: required")),
        "{errors:?}"
    );
}
