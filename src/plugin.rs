//! [`AppwritePlugin`], its [`AppwriteSystems`], and the bridge between Bevy's task pools, the
//! plugin's Tokio runtime and the main thread.
//!
//! How a login travels: `start_logins` (in [`AppwriteSystems::SendRequests`]) spawns each
//! request's future on Bevy's `AsyncComputeTaskPool`; the future's network I/O and timers are
//! driven by one Tokio runtime the plugin owns (reqwest needs one), entered on every poll. Every
//! result goes into one channel, which `receive_results` (in
//! [`AppwriteSystems::ReceiveResults`]) drains each frame: the per-frame cost is the number of
//! results that arrived, never the number of logins in flight.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bevy::ecs::schedule::SystemSet;
use bevy::log::{error, warn};
use bevy::prelude::*;
use bevy::tasks::AsyncComputeTaskPool;
use crossbeam_channel::{Receiver, Sender};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::client::AppwriteClient;
use crate::error::{AppwriteError, kinds};
use crate::flow::{self, Login, Report, Reporter};
use crate::messages::{
    LoggedOut, Logout, LogoutFailed, OAuthCallback, OAuthCancel, OAuthFailed, OAuthProgress,
    OAuthRequest, OAuthSucceeded, RequestId, SessionRestoreFailed, SessionRestored, SignedIn,
};
use crate::opener::BrowserOpener;
use crate::session::AppwriteSession;
use crate::store::{SessionStore, StoredSession};
use crate::waker::ResultWaker;

/// Adds Appwrite sign-in to an app.
///
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_appwrite::prelude::*;
///
/// App::new()
///     .add_plugins(MinimalPlugins)
///     .add_plugins(AppwritePlugin::new().with_client(
///         AppwriteClient::new()
///             .set_endpoint("https://fra.cloud.appwrite.io/v1")
///             .set_project("my-game"),
///     ))
///     .add_systems(Startup, |mut logins: MessageWriter<OAuthRequest>| {
///         logins.write(OAuthRequest::new(OAuthProvider::Github));
///     })
///     .add_observer(|done: On<OAuthSucceeded>| info!("Success"))
///     .add_observer(|failed: On<OAuthFailed>| {
///         error!("Error: {} (Code: {})", failed.error.message, failed.error.code);
///     })
///     .run();
/// ```
///
/// Without [`with_client`](Self::with_client) it uses an [`AppwriteClient`] resource the app
/// already has, else [`AppwriteClient::from_env`].
#[derive(Clone)]
pub struct AppwritePlugin {
    client: Option<AppwriteClient>,
    login_timeout: Duration,
    callback_port: u16,
    store: Option<Arc<dyn SessionStore>>,
}

impl core::fmt::Debug for AppwritePlugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppwritePlugin")
            .field("client", &self.client)
            .field("login_timeout", &self.login_timeout)
            .field("callback_port", &self.callback_port)
            .field("remember_sessions", &self.store.is_some())
            .finish()
    }
}

impl Default for AppwritePlugin {
    fn default() -> Self {
        Self {
            client: None,
            login_timeout: Self::DEFAULT_LOGIN_TIMEOUT,
            callback_port: 0,
            store: None,
        }
    }
}

impl AppwritePlugin {
    /// How long a login may take by default, the player's time in the browser included.
    pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

