//! [`ResultWaker`]: wakes a reactive app when a result arrives.

use core::fmt;
use std::sync::Arc;

use bevy::prelude::Resource;

type WakeFn = dyn Fn() + Send + Sync;

/// Called from the plugin's background work right after a result is queued for the main thread.
///
/// Apps in a reactive update mode (`WinitSettings::desktop_app()`, or any app while its window
/// is unfocused because the player is in the browser) may not update for seconds; insert a
/// `ResultWaker` that wakes the event loop so results show at once. With `bevy_winit`:
///
/// ```no_run
/// use std::sync::Mutex;
///
/// use bevy::prelude::*;
/// use bevy::winit::{EventLoopProxyWrapper, WinitUserEvent};
/// use bevy_appwrite::ResultWaker;
///
/// fn install_waker(proxy: Res<EventLoopProxyWrapper>, mut commands: Commands) {
///     let proxy = Mutex::new((**proxy).clone());
///     commands.insert_resource(ResultWaker::new(move || {
///         if let Ok(proxy) = proxy.lock() {
///             let _ = proxy.send_event(WinitUserEvent::WakeUp);
///         }
///     }));
/// }
/// # App::new().add_systems(Startup, install_waker);
/// ```
#[derive(Resource, Clone)]
pub struct ResultWaker(Arc<WakeFn>);

impl ResultWaker {
    /// A waker that calls `wake`.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Arc::new(wake))
    }

    /// Wakes the app.
    pub fn wake(&self) {
        (self.0)();
    }
}

impl fmt::Debug for ResultWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResultWaker(..)")
    }
}
