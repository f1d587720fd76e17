//! The stand-in's data (users, consents, codes, token secrets, sessions, rate counters) and the
//! JSON models it answers with, shaped as the Appwrite 1.8 spec defines them.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::OAuthProvider;

/// The one person who signs in at the fake provider.
pub(super) const PLAYER_NAME: &str = "Test Player";
/// The fake provider's verified e-mail of that person; Appwrite links identities by verified e-mail.
pub(super) const PLAYER_EMAIL: &str = "test.player@example.com";
/// The fake provider's user id of that person.
pub(super) const PLAYER_PROVIDER_UID: &str = "test-player";
/// Appwrite's default session length (`TOKEN_EXPIRATION_LOGIN_LONG`, one year).
const SESSION_LENGTH: Duration = Duration::from_secs(31_536_000);

/// A sign-in waiting at the fake provider's consent page.
pub(super) struct Consent {
    pub provider: OAuthProvider,
    pub redirect_uri: String,
    pub state: String,
}

/// An authorization code the fake provider issued; single use.
pub(super) struct Code {
    pub provider: OAuthProvider,
}

/// A token secret issued by the redirect route; single use, short-lived.
pub(super) struct Token {
    pub user_id: String,
    pub provider: OAuthProvider,
    pub valid_until: Instant,
}

pub(super) struct User {
    pub id: String,
    pub created_at: SystemTime,
    pub accessed_at: SystemTime,
    pub name: String,
    pub email: String,
}

pub(super) struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: SystemTime,
    pub expire: SystemTime,
    pub provider: OAuthProvider,
    pub provider_access_token: String,
    pub ip: String,
    pub client_name: String,
}

#[derive(Default)]
pub(super) struct State {
    pub users: Vec<User>,
    /// (provider, provider user id) → user id.
    pub identities: HashMap<(OAuthProvider, String), String>,
    pub consents: HashMap<String, Consent>,
    pub codes: HashMap<String, Code>,
    /// token secret → token.
    pub tokens: HashMap<String, Token>,
    /// session secret → session.
    pub sessions: HashMap<String, Session>,
    /// abuse key → (hour window start, count).
    pub rate: HashMap<String, (u64, u32)>,
}

/// The outcome of counting one request against a rate limit.
pub(super) struct RateCount {
    pub limit: u32,
    pub remaining: u32,
    pub reset: u64,
    pub exceeded: bool,
}

impl State {
    /// Counts a request under `key` in the current fixed hour, as Appwrite's abuse hook does
    /// (the count is taken first, so request `limit + 1` is the first refused).
    pub fn count(&mut self, key: String, limit: u32) -> RateCount {
        let now = unix_seconds(SystemTime::now());
        let window = now - now % 3600;
        let entry = self.rate.entry(key).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        RateCount {
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset: window + 3600,
            exceeded: entry.1 > limit,
        }
    }

    /// Finds the user of the fake provider's player for `provider`, linking by verified e-mail or
    /// creating the user, as Appwrite's redirect route resolves accounts.
    pub fn resolve_player(&mut self, provider: OAuthProvider, new_id: String) -> String {
        let now = SystemTime::now();
        let identity = (provider, PLAYER_PROVIDER_UID.to_owned());
        if let Some(user_id) = self.identities.get(&identity) {
            return user_id.clone();
        }
        let user_id = match self.users.iter().find(|user| user.email == PLAYER_EMAIL) {
            Some(user) => user.id.clone(),
            None => {
                self.users.push(User {
                    id: new_id.clone(),
                    created_at: now,
                    accessed_at: now,
                    name: PLAYER_NAME.to_owned(),
                    email: PLAYER_EMAIL.to_owned(),
                });
                new_id
            }
        };
        self.identities.insert(identity, user_id.clone());
        user_id
    }

    /// The live session whose cookie value is `value`, if any.
    pub fn live_session(&self, value: &SessionValue) -> Option<&Session> {
        self.sessions
            .get(&value.secret)
            .filter(|session| session.user_id == value.id && session.expire > SystemTime::now())
    }

    pub fn create_session(
        &mut self,
        id: String,
        secret: String,
        token: &Token,
        ip: String,
        client_name: String,
        access_token: String,
    ) -> &Session {
        let now = SystemTime::now();
        let session = Session {
            id,
            user_id: token.user_id.clone(),
            created_at: now,
            expire: now + SESSION_LENGTH,
            provider: token.provider,
            provider_access_token: access_token,
            ip,
            client_name,
        };
        self.sessions.entry(secret).insert_entry(session).into_mut()
    }
}

/// The decoded session value `V` = base64(JSON `{"id": userId, "secret": sessionSecret}`), as
/// Appwrite stores it in `a_session_<project>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
pub(super) struct SessionValue {
    pub id: String,
    pub secret: String,
}

impl SessionValue {
    pub fn encode(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    pub fn decode(value: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

pub(super) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Appwrite's date format: ISO 8601 with milliseconds and a `+00:00` offset.
pub(super) fn iso(time: SystemTime) -> String {
    let formatted = humantime::format_rfc3339_millis(time).to_string();
    match formatted.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => formatted,
    }
}

/// The `Session` model, with `secret` blanked as Appwrite does for client callers.
pub(super) fn session_json(session: &Session, current: bool) -> Value {
    json!({
        "$id": session.id,
        "$createdAt": iso(session.created_at),
        "$updatedAt": iso(session.created_at),
        "userId": session.user_id,
        "expire": iso(session.expire),
        "provider": session.provider.as_str(),
        "providerUid": PLAYER_PROVIDER_UID,
        "providerAccessToken": session.provider_access_token,
        "providerAccessTokenExpiry": iso(session.created_at + Duration::from_secs(14_400)),
        "providerRefreshToken": "",
        "ip": session.ip,
        "osCode": "",
        "osName": "",
        "osVersion": "",
        "clientType": "",
        "clientCode": "",
        "clientName": session.client_name,
        "clientVersion": "",
        "clientEngine": "",
        "clientEngineVersion": "",
        "deviceName": "",
        "deviceBrand": "",
        "deviceModel": "",
        "countryCode": "--",
        "countryName": "Unknown",
        "current": current,
        "factors": ["email", "oauth2"],
        "secret": "",
        "mfaUpdatedAt": "",
    })
}

/// The `User` model of the account route.
pub(super) fn user_json(user: &User) -> Value {
    let created = iso(user.created_at);
    json!({
        "$id": user.id,
        "$createdAt": created,
        "$updatedAt": created,
        "name": user.name,
        "registration": created,
        "status": true,
        "labels": [],
        "passwordUpdate": "",
        "email": user.email,
        "phone": "",
        "emailVerification": true,
        "phoneVerification": false,
        "mfa": false,
        "prefs": {},
        "targets": [{
            "$id": format!("{}-email", user.id),
            "$createdAt": created,
            "$updatedAt": created,
            "name": "",
            "userId": user.id,
            "providerId": null,
            "providerType": "email",
            "identifier": user.email,
            "expired": false,
        }],
        "accessedAt": iso(user.accessed_at),
    })
}
