//! Sign players in to a [Bevy](https://bevyengine.org) game with
//! [Appwrite](https://appwrite.io) OAuth2.
//!
//! The crate grows issue by issue; today it has:
//! - [`OAuthProvider`]: the 43 providers Appwrite knows, with their exact wire names.
//! - [`dev_server`] (feature `dev-server`): a local stand-in for Appwrite's OAuth2 token login
//!   with a fake provider, for examples, game CI and tests without an Appwrite account.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "dev-server")]
mod html;
mod provider;

#[cfg(feature = "dev-server")]
pub mod dev_server;

pub use provider::{OAuthProvider, UnknownProvider};

/// The most commonly used items.
pub mod prelude {
    pub use crate::provider::OAuthProvider;
}
