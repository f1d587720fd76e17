//! Security review, one test per point: the loopback listener (loopback only, one path, a
//! single-use nonce, escaped pages, size limits), no `Origin`, no plain http to other hosts,
//! and no secret in `Debug` or `Display` output.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use bevy_appwrite::dev_server::{ConsentChoice, DevServer, DevServerConfig, simulated_player};
use bevy_appwrite::error::kinds;
use bevy_appwrite::prelude::*;
use bevy_appwrite::{SessionSecret, StoredSession};
use common::{app, app_with, login, only_failure, run_until, terminal_count};

/// The success and failure URLs the plugin put in the provider's `state`.
fn loopback_urls(authorization: &str) -> (String, String) {
    let url = url::Url::parse(authorization).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    (
        state["success"].as_str().unwrap().to_owned(),
        state["failure"].as_str().unwrap().to_owned(),
    )
}

/// One raw HTTP request to the listener; returns the status and body, or `None` if the
/// connection was refused or closed without an answer.
fn raw(port: u16, request: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.get(9..12)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    raw(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"),
    )
}

/// An opener that first runs `probe` against the listener, then plays the player.
fn probing(probe: impl Fn(&str, u16, &str) + Send + Sync + 'static) -> BrowserOpener {
    let player = simulated_player(ConsentChoice::Allow);
    BrowserOpener::new(move |authorization| {
        let (success, _) = loopback_urls(authorization);
        let parsed = url::Url::parse(&success).unwrap();
        probe(authorization, parsed.port().unwrap(), parsed.path());
        player.open(authorization)
    })
}

#[cfg(target_os = "linux")]
#[test]
fn the_listener_binds_loopback_only_and_serves_one_path() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let record = statuses.clone();
    let mut app = app(
        &server,
        probing(move |_, port, success_path| {
            // Every socket listening on that port is bound to 127.0.0.1 or ::1.
            let hex_port = format!(":{port:04X}");
            let mut listening = Vec::new();
            for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
                for line in std::fs::read_to_string(table)
                    .unwrap_or_default()
                    .lines()
                    .skip(1)
                {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // State 0A is LISTEN.
                    if fields.get(3) == Some(&"0A") && fields[1].ends_with(&hex_port) {
                        listening.push(fields[1].split(':').next().unwrap().to_owned());
                    }
                }
            }
            assert!(!listening.is_empty());
            for address in &listening {
                assert!(
                    address == "0100007F" || address == "00000000000000000000000001000000",
                    "bound to a non-loopback address: {address}"
                );
            }
            let nonce_path = success_path.trim_end_matches("/success");
            let mut record = record.lock().unwrap();
            for path in [
                "/",
                "/favicon.ico",
                nonce_path,
                &format!("{nonce_path}/other"),
            ] {
                record.push(get(port, path).map(|(status, _)| status));
            }
            record.push(
                raw(port, &format!("POST {success_path}?userId=u&secret=s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
                    .map(|(status, _)| status),
            );
        }),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    assert_eq!(*statuses.lock().unwrap(), vec![Some(404); 5]);
    assert!(app.world().resource::<common::Seen>().failed.is_empty());
}

#[test]
fn the_nonce_is_single_use() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let second = Arc::new(Mutex::new(None));
    let record = second.clone();
    let opener = BrowserOpener::new(move |authorization| {
        let (success, _) = loopback_urls(authorization);
        let parsed = url::Url::parse(&success).unwrap();
        let (port, path) = (parsed.port().unwrap(), parsed.path().to_owned());
        // The right nonce twice in a row: only the first is accepted.
        let first = get(port, &format!("{path}?userId=someone&secret=made-up"));
        let again = get(port, &format!("{path}?userId=someone&secret=made-up"));
        *record.lock().unwrap() = Some((first.map(|r| r.0), again.map(|r| r.0)));
        Ok(())
    });
    let mut app = app(&server, opener);
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    // The made-up secret was exchanged (once) and refused by the server.
    assert_eq!(
        (error.code, error.kind.as_str()),
        (401, "user_invalid_token")
    );
    let (first, again) = second.lock().unwrap().unwrap();
    assert_eq!(first, Some(200));
    assert_ne!(again, Some(200), "a second hit with the nonce is refused");
}

