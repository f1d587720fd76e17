//! An in-game login menu with bevy_egui: provider buttons, progress with Cancel, errors, and
//! the signed-in player with Log out.
//!
//! ```text
//! cargo run --example login_menu --features dev-server
//! ```
//!
//! With `APPWRITE_ENDPOINT` and `APPWRITE_PROJECT` set it signs in against that Appwrite project.
//! Without them it starts the local Appwrite stand-in, and your real browser opens at its fake
//! consent page: click Allow and the game shows who signed in.
//!
//! `--providers github,google,discord` chooses the providers with a big button (default:
//! GitHub, Google, Discord, Apple).
//!
//! Screenshot mode (used by CI under Xvfb): `--screenshot PATH [--state menu|signed-in]` renders
//! the chosen state, saves a PNG with Bevy's screenshot API and exits. `signed-in` performs a
//! real login against the stand-in with a simulated player first.

use std::process::ExitCode;
use std::sync::Mutex;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use bevy::window::WindowResolution;
use bevy::winit::{EventLoopProxyWrapper, WinitSettings, WinitUserEvent};
use bevy_appwrite::dev_server::{ConsentChoice, DevServer, DevServerConfig, simulated_player};
use bevy_appwrite::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

/// The window size, also the size of screenshots.
const WINDOW: (u32, u32) = (800, 600);
/// Providers with a big button unless `--providers` names others; the rest of the 43 are under
/// "More providers".
const DEFAULT_FEATURED: [OAuthProvider; 4] = [
    OAuthProvider::Github,
    OAuthProvider::Google,
    OAuthProvider::Discord,
    OAuthProvider::Apple,
];
/// Frames rendered in the chosen state before the screenshot, so egui has laid out.
const SETTLE_FRAMES: u32 = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum ShotState {
    Menu,
    SignedIn,
}

#[derive(Resource)]
struct ScreenshotMode {
    path: String,
    state: ShotState,
    settled: u32,
    taken: bool,
    frames: u32,
}

/// What the menu shows; kept in a resource so the plugin's results can update it.
#[derive(Resource, Default)]
struct Menu {
    login: Option<(RequestId, OAuthProvider)>,
    status: String,
    error: Option<AppwriteError>,
    signed_in_with: Option<OAuthProvider>,
    signing_out: bool,
}

/// The providers that get a big button.
#[derive(Resource)]
struct Featured(Vec<OAuthProvider>);

/// Keeps the embedded stand-in alive as long as the app.
#[derive(Resource)]
struct StandIn(#[allow(dead_code, reason = "held for its Drop")] DevServer);

/// Command-line options: screenshot mode and the featured providers.
struct Options {
    screenshot: Option<ScreenshotMode>,
    featured: Vec<OAuthProvider>,
}

const USAGE: &str = "usage: login_menu [--providers NAME,NAME,...] \
                     [--screenshot PATH [--state menu|signed-in]]";

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut path, mut state) = (None, ShotState::Menu);
    let mut featured = DEFAULT_FEATURED.to_vec();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--screenshot" => path = Some(args.next().ok_or("--screenshot needs a PATH")?),
            "--state" => {
                state = match args.next().as_deref() {
                    Some("menu") => ShotState::Menu,
                    Some("signed-in") => ShotState::SignedIn,
                    _ => return Err("--state is `menu` or `signed-in`".to_owned()),
                }
            }
            "--providers" => {
                let list = args
                    .next()
                    .ok_or("--providers needs a list, e.g. github,google")?;
                featured = list
                    .split(',')
                    .map(|name| {
                        name.trim()
                            .parse::<OAuthProvider>()
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Options {
        screenshot: path.map(|path| ScreenshotMode {
            path,
            state,
            settled: 0,
            taken: false,
            frames: 0,
        }),
        featured,
    })
}

fn main() -> ExitCode {
    let Options {
        screenshot,
        featured,
    } = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };

    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "bevy_appwrite — login menu".into(),
            resolution: WindowResolution::new(WINDOW.0, WINDOW.1),
            resizable: false,
            ..default()
        }),
        ..default()
    }))
    .add_plugins(EguiPlugin::default());

    // Zero configuration: the embedded stand-in. Your real browser opens at its consent page
    // (in screenshot mode a simulated player clicks Allow instead).
    let client = AppwriteClient::from_env();
    if screenshot.is_some() || (client.endpoint().is_none() && client.project().is_none()) {
        let server = match DevServer::start(DevServerConfig::new()) {
            Ok(server) => server,
            Err(error) => {
                eprintln!("Error: cannot start the Appwrite stand-in: {error}");
                return ExitCode::FAILURE;
            }
        };
        info!("Using the local Appwrite stand-in at {}", server.endpoint());
        app.add_plugins(
            AppwritePlugin::new().with_client(
                AppwriteClient::new()
                    .set_endpoint(server.endpoint())
                    .set_project(server.project_id()),
            ),
        )
        .insert_resource(StandIn(server));
    } else {
        app.add_plugins(AppwritePlugin::new().with_client(client));
    }

    app.init_resource::<Menu>()
        .insert_resource(Featured(featured))
        .add_systems(Startup, (spawn_camera, install_waker))
        .add_systems(EguiPrimaryContextPass, menu_ui)
        .add_observer(on_progress)
        .add_observer(on_succeeded)
        .add_observer(on_failed)
        .add_observer(|_: On<LoggedOut>, mut menu: ResMut<Menu>| {
            menu.signing_out = false;
            menu.signed_in_with = None;
        })
        .add_observer(|failed: On<LogoutFailed>, mut menu: ResMut<Menu>| {
            menu.signing_out = false;
            menu.signed_in_with = None;
            menu.error = Some(failed.error.clone());
        });

    if let Some(mode) = screenshot {
        // Render continuously so the screenshot frames come even without input events.
        app.insert_resource(WinitSettings::continuous());
        if mode.state == ShotState::SignedIn {
            app.insert_resource(simulated_player(ConsentChoice::Allow))
                .add_systems(
                    Startup,
                    |mut logins: MessageWriter<OAuthRequest>, mut menu: ResMut<Menu>| {
                        let request = OAuthRequest::new(OAuthProvider::Github);
                        menu.login = Some((request.id(), request.provider()));
                        logins.write(request);
                    },
                );
        }
        app.insert_resource(mode)
            .add_systems(Update, take_screenshot);
    } else {
        // A menu needs no frames while nothing changes; the ResultWaker brings results in.
        app.insert_resource(WinitSettings::desktop_app());
    }

    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(_) => ExitCode::FAILURE,
    }
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn(Camera2d);
}

