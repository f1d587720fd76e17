//! [`BrowserOpener`]: how the provider's page reaches the player.

use core::fmt;
use std::sync::Arc;

use bevy::prelude::Resource;

type OpenFn = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// Opens the provider's authorization page for the player. The plugin calls it off the main
/// thread, once per login, with the URL; an `Err` ends the login with an error of kind
/// [`kinds::BROWSER`](crate::error::kinds::BROWSER).
///
/// With the default feature `open-browser` the plugin uses the player's default browser
/// ([`BrowserOpener::system`]). Insert your own as a resource to show the URL in-game, use an
/// embedded browser, or drive a test:
///
/// ```
/// use bevy_appwrite::BrowserOpener;
///
/// let opener = BrowserOpener::new(|url| {
///     println!("Open this page to sign in: {url}");
///     Ok(())
/// });
/// # let _ = opener;
/// ```
#[derive(Resource, Clone)]
pub struct BrowserOpener(Arc<OpenFn>);

impl BrowserOpener {
    /// An opener that calls `open` with the URL.
    pub fn new(open: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(open))
    }

    /// The player's default browser, through the `webbrowser` crate.
    #[cfg(feature = "open-browser")]
    pub fn system() -> Self {
        Self::new(|url| {
            webbrowser::open(url).map_err(|error| format!("Could not open a web browser: {error}"))
        })
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) -> Result<(), String> {
        (self.0)(url)
    }
}

impl fmt::Debug for BrowserOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserOpener(..)")
    }
}
