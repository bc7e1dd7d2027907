use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::media::Codec;

const SENTENCE: &str = "I would like to check the status of my order";

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/ggml-tiny.en.bin")
}

/// The pool on the setup.sh model, or `None` (with a note) when it has not been prepared.
fn pool(config: AsrConfig) -> Option<AsrPool> {
    let path = model_path();
    if !path.exists() {
        eprintln!(
            "skipping: {} missing (tests/setup.sh prepares it)",
            path.display()
        );
        return None;
    }
    match AsrPool::new(&path, config) {
        Ok(pool) => Some(pool),
        Err(e) => panic!("loading {}: {e}", path.display()),
    }
}

/// `text` spoken by espeak-ng, as 8 kHz samples after a G.711 µ-law round trip.
fn telephone_speech(text: &str) -> Vec<i16> {
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.wav");
    let narrow = dir.path().join("narrow.wav");
    let spoken = Command::new("espeak-ng")
        .arg("-w")
        .arg(&wide)
        .arg(text)
        .status()
        .expect("espeak-ng (tests/setup.sh installs it)");
    assert!(spoken.success());
    let converted = Command::new("sox")
        .arg(&wide)
        .args(["-r", "8000", "-c", "1", "-b", "16"])
        .arg(&narrow)
        .status()
        .expect("sox (tests/setup.sh installs it)");
    assert!(converted.success());
    let samples: Vec<i16> = hound::WavReader::open(&narrow)
        .unwrap()
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .unwrap();
    Codec::Pcmu.decode(&Codec::Pcmu.encode(&samples))
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn job(samples: Vec<i16>) -> AsrJob {
    AsrJob {
        samples,
        prompt: None,
    }
}

#[test]
fn transcribes_telephone_speech() {
    let Some(pool) = pool(AsrConfig::default()) else {
        return;
    };
    let samples = telephone_speech(SENTENCE);
    let hinted = AsrJob {
        samples: samples.clone(),
        // A NUL byte must not reach (and panic in) the C API.
        prompt: Some("order status, billing,\0 cancel".to_string()),
    };
    for job in [job(samples), hinted] {
        let hint = job.prompt.clone();
        let transcript = pool.try_submit(job).unwrap().blocking_recv().unwrap();
        eprintln!(
            "ASR (hint {hint:?}): {:?} confidence {:.2} no-speech {:.2} in {:?}",
            transcript.text, transcript.confidence, transcript.no_speech_prob, transcript.elapsed
        );
        let heard = words(&transcript.text);
        let expected = words(SENTENCE);
        let found = expected.iter().filter(|w| heard.contains(w)).count();
        assert!(
            found * 10 >= expected.len() * 7,
            "heard {:?}, only {found} of {} words",
            transcript.text,
            expected.len()
        );
        assert!(transcript.confidence > 0.5 && transcript.confidence <= 1.0);
    }
}

#[test]
fn silence_gives_empty_text() {
    let Some(pool) = pool(AsrConfig::default()) else {
        return;
    };
    let silence = vec![0i16; 8000 * 2];
    let transcript = pool
        .try_submit(job(silence))
        .unwrap()
        .blocking_recv()
        .unwrap();
    assert_eq!(transcript.text, "");
    assert_eq!(transcript.confidence, 0.0);
}

#[test]
fn full_queue_returns_busy() {
    let config = AsrConfig {
        workers: 1,
        threads_per_worker: 1,
        queue: 1,
        ..AsrConfig::default()
    };
    let Some(pool) = pool(config) else {
        return;
    };
    // At most one job on the worker and one queued: the third cannot fit, as each takes far
    // longer than the microseconds between submissions.
    let submissions: Vec<_> = (0..3)
        .map(|_| pool.try_submit(job(vec![0i16; 8000 * 10])))
        .collect();
    let busy = submissions
        .iter()
        .filter(|s| matches!(s, Err(AsrBusy)))
        .count();
    assert!(
        busy >= 1,
        "all 3 jobs accepted by 1 worker with a queue of 1"
    );
    for accepted in submissions.into_iter().flatten() {
        assert!(accepted.blocking_recv().is_ok());
    }
}

#[test]
fn audio_ctx_covers_utterance_plus_headroom() {
    let cases = [
        (0, 64),
        (1, 65),
        (160, 65),
        (161, 66),
        (8000 * 4, 264),
        (8000 * 30, 1500),
        (usize::MAX / 100, 1500),
    ];
    for (samples, expected) in cases {
        assert_eq!(audio_ctx(samples), expected, "{samples} samples");
    }
}

#[test]
fn hallucinations_become_empty() {
    let cases = [
        ("Thank you.", ""),
        ("[BLANK_AUDIO]", ""),
        ("(silence)", ""),
        ("...", ""),
        ("you", ""),
        (" ?! ", ""),
        ("", ""),
        (
            "Thank you, I want to cancel.",
            "Thank you, I want to cancel.",
        ),
        ("Check my order.", "Check my order."),
    ];
    for (text, expected) in cases {
        assert_eq!(filter_hallucination(text), expected, "{text:?}");
    }
}

#[test]
fn repeated_sentences_collapse() {
    let cases = [
        (
            "Check my order. Check my order. Check my order.",
            "Check my order.",
        ),
        ("Check my order. Check my order. Check", "Check my order."),
        ("Yes. Yes.", "Yes."),
        ("no no", "no no"),
        ("Check my order.", "Check my order."),
        ("Check my order. Cancel it.", "Check my order. Cancel it."),
        ("", ""),
    ];
    for (text, expected) in cases {
        assert_eq!(collapse_repeats(text, false), expected, "{text:?}");
    }
    // Digits may repeat for real; only a decoder that hit its token cap is taken to loop.
    assert_eq!(collapse_repeats("1, 2, 1, 2", false), "1, 2, 1, 2");
    assert_eq!(
        collapse_repeats("1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1", true),
        "1, 2, 3, 4"
    );
}

#[test]
fn prompt_loses_nul_bytes_and_is_bounded() {
    assert_eq!(sanitize_prompt("ord\0er"), "order");
    let long = "é".repeat(MAX_PROMPT_BYTES);
    let clean = sanitize_prompt(&long);
    assert!(clean.len() <= MAX_PROMPT_BYTES && clean.len() >= MAX_PROMPT_BYTES - 1);
}

#[test]
fn token_cap_grows_with_the_utterance_and_is_bounded() {
    assert_eq!(max_tokens(0), 16);
    assert_eq!(max_tokens(8_000 * 3), 40);
    assert_eq!(max_tokens(8_000 * 60), MAX_TEXT_TOKENS);
}

#[test]
fn runs_left_by_a_loop_are_squashed() {
    assert_eq!(
        squash_runs("and you goodbye, that's all, thank you, goodbye, goodbye, goodbye, goodbye"),
        "and you goodbye, that's all, thank you, goodbye,"
    );
    assert_eq!(
        squash_runs("one two one two one two three"),
        "one two three"
    );
    assert_eq!(squash_runs("check my order"), "check my order");
}