/// Wakes the event loop when a login result arrives: the browser has focus then, and a
/// reactive app would otherwise not update for up to a minute.
fn install_waker(proxy: Res<EventLoopProxyWrapper>, mut commands: Commands) {
    let proxy = Mutex::new((**proxy).clone());
    commands.insert_resource(ResultWaker::new(move || {
        if let Ok(proxy) = proxy.lock() {
            // The loop is gone only when the app is exiting; nothing to wake then.
            let _ = proxy.send_event(WinitUserEvent::WakeUp);
        }
    }));
}

fn on_progress(progress: On<OAuthProgress>, mut menu: ResMut<Menu>) {
    if menu.login.map(|(id, _)| id) != Some(progress.request) {
        return;
    }
    menu.status = match &progress.stage {
        OAuthStage::AuthorizationUrl(_) => "Opening your browser…",
        OAuthStage::BrowserOpened | OAuthStage::WaitingForPlayer => {
            "Finish signing in in your browser"
        }
        OAuthStage::CreatingSession => "Signing you in…",
    }
    .to_owned();
}

fn on_succeeded(done: On<OAuthSucceeded>, mut menu: ResMut<Menu>) {
    if menu.login.map(|(id, _)| id) == Some(done.request) {
        menu.login = None;
        menu.signed_in_with = Some(done.provider);
        menu.error = None;
    }
}

fn on_failed(failed: On<OAuthFailed>, mut menu: ResMut<Menu>) {
    if menu.login.map(|(id, _)| id) == Some(failed.request) {
        menu.login = None;
        menu.error = Some(failed.error.clone());
    }
}

fn accent() -> egui::Color32 {
    egui::Color32::from_rgb(253, 54, 110)
}

