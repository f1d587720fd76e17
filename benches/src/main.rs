//! bevy_appwrite against the anchors a Bevy developer would otherwise pick, side by side in one
//! run, every figure a ratio or a count so it holds on a noisy 2-core machine.
//!
//! ```text
//! cargo run -p bevy_appwrite_bench --release [-- --out bench-results.json] [--quick]
//! ```
//!
//! 1. Frame cost: `App::update()` of a MinimalPlugins app (manual updates) with the plugin and
//!    0, 100 and 1,000 logins in flight (waiting at the stand-in's consent page), against the
//!    same app without the plugin, and against bevy_mod_reqwest 0.22 with 100 and 1,000
//!    requests in flight to a server that holds them open.
//! 2. Latency: frames from writing an `OAuthRequest` (authorize-url-only) to its terminal
//!    message and observer event, counted from the server's response and from the moment the
//!    plugin queued the result.
//! 3. Throughput: 1,000 token requests against a server that answers `301` at once, through
//!    the plugin, raw reqwest on Tokio (`join_all`) and the official `appwrite` crate 0.22.
//! 4. Footprint: crates in the normal dependency trees.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_appwrite::dev_server::{DevServer, DevServerConfig};
use bevy_appwrite::prelude::*;
use futures_util::future::join_all;
use serde_json::{Value, json};

/// One reported figure.
struct Row {
    section: &'static str,
    name: String,
    value: f64,
    unit: &'static str,
    target: Option<String>,
}

struct Report(Vec<Row>);

impl Report {
    fn add(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: Option<String>,
    ) {
        self.0.push(Row {
            section,
            name: name.into(),
            value,
            unit,
            target,
        });
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// A server that answers every token request with `301` at once, and records when it last
/// answered.
struct FastServer {
    endpoint: String,
    answered: Arc<Mutex<Option<Instant>>>,
    _runtime: tokio::runtime::Runtime,
}

fn fast_server() -> FastServer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the bench server");
    let answered: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stamp = answered.clone();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/v1/account/tokens/oauth2/{provider}",
        axum::routing::get(move || {
            let stamp = stamp.clone();
            async move {
                *stamp.lock().unwrap() = Some(Instant::now());
                (
                    axum::http::StatusCode::MOVED_PERMANENTLY,
                    [("location", "http://127.0.0.1:9/provider/authorize?state=x")],
                )
            }
        }),
    );
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FastServer {
        endpoint: format!("http://{addr}/v1"),
        answered,
        _runtime: runtime,
    }
}

/// A server that accepts connections and never answers: requests stay in flight.
fn holding_server() -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the holding server");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (format!("http://{addr}/hold"), runtime)
}

// ---------------------------------------------------------------------------------------------
// 1. Frame cost
// ---------------------------------------------------------------------------------------------

#[derive(Resource, Default)]
struct Waiting(usize);

fn empty_app() -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    app.finish();
    app.cleanup();
    app
}

/// The plugin with `logins` waiting for the player at the stand-in's consent page.
fn plugin_app(server: &DevServer, logins: usize) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            AppwritePlugin::new().with_client(
                AppwriteClient::new()
                    .set_endpoint(server.endpoint())
                    .set_project(server.project_id()),
            ),
        )
        // The player never comes back: every login stays in flight.
        .insert_resource(BrowserOpener::new(|_| Ok(())))
        .init_resource::<Waiting>()
        .add_observer(
            |progress: On<OAuthProgress>, mut waiting: ResMut<Waiting>| {
                if progress.stage == OAuthStage::WaitingForPlayer {
                    waiting.0 += 1;
                }
            },
        );
    app.finish();
    app.cleanup();
    for _ in 0..logins {
        app.world_mut().write_message(
            OAuthRequest::new(OAuthProvider::Github).timeout(Duration::from_secs(3600)),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.world().resource::<Waiting>().0 < logins {
        assert!(
            Instant::now() < deadline,
            "logins did not reach the consent page"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(1));
    }
    app
}

#[derive(Resource)]
struct ToSend(usize, String);

fn send_held_requests(mut to_send: ResMut<ToSend>, mut client: bevy_mod_reqwest::BevyReqwest) {
    for _ in 0..std::mem::take(&mut to_send.0) {
        if let Ok(request) = client.get(&to_send.1).build() {
            client.send(request);
        }
    }
}

/// bevy_mod_reqwest with `requests` requests held open by the server.
fn peer_app(url: &str, requests: usize) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(bevy_mod_reqwest::ReqwestPlugin::default())
        .insert_resource(ToSend(requests, url.to_owned()))
        .add_systems(Update, send_held_requests);
    app.finish();
    app.cleanup();
    // Let every request get going (connected, waiting for the answer).
    for _ in 0..200 {
        app.update();
        std::thread::sleep(Duration::from_millis(2));
    }
    app
}

