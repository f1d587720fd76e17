//! [`AppwriteClient`]: where the Appwrite API is and which project to use.

use core::fmt;
use std::time::Duration;

use bevy::prelude::Resource;
use url::Url;

use crate::error::{AppwriteError, kinds};

/// The Appwrite project the game talks to, as a Bevy resource. Built like the official SDKs'
/// client:
///
/// ```
/// use bevy_appwrite::AppwriteClient;
///
/// let client = AppwriteClient::new()
///     .set_endpoint("https://fra.cloud.appwrite.io/v1")
///     .set_project("my-game");
/// assert!(client.validate().is_ok());
/// ```
///
/// A missing or invalid endpoint or project never panics: every request then ends with an
/// [`AppwriteError`] of kind [`kinds::CONFIGURATION`], and the plugin warns at startup.
#[derive(Resource, Clone, PartialEq, Eq)]
pub struct AppwriteClient {
    endpoint: Option<String>,
    project: Option<String>,
    locale: Option<String>,
    timeout: Duration,
    headers: Vec<(String, String)>,
    self_signed: bool,
}

impl Default for AppwriteClient {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AppwriteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Extra header values may be keys; only their names are shown.
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("AppwriteClient")
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .field("locale", &self.locale)
            .field("timeout", &self.timeout)
            .field("headers", &header_names)
            .field("self_signed", &self.self_signed)
            .finish()
    }
}

impl AppwriteClient {
    /// The default timeout of one HTTP request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A client with no endpoint and no project yet.
    pub fn new() -> Self {
        Self {
            endpoint: None,
            project: None,
            locale: None,
            timeout: Self::DEFAULT_TIMEOUT,
            headers: Vec::new(),
            self_signed: false,
        }
    }

    /// A client configured from `APPWRITE_ENDPOINT` and `APPWRITE_PROJECT` (unset or empty
    /// variables leave the setting empty).
    pub fn from_env() -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let mut client = Self::new();
        client.endpoint = var("APPWRITE_ENDPOINT");
        client.project = var("APPWRITE_PROJECT");
        client
    }

    /// Sets the API endpoint, including `/v1`, e.g. `https://fra.cloud.appwrite.io/v1`.
    pub fn set_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the project id.
    pub fn set_project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Sets the locale Appwrite uses for its messages (`X-Appwrite-Locale`), e.g. `"de"`.
    pub fn set_locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = Some(locale.into());
        self
    }

    /// Sets the timeout of each HTTP request (default 30 s). The whole login has its own,
    /// longer timeout: see [`OAuthRequest::timeout`](crate::OAuthRequest::timeout).
    pub fn set_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a header to every API call.
    pub fn add_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Accepts self-signed TLS certificates, for a self-hosted Appwrite in development.
    pub fn set_self_signed(mut self, self_signed: bool) -> Self {
        self.self_signed = self_signed;
        self
    }

    /// The endpoint as set.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The project id as set.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The locale as set.
    pub fn locale(&self) -> Option<&str> {
        self.locale.as_deref()
    }

    /// The timeout of each HTTP request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The extra headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Whether self-signed certificates are accepted.
    pub fn self_signed(&self) -> bool {
        self.self_signed
    }

    /// Checks the configuration: an absolute `http`/`https` endpoint and a project id.
    pub fn validate(&self) -> Result<(), AppwriteError> {
        self.base_url().map(|_| ())
    }

    /// The endpoint as a URL without a trailing `/`, and the project, or a configuration error.
    pub(crate) fn base_url(&self) -> Result<(Url, &str), AppwriteError> {
        let configuration = |message: String| AppwriteError::local(kinds::CONFIGURATION, message);
        let endpoint = self.endpoint.as_deref().map(str::trim).unwrap_or_default();
        if endpoint.is_empty() {
            return Err(configuration(
                "No Appwrite endpoint is set: call AppwriteClient::set_endpoint or set \
                 APPWRITE_ENDPOINT (e.g. https://fra.cloud.appwrite.io/v1)"
                    .to_owned(),
            ));
        }
        let url = Url::parse(endpoint.trim_end_matches('/')).map_err(|error| {
            configuration(format!(
                "The Appwrite endpoint `{endpoint}` is not a URL: {error}"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(configuration(format!(
                "The Appwrite endpoint `{endpoint}` must be an http:// or https:// URL"
            )));
        }
        let project = self.project.as_deref().map(str::trim).unwrap_or_default();
        if project.is_empty() {
            return Err(configuration(
                "No Appwrite project is set: call AppwriteClient::set_project or set \
                 APPWRITE_PROJECT"
                    .to_owned(),
            ));
        }
        Ok((url, project))
    }
}