#[test]
fn the_browser_page_escapes_the_failure_reason() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let page = Arc::new(Mutex::new(String::new()));
    let record = page.clone();
    let opener = BrowserOpener::new(move |authorization| {
        let (_, failure) = loopback_urls(authorization);
        let parsed = url::Url::parse(&failure).unwrap();
        let error = r#"{"message":"<script>alert('x')</script> & \"more\"","type":"t","code":424}"#;
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("error", error)
            .finish();
        let answer = get(
            parsed.port().unwrap(),
            &format!("{}?{query}", parsed.path()),
        );
        *record.lock().unwrap() = answer.map(|(_, body)| body).unwrap_or_default();
        Ok(())
    });
    let mut app = app(&server, opener);
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!(error.code, 424);
    let page = page.lock().unwrap().clone();
    assert!(
        page.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;more&quot;"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
}

#[test]
fn oversized_requests_to_the_listener_are_refused_and_the_login_goes_on() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let refused = Arc::new(Mutex::new(None));
    let record = refused.clone();
    let mut app = app(
        &server,
        probing(move |_, port, path| {
            let padding = "a".repeat(20 * 1024);
            let huge_header = format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Padding: {padding}\r\nConnection: close\r\n\r\n"
            );
            let huge_target = format!(
                "GET {path}?pad={padding} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            );
            *record.lock().unwrap() = Some((
                raw(port, &huge_header).map(|r| r.0),
                raw(port, &huge_target).map(|r| r.0),
            ));
        }),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    let (header, target) = refused.lock().unwrap().unwrap();
    // 431 Request Header Fields Too Large: the head exceeds the listener's 8 KiB buffer.
    assert_eq!(header, Some(431), "a 20 KiB header is refused");
    assert_eq!(target, Some(431), "a 20 KiB target is refused");
    let seen = app.world().resource::<common::Seen>();
    assert!(seen.failed.is_empty(), "{:?}", seen.failed);
}

#[test]
fn no_request_carries_an_origin_header() {
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let mut app = app(&server, simulated_player(ConsentChoice::Allow));
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    let log = server.requests();
    let plugin_requests: Vec<_> = log
        .iter()
        .filter(|r| r.header("x-sdk-name") == Some("Bevy"))
        .collect();
    assert_eq!(plugin_requests.len(), 3, "token, session, account");
    assert!(plugin_requests.iter().all(|r| r.header("origin").is_none()));
}

#[test]
fn plain_http_to_another_host_is_refused_unless_allowed() {
    let client = AppwriteClient::new()
        .set_endpoint("http://appwrite.example.com/v1")
        .set_project("p");
    let mut app = app_with(
        AppwritePlugin::new().with_client(client.clone()),
        BrowserOpener::new(|_| Ok(())),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    assert_eq!((error.kind.as_str(), error.code), (kinds::CONFIGURATION, 0));
    assert!(error.message.contains("clear text"), "{}", error.message);
    assert!(client.allow_insecure_http(true).validate().is_ok());
}

#[test]
fn secrets_never_show_in_debug_or_display() {
    let secret = "eyJpZCI6InUxIiwic2VjcmV0IjoiYWJjIn0=";
    let session = SessionSecret::new(secret);
    let stored = StoredSession {
        endpoint: "https://x/v1".into(),
        project: "p".into(),
        user_id: "u1".into(),
        secret: session.clone(),
    };
    let callback = OAuthCallback {
        url: format!("appwrite-callback-p:///?secret={secret}&userId=u1#"),
        request: None,
    };
    for shown in [
        format!("{session:?}"),
        format!("{stored:?}"),
        format!("{callback:?}"),
    ] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    // An error of an exchange shows neither the token secret nor a session.
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let token_secret = "header.payload.signature-that-is-secret";
    let opener = BrowserOpener::new(move |authorization| {
        let (success, _) = loopback_urls(authorization);
        let parsed = url::Url::parse(&success).unwrap();
        get(
            parsed.port().unwrap(),
            &format!("{}?userId=u1&secret={token_secret}", parsed.path()),
        );
        Ok(())
    });
    let mut app = app(&server, opener);
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    let error = only_failure(&mut app);
    for shown in [format!("{error}"), format!("{error:?}")] {
        assert!(!shown.contains(token_secret), "{shown}");
    }
}
