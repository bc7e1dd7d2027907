//! Harness for the end-to-end tests: starts the real `voxdesk serve` release binary on fresh
//! ports with its own data directory, waits for `/healthz`, drives it with SIPp and reads the
//! results back over the HTTP API. Every test owns its voxdesk, so tests run in parallel.
//!
//! On failure the harness prints what is needed to see why: SIPp's error, message and screen
//! logs ([`SippOutcome`]'s `Display`) and voxdesk's stderr log (printed when a test panics
//! while a [`Voxdesk`] is alive).

#![allow(dead_code)] // every test binary uses its own subset

pub mod dtmf_pcap;
pub mod http;
pub mod sipp;
pub mod speech;
pub mod webdriver;

use std::fs::File;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use http::HttpResponse;
pub use sipp::{Sipp, SippOutcome};

/// How long voxdesk may take to answer `/healthz`. Generous: the first start of a fresh clone
/// embeds every routed dialplan's examples before its caches exist (15–20 s on a busy 2-core
/// machine); later starts read the caches in milliseconds.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a dropped voxdesk gets to exit on SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// RTP ports per voxdesk: RTP + RTCP for 30 concurrent calls, with room to spare.
const RTP_PORTS: u16 = 100;

// ---------------------------------------------------------------------------------------------
// Ports

/// A port free on 127.0.0.1 for both UDP and TCP (SIP binds both on one number).
pub fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let Ok(udp) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = udp.local_addr() else {
            continue;
        };
        if TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a TCP port on 127.0.0.1")
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind a UDP port on 127.0.0.1")
}

/// Next candidate block for [`reserve_udp_block`]; seeded per process so that two test
/// binaries running at once start far apart.
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);
/// Blocks come from below Linux's ephemeral range (32768-60999), where `bind(0)` never lands.
const BLOCK_AREA: std::ops::Range<u16> = 10_000..32_000;

/// The first of `len` consecutive UDP ports (even, so RTP/RTCP pairs line up) that were all
/// free when checked and that no other caller in this process gets.
pub fn reserve_udp_block(len: u16) -> u16 {
    let area = BLOCK_AREA.end - BLOCK_AREA.start;
    let _ = NEXT_BLOCK.compare_exchange(
        0,
        (std::process::id() % 97) as u16 * 211 % area,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    let step = len.next_multiple_of(2);
    for _ in 0..500 {
        let offset = NEXT_BLOCK.fetch_add(step, Ordering::Relaxed) % (area - step);
        let low = (BLOCK_AREA.start + offset) & !1;
        let all_free: Option<Vec<UdpSocket>> = (low..low + len)
            .map(|port| UdpSocket::bind(("127.0.0.1", port)).ok())
            .collect();
        if all_free.is_some() {
            return low;
        }
    }
    panic!("no block of {len} free UDP ports in {BLOCK_AREA:?}");
}

// ---------------------------------------------------------------------------------------------
// Waiting

/// Polls `probe` every 100 ms until it returns `Some`, or panics naming `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// The voxdesk process

/// The binary under test: cargo's build of this crate, or `$VOXDESK_BIN` (e.g. to run the
/// tests against an installed or differently built binary).
pub fn voxdesk_binary() -> PathBuf {
    std::env::var_os("VOXDESK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_voxdesk")))
}

/// A running `voxdesk serve` with its own ports and temporary data directory.
pub struct Voxdesk {
    child: Child,
    exit: Option<ExitStatus>,
    dir: tempfile::TempDir,
    log_path: PathBuf,
    /// SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// HTTP API address.
    pub http: SocketAddr,
    /// RTP port range given to voxdesk.
    pub rtp_ports: (u16, u16),
}

impl Voxdesk {
    /// Starts voxdesk with the embedded defaults and waits until it is ready.
    pub fn start() -> Voxdesk {
        Voxdesk::start_with_config(None)
    }

    /// Starts voxdesk with `config` (TOML) as its `--config` file, e.g.
    /// `"[sip]\nanswer_delay_ms = 2000\n"`, and waits until it is ready.
    pub fn start_with_config(config: Option<&str>) -> Voxdesk {
        Voxdesk::start_with(config, None)
    }