fn menu_ui(
    mut contexts: EguiContexts,
    mut menu: ResMut<Menu>,
    featured: Res<Featured>,
    session: Res<AppwriteSession>,
    mut logins: MessageWriter<OAuthRequest>,
    mut cancels: MessageWriter<OAuthCancel>,
    mut logouts: MessageWriter<Logout>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("login")
        .title_bar(false)
        .resizable(false)
        .collapsible(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .default_width(340.0)
        .show(ctx, |ui| {
            ui.vertical_centered(|ui| {
                ui.add_space(8.0);
                ui.heading(
                    egui::RichText::new("MY GAME")
                        .size(30.0)
                        .strong()
                        .color(accent()),
                );
                ui.add_space(12.0);
                if let Some(signed_in) = session.signed_in() {
                    signed_in_view(ui, &mut menu, signed_in, &mut logouts);
                } else if let Some((id, provider)) = menu.login {
                    progress_view(ui, &menu, id, provider, &mut cancels);
                } else {
                    providers_view(ui, &mut menu, &featured.0, &mut logins);
                }
                if let Some(error) = &menu.error {
                    ui.add_space(10.0);
                    ui.colored_label(egui::Color32::from_rgb(255, 120, 120), &error.message);
                    ui.label(
                        egui::RichText::new(format!("Code: {} · Type: {}", error.code, error.kind))
                            .small()
                            .weak(),
                    );
                }
                ui.add_space(8.0);
            });
        });
    Ok(())
}

fn providers_view(
    ui: &mut egui::Ui,
    menu: &mut Menu,
    featured: &[OAuthProvider],
    logins: &mut MessageWriter<OAuthRequest>,
) {
    ui.label("Sign in to continue");
    ui.add_space(10.0);
    let mut chosen = None;
    for &provider in featured {
        let button = egui::Button::new(
            egui::RichText::new(format!("Continue with {}", provider.display_name())).size(16.0),
        );
        if ui.add_sized([280.0, 36.0], button).clicked() {
            chosen = Some(provider);
        }
        ui.add_space(4.0);
    }
    ui.add_space(6.0);
    egui::CollapsingHeader::new("More providers")
        .default_open(false)
        .show(ui, |ui| {
            // 39 more providers: scroll inside the panel so it always fits the window.
            egui::ScrollArea::vertical()
                .max_height(170.0)
                .show(ui, |ui| {
                    egui::Grid::new("more-providers")
                        .num_columns(3)
                        .show(ui, |ui| {
                            let others =
                                OAuthProvider::ALL.iter().filter(|p| !featured.contains(p));
                            for (index, provider) in others.enumerate() {
                                if ui.button(provider.display_name()).clicked() {
                                    chosen = Some(*provider);
                                }
                                if index % 3 == 2 {
                                    ui.end_row();
                                }
                            }
                        });
                });
        });
    if let Some(provider) = chosen {
        let request = OAuthRequest::new(provider);
        menu.login = Some((request.id(), provider));
        menu.status = "Opening your browser…".to_owned();
        menu.error = None;
        logins.write(request);
    }
}

fn progress_view(
    ui: &mut egui::Ui,
    menu: &Menu,
    id: RequestId,
    provider: OAuthProvider,
    cancels: &mut MessageWriter<OAuthCancel>,
) {
    ui.label(format!("Signing in with {}", provider.display_name()));
    ui.add_space(10.0);
    ui.add(egui::Spinner::new().size(28.0).color(accent()));
    ui.add_space(6.0);
    ui.label(&menu.status);
    ui.add_space(10.0);
    if ui
        .add_sized([120.0, 28.0], egui::Button::new("Cancel"))
        .clicked()
    {
        cancels.write(OAuthCancel { request: id });
    }
}

fn signed_in_view(
    ui: &mut egui::Ui,
    menu: &mut Menu,
    signed_in: &SignedIn,
    logouts: &mut MessageWriter<Logout>,
) {
    ui.label("Signed in as");
    ui.label(
        egui::RichText::new(&signed_in.user.name)
            .size(22.0)
            .strong(),
    );
    ui.label(egui::RichText::new(&signed_in.user.email).weak());
    let provider = menu
        .signed_in_with
        .map_or(signed_in.session.provider.clone(), |p| {
            p.display_name().to_owned()
        });
    ui.label(format!("via {provider}"));
    ui.add_space(12.0);
    let label = if menu.signing_out {
        "Logging out…"
    } else {
        "Log out"
    };
    let button = ui.add_enabled(
        !menu.signing_out,
        egui::Button::new(label).min_size([120.0, 28.0].into()),
    );
    if button.clicked() {
        menu.signing_out = true;
        logouts.write(Logout);
    }
}

fn take_screenshot(
    mut mode: ResMut<ScreenshotMode>,
    session: Res<AppwriteSession>,
    menu: Res<Menu>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    mode.frames += 1;
    if mode.frames > 3000 {
        error!("No screenshot after 3000 frames");
        exit.write(AppExit::error());
        return;
    }
    if let (ShotState::SignedIn, Some(error)) = (mode.state, &menu.error) {
        error!("The login for the screenshot failed: {}", error.message);
        exit.write(AppExit::error());
        return;
    }
    let ready = match mode.state {
        ShotState::Menu => true,
        ShotState::SignedIn => session.is_signed_in(),
    };
    if !ready || mode.taken {
        return;
    }
    mode.settled += 1;
    if mode.settled < SETTLE_FRAMES {
        return;
    }
    mode.taken = true;
    commands
        .spawn(Screenshot::primary_window())
        .observe(save_to_disk(mode.path.clone()))
        .observe(
            |_: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
                exit.write(AppExit::Success);
            },
        );
}
