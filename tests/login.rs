//! The plugin's complete OAuth2 token login in a headless Bevy app, over real loopback HTTP
//! against the Appwrite stand-in, asserting on what the stand-in received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use bevy::prelude::*;
use bevy_appwrite::dev_server::{ConsentChoice, DevServer, DevServerConfig, simulated_player};
use bevy_appwrite::error::kinds;
use bevy_appwrite::prelude::*;
use common::{Seen, app, app_for, login, only_failure, run_until, terminal_count};

fn approve() -> BrowserOpener {
    simulated_player(ConsentChoice::Allow)
}

/// An opener that never visits the page: the player walked away.
fn walk_away() -> BrowserOpener {
    BrowserOpener::new(|_| Ok(()))
}

/// Everything any thread of this test binary logs (the plugin logs through `tracing`).
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> bevy::log::tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn capture_logs() -> CapturedLogs {
    use bevy::log::tracing_subscriber::util::SubscriberInitExt;
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let _ = bevy::log::tracing_subscriber::fmt()
            .with_max_level(bevy::log::Level::TRACE)
            .with_writer(logs.clone())
            .finish()
            .try_init();
        logs
    })
    .clone()
}

#[test]
fn a_full_login_signs_the_player_in() {
    let logs = capture_logs();
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let mut app = app(&server, approve());
    let id = login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    for _ in 0..5 {
        app.update();
    }

    let seen = app.world().resource::<Seen>();
    assert!(seen.failed.is_empty(), "{:?}", seen.failed);
    assert_eq!(seen.observed_terminal, [id]);
    let done = &seen.succeeded[0];
    assert_eq!((done.request, done.provider), (id, OAuthProvider::Github));
    let signed_in = done.signed_in().expect("signed in");
    assert_eq!(signed_in.user.name, "Test Player");
    assert_eq!(signed_in.session.user_id, signed_in.user_id);
    assert_eq!(signed_in.session.provider, "github");
    let stages: Vec<_> = seen
        .progress
        .iter()
        .map(|p| match &p.stage {
            OAuthStage::AuthorizationUrl(_) => "url",
            OAuthStage::BrowserOpened => "opened",
            OAuthStage::WaitingForPlayer => "waiting",
            OAuthStage::CreatingSession => "session",
        })
        .collect();
    assert_eq!(stages, ["url", "opened", "waiting", "session"]);
    let session = app.world().resource::<AppwriteSession>();
    assert!(session.is_signed_in());
    assert_eq!(session.user().unwrap().email, "test.player@example.com");
    let secret = session.secret().unwrap().expose().to_owned();

    // What the stand-in received.
    let log = server.requests();
    let token = log
        .iter()
        .find(|r| r.path() == "/v1/account/tokens/oauth2/github")
        .unwrap();
    let query = token.query().unwrap();
    assert!(
        query.starts_with("success=http%3A%2F%2Flocalhost%3A"),
        "{query}"
    );
    assert!(query.contains("%2Fappwrite%2Foauth%2F"), "{query}");
    assert!(
        query.ends_with(&format!("&project={}", server.project_id())),
        "{query}"
    );
    let nonce_hex = query
        .split("%2Fappwrite%2Foauth%2F")
        .nth(1)
        .unwrap()
        .split("%2F")
        .next()
        .unwrap();
    assert_eq!(nonce_hex.len(), 32, "a 128-bit nonce");
    for (name, value) in [
        ("x-appwrite-project", server.project_id()),
        ("x-appwrite-response-format", "1.8.0"),
        ("x-sdk-name", "Bevy"),
        ("x-sdk-platform", "client"),
        ("x-sdk-language", "rust"),
        ("x-sdk-version", env!("CARGO_PKG_VERSION")),
    ] {
        assert_eq!(token.header(name), Some(value), "{name}");
    }
    assert!(
        token
            .header("user-agent")
            .unwrap()
            .starts_with("BevyAppwrite/")
    );
    assert!(
        log.iter().all(|r| r.header("origin").is_none()),
        "never an Origin"
    );
    let exchange = log
        .iter()
        .find(|r| r.path() == "/v1/account/sessions/token")
        .unwrap();
    assert!(
        exchange.header("x-appwrite-session").is_none(),
        "no stale session"
    );
    let account = log.iter().find(|r| r.path() == "/v1/account").unwrap();
    assert_eq!(account.header("x-appwrite-session"), Some(secret.as_str()));

    // No secret in Debug output: neither the session value nor the token secret.
    let body: serde_json::Value = serde_json::from_slice(&exchange.body).unwrap();
    let token_secret = body["secret"].as_str().unwrap();
    let debug = format!("{done:?} {:?}", app.world().resource::<AppwriteSession>());
    assert!(!debug.contains(&secret), "session value leaked: {debug}");
    assert!(!debug.contains(token_secret), "token secret leaked");
    assert!(debug.contains("<redacted>"));

    // Nor in anything logged at any level, by the plugin or the HTTP stack beneath it.
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("reqwest") || logged.contains("hyper"),
        "the capture works"
    );
    assert!(!logged.contains(&secret), "session value logged");
    assert!(!logged.contains(token_secret), "token secret logged");
}

