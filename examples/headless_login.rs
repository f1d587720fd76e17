//! The Appwrite Unity example for `account.CreateOAuth2Token`, in a headless Bevy app: try the
//! login, print `Success` (and who signed in) or `Error: {message} (Code: {code})`.
//!
//! ```text
//! cargo run --example headless_login --features dev-server -- [--provider NAME]
//!     [--success URL] [--failure URL] [--scope S]... [--authorize-url-only] [--timeout SECS]
//! ```
//!
//! With `APPWRITE_ENDPOINT` and `APPWRITE_PROJECT` set it signs in against that Appwrite,
//! opening your browser. Without them it starts the local Appwrite stand-in and a simulated
//! player who clicks Allow on the fake provider's consent page, so it completes a real login
//! with zero configuration. Exit code 0 on success, 1 on error, 2 on bad arguments.

use std::process::ExitCode;
use std::time::Duration;

use bevy::app::{AppExit, ScheduleRunnerPlugin};
use bevy::prelude::*;
use bevy_appwrite::dev_server::{ConsentChoice, DevServer, DevServerConfig, simulated_player};
use bevy_appwrite::prelude::*;

const USAGE: &str = "usage: headless_login [--provider NAME] [--success URL] [--failure URL] \
                     [--scope S]... [--authorize-url-only] [--timeout SECS]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<OAuthRequest, String> {
    let mut provider = OAuthProvider::Github;
    let (mut success, mut failure, mut scopes) = (None, None, Vec::new());
    let (mut url_only, mut timeout) = (false, None);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--provider" => provider = value()?.parse().map_err(|e| format!("{e}"))?,
            "--success" => success = Some(value()?),
            "--failure" => failure = Some(value()?),
            "--scope" => scopes.push(value()?),
            "--authorize-url-only" => url_only = true,
            "--timeout" => {
                let secs = value()?;
                let secs: f64 = secs
                    .parse()
                    .map_err(|_| format!("invalid timeout `{secs}`"))?;
                timeout = Some(
                    Duration::try_from_secs_f64(secs).map_err(|_| "invalid timeout".to_owned())?,
                );
            }
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let mut request = OAuthRequest::new(provider).scopes(scopes);
    if let Some(success) = success {
        request = request.success(success);
    }
    if let Some(failure) = failure {
        request = request.failure(failure);
    }
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    if url_only {
        request = request.authorize_url_only();
    }
    Ok(request)
}

#[derive(Resource)]
struct Login(Option<OAuthRequest>);

fn main() -> ExitCode {
    let request = match parse(std::env::args().skip(1)) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };

    let mut app = App::new();
    app.add_plugins(MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(Duration::from_millis(5))));
    // Zero configuration: the embedded stand-in and a simulated player who approves.
    let mut _stand_in = None;
    let client = AppwriteClient::from_env();
    if client.endpoint().is_none() && client.project().is_none() {
        let server = match DevServer::start(DevServerConfig::new()) {
            Ok(server) => server,
            Err(error) => {
                eprintln!("Error: cannot start the Appwrite stand-in: {error} (Code: 0)");
                return ExitCode::FAILURE;
            }
        };
        eprintln!(
            "No APPWRITE_ENDPOINT/APPWRITE_PROJECT: using the local Appwrite stand-in at {}",
            server.endpoint()
        );
        app.add_plugins(
            AppwritePlugin::new().with_client(
                AppwriteClient::new()
                    .set_endpoint(server.endpoint())
                    .set_project(server.project_id()),
            ),
        )
        .insert_resource(simulated_player(ConsentChoice::Allow));
        _stand_in = Some(server);
    } else {
        app.add_plugins(AppwritePlugin::new().with_client(client));
    }

    app.insert_resource(Login(Some(request)))
        .add_systems(
            Startup,
            |mut login: ResMut<Login>, mut logins: MessageWriter<OAuthRequest>| {
                if let Some(request) = login.0.take() {
                    logins.write(request);
                }
            },
        )
        .add_observer(|progress: On<OAuthProgress>| {
            if let OAuthStage::AuthorizationUrl(url) = &progress.stage {
                println!("authorize-url: {url}");
            }
        })
        .add_observer(
            |done: On<OAuthSucceeded>, mut exit: MessageWriter<AppExit>| {
                println!("Success");
                if let Some(signed_in) = done.signed_in() {
                    println!("user: {} ({})", signed_in.user_id, signed_in.user.name);
                }
                exit.write(AppExit::Success);
            },
        )
        .add_observer(
            |failed: On<OAuthFailed>, mut exit: MessageWriter<AppExit>| {
                println!(
                    "Error: {} (Code: {})",
                    failed.error.message, failed.error.code
                );
                exit.write(AppExit::error());
            },
        );

    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(_) => ExitCode::FAILURE,
    }
}
