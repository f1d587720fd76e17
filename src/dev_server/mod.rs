//! A local stand-in for Appwrite's OAuth2 token login, with a fake OAuth2 provider.
//!
//! [`DevServer`] answers the routes of Appwrite 1.9 that a client of
//! `account.createOAuth2Token` touches, the way Appwrite answers them wherever a client can tell:
//!
//! | route | what it does |
//! |---|---|
//! | `GET /v1/account/tokens/oauth2/{provider}` | checks project, provider, `success`/`failure`, `scopes`, the rate limit; `301` to the fake provider, or an HTML error page |
//! | `GET /provider/{provider}/authorize` | the fake provider's consent page: "Sign in with GitHub as Test Player", links `#allow` and `#deny` |
//! | `GET\|POST /v1/account/sessions/oauth2/callback/{provider}/{project}` | `301` to the redirect route, keeping every parameter |
//! | `GET /v1/account/sessions/oauth2/{provider}/redirect` | creates the user, issues a single-use token secret; `301` to `success?…&secret=…&userId=…#` or `failure?…&error={json}` |
//! | `POST /v1/account/sessions/token` | `{userId, secret}` → `201` Session, `Set-Cookie`, `X-Fallback-Cookies` |
//! | `GET /v1/account`, `GET\|DELETE /v1/account/sessions/current` | the signed-in user and session, by cookie, `X-Appwrite-Session` or `X-Fallback-Cookies` |
//!
//! It needs no Appwrite account and no network, so games, their CI and this crate's tests can run
//! the whole login over real HTTP on `127.0.0.1`. Every request it receives is recorded
//! ([`DevServer::requests`]) so tests can assert exactly what a client sent.
//!
//! ```no_run
//! use bevy_appwrite::dev_server::{DevServer, DevServerConfig};
//!
//! let server = DevServer::start(DevServerConfig::new().auto_approve(true))?;
//! println!("endpoint: {}", server.endpoint()); // http://127.0.0.1:PORT/v1
//! println!("project: {}", server.project_id());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A whole login in a headless app, against the stand-in, with a simulated player who clicks
//! Allow on the consent page (this example runs as a test):
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! use bevy::prelude::*;
//! use bevy_appwrite::dev_server::{ConsentChoice, DevServer, DevServerConfig, simulated_player};
//! use bevy_appwrite::prelude::*;
//!
//! let server = DevServer::start(DevServerConfig::new())?;
//! let mut app = App::new();
//! app.add_plugins(MinimalPlugins)
//!     .add_plugins(AppwritePlugin::new().with_client(
//!         AppwriteClient::new()
//!             .set_endpoint(server.endpoint())
//!             .set_project(server.project_id()),
//!     ))
//!     .insert_resource(simulated_player(ConsentChoice::Allow));
//! app.world_mut().write_message(OAuthRequest::new(OAuthProvider::Github));
//!
//! let deadline = Instant::now() + Duration::from_secs(30);
//! while !app.world().resource::<AppwriteSession>().is_signed_in() {
//!     assert!(Instant::now() < deadline, "the login did not finish");
//!     app.update();
//!     std::thread::sleep(Duration::from_millis(1));
//! }
//! let session = app.world().resource::<AppwriteSession>();
//! assert_eq!(session.user().unwrap().name, "Test Player");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What it leaves out of Appwrite: real providers and their token exchange, the session-mode
//! OAuth2 routes (`createOAuth2Session`), `PATCH /account/sessions/current`, MFA, teams, e-mail
//! policies, the 10-sessions-per-user limit and every other service.

mod html;
mod player;
mod routes;
mod state;

pub use player::{ConsentChoice, consent_link, simulated_player};

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::OAuthProvider;

/// The project id a [`DevServerConfig`] uses unless told otherwise.
pub const DEFAULT_PROJECT_ID: &str = "dev-project";

/// The Appwrite version the stand-in reports in its JSON errors.
pub const APPWRITE_VERSION: &str = "1.9.6";

/// How a [`DevServer`] behaves. Build it with [`DevServerConfig::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    /// The port to bind on `127.0.0.1`; `0` picks a free one.
    pub port: u16,
    /// The id of the one project the server knows.
    pub project_id: String,
    /// Providers that answer `412 project_provider_disabled`.
    pub disabled_providers: Vec<OAuthProvider>,
    /// Hostnames allowed in `success`/`failure` URLs besides `localhost`, like the Web platforms
    /// of an Appwrite project: exact names, `*`, or `*.example.com` for sub-domains.
    pub allowed_hosts: Vec<String>,
    /// Skip the consent page: the fake provider approves at once, as if the player clicked Allow.
    pub auto_approve: bool,
    /// How long a token secret can be exchanged for a session (Appwrite 1.9: 60 s).
    pub token_secret_lifetime: Duration,
    /// Requests per hour and IP on the token and redirect routes (Appwrite: 50); `None` disables
    /// the limit, like `_APP_OPTIONS_ABUSE=disabled`.
    pub rate_limit_per_hour: Option<u32>,
}