    /// The plugin with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this client (inserted as the [`AppwriteClient`] resource).
    pub fn with_client(mut self, client: AppwriteClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Makes the loopback listener use this port instead of an ephemeral one (Appwrite accepts
    /// any port on `localhost`; a fixed one only helps with strict local firewalls). Logins
    /// then cannot overlap: a second one fails with a listener error while the first waits.
    pub fn callback_port(mut self, port: u16) -> Self {
        self.callback_port = port;
        self
    }

    /// Remembers the player between launches: saves the session after a login, restores and
    /// checks it at startup ([`SessionRestored`] or [`SessionRestoreFailed`]), deletes it on
    /// [`Logout`]. Use [`FileSessionStore`](crate::FileSessionStore) or your own
    /// [`SessionStore`].
    pub fn remember_sessions(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Sets the default login timeout (5 minutes unless set).
    pub fn login_timeout(mut self, timeout: Duration) -> Self {
        self.login_timeout = timeout;
        self
    }
}

/// The plugin's systems, in [`PreUpdate`], in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppwriteSystems {
    /// Runs in [`PreUpdate`]: reads [`OAuthRequest`], [`OAuthCancel`], [`OAuthCallback`] and
    /// [`Logout`] and starts or steers the work.
    SendRequests,
    /// Runs in [`PreUpdate`] after `SendRequests`: drains finished work and writes the result
    /// messages and triggers the result events.
    ReceiveResults,
}

/// Settings the systems read.
#[derive(Resource, Debug, Clone)]
struct LoginSettings {
    login_timeout: Duration,
    callback_port: u16,
}

/// The store of remembered sessions, when the game opted in.
#[derive(Resource, Clone)]
struct RememberedSessions(Arc<dyn SessionStore>);

/// The plugin's Tokio runtime, HTTP clients and result channel.
#[derive(Resource)]
pub(crate) struct Transport {
    runtime: Option<tokio::runtime::Runtime>,
    runtime_error: Option<String>,
    http: Result<reqwest::Client, AppwriteError>,
    /// Built on first use: most games never accept self-signed certificates.
    insecure_http: std::sync::OnceLock<Result<reqwest::Client, AppwriteError>>,
    /// Set before the runtime shuts down, so late polls of orphaned tasks stop quietly.
    closed: Arc<AtomicBool>,
    reports: Sender<Report>,
    results: Receiver<Report>,
}

impl Transport {
    fn new() -> Self {
        let (reports, results) = crossbeam_channel::unbounded();
        // One worker: a login is a handful of small requests; the worker mostly parks on the
        // I/O driver, which is what drives the sockets of futures polled on Bevy's pools.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bevy-appwrite-io")
            .enable_all()
            .build();
        let (runtime, runtime_error) = match runtime {
            Ok(runtime) => (Some(runtime), None),
            Err(error) => (None, Some(error.to_string())),
        };
        Self {
            runtime,
            runtime_error,
            http: http_client(false),
            insecure_http: std::sync::OnceLock::new(),
            closed: Arc::new(AtomicBool::new(false)),
            reports,
            results,
        }
    }

    fn reporter(&self, waker: Option<&ResultWaker>) -> Reporter {
        Reporter {
            sender: self.reports.clone(),
            waker: waker.cloned(),
        }
    }

    fn http_for(&self, client: &AppwriteClient) -> Result<reqwest::Client, AppwriteError> {
        if client.self_signed() {
            self.insecure_http.get_or_init(|| http_client(true)).clone()
        } else {
            self.http.clone()
        }
    }

    /// Runs blocking work (file I/O of the session store) on the runtime's blocking threads.
    fn spawn_blocking(&self, work: impl FnOnce() + Send + 'static) {
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn_blocking(work)),
            None => warn!("bevy_appwrite: no runtime for the session store; not saved"),
        }
    }

    /// Runs `future` on the `AsyncComputeTaskPool` inside the runtime's context (or, without
    /// Bevy's task pools, on the runtime itself). `Err` if the runtime could not start.
    fn spawn(
        &self,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppwriteError> {
        let Some(runtime) = &self.runtime else {
            return Err(AppwriteError::local(
                kinds::TRANSPORT,
                format!(
                    "The plugin's async runtime could not start: {}",
                    self.runtime_error.as_deref().unwrap_or("unknown error")
                ),
            ));
        };
        let task = InTokio {
            handle: runtime.handle().clone(),
            closed: self.closed.clone(),
            future: Box::pin(future),
        };
        match AsyncComputeTaskPool::try_get() {
            Some(pool) => pool.spawn(task).detach(),
            None => drop(runtime.spawn(task)),
        }
        Ok(())
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(runtime) = self.runtime.take() {
            // Never wait: a hung DNS lookup or connection must not hold up the game's exit.
            runtime.shutdown_background();
        }
    }
}

fn http_client(accept_invalid_certs: bool) -> Result<reqwest::Client, AppwriteError> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    #[cfg(feature = "rustls")]
    let builder = builder.tls_danger_accept_invalid_certs(accept_invalid_certs);
    #[cfg(not(feature = "rustls"))]
    let _ = accept_invalid_certs;
    builder.build().map_err(|error| {
        AppwriteError::local(
            kinds::TRANSPORT,
            format!("The HTTP client could not be created: {error}"),
        )
    })
}

