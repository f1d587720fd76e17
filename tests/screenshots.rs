//! The login_menu example renders a real window (Xvfb + Mesa's software Vulkan here) and saves
//! a screenshot of each state: the PNG must exist, have the window's size and show more than
//! one flat colour.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The example binary Cargo built next to this test (`target/debug/examples/login_menu`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests live in target/debug/deps");
    debug.join("examples").join("login_menu")
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether this machine can open a window; in CI it must.
fn display_available() -> bool {
    if have("xvfb-run") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but xvfb-run is missing: .ci/run installs xvfb"
    );
    eprintln!("skipping: xvfb-run is not installed");
    false
}

fn screenshot(state: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_appwrite_shots_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{state}.png"));
    let _ = std::fs::remove_file(&path);
    let runtime_dir = dir.join("xdg");
    std::fs::create_dir_all(&runtime_dir).unwrap();
    let mut child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1024x768x24"])
        .arg(example_binary())
        .args(["--screenshot", path.to_str().unwrap(), "--state", state])
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env_remove("APPWRITE_ENDPOINT")
        .env_remove("APPWRITE_PROJECT")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("xvfb-run starts");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("login_menu --screenshot did not finish within 240 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "login_menu --screenshot failed: {status}");
    path
}

fn check_png(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (800, 600), "the window's size");
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let mut colours: Vec<&[u8]> = pixels.chunks(channels).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 16,
        "{} has only {} colours: not a rendered menu",
        path.display(),
        colours.len()
    );
}

#[test]
fn the_menu_and_the_signed_in_screen_render() {
    if !display_available() {
        return;
    }
    for state in ["menu", "signed-in"] {
        let path = screenshot(state);
        check_png(&path);
        if let Some(dir) = std::env::var_os("SCREENSHOT_DIR") {
            std::fs::copy(
                &path,
                Path::new(&dir).join(format!("login_menu_{state}.png")),
            )
            .unwrap();
        }
    }
}
