//! Model checks behind `voxdesk models verify` and `voxdesk models transcribe`.
//!
//! [`verify`] proves a ggml Whisper file works end to end the way calls use it: a known
//! sentence spoken by espeak-ng, squeezed through a G.711 µ-law round trip (the telephone
//! path), transcribed by an [`AsrPool`], and compared word by word with [`words_wrong`].
//! A converter bug (wrong hyper-parameters, tokens or tensor layout) shows up here as garbage
//! or silence rather than as a crash, so the transcript is what gets checked.

use std::path::Path;

use super::asr::{AsrBusy, AsrConfig, AsrError, AsrJob, AsrPool, Transcript};
use super::tts::{self, TtsError};
use crate::media::Codec;

/// The sentence [`verify`] speaks: call-centre words, no numbers (which Whisper may write as
/// digits or words). Chosen because tiny.en and base both hear espeak-ng say it word for word
/// through µ-law; "Please check the status of my order." comes back as "Please check my status
/// on my order." (tiny.en) and "Clean technical status of my order" (base).
pub const VERIFY_SENTENCE: &str = "I would like to change my delivery address.";
/// Words of [`VERIFY_SENTENCE`] that may be missing, extra or misheard.
pub const MAX_WRONG_WORDS: usize = 1;
const VERIFY_VOICE: &str = "en-us";
/// Longest word lists [`words_wrong`] compares; the work is their product.
const MAX_COMPARED_WORDS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Load(#[from] AsrError),
    #[error("speaking the test sentence: {0}")]
    Speak(TtsError),
    #[error("{path}: {source}")]
    Audio { path: String, source: TtsError },
    #[error(transparent)]
    Busy(#[from] AsrBusy),
    #[error("the transcription failed (the model loaded but whisper.cpp returned an error)")]
    Transcription,
    #[error(
        "heard {heard:?} but said {said:?}: {wrong} words wrong, at most {MAX_WRONG_WORDS} allowed"
    )]
    Misheard {
        said: String,
        heard: String,
        wrong: usize,
    },
}

/// Speaks [`VERIFY_SENTENCE`], sends it through µ-law and transcribes it with the model at
/// `model`; the transcript when it matches the sentence.
pub fn verify(model: &Path) -> Result<Transcript, VerifyError> {
    let speech = tts::synthesize(VERIFY_SENTENCE, VERIFY_VOICE, tts::DEFAULT_RATE_WPM)
        .map_err(VerifyError::Speak)?;
    let pool = pool(model)?;
    let transcript = transcribe(&pool, ulaw_round_trip(&speech))?;
    let wrong = words_wrong(VERIFY_SENTENCE, &transcript.text);
    if wrong > MAX_WRONG_WORDS {
        return Err(VerifyError::Misheard {
            said: VERIFY_SENTENCE.to_owned(),
            heard: transcript.text,
            wrong,
        });
    }
    Ok(transcript)
}

/// Transcribes WAV files (any rate and channel count; see [`super::wav::decode_wav`]) with one
/// model load, calling `each(path, result)` as each finishes. Whisper hears the first 30 s.
pub fn transcribe_files<'a>(
    model: &Path,
    files: &'a [std::path::PathBuf],
    mut each: impl FnMut(&'a Path, Result<Transcript, VerifyError>),
) -> Result<(), VerifyError> {
    let pool = pool(model)?;
    for path in files {
        let result = std::fs::File::open(path)
            .map_err(TtsError::Io)
            .and_then(|file| super::wav::decode_wav(std::io::BufReader::new(file)))
            .map_err(|source| VerifyError::Audio {
                path: path.display().to_string(),
                source,
            })
            .and_then(|samples| transcribe(&pool, samples));
        each(path, result);
    }
    Ok(())
}

/// One worker with two threads: what a small deployment runs.
fn pool(model: &Path) -> Result<AsrPool, AsrError> {
    let config = AsrConfig {
        workers: 1,
        threads_per_worker: 2,
        queue: 1,
        ..AsrConfig::default()
    };
    AsrPool::new(model, config)
}

/// Blocks until `samples` (8 kHz) are transcribed; only for threads outside tokio.
fn transcribe(pool: &AsrPool, samples: Vec<i16>) -> Result<Transcript, VerifyError> {
    let reply = pool.try_submit(AsrJob {
        samples,
        prompt: None,
    })?;
    reply
        .blocking_recv()
        .map_err(|_| VerifyError::Transcription)
}

/// What the caller's words sound like after a PCMU call leg.
pub fn ulaw_round_trip(samples: &[i16]) -> Vec<i16> {
    Codec::Pcmu.decode(&Codec::Pcmu.encode(samples))
}

/// Lowercase words with punctuation removed (`"Order."` → `order`, `"don't"` → `dont`).
pub fn normalized_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|word| !word.is_empty())
        .take(MAX_COMPARED_WORDS)
        .collect()
}

