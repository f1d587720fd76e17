//! The login itself, as one future: token request → browser → redirect → session → account.
//! It always ends in exactly one terminal [`Report`].

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::api::{Api, TokenSecret};
use crate::client::AppwriteClient;
use crate::error::{AppwriteError, kinds};
use crate::listener::{Listener, Outcome};
use crate::messages::{
    OAuthFailed, OAuthOutcome, OAuthProgress, OAuthRequest, OAuthStage, OAuthSucceeded, SignedIn,
};
use crate::models::SessionSecret;
use crate::opener::BrowserOpener;
use crate::store::SessionStore;
use crate::waker::ResultWaker;

/// What tasks send back to the main thread.
pub(crate) enum Report {
    Progress(OAuthProgress),
    Succeeded(OAuthSucceeded),
    Failed(OAuthFailed),
    /// A logout ended; `Err` if the server could not delete the session.
    LoggedOut(Result<(), AppwriteError>),
    /// A remembered session was checked: restored, or the error and whether it was cleared.
    Restored(Result<Box<SignedIn>, (AppwriteError, bool)>),
}

/// The sending end of the result channel, which also wakes the app.
#[derive(Clone)]
pub(crate) struct Reporter {
    pub sender: Sender<Report>,
    pub waker: Option<ResultWaker>,
}

impl Reporter {
    /// Queues a report for the main thread. The receiver lives as long as the app; if it is
    /// gone, nobody waits for the report any more.
    pub fn send(&self, report: Report) {
        if self.sender.send(report).is_ok()
            && let Some(waker) = &self.waker
        {
            waker.wake();
        }
    }
}

/// Everything one login needs, moved into its task.
pub(crate) struct Login {
    pub request: OAuthRequest,
    pub client: AppwriteClient,
    pub http: Result<reqwest::Client, AppwriteError>,
    pub opener: Option<BrowserOpener>,
    pub reports: Reporter,
    pub cancel: oneshot::Receiver<()>,
    pub callbacks: mpsc::UnboundedReceiver<String>,
    pub timeout: Duration,
    /// The loopback listener's port; 0 for an ephemeral one.
    pub callback_port: u16,
}

/// The most scopes and the longest scope Appwrite accepts.
const MAX_SCOPES: usize = 100;
const MAX_SCOPE_CHARS: usize = 4096;

/// Checks a request before any I/O, as Appwrite would, so a bad one sends nothing.
pub(crate) fn validate(request: &OAuthRequest) -> Result<(), AppwriteError> {
    let invalid = |message: String| AppwriteError::local(kinds::INVALID_REQUEST, message);
    let scopes = request.scope_list();
    if scopes.len() > MAX_SCOPES {
        return Err(invalid(format!(
            "Too many scopes: {} (Appwrite accepts at most {MAX_SCOPES})",
            scopes.len()
        )));
    }
    if let Some(scope) = scopes.iter().find(|s| s.chars().count() > MAX_SCOPE_CHARS) {
        return Err(invalid(format!(
            "A scope is {} characters long (Appwrite accepts at most {MAX_SCOPE_CHARS})",
            scope.chars().count()
        )));
    }
    for (name, url) in [
        ("success", request.success_url()),
        ("failure", request.failure_url()),
    ] {
        if let Some(url) = url
            && Url::parse(url).map_or(true, |parsed| {
                parsed.cannot_be_a_base() && parsed.scheme() != "exp"
            })
        {
            return Err(invalid(format!(
                "The {name} URL `{url}` is not an absolute URL"
            )));
        }
    }
    Ok(())
}

/// Runs one login to its single terminal report.
pub(crate) async fn run(login: Login) {
    let Login {
        request,
        client,
        http,
        opener,
        reports,
        cancel,
        callbacks,
        timeout,
        callback_port,
    } = login;
    let id = request.id();
    let provider = request.provider();
    let progress = |stage| reports.send(Report::Progress(OAuthProgress { request: id, stage }));
    let login = sign_in(
        &request,
        &client,
        http,
        opener,
        callbacks,
        callback_port,
        &progress,
    );
    let result = tokio::select! {
        biased;
        _ = cancel => Err(AppwriteError::local(kinds::CANCELLED, "The login was cancelled")),
        outcome = tokio::time::timeout(timeout, login) => outcome.unwrap_or_else(|_| {
            Err(AppwriteError::local(
                kinds::TIMEOUT,
                format!("The login did not finish within {} s", timeout.as_secs_f32()),
            ))
        }),
    };
    let report = match result {
        Ok(outcome) => Report::Succeeded(OAuthSucceeded {
            request: id,
            provider,
            outcome,
        }),
        Err(error) => Report::Failed(OAuthFailed {
            request: id,
            provider,
            error,
        }),
    };
    reports.send(report);
}