/// Polls a future with the plugin's Tokio runtime entered, so reqwest, sockets and timers work
/// on Bevy's task pool threads.
struct InTokio {
    handle: tokio::runtime::Handle,
    closed: Arc<AtomicBool>,
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for InTokio {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.closed.load(Ordering::SeqCst) {
            // The app and its runtime are gone; nobody waits for this result any more.
            return Poll::Ready(());
        }
        let this = &mut *self;
        let _context = this.handle.enter();
        this.future.as_mut().poll(cx)
    }
}

/// The work in flight: how to cancel each login, and where its game callback goes.
#[derive(Resource, Default)]
struct InFlight {
    logins: HashMap<RequestId, InFlightLogin>,
}

struct InFlightLogin {
    cancel: Option<oneshot::Sender<()>>,
    callbacks: mpsc::UnboundedSender<String>,
    success: Option<String>,
    failure: Option<String>,
}

impl Plugin for AppwritePlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<OAuthRequest>()
            .add_message::<OAuthCancel>()
            .add_message::<OAuthCallback>()
            .add_message::<OAuthProgress>()
            .add_message::<OAuthSucceeded>()
            .add_message::<OAuthFailed>()
            .add_message::<Logout>()
            .add_message::<LoggedOut>()
            .add_message::<LogoutFailed>()
            .add_message::<SessionRestored>()
            .add_message::<SessionRestoreFailed>();

        if let Some(client) = &self.client {
            app.insert_resource(client.clone());
        } else if !app.world().contains_resource::<AppwriteClient>() {
            app.insert_resource(AppwriteClient::from_env());
        }
        if let Some(client) = app.world().get_resource::<AppwriteClient>()
            && let Err(error) = client.validate()
        {
            warn!(
                "bevy_appwrite: {}; every login will fail until it is set",
                error.message
            );
        }
        #[cfg(feature = "open-browser")]
        if !app.world().contains_resource::<BrowserOpener>() {
            app.insert_resource(BrowserOpener::system());
        }

        app.insert_resource(LoginSettings {
            login_timeout: self.login_timeout,
            callback_port: self.callback_port,
        })
        .insert_resource(Transport::new())
        .init_resource::<InFlight>()
        .init_resource::<AppwriteSession>()
        .configure_sets(
            PreUpdate,
            (
                AppwriteSystems::SendRequests,
                AppwriteSystems::ReceiveResults,
            )
                .chain(),
        )
        // Run conditions keep an idle frame nearly free: the executor evaluates them without
        // dispatching the systems, which only run when there is something to do.
        .add_systems(
            PreUpdate,
            (
                start_logins.run_if(pending::<OAuthRequest>),
                steer_logins.run_if(pending::<OAuthCancel>.or_else(pending::<OAuthCallback>)),
                start_logouts.run_if(pending::<Logout>),
            )
                .chain()
                .in_set(AppwriteSystems::SendRequests),
        )
        .add_systems(
            PreUpdate,
            receive_results
                .run_if(results_waiting)
                .in_set(AppwriteSystems::ReceiveResults),
        );
        if let Some(store) = &self.store {
            app.insert_resource(RememberedSessions(store.clone()))
                .add_systems(Startup, restore_session);
        }
    }
}

/// Whether messages of type `M` are waiting to be read (they stay two frames).
fn pending<M: Message>(messages: Option<Res<Messages<M>>>) -> bool {
    messages.is_some_and(|messages| !messages.is_empty())
}

/// Whether finished work waits in the result channel.
fn results_waiting(transport: Res<Transport>) -> bool {
    !transport.results.is_empty()
}

