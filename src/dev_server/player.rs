//! A simulated player for the fake provider: a [`BrowserOpener`] that "opens" the authorization
//! URL with a plain HTTP client, clicks Allow (or Deny) on the consent page and follows the
//! redirects back to the game, as a browser would.

use url::Url;

use crate::opener::BrowserOpener;

/// Which link the simulated player clicks on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChoice {
    /// The `#allow` link.
    Allow,
    /// The `#deny` link.
    Deny,
}

impl ConsentChoice {
    fn id(self) -> &'static str {
        match self {
            ConsentChoice::Allow => "allow",
            ConsentChoice::Deny => "deny",
        }
    }
}

/// The `href` of the consent page's `#allow` or `#deny` link, resolved against the page URL.
pub fn consent_link(page_url: &str, html: &str, choice: ConsentChoice) -> Option<String> {
    let marker = format!("id=\"{}\" href=\"", choice.id());
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    let href = html[start..end].replace("&amp;", "&");
    Some(Url::parse(page_url).ok()?.join(&href).ok()?.into())
}

/// A [`BrowserOpener`] that plays the player at the stand-in's fake provider. Each call runs on
/// its own thread and returns at once, like a real browser.
pub fn simulated_player(choice: ConsentChoice) -> BrowserOpener {
    BrowserOpener::new(move |url| {
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("simulated-player".to_owned())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(browse(url, choice));
            })
            .map(drop)
            .map_err(|error| format!("The simulated player could not start: {error}"))
    })
}

/// Visits `url`, clicks `choice` on a consent page, and follows up to 10 redirects, like a
/// browser; stops quietly at the first failure (a real player would just see an error page).
async fn browse(url: String, choice: ConsentChoice) {
    let Ok(client) = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return;
    };
    let mut next = Some(url);
    for _ in 0..10 {
        let Some(url) = next.take() else { return };
        let Ok(response) = client.get(&url).send().await else {
            return;
        };
        if response.status().is_redirection() {
            next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| Url::parse(&url).ok()?.join(location).ok())
                .map(String::from);
        } else {
            let Ok(html) = response.text().await else {
                return;
            };
            next = consent_link(&url, &html, choice);
        }
    }
}
