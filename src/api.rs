//! The Appwrite API calls of the login, with the headers and encodings of the official SDKs.

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use url::Url;

use crate::client::AppwriteClient;
use crate::error::{AppwriteError, kinds};
use crate::models::{Session, SessionSecret, User};
use crate::provider::OAuthProvider;
use crate::task::AbortOnDrop;

/// The response format the plugin was written against (the Appwrite 1.8.x client spec).
pub(crate) const RESPONSE_FORMAT: &str = "1.8.0";

/// The most of a response body the plugin reads; Appwrite's answers are a few KiB.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// An HTTP answer: status, headers and (bounded) body text.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// The query of `GET /account/tokens/oauth2/{provider}`, byte for byte as the official web SDK
/// builds it (`URLSearchParams`): `success`, `failure`, `scopes[0]`, `scopes[1]`, …, `project`,
/// form-urlencoded (space → `+`, only `*-._` and alphanumerics left bare), absent parameters
/// omitted.
pub(crate) fn token_query(
    success: Option<&str>,
    failure: Option<&str>,
    scopes: &[String],
    project: &str,
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(success) = success {
        query.append_pair("success", success);
    }
    if let Some(failure) = failure {
        query.append_pair("failure", failure);
    }
    for (index, scope) in scopes.iter().enumerate() {
        query.append_pair(&format!("scopes[{index}]"), scope);
    }
    query.append_pair("project", project);
    query.finish()
}

/// One configured HTTP client of the plugin, plus the game's [`AppwriteClient`] settings,
/// validated once.
pub(crate) struct Api<'a> {
    http: &'a reqwest::Client,
    client: &'a AppwriteClient,
    /// The endpoint without a trailing `/`.
    base: String,
    project: String,
}

impl<'a> Api<'a> {
    /// Checks the client's configuration; every call then reuses it.
    pub fn new(
        http: &'a reqwest::Client,
        client: &'a AppwriteClient,
    ) -> Result<Self, AppwriteError> {
        let (base, project) = client.base_url()?;
        Ok(Self {
            http,
            client,
            base: base.as_str().trim_end_matches('/').to_owned(),
            project: project.to_owned(),
        })
    }

    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, AppwriteError> {
        let project = self.project.as_str();
        let mut builder = self
            .http
            .request(method, url)
            .timeout(self.client.timeout())
            .header("X-Appwrite-Project", project)
            .header("X-Appwrite-Response-Format", RESPONSE_FORMAT)
            .header("x-sdk-name", "Bevy")
            .header("x-sdk-platform", "client")
            .header("x-sdk-language", "rust")
            .header("x-sdk-version", env!("CARGO_PKG_VERSION"))
            .header("User-Agent", user_agent());
        if let Some(locale) = self.client.locale() {
            builder = builder.header("X-Appwrite-Locale", locale);
        }
        for (name, value) in self.client.headers() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        Ok(builder)
    }

    fn url(&self, path: &str) -> Result<Url, AppwriteError> {
        let joined = format!("{}{path}", self.base);
        Url::parse(&joined).map_err(|error| {
            AppwriteError::local(
                kinds::CONFIGURATION,
                format!("Invalid API URL {joined}: {error}"),
            )
        })
    }

    /// Sends a request and reads its (bounded) answer. The network I/O runs as a task of the
    /// plugin's Tokio runtime, next to its I/O driver; the login's own future (on Bevy's task
    /// pool) is woken once, when the answer is complete, instead of on every socket event.
    async fn send(&self, builder: RequestBuilder) -> Result<Answer, AppwriteError> {
        let endpoint = self.client.endpoint().unwrap_or_default().to_owned();
        let mut io = AbortOnDrop::spawn(exchange(builder, endpoint.clone()));
        match (&mut io.0).await {
            Ok(answer) => answer,
            Err(_) => Err(AppwriteError::local(
                kinds::TRANSPORT,
                format!("The request to {endpoint} was interrupted"),
            )),
        }
    }

