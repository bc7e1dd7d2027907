//! The bridge benchmark run: scratch directory and generated files, voxdesk, the agent phone
//! SIPp, the registering SIPp, the caller SIPp, then one measured window. Every wait is bounded
//! in time; every child is stopped by its guard (callers first, voxdesk last).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::media::BridgeMedia;
use super::report::{self, BridgeReport};
use super::BridgeBenchArgs;
use crate::bench::machine::Machine;
use crate::bench::procs::{self, Managed};
use crate::bench::run::{ports_csv, read_stats, CpuWatch, WorkDir};
use crate::bench::sipp::{self, UacRun};
use crate::bench::BenchError;

const UAC_SCENARIO: &str = include_str!("../../../sipp-scenarios/bench_uac.xml");
const REGISTER_SCENARIO: &str = include_str!("../../../sipp-scenarios/bench_agent_register.xml");
const AGENT_SCENARIO: &str = include_str!("../../../sipp-scenarios/bench_agent_uas.xml");
/// Every call waits in queue `bench` until an agent answers, then talks until the caller hangs up.
const DIALPLAN: &str = "# voxdesk bench bridge: every call goes straight to the bench queue.
name: voxdesk bench bridge
voice: en-us
start: wait
steps:
  - label: wait
    queue: {name: bench, max_wait: 120, on_timeout: done, on_full: done}
  - label: done
    hangup: completed
