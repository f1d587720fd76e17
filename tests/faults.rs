//! Fault injection: a deliberately misbehaving server on loopback, one test per fault. Each
//! login must end in exactly one terminal error with a clear message and code, no panic, and
//! the app must keep updating.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_appwrite::error::kinds;
use bevy_appwrite::prelude::*;
use common::{app_with, login, only_failure};

/// What the misbehaving server does with one request.
enum Reply {
    /// Close the connection without a byte.
    Close,
    /// Keep the connection open and never answer.
    Hang,
    /// Write these bytes, then close.
    Raw(Vec<u8>),
    /// An HTTP/1.1 response, then close.
    Http {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
}

fn http(status: u16, headers: &[(&'static str, &str)], body: impl Into<Vec<u8>>) -> Reply {
    Reply::Http {
        status,
        headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        body: body.into(),
    }
}

/// The request line's target (`/v1/…?…`) of one request.
type Handler = dyn Fn(&str) -> Reply + Send + Sync;

/// A server on 127.0.0.1 that answers every request with its handler's [`Reply`]. It uses
/// blocking sockets and one thread per connection: it is a fault injector, not a model server.
struct FaultServer {
    addr: SocketAddr,
}

impl FaultServer {
    fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = handler.clone();
                std::thread::spawn(move || serve(stream, &*handler));
            }
        });
        Self { addr }
    }

    fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

fn serve(mut stream: TcpStream, handler: &Handler) {
    // Read the request head (bounded), then any Content-Length body.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    match handler(&target) {
        Reply::Close => {}
        Reply::Hang => std::thread::sleep(Duration::from_secs(60)),
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Http {
            status,
            headers,
            body,
        } => {
            let mut response = format!("HTTP/1.1 {status} Fault\r\nConnection: close\r\n");
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let _ = stream.write_all(response.as_bytes());
            let _ = stream.write_all(&body);
        }
    }
}

/// Appwrite's token route, faithfully enough: `301` to a provider URL that carries the
/// success and failure URLs, so the opener can play Appwrite's redirect back to the game.
fn token_redirect(target: &str) -> Option<Reply> {
    let query = target.strip_prefix("/v1/account/tokens/oauth2/github?")?;
    Some(http(
        301,
        &[("Location", &format!("http://127.0.0.1:9/provider?{query}"))],
        "",
    ))
}

/// An opener that plays the browser after the provider: it requests the success URL with
/// `success_query` appended (or the failure URL with `failure_query`).
fn redirect_back(
    success_query: Option<&'static str>,
    failure_query: Option<&'static str>,
) -> BrowserOpener {
    BrowserOpener::new(move |authorization| {
        let url = url::Url::parse(authorization).map_err(|e| e.to_string())?;
        let find = |key: &str| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        let target = match (success_query, failure_query) {
            (Some(query), _) => format!("{}?{query}", find("success").ok_or("no success")?),
            (None, Some(query)) => format!("{}?{query}", find("failure").ok_or("no failure")?),
            (None, None) => return Ok(()),
        };
        std::thread::spawn(move || {
            let url = url::Url::parse(&target).unwrap();
            let port = url.port().unwrap();
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let path = &target[target.find("/appwrite").unwrap()..];
            let _ = write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.read_to_end(&mut Vec::new());
        });
        Ok(())
    })
}

fn plugin(endpoint: &str) -> AppwritePlugin {
    AppwritePlugin::new().with_client(
        AppwriteClient::new()
            .set_endpoint(endpoint)
            .set_project("faults")
            .set_timeout(Duration::from_secs(5)),
    )
}

/// Runs one login against `server` and returns its only error.
fn fail_with(server: &FaultServer, opener: BrowserOpener) -> AppwriteError {
    let mut app = app_with(plugin(&server.endpoint()), opener);
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    only_failure(&mut app)
}

/// A full Appwrite-like exchange whose `sessions/token` and `account` answers are the fault.
fn exchange_fault(session: Reply, account: Reply) -> FaultServer {
    let session = std::sync::Mutex::new(Some(session));
    let account = std::sync::Mutex::new(Some(account));
    FaultServer::start(move |target| {
        if let Some(reply) = token_redirect(target) {
            return reply;
        }
        let slot = match target {
            "/v1/account/sessions/token" => &session,
            "/v1/account" => &account,
            _ => return http(404, &[], ""),
        };
        slot.lock().unwrap().take().unwrap_or(Reply::Close)
    })
}