    /// Starts voxdesk with an optional config and an optional dialplan text (written to the
    /// test directory; `dialplans/default.yaml` otherwise).
    pub fn start_with(config: Option<&str>, dialplan_text: Option<&str>) -> Voxdesk {
        Voxdesk::launch(config, Some(dialplan_text))
    }

    /// Starts voxdesk without `--dialplan`, so the config's per-user routes choose the
    /// dialplan of each call (with the embedded defaults: `support@` the shop, `bank@` …).
    pub fn start_routed(config: Option<&str>) -> Voxdesk {
        Voxdesk::launch(config, None)
    }

    /// `dialplan`: `None` = no `--dialplan`; `Some(None)` = the default dialplan file;
    /// `Some(Some(text))` = that text.
    fn launch(config: Option<&str>, dialplan: Option<Option<&str>>) -> Voxdesk {
        // A free port can be taken by another test's process between our probe and voxdesk's
        // bind; that is a race of the harness, so it picks new ports and starts again.
        for _ in 0..3 {
            let mut voxdesk = Voxdesk::spawn_server(config, dialplan);
            if voxdesk.wait_ready() {
                return voxdesk;
            }
        }
        panic!("voxdesk could not bind free ports three times in a row");
    }

    fn spawn_server(config: Option<&str>, dialplan: Option<Option<&str>>) -> Voxdesk {
        let dir = tempfile::Builder::new()
            .prefix("voxdesk-e2e-")
            .tempdir()
            .expect("create a temporary directory");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("create the data directory");
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let rtp_low = reserve_udp_block(RTP_PORTS);
        let rtp_ports = (rtp_low, rtp_low + RTP_PORTS - 1);
        let dialplan = dialplan.map(|text| match text {
            Some(text) => {
                let path = dir.path().join("dialplan.yaml");
                std::fs::write(&path, text).expect("write the dialplan");
                path
            }
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/default.yaml"),
        });

        let mut cmd = Command::new(voxdesk_binary());
        cmd.arg("serve")
            .args(["--sip", &sip.to_string()])
            .args(["--http", &http.to_string()])
            .arg("--data")
            .arg(&data)
            .args(["--rtp-ports", &format!("{}-{}", rtp_ports.0, rtp_ports.1)]);
        if let Some(dialplan) = &dialplan {
            cmd.arg("--dialplan").arg(dialplan);
        }
        if let Some(config) = config {
            let path = dir.path().join("voxdesk.toml");
            std::fs::write(&path, config).expect("write the config file");
            cmd.arg("--config").arg(path);
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let log_path = dir.path().join("voxdesk.log");
        let log = File::create(&log_path).expect("create the voxdesk log");
        let log_err = log.try_clone().expect("clone the log handle");
        let child = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("start voxdesk");
        Voxdesk {
            child,
            exit: None,
            dir,
            log_path,
            sip,
            http,
            rtp_ports,
        }
    }

    /// Waits until voxdesk answers `/healthz`; `false` when it exited because one of its
    /// ports was taken meanwhile (the caller retries), panics on any other failure.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.try_exit() {
                if self.log().contains("Address already in use") {
                    return false;
                }
                panic!("voxdesk exited before it was ready ({status})");
            }
            if let Ok(rsp) = http::get(self.http, "/healthz") {
                if rsp.status == 200 {
                    let body: Value = rsp.json();
                    assert_eq!(body["status"], "ok", "healthz body: {}", rsp.body);
                    return true;
                }
            }
            if Instant::now() > deadline {
                panic!("voxdesk not ready after {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The temporary directory (config, log, SIPp runs; `data/` is voxdesk's `--data`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// voxdesk's `--data` directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything voxdesk wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A SIPp run of `scenario` (a file in sipp-scenarios/) against this voxdesk.
    pub fn sipp(&self, scenario: &str) -> Sipp {
        Sipp::new(scenario, self.sip, self.dir.path())
    }

    /// Registers agent `user` (digest `password`) with a Contact on `port`, where its SIPp
    /// phone listens (`agent_register.xml`); the outcome is the caller's to check.
    pub fn register_agent(&self, user: &str, password: &str, port: u16) -> SippOutcome {
        self.sipp("agent_register.xml")
            .service(user)
            .arg("-ap")
            .arg(password)
            .set("cport", &port.to_string())
            .set("expires", "3600")
            .run()
    }

    /// Panics with SIPp's logs unless every call of the run passed.
    pub fn assert_passed(&self, outcome: &SippOutcome) {
        assert!(outcome.passed(), "SIPp run failed:\n{outcome}");
    }

    /// Panics with SIPp's logs unless the run failed (for negative checks).
    pub fn assert_failed(&self, outcome: &SippOutcome) {
        assert!(
            !outcome.passed(),
            "SIPp run passed, expected a failure:\n{outcome}"
        );
    }

    /// `GET path` on the HTTP API.
    pub fn get(&self, path: &str) -> HttpResponse {
        http::get(self.http, path).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `method path` with a JSON body on the HTTP API.
    pub fn send_json(&self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        http::request(self.http, method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `GET path`, which must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let rsp = self.get(path);
        assert_eq!(rsp.status, 200, "GET {path}: {}", rsp.body);
        rsp.json()
    }

    /// The newest tickets (first page of 100) and the total count.
    pub fn tickets(&self) -> (Vec<Value>, u64) {
        let page = self.get_json("/api/tickets?page=1&per_page=100");
        let tickets = page["tickets"]
            .as_array()
            .unwrap_or_else(|| panic!("no tickets array: {page}"))
            .clone();
        let total = page["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("no total: {page}"));
        (tickets, total)
    }

    /// Waits until exactly `count` tickets exist and all of them have ended; returns them.
    pub fn ended_tickets(&self, count: usize, timeout: Duration) -> Vec<Value> {
        eventually(timeout, &format!("{count} ended tickets"), || {
            let (tickets, total) = self.tickets();
            let ended = tickets.iter().all(|t| !t["ended_at"].is_null());
            (total == count as u64 && tickets.len() == count && ended).then_some(tickets)
        })
    }

    /// One ticket with its turns.
    pub fn ticket(&self, id: &Value) -> Value {
        let id = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.get_json(&format!("/api/tickets/{id}"))
    }

    /// Number of live calls in `GET /api/calls` (a list, or an object with a `calls` list).
    pub fn live_calls(&self) -> usize {
        let calls = self.get_json("/api/calls");
        let list = calls.get("calls").unwrap_or(&calls);
        list.as_array()
            .unwrap_or_else(|| panic!("/api/calls is no list: {calls}"))
            .len()
    }

    /// Sends SIGTERM (drain, then exit).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.child.id());
    }

    /// The exit status, if voxdesk has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("poll voxdesk");
        }
        self.exit
    }

    /// Waits up to `timeout` for voxdesk to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Voxdesk {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            if self.wait_exit(STOP_TIMEOUT).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "----- voxdesk log ({}) -----\n{}",
                self.log_path.display(),
                self.log()
            );
            if std::env::var_os("VOXDESK_KEEP_TEST_DIR").is_some() {
                let kept = std::mem::replace(
                    &mut self.dir,
                    tempfile::tempdir().expect("create a temporary directory"),
                );
                eprintln!("kept test directory {}", kept.keep().display());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Agents

/// A dialplan that is only a `queue` step: every call goes straight into `support` (no
/// prompts, no speech) and hangs up once the agent has.
pub const QUEUE_ONLY: &str = "name: Queue only
start: wait
steps:
  - label: wait
    queue:
      name: support
      max_wait: 60
      on_timeout: gave_up
      on_full: gave_up
      next: done
  - label: done
    hangup: completed
  - label: gave_up
    hangup: no-input
";

/// The `[agents]` config section for `agents_yaml`, which is written into `dir` (voxdesk
/// reads it at start-up, so `dir` must live until then). Challenges are MD5 only: SIPp 3.6
/// reads no other, and takes only the first challenge.
pub fn agents_config(dir: &Path, agents_yaml: &str) -> String {
    let agents = dir.join("agents.yaml");
    std::fs::write(&agents, agents_yaml).expect("write the agents file");
    format!(
        "[agents]\nfile = {:?}\nchallenge = [\"MD5\"]\n",
        agents.display().to_string()
    )
}

impl Voxdesk {
    /// Starts voxdesk with this agents file and dialplan text (`None`: the default dialplan).
    pub fn start_with_agents(agents_yaml: &str, dialplan_text: Option<&str>) -> Voxdesk {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = agents_config(dir.path(), agents_yaml);
        Voxdesk::start_with(Some(&config), dialplan_text)
    }

    /// `GET /api/agents/{user}`.
    pub fn agent(&self, user: &str) -> Value {
        self.get_json(&format!("/api/agents/{user}"))
    }

    /// Waits until the ACD has agent `user` in `state`; returns the agent's view.
    pub fn wait_agent_state(&self, user: &str, state: &str) -> Value {
        eventually(
            Duration::from_secs(10),
            &format!("agent {user} {state}"),
            || Some(self.agent(user)).filter(|a| a["state"] == state),
        )
    }

    /// A queued caller (`queue_caller.xml`, echoing what it hears so the RTP inactivity timeout
    /// stays quiet); voxdesk hangs up after the agent has.
    pub fn queue_caller(&self) -> Sipp {
        self.sipp("queue_caller.xml").arg("-rtp_echo")
    }

    /// One SIPp standing in for the phones of every agent registered with `port` as Contact:
    /// answers `calls` calls, each after `ring_ms`, and hangs up `talk_ms` later.
    pub fn answering_phone(&self, port: u16, calls: u32, ring_ms: u64, talk_ms: u64) -> Sipp {
        self.sipp("agent_phone_many.xml")
            .port(port)
            .calls(calls)
            .limit(calls)
            .set("ring_ms", &ring_ms.to_string())
            .set("talk_ms", &talk_ms.to_string())
            .arg("-rtp_echo")
    }

    /// Registers `user`'s SIPp phone listening on `port` and waits until the ACD has them
    /// available.
    pub fn register_available(&self, user: &str, password: &str, port: u16) {
        self.assert_passed(&self.register_agent(user, password, port));
        self.wait_agent_state(user, "available");
    }
}

// ---------------------------------------------------------------------------------------------
// Recordings

/// What a call recording looks like.
#[derive(Debug)]
pub struct Recording {
    /// Channels (2: caller left, voxdesk right).
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Length in samples per channel.
    pub frames: u32,
    /// Largest absolute sample of each channel.
    pub peak: Vec<i32>,
}

/// Reads a WAV file; a relative `path` is taken relative to `data_dir`.
pub fn read_recording(data_dir: &Path, path: &str) -> Recording {
    let path = data_dir.join(path); // an absolute `path` replaces `data_dir`
    let mut reader = hound::WavReader::open(&path)
        .unwrap_or_else(|e| panic!("open recording {}: {e}", path.display()));
    let spec = reader.spec();
    let channels = spec.channels;
    let mut peak = vec![0i32; usize::from(channels)];
    for (i, sample) in reader.samples::<i32>().enumerate() {
        let sample = sample.unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let slot = &mut peak[i % usize::from(channels)];
        *slot = (*slot).max(sample.abs());
    }
    Recording {
        channels,
        sample_rate: spec.sample_rate,
        frames: reader.duration(),
        peak,
    }
}

/// Root mean square of one channel of a stereo WAV between two offsets (seconds).
pub fn channel_rms(path: &Path, channel: usize, from_s: f64, to_s: f64) -> f64 {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("open recording {}: {e}", path.display()));
    let rate = f64::from(reader.spec().sample_rate);
    let (from, to) = ((from_s * rate) as usize, (to_s * rate) as usize);
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .filter_map(Result::ok)
        .skip(channel)
        .step_by(2)
        .skip(from)
        .take(to.saturating_sub(from))
        .map(f64::from)
        .collect();
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt()
}
