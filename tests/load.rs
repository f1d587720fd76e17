//! Load: 1,000 concurrent logins against the stand-in (auto-approve) end with exactly 1,000
//! terminal results, none duplicated, no panic.

mod common;

use std::sync::Arc;
use std::time::Instant;

use bevy_appwrite::dev_server::{DevServer, DevServerConfig};
use bevy_appwrite::prelude::*;
use common::{app, login, run_until, terminal_count};

const LOGINS: usize = 1000;

/// A browser for many tabs at once: one shared runtime and HTTP client that follow the
/// redirect chain (provider → callback → redirect → the plugin's listener).
fn browser() -> BrowserOpener {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    BrowserOpener::new(move |url| {
        let request = client.get(url).send();
        runtime.spawn(async move {
            let _ = request.await;
        });
        Ok(())
    })
}

#[test]
fn a_thousand_concurrent_logins() {
    let server = DevServer::start(
        DevServerConfig::new()
            .auto_approve(true)
            .rate_limit_per_hour(None),
    )
    .unwrap();
    let mut app = app(&server, browser());
    let started = Instant::now();
    let mut ids: Vec<RequestId> = (0..LOGINS)
        .map(|_| login(&mut app, OAuthRequest::new(OAuthProvider::Github)))
        .collect();
    let frames = run_until(&mut app, |seen| terminal_count(seen) >= LOGINS);
    let elapsed = started.elapsed();
    for _ in 0..10 {
        app.update();
    }
    let seen = app.world().resource::<common::Seen>();
    assert!(
        seen.failed.is_empty(),
        "{} failed, first: {:?}",
        seen.failed.len(),
        seen.failed.first()
    );
    assert_eq!(terminal_count(seen), LOGINS, "exactly one result each");
    let mut done: Vec<RequestId> = seen.succeeded.iter().map(|s| s.request).collect();
    done.sort();
    done.dedup();
    ids.sort();
    assert_eq!(done, ids, "every request answered once, none duplicated");
    assert_eq!(seen.observed_terminal.len(), LOGINS);
    println!(
        "{LOGINS} concurrent logins: {:.2} s wall, {} frames, slowest frame {:?}",
        elapsed.as_secs_f64(),
        frames.count,
        frames.slowest
    );
}