#[test]
fn invalid_input_sends_nothing() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let mut app = app(&server, approve());
    let scopes: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github).scopes(scopes),
    );
    let error = only_failure(&mut app);
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::INVALID_REQUEST, 0)
    );

    let mut app = self::app(&server, approve());
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github).scopes(["x".repeat(4097)]),
    );
    assert_eq!(only_failure(&mut app).kind, kinds::INVALID_REQUEST);

    let mut app = self::app(&server, approve());
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github).success("not a url"),
    );
    assert_eq!(only_failure(&mut app).kind, kinds::INVALID_REQUEST);

    let mut app = app_for("", "p", approve());
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!(error.kind, kinds::CONFIGURATION);
    assert!(error.message.contains("endpoint"), "{}", error.message);

    assert!(
        server.requests().is_empty(),
        "no request reached the server"
    );
}

#[test]
fn token_request_errors_arrive_with_code_type_and_message() {
    let server = DevServer::start(
        DevServerConfig::new()
            .disable_provider(OAuthProvider::Twitch)
            .rate_limit_per_hour(Some(2)),
    )
    .unwrap();

    let mut app = app(&server, approve());
    login(&mut app, OAuthRequest::new(OAuthProvider::Twitch));
    let error = only_failure(&mut app);
    assert_eq!(
        (error.code, error.kind.as_str()),
        (412, "project_provider_disabled")
    );
    assert!(error.message.starts_with("This provider is disabled."));
    assert!(error.response.contains("<h1>"), "the raw HTML page is kept");

    let mut app = self::app(&server, approve());
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github).success("https://evil.example/steal"),
    );
    let error = only_failure(&mut app);
    assert_eq!(
        (error.code, error.kind.as_str()),
        (400, "general_argument_invalid")
    );
    assert!(
        error.message.starts_with("Invalid `success` param"),
        "{}",
        error.message
    );

    let mut app = self::app(&server, approve());
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!(
        (error.code, error.kind.as_str()),
        (429, "general_rate_limit_exceeded")
    );
}

#[test]
fn denying_at_the_provider_fails_with_appwrites_error() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let mut app = app(&server, simulated_player(ConsentChoice::Deny));
    login(&mut app, OAuthRequest::new(OAuthProvider::Discord));
    let error = only_failure(&mut app);
    assert_eq!(
        (error.code, error.kind.as_str()),
        (424, "user_oauth2_provider_error")
    );
    assert!(error.message.contains("access_denied"), "{}", error.message);
    assert!(!app.world().resource::<AppwriteSession>().is_signed_in());
}

#[test]
fn an_expired_secret_fails_the_exchange() {
    let server =
        DevServer::start(DevServerConfig::new().token_secret_lifetime(Duration::ZERO)).unwrap();
    let mut app = app(&server, approve());
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!(
        (error.code, error.kind.as_str()),
        (401, "user_invalid_token")
    );
}

