//! A minimal W3C WebDriver client for the browser tests: starts `chromedriver` on a free port,
//! opens one headless Chromium session (fake microphone, fresh profile) and speaks the
//! protocol's plain HTTP/JSON through [`super::http`]. Hand-written because the tests need six
//! commands, not a WebDriver crate and an async runtime.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{free_tcp_port, http};

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian puts the browser and its driver (`tests/setup.sh` installs both).
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser and driver are installed (`tests/setup.sh` installs them).
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// How long a WebDriver command may take. Starting Chromium on a cold, busy two-core CI
/// machine took over 10 s; chromedriver gives up on its own after 60 s.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// One browser at a time per test binary: two Chromiums starting at once on two cores can
/// take longer than the driver's answer timeout.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One headless Chromium session driven through chromedriver.
pub struct Browser {
    _turn: std::sync::MutexGuard<'static, ()>,
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

/// One element found on the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub fn start() -> Browser {
        Browser::start_with_audio(None)
    }

    /// The same, with the fake microphone playing `capture` (a WAV file, looped) instead of
    /// Chromium's beep.
    pub fn start_with_audio(capture: Option<&Path>) -> Browser {
        // A test that failed while holding the browser leaves it poisoned, not broken.
        let turn = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
        let port = free_tcp_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let profile = tempfile::Builder::new()
            .prefix("voxdesk-chromium-")
            .tempdir()
            .expect("profile directory");
        let driver_log = profile.path().join("chromedriver.log");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !http::get(addr, "/status").is_ok_and(|r| r.json()["value"]["ready"] == true) {
            assert!(Instant::now() < deadline, "chromedriver not ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // A container's small /dev/shm makes Chromium hang or crash at start.
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!(
            "--user-data-dir={}",
            profile.path().join("data").display()
        )])
        .chain(capture.map(|wav| format!("--use-file-for-fake-audio-capture={}", wav.display())))
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Browser {
            _turn: turn,
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let body = caps.to_string();
        let created = http::request_within(addr, "POST", "/session", Some(&body), COMMAND_TIMEOUT)
            .ok()
            .filter(|rsp| rsp.status == 200)
            .and_then(|rsp| rsp.json()["value"]["sessionId"].as_str().map(str::to_owned));
        match created {
            Some(session) => browser.session = session,
            None => panic!(
                "chromedriver started no browser session; its log ends:\n{}",
                log_tail(&driver_log)
            ),
        }
        browser
    }

    /// Sends one command; returns its `value`, panicking on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let rsp = http::request_within(self.addr, method, path, body.as_deref(), COMMAND_TIMEOUT)
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let value = rsp.json()["value"].clone();
        assert_eq!(rsp.status, 200, "webdriver {method} {path}: {value}");
        value
    }

    fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({"url": url})));
    }

    /// The element matching a CSS selector, waiting up to 10 s for it to appear.
    pub fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = json!({"using": "css selector", "value": css}).to_string();
            let path = format!("/session/{}/element", self.session);
            let rsp = http::request(self.addr, "POST", &path, Some(&body)).expect("find");
            if rsp.status == 200 {
                let id = rsp.json()["value"][ELEMENT_KEY].as_str().map(str::to_owned);
                if let Some(id) = id {
                    return Element { browser: self, id };
                }
            }
            assert!(Instant::now() < deadline, "no element {css}: {}", rsp.body);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the text of `css` satisfies `ok`; returns it.
    pub fn wait_text(&self, css: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.find(css).text();
            if ok(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "{css} stayed {text:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG screenshot of the page to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.session_command("GET", "/screenshot", None);
        let png = decode_base64(encoded.as_str().expect("screenshot is a string"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Element<'_> {
    fn command(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/element/{}{what}", self.id);
        self.browser.session_command(method, &path, body)
    }

    /// Types `text` into the element.
    pub fn type_text(&self, text: &str) {
        self.command("POST", "/value", Some(json!({"text": text})));
    }

    /// Clicks the element.
    pub fn click(&self) {
        self.command("POST", "/click", Some(json!({})));
    }

    /// Its rendered text.
    pub fn text(&self) -> String {
        self.command("GET", "/text", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = http::request(self.addr, "DELETE", &path, None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The last lines of chromedriver's log, for a failure message.
fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"));
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Where a test's artifacts go: `$CARGO_TARGET_DIR` (or `target/`)`/test-artifacts/`.
pub fn artifact_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir.join(name)
}

/// Standard base64 (with padding) as WebDriver sends screenshots.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for c in text.bytes().filter_map(value) {
        bits = (bits << 6) | c;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_with_and_without_padding() {
        for (text, want) in [("TWFu", "Man"), ("TWE=", "Ma"), ("TQ==", "M"), ("", "")] {
            assert_eq!(super::decode_base64(text), want.as_bytes());
        }
    }
}
