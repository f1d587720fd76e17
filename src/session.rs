//! [`AppwriteSession`]: who is signed in, and run conditions on it.

use bevy::prelude::{Res, Resource};

use crate::messages::SignedIn;
use crate::models::{Session, SessionSecret, User};

/// The player's current session and user; empty until a login succeeds, cleared by
/// [`Logout`](crate::Logout).
#[derive(Resource, Debug, Default, Clone)]
pub struct AppwriteSession {
    current: Option<SignedIn>,
}

impl AppwriteSession {
    /// The signed-in state, if any.
    pub fn signed_in(&self) -> Option<&SignedIn> {
        self.current.as_ref()
    }

    /// Whether a player is signed in.
    pub fn is_signed_in(&self) -> bool {
        self.current.is_some()
    }

    /// The signed-in user.
    pub fn user(&self) -> Option<&User> {
        self.current.as_ref().map(|signed_in| &signed_in.user)
    }

    /// The current session.
    pub fn session(&self) -> Option<&Session> {
        self.current.as_ref().map(|signed_in| &signed_in.session)
    }

    /// The value that authenticates the session, for `X-Appwrite-Session`.
    pub fn secret(&self) -> Option<&SessionSecret> {
        self.current.as_ref().map(|signed_in| &signed_in.secret)
    }

    pub(crate) fn set(&mut self, signed_in: SignedIn) {
        self.current = Some(signed_in);
    }

    pub(crate) fn clear(&mut self) {
        self.current = None;
    }
}

/// A run condition: a player is signed in.
///
/// ```
/// use bevy::prelude::*;
/// use bevy_appwrite::prelude::*;
///
/// fn show_profile() {}
/// App::new().add_systems(Update, show_profile.run_if(is_logged_in));
/// ```
pub fn is_logged_in(session: Option<Res<AppwriteSession>>) -> bool {
    session.is_some_and(|session| session.is_signed_in())
}
