//! The benchmark run: a scratch directory, the answerers (voxdesk started from this same binary,
//! SIPp as UAS) and the callers (SIPp with bench_uac.xml), one measurement after another.
//! Every wait is bounded in time; every child is stopped by its guard.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::jitter::JitterSummary;
use super::machine::Machine;
use super::pcap;
use super::probe::{Probe, Sink};
use super::procs::{self, Managed};
use super::report::{self, MediaRun, Report, Step};
use super::sipp::{self, SippStats, UacRun};
use super::{BenchError, Part, SipBenchArgs};

const UAC_SCENARIO: &str = include_str!("../../sipp-scenarios/bench_uac.xml");
const UAS_PCAP_SCENARIO: &str = include_str!("../../sipp-scenarios/bench_uas_pcap.xml");
const DIALPLAN: &str = include_str!("../../dialplans/bench.yaml");
/// The file name bench_uas_pcap.xml plays from its working directory.
const PCAP_NAME: &str = "bench_20ms.pcap";
const MAX_CALLS: usize = 2000;
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Who answers the calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answerer {
    Voxdesk,
    Sipp,
}

impl Answerer {
    fn label(self) -> &'static str {
        match self {
            Answerer::Voxdesk => "voxdesk",
            Answerer::Sipp => "sipp",
        }
    }
}

struct Server {
    process: Managed,
    sip: SocketAddr,
}

/// A scratch directory, removed on drop unless `--keep`.
pub(super) struct WorkDir {
    pub(super) path: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub(super) fn create(keep: bool) -> Result<WorkDir, BenchError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("voxdesk-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(WorkDir { path, keep })
    }

