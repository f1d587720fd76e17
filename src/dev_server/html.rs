//! The stand-in's HTML: Appwrite's error page and the fake provider's consent page.

use crate::OAuthProvider;
use crate::html::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#19191d;color:#e8e8ef;\
display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}\
main{max-width:34rem;padding:2rem;border-radius:12px;background:#232329;text-align:center}\
a{display:inline-block;margin:.5rem;padding:.6rem 1.4rem;border-radius:8px;color:#fff;\
text-decoration:none}#allow{background:#fd366e}#deny{background:#4a4a55}\
.code{opacity:.7}.type{font-family:monospace;opacity:.8}";

/// An error page shaped like Appwrite's `app/views/general/error.phtml`: the label
/// `Error <code>`, an `<h1>` with the message and a `<span class='type'>` with the error type.
pub(super) fn error_page(code: u16, message: &str, kind: &str) -> String {
    let message = escape(message);
    let kind = escape(kind);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Error {code} - Appwrite</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <p class='code'>Error {code}</p>\n<h1>{message}</h1>\n\
         <p><span class='type'>{kind}</span></p>\n</main>\n</body>\n</html>\n"
    )
}

/// The fake provider's consent page. Both choices are plain links, so a browser without
/// JavaScript, or an HTTP client that follows `href`s, can sign in.
pub(super) fn consent_page(
    provider: OAuthProvider,
    scope: &str,
    allow: &str,
    deny: &str,
) -> String {
    let name = escape(provider.display_name());
    let scope = escape(scope);
    let allow = escape(allow);
    let deny = escape(deny);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Sign in with {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Sign in with {name} as Test Player</h1>\n\
         <p>This is the Appwrite stand-in's fake {name}. The game asks for: <code>{scope}</code></p>\n\
         <p><a id=\"allow\" href=\"{allow}\">Allow</a>\n<a id=\"deny\" href=\"{deny}\">Deny</a></p>\n\
         </main>\n</body>\n</html>\n"
    )
}

/// A plain page for the Appwrite Console's default OAuth2 relay, which a token login that names
/// no `success`/`failure` URL ends on; the Console shows "Missing redirect URL" there too.
pub(super) fn console_relay_page(outcome: &str) -> String {
    let outcome = escape(outcome);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Appwrite Console</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Missing redirect URL</h1>\n<p>The OAuth2 {outcome} relay of the Console cannot \
         finish a token login: pass <code>success</code> and <code>failure</code> URLs.</p>\n\
         </main>\n</body>\n</html>\n"
    )
}

/// A page of the fake provider for requests it cannot serve (bad `redirect_uri`, used consent).
pub(super) fn provider_error_page(message: &str) -> String {
    let message = escape(message);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Sign-in error</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{message}</h1>\n</main>\n</body>\n</html>\n"
    )
}