async fn sign_in(
    request: &OAuthRequest,
    client: &AppwriteClient,
    http: Result<reqwest::Client, AppwriteError>,
    opener: Option<BrowserOpener>,
    mut callbacks: mpsc::UnboundedReceiver<String>,
    callback_port: u16,
    progress: &impl Fn(OAuthStage),
) -> Result<OAuthOutcome, AppwriteError> {
    // Configuration first, then the request: neither sends anything when invalid.
    let http = http?;
    let api = Api::new(&http, client)?;
    validate(request)?;

    // The desktop default: our own loopback URLs. With the game's URLs, or when only the
    // authorization URL is wanted, no listener is needed.
    let mut listener = if request.uses_game_callback() || request.is_authorize_url_only() {
        None
    } else {
        Some(Listener::start(callback_port).await?)
    };
    let (success, failure) = match &listener {
        Some(listener) => (
            Some(listener.url(Outcome::Success)),
            Some(listener.url(Outcome::Failure)),
        ),
        None => (
            request.success_url().map(str::to_owned),
            request.failure_url().map(str::to_owned),
        ),
    };
    let authorization = api
        .create_oauth2_token(
            request.provider(),
            success.as_deref(),
            failure.as_deref(),
            request.scope_list(),
        )
        .await?;
    progress(OAuthStage::AuthorizationUrl(authorization.clone()));
    if request.is_authorize_url_only() {
        return Ok(OAuthOutcome::AuthorizationUrl(authorization));
    }

    if let Some(opener) = opener {
        let url = authorization.clone();
        // Opening a browser can block (it starts a process): keep it off the async threads.
        tokio::task::spawn_blocking(move || opener.open(&url))
            .await
            .map_err(|_| AppwriteError::local(kinds::BROWSER, "The browser opener panicked"))?
            .map_err(|message| AppwriteError::local(kinds::BROWSER, message))?;
        progress(OAuthStage::BrowserOpened);
    }
    progress(OAuthStage::WaitingForPlayer);

    let callback = match listener.take() {
        Some(mut listener) => {
            let (outcome, path_and_query) = listener.callback().await?;
            // The listener has done its job: close it before the exchange.
            drop(listener);
            if outcome == Outcome::Failure && !path_and_query.contains("error=") {
                return Err(AppwriteError::local(
                    kinds::INVALID_CALLBACK,
                    "Appwrite sent the player to the failure URL without an error",
                ));
            }
            format!("http://localhost{path_and_query}")
        }
        None => callbacks.recv().await.ok_or_else(|| {
            AppwriteError::local(
                kinds::INVALID_CALLBACK,
                "No callback URL can arrive any more",
            )
        })?,
    };
    let (user_id, secret) = parse_callback(&callback)?;

    progress(OAuthStage::CreatingSession);
    let (session, secret): (_, SessionSecret) = api.create_session(&user_id, &secret).await?;
    let user = api.get_account(&secret).await?;
    Ok(OAuthOutcome::SignedIn(Box::new(SignedIn {
        user_id,
        session,
        user,
        secret,
    })))
}

/// Reads `userId` and `secret` from the URL the player came back with, or Appwrite's `error`
/// JSON from a failure URL. Tolerates `scheme:///?…` and a trailing `#`.
pub(crate) fn parse_callback(url: &str) -> Result<(String, TokenSecret), AppwriteError> {
    let invalid = |message: String| AppwriteError::local(kinds::INVALID_CALLBACK, message);
    let trimmed = url.trim().trim_end_matches('#');
    let parsed = Url::parse(trimmed)
        .map_err(|error| invalid(format!("The callback is not a URL: {error}")))?;
    let mut user_id = None;
    let mut secret = None;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "error" => {
                return Err(AppwriteError::from_failure_json(&value).unwrap_or_else(|| {
                    let mut error = invalid(format!(
                        "The login failed, and the error it came back with is not Appwrite's \
                         JSON: {value}"
                    ));
                    error.response = value.into_owned();
                    error
                }));
            }
            "userId" if !value.is_empty() => user_id = Some(value.into_owned()),
            "secret" if !value.is_empty() => secret = Some(TokenSecret(value.into_owned())),
            _ => {}
        }
    }
    match (user_id, secret) {
        (Some(user_id), Some(secret)) => Ok((user_id, secret)),
        (None, _) => Err(invalid("The callback carries no `userId`".to_owned())),
        (_, None) => Err(invalid("The callback carries no `secret`".to_owned())),
    }
}

