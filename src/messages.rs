//! What games send to the plugin ([`OAuthRequest`], [`OAuthCancel`], [`OAuthCallback`],
//! [`Logout`]) and what comes back, each as a buffered [`Message`] and a global observer
//! [`Event`].

use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bevy::prelude::{Event, Message};

use crate::error::AppwriteError;
use crate::models::{Session, SessionSecret, User};
use crate::provider::OAuthProvider;

/// Identifies one [`OAuthRequest`]; every result of that request carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Starts an OAuth2 token login (Appwrite's `account.createOAuth2Token`).
///
/// By default (no success/failure URL) the plugin runs the whole desktop login: a loopback
/// listener, the provider's page in the player's browser, the token exchange and
/// `GET /account`. With your own success/failure URLs (a website, or an
/// `appwrite-callback-<project>://` deep link) it opens the browser and then waits for you to
/// hand the URL the player came back with to it in an [`OAuthCallback`].
///
/// ```
/// use bevy_appwrite::prelude::*;
///
/// let request = OAuthRequest::new(OAuthProvider::Github).scopes(["read:user"]);
/// let id = request.id(); // every result of this request carries it
/// # let _ = id;
/// ```
///
/// Every request ends in exactly one [`OAuthSucceeded`] or [`OAuthFailed`].
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequest {
    id: RequestId,
    provider: OAuthProvider,
    success: Option<String>,
    failure: Option<String>,
    scopes: Vec<String>,
    timeout: Option<Duration>,
    authorize_url_only: bool,
}

impl OAuthRequest {
    /// A login with `provider`, with a fresh [`RequestId`].
    pub fn new(provider: OAuthProvider) -> Self {
        Self {
            id: RequestId::next(),
            provider,
            success: None,
            failure: None,
            scopes: Vec::new(),
            timeout: None,
            authorize_url_only: false,
        }
    }

    /// The URL Appwrite sends the player to after a successful login. Setting it (or
    /// [`failure`](Self::failure)) means the game captures the redirect itself and hands it over
    /// with [`OAuthCallback`].
    pub fn success(mut self, url: impl Into<String>) -> Self {
        self.success = Some(url.into());
        self
    }

    /// The URL Appwrite sends the player to after a failed login.
    pub fn failure(mut self, url: impl Into<String>) -> Self {
        self.failure = Some(url.into());
        self
    }

    /// Extra scopes to ask the provider for (at most 100, each at most 4096 characters).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How long the whole login may take, the player's time in the browser included (default:
    /// the plugin's [`AppwritePlugin::login_timeout`](crate::AppwritePlugin::login_timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Stops after the token request: the request succeeds with the provider's authorization
    /// URL ([`OAuthOutcome::AuthorizationUrl`]); no browser is opened.
    pub fn authorize_url_only(mut self) -> Self {
        self.authorize_url_only = true;
        self
    }

    /// This request's id.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// The provider.
    pub fn provider(&self) -> OAuthProvider {
        self.provider
    }

    /// The success URL, if the game set one.
    pub fn success_url(&self) -> Option<&str> {
        self.success.as_deref()
    }

    /// The failure URL, if the game set one.
    pub fn failure_url(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The extra scopes.
    pub fn scope_list(&self) -> &[String] {
        &self.scopes
    }

    /// The login timeout, if this request sets its own.
    pub fn login_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the request stops at the authorization URL.
    pub fn is_authorize_url_only(&self) -> bool {
        self.authorize_url_only
    }

    /// Whether the game captures the redirect itself (it set a success or failure URL).
    pub fn uses_game_callback(&self) -> bool {
        self.success.is_some() || self.failure.is_some()
    }
}

/// Cancels a login in flight: it ends with an [`OAuthFailed`] of kind
/// [`kinds::CANCELLED`](crate::error::kinds::CANCELLED) and its loopback listener closes.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthCancel {
    /// The login to cancel.
    pub request: RequestId,
}