impl Default for DevServerConfig {
    fn default() -> Self {
        Self {
            port: 0,
            project_id: DEFAULT_PROJECT_ID.to_owned(),
            disabled_providers: Vec::new(),
            allowed_hosts: Vec::new(),
            auto_approve: false,
            token_secret_lifetime: Duration::from_secs(60),
            rate_limit_per_hour: Some(50),
        }
    }
}

impl DevServerConfig {
    /// The defaults: ephemeral port, project [`DEFAULT_PROJECT_ID`], every provider enabled, only
    /// `localhost` allowed, consent page shown, 60 s secrets, 50 requests per hour.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds this port on `127.0.0.1` (`0` = any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the project id.
    pub fn project(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = project_id.into();
        self
    }

    /// Disables a provider, as if it were switched off in the Appwrite console.
    pub fn disable_provider(mut self, provider: OAuthProvider) -> Self {
        self.disabled_providers.push(provider);
        self
    }

    /// Allows one more hostname in `success`/`failure` URLs (e.g. `127.0.0.1`).
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// Approves every sign-in at the fake provider without showing the consent page.
    pub fn auto_approve(mut self, auto_approve: bool) -> Self {
        self.auto_approve = auto_approve;
        self
    }

    /// Sets how long a token secret stays valid after the redirect that carries it.
    pub fn token_secret_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_secret_lifetime = lifetime;
        self
    }

    /// Sets the per-hour, per-IP limit of the token and redirect routes; `None` disables it.
    pub fn rate_limit_per_hour(mut self, limit: Option<u32>) -> Self {
        self.rate_limit_per_hour = limit;
        self
    }
}

/// One HTTP request the server received, exactly as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path and query as sent, still percent-encoded, e.g. `/v1/account/tokens/oauth2/github?success=…`.
    pub uri: String,
    /// The headers in the order received; names are lower-case.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.uri
            .split_once('?')
            .map_or(self.uri.as_str(), |(path, _)| path)
    }

    /// The raw query string (after `?`, before any `#`), if any.
    pub fn query(&self) -> Option<&str> {
        self.uri.split_once('?').map(|(_, query)| query)
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What the request handlers share: the configuration, the server's data and the request log.
struct Shared {
    config: DevServerConfig,
    state: Mutex<state::State>,
    log: Mutex<Vec<RecordedRequest>>,
    /// `127.0.0.1:PORT`, used when a request has no `Host` header.
    addr: SocketAddr,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, state::State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running Appwrite stand-in on `127.0.0.1`, with its own thread and Tokio runtime.
///
/// It stops on [`DevServer::shutdown`] or when dropped.
pub struct DevServer {
    shared: Arc<Shared>,
    endpoint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DevServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServer")
            .field("endpoint", &self.endpoint)
            .field("project_id", &self.shared.config.project_id)
            .finish_non_exhaustive()
    }
}

impl DevServer {
    /// Binds `127.0.0.1:{config.port}` and starts serving on a new thread.
    ///
    /// Fails only if the port cannot be bound or the runtime or thread cannot be created.
    pub fn start(config: DevServerConfig) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(state::State::default()),
            log: Mutex::new(Vec::new()),
            addr,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = routes::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("appwrite-dev-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let service = app.into_make_service_with_connect_info::<SocketAddr>();
                    tokio::select! {
                        // `serve` only returns on a listener error, which ends the server too.
                        _ = axum::serve(listener, service) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here cancels every open connection at once: kept-alive
                // client connections must not hold the shutdown up.
                drop(runtime);
            })?;
        Ok(Self {
            endpoint: format!("http://{addr}/v1"),
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The API endpoint to give a client, `http://127.0.0.1:PORT/v1`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The project id the server accepts.
    pub fn project_id(&self) -> &str {
        &self.shared.config.project_id
    }

    /// The bound address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &DevServerConfig {
        &self.shared.config
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log().clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.log().clear();
    }

    /// Stops the server and waits for its thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the server already stopped on its own; nothing left to signal.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic inside the server thread has been reported by the panic hook already.
            let _ = thread.join();
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
