//! Remembered sessions: saved after a login (atomically, mode 0600), restored and checked at
//! the next start, cleared when Appwrite no longer knows them, deleted on logout.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy_appwrite::dev_server::{ConsentChoice, DevServer, DevServerConfig, simulated_player};
use bevy_appwrite::prelude::*;
use bevy_appwrite::{SessionSecret, StoredSession};
use common::{Seen, app_with, login, run_until, terminal_count};

fn temp_file(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("bevy_appwrite_store_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("nested").join(FileSessionStore::FILE_NAME)
}

fn plugin(server: &DevServer, store: impl SessionStore) -> AppwritePlugin {
    AppwritePlugin::new()
        .with_client(
            AppwriteClient::new()
                .set_endpoint(server.endpoint())
                .set_project(server.project_id()),
        )
        .remember_sessions(store)
}

/// Starts an app (running its Startup systems) and waits until the restore has reported.
fn start(app: &mut App) {
    run_until(app, |seen| {
        !seen.restored.is_empty() || !seen.restore_failed.is_empty()
    });
}

fn wait_for_file(path: &Path, present: bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while path.exists() != present {
        assert!(
            std::time::Instant::now() < deadline,
            "{} present: {}",
            path.display(),
            !present
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_session_survives_a_restart_and_logout_forgets_it() {
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let path = temp_file("restart");
    let store = FileSessionStore::at(&path);

    // First launch: nothing saved yet, then a login saves the session.
    let mut app = app_with(
        plugin(&server, store.clone()),
        simulated_player(ConsentChoice::Allow),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Github));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    let secret = app
        .world()
        .resource::<AppwriteSession>()
        .secret()
        .unwrap()
        .clone();
    wait_for_file(&path, true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by the user only");
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    assert!(app.world().resource::<Seen>().restore_failed.is_empty());
    drop(app);

    // Second launch: restored and checked with the server.
    server.clear_requests();
    let mut app = app_with(
        plugin(&server, store.clone()),
        BrowserOpener::new(|_| Ok(())),
    );
    start(&mut app);
    let seen = app.world().resource::<Seen>();
    assert!(seen.restore_failed.is_empty(), "{:?}", seen.restore_failed);
    assert_eq!(seen.restored[0].signed_in.user.name, "Test Player");
    let session = app.world().resource::<AppwriteSession>();
    assert_eq!(session.secret(), Some(&secret));
    let check = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/v1/account/sessions/current")
        .unwrap();
    assert_eq!(check.header("x-appwrite-session"), Some(secret.expose()));

    // Logout deletes it on the server and on disk.
    app.world_mut().write_message(Logout);
    run_until(&mut app, |seen| seen.logged_out == 1);
    wait_for_file(&path, false);
}

#[test]
fn a_session_the_server_no_longer_knows_is_cleared() {
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let path = temp_file("revoked");
    let store = FileSessionStore::at(&path);
    store
        .save(&StoredSession {
            endpoint: server.endpoint().to_owned(),
            project: server.project_id().to_owned(),
            user_id: "gone".into(),
            secret: SessionSecret::new("eyJpZCI6ImdvbmUiLCJzZWNyZXQiOiJ4In0="),
        })
        .unwrap();
    let mut app = app_with(plugin(&server, store), BrowserOpener::new(|_| Ok(())));
    start(&mut app);
    let failed = &app.world().resource::<Seen>().restore_failed[0];
    assert_eq!(failed.error.code, 401);
    assert!(failed.cleared);
    assert!(!path.exists(), "the stale session is deleted");
    assert!(!app.world().resource::<AppwriteSession>().is_signed_in());
}

#[test]
fn a_session_is_kept_when_the_server_cannot_be_reached() {
    let server = DevServer::start(DevServerConfig::new()).unwrap();
    let (endpoint, project) = (server.endpoint().to_owned(), server.project_id().to_owned());
    server.shutdown();
    let path = temp_file("offline");
    let store = FileSessionStore::at(&path);
    let stored = StoredSession {
        endpoint: endpoint.clone(),
        project: project.clone(),
        user_id: "u1".into(),
        secret: SessionSecret::new("c2Vzc2lvbg=="),
    };
    store.save(&stored).unwrap();
    let plugin = AppwritePlugin::new()
        .with_client(
            AppwriteClient::new()
                .set_endpoint(&endpoint)
                .set_project(&project),
        )
        .remember_sessions(store.clone());
    let mut app = app_with(plugin, BrowserOpener::new(|_| Ok(())));
    start(&mut app);
    let failed = &app.world().resource::<Seen>().restore_failed[0];
    assert_eq!(failed.error.code, 0);
    assert!(!failed.cleared);
    assert_eq!(
        store.load().unwrap(),
        Some(stored),
        "kept for the next launch"
    );
}

/// A game's own store (here in memory, e.g. the OS keyring in a real game).
#[derive(Clone, Default)]
struct MemoryStore(Arc<Mutex<Option<StoredSession>>>);

impl SessionStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredSession>, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.clone())
    }
    fn save(&self, session: &StoredSession) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = Some(session.clone());
        Ok(())
    }
    fn clear(&self) -> Result<(), String> {
        *self.0.lock().map_err(|e| e.to_string())? = None;
        Ok(())
    }
}

#[test]
fn games_can_supply_their_own_store() {
    let server = DevServer::start(DevServerConfig::new().auto_approve(true)).unwrap();
    let store = MemoryStore::default();
    let mut app = app_with(
        plugin(&server, store.clone()),
        simulated_player(ConsentChoice::Allow),
    );
    login(&mut app, OAuthRequest::new(OAuthProvider::Google));
    run_until(&mut app, |seen| terminal_count(seen) == 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.0.lock().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "never saved");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let saved = store.0.lock().unwrap().clone().unwrap();
    assert_eq!(saved.project, server.project_id());
    assert_eq!(
        Some(&saved.secret),
        app.world().resource::<AppwriteSession>().secret()
    );

    let mut next = app_with(
        plugin(&server, store.clone()),
        BrowserOpener::new(|_| Ok(())),
    );
    start(&mut next);
    assert_eq!(next.world().resource::<Seen>().restored.len(), 1);
}

#[test]
fn the_data_directory_store_rejects_odd_app_names() {
    for bad in ["", "..", "a/b", "a\\b"] {
        assert!(FileSessionStore::new(bad).is_err(), "{bad:?}");
    }
    if let Ok(store) = FileSessionStore::new("my-game") {
        assert!(store.path().ends_with("my-game/appwrite-session.json"));
    }
}
