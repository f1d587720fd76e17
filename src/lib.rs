//! Sign players in to a [Bevy](https://bevyengine.org) game with
//! [Appwrite](https://appwrite.io) OAuth2 — the complete token login, on desktop first.
//!
//! Add [`AppwritePlugin`], write an [`OAuthRequest`], and react to its one terminal result,
//! [`OAuthSucceeded`] or [`OAuthFailed`], as a buffered message or a global observer event:
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_appwrite::prelude::*;
//!
//! fn main() {
//!     App::new()
//!         .add_plugins(MinimalPlugins)
//!         .add_plugins(AppwritePlugin::new().with_client(
//!             AppwriteClient::new()
//!                 .set_endpoint("https://fra.cloud.appwrite.io/v1")
//!                 .set_project("<PROJECT_ID>"),
//!         ))
//!         .add_systems(Startup, login)
//!         .add_observer(|done: On<OAuthSucceeded>| info!("Success"))
//!         .add_observer(|failed: On<OAuthFailed>| {
//!             error!("Error: {} (Code: {})", failed.error.message, failed.error.code);
//!         })
//!         .run();
//! }
//!
//! fn login(mut logins: MessageWriter<OAuthRequest>) {
//!     logins.write(OAuthRequest::new(OAuthProvider::Github));
//! }
//! ```
//!
//! The desktop login: `GET /v1/account/tokens/oauth2/{provider}` with loopback success/failure
//! URLs → the provider's page in the player's browser ([`BrowserOpener`]) → the redirect back
//! to a one-shot listener on `localhost` → `POST /v1/account/sessions/token` at once (the secret
//! lives 60 s) → `GET /v1/account`. The session lands in [`AppwriteSession`].
//!
//! The [`dev_server`] module (feature `dev-server`) is a local Appwrite stand-in with a fake
//! provider, for examples, game CI and tests without an Appwrite account.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod client;
pub mod error;
mod flow;
mod html;
mod listener;
mod messages;
mod models;
mod opener;
mod plugin;
#[cfg(test)]
mod proptests;
mod provider;
mod session;
mod store;
mod task;
mod waker;

#[cfg(feature = "dev-server")]
pub mod dev_server;

pub use client::AppwriteClient;
pub use error::AppwriteError;
pub use messages::{
    LoggedOut, Logout, LogoutFailed, OAuthCallback, OAuthCancel, OAuthFailed, OAuthOutcome,
    OAuthProgress, OAuthRequest, OAuthStage, OAuthSucceeded, RequestId, SessionRestoreFailed,
    SessionRestored, SignedIn,
};
pub use models::{Session, SessionSecret, User};
pub use opener::BrowserOpener;
pub use plugin::{AppwritePlugin, AppwriteSystems};
pub use provider::{OAuthProvider, UnknownProvider};
pub use session::{AppwriteSession, is_logged_in};
pub use store::{FileSessionStore, SessionStore, StoredSession};
pub use waker::ResultWaker;

/// Everything a game needs to sign players in.
pub mod prelude {
    pub use crate::{
        AppwriteClient, AppwriteError, AppwritePlugin, AppwriteSession, AppwriteSystems,
        BrowserOpener, FileSessionStore, LoggedOut, Logout, LogoutFailed, OAuthCallback,
        OAuthCancel, OAuthFailed, OAuthOutcome, OAuthProgress, OAuthProvider, OAuthRequest,
        OAuthStage, OAuthSucceeded, RequestId, ResultWaker, SessionRestoreFailed, SessionRestored,
        SessionStore, SignedIn, is_logged_in,
    };
}
