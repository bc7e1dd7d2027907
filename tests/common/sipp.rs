//! Running SIPp (`sipp`, Debian's sip-tester) as a UAC against a voxdesk under test.
//!
//! Each run gets its own directory holding a copy of the scenario, the DTMF pcaps it may play
//! (SIPp looks for them next to the scenario), SIPp's error and message logs and its screen
//! output, so parallel runs never share a file and a failure can show all of them.

use std::fmt;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{dtmf_pcap, free_udp_port, reserve_udp_block};

/// SIPp's own global timeout (`-timeout … -timeout_error`); a four-turn spoken call takes a
/// minute.
pub const SIPP_TIMEOUT: Duration = Duration::from_secs(120);
/// When the harness kills a SIPp that ignored its own timeout.
const HARD_TIMEOUT: Duration = Duration::from_secs(150);

static RUN_NUMBER: AtomicU32 = AtomicU32::new(0);

/// The scenario directory of the repository.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp-scenarios")
}

/// One SIPp invocation being put together; `run` or `spawn` it.
#[derive(Debug, Clone)]
pub struct Sipp {
    scenario: String,
    target: SocketAddr,
    work_dir: PathBuf,
    calls: u32,
    limit: Option<u32>,
    rate: Option<u32>,
    duration_ms: Option<u64>,
    service: String,
    transport: String,
    extra: Vec<String>,
    /// SIPp's own SIP port (`-p`); a free one unless set.
    sip_port: Option<u16>,
    /// Speech clips to write next to the scenario: (file name, text).
    clips: Vec<(String, String)>,
}

impl Sipp {
    /// `scenario` (a file name in sipp-scenarios/) against `target`; logs go under `work_dir`.
    pub fn new(scenario: &str, target: SocketAddr, work_dir: &Path) -> Sipp {
        Sipp {
            scenario: scenario.to_string(),
            target,
            work_dir: work_dir.to_path_buf(),
            calls: 1,
            limit: None,
            rate: None,
            duration_ms: None,
            service: "support".to_string(),
            transport: "u1".to_string(),
            extra: Vec::new(),
            sip_port: None,
            clips: Vec::new(),
        }
    }

    /// Total calls (`-m`).
    pub fn calls(mut self, calls: u32) -> Sipp {
        self.calls = calls;
        self
    }

    /// Most calls at once (`-l`).
    pub fn limit(mut self, limit: u32) -> Sipp {
        self.limit = Some(limit);
        self
    }

    /// New calls per second (`-r`).
    pub fn rate(mut self, per_second: u32) -> Sipp {
        self.rate = Some(per_second);
        self
    }

    /// Length of the scenario's bare `<pause/>` (`-d`).
    pub fn duration_ms(mut self, ms: u64) -> Sipp {
        self.duration_ms = Some(ms);
        self
    }

    /// Request-URI user (`-s`), `support` unless set.
    pub fn service(mut self, user: &str) -> Sipp {
        self.service = user.to_string();
        self
    }

    /// SIPp transport mode (`-t`): `u1` (UDP, the default) or `t1` (one TCP connection).
    pub fn transport(mut self, mode: &str) -> Sipp {
        self.transport = mode.to_string();
        self
    }

    /// Writes `text` as caller speech to `file` (raw µ-law) in the run directory, for the
    /// scenario's `rtp_stream`.
    pub fn clip(mut self, file: &str, text: &str) -> Sipp {
        self.clips.push((file.to_string(), text.to_string()));
        self
    }

    /// SIPp listens on this SIP port (`-p`), e.g. a phone whose Contact another run registers.
    pub fn port(mut self, port: u16) -> Sipp {
        self.sip_port = Some(port);
        self
    }

    /// A global scenario variable (`-set NAME VALUE`).
    pub fn set(self, name: &str, value: &str) -> Sipp {
        self.arg("-set").arg(name).arg(value)
    }

    /// Any other SIPp argument.
    pub fn arg(mut self, arg: &str) -> Sipp {
        self.extra.push(arg.to_string());
        self
    }

    /// Runs SIPp to the end.
    pub fn run(self) -> SippOutcome {
        self.spawn().wait()
    }

