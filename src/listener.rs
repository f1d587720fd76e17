//! The loopback listener that receives Appwrite's redirect on desktop (RFC 8252 §7.3).
//!
//! It binds an ephemeral port on `127.0.0.1` and, where available, the same port on `[::1]`
//! (browsers resolve `localhost` to either), and accepts exactly one request on
//! `/appwrite/oauth/<nonce>/success` or `/failure`, where the nonce is 128 random bits fresh for
//! each login. Anything else gets `404` and the login goes on.

use std::convert::Infallible;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::{AppwriteError, kinds};
use crate::html::escape;
use crate::task::AbortOnDrop;

/// The largest request head the listener reads (hyper's smallest buffer).
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 64;
/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Which of the two URLs the player came back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
}

/// A running listener; dropping it aborts the accept loops, which closes both sockets.
pub(crate) struct Listener {
    port: u16,
    nonce: String,
    hit: Option<oneshot::Receiver<(Outcome, String)>>,
    _accepting: Vec<AbortOnDrop<()>>,
}

type Slot = Arc<Mutex<Option<oneshot::Sender<(Outcome, String)>>>>;

impl Listener {
    /// Binds the sockets (`port` 0: an ephemeral one) and starts accepting; must run inside the
    /// plugin's Tokio context.
    pub async fn start(port: u16) -> Result<Self, AppwriteError> {
        let listener_error = |error: std::io::Error| {
            AppwriteError::local(
                kinds::LISTENER,
                format!("Could not open the loopback listener for the login: {error}"),
            )
        };
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(listener_error)?;
        let port = v4.local_addr().map_err(listener_error)?.port();
        // Best effort: not every machine has IPv6 loopback, and the port may be taken there.
        let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await.ok();
        let nonce = random_nonce()?;
        let (sender, hit) = oneshot::channel();
        let slot: Slot = Arc::new(Mutex::new(Some(sender)));
        let accepting = std::iter::once(v4)
            .chain(v6)
            .map(|socket| AbortOnDrop::spawn(accept_loop(socket, nonce.clone(), slot.clone())))
            .collect();
        Ok(Self {
            port,
            nonce,
            hit: Some(hit),
            _accepting: accepting,
        })
    }

    /// `http://localhost:PORT/appwrite/oauth/<nonce>/success` (or `/failure`).
    pub fn url(&self, outcome: Outcome) -> String {
        let path = match outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        };
        format!(
            "http://localhost:{}/appwrite/oauth/{}/{path}",
            self.port, self.nonce
        )
    }

    /// Waits for the one accepted callback: which URL, and its full path and query.
    pub async fn callback(&mut self) -> Result<(Outcome, String), AppwriteError> {
        let closed = || AppwriteError::local(kinds::LISTENER, "The loopback listener stopped");
        let hit = self.hit.take().ok_or_else(closed)?;
        hit.await.map_err(|_| closed())
    }
}

fn random_nonce() -> Result<String, AppwriteError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| {
        AppwriteError::local(
            kinds::LISTENER,
            format!("No randomness for the nonce: {error}"),
        )
    })?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

async fn accept_loop(socket: TcpListener, nonce: String, slot: Slot) {
    loop {
        let Ok((stream, _peer)) = socket.accept().await else {
            continue;
        };
        let nonce = nonce.clone();
        let slot = slot.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = answer(&request, &nonce, &slot);
                async move { Ok::<_, Infallible>(response) }
            });
            // Small limits: the one valid request is a short GET. Larger heads get 431, a client
            // that sends its head too slowly is dropped, and a dropped connection is no error
            // of the login's.
            let _ = hyper::server::conn::http1::Builder::new()
                .max_buf_size(MAX_REQUEST_HEAD)
                .max_headers(MAX_HEADERS)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Compares without an early exit, so response timing does not reveal how much of a guessed
/// nonce was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn answer(request: &Request<Incoming>, nonce: &str, slot: &Slot) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let outcome = path
        .strip_prefix("/appwrite/oauth/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(candidate, _)| constant_time_eq(candidate.as_bytes(), nonce.as_bytes()))
        .and_then(|(_, which)| match which {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => None,
        });
    let sender = match outcome {
        Some(_) if request.method() == hyper::Method::GET => {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take()
        }
        _ => None,
    };
    let (Some(outcome), Some(sender)) = (outcome, sender) else {
        return page(StatusCode::NOT_FOUND, "Not found", "There is nothing here.");
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.to_owned(), |pq| pq.as_str().to_owned());
    let reason = failure_reason(outcome, &path_and_query);
    // The flow may already have ended (cancelled, timed out); the page is still answered.
    let _ = sender.send((outcome, path_and_query));
    match reason {
        None => page(
            StatusCode::OK,
            "Signed in",
            "Signed in — you can return to the game.",
        ),
        Some(reason) => page(
            StatusCode::OK,
            "Sign-in failed",
            &format!("Sign-in failed: {reason}. You can return to the game."),
        ),
    }
}

/// The reason the browser should show for a failed login, read from Appwrite's `error` JSON.
fn failure_reason(outcome: Outcome, path_and_query: &str) -> Option<String> {
    let query = path_and_query.split_once('?').map_or("", |(_, q)| q);
    let error = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "error")
        .map(|(_, value)| value.into_owned());
    match (outcome, error) {
        (_, Some(error)) => Some(
            AppwriteError::from_failure_json(&error)
                .map(|error| error.message)
                .filter(|message| !message.is_empty())
                .unwrap_or(error),
        ),
        (Outcome::Failure, None) => Some("the provider reported an error".to_owned()),
        (Outcome::Success, None) => None,
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response<Full<Bytes>> {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;background:#19191d;color:#e8e8ef;\
         display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}}\
         </style>\n</head>\n<body>\n<h1>{}</h1>\n</body>\n</html>\n",
        escape(title),
        escape(text)
    );
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_compare_by_content_and_length() {
        assert!(constant_time_eq(b"0123abcd", b"0123abcd"));
        assert!(!constant_time_eq(b"0123abcd", b"0123abce"));
        assert!(!constant_time_eq(b"0123abcd", b"0123abc"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn nonces_are_128_bits_of_fresh_hex() {
        let (a, b) = (random_nonce().unwrap(), random_nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_failure_reason_comes_from_appwrites_error_json() {
        let query = "/appwrite/oauth/n/failure?error=%7B%22message%22%3A%22Denied%22%7D";
        assert_eq!(
            failure_reason(Outcome::Failure, query).as_deref(),
            Some("Denied")
        );
        assert_eq!(
            failure_reason(Outcome::Success, "/s?userId=u&secret=s"),
            None
        );
    }
}
