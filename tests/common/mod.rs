//! The headless-app harness the plugin's integration tests share: an app with the plugin,
//! a collector of every result, and an update loop with a wall-clock cap.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_appwrite::dev_server::DevServer;
use bevy_appwrite::prelude::*;

#[derive(Resource, Default)]
pub struct Seen {
    pub progress: Vec<OAuthProgress>,
    pub succeeded: Vec<OAuthSucceeded>,
    pub failed: Vec<OAuthFailed>,
    pub observed_terminal: Vec<RequestId>,
    pub logged_out: usize,
    pub logout_failed: Vec<LogoutFailed>,
    pub restored: Vec<SessionRestored>,
    pub restore_failed: Vec<SessionRestoreFailed>,
}

fn collect_logins(
    mut progress: MessageReader<OAuthProgress>,
    mut succeeded: MessageReader<OAuthSucceeded>,
    mut failed: MessageReader<OAuthFailed>,
    mut seen: ResMut<Seen>,
) {
    seen.progress.extend(progress.read().cloned());
    seen.succeeded.extend(succeeded.read().cloned());
    seen.failed.extend(failed.read().cloned());
}

fn collect_sessions(
    mut logged_out: MessageReader<LoggedOut>,
    mut logout_failed: MessageReader<LogoutFailed>,
    mut restored: MessageReader<SessionRestored>,
    mut restore_failed: MessageReader<SessionRestoreFailed>,
    mut seen: ResMut<Seen>,
) {
    seen.logged_out += logged_out.read().count();
    seen.logout_failed.extend(logout_failed.read().cloned());
    seen.restored.extend(restored.read().cloned());
    seen.restore_failed.extend(restore_failed.read().cloned());
}

pub fn app_for(endpoint: &str, project: &str, opener: BrowserOpener) -> App {
    let client = AppwriteClient::new()
        .set_endpoint(endpoint)
        .set_project(project);
    app_with(AppwritePlugin::new().with_client(client), opener)
}

/// An app with this plugin configuration, the opener and the result collector.
pub fn app_with(plugin: AppwritePlugin, opener: BrowserOpener) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(plugin)
        .insert_resource(opener)
        .init_resource::<Seen>()
        .add_systems(Update, (collect_logins, collect_sessions))
        .add_observer(|done: On<OAuthSucceeded>, mut seen: ResMut<Seen>| {
            seen.observed_terminal.push(done.request);
        })
        .add_observer(|failed: On<OAuthFailed>, mut seen: ResMut<Seen>| {
            seen.observed_terminal.push(failed.request);
        });
    app
}

pub fn app(server: &DevServer, opener: BrowserOpener) -> App {
    app_for(server.endpoint(), server.project_id(), opener)
}

/// How the update loop went: frames run and the slowest one.
pub struct Frames {
    pub count: u32,
    pub slowest: Duration,
}

/// Updates the app until `done` holds (at most 30 s of wall time, so a hang fails the test).
pub fn run_until(app: &mut App, done: impl Fn(&Seen) -> bool) -> Frames {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut frames = Frames {
        count: 0,
        slowest: Duration::ZERO,
    };
    while !done(app.world().resource::<Seen>()) {
        assert!(Instant::now() < deadline, "timed out waiting for results");
        let started = Instant::now();
        app.update();
        frames.slowest = frames.slowest.max(started.elapsed());
        frames.count += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    frames
}

pub fn terminal_count(seen: &Seen) -> usize {
    seen.succeeded.len() + seen.failed.len()
}

pub fn login(app: &mut App, request: OAuthRequest) -> RequestId {
    let id = request.id();
    app.world_mut().write_message(request);
    id
}

pub fn only_failure(app: &mut App) -> AppwriteError {
    let frames = run_until(app, |seen| terminal_count(seen) == 1);
    // No frame waits for the network: updates stay far below this loose bound.
    assert!(
        frames.slowest < Duration::from_secs(1),
        "a frame took {:?}",
        frames.slowest
    );
    // A few more frames: nothing else may arrive.
    for _ in 0..5 {
        app.update();
    }
    let seen = app.world().resource::<Seen>();
    assert_eq!(terminal_count(seen), 1, "exactly one terminal result");
    assert_eq!(
        seen.observed_terminal.len(),
        1,
        "and exactly one observer event"
    );
    assert!(seen.succeeded.is_empty(), "expected a failure");
    let error = seen.failed[0].error.clone();
    assert!(!error.message.is_empty(), "a clear message");
    error
}