const FALLBACK: (&str, &str) = (
    "X-Fallback-Cookies",
    r#"{"a_session_faults":"c2Vzc2lvbg=="}"#,
);

#[test]
fn connection_refused() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut app = app_with(
        plugin(&format!("http://127.0.0.1:{port}/v1")),
        BrowserOpener::new(|_| Ok(())),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!((error.kind.as_str(), error.code), (kinds::TRANSPORT, 0));
    assert!(
        error
            .message
            .starts_with("Could not connect to http://127.0.0.1:"),
        "{}",
        error.message
    );
}

#[test]
fn unresolvable_host() {
    let client = AppwriteClient::new()
        .set_endpoint("http://appwrite.nonexistent.invalid/v1")
        .set_project("faults")
        .allow_insecure_http(true)
        .set_timeout(Duration::from_secs(5));
    let mut app = app_with(
        AppwritePlugin::new().with_client(client),
        BrowserOpener::new(|_| Ok(())),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!(error.code, 0);
    assert!(
        [kinds::TRANSPORT, kinds::TIMEOUT].contains(&error.kind.as_str()),
        "{error:?}"
    );
    assert!(
        error.message.contains("appwrite.nonexistent.invalid"),
        "{}",
        error.message
    );
}

#[test]
fn connection_closed_without_a_response() {
    let server = FaultServer::start(|_| Reply::Close);
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!((error.kind.as_str(), error.code), (kinds::TRANSPORT, 0));
}

#[test]
fn headers_never_sent_time_out() {
    let server = FaultServer::start(|_| Reply::Hang);
    let client = AppwriteClient::new()
        .set_endpoint(server.endpoint())
        .set_project("faults")
        .set_timeout(Duration::from_millis(300));
    let mut app = app_with(
        AppwritePlugin::new().with_client(client),
        BrowserOpener::new(|_| Ok(())),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!((error.kind.as_str(), error.code), (kinds::TIMEOUT, 0));
    assert!(error.message.contains("timed out"), "{}", error.message);
}

#[test]
fn a_reply_that_is_not_http() {
    let server = FaultServer::start(|_| Reply::Raw(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()));
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!((error.kind.as_str(), error.code), (kinds::TRANSPORT, 0));
}

#[test]
fn token_request_answered_200_without_location() {
    let server = FaultServer::start(|_| http(200, &[("Content-Type", "text/html")], "<p>hi</p>"));
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::UNEXPECTED_RESPONSE, 200)
    );
    assert!(
        error.message.contains("instead of redirecting"),
        "{}",
        error.message
    );
}

#[test]
fn a_location_that_is_not_a_url() {
    let server = FaultServer::start(|_| http(301, &[("Location", "::not a url::")], ""));
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::UNEXPECTED_RESPONSE, 301)
    );
}

#[test]
fn server_error_with_a_json_body() {
    let body = r#"{"message":"The requested service is disabled.","code":503,"type":"general_service_disabled","version":"1.9.6"}"#;
    let server =
        FaultServer::start(move |_| http(503, &[("Content-Type", "application/json")], body));
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!(
        (error.code, error.kind.as_str()),
        (503, "general_service_disabled")
    );
    assert_eq!(error.message, "The requested service is disabled.");
    assert_eq!(error.response, body);
}

#[test]
fn server_error_with_an_html_body() {
    let page = "<html><p class='code'>Error 500</p><h1>Server Error</h1><p><span class='type'>general_unknown</span></p></html>";
    let server = FaultServer::start(move |_| http(500, &[("Content-Type", "text/html")], page));
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!((error.code, error.kind.as_str()), (500, "general_unknown"));
    assert_eq!(error.message, "Server Error");
}

#[test]
fn a_20_mb_body_is_not_read_whole() {
    let huge = vec![b'x'; 20 * 1024 * 1024];
    let server = FaultServer::start(move |_| http(500, &[], huge.clone()));
    let error = fail_with(&server, BrowserOpener::new(|_| Ok(())));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::UNEXPECTED_RESPONSE, 500)
    );
    assert!(error.message.contains("larger than"), "{}", error.message);
    assert!(error.response.is_empty(), "nothing of it is kept");
}

#[test]
fn truncated_json_from_sessions_token() {
    let server = exchange_fault(
        http(
            201,
            &[("Content-Type", "application/json"), FALLBACK],
            r#"{"$id":"abc","userId":"#,
        ),
        Reply::Close,
    );
    let error = fail_with(&server, redirect_back(Some("userId=u1&secret=s1"), None));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::UNEXPECTED_RESPONSE, 201)
    );
    assert!(
        error.message.contains("not the expected JSON"),
        "{}",
        error.message
    );
}

