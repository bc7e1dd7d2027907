//! The `voxdesk` command line: `serve`, `dialplan check`, `bench sip`, `models import-ct2`.

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
    /// Speech model tools.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
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
}

#[derive(Subcommand)]
enum BenchCommand {
    /// SIP calls/s and answer latency, RTP pacing jitter and memory per call, next to SIPp.
    Sip(voxdesk::bench::SipBenchArgs),
    /// Voice-to-voice latency, ASR time and word error rate of spoken calls, by concurrency.
    Speech(voxdesk::bench::SpeechBenchArgs),
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
    /// Dialplan file [default: dialplans/default.yaml].
    #[arg(long)]
    dialplan: Option<PathBuf>,
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
        Command::Models {
            command: ModelsCommand::ImportCt2 { dir, out },
        } => import_ct2(&dir, &out),
    }
}

fn import_ct2(dir: &std::path::Path, out: &std::path::Path) -> ExitCode {
    let mut shown_percent = None;
    let progress = |done: u64, total: u64| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        if shown_percent != Some(percent) {
            shown_percent = Some(percent);
            eprint!("\rconverting: {percent:3}% of {} MiB", total >> 20);
        }
    };
    match voxdesk::speech::ct2::import_ct2(dir, out, progress) {
        Ok(summary) => {
            eprintln!();
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
            eprintln!();
            eprintln!("voxdesk models import-ct2: {e}");
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
        config.dialplan.file = dialplan;
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
