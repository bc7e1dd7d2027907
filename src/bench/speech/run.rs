//! The run: synthesize the sentences, start voxdesk, one unmeasured warm-up call, then each
//! concurrency level (its calls spread over that many threads), read the tickets, aggregate.
//! Every wait is bounded; voxdesk is stopped by its guard even on an early error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::corpus::{self, Clip};
use super::figures::{attach_turns, CallRecord, Level};
use super::report::{self, Report};
use super::script::Timing;
use super::{caller, tickets, SpeechBenchArgs, SpeechBenchError};
use crate::bench::machine::Machine;
use crate::bench::procs::{self, Managed};
use crate::bench::BenchError;

const DIALPLAN: &str = include_str!("../../../dialplans/bench-speech.yaml");
/// Whisper model loading can take a while on a small box.
const READY_WAIT: Duration = Duration::from_secs(120);
/// How long tickets get to be closed after the last BYE.
const TICKET_WAIT: Duration = Duration::from_secs(10);

/// Runs the benchmark and returns the printout. Progress goes to stderr.
pub fn run_speech(args: &SpeechBenchArgs) -> Result<String, SpeechBenchError> {
    args.check()?;
    let machine = Machine::probe(Path::new("sipp"));
    eprintln!("[bench] synthesizing {} sentences", corpus::SENTENCES.len());
    let clips = corpus::synthesize_all()?;
    let work = Scratch::create(args.keep)?;
    let mut server = start_voxdesk(args, &work.path)?;

    eprintln!("[bench] warm-up call");
    let warm_clips: Vec<Clip> = clips.iter().take(1).cloned().collect();
    let warm = caller::run_call(
        server.sip,
        &call_id("warm", 0),
        warm_clips,
        Timing::default(),
    );
    if let Some(why) = &warm.failure {
        eprintln!("[bench] warm-up call failed: {why}");
    }

    let mut levels = Vec::new();
    for &concurrency in &args.concurrency {
        let mut calls = run_level(&server, &clips, args.calls, concurrency);
        read_tickets(server.http, &mut calls);
        std::fs::write(
            work.path.join(format!("utterances-c{concurrency}.tsv")),
            utterances_tsv(&calls),
        )?;
        let level = Level::of(concurrency, &calls);
        eprintln!(
            "[bench] {concurrency} at once: {} calls, {} clips, v2v p95 {} ms, {} failed calls",
            level.calls,
            level.utterances,
            level
                .latency_ms
                .map_or("-".into(), |s| format!("{:.0}", s.p95)),
            level.failed_calls
        );
        for failure in calls.iter().filter_map(|c| c.failure.as_ref()) {
            eprintln!("[bench]   call failed: {failure}");
        }
        levels.push(level);
        if let Some(status) = server.process.exited() {
            return Err(BenchError::Died(format!(
                "voxdesk exited during the run ({status}); {}",
                log_tail(&work.path)
            ))
            .into());
        }
    }
    server.process.stop(Duration::from_secs(10));
    Ok(report::render(&Report {
        machine,
        settings: settings(args),
        levels,
        limit_ms: args.target_ms,
    }))
}

fn settings(args: &SpeechBenchArgs) -> Vec<String> {
    let defaults = crate::config::Config::default().speech;
    let model = args.model.clone().unwrap_or(defaults.model);
    vec![
        format!(
            "voxdesk: serve with dialplans/bench-speech.yaml (greeting, then `ask` answered by one short `say`), model {}, ASR workers {}, threads {}, RUST_LOG={}, [media] record = false",
            model.display(),
            args.asr_workers.unwrap_or(defaults.asr_workers),
            args.asr_threads.unwrap_or(defaults.asr_threads),
            args.log
        ),
        format!(
            "callers: {} calls per level, built-in SIP/RTP caller on 127.0.0.1 (PCMU, 20 ms), {} sentences by espeak-ng voices en-us/en-gb/en-us+f3 at 150/165/180 wpm; one unmeasured warm-up call first",
            args.calls,
            corpus::SENTENCES.len()
        ),
    ]
}

struct Server {
    process: Managed,
    sip: SocketAddr,
    http: SocketAddr,
}

fn start_voxdesk(args: &SpeechBenchArgs, dir: &Path) -> Result<Server, SpeechBenchError> {
    let config = dir.join("bench.toml");
    std::fs::write(&config, config_toml(args))?;
    let dialplan = dir.join("bench-speech.yaml");
    std::fs::write(&dialplan, DIALPLAN)?;
    let sip = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let http = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let path = |p: &Path| p.display().to_string();
    let mut flags: Vec<String> = vec![
        "serve".into(),
        "--sip".into(),
        sip.to_string(),
        "--http".into(),
        http.to_string(),
        "--data".into(),
        path(&dir.join("data")),
        "--dialplan".into(),
        path(&dialplan),
        "--rtp-ports".into(),
        args.rtp_ports.clone(),
        "--config".into(),
        path(&config),
    ];
    // voxdesk runs in the scratch directory, so a relative model path (given, or voxdesk's
    // default) is resolved here, against the directory the bench was started in.
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| crate::config::Config::default().speech.model);
    match std::fs::canonicalize(&model) {
        Ok(model) => flags.extend(["--model".into(), path(&model)]),
        Err(e) => eprintln!(
            "[bench] warning: model {}: {e}; voxdesk will answer `ask` steps on keys only",
            model.display()
        ),
    }
    let exe = std::env::current_exe()?;
    let env = [("RUST_LOG", args.log.as_str())];
    let mut process = Managed::spawn("voxdesk", &exe, &flags, dir, &env)?;
    if let Err(e) = procs::wait_http_ready(&mut process, http, READY_WAIT) {
        return Err(BenchError::Died(format!("{e}; {}", log_tail(dir))).into());
    }
    Ok(Server { process, sip, http })
}

