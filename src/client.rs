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
    insecure_http: bool,
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
            .field("insecure_http", &self.insecure_http)
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
            insecure_http: false,
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

    /// Allows a plain `http://` endpoint on a host other than this machine. Off by default:
    /// over plain HTTP the token secret and the session travel in clear text. Loopback
    /// endpoints (`localhost`, `127.0.0.1`, `[::1]`) are always allowed.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.insecure_http = allow;
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
        if url.scheme() == "http" && !self.insecure_http && !is_loopback(&url) {
            return Err(configuration(format!(
                "The Appwrite endpoint `{endpoint}` uses plain http on a host other than this \
                 machine, which would send the session in clear text: use https, or call \
                 AppwriteClient::allow_insecure_http(true) for a trusted development network"
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

/// Whether a URL points at this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(client: AppwriteClient) -> Option<String> {
        client.validate().err().map(|error| error.kind)
    }

    #[test]
    fn validates_endpoint_and_project() {
        let ok = |endpoint: &str| {
            AppwriteClient::new()
                .set_endpoint(endpoint)
                .set_project("p")
        };
        assert_eq!(kind_of(ok("https://fra.cloud.appwrite.io/v1")), None);
        assert_eq!(kind_of(ok("http://localhost/v1")), None);
        assert_eq!(kind_of(ok("http://127.0.0.1:9000/v1")), None);
        assert_eq!(kind_of(ok("http://[::1]:9000/v1")), None);
        let refused = [
            "http://appwrite.example.com/v1",
            "http://192.168.1.10/v1",
            "ftp://x/v1",
            "not a url",
            "",
        ];
        for endpoint in refused {
            assert_eq!(
                kind_of(ok(endpoint)).as_deref(),
                Some(kinds::CONFIGURATION),
                "{endpoint}"
            );
        }
        let opted_in = ok("http://appwrite.example.com/v1").allow_insecure_http(true);
        assert_eq!(kind_of(opted_in), None);
        let no_project = AppwriteClient::new().set_endpoint("https://x/v1");
        assert_eq!(kind_of(no_project).as_deref(), Some(kinds::CONFIGURATION));
    }

    #[test]
    fn debug_shows_header_names_not_values() {
        let client = AppwriteClient::new().add_header("X-Appwrite-Dev-Key", "very-secret");
        let debug = format!("{client:?}");
        assert!(debug.contains("X-Appwrite-Dev-Key") && !debug.contains("very-secret"));
    }
}