#[test]
fn a_game_callback_is_exchanged_once_and_a_reused_secret_fails() {
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let success = format!("appwrite-callback-{}://", server.project_id());
    // The "deep link" arrives where the simulated browser ends; capture it instead of visiting.
    let landed = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = landed.clone();
    let opener = BrowserOpener::new(move |url| {
        let client = browser::blocking_get_chain(url);
        sink.lock().unwrap().push(client);
        Ok(())
    });
    let mut app = app(&server, opener);
    let first = login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Google).success(&success),
    );
    run_until(&mut app, |seen| {
        seen.progress
            .iter()
            .any(|p| p.request == first && p.stage == OAuthStage::WaitingForPlayer)
    });
    let deep_link = landed.lock().unwrap()[0].clone();
    assert!(
        deep_link.starts_with(&format!("{success}/?secret=")),
        "{deep_link}"
    );
    app.world_mut().write_message(OAuthCallback {
        url: deep_link.clone(),
        request: None,
    });
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    assert_eq!(app.world().resource::<Seen>().succeeded[0].request, first);

    let second = login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Google).success(&success),
    );
    run_until(&mut app, |seen| {
        seen.progress
            .iter()
            .any(|p| p.request == second && p.stage == OAuthStage::WaitingForPlayer)
    });
    app.world_mut().write_message(OAuthCallback {
        url: deep_link,
        request: Some(second),
    });
    run_until(&mut app, |seen| terminal_count(seen) == 2);
    let error = &app.world().resource::<Seen>().failed[0].error;
    assert_eq!(
        (error.code, error.kind.as_str()),
        (401, "user_invalid_token")
    );
}

/// Tiny helper module so the test above reads like a browser: follow the redirect chain of the
/// stand-in with a plain HTTP client and return where it ends (the deep link).
mod browser {
    pub fn blocking_get_chain(url: &str) -> String {
        let url = url.to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = ::reqwest::Client::builder()
                    .redirect(::reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let mut current = url;
                loop {
                    let response = client.get(&current).send().await.unwrap();
                    let location = response.headers()["location"].to_str().unwrap().to_owned();
                    if !location.starts_with("http") {
                        return location;
                    }
                    current = location;
                }
            })
        })
        .join()
        .unwrap()
    }
}

#[test]
fn a_login_times_out_when_the_player_walks_away() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let mut app = app(&server, walk_away());
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github).timeout(Duration::from_millis(300)),
    );
    let error = only_failure(&mut app);
    assert_eq!((error.kind.as_str(), error.code), (kinds::TIMEOUT, 0));
}

#[test]
fn cancel_ends_the_login_and_closes_the_listener() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let mut app = app(&server, walk_away());
    let id = login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| {
        seen.progress
            .iter()
            .any(|p| p.stage == OAuthStage::WaitingForPlayer)
    });
    let token = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/v1/account/tokens/oauth2/github")
        .unwrap();
    let query = token.query().unwrap().to_owned();
    let success: String = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "success")
        .unwrap()
        .1
        .into_owned();
    let port = url::Url::parse(&success).unwrap().port().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening"
    );

    app.world_mut().write_message(OAuthCancel { request: id });
    let error = only_failure(&mut app);
    assert_eq!(error.kind, kinds::CANCELLED);
    // The listener closes with the login.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the listener is still open");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_stand_in_that_is_down_gives_a_transport_error() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let (endpoint, project) = (server.endpoint().to_owned(), server.project_id().to_owned());
    server.shutdown();
    let mut app = app_for(&endpoint, &project, approve());
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!((error.kind.as_str(), error.code), (kinds::TRANSPORT, 0));
    assert!(
        error.message.starts_with("Could not connect to"),
        "{}",
        error.message
    );
}

#[test]
fn a_wrong_nonce_is_refused_and_the_login_still_completes() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let record = statuses.clone();
    let player = approve();
    let opener = BrowserOpener::new(move |url| {
        // Find the listener's port in the state the provider URL carries, then knock with a
        // wrong nonce and a wrong path before playing along.
        let state = url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let state: serde_json::Value = serde_json::from_str(&state).unwrap();
        let success = url::Url::parse(state["success"].as_str().unwrap()).unwrap();
        let port = success.port().unwrap();
        for path in [
            "/appwrite/oauth/00000000000000000000000000000000/success?userId=x&secret=y",
            "/favicon.ico",
        ] {
            let status = ureq_like_get(port, path);
            record.lock().unwrap().push(status);
        }
        player.open(url)
    });
    let mut app = app(&server, opener);
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    assert_eq!(*statuses.lock().unwrap(), [404, 404]);
    let seen = app.world().resource::<Seen>();
    assert!(seen.failed.is_empty(), "{:?}", seen.failed);
}

/// A raw HTTP/1.1 GET over a TCP socket; returns the status code.
fn ureq_like_get(port: u16, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response[9..12].parse().unwrap()
}