/// voxdesk's config: no recording, quick shutdown, and the ASR pool size if given.
fn config_toml(args: &SpeechBenchArgs) -> String {
    let mut toml = String::from("[media]\nrecord = false\n\n[shutdown]\ngrace_secs = 1\n");
    if args.asr_workers.is_some() || args.asr_threads.is_some() {
        toml.push_str("\n[speech]\n");
    }
    if let Some(n) = args.asr_workers {
        toml.push_str(&format!("asr_workers = {n}\n"));
    }
    if let Some(n) = args.asr_threads {
        toml.push_str(&format!("asr_threads = {n}\n"));
    }
    toml
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("voxdesk.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines
        .get(lines.len().saturating_sub(5)..)
        .unwrap_or_default();
    format!("voxdesk.log ends:\n{}", tail.join("\n"))
}

fn call_id(level: &str, call: usize) -> String {
    format!("bench-speech-{}-{level}-{call}", std::process::id())
}

/// Places `calls` calls, `concurrency` at a time.
fn run_level(server: &Server, clips: &[Clip], calls: usize, concurrency: usize) -> Vec<CallRecord> {
    let next = AtomicUsize::new(0);
    let records = Mutex::new(Vec::with_capacity(calls));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency.min(calls) {
            scope.spawn(|| loop {
                let call = next.fetch_add(1, Ordering::Relaxed);
                if call >= calls {
                    break;
                }
                let said = corpus::sentences_for_call(call)
                    .into_iter()
                    .filter_map(|s| clips.get(s).cloned())
                    .collect();
                let id = call_id(&format!("c{concurrency}"), call);
                let record = caller::run_call(server.sip, &id, said, Timing::default());
                if let Ok(mut records) = records.lock() {
                    records.push(record);
                }
            });
        }
    });
    eprintln!(
        "[bench] {concurrency} at once: calls done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    records.into_inner().unwrap_or_default()
}

/// Fills in transcripts, ASR times and intents from each call's ticket; a ticket that cannot
/// be read leaves its utterances untranscribed (and says why on stderr).
fn read_tickets(http: SocketAddr, calls: &mut [CallRecord]) {
    let ids: Vec<String> = calls.iter().map(|c| c.call_id.clone()).collect();
    let until = Instant::now() + TICKET_WAIT;
    let found = loop {
        match tickets::find_tickets(http, &ids) {
            Ok(found) if found.len() == ids.len() || Instant::now() >= until => break found,
            Ok(_) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => {
                eprintln!("[bench] listing tickets: {e}");
                return;
            }
        }
    };
    for call in calls.iter_mut() {
        let Some(id) = found.get(&call.call_id) else {
            eprintln!("[bench] no ticket for {}", call.call_id);
            continue;
        };
        loop {
            match tickets::get(http, &format!("/api/tickets/{id}"))
                .and_then(|b| tickets::speech_turns(&b))
            {
                Ok((ended, turns)) if ended || Instant::now() >= until => {
                    attach_turns(&mut call.utterances, &turns);
                    break;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(200)),
                Err(e) => {
                    eprintln!("[bench] ticket {id}: {e}");
                    break;
                }
            }
        }
    }
}

/// One line per utterance: what was said and what voxdesk made of it (kept with `--keep`).
fn utterances_tsv(calls: &[CallRecord]) -> String {
    let mut out =
        String::from("call_id\tsentence\tv2v_ms\tasr_ms\tintent\treference\ttranscript\n");
    for call in calls {
        for u in &call.utterances {
            let reference = corpus::SENTENCES.get(u.sentence).map_or("", |s| s.text);
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{reference}\t{}\n",
                call.call_id,
                u.sentence,
                u.latency
                    .map_or(String::new(), |l| l.as_millis().to_string()),
                u.asr_ms.map_or(String::new(), |ms| format!("{ms:.0}")),
                u.intent.as_deref().unwrap_or(""),
                u.transcript
                    .as_deref()
                    .unwrap_or("")
                    .replace(['\t', '\n'], " "),
            ));
        }
    }
    out
}

/// A scratch directory, removed on drop unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn create(keep: bool) -> Result<Scratch, SpeechBenchError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "voxdesk-bench-speech-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Scratch { path, keep })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("[bench] kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asr_pool_size_goes_to_the_speech_section() {
        let args = |workers, threads| SpeechBenchArgs {
            calls: 1,
            concurrency: vec![1],
            model: None,
            asr_workers: workers,
            asr_threads: threads,
            target_ms: 1500.0,
            rtp_ports: "20000-29999".into(),
            log: "warn".into(),
            keep: false,
        };
        let plain = config_toml(&args(None, None));
        assert!(!plain.contains("[speech]"));
        let sized = config_toml(&args(Some(2), Some(1)));
        assert!(
            sized.ends_with("[speech]\nasr_workers = 2\nasr_threads = 1\n"),
            "{sized}"
        );
        let parsed: Result<crate::config::Config, _> = toml::from_str(&sized);
        assert!(parsed.is_ok_and(|c| c.speech.asr_workers == 2 && c.speech.asr_threads == 1));
    }

    #[test]
    fn call_ids_are_unique_per_level_and_call() {
        assert_ne!(call_id("c1", 0), call_id("c2", 0));
        assert_ne!(call_id("c1", 0), call_id("c1", 1));
    }
}
