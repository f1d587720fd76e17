//! Tokio tasks tied to the lifetime of whoever spawned them.

/// A task of the plugin's runtime that is aborted when this handle is dropped, so work for a
/// login that was cancelled, timed out or dropped stops with it.
pub(crate) struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T: Send + 'static> AbortOnDrop<T> {
    /// Spawns `future` on the current Tokio runtime.
    pub fn spawn(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self(tokio::spawn(future))
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