/// How many words of `said` were missed, misheard or wrongly inserted, finding `said` anywhere
/// in `heard` (words Whisper adds before or after the sentence do not count): the smallest
/// word-level edit distance between `said` and any run of words in `heard`.
pub fn words_wrong(said: &str, heard: &str) -> usize {
    let said = normalized_words(said);
    let heard = normalized_words(heard);
    // `row[j]`: the cost of matching the words of `said` so far, ending just before heard[j].
    // Starting anywhere in `heard` is free, so the first row is all zeros.
    let mut row = vec![0usize; heard.len() + 1];
    for (i, said_word) in said.iter().enumerate() {
        let mut diagonal = row.first().copied().unwrap_or(0);
        let mut previous = i + 1;
        let mut next = Vec::with_capacity(row.len());
        next.push(previous);
        for (heard_word, &above) in heard.iter().zip(row.iter().skip(1)) {
            let substitute = diagonal + usize::from(said_word != heard_word);
            let cost = substitute.min(above + 1).min(previous + 1);
            diagonal = above;
            previous = cost;
            next.push(cost);
        }
        row = next;
    }
    // Ending anywhere in `heard` is free too.
    row.into_iter().min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_punctuation() {
        assert_eq!(
            normalized_words("  Please CHECK the status, of my order... Don't!"),
            ["please", "check", "the", "status", "of", "my", "order", "dont"]
        );
        assert!(normalized_words(" ... - ").is_empty());
    }

    #[test]
    fn counts_wrong_words() {
        let said = "Please check the status of my order.";
        let cases = [
            ("Please check the status of my order.", 0),
            ("please check the status of my order", 0),
            ("Okay. Please check the status of my order. Thank you.", 0),
            ("Please check the status of the order.", 1),
            ("Please check status of my order.", 1),
            ("Please check the current status of my order.", 1),
            ("Please check the status of my", 1),
            ("Please check the state of my border.", 2),
            ("check status my order", 3),
            ("", 7),
            ("Thank you.", 7),
        ];
        for (heard, wrong) in cases {
            assert_eq!(words_wrong(said, heard), wrong, "heard {heard:?}");
        }
    }

    #[test]
    fn nothing_said_is_never_wrong() {
        assert_eq!(words_wrong("", "anything at all"), 0);
        assert_eq!(words_wrong("...", ""), 0);
    }

    #[test]
    fn ulaw_round_trip_keeps_length_and_shape() {
        let tone: Vec<i16> = (0..160i16).map(|i| (i - 80) * 300).collect();
        let heard = ulaw_round_trip(&tone);
        assert_eq!(heard.len(), tone.len());
        for (a, b) in tone.iter().zip(&heard) {
            // µ-law keeps about 4 significant bits: error within ~1/16 of the magnitude.
            assert!((i32::from(*a) - i32::from(*b)).abs() <= i32::from(a.unsigned_abs() / 16) + 8);
        }
    }

    #[test]
    fn the_setup_model_hears_the_sentence() {
        let model =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/ggml-tiny.en.bin");
        if !model.exists() {
            eprintln!(
                "skipping: {} missing (tests/setup.sh prepares it)",
                model.display()
            );
            return;
        }
        // espeak-ng output varies slightly with what other tests ran before (its state is
        // global), so these allow what `verify` allows rather than an exact transcript.
        let heard = verify(&model).unwrap_or_else(|e| panic!("{e}"));
        assert!(heard.confidence > 0.5, "{heard:?}");

        let dir = tempfile::tempdir().unwrap();
        let files = [
            dir.path().join("missing.wav"),
            dir.path().join("speech.wav"),
        ];
        let speech = tts::synthesize(VERIFY_SENTENCE, VERIFY_VOICE, 160).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: crate::media::SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut wav = hound::WavWriter::create(&files[1], spec).unwrap();
        for sample in ulaw_round_trip(&speech) {
            wav.write_sample(sample).unwrap();
        }
        wav.finalize().unwrap();
        let mut results = Vec::new();
        transcribe_files(&model, &files, |_, result| results.push(result)).unwrap();
        assert!(matches!(results[0], Err(VerifyError::Audio { .. })));
        let text = &results[1].as_ref().unwrap().text;
        assert!(
            words_wrong(VERIFY_SENTENCE, text) <= MAX_WRONG_WORDS,
            "{text:?}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_model_fails_to_load() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.bin");
        std::fs::write(&model, b"not a ggml file").unwrap();
        assert!(matches!(verify(&model), Err(VerifyError::Load(_))));
        let files = [dir.path().join("missing.wav")];
        let outcome = transcribe_files(&model, &files, |_, _| panic!("nothing to transcribe"));
        assert!(matches!(outcome, Err(VerifyError::Load(_))));
    }

    proptest::proptest! {
        #[test]
        fn word_matching_is_bounded(said in "\\PC{0,80}", heard in "\\PC{0,80}") {
            let wrong = words_wrong(&said, &heard);
            proptest::prop_assert!(wrong <= normalized_words(&said).len());
            proptest::prop_assert_eq!(words_wrong(&said, &said), 0);
        }
    }
}