#[test]
fn sessions_token_201_without_a_session_cookie() {
    let server = exchange_fault(
        http(
            201,
            &[("Content-Type", "application/json")],
            r#"{"$id":"abc","userId":"u1"}"#,
        ),
        Reply::Close,
    );
    let error = fail_with(&server, redirect_back(Some("userId=u1&secret=s1"), None));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::UNEXPECTED_RESPONSE, 201)
    );
    assert!(
        error.message.contains("no session cookie"),
        "{}",
        error.message
    );
}

#[test]
fn account_401_right_after_the_exchange() {
    let server = exchange_fault(
        http(
            201,
            &[("Content-Type", "application/json"), FALLBACK],
            r#"{"$id":"abc","userId":"u1"}"#,
        ),
        http(
            401,
            &[("Content-Type", "application/json")],
            r#"{"message":"User (role: guests) missing scopes ([\"account\"])","code":401,"type":"general_unauthorized_scope","version":"1.9.6"}"#,
        ),
    );
    let mut app = app_with(
        plugin(&server.endpoint()),
        redirect_back(Some("userId=u1&secret=s1"), None),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!(
        (error.code, error.kind.as_str()),
        (401, "general_unauthorized_scope")
    );
    assert!(!app.world().resource::<AppwriteSession>().is_signed_in());
}

#[test]
fn a_callback_error_that_is_not_json() {
    let server = FaultServer::start(|target| token_redirect(target).unwrap_or(Reply::Close));
    let error = fail_with(&server, redirect_back(None, Some("error=%3Cb%3Eoops")));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::INVALID_CALLBACK, 0)
    );
    assert!(
        error.message.contains("not Appwrite's JSON"),
        "{}",
        error.message
    );
    assert_eq!(error.response, "<b>oops");
}

#[test]
fn a_callback_without_user_id() {
    let server = FaultServer::start(|target| token_redirect(target).unwrap_or(Reply::Close));
    let error = fail_with(&server, redirect_back(Some("secret=s1"), None));
    assert_eq!(
        (error.kind.as_str(), error.code),
        (kinds::INVALID_CALLBACK, 0)
    );
    assert!(error.message.contains("userId"), "{}", error.message);
}

#[test]
fn the_browser_opener_failing() {
    let server = FaultServer::start(|target| token_redirect(target).unwrap_or(Reply::Close));
    let error = fail_with(
        &server,
        BrowserOpener::new(|_| Err("no browser installed".to_owned())),
    );
    assert_eq!((error.kind.as_str(), error.code), (kinds::BROWSER, 0));
    assert_eq!(error.message, "no browser installed");
}

#[test]
fn the_loopback_port_is_unavailable() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let server = FaultServer::start(|target| token_redirect(target).unwrap_or(Reply::Close));
    let mut app = app_with(
        plugin(&server.endpoint()).callback_port(port),
        BrowserOpener::new(|_| Ok(())),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!((error.kind.as_str(), error.code), (kinds::LISTENER, 0));
    assert!(
        error.message.contains("loopback listener"),
        "{}",
        error.message
    );
}

#[test]
fn dropping_the_app_with_logins_in_flight() {
    static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        previous(info);
    }));
    let server = FaultServer::start(|target| token_redirect(target).unwrap_or(Reply::Hang));
    let hanging = FaultServer::start(|_| Reply::Hang);
    let mut app = app_with(plugin(&server.endpoint()), BrowserOpener::new(|_| Ok(())));
    for _ in 0..10 {
        login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    }
    let mut other = app_with(plugin(&hanging.endpoint()), BrowserOpener::new(|_| Ok(())));
    for _ in 0..10 {
        login(&mut other, OAuthRequest::new(OAuthProvider::Github));
    }
    // Let the logins get going: waiting for the player, and stuck on a silent server.
    for _ in 0..50 {
        app.update();
        other.update();
        std::thread::sleep(Duration::from_millis(2));
    }
    let started = Instant::now();
    drop(app);
    drop(other);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "dropping took {:?}",
        started.elapsed()
    );
    // Late wake-ups of the orphaned tasks must not panic anywhere.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(PANICS.load(std::sync::atomic::Ordering::SeqCst), 0);
}