    /// `GET /account/tokens/oauth2/{provider}` without following the redirect: the `Location`
    /// is the provider's authorization URL.
    pub async fn create_oauth2_token(
        &self,
        provider: OAuthProvider,
        success: Option<&str>,
        failure: Option<&str>,
        scopes: &[String],
    ) -> Result<String, AppwriteError> {
        let mut url = self.url(&format!("/account/tokens/oauth2/{provider}"))?;
        url.set_query(Some(&token_query(success, failure, scopes, &self.project)));
        let answer = self.send(self.request(Method::GET, url)?).await?;
        if (300..400).contains(&answer.status) {
            let location = answer
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            return match Url::parse(location) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url.into()),
                _ => Err(AppwriteError {
                    message: format!(
                        "Appwrite redirected (HTTP {}) without a valid authorization URL",
                        answer.status
                    ),
                    code: answer.status,
                    kind: kinds::UNEXPECTED_RESPONSE.to_owned(),
                    response: answer.body,
                }),
            };
        }
        if answer.status < 300 {
            return Err(AppwriteError {
                message: format!(
                    "Appwrite answered HTTP {} instead of redirecting to the provider",
                    answer.status
                ),
                code: answer.status,
                kind: kinds::UNEXPECTED_RESPONSE.to_owned(),
                response: answer.body,
            });
        }
        Err(AppwriteError::from_response(answer.status, &answer.body))
    }

    /// `POST /account/sessions/token`: the token secret becomes a session. Sends no session
    /// header, so a stale session cannot cause `user_session_already_exists`.
    pub async fn create_session(
        &self,
        user_id: &str,
        secret: &TokenSecret,
    ) -> Result<(Session, SessionSecret), AppwriteError> {
        let url = self.url("/account/sessions/token")?;
        let body = serde_json::json!({ "userId": user_id, "secret": secret.0 });
        let request = self.request(Method::POST, url)?.json(&body);
        let answer = self.send(request).await?;
        if answer.status >= 300 {
            return Err(AppwriteError::from_response(answer.status, &answer.body));
        }
        let session: Session = parse_json(&answer)?;
        let value = session_value(&answer.headers, &self.project).ok_or_else(|| AppwriteError {
            message: "Appwrite created a session but sent no session cookie \
                      (neither X-Fallback-Cookies nor Set-Cookie)"
                .to_owned(),
            code: answer.status,
            kind: kinds::UNEXPECTED_RESPONSE.to_owned(),
            response: String::new(),
        })?;
        Ok((session, value))
    }

    /// A call authenticated with the session (`X-Appwrite-Session`); error statuses become
    /// [`AppwriteError`]s.
    async fn call_with_session(
        &self,
        method: Method,
        path: &str,
        session: &SessionSecret,
    ) -> Result<Answer, AppwriteError> {
        let url = self.url(path)?;
        let request = self
            .request(method, url)?
            .header("X-Appwrite-Session", session.expose());
        let answer = self.send(request).await?;
        if answer.status >= 300 {
            return Err(AppwriteError::from_response(answer.status, &answer.body));
        }
        Ok(answer)
    }

    /// `GET /account` with the session.
    pub async fn get_account(&self, session: &SessionSecret) -> Result<User, AppwriteError> {
        parse_json(
            &self
                .call_with_session(Method::GET, "/account", session)
                .await?,
        )
    }

    /// `GET /account/sessions/current` with the session.
    pub async fn get_current_session(
        &self,
        session: &SessionSecret,
    ) -> Result<Session, AppwriteError> {
        let answer = self
            .call_with_session(Method::GET, "/account/sessions/current", session)
            .await?;
        parse_json(&answer)
    }

    /// `DELETE /account/sessions/current` with the session.
    pub async fn delete_session(&self, session: &SessionSecret) -> Result<(), AppwriteError> {
        self.call_with_session(Method::DELETE, "/account/sessions/current", session)
            .await
            .map(drop)
    }
}

/// One HTTP exchange: send, then read at most [`MAX_RESPONSE_BYTES`] of the body.
async fn exchange(builder: RequestBuilder, endpoint: String) -> Result<Answer, AppwriteError> {
    let mut response = builder
        .send()
        .await
        .map_err(|error| transport_error(&endpoint, &error))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(&endpoint, &error))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(AppwriteError {
                message: format!(
                    "The response from {endpoint} is larger than {MAX_RESPONSE_BYTES} bytes"
                ),
                code: status,
                kind: kinds::UNEXPECTED_RESPONSE.to_owned(),
                response: String::new(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The single-use token secret from the success URL. Never shown in `Debug` output.
pub(crate) struct TokenSecret(pub String);

impl core::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(answer: &Answer) -> Result<T, AppwriteError> {
    serde_json::from_str(&answer.body).map_err(|error| AppwriteError {
        message: format!("Appwrite's answer is not the expected JSON: {error}"),
        code: answer.status,
        kind: kinds::UNEXPECTED_RESPONSE.to_owned(),
        response: answer.body.clone(),
    })
}

/// The session value from `X-Fallback-Cookies` (`{"a_session_<P>": V}`), else from the
/// `a_session_<P>` `Set-Cookie` (percent-decoded, as PHP encodes cookie values).
pub(crate) fn session_value(headers: &HeaderMap, project: &str) -> Option<SessionSecret> {
    let name = format!("a_session_{project}");
    let fallback = headers
        .get("x-fallback-cookies")
        .and_then(|value| value.to_str().ok())
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|json| json.get(&name)?.as_str().map(str::to_owned))
        .filter(|value| !value.is_empty());
    let cookie = || {
        headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|cookie| cookie.split(';').next()?.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .filter(|value| !value.is_empty() && value != "deleted")
    };
    fallback.or_else(cookie).map(SessionSecret::new)
}

fn transport_error(endpoint: &str, error: &reqwest::Error) -> AppwriteError {
    // The error's own text can contain the request URL; keep only the cause chain's kinds.
    let (kind, message) = if error.is_timeout() {
        (
            kinds::TIMEOUT,
            format!("The request to {endpoint} timed out"),
        )
    } else if error.is_connect() {
        (
            kinds::TRANSPORT,
            format!("Could not connect to {endpoint}: {}", root_cause(error)),
        )
    } else {
        (
            kinds::TRANSPORT,
            format!("The connection to {endpoint} failed: {}", root_cause(error)),
        )
    };
    AppwriteError::local(kind, message)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `BevyAppwrite/<version> (<os>; <arch>) bevy/0.19`, built once.
fn user_agent() -> &'static str {
    static USER_AGENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "BevyAppwrite/{} ({}; {}) bevy/0.19",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    });
    &USER_AGENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_query_matches_the_web_sdk() {
        // URLSearchParams: space → '+', '*-._' bare, everything else %XX upper-case.
        let scopes = vec!["read:user".to_owned(), "a b&c#d+e%f*-._~ü".to_owned()];
        let query = token_query(
            Some("http://localhost:3000/cb?x=1&y=2#frag"),
            None,
            &scopes,
            "my project",
        );
        assert_eq!(
            query,
            "success=http%3A%2F%2Flocalhost%3A3000%2Fcb%3Fx%3D1%26y%3D2%23frag\
             &scopes%5B0%5D=read%3Auser\
             &scopes%5B1%5D=a+b%26c%23d%2Be%25f*-._%7E%C3%BC\
             &project=my+project"
        );
        assert_eq!(token_query(None, None, &[], "p"), "project=p");
    }
}