fn start_logins(
    mut requests: MessageReader<OAuthRequest>,
    client: Option<Res<AppwriteClient>>,
    opener: Option<Res<BrowserOpener>>,
    waker: Option<Res<ResultWaker>>,
    settings: Res<LoginSettings>,
    transport: Res<Transport>,
    mut in_flight: ResMut<InFlight>,
) {
    let client = client.map(|client| client.clone()).unwrap_or_default();
    for request in requests.read() {
        let (cancel, cancelled) = oneshot::channel();
        let (callback_sender, callbacks) = mpsc::unbounded_channel();
        let login = Login {
            request: request.clone(),
            client: client.clone(),
            http: transport.http_for(&client),
            opener: opener.as_deref().cloned(),
            reports: transport.reporter(waker.as_deref()),
            cancel: cancelled,
            callbacks,
            timeout: request.login_timeout().unwrap_or(settings.login_timeout),
            callback_port: settings.callback_port,
        };
        in_flight.logins.insert(
            request.id(),
            InFlightLogin {
                cancel: Some(cancel),
                callbacks: callback_sender,
                success: request.success_url().map(str::to_owned),
                failure: request.failure_url().map(str::to_owned),
            },
        );
        if let Err(error) = transport.spawn(flow::run(login)) {
            let _ = transport.reports.send(Report::Failed(OAuthFailed {
                request: request.id(),
                provider: request.provider(),
                error,
            }));
        }
    }
}

/// `scheme://host/path` of a URL, to match a callback with the login that asked for it.
fn url_base(url: &str) -> Option<String> {
    let parsed = Url::parse(url.trim().trim_end_matches('#')).ok()?;
    Some(format!(
        "{}://{}{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default(),
        parsed.path().trim_end_matches('/')
    ))
}

fn steer_logins(
    mut cancels: MessageReader<OAuthCancel>,
    mut callbacks: MessageReader<OAuthCallback>,
    mut in_flight: ResMut<InFlight>,
) {
    for cancel in cancels.read() {
        if let Some(sender) = in_flight
            .logins
            .get_mut(&cancel.request)
            .and_then(|login| login.cancel.take())
        {
            // The login may be finishing right now; its single result is already on its way.
            let _ = sender.send(());
        }
    }
    for callback in callbacks.read() {
        let target = match callback.request {
            Some(id) => in_flight.logins.get(&id),
            None => {
                let base = url_base(&callback.url);
                let waiting: Vec<&InFlightLogin> = in_flight
                    .logins
                    .values()
                    .filter(|login| login.success.is_some() || login.failure.is_some())
                    .collect();
                waiting
                    .iter()
                    .copied()
                    .find(|login| {
                        base.is_some()
                            && [&login.success, &login.failure]
                                .into_iter()
                                .flatten()
                                .any(|url| url_base(url) == base)
                    })
                    .or(if waiting.len() == 1 {
                        waiting.first().copied()
                    } else {
                        None
                    })
            }
        };
        match target {
            Some(login) => {
                let _ = login.callbacks.send(callback.url.clone());
            }
            None => warn!("bevy_appwrite: an OAuthCallback matches no login in flight; ignored"),
        }
    }
}

fn start_logouts(
    mut logouts: MessageReader<Logout>,
    client: Option<Res<AppwriteClient>>,
    session: Res<AppwriteSession>,
    waker: Option<Res<ResultWaker>>,
    transport: Res<Transport>,
) {
    for _ in logouts.read() {
        let Some(secret) = session.secret().cloned() else {
            let _ = transport
                .reports
                .send(Report::LoggedOut(Err(AppwriteError::local(
                    kinds::NOT_SIGNED_IN,
                    "Nobody is signed in",
                ))));
            continue;
        };
        let client = client.as_deref().cloned().unwrap_or_default();
        let http = transport.http_for(&client);
        let logout = flow::logout(client, http, secret, transport.reporter(waker.as_deref()));
        if let Err(error) = transport.spawn(logout) {
            let _ = transport.reports.send(Report::LoggedOut(Err(error)));
        }
    }
}

