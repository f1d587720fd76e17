//! Appwrite's `Session` and `User` models, and the secret that stands for a session.

use core::fmt;

use serde::{Deserialize, Serialize};

/// A session, as `POST /account/sessions/token` and `GET /account/sessions/current` return it.
///
/// Appwrite blanks the session's own `secret` for client callers; the value that authenticates
/// later calls is the [`SessionSecret`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Session {
    /// Session id.
    #[serde(rename = "$id")]
    pub id: String,
    /// Creation date, ISO 8601.
    #[serde(rename = "$createdAt")]
    pub created_at: String,
    /// The user's id.
    pub user_id: String,
    /// Expiry date, ISO 8601.
    pub expire: String,
    /// The provider's wire name (Appwrite 1.8 says `oauth2` for token logins).
    pub provider: String,
    /// The user's id at the provider.
    pub provider_uid: String,
    /// IP address the session was created from.
    pub ip: String,
    /// Client name parsed from the `User-Agent`.
    pub client_name: String,
    /// Operating system name parsed from the `User-Agent`.
    pub os_name: String,
    /// Country name.
    pub country_name: String,
    /// Whether this is the session of the request that returned it.
    pub current: bool,
    /// The authentication factors of the session.
    pub factors: Vec<String>,
}

/// The signed-in user, as `GET /account` returns it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct User {
    /// User id.
    #[serde(rename = "$id")]
    pub id: String,
    /// Creation date, ISO 8601.
    #[serde(rename = "$createdAt")]
    pub created_at: String,
    /// Display name (from the provider for OAuth2 users).
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Whether the e-mail is verified.
    pub email_verification: bool,
    /// Registration date, ISO 8601.
    pub registration: String,
    /// `false` when the user is blocked.
    pub status: bool,
    /// Labels set by the project.
    pub labels: Vec<String>,
    /// The user's preferences.
    pub prefs: serde_json::Value,
}

/// The value that authenticates a session (`a_session_<project>`), sent as
/// `X-Appwrite-Session`. It never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    /// Wraps a session value, e.g. one a game stored earlier.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for storing it or sending it to Appwrite.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(<redacted>)")
    }
}