";
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Runs the benchmark and returns the printout. Progress goes to stderr.
pub fn run_bridge(args: &BridgeBenchArgs) -> Result<String, BenchError> {
    let args = args.effective()?;
    let machine = Machine::probe(&args.sipp);
    if machine.sipp == "SIPp not found" {
        return Err(BenchError::Spawn(
            args.sipp.display().to_string(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    if let Some(limit) = machine.open_files {
        // The bench holds two sockets per call, voxdesk two plus its own files.
        if limit < args.calls as u64 * 4 + 256 {
            eprintln!(
                "[bench] warning: open-file limit {limit} is low for {} calls; raise it with `ulimit -n 8192`",
                args.calls
            );
        }
    }
    let work = WorkDir::create(args.keep)?;
    let files = Files::write(&work.path, &args)?;
    let media = BridgeMedia::start(args.calls)?;
    std::fs::write(&files.caller_ports, ports_csv(media.caller_ports()))?;
    std::fs::write(&files.agent_ports, ports_csv(media.agent_ports()))?;

    let exe = std::env::current_exe()?;
    let (mut voxdesk, sip) = start_voxdesk(&exe, &work.sub("voxdesk")?, &files, &args)?;
    let (mut phone, phone_port) = start_agent_phone(&work.sub("agent-phone")?, &files, &args)?;
    let registered = register_agents(&work.sub("register")?, &files, &args, sip, phone_port)?;
    eprintln!("[bench] {registered} of {} agents registered", args.calls);
    if registered < args.calls as u64 {
        return Err(BenchError::Died(format!(
            "only {registered} of {} agents registered (see register/ with --keep)",
            args.calls
        )));
    }
    let rss_before = voxdesk.rss_kib();

    let callers_dir = work.sub("callers")?;
    let setup = Duration::from_secs(args.calls as u64 / u64::from(args.setup_rate) + 1);
    let warm_up = Duration::from_secs(if args.quick { 1 } else { 2 });
    let talk = setup + warm_up + Duration::from_secs(args.secs + 60);
    let caller = UacRun {
        scenario: &files.uac,
        target: sip,
        local_port: procs::free_port()?,
        media_port: procs::free_port_block(4)?,
        ports_csv: &files.caller_ports,
        rate: args.setup_rate,
        calls: args.calls as u64,
        limit: args.calls as u64,
        hold_ms: u64::try_from(talk.as_millis()).unwrap_or(u64::MAX),
        timeout_secs: talk.as_secs() + 60,
    };
    let mut callers = Managed::spawn("sipp-uac", &args.sipp, &caller.args(), &callers_dir, &[])?;
    let until = Instant::now() + setup + Duration::from_secs(20);
    while media.bridged() < args.calls && Instant::now() < until && callers.exited().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let bridged = media.bridged();
    eprintln!("[bench] {bridged} of {} calls bridged", args.calls);
    std::thread::sleep(warm_up);

    media.reset();
    let cpu = CpuWatch::start(&voxdesk);
    std::thread::sleep(Duration::from_secs(args.secs));
    let figures = media.figures();
    let cpu_pct = cpu.percent(&voxdesk);
    let rss_with = voxdesk.rss_kib();
    let failed_calls = read_stats(&callers_dir).map_or(0, |s| s.failed);
    if let Some(status) = voxdesk.exited() {
        return Err(BenchError::Died(format!(
            "voxdesk exited during the run ({status})"
        )));
    }
    callers.stop(Duration::from_secs(5));
    phone.stop(Duration::from_secs(5));
    voxdesk.stop(STOP_GRACE);

    let report = BridgeReport {
        machine,
        settings: settings(&args),
        calls: args.calls,
        registered,
        bridged,
        failed_calls,
        secs: args.secs,
        media: figures,
        cpu_pct,
        rss_kib: (rss_before, rss_with),
    };
    Ok(report::render(&report))
}

fn settings(args: &BridgeBenchArgs) -> Vec<String> {
    vec![
        format!(
            "voxdesk: serve --config bench.toml: [limits] max_calls = {}; [media] record = false, rtp_timeout_secs = 600, rtp_ports = {}; [agents] challenge = [\"MD5\"]; RUST_LOG={}; {} agents in queue `bench` (longest-idle, wrap_up 1 s); dialplan: queue step only",
            max_calls(args.calls),
            args.rtp_ports,
            args.log,
            args.calls
        ),
        format!(
            "SIPp: bench_agent_register.xml ({} REGISTERs at {}/s), bench_agent_uas.xml (answers every agent leg, PCMU), bench_uac.xml ({} calls at {}/s, PCMU); RTP of both legs sent and received by the bench, all on 127.0.0.1",
            args.calls, args.setup_rate, args.calls, args.setup_rate
        ),
        "latency: marked PCMU frame sent on one leg -> the same frame leaving voxdesk on the other leg (includes voxdesk's receive jitter buffer, the bridge queue and the send tick); jitter: per packet |arrival gap - 20 ms|".into(),
    ]
}

/// Room for both legs of every call, and then some.
fn max_calls(calls: usize) -> usize {
    (calls * 2 + 100).max(500)
}

/// The generated and embedded files in the scratch directory.
struct Files {
    config: PathBuf,
    dialplan: PathBuf,
    agents_csv: PathBuf,
    register: PathBuf,
    agent_uas: PathBuf,
    uac: PathBuf,
    caller_ports: PathBuf,
    agent_ports: PathBuf,
}

impl Files {
    fn write(dir: &Path, args: &BridgeBenchArgs) -> Result<Files, BenchError> {
        let write = |name: &str, text: &str| -> Result<PathBuf, BenchError> {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let agents = write("agents.yaml", &agents_yaml(args.calls))?;
        let config = format!(
            "[limits]\nmax_calls = {}\n\n[media]\nrecord = false\nrtp_timeout_secs = 600\n\n[shutdown]\ngrace_secs = 1\n\n[agents]\nfile = {:?}\nchallenge = [\"MD5\"]\n",
            max_calls(args.calls),
            agents.display().to_string()
        );
        Ok(Files {
            config: write("bench.toml", &config)?,
            dialplan: write("bridge.yaml", DIALPLAN)?,
            agents_csv: write("agents.csv", &agents_csv(args.calls))?,
            register: write("bench_agent_register.xml", REGISTER_SCENARIO)?,
            agent_uas: write("bench_agent_uas.xml", AGENT_SCENARIO)?,
            uac: write("bench_uac.xml", UAC_SCENARIO)?,
            caller_ports: dir.join("caller_ports.csv"),
            agent_ports: dir.join("agent_ports.csv"),
        })
    }
}

/// `bench001`… (wider when there are more than 999).
fn agent_user(index: usize, calls: usize) -> String {
    let width = calls.to_string().len().max(3);
    format!("bench{:0width$}", index + 1)
}

fn agent_password(user: &str) -> String {
    format!("pw-{user}")
}

fn agents_yaml(calls: usize) -> String {
    let mut text = String::from("realm: voxdesk\nagents:\n");
    for index in 0..calls {
        let user = agent_user(index, calls);
        text.push_str(&format!(
            "  - {{user: {user}, password: {}, name: {user}, queues: [bench]}}\n",
            agent_password(&user)
        ));
    }
    text.push_str(
        "queues:\n  - name: bench\n    strategy: longest-idle\n    ring_timeout: 10\n    wrap_up: 1\n    max_waiting: 10000\n",
    );
    text
}

/// SIPp's injection file: user, then the `[authentication]` keyword with its credentials.
fn agents_csv(calls: usize) -> String {
    let mut text = String::from("SEQUENTIAL\n");
    for index in 0..calls {
        let user = agent_user(index, calls);
        text.push_str(&format!(
            "{user};[authentication username={user} password={}]\n",
            agent_password(&user)
        ));
    }
    text
}

fn start_voxdesk(
    exe: &Path,
    dir: &Path,
    files: &Files,
    args: &BridgeBenchArgs,
) -> Result<(Managed, SocketAddr), BenchError> {
    let sip = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let http = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let argv: Vec<String> = [
        "serve",
        "--sip",
        &sip.to_string(),
        "--http",
        &http.to_string(),
        "--data",
        &dir.join("data").display().to_string(),
        "--dialplan",
        &files.dialplan.display().to_string(),
        "--rtp-ports",
        &args.rtp_ports,
        "--config",
        &files.config.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let env = [("RUST_LOG", args.log.as_str())];
    let mut process = Managed::spawn("voxdesk", exe, &argv, dir, &env)?;
    procs::wait_http_ready(&mut process, http, Duration::from_secs(20))?;
    Ok((process, sip))
}

/// The SIPp that answers every agent leg; returns it and its SIP port.
fn start_agent_phone(
    dir: &Path,
    files: &Files,
    args: &BridgeBenchArgs,
) -> Result<(Managed, u16), BenchError> {
    let port = procs::free_port()?;
    let mut argv = sipp::uas_args(Some(&files.agent_uas), port, procs::free_port_block(4)?);
    argv.extend(
        [
            "-inf",
            &files.agent_ports.display().to_string(),
            "-key",
            "rtp_ip",
            "127.0.0.1",
            // Answers voxdesk's OPTIONS keepalives outside the scenario.
            "-aa",
            "-trace_err",
        ]
        .map(String::from),
    );
    let mut process = Managed::spawn("sipp-agent-phone", &args.sipp, &argv, dir, &[])?;
    procs::wait_udp_bound(&mut process, port, Duration::from_secs(10))?;
    Ok((process, port))
}

/// Registers every agent with the phone's Contact; returns how many succeeded.
fn register_agents(
    dir: &Path,
    files: &Files,
    args: &BridgeBenchArgs,
    sip: SocketAddr,
    phone_port: u16,
) -> Result<u64, BenchError> {
    let calls = args.calls.to_string();
    let timeout_secs = args.calls as u64 / u64::from(args.setup_rate) + 20;
    let argv: Vec<String> = [
        "-sf",
        &files.register.display().to_string(),
        &sip.to_string(),
        "-inf",
        &files.agents_csv.display().to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &procs::free_port()?.to_string(),
        "-mp",
        &procs::free_port_block(4)?.to_string(),
        "-set",
        "cport",
        &phone_port.to_string(),
        "-r",
        &args.setup_rate.to_string(),
        "-m",
        &calls,
        "-l",
        &calls,
        "-recv_timeout",
        "5000",
        "-timeout",
        &format!("{timeout_secs}s"),
        "-nostdin",
        "-trace_stat",
        "-stf",
        sipp::STAT_FILE,
        "-trace_err",
    ]
    .map(String::from)
    .to_vec();
    let mut process = Managed::spawn("sipp-register", &args.sipp, &argv, dir, &[])?;
    if process
        .wait_for_exit(Duration::from_secs(timeout_secs + 10))
        .is_none()
    {
        process.stop(Duration::from_secs(3));
    }
    Ok(read_stats(dir)?.successful)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_agents_match_their_credentials() {
        assert_eq!(agent_user(0, 200), "bench001");
        assert_eq!(agent_user(1999, 2000), "bench2000");
        let yaml = agents_yaml(2);
        assert!(
            yaml.contains(
                "- {user: bench002, password: pw-bench002, name: bench002, queues: [bench]}"
            ),
            "{yaml}"
        );
        assert!(yaml.contains("strategy: longest-idle"), "{yaml}");
        assert_eq!(
            agents_csv(1),
            "SEQUENTIAL\nbench001;[authentication username=bench001 password=pw-bench001]\n"
        );
    }

    #[test]
    fn generated_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("bridge.yaml");
        std::fs::write(&plan, DIALPLAN).unwrap();
        let check = crate::dialplan::check_file(&plan);
        assert!(check.ok, "{}", check.output);
        let agents = crate::acd::parse_str(&agents_yaml(3), "agents.yaml").unwrap();
        assert_eq!(agents.agents.len(), 3);
    }
}