fn restore_session(
    client: Option<Res<AppwriteClient>>,
    store: Res<RememberedSessions>,
    waker: Option<Res<ResultWaker>>,
    transport: Res<Transport>,
) {
    let client = client.as_deref().cloned().unwrap_or_default();
    let http = transport.http_for(&client);
    let restore = flow::restore(
        client,
        http,
        store.0.clone(),
        transport.reporter(waker.as_deref()),
    );
    if let Err(error) = transport.spawn(restore) {
        let _ = transport
            .reports
            .send(Report::Restored(Err((error, false))));
    }
}

/// Saves a new session in the store, off the main thread.
fn remember(
    transport: &Transport,
    store: Option<&RememberedSessions>,
    client: Option<&AppwriteClient>,
    signed_in: &SignedIn,
) {
    let (Some(store), Some(client)) = (store, client) else {
        return;
    };
    let (Some(endpoint), Some(project)) = (client.endpoint(), client.project()) else {
        return;
    };
    let stored = StoredSession {
        endpoint: endpoint.to_owned(),
        project: project.to_owned(),
        user_id: signed_in.user_id.clone(),
        secret: signed_in.secret.clone(),
    };
    let store = store.0.clone();
    transport.spawn_blocking(move || {
        if let Err(message) = store.save(&stored) {
            warn!("bevy_appwrite: could not remember the session: {message}");
        }
    });
}

/// Deletes the remembered session, off the main thread.
fn forget(transport: &Transport, store: Option<&RememberedSessions>) {
    if let Some(store) = store {
        let store = store.0.clone();
        transport.spawn_blocking(move || {
            if let Err(message) = store.clear() {
                warn!("bevy_appwrite: could not forget the session: {message}");
            }
        });
    }
}

fn receive_results(
    transport: Res<Transport>,
    mut in_flight: ResMut<InFlight>,
    mut session: ResMut<AppwriteSession>,
    store: Option<Res<RememberedSessions>>,
    client: Option<Res<AppwriteClient>>,
    mut commands: Commands,
) {
    for report in transport.results.try_iter() {
        match report {
            Report::Progress(progress) => {
                commands.write_message(progress.clone());
                commands.trigger(progress);
            }
            Report::Succeeded(succeeded) => {
                in_flight.logins.remove(&succeeded.request);
                if let Some(signed_in) = succeeded.signed_in() {
                    session.set(signed_in.clone());
                    remember(&transport, store.as_deref(), client.as_deref(), signed_in);
                }
                commands.write_message(succeeded.clone());
                commands.trigger(succeeded);
            }
            Report::Failed(failed) => {
                in_flight.logins.remove(&failed.request);
                if failed.error.code == 0 && failed.error.kind == kinds::TRANSPORT {
                    error!(
                        "bevy_appwrite: login {} failed: {}",
                        failed.request, failed.error.message
                    );
                }
                commands.write_message(failed.clone());
                commands.trigger(failed);
            }
            Report::LoggedOut(result) => match result {
                Ok(()) => {
                    session.clear();
                    forget(&transport, store.as_deref());
                    commands.write_message(LoggedOut);
                    commands.trigger(LoggedOut);
                }
                Err(error) => {
                    if error.kind != kinds::NOT_SIGNED_IN {
                        session.clear();
                        forget(&transport, store.as_deref());
                    }
                    let failed = LogoutFailed { error };
                    commands.write_message(failed.clone());
                    commands.trigger(failed);
                }
            },
            Report::Restored(Ok(signed_in)) => {
                // A login that finished first wins: it is newer.
                if !session.is_signed_in() {
                    session.set((*signed_in).clone());
                }
                let restored = SessionRestored {
                    signed_in: *signed_in,
                };
                commands.write_message(restored.clone());
                commands.trigger(restored);
            }
            Report::Restored(Err((error, cleared))) => {
                let failed = SessionRestoreFailed { error, cleared };
                commands.write_message(failed.clone());
                commands.trigger(failed);
            }
        }
    }
}