    /// Starts SIPp in the background.
    pub fn spawn(self) -> SippRun {
        let number = RUN_NUMBER.fetch_add(1, Ordering::Relaxed);
        let stem = self.scenario.trim_end_matches(".xml").to_string();
        let dir = self.work_dir.join(format!("sipp-{number:02}-{stem}"));
        std::fs::create_dir_all(&dir).expect("create the SIPp run directory");
        let scenario = dir.join(&self.scenario);
        std::fs::copy(scenario_dir().join(&self.scenario), &scenario)
            .unwrap_or_else(|e| panic!("copy scenario {}: {e}", self.scenario));
        dtmf_pcap::write_scenario_pcaps(&dir).expect("write the DTMF pcaps");
        for (file, text) in &self.clips {
            super::speech::write_ulaw_clip(&dir.join(file), text, 800);
        }

        let sip_port = self.sip_port.unwrap_or_else(free_udp_port);
        // SIPp binds its media port and that port + 2 (video).
        let media_port = reserve_udp_block(4);
        let files = SippFiles::new(&dir);
        let mut args: Vec<String> = vec![
            self.target.to_string(),
            "-sf".into(),
            scenario.display().to_string(),
            "-s".into(),
            self.service.clone(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            sip_port.to_string(),
            "-mi".into(),
            "127.0.0.1".into(),
            "-mp".into(),
            media_port.to_string(),
            "-t".into(),
            self.transport.clone(),
            "-m".into(),
            self.calls.to_string(),
            "-timeout".into(),
            format!("{}s", SIPP_TIMEOUT.as_secs()),
            "-timeout_error".into(),
            "-nostdin".into(),
            "-trace_err".into(),
            "-error_file".into(),
            files.errors.display().to_string(),
            "-trace_msg".into(),
            "-message_file".into(),
            files.messages.display().to_string(),
        ];
        if let Some(limit) = self.limit {
            args.extend(["-l".into(), limit.to_string()]);
        }
        if let Some(rate) = self.rate {
            args.extend(["-r".into(), rate.to_string()]);
        }
        if let Some(ms) = self.duration_ms {
            args.extend(["-d".into(), ms.to_string()]);
        }
        args.extend(self.extra.iter().cloned());

        let stdout = File::create(&files.stdout).expect("create the SIPp stdout file");
        let stderr = File::create(&files.stderr).expect("create the SIPp stderr file");
        let child = Command::new("sipp")
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sipp (is sip-tester installed?): {e}"));
        SippRun {
            child,
            started: Instant::now(),
            label: format!("sipp {}", args.join(" ")),
            files,
        }
    }
}

#[derive(Debug, Clone)]
struct SippFiles {
    errors: PathBuf,
    messages: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl SippFiles {
    fn new(dir: &Path) -> SippFiles {
        SippFiles {
            errors: dir.join("errors.log"),
            messages: dir.join("messages.log"),
            stdout: dir.join("stdout.log"),
            stderr: dir.join("stderr.log"),
        }
    }
}

/// A SIPp process running in the background.
pub struct SippRun {
    child: Child,
    started: Instant,
    label: String,
    files: SippFiles,
}

impl SippRun {
    /// Waits for SIPp to exit (killing it after a hard timeout) and collects its logs.
    pub fn wait(mut self) -> SippOutcome {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if self.started.elapsed() > HARD_TIMEOUT => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("waiting for sipp: {e}"),
            }
        };
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        SippOutcome {
            label: std::mem::take(&mut self.label),
            status,
            elapsed: self.started.elapsed(),
            errors: read(&self.files.errors),
            messages: read(&self.files.messages),
            stdout: read(&self.files.stdout),
            stderr: read(&self.files.stderr),
        }
    }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        // Only reached when a test panics before `wait`: leave no SIPp behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished SIPp run left behind.
pub struct SippOutcome {
    /// The command line.
    pub label: String,
    /// Exit status; `None` when the harness had to kill it.
    pub status: Option<ExitStatus>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// `-trace_err` log: unexpected messages and failed checks.
    pub errors: String,
    /// `-trace_msg` log: every message sent and received.
    pub messages: String,
    /// Screen output (statistics at exit).
    pub stdout: String,
    /// SIPp's own warnings and errors.
    pub stderr: String,
}

impl SippOutcome {
    /// SIPp exits 0 when every call passed.
    pub fn passed(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// Keeps the end of a long log (the screen output repeats itself).
fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(max_lines);
    lines[skip..].join("\n")
}

impl fmt::Display for SippOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Some(s) => s.to_string(),
            None => format!("killed after {HARD_TIMEOUT:?}"),
        };
        writeln!(
            f,
            "{}\n  -> {status} after {:.1?}",
            self.label, self.elapsed
        )?;
        writeln!(f, "----- sipp errors -----\n{}", self.errors)?;
        writeln!(f, "----- sipp stderr -----\n{}", tail(&self.stderr, 40))?;
        writeln!(f, "----- sipp messages (last 200 lines) -----")?;
        writeln!(f, "{}", tail(&self.messages, 200))?;
        write!(
            f,
            "----- sipp screen (end) -----\n{}",
            tail(&self.stdout, 60)
        )
    }
}