/// Mean `update()` time over `frames` frames, in microseconds.
fn frame_time(app: &mut App, frames: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..frames {
        app.update();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(frames)
}

fn frame_cost(report: &mut Report, quick: bool) {
    let (reps, frames) = if quick { (3, 500) } else { (25, 2000) };
    let server =
        DevServer::start(DevServerConfig::new().rate_limit_per_hour(None)).expect("stand-in");
    let (hold_url, _holding) = holding_server();
    let mut apps: Vec<(String, App)> = vec![("empty app".into(), empty_app())];
    for logins in [0, 100, 1000] {
        apps.push((
            format!("plugin, {logins} in flight"),
            plugin_app(&server, logins),
        ));
    }
    for requests in [100, 1000] {
        apps.push((
            format!("bevy_mod_reqwest, {requests} in flight"),
            peer_app(&hold_url, requests),
        ));
    }
    // Warm up, then interleave the apps in every repetition and compare each with the empty
    // app of the same repetition, so that drifts of a noisy machine hit both sides alike.
    for (_, app) in &mut apps {
        frame_time(app, frames / 4);
    }
    let mut empty_times = Vec::new();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); apps.len()];
    for _ in 0..reps {
        let times: Vec<f64> = apps
            .iter_mut()
            .map(|(_, app)| frame_time(app, frames))
            .collect();
        empty_times.push(times[0]);
        for (index, time) in times.iter().enumerate() {
            ratios[index].push(time / times[0]);
        }
    }
    report.add(
        "frame cost",
        "empty app: update()",
        median(empty_times),
        "µs",
        None,
    );
    let medians: Vec<f64> = ratios.into_iter().map(median).collect();
    for ((name, _), ratio) in apps.iter().zip(&medians).skip(1) {
        let ratio = *ratio;
        let target = (name == "plugin, 1000 in flight")
            .then(|| format!("≤ 1.02× empty: {}", met(ratio <= 1.02)));
        report.add("frame cost", format!("{name}: × empty"), ratio, "×", target);
    }
    let growth = medians[3] / medians[1];
    report.add(
        "frame cost",
        "plugin: 1000 in flight × 0 in flight",
        growth,
        "×",
        Some(format!(
            "no growth with work in flight: {}",
            met(growth <= 1.02)
        )),
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Latency in frames
// ---------------------------------------------------------------------------------------------

#[derive(Resource, Default)]
struct Seen {
    frame: usize,
    message_frame: Option<usize>,
    observer_frame: Option<usize>,
}

fn latency(report: &mut Report, quick: bool) {
    let runs = if quick { 10 } else { 50 };
    let server = fast_server();
    let queued: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stamp = queued.clone();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            AppwritePlugin::new().with_client(
                AppwriteClient::new()
                    .set_endpoint(&server.endpoint)
                    .set_project("bench"),
            ),
        )
        .insert_resource(ResultWaker::new(move || {
            *stamp.lock().unwrap() = Some(Instant::now());
        }))
        .init_resource::<Seen>()
        .add_systems(First, |mut seen: ResMut<Seen>| seen.frame += 1)
        .add_systems(
            Update,
            |mut done: MessageReader<OAuthSucceeded>, mut seen: ResMut<Seen>| {
                if done.read().next().is_some() && seen.message_frame.is_none() {
                    seen.message_frame = Some(seen.frame);
                }
            },
        )
        .add_observer(|_: On<OAuthSucceeded>, mut seen: ResMut<Seen>| {
            if seen.observer_frame.is_none() {
                seen.observer_frame = Some(seen.frame);
            }
        });
    app.finish();
    app.cleanup();

    let (mut after_response, mut after_queued, mut observer_gap) =
        (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        *app.world_mut().resource_mut::<Seen>() = Seen::default();
        *queued.lock().unwrap() = None;
        app.world_mut()
            .write_message(OAuthRequest::new(OAuthProvider::Github).authorize_url_only());
        let mut starts = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while app.world().resource::<Seen>().message_frame.is_none() {
            assert!(Instant::now() < deadline, "no result");
            starts.push(Instant::now());
            app.update();
        }
        let seen = app.world().resource::<Seen>();
        let (Some(message), Some(observer)) = (seen.message_frame, seen.observer_frame) else {
            continue;
        };
        let answered = server.answered.lock().unwrap().unwrap_or_else(Instant::now);
        let queued_at = queued.lock().unwrap().unwrap_or_else(Instant::now);
        // Frames that started after the moment, up to the one that delivered the result.
        let count_after =
            |moment: Instant| starts[..message].iter().filter(|s| **s > moment).count();
        after_response.push(count_after(answered) as f64);
        after_queued.push(count_after(queued_at) as f64);
        observer_gap.push(observer as f64 - message as f64);
    }
    let queued_median = median(after_queued.clone());
    let queued_max = after_queued.iter().copied().fold(0.0, f64::max);
    report.add(
        "latency",
        "frames after the result was queued (median)",
        queued_median,
        "frames",
        Some(format!("≤ 1 frame: {}", met(queued_max <= 1.0))),
    );
    report.add(
        "latency",
        "frames after the result was queued (max)",
        queued_max,
        "frames",
        None,
    );
    report.add(
        "latency",
        "frames after the server's response (median)",
        median(after_response),
        "frames",
        Some("includes reqwest reading and handing over the answer".into()),
    );
    report.add(
        "latency",
        "observer event vs message (frames apart, max)",
        observer_gap.iter().copied().fold(f64::MIN, f64::max),
        "frames",
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Throughput
// ---------------------------------------------------------------------------------------------

const REQUESTS: usize = 1000;

fn through_plugin(endpoint: &str) -> Duration {
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(
            AppwritePlugin::new().with_client(
                AppwriteClient::new()
                    .set_endpoint(endpoint)
                    .set_project("bench"),
            ),
        )
        .add_observer(move |_: On<OAuthSucceeded>| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .add_observer(|failed: On<OAuthFailed>| panic!("token request failed: {}", failed.error));
    app.finish();
    app.cleanup();
    app.update();
    let started = Instant::now();
    for _ in 0..REQUESTS {
        app.world_mut().write_message(
            OAuthRequest::new(OAuthProvider::Github)
                .success("http://localhost/ok")
                .failure("http://localhost/fail")
                .authorize_url_only(),
        );
    }
    while done.load(Ordering::Relaxed) < REQUESTS {
        app.update();
    }
    started.elapsed()
}

/// Runs `work` while another thread spins an empty MinimalPlugins app, the same game loop the
/// plugin's figure includes, so that the anchors can be compared under the same CPU load.
fn with_game_loop<T>(work: impl FnOnce() -> T) -> T {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinning = stop.clone();
    let game_loop = std::thread::spawn(move || {
        let mut app = empty_app();
        while !spinning.load(Ordering::Relaxed) {
            app.update();
        }
    });
    let result = work();
    stop.store(true, Ordering::Relaxed);
    let _ = game_loop.join();
    result
}

fn through_reqwest(runtime: &tokio::runtime::Runtime, endpoint: &str) -> Duration {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = format!(
        "{endpoint}/account/tokens/oauth2/github?success=http%3A%2F%2Flocalhost%2Fok&failure=http%3A%2F%2Flocalhost%2Ffail&project=bench"
    );
    runtime.block_on(async {
        let started = Instant::now();
        let answers = join_all((0..REQUESTS).map(|_| {
            let request = client
                .get(&url)
                .header("X-Appwrite-Project", "bench")
                .send();
            async move {
                let response = request.await.expect("raw reqwest");
                response
                    .headers()
                    .get("location")
                    .map(|l| l.as_bytes().to_vec())
            }
        }))
        .await;
        assert!(answers.iter().all(Option::is_some));
        started.elapsed()
    })
}

fn through_appwrite_crate(runtime: &tokio::runtime::Runtime, endpoint: &str) -> Duration {
    let client = appwrite::Client::new()
        .set_endpoint(endpoint)
        .set_project("bench");
    let account = appwrite::services::Account::new(&client);
    runtime.block_on(async {
        let started = Instant::now();
        let answers = join_all((0..REQUESTS).map(|_| {
            account.create_o_auth2_token(
                appwrite::enums::OAuthProvider::Github,
                Some("http://localhost/ok"),
                Some("http://localhost/fail"),
                None,
                None,
            )
        }))
        .await;
        let failures = answers.iter().filter(|answer| answer.is_err()).count();
        assert_eq!(
            failures,
            0,
            "first: {:?}",
            answers.iter().find(|a| a.is_err())
        );
        started.elapsed()
    })
}

fn throughput(report: &mut Report, quick: bool) {
    let reps = if quick { 3 } else { 11 };
    let server = fast_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = server.endpoint.as_str();
    // One untimed round first: thread pools, connection set-up paths and caches warm up.
    through_plugin(endpoint);
    through_reqwest(&runtime, endpoint);
    through_appwrite_crate(&runtime, endpoint);
    let mut samples: [Vec<f64>; 5] = Default::default();
    for _ in 0..reps {
        samples[0].push(through_plugin(endpoint).as_secs_f64());
        samples[1].push(through_reqwest(&runtime, endpoint).as_secs_f64());
        samples[2].push(with_game_loop(|| through_reqwest(&runtime, endpoint)).as_secs_f64());
        samples[3].push(through_appwrite_crate(&runtime, endpoint).as_secs_f64());
        samples[4]
            .push(with_game_loop(|| through_appwrite_crate(&runtime, endpoint)).as_secs_f64());
    }
    let [plugin, raw, raw_loop, official, official_loop] = samples.map(median);
    report.add(
        "throughput",
        "raw reqwest + join_all: 1000 requests",
        raw * 1e3,
        "ms",
        None,
    );
    report.add(
        "throughput",
        "plugin (with its game loop) × raw reqwest",
        plugin / raw,
        "×",
        Some(format!("≤ 1.2×: {}", met(plugin / raw <= 1.2))),
    );
    report.add(
        "throughput",
        "raw reqwest with the same game loop running × raw reqwest",
        raw_loop / raw,
        "×",
        Some("what the spinning loop alone costs on this machine".into()),
    );
    report.add(
        "throughput",
        "plugin × raw reqwest with the same game loop",
        plugin / raw_loop,
        "×",
        Some(format!(
            "≤ 1.2× under equal load: {}",
            met(plugin / raw_loop <= 1.2)
        )),
    );
    report.add(
        "throughput",
        "appwrite 0.22 × raw reqwest",
        official / raw,
        "×",
        None,
    );
    report.add(
        "throughput",
        "plugin × appwrite 0.22",
        plugin / official,
        "×",
        Some(format!(
            "no slower than appwrite 0.22: {}",
            met(plugin <= official)
        )),
    );
    report.add(
        "throughput",
        "plugin × appwrite 0.22 with the same game loop",
        plugin / official_loop,
        "×",
        Some(format!(
            "no slower under equal load: {}",
            met(plugin <= official_loop)
        )),
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Footprint
// ---------------------------------------------------------------------------------------------

/// Unique crates (name and version) in a package's normal dependency tree, itself included.
fn crate_count(args: &[&str]) -> Option<f64> {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["tree", "-e", "normal", "--prefix", "none", "--offline"])
            .args(args)
            .current_dir(workspace)
            .output()
            .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut crates: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect();
    crates.sort();
    crates.dedup();
    Some(crates.len() as f64)
}

fn footprint(report: &mut Report) {
    for (name, args) in [
        (
            "bevy_appwrite (default features)",
            vec!["-p", "bevy_appwrite"],
        ),
        (
            "bevy_appwrite (--no-default-features)",
            vec!["-p", "bevy_appwrite", "--no-default-features"],
        ),
        (
            "bevy_mod_reqwest 0.22 (default features)",
            vec!["-p", "bevy_mod_reqwest"],
        ),
    ] {
        match crate_count(&args) {
            Some(count) => report.add(
                "footprint",
                format!("crates: {name}"),
                count,
                "crates",
                None,
            ),
            None => eprintln!("footprint: `cargo tree` failed for {name}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out, mut quick) = ("bench-results.json".to_owned(), false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().expect("--out needs a path"),
            "--quick" => quick = true,
            other => panic!("unknown argument {other}; usage: [--out PATH] [--quick]"),
        }
    }
    let started = Instant::now();
    let mut report = Report(Vec::new());
    eprintln!("frame cost…");
    frame_cost(&mut report, quick);
    eprintln!("latency…");
    latency(&mut report, quick);
    eprintln!("throughput…");
    throughput(&mut report, quick);
    eprintln!("footprint…");
    footprint(&mut report);

    println!("\n| section | measure | value | target |");
    println!("|---|---|---|---|");
    for row in &report.0 {
        println!(
            "| {} | {} | {:.3} {} | {} |",
            row.section,
            row.name,
            row.value,
            row.unit,
            row.target.as_deref().unwrap_or("")
        );
    }
    let machine = format!(
        "{} logical CPUs, {} {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    println!(
        "\n{machine}; whole run {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let rows: Vec<Value> = report
        .0
        .iter()
        .map(|row| {
            json!({
                "section": row.section,
                "measure": row.name,
                "value": row.value,
                "unit": row.unit,
                "target": row.target,
            })
        })
        .collect();
    let document = json!({ "machine": machine, "quick": quick, "rows": rows });
    match std::fs::write(
        &out,
        serde_json::to_string_pretty(&document).unwrap_or_default(),
    ) {
        Ok(()) => println!("written to {out}"),
        Err(error) => eprintln!("cannot write {out}: {error}"),
    }
}