    pub(super) fn sub(&self, name: &str) -> Result<PathBuf, BenchError> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("[bench] kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

struct Bench {
    args: SipBenchArgs,
    exe: PathBuf,
    uac: PathBuf,
    uas_pcap: PathBuf,
    dialplan: PathBuf,
    /// Swallows the RTP of calls nobody measures (signalling test, warm-up calls).
    _sink: Sink,
    sink_csv: PathBuf,
    // Last, so it is removed after every child above has stopped.
    work: WorkDir,
}

/// Runs the benchmark and returns the printout. Progress goes to stderr.
pub fn run_sip(args: &SipBenchArgs) -> Result<String, BenchError> {
    let args = args.effective()?;
    let machine = Machine::probe(&args.sipp);
    if machine.sipp == "SIPp not found" {
        return Err(BenchError::Spawn(
            args.sipp.display().to_string(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let largest = args.calls.iter().copied().max().unwrap_or(0) as u64;
    if let Some(limit) = machine.open_files {
        // The probe holds one socket per call; voxdesk one per call plus its own.
        if limit < largest * 2 + 256 {
            eprintln!(
                "[bench] warning: open-file limit {limit} is low for {largest} calls; raise it with `ulimit -n 8192`"
            );
        }
    }
    let bench = Bench::new(args)?;
    let mut report = Report {
        machine,
        settings: bench.settings(),
        signalling_note: bench.signalling_note(),
        signalling: None,
        media_note: bench.media_note(),
        media: Vec::new(),
    };
    if bench.args.only != Part::Media {
        let vox = bench.signalling(Answerer::Voxdesk)?;
        let sipp = bench.signalling(Answerer::Sipp)?;
        report.signalling = Some((vox, sipp));
    }
    if bench.args.only != Part::Signalling {
        for &calls in &bench.args.calls {
            let vox = bench.media(Answerer::Voxdesk, calls)?;
            let sipp = bench.media(Answerer::Sipp, calls)?;
            report.media.push((vox, sipp));
        }
    }
    Ok(report::render(&report))
}

impl Bench {
    fn new(args: SipBenchArgs) -> Result<Bench, BenchError> {
        let work = WorkDir::create(args.keep)?;
        let write = |name: &str, text: &str| -> Result<PathBuf, BenchError> {
            let path = work.path.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let uac = write("bench_uac.xml", UAC_SCENARIO)?;
        let uas_pcap = write("bench_uas_pcap.xml", UAS_PCAP_SCENARIO)?;
        let dialplan = write("bench.yaml", DIALPLAN)?;
        let sink = Sink::start()?;
        let sink_csv = write("sink.csv", &ports_csv(&[sink.port()]))?;
        Ok(Bench {
            exe: std::env::current_exe()?,
            args,
            uac,
            uas_pcap,
            dialplan,
            _sink: sink,
            sink_csv,
            work,
        })
    }

    fn settings(&self) -> Vec<String> {
        vec![
            format!(
                "voxdesk: serve --config bench.toml: [limits] max_calls = {MAX_CALLS}; [media] record = false (signalling) / {} (RTP), rtp_timeout_secs = 600, rtp_ports = {}; [shutdown] grace_secs = 1; RUST_LOG={}; dialplans/bench.yaml (one long say, then a 120 s menu)",
                self.args.record, self.args.rtp_ports, self.args.log
            ),
            "references: `sipp -sn uas` (signalling); sipp-scenarios/bench_uas_pcap.xml replaying a 20 ms PCMA pcap (RTP); callers: sipp-scenarios/bench_uac.xml, all on 127.0.0.1".into(),
        ]
    }

    fn signalling_note(&self) -> String {
        format!(
            "Signalling: INVITE/200/ACK, BYE after {} ms, {} s per rate, fresh answerer per side; latency = INVITE->200 ms (SIPp rtd, whole ms: 0 means < 1 ms); retr = SIPp retransmissions; drops = datagrams dropped at the answerer's full SIP socket buffer",
            self.args.hold_ms, self.args.duration
        )
    }

    fn media_note(&self) -> String {
        format!(
            "RTP pacing: per packet |arrival gap - RTP timestamp step| (20 ms), all streams, {} s after all calls are up + {} s warm-up; >=40ms = arrival gaps of two frames or more; lost = sequence gaps; drops = datagrams dropped at the probe's full socket buffers",
            self.args.rtp_secs,
            self.rtp_warm_up().as_secs()
        )
    }

    /// Time between all calls being up and the measured window (`--quick` shortens it).
    fn rtp_warm_up(&self) -> Duration {
        Duration::from_secs(if self.args.quick { 1 } else { 2 })
    }

    /// The first call's hold: long enough for espeak-ng to synthesise the prompt.
    fn first_call_hold_ms(&self) -> u64 {
        if self.args.quick {
            500
        } else {
            3000
        }
    }

    /// `media`: the RTP test (voxdesk records per `--record`; SIPp replays the pcap).
    fn start(&self, who: Answerer, dir: &Path, media: bool) -> Result<Server, BenchError> {
        match who {
            Answerer::Voxdesk => self.start_voxdesk(dir, media && self.args.record),
            Answerer::Sipp => self.start_sipp_uas(dir, media),
        }
    }

    fn start_voxdesk(&self, dir: &Path, record: bool) -> Result<Server, BenchError> {
        let config = dir.join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "[limits]\nmax_calls = {MAX_CALLS}\n\n[media]\nrecord = {record}\nrtp_timeout_secs = 600\n\n[shutdown]\ngrace_secs = 1\n"
            ),
        )?;
        let sip = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
        let http = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
        let args: Vec<String> = [
            "serve",
            "--sip",
            &sip.to_string(),
            "--http",
            &http.to_string(),
            "--data",
            &dir.join("data").display().to_string(),
            "--dialplan",
            &self.dialplan.display().to_string(),
            "--rtp-ports",
            &self.args.rtp_ports,
            "--config",
            &config.display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        let env = [("RUST_LOG", self.args.log.as_str())];
        let mut process = Managed::spawn("voxdesk", &self.exe, &args, dir, &env)?;
        procs::wait_http_ready(&mut process, http, Duration::from_secs(20))?;
        Ok(Server { process, sip })
    }

    /// SIPp's built-in UAS for signalling; the pcap-replaying scenario for media.
    fn start_sipp_uas(&self, dir: &Path, media: bool) -> Result<Server, BenchError> {
        let port = procs::free_port()?;
        let media_port = procs::free_port_block(4)?;
        let scenario = media.then_some(self.uas_pcap.as_path());
        let args = sipp::uas_args(scenario, port, media_port);
        let mut process = Managed::spawn("sipp-uas", &self.args.sipp, &args, dir, &[])?;
        procs::wait_udp_bound(&mut process, port, Duration::from_secs(10))?;
        Ok(Server {
            process,
            sip: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// A caller SIPp in its own directory `dir`.
    fn spawn_uac(&self, server: &Server, dir: &Path, run: Caller) -> Result<Managed, BenchError> {
        let media_port = procs::free_port_block(4)?;
        let uac = UacRun {
            scenario: &self.uac,
            target: server.sip,
            local_port: procs::free_port()?,
            media_port,
            ports_csv: run.ports_csv,
            rate: run.rate,
            calls: run.calls,
            limit: run.limit,
            hold_ms: run.hold_ms,
            timeout_secs: run.timeout_secs,
        };
        Managed::spawn("sipp-uac", &self.args.sipp, &uac.args(), dir, &[])
    }

    /// Runs a caller to its end (bounded by its own timeout plus a margin).
    fn call(
        &self,
        server: &Server,
        dir: &Path,
        run: Caller,
    ) -> Result<(SippStats, Vec<u32>), BenchError> {
        let timeout = Duration::from_secs(run.timeout_secs + 10);
        let mut uac = self.spawn_uac(server, dir, run)?;
        if uac.wait_for_exit(timeout).is_none() {
            uac.stop(Duration::from_secs(3));
        }
        let stats = read_stats(dir)?;
        Ok((stats, read_rtt(dir)))
    }

    fn signalling(&self, who: Answerer) -> Result<Vec<Step>, BenchError> {
        let dir = self.work.sub(&format!("signalling-{}", who.label()))?;
        let mut server = self.start(who, &dir, false)?;
        let warm = self
            .work
            .sub(&format!("signalling-{}-warm-up", who.label()))?;
        let warm_calls = if self.args.quick { 10 } else { 50 };
        self.call(
            &server,
            &warm,
            Caller::short(&self.sink_csv, 50, warm_calls, 0),
        )?;
        let mut steps = Vec::new();
        for &rate in &self.args.rates {
            let dir = self
                .work
                .sub(&format!("signalling-{}-{rate}", who.label()))?;
            let calls = u64::from(rate) * self.args.duration;
            let caller = Caller::short(&self.sink_csv, rate, calls, self.args.hold_ms);
            let cpu = CpuWatch::start(&server.process);
            let sip_port = [server.sip.port()];
            let drops = procs::udp_drops(&sip_port);
            let (stats, mut answer_ms) = self.call(&server, &dir, caller)?;
            let udp_drops = delta(drops, procs::udp_drops(&sip_port));
            answer_ms.sort_unstable();
            let step = Step {
                rate,
                calls,
                stats,
                answer_ms,
                cpu_pct: cpu.percent(&server.process),
                udp_drops,
            };
            eprintln!(
                "[bench] {} {rate} calls/s: {} done, {} failed, {:.1} calls/s",
                who.label(),
                step.stats.successful,
                step.stats.failed,
                step.stats.call_rate
            );
            let clean = step.clean();
            steps.push(step);
            if let Some(status) = server.process.exited() {
                return Err(BenchError::Died(format!(
                    "{} exited during the run ({status})",
                    who.label()
                )));
            }
            if !clean {
                break;
            }
            // Let the last BYE transactions and ticket writes settle before the next rate.
            std::thread::sleep(Duration::from_millis(if self.args.quick {
                200
            } else {
                1000
            }));
        }
        server.process.stop(STOP_GRACE);
        Ok(steps)
    }

    fn media(&self, who: Answerer, calls: usize) -> Result<MediaRun, BenchError> {
        let dir = self.work.sub(&format!("rtp-{}-{calls}", who.label()))?;
        let probe = Probe::start(calls)?;
        let csv = dir.join("ports.csv");
        std::fs::write(&csv, ports_csv(probe.ports()))?;
        let setup = Duration::from_secs(calls as u64 / u64::from(self.args.setup_rate) + 1);
        let playing = setup + self.rtp_warm_up() + Duration::from_secs(self.args.rtp_secs + 30);
        if who == Answerer::Sipp {
            std::fs::write(dir.join(PCAP_NAME), pcap::reference_audio(playing))?;
        }
        let mut server = self.start(who, &dir, true)?;
        // One call first: voxdesk synthesises the prompt once and caches it (the call stays up
        // long enough for espeak-ng to finish, so its memory is in the baseline).
        let warm = self
            .work
            .sub(&format!("rtp-{}-{calls}-warm-up", who.label()))?;
        let hold = self.first_call_hold_ms();
        self.call(&server, &warm, Caller::short(&self.sink_csv, 1, 1, hold))?;
        std::thread::sleep(Duration::from_millis(hold / 3));
        let rss_before_kib = server.process.rss_kib();

        let callers = self
            .work
            .sub(&format!("rtp-{}-{calls}-callers", who.label()))?;
        let run = Caller {
            ports_csv: &csv,
            rate: self.args.setup_rate,
            calls: calls as u64,
            limit: calls as u64,
            hold_ms: 3_600_000,
            timeout_secs: 3600,
        };
        let mut uac = self.spawn_uac(&server, &callers, run)?;
        let until = Instant::now() + setup + Duration::from_secs(20);
        while probe.streams() < calls && Instant::now() < until && uac.exited().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(self.rtp_warm_up());
        let rss_with_kib = server.process.rss_kib();
        probe.reset();
        let cpu = CpuWatch::start(&server.process);
        let drops = procs::udp_drops(probe.ports());
        std::thread::sleep(Duration::from_secs(self.args.rtp_secs));
        let jitter: JitterSummary = probe.summary();
        let udp_drops = delta(drops, procs::udp_drops(probe.ports()));
        let cpu_pct = cpu.percent(&server.process);
        let failed_calls = read_stats(&callers).map_or(0, |s| s.failed);
        eprintln!(
            "[bench] {} {calls} calls: {} streams, jitter p50 {} us p99 {} us max {} us",
            who.label(),
            jitter.streams,
            jitter.p50_us,
            jitter.p99_us,
            jitter.max_us
        );
        uac.stop(Duration::from_secs(3));
        server.process.stop(STOP_GRACE);
        Ok(MediaRun {
            calls,
            jitter,
            rss_before_kib,
            rss_with_kib,
            failed_calls,
            cpu_pct,
            udp_drops,
        })
    }
}

/// What one caller SIPp does.
#[derive(Debug, Clone, Copy)]
struct Caller<'a> {
    ports_csv: &'a Path,
    rate: u32,
    calls: u64,
    limit: u64,
    hold_ms: u64,
    timeout_secs: u64,
}

impl<'a> Caller<'a> {
    /// Short calls whose media goes to the sink; concurrency capped at three seconds' worth.
    fn short(sink_csv: &'a Path, rate: u32, calls: u64, hold_ms: u64) -> Caller<'a> {
        let seconds = calls / u64::from(rate.max(1));
        Caller {
            ports_csv: sink_csv,
            rate,
            calls,
            limit: (u64::from(rate) * 3).max(100),
            hold_ms,
            timeout_secs: seconds * 2 + hold_ms / 1000 + 15,
        }
    }
}

/// Answerer CPU over an interval.
pub(super) struct CpuWatch {
    cpu: Option<Duration>,
    at: Instant,
}

impl CpuWatch {
    pub(super) fn start(process: &Managed) -> CpuWatch {
        CpuWatch {
            cpu: process.cpu_time(),
            at: Instant::now(),
        }
    }

    pub(super) fn percent(&self, process: &Managed) -> Option<f64> {
        let used = process.cpu_time()?.checked_sub(self.cpu?)?;
        let wall = self.at.elapsed().as_secs_f64();
        (wall > 0.0).then(|| used.as_secs_f64() * 100.0 / wall)
    }
}

fn delta(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    after?.checked_sub(before?)
}

/// The `-inf` file: SIPp reads one line per call, in order, wrapping at the end.
pub(super) fn ports_csv(ports: &[u16]) -> String {
    let mut text = String::from("SEQUENTIAL\n");
    for port in ports {
        text.push_str(&format!("{port}\n"));
    }
    text
}

pub(super) fn read_stats(dir: &Path) -> Result<SippStats, BenchError> {
    let text = std::fs::read_to_string(dir.join(sipp::STAT_FILE)).map_err(|e| {
        BenchError::Sipp(format!(
            "{}: {e} (see sipp-uac.log there; --keep keeps it)",
            dir.display()
        ))
    })?;
    sipp::parse_stat_csv(&text)
}

/// SIPp names the `-trace_rtt` file `<scenario>_<pid>_rtt.csv`.
fn read_rtt(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_rtt.csv"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| sipp::parse_rtt(&text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_file_is_sequential_one_per_line() {
        assert_eq!(ports_csv(&[4000, 4002]), "SEQUENTIAL\n4000\n4002\n");
    }

    #[test]
    fn short_callers_are_bounded() {
        let c = Caller::short(Path::new("x"), 200, 2000, 0);
        assert_eq!((c.limit, c.timeout_secs), (600, 35));
        let c = Caller::short(Path::new("x"), 1, 1, 500);
        assert_eq!((c.limit, c.timeout_secs), (100, 17));
    }
}
