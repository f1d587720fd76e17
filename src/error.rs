//! [`AppwriteError`]: what Appwrite (or the way to it) answered when something went wrong.

use core::fmt;

use serde::Deserialize;

/// Error types this crate reports itself, beside Appwrite's own `type` strings
/// (`general_argument_invalid`, `user_invalid_token`, …).
pub mod kinds {
    /// The [`AppwriteClient`](crate::AppwriteClient) has no or an invalid endpoint or project.
    pub const CONFIGURATION: &str = "bevy_appwrite_configuration";
    /// The [`OAuthRequest`](crate::OAuthRequest) is invalid; nothing was sent.
    pub const INVALID_REQUEST: &str = "bevy_appwrite_invalid_request";
    /// The server could not be reached, or the connection broke.
    pub const TRANSPORT: &str = "bevy_appwrite_transport";
    /// A request, or the whole login, took longer than allowed.
    pub const TIMEOUT: &str = "bevy_appwrite_timeout";
    /// The game cancelled the login with [`OAuthCancel`](crate::OAuthCancel).
    pub const CANCELLED: &str = "bevy_appwrite_cancelled";
    /// The player's browser could not be opened.
    pub const BROWSER: &str = "bevy_appwrite_browser";
    /// The loopback listener that receives the redirect could not be started.
    pub const LISTENER: &str = "bevy_appwrite_listener";
    /// The server answered something that is not Appwrite's protocol.
    pub const UNEXPECTED_RESPONSE: &str = "bevy_appwrite_unexpected_response";
    /// The redirect back to the game carried neither a token nor an error.
    pub const INVALID_CALLBACK: &str = "bevy_appwrite_invalid_callback";
    /// The [`SessionStore`](crate::SessionStore) could not load, save or clear a session.
    pub const SESSION_STORE: &str = "bevy_appwrite_session_store";
    /// No session to act on (for example [`Logout`](crate::Logout) while signed out).
    pub const NOT_SIGNED_IN: &str = "bevy_appwrite_not_signed_in";
}

/// An error from Appwrite or on the way to it, shaped like the official SDKs' exceptions.
///
/// `code` is the HTTP status, or `0` when no HTTP answer was involved (transport failures,
/// timeouts, invalid input). `kind` is Appwrite's error `type`, or one of [`kinds`].
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (Code: {code})")]
pub struct AppwriteError {
    /// A human-readable message.
    pub message: String,
    /// The HTTP status code, or `0`.
    pub code: u16,
    /// Appwrite's error `type` (e.g. `user_invalid_token`), or one of [`kinds`].
    pub kind: String,
    /// The raw response body, when there was one (HTML or JSON).
    pub response: String,
}

impl fmt::Debug for AppwriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `response` can be long; it is left out of Debug output on purpose.
        f.debug_struct("AppwriteError")
            .field("message", &self.message)
            .field("code", &self.code)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JsonError {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<serde_json::Value>,
}

impl AppwriteError {
    /// An error this crate raises itself (code `0`).
    pub fn local(kind: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 0,
            kind: kind.to_owned(),
            response: String::new(),
        }
    }

    /// Parses an error response: Appwrite's JSON `{message, code, type}` or its HTML error page
    /// (`<h1>` message, `<span class='type'>`). Anything else keeps the status and raw body.
    pub fn from_response(status: u16, body: &str) -> Self {
        let parsed = Self::from_json(body).or_else(|| Self::from_html(body));
        let (message, kind) = parsed.unwrap_or_else(|| {
            let message = if body.trim().is_empty() {
                format!("The server answered HTTP {status} with no body")
            } else {
                format!("The server answered HTTP {status}")
            };
            (message, kinds::UNEXPECTED_RESPONSE.to_owned())
        });
        Self {
            message,
            code: status,
            kind,
            response: body.to_owned(),
        }
    }

    /// Parses the `error` JSON a failure URL receives, `{"message","type","code"}`.
    pub fn from_failure_json(json: &str) -> Option<Self> {
        let parsed: JsonError = serde_json::from_str(json).ok()?;
        let code = parsed.code.as_ref().and_then(|code| match code {
            serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        Some(Self {
            message: parsed.message.unwrap_or_default(),
            code: code.unwrap_or(0),
            kind: parsed.kind.unwrap_or_default(),
            response: json.to_owned(),
        })
    }

    fn from_json(body: &str) -> Option<(String, String)> {
        let parsed: JsonError = serde_json::from_str(body).ok()?;
        let message = parsed.message?;
        Some((message, parsed.kind.unwrap_or_default()))
    }

    fn from_html(body: &str) -> Option<(String, String)> {
        let between = |open: &str, close: &str| -> Option<String> {
            let start = body.find(open)? + open.len();
            let end = start + body[start..].find(close)?;
            Some(unescape_html(body[start..end].trim()))
        };
        let message = between("<h1>", "</h1>")?;
        let kind = between("<span class='type'>", "</span>")
            .or_else(|| between("<span class=\"type\">", "</span>"))
            .unwrap_or_default();
        Some((message, kind))
    }
}

/// Undoes the escaping of Appwrite's PHP templates (`htmlspecialchars`).
fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_errors() {
        let body = r#"{"message":"Invalid token passed in the request.","code":401,"type":"user_invalid_token","version":"1.9.6"}"#;
        let error = AppwriteError::from_response(401, body);
        assert_eq!(error.message, "Invalid token passed in the request.");
        assert_eq!(
            (error.code, error.kind.as_str()),
            (401, "user_invalid_token")
        );
        assert_eq!(error.response, body);
        assert_eq!(
            error.to_string(),
            "Invalid token passed in the request. (Code: 401)"
        );
    }

    #[test]
    fn parses_html_error_pages() {
        let body = "<html><p class='code'>Error 400</p><h1>Invalid `success` param: a &amp; b</h1>\
                    <p><span class='type'>general_argument_invalid</span></p></html>";
        let error = AppwriteError::from_response(400, body);
        assert_eq!(error.message, "Invalid `success` param: a & b");
        assert_eq!(error.kind, "general_argument_invalid");
    }

    #[test]
    fn keeps_status_and_body_of_anything_else() {
        let error = AppwriteError::from_response(502, "Bad Gateway");
        assert_eq!(
            (error.code, error.kind.as_str()),
            (502, kinds::UNEXPECTED_RESPONSE)
        );
        assert_eq!(error.response, "Bad Gateway");
    }

    #[test]
    fn parses_failure_url_json() {
        let error = AppwriteError::from_failure_json(
            r#"{"message":"denied","type":"user_oauth2_provider_error","code":424}"#,
        )
        .unwrap();
        assert_eq!(
            (error.code, error.kind.as_str()),
            (424, "user_oauth2_provider_error")
        );
        assert!(AppwriteError::from_failure_json("not json").is_none());
    }
}
