//! The `voxdesk` command line: `serve`, `dialplan check`, `eval`, `bench sip`/`speech`/`bridge`,
//! `models import-ct2`, `models verify`, `models transcribe`, `models embed-verify`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use voxdesk::config::Config;

#[derive(Parser)]
#[command(name = "voxdesk", version, about = "Self-hosted voice-bot call center")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer calls: SIP (UDP+TCP), RTP, dialplan, tickets and the HTTP API.
    Serve(ServeArgs),
    /// Dialplan tools.
    Dialplan {
        #[command(subcommand)]
        command: DialplanCommand,
    },
    /// Benchmarks that print figures (they start their own voxdesk and SIPp).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// How well the bot understands labelled cases (text or synthesized speech); prints figures.
    Eval(voxdesk::eval::EvalArgs),
    /// Agents file tools.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Speech model tools.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum AgentsCommand {
    /// Set an agent's password: reads it from stdin (one line) and replaces the agent's
    /// `password:` (or hash) lines with `ha1:`/`ha1_sha256:` hashes, keeping every other line.
    Passwd {
        /// The agent's user.
        user: String,
        /// The agents file.
        #[arg(long, default_value = "dialplans/agents.yaml")]
        file: PathBuf,
        /// Digest realm for the hashes [default: the file's `realm`].
        #[arg(long)]
        realm: Option<String>,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Convert a CTranslate2 Whisper model directory (model.bin, vocabulary.txt) to a
    /// whisper.cpp ggml file.
    ImportCt2 {
        /// The CTranslate2 model directory.
        dir: PathBuf,
        /// The ggml file to write.
        out: PathBuf,
    },
    /// Check a ggml Whisper model end to end: speak a known sentence with espeak-ng, pass it
    /// through G.711 µ-law and transcribe it; exits non-zero unless the words come back.
    Verify {
        /// The ggml model file.
        model: PathBuf,
    },
    /// Print what a ggml Whisper model hears in WAV files (mono or not, any rate; the first
    /// 30 s), with confidence and transcription time.
    Transcribe {
        /// The ggml model file.
        model: PathBuf,
        /// WAV files to transcribe, loading the model once.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check a sentence-embedding model directory (all-MiniLM-L6-v2): load it, embed three
    /// fixed sentences and check a paraphrase ranks above an unrelated question; exits non-zero
    /// otherwise.
    EmbedVerify {
        /// The model directory (config.json, tokenizer.json, model.safetensors).
        #[arg(default_value = voxdesk::bot::embed::DEFAULT_DIR)]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// SIP calls/s and answer latency, RTP pacing jitter and memory per call, next to SIPp.
    Sip(voxdesk::bench::SipBenchArgs),
    /// Voice-to-voice latency, ASR time and word error rate of spoken calls, by concurrency.
    Speech(voxdesk::bench::SpeechBenchArgs),
    /// Added latency, jitter and CPU of calls bridged between SIPp callers and SIPp agents.
    Bridge(voxdesk::bench::BridgeBenchArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML file with limits and timers (flags below override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// SIP listen address; UDP and TCP bind the same port [default: 127.0.0.1:5060].
    #[arg(long)]
    sip: Option<SocketAddr>,
    /// HTTP API listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Data directory for tickets and recordings [default: var].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Dialplan file for every call, replacing the config's per-user routes
    /// [default: dialplans/default.yaml, with support@/bank@/telecom@/government@ routed to the
    /// industry dialplans].
    #[arg(long)]
    dialplan: Option<PathBuf>,
    /// Agents and queues file [default: dialplans/agents.yaml].
    #[arg(long)]
    agents: Option<PathBuf>,
    /// RTP port range LOW-HIGH [default: 20000-30000].
    #[arg(long)]
    rtp_ports: Option<String>,
    /// ggml Whisper model for speech recognition [default: models/ggml-tiny.en.bin].
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(Subcommand)]
enum DialplanCommand {
    /// Validate a dialplan; prints `file:line: what is wrong` and exits non-zero on errors.
    Check {
        /// The dialplan file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Dialplan {
            command: DialplanCommand::Check { file },
        } => {
            let report = voxdesk::dialplan::check_file(&file);
            if report.ok {
                println!("{}", report.output);
                ExitCode::SUCCESS
            } else {
                eprintln!("{}", report.output);
                ExitCode::FAILURE
            }
        }
        Command::Bench {
            command: BenchCommand::Sip(args),
        } => match voxdesk::bench::run_sip(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("voxdesk bench: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench {
            command: BenchCommand::Speech(args),
        } => match voxdesk::bench::run_speech(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("voxdesk bench speech: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench {
            command: BenchCommand::Bridge(args),
        } => match voxdesk::bench::run_bridge(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("voxdesk bench bridge: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Eval(args) => match voxdesk::eval::run_eval(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("voxdesk eval: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Agents {
            command: AgentsCommand::Passwd { user, file, realm },
        } => agents_passwd(&user, &file, realm.as_deref()),
        Command::Models {
            command: ModelsCommand::ImportCt2 { dir, out },
        } => import_ct2(&dir, &out),
        Command::Models {
            command: ModelsCommand::Verify { model },
        } => verify_model(&model),
        Command::Models {
            command: ModelsCommand::Transcribe { model, files },
        } => transcribe_files(&model, &files),
        Command::Models {
            command: ModelsCommand::EmbedVerify { dir },
        } => embed_verify(&dir),
    }
}

fn agents_passwd(user: &str, file: &std::path::Path, realm: Option<&str>) -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("voxdesk agents passwd: cannot read the password from stdin: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    match voxdesk::acd::set_password_in_file(file, user, realm, password) {
        Ok(realm) => {
            println!(
                "{}: password of `{user}` set (realm {realm})",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("voxdesk agents passwd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn embed_verify(dir: &std::path::Path) -> ExitCode {
    use voxdesk::bot::embed::{Embedder, PROBE};
    let started = std::time::Instant::now();
    let probed = Embedder::load(dir).and_then(|embedder| {
        let loaded = started.elapsed();
        let started = std::time::Instant::now();
        let probe = embedder.probe()?;
        Ok((loaded, started.elapsed(), probe))
    });
    match probed {
        Ok((loaded, embedded, probe)) => {
            println!(
                "{}: ok — {:?} is nearer {:?} ({:.3}) than {:?} ({:.3}); loaded in {} ms, \
                 3 sentences embedded in {} ms",
                dir.display(),
                PROBE[0],
                PROBE[1],
                probe.near,
                PROBE[2],
                probe.far,
                loaded.as_millis(),
                embedded.as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("voxdesk models embed-verify: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn import_ct2(dir: &std::path::Path, out: &std::path::Path) -> ExitCode {
    // A bar only for people watching: logs and pipes get the summary line alone.
    let draw = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut shown = None;
    let progress = |p: voxdesk::speech::ct2::Progress| {
        let percent = (p.bytes_done * 100).checked_div(p.bytes).unwrap_or(100);
        if draw && shown != Some(percent) {
            shown = Some(percent);
            let filled = usize::try_from(percent / 4).unwrap_or(25);
            eprint!(
                "\rconverting [{:<25}] tensor {}/{}, {}/{} MiB",
                "#".repeat(filled),
                p.tensors_done,
                p.tensors,
                p.bytes_done >> 20,
                p.bytes >> 20,
            );
        }
    };
    let end_bar = || {
        if draw {
            eprintln!();
        }
    };
    match voxdesk::speech::ct2::import_ct2(dir, out, progress) {
        Ok(summary) => {
            end_bar();
            let h = summary.hparams;
            println!(
                "wrote {}: {} tensors, {} tokens, {} bytes (vocab {}, audio {}x{} {} heads {} layers, \
                 text {}x{} {} heads {} layers, {} mels)",
                out.display(),
                summary.tensors,
                summary.vocab_tokens,
                summary.bytes,
                h.n_vocab,
                h.n_audio_ctx,
                h.n_audio_state,
                h.n_audio_head,
                h.n_audio_layer,
                h.n_text_ctx,
                h.n_text_state,
                h.n_text_head,
                h.n_text_layer,
                h.n_mels,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            end_bar();
            eprintln!("voxdesk models import-ct2: {e}");
            ExitCode::FAILURE
        }
    }
}

fn verify_model(model: &std::path::Path) -> ExitCode {
    match voxdesk::speech::verify::verify(model) {
        Ok(heard) => {
            println!(
                "{}: ok — heard {:?} in {} ms",
                model.display(),
                heard.text,
                heard.elapsed.as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("voxdesk models verify: {}: {e}", model.display());
            ExitCode::FAILURE
        }
    }
}

fn transcribe_files(model: &std::path::Path, files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    let result =
        voxdesk::speech::verify::transcribe_files(model, files, |file, result| match result {
            Ok(heard) => println!(
                "{}: {:?} (confidence {:.2}, {} ms)",
                file.display(),
                heard.text,
                heard.confidence,
                heard.elapsed.as_millis()
            ),
            Err(e) => {
                failed = true;
                eprintln!("voxdesk models transcribe: {e}");
            }
        });
    match result {
        Ok(()) if !failed => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("voxdesk models transcribe: {}: {e}", model.display());
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if let Some(sip) = args.sip {
        config.sip.listen = sip;
    }
    if let Some(http) = args.http {
        config.http.listen = http;
    }
    if let Some(data) = args.data {
        config.data.dir = data;
    }
    if let Some(dialplan) = args.dialplan {
        // One file named on the command line answers every call.
        config.dialplan.file = dialplan;
        config.dialplan.routes.clear();
    }
    if let Some(agents) = args.agents {
        config.agents.file = agents;
    }
    if let Some(ports) = args.rtp_ports {
        config.media.rtp_ports = ports;
    }
    if let Some(model) = args.model {
        config.speech.model = model;
    }
    if let Err(e) = config.validate() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(voxdesk::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voxdesk: {e}");
            ExitCode::FAILURE
        }
    }
}
