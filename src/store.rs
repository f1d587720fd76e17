//! Remembered sessions: keep the player signed in between launches.
//!
//! Opt in with [`AppwritePlugin::remember_sessions`](crate::AppwritePlugin::remember_sessions).
//! After a login the session is saved; on startup the plugin restores it, checks it with
//! `GET /account/sessions/current` and clears it if Appwrite answers 401; [`Logout`](crate::Logout)
//! deletes it.

use core::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::models::SessionSecret;

/// A saved session: which Appwrite project it belongs to and the value that authenticates it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The endpoint the session was created on.
    pub endpoint: String,
    /// The project id.
    pub project: String,
    /// The user's id.
    pub user_id: String,
    /// The session value (`X-Appwrite-Session`).
    pub secret: SessionSecret,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .field("user_id", &self.user_id)
            .field("secret", &self.secret)
            .finish()
    }
}

/// Where remembered sessions live. Implement it to keep sessions in the OS keyring, a save
/// game, or anywhere else; [`FileSessionStore`] is the built-in backend. The plugin calls it
/// off the main thread.
pub trait SessionStore: Send + Sync + 'static {
    /// The saved session, if there is one.
    fn load(&self) -> Result<Option<StoredSession>, String>;
    /// Saves `session`, replacing any saved one.
    fn save(&self, session: &StoredSession) -> Result<(), String>;
    /// Forgets the saved session (not an error if there is none).
    fn clear(&self) -> Result<(), String>;
}

/// The file format: versioned, so later releases can read old files.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    version: u32,
    endpoint: String,
    project: String,
    user_id: String,
    secret: String,
}

const FILE_VERSION: u32 = 1;

/// Keeps the session in a JSON file in the OS's per-user data directory (e.g.
/// `~/.local/share/<app>/appwrite-session.json` on Linux, `%APPDATA%\<app>\…` on Windows,
/// `~/Library/Application Support/<app>/…` on macOS). Written atomically (a temporary file,
/// then a rename), readable by the user only (mode `0600` on Unix).
#[derive(Debug, Clone)]
pub struct FileSessionStore {
    path: PathBuf,
}

impl FileSessionStore {
    /// The file name inside the app's data directory.
    pub const FILE_NAME: &'static str = "appwrite-session.json";

    /// A store in the per-user data directory of `app_name` (a folder name, e.g. your game's).
    /// `Err` if the OS has no such directory or `app_name` is not a plain folder name.
    pub fn new(app_name: &str) -> Result<Self, String> {
        if app_name.is_empty()
            || app_name.contains(['/', '\\'])
            || app_name == "."
            || app_name == ".."
        {
            return Err(format!("`{app_name}` is not a plain folder name"));
        }
        let data = dirs::data_dir().ok_or("This OS reports no per-user data directory")?;
        Ok(Self::at(data.join(app_name).join(Self::FILE_NAME)))
    }

    /// A store in exactly this file.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file the session is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SessionStore for FileSessionStore {
    fn load(&self) -> Result<Option<StoredSession>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(format!("Cannot read {}: {error}", self.path.display())),
        };
        let file: SessionFile = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a session file: {error}", self.path.display()))?;
        if file.version != FILE_VERSION {
            return Err(format!(
                "{} has version {}, this build reads version {FILE_VERSION}",
                self.path.display(),
                file.version
            ));
        }
        Ok(Some(StoredSession {
            endpoint: file.endpoint,
            project: file.project,
            user_id: file.user_id,
            secret: SessionSecret::new(file.secret),
        }))
    }

    fn save(&self, session: &StoredSession) -> Result<(), String> {
        let file = SessionFile {
            version: FILE_VERSION,
            endpoint: session.endpoint.clone(),
            project: session.project.clone(),
            user_id: session.user_id.clone(),
            secret: session.secret.expose().to_owned(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|error| error.to_string())?;
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("Cannot create {}: {error}", dir.display()))?;
        let temporary = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let written =
            write_private(&temporary, &json).and_then(|()| std::fs::rename(&temporary, &self.path));
        written.map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            format!("Cannot write {}: {error}", self.path.display())
        })
    }

    fn clear(&self) -> Result<(), String> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(format!("Cannot delete {}: {error}", self.path.display())),
        }
    }
}

/// Writes a new file only the user can read, and flushes it to disk before it is renamed
/// into place.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
