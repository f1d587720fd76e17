//! Property tests for every parser and encoder that sees outside input (bounded case counts so
//! they fit the normal test run).

use proptest::collection::vec;
use proptest::prelude::*;

use crate::api::token_query;
use crate::error::AppwriteError;
use crate::flow::parse_callback;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The token query decodes, with the `url` crate's parser, to exactly the parameters in
    /// the official order, and uses only form-encoding's characters.
    #[test]
    fn token_query_round_trips(
        success in proptest::option::of(any::<String>()),
        failure in proptest::option::of(any::<String>()),
        scopes in vec(any::<String>(), 0..8),
        project in "[a-zA-Z0-9._-]{1,36}",
    ) {
        let query = token_query(success.as_deref(), failure.as_deref(), &scopes, &project);
        prop_assert!(query.bytes().all(|b| b.is_ascii_alphanumeric() || b"*-._%+=&".contains(&b)), "{}", query);
        let url = url::Url::parse(&format!("http://localhost/?{query}")).unwrap();
        let parsed: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let mut expected = Vec::new();
        if let Some(success) = success { expected.push(("success".to_owned(), success)); }
        if let Some(failure) = failure { expected.push(("failure".to_owned(), failure)); }
        for (index, scope) in scopes.into_iter().enumerate() {
            expected.push((format!("scopes[{index}]"), scope));
        }
        expected.push(("project".to_owned(), project));
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn the_callback_parser_never_panics(bytes in vec(any::<u8>(), 0..512)) {
        let _ = parse_callback(&String::from_utf8_lossy(&bytes));
    }

    /// Whatever else a callback URL carries, `userId` and `secret` are found.
    #[test]
    fn the_callback_parser_keeps_user_id_and_secret(
        user_id in "[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}",
        secret in "[A-Za-z0-9._-]{1,256}",
        noise in vec(("[a-z]{1,8}", any::<String>()), 0..5),
        fragment in proptest::bool::ANY,
    ) {
        let mut url = url::Url::parse("http://localhost:1234/appwrite/oauth/n/success").unwrap();
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in &noise {
                if !matches!(key.as_str(), "userId" | "secret" | "error") {
                    query.append_pair(key, value);
                }
            }
            query.append_pair("secret", &secret).append_pair("userId", &user_id);
        }
        let mut text = url.to_string();
        if fragment { text.push('#'); }
        let (parsed_user, parsed_secret) = parse_callback(&text).unwrap();
        prop_assert_eq!(parsed_user, user_id);
        prop_assert_eq!(parsed_secret.0, secret);
    }

    #[test]
    fn the_error_parsers_never_panic(bytes in vec(any::<u8>(), 0..1024), status in 0u16..1000) {
        let text = String::from_utf8_lossy(&bytes);
        let error = AppwriteError::from_response(status, &text);
        prop_assert_eq!(error.code, status);
        prop_assert_eq!(error.response, text.as_ref());
        let _ = AppwriteError::from_failure_json(&text);
    }

    /// An Appwrite error page keeps its message and type, whatever surrounds them.
    #[test]
    fn the_html_parser_keeps_message_and_type(
        message in "[a-zA-Z0-9][a-zA-Z0-9 .,:!?`()-]{0,78}[a-zA-Z0-9.]",
        kind in "[a-z][a-z_]{0,40}",
        before in "[^<]{0,200}",
    ) {
        let page = format!(
            "<!DOCTYPE html><html><body>{before}<p class='code'>Error 400</p><h1>{message}</h1>\
             <p><span class='type'>{kind}</span></p></body></html>"
        );
        let error = AppwriteError::from_response(400, &page);
        prop_assert_eq!(error.message, message);
        prop_assert_eq!(error.kind, kind);
    }

    /// Appwrite's JSON errors keep message, type and code.
    #[test]
    fn json_errors_round_trip(message in any::<String>(), kind in any::<String>(), code in 100u16..600) {
        let json = serde_json::json!({ "message": message, "type": kind, "code": code }).to_string();
        let failure = AppwriteError::from_failure_json(&json).unwrap();
        prop_assert_eq!((&failure.message, &failure.kind, failure.code), (&message, &kind, code));
        let response = AppwriteError::from_response(code, &json);
        prop_assert_eq!((&response.message, &response.kind), (&message, &kind));
    }
}