/// Signs out: `DELETE /account/sessions/current`.
pub(crate) async fn logout(
    client: AppwriteClient,
    http: Result<reqwest::Client, AppwriteError>,
    secret: SessionSecret,
    reports: Reporter,
) {
    let result = async {
        let http = http?;
        let api = Api::new(&http, &client)?;
        match api.delete_session(&secret).await {
            // The session was already gone on the server: signed out all the same.
            Err(error) if error.code == 401 || error.code == 404 => Ok(()),
            other => other,
        }
    }
    .await;
    reports.send(Report::LoggedOut(result));
}

/// Restores a remembered session: load it, check it with `GET /account/sessions/current`,
/// fetch the user; a session Appwrite no longer knows (401) is deleted from the store.
pub(crate) async fn restore(
    client: AppwriteClient,
    http: Result<reqwest::Client, AppwriteError>,
    store: Arc<dyn SessionStore>,
    reports: Reporter,
) {
    let loader = store.clone();
    let loaded = tokio::task::spawn_blocking(move || loader.load()).await;
    let stored = match loaded {
        Ok(Ok(Some(stored))) => stored,
        // Nothing saved: nothing to report.
        Ok(Ok(None)) => return,
        Ok(Err(message)) => {
            let error = AppwriteError::local(kinds::SESSION_STORE, message);
            return reports.send(Report::Restored(Err((error, false))));
        }
        Err(_) => {
            let error = AppwriteError::local(kinds::SESSION_STORE, "The session store panicked");
            return reports.send(Report::Restored(Err((error, false))));
        }
    };
    // A session of another server or project is left alone.
    let (Some(endpoint), Some(project)) = (client.endpoint(), client.project()) else {
        return;
    };
    if stored.endpoint != endpoint || stored.project != project {
        return;
    }
    let result: Result<Box<SignedIn>, AppwriteError> = async {
        let http = http?;
        let api = Api::new(&http, &client)?;
        let session = api.get_current_session(&stored.secret).await?;
        let user = api.get_account(&stored.secret).await?;
        Ok(Box::new(SignedIn {
            user_id: user.id.clone(),
            session,
            user,
            secret: stored.secret.clone(),
        }))
    }
    .await;
    let report = match result {
        Ok(signed_in) => Ok(signed_in),
        Err(error) if error.code == 401 => {
            let cleared = tokio::task::spawn_blocking(move || store.clear())
                .await
                .is_ok_and(|cleared| cleared.is_ok());
            Err((error, cleared))
        }
        Err(error) => Err((error, false)),
    };
    reports.send(Report::Restored(report));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_parse_in_every_shape() {
        for url in [
            "http://localhost:1234/appwrite/oauth/n/success?userId=u1&secret=s.e.c#",
            "appwrite-callback-p:///?secret=s.e.c&userId=u1#",
            "appwrite-callback-p://?secret=s.e.c&userId=u1",
        ] {
            let (user_id, secret) = parse_callback(url).unwrap();
            assert_eq!(
                (user_id.as_str(), secret.0.as_str()),
                ("u1", "s.e.c"),
                "{url}"
            );
        }
        let error = parse_callback(
            "http://x/f?error=%7B%22message%22%3A%22no%22%2C%22type%22%3A%22t%22%2C%22code%22%3A424%7D",
        )
        .unwrap_err();
        assert_eq!((error.message.as_str(), error.code), ("no", 424));
        let error = parse_callback("http://x/f?error=oops").unwrap_err();
        assert_eq!(error.kind, kinds::INVALID_CALLBACK);
        assert_eq!(
            parse_callback("http://x/s?secret=a").unwrap_err().kind,
            kinds::INVALID_CALLBACK
        );
    }

    #[test]
    fn token_secrets_are_redacted() {
        assert_eq!(
            format!("{:?}", TokenSecret("abc".into())),
            "TokenSecret(<redacted>)"
        );
    }
}
