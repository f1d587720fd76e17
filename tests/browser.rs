//! The whole login in a real browser: headless Chromium follows Appwrite's redirect chain
//! (token URL → fake provider with auto-approve → callback → redirect) to the plugin's loopback
//! listener, and the plugin signs the player in.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_appwrite::dev_server::{DevServer, DevServerConfig};
use bevy_appwrite::prelude::*;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
}

#[derive(Resource, Default)]
struct Outcome {
    succeeded: Vec<OAuthSucceeded>,
    failed: Vec<OAuthFailed>,
}

#[test]
fn headless_chromium_completes_the_login() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is missing: .ci/run installs Debian's chromium"
        );
        eprintln!("skipping: no Chromium on this machine");
        return;
    };
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let profile =
        std::env::temp_dir().join(format!("bevy_appwrite_chromium_{}", std::process::id()));
    let children: Arc<Mutex<Vec<Child>>> = Arc::default();
    let spawned = children.clone();
    let opener = BrowserOpener::new(move |url| {
        let child = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {browser}: {error}"))?;
        spawned.lock().map_err(|_| "poisoned")?.push(child);
        Ok(())
    });

    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            AppwritePlugin::new().with_client(
                AppwriteClient::new()
                    .set_endpoint(server.endpoint())
                    .set_project(server.project_id()),
            ),
        )
        .insert_resource(opener)
        .init_resource::<Outcome>()
        .add_observer(|done: On<OAuthSucceeded>, mut outcome: ResMut<Outcome>| {
            outcome.succeeded.push(done.event().clone());
        })
        .add_observer(|failed: On<OAuthFailed>, mut outcome: ResMut<Outcome>| {
            outcome.failed.push(failed.event().clone());
        });
    app.world_mut()
        .write_message(OAuthRequest::new(OAuthProvider::Github));

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        app.update();
        let outcome = app.world().resource::<Outcome>();
        if !outcome.succeeded.is_empty() || !outcome.failed.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no result within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    for mut child in children.lock().unwrap().drain(..) {
        let _ = child.kill();
        let _ = child.wait();
    }

    let outcome = app.world().resource::<Outcome>();
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let signed_in = outcome.succeeded[0].signed_in().expect("signed in");
    assert_eq!(signed_in.user.name, "Test Player");
    assert_eq!(signed_in.session.provider, "github");
    let session = app.world().resource::<AppwriteSession>();
    assert_eq!(
        session.user().map(|u| u.id.as_str()),
        Some(signed_in.user_id.as_str())
    );

    // The browser, not our HTTP client, walked the chain to the loopback listener.
    let log = server.requests();
    let browser_hops: Vec<&str> = log
        .iter()
        .filter(|r| {
            r.header("user-agent")
                .is_some_and(|ua| ua.contains("Chrome"))
        })
        .map(|r| r.path())
        .collect();
    assert!(
        browser_hops
            .iter()
            .any(|p| p.starts_with("/provider/github/authorize")),
        "{browser_hops:?}"
    );
    assert!(
        browser_hops.iter().any(|p| p.ends_with("/github/redirect")),
        "{browser_hops:?}"
    );
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("bevy_appwrite_chromium_{}", std::process::id())),
    );
}
