//! `voxdesk eval DIALPLAN CASES`: how well the bot understands callers, on labelled cases
//! (see [`cases`] for the file format), without SIP. Prints figures; it is not a test.
//!
//! Default path: each case is spoken by espeak-ng, sent through G.711, endpointed and
//! transcribed by Whisper ([`audio`]), then read by the dialplan's bot. `--text` gives the bot
//! the case text directly, to measure understanding alone. The keyword-overlap matcher runs on
//! the same texts as a baseline beside the bot's own figures. Owns: cases, the audio path,
//! scoring ([`score`]) and the printout ([`report`]).

pub mod audio;
pub mod cases;
pub mod report;
pub mod score;

use std::path::PathBuf;

use crate::bot::{Analysis, Bot, Decision};
use crate::speech::endpoint::EndpointConfig;
use cases::Case;
use score::{Figures, Prediction};

/// `voxdesk eval` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The dialplan whose intents, knowledge file and bot are evaluated.
    pub dialplan: PathBuf,
    /// Labelled cases, JSON Lines.
    pub cases: PathBuf,
    /// Give the bot the case text instead of transcribing synthesized speech.
    #[arg(long)]
    pub text: bool,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Whisper model for the audio path.
    #[arg(long, default_value = "models/ggml-tiny.en.bin")]
    pub model: PathBuf,
    /// Confidence an intent needs [default: 0.5, what `ask` steps use].
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Parallel transcriptions on the audio path [default: CPU cores].
    #[arg(long)]
    pub asr_workers: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Dialplan(String),
    #[error("{0}")]
    Cases(String),
    #[error("{what}: {message}")]
    Audio { what: String, message: String },
}

/// Everything the report shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    pub dialplan: String,
    pub cases_file: String,
    /// `text` or `audio`.
    pub path: &'static str,
    /// How the bot scored intents (`keywords` or `semantic`).
    pub method: &'static str,
    pub threshold: f32,
    #[serde(flatten)]
    pub figures: Figures,
    /// The keyword-overlap matcher on the same texts.
    pub baseline: Figures,
}

/// Runs the evaluation and renders it as text or JSON.
pub fn run_eval(args: &EvalArgs) -> Result<String, EvalError> {
    let plan = crate::dialplan::load_file(&args.dialplan)
        .map_err(|e| EvalError::Dialplan(e.to_string()))?;
    let stem = args
        .dialplan
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let cases: Vec<Case> = cases::read_cases(&args.cases)
        .map_err(EvalError::Cases)?
        .into_iter()
        .filter(|c| c.dialplan.is_none() || c.dialplan == stem)
        .collect();
    if cases.is_empty() {
        return Err(EvalError::Cases(format!(
            "{}: no cases for this dialplan",
            args.cases.display()
        )));
    }
    let declared = plan.intents().declared();
    let faq = plan.faq().cloned();
    let bot = Bot::keywords(declared, faq.clone());
    let baseline = Bot::keywords(declared, faq);
    let heard: Vec<String> = if args.text {
        cases.iter().map(|c| c.text.clone()).collect()
    } else {
        let workers = args
            .asr_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        audio::transcribe_cases(&cases, &args.model, workers, &EndpointConfig::default())?
    };
    let predict_all = |bot: &Bot| -> Vec<Prediction> {
        cases
            .iter()
            .zip(&heard)
            .map(|(case, text)| predict(bot, case, text, args.threshold))
            .collect()
    };
    let transcribed = !args.text;
    let evaluation = Evaluation {
        dialplan: args.dialplan.display().to_string(),
        cases_file: args.cases.display().to_string(),
        path: if args.text { "text" } else { "audio" },
        method: "keywords",
        threshold: args.threshold,
        figures: score::score(&cases, &predict_all(&bot), transcribed),
        baseline: score::score(&cases, &predict_all(&baseline), transcribed),
    };
    Ok(if args.json {
        report::json(&evaluation)
    } else {
        report::text(&evaluation)
    })
}

/// The bot's reading of `heard` in the case's terms.
fn predict(bot: &Bot, _case: &Case, heard: &str, threshold: f32) -> Prediction {
    let analysis = bot.analyze(heard);
    let (intent, ambiguous) = match bot.decide(&analysis, threshold, |_| true) {
        Decision::Intent(best) => (Some(best.intent), false),
        Decision::Ambiguous(first, _) => (Some(first.intent), true),
        Decision::Faq(_) | Decision::NoMatch => (None, false),
    };
    Prediction {
        heard: heard.to_string(),
        intent,
        ambiguous,
        entities: entity_values(&analysis),
        sentiment: None,
        emotion: None,
    }
}

/// The analysis's entities under the case file's keys.
fn entity_values(analysis: &Analysis) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(digits) = &analysis.entities.digits {
        for key in ["order_number", "account_number", "phone_number"] {
            out.insert(key.to_string(), digits.clone());
        }
    }
    out
}