/// Hands the plugin the URL a player came back with, for logins with the game's own
/// success/failure URLs (for example from a mobile deep-link handler). Tolerates
/// `appwrite-callback-<project>:///?…` and a trailing `#`.
#[derive(Message, Clone, PartialEq, Eq)]
pub struct OAuthCallback {
    /// The full URL, with its `userId`/`secret` or `error` query.
    pub url: String,
    /// The login it belongs to; `None` lets the plugin pick the login waiting for this URL.
    pub request: Option<RequestId>,
}

impl fmt::Debug for OAuthCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL carries the token secret.
        f.debug_struct("OAuthCallback")
            .field("url", &"<redacted>")
            .field("request", &self.request)
            .finish()
    }
}

/// Where a login is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthStage {
    /// Appwrite answered the token request with the provider's authorization URL.
    AuthorizationUrl(String),
    /// The player's browser was asked to open that URL.
    BrowserOpened,
    /// Waiting for the player to finish at the provider.
    WaitingForPlayer,
    /// The player came back; the token secret is being exchanged for a session.
    CreatingSession,
}

/// A login made progress. Not terminal.
#[derive(Message, Event, Debug, Clone, PartialEq, Eq)]
pub struct OAuthProgress {
    /// The login.
    pub request: RequestId,
    /// Its new stage.
    pub stage: OAuthStage,
}

/// A completed login: the player's session and user.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    /// The user's id.
    pub user_id: String,
    /// The new session.
    pub session: Session,
    /// The signed-in user.
    pub user: User,
    /// The value that authenticates the session (`X-Appwrite-Session`).
    pub secret: SessionSecret,
}

/// How a request succeeded.
#[derive(Debug, Clone, PartialEq)]
pub enum OAuthOutcome {
    /// The player is signed in.
    SignedIn(Box<SignedIn>),
    /// An [`authorize_url_only`](OAuthRequest::authorize_url_only) request got the provider's
    /// authorization URL.
    AuthorizationUrl(String),
}

/// A login request succeeded. Terminal: the request's only result besides progress.
#[derive(Message, Event, Debug, Clone, PartialEq)]
pub struct OAuthSucceeded {
    /// The login.
    pub request: RequestId,
    /// Its provider.
    pub provider: OAuthProvider,
    /// What it achieved.
    pub outcome: OAuthOutcome,
}

impl OAuthSucceeded {
    /// The signed-in session and user, unless the request stopped at the authorization URL.
    pub fn signed_in(&self) -> Option<&SignedIn> {
        match &self.outcome {
            OAuthOutcome::SignedIn(signed_in) => Some(signed_in),
            OAuthOutcome::AuthorizationUrl(_) => None,
        }
    }
}

/// A login request failed. Terminal: the request's only result besides progress.
#[derive(Message, Event, Debug, Clone, PartialEq, Eq)]
pub struct OAuthFailed {
    /// The login.
    pub request: RequestId,
    /// Its provider.
    pub provider: OAuthProvider,
    /// Why.
    pub error: AppwriteError,
}

/// Signs the player out: `DELETE /account/sessions/current`, then clears
/// [`AppwriteSession`](crate::AppwriteSession). Ends in [`LoggedOut`] or [`LogoutFailed`].
#[derive(Message, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logout;

/// The session was deleted on the server (or was no longer valid there) and cleared locally.
#[derive(Message, Event, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoggedOut;

/// The server could not delete the session. The local session is cleared anyway: the player is
/// signed out of the game either way.
#[derive(Message, Event, Debug, Clone, PartialEq, Eq)]
pub struct LogoutFailed {
    /// Why the server-side deletion failed.
    pub error: AppwriteError,
}

/// A remembered session was restored at startup and is valid on the server
/// (see [`AppwritePlugin::remember_sessions`](crate::AppwritePlugin::remember_sessions)).
#[derive(Message, Event, Debug, Clone, PartialEq)]
pub struct SessionRestored {
    /// The restored session and its user.
    pub signed_in: SignedIn,
}

/// A remembered session could not be restored.
#[derive(Message, Event, Debug, Clone, PartialEq, Eq)]
pub struct SessionRestoreFailed {
    /// Why.
    pub error: AppwriteError,
    /// Whether the saved session was deleted (Appwrite no longer knows it); otherwise it is
    /// kept for the next launch (for example when the server could not be reached).
    pub cleared: bool,
}
