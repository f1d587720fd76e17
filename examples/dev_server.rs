//! Runs the local Appwrite stand-in until killed.
//!
//! ```text
//! cargo run --example dev_server --features dev-server -- [--port N] [--project ID]
//!     [--disable PROVIDER]... [--allow-host HOST]... [--auto-approve]
//! ```
//!
//! The first two lines of output are always `endpoint: http://127.0.0.1:PORT/v1` and
//! `project: ID`, so scripts can read them.

use std::io::Write;
use std::process::ExitCode;

use bevy_appwrite::OAuthProvider;
use bevy_appwrite::dev_server::{DevServer, DevServerConfig};

const USAGE: &str = "usage: dev_server [--port N] [--project ID] [--disable PROVIDER]... \
                     [--allow-host HOST]... [--auto-approve]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<DevServerConfig, String> {
    let mut config = DevServerConfig::new();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        config = match flag.as_str() {
            "--port" => {
                let port = value()?;
                config.port(port.parse().map_err(|_| format!("invalid port `{port}`"))?)
            }
            "--project" => config.project(value()?),
            "--disable" => {
                let provider: OAuthProvider = value()?.parse().map_err(|e| format!("{e}"))?;
                config.disable_provider(provider)
            }
            "--allow-host" => config.allow_host(value()?),
            "--auto-approve" => config.auto_approve(true),
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        };
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match DevServer::start(config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: cannot start the Appwrite stand-in: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    // Scripts wait for these two lines; flush so they arrive even when stdout is a pipe.
    let printed = writeln!(stdout, "endpoint: {}", server.endpoint())
        .and_then(|()| writeln!(stdout, "project: {}", server.project_id()))
        .and_then(|()| stdout.flush());
    if printed.is_err() {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    eprintln!(
        "Appwrite stand-in serving; sign-ins go to a fake provider{}. Ctrl+C stops it.",
        if server.config().auto_approve {
            " that approves at once"
        } else {
            "'s consent page"
        }
    );
    loop {
        std::thread::park();
    }
}
