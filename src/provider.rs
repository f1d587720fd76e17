//! The OAuth2 providers Appwrite knows, with their exact wire names.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares [`OAuthProvider`] from one table, so the variant, its wire name and its display name
/// can never drift apart.
macro_rules! providers {
    ($($variant:ident => $wire:literal, $name:literal;)*) => {
        /// An OAuth2 provider, as Appwrite names it in `/account/tokens/oauth2/{provider}`.
        ///
        /// These are the 39 providers of the Appwrite 1.8 API spec plus `x` (Appwrite 1.9.1) and
        /// `fusionauth`, `keycloak`, `kick` (Appwrite 1.9.3): the 43 of the official SDKs.
        /// [`Display`](fmt::Display), [`FromStr`] and serde all use the exact, case-sensitive wire
        /// name (`paypalSandbox`, `tradeshiftBox`).
        ///
        /// ```
        /// use bevy_appwrite::OAuthProvider;
        ///
        /// assert_eq!(OAuthProvider::PaypalSandbox.to_string(), "paypalSandbox");
        /// assert_eq!("github".parse::<OAuthProvider>(), Ok(OAuthProvider::Github));
        /// assert!("GitHub".parse::<OAuthProvider>().is_err());
        /// assert_eq!(OAuthProvider::ALL.len(), 43);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OAuthProvider {
            $(
                #[doc = concat!($name, " (wire name `", $wire, "`).")]
                $variant,
            )*
        }

        impl OAuthProvider {
            /// Every provider, in alphabetical order of wire name.
            pub const ALL: &'static [OAuthProvider] = &[$(OAuthProvider::$variant),*];

            /// The wire name Appwrite expects in URLs, e.g. `"paypalSandbox"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(OAuthProvider::$variant => $wire,)*
                }
            }

            /// The provider's human-readable name, e.g. `"PayPal Sandbox"`.
            pub const fn display_name(self) -> &'static str {
                match self {
                    $(OAuthProvider::$variant => $name,)*
                }
            }
        }
    };
}

providers! {
    Amazon => "amazon", "Amazon";
    Apple => "apple", "Apple";
    Auth0 => "auth0", "Auth0";
    Authentik => "authentik", "Authentik";
    Autodesk => "autodesk", "Autodesk";
    Bitbucket => "bitbucket", "Bitbucket";
    Bitly => "bitly", "Bitly";
    Box => "box", "Box";
    Dailymotion => "dailymotion", "Dailymotion";
    Discord => "discord", "Discord";
    Disqus => "disqus", "Disqus";
    Dropbox => "dropbox", "Dropbox";
    Etsy => "etsy", "Etsy";
    Facebook => "facebook", "Facebook";
    Figma => "figma", "Figma";
    Fusionauth => "fusionauth", "FusionAuth";
    Github => "github", "GitHub";
    Gitlab => "gitlab", "GitLab";
    Google => "google", "Google";
    Keycloak => "keycloak", "Keycloak";
    Kick => "kick", "Kick";
    Linkedin => "linkedin", "LinkedIn";
    Microsoft => "microsoft", "Microsoft";
    Notion => "notion", "Notion";
    Oidc => "oidc", "OpenID Connect";
    Okta => "okta", "Okta";
    Paypal => "paypal", "PayPal";
    PaypalSandbox => "paypalSandbox", "PayPal Sandbox";
    Podio => "podio", "Podio";
    Salesforce => "salesforce", "Salesforce";
    Slack => "slack", "Slack";
    Spotify => "spotify", "Spotify";
    Stripe => "stripe", "Stripe";
    Tradeshift => "tradeshift", "Tradeshift";
    TradeshiftBox => "tradeshiftBox", "Tradeshift Sandbox";
    Twitch => "twitch", "Twitch";
    Wordpress => "wordpress", "WordPress";
    X => "x", "X";
    Yahoo => "yahoo", "Yahoo";
    Yammer => "yammer", "Yammer";
    Yandex => "yandex", "Yandex";
    Zoho => "zoho", "Zoho";
    Zoom => "zoom", "Zoom";
}

impl fmt::Display for OAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown provider name; its message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown OAuth2 provider `{name}`; valid providers (case-sensitive) are: {}",
    valid_names()
)]
pub struct UnknownProvider {
    /// The name that did not match any provider.
    pub name: String,
}

fn valid_names() -> String {
    OAuthProvider::ALL
        .iter()
        .map(|provider| provider.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for OAuthProvider {
    type Err = UnknownProvider;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        OAuthProvider::ALL
            .iter()
            .copied()
            .find(|provider| provider.as_str() == name)
            .ok_or_else(|| UnknownProvider {
                name: name.to_owned(),
            })
    }
}

impl Serialize for OAuthProvider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OAuthProvider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_unique_sorted_and_round_trip() {
        let names: Vec<&str> = OAuthProvider::ALL.iter().map(|p| p.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "ALL is sorted and has no duplicates");
        for provider in OAuthProvider::ALL {
            assert_eq!(provider.to_string().parse::<OAuthProvider>(), Ok(*provider));
            let json = serde_json::to_string(provider).unwrap();
            assert_eq!(json, format!("\"{provider}\""));
            assert_eq!(
                serde_json::from_str::<OAuthProvider>(&json).unwrap(),
                *provider
            );
        }
    }

    #[test]
    fn parsing_is_case_sensitive_and_the_error_lists_valid_names() {
        let error = "PaypalSandbox".parse::<OAuthProvider>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`PaypalSandbox`"), "{message}");
        assert!(message.contains("paypalSandbox, podio"), "{message}");
        assert!(serde_json::from_str::<OAuthProvider>("\"Github\"").is_err());
    }
}
