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

use crate::bot::embed::Embedder;
use crate::bot::{Analysis, Bot, CivilDate, Decision};
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
    /// Sentence-embedding model directory for semantic intents; without it (or with
    /// `--keywords`) the bot matches keywords.
    #[arg(long, default_value = crate::bot::embed::DEFAULT_DIR)]
    pub embed_model: PathBuf,
    /// Evaluate the keyword matcher only, even when an embedding model is present.
    #[arg(long)]
    pub keywords: bool,
    /// Date that relative dates in cases ("tomorrow") resolve against, YYYY-MM-DD [default:
    /// today, UTC].
    #[arg(long, value_parser = parse_date)]
    pub today: Option<CivilDate>,
}

fn parse_date(text: &str) -> Result<CivilDate, String> {
    let mut parts = text.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("`{text}` is not YYYY-MM-DD"));
    };
    let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(y), u8::try_from(m), u8::try_from(d)) else {
        return Err(format!("`{text}` is not a date"));
    };
    CivilDate::new(y, m, d).ok_or_else(|| format!("`{text}` is not a date"))
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Dialplan(String),
    #[error("{0}")]
    Cases(String),
    #[error("{what}: {message}")]
    Audio { what: String, message: String },
    #[error("embedding model: {0}")]
    Embed(#[from] crate::bot::embed::EmbedError),
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
    let baseline = Bot::keywords(declared, faq.clone());
    let bot = if args.keywords || !args.embed_model.join("model.safetensors").exists() {
        baseline.clone()
    } else {
        let embedder = std::sync::Arc::new(Embedder::load(&args.embed_model)?);
        Bot::semantic(declared, plan.out_of_scope(), faq, embedder, None)?
    };
    let today = args.today.or_else(crate::bot::entities::today_utc);
    let heard: Vec<String> = if args.text {
        cases.iter().map(|c| c.text.clone()).collect()
    } else {
        let workers = args
            .asr_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        audio::transcribe_cases(&cases, &args.model, workers, &EndpointConfig::default())?
    };
    let predict_all = |bot: &Bot| -> Vec<Prediction> {
        heard
            .iter()
            .map(|text| predict(bot, text, args.threshold, today))
            .collect()
    };
    let transcribed = !args.text;
    let evaluation = Evaluation {
        dialplan: args.dialplan.display().to_string(),
        cases_file: args.cases.display().to_string(),
        path: if args.text { "text" } else { "audio" },
        method: match bot.method() {
            crate::bot::understand::Method::Keywords => "keywords",
            crate::bot::understand::Method::Semantic => "semantic",
        },
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
fn predict(bot: &Bot, heard: &str, threshold: f32, today: Option<CivilDate>) -> Prediction {
    let analysis = bot.analyze_at(heard, None, today);
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
        sentiment: Some(analysis.sentiment.polarity.name().to_string()),
        emotion: Some(analysis.sentiment.emotion.name().to_string()),
    }
}

/// The analysis's entities under the case file's keys.
fn entity_values(analysis: &Analysis) -> std::collections::BTreeMap<String, String> {
    let e = &analysis.entities;
    let found = [
        ("order_number", e.order_number.clone()),
        ("account_number", e.account_number.clone()),
        ("phone_number", e.phone_number.clone()),
        ("amount", e.amount.as_ref().map(|a| a.value.clone())),
        // Cases label the day; a time said with it is not part of the label.
        (
            "date",
            e.date.as_ref().map(|d| d.chars().take(10).collect()),
        ),
    ];
    found
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_string(), value?)))
        .collect()
}