#[test]
fn fifty_concurrent_logins_end_with_one_result_each() {
    let server = DevServer::start(DevServerConfig::new().rate_limit_per_hour(None)).unwrap();
    let mut app = app(&server, approve());
    let ids: Vec<RequestId> = (0..50)
        .map(|_| login(&mut app, OAuthRequest::new(OAuthProvider::Gitlab)))
        .collect();
    run_until(&mut app, |seen| terminal_count(seen) == 50);
    for _ in 0..5 {
        app.update();
    }
    let seen = app.world().resource::<Seen>();
    assert!(seen.failed.is_empty(), "{:?}", seen.failed);
    let mut done: Vec<RequestId> = seen.succeeded.iter().map(|s| s.request).collect();
    done.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(done, expected, "each request exactly once");
    assert_eq!(seen.observed_terminal.len(), 50);
}

#[test]
fn logout_deletes_the_session_and_clears_it() {
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let mut app = app(&server, approve());
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    let secret = app
        .world()
        .resource::<AppwriteSession>()
        .secret()
        .unwrap()
        .expose()
        .to_owned();
    app.world_mut().write_message(Logout);
    run_until(&mut app, |seen| seen.logged_out == 1);
    assert!(!app.world().resource::<AppwriteSession>().is_signed_in());
    let delete = server
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.path(), "/v1/account/sessions/current");
    assert_eq!(delete.header("x-appwrite-session"), Some(secret.as_str()));

    // Logging out again: nobody is signed in.
    app.world_mut().write_message(Logout);
    run_until(&mut app, |seen| seen.logout_failed.len() == 1);
    assert_eq!(
        app.world().resource::<Seen>().logout_failed[0].error.kind,
        kinds::NOT_SIGNED_IN
    );
}

#[test]
fn the_token_query_is_encoded_like_the_official_web_sdk() {
    let server = DevServer::start(DevServerConfig::new().rate_limit_per_hour(None)).unwrap();
    let mut app = app(&server, approve());
    let cases: Vec<(OAuthRequest, &str)> = vec![
        (
            OAuthRequest::new(OAuthProvider::Github)
                .success("http://localhost/cb?a=1&b=x y#frag")
                .failure("http://localhost/f?q=+%")
                .scopes(["read:user", "a&b", "c#d", "e+f", "100%", "ünï cödé", ""]),
            "success=http%3A%2F%2Flocalhost%2Fcb%3Fa%3D1%26b%3Dx+y%23frag\
             &failure=http%3A%2F%2Flocalhost%2Ff%3Fq%3D%2B%25\
             &scopes%5B0%5D=read%3Auser&scopes%5B1%5D=a%26b&scopes%5B2%5D=c%23d\
             &scopes%5B3%5D=e%2Bf&scopes%5B4%5D=100%25\
             &scopes%5B5%5D=%C3%BCn%C3%AF+c%C3%B6d%C3%A9&scopes%5B6%5D=\
             &project=dev-project",
        ),
        (
            OAuthRequest::new(OAuthProvider::PaypalSandbox).success("http://localhost/*-._~"),
            "success=http%3A%2F%2Flocalhost%2F*-._%7E&project=dev-project",
        ),
    ];
    let count = cases.len();
    for (index, (request, expected)) in cases.iter().enumerate() {
        server.clear_requests();
        login(&mut app, request.clone().authorize_url_only());
        run_until(&mut app, |seen| terminal_count(seen) == index + 1);
        let log = server.requests();
        assert_eq!(
            log[0].path(),
            format!("/v1/account/tokens/oauth2/{}", request.provider())
        );
        assert_eq!(log[0].query(), Some(*expected));
    }
    // 100 scopes are allowed; an empty list sends nothing but the project.
    let hundred: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    server.clear_requests();
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github)
            .scopes(hundred)
            .authorize_url_only(),
    );
    login(
        &mut app,
        OAuthRequest::new(OAuthProvider::Github).authorize_url_only(),
    );
    run_until(&mut app, |seen| terminal_count(seen) == count + 2);
    let seen = app.world().resource::<Seen>();
    assert!(seen.failed.is_empty(), "{:?}", seen.failed);
    let log = server.requests();
    let queries: Vec<&str> = log.iter().filter_map(|r| r.query()).collect();
    assert!(
        queries
            .iter()
            .any(|q| q.contains("scopes%5B99%5D=s99&project="))
    );
    assert!(queries.contains(&"project=dev-project"));
    match &seen.succeeded[0].outcome {
        OAuthOutcome::AuthorizationUrl(url) => assert!(url.contains("/provider/github/authorize")),
        other => panic!("expected the authorization URL, got {other:?}"),
    }
}
