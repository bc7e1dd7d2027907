//! From raw per-utterance records to the per-level figures: percentiles, ASR time, real-time
//! factor, word error rate, intent accuracy, and which speech turns belong to which utterance.
//! Pure functions over plain data.

use std::time::Duration;

use super::corpus::SENTENCES;
use super::tickets::SpeechTurn;
use super::wer::WordErrors;

/// A speech turn stored this long before the utterance's first frame was sent still belongs
/// to it (the server may date a turn from its first audio frame; both clocks are this host's,
/// in whole milliseconds).
const TURN_SLACK_MS: i64 = 250;

/// One utterance, as measured on the wire and read back from the ticket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Utterance {
    /// Index into the corpus.
    pub sentence: usize,
    /// Duration of the voiced clip sent.
    pub audio: Duration,
    /// Wall-clock unix milliseconds of its first frame; `None` if it was never said.
    pub started_ms: Option<i64>,
    /// Voice-to-voice latency; `None` if voxdesk never replied.
    pub latency: Option<Duration>,
    /// Whether the reply was recognized by voice because no marker came first.
    pub by_voice: bool,
    /// Transcript (speech turns joined), if the ticket had any for it.
    pub transcript: Option<String>,
    /// ASR time summed over its speech turns.
    pub asr_ms: Option<f64>,
    /// Audio the recognizer was given, summed over its speech turns.
    pub asr_audio_ms: Option<f64>,
    /// First intent found.
    pub intent: Option<String>,
}

/// One call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRecord {
    /// SIP Call-ID (finds the ticket).
    pub call_id: String,
    /// What went wrong, if the call did not run its script to the end.
    pub failure: Option<String>,
    /// Utterances sent, in order.
    pub utterances: Vec<Utterance>,
}

/// Attaches speech turns to the utterances they transcribe: a turn belongs to the last
/// utterance started (minus [`TURN_SLACK_MS`]) at or before its time. Turns before the first
/// utterance, without a time, or that the dialplan dismissed as noise are dropped.
pub fn attach_turns(utterances: &mut [Utterance], turns: &[SpeechTurn]) {
    for turn in turns {
        if turn.outcome.as_deref() == Some("noise") {
            continue;
        }
        let Some(at) = turn.at_ms else { continue };
        let owner = utterances.iter_mut().rev().find(|u| {
            u.started_ms
                .is_some_and(|start| start - TURN_SLACK_MS <= at)
        });
        let Some(owner) = owner else { continue };
        owner.transcript = Some(match owner.transcript.take() {
            Some(before) => format!("{before} {}", turn.text),
            None => turn.text.clone(),
        });
        let add = |sum: Option<f64>, ms: Option<f64>| match (sum, ms) {
            (sum, Some(ms)) => Some(sum.unwrap_or(0.0) + ms),
            (sum, None) => sum,
        };
        owner.asr_ms = add(owner.asr_ms, turn.asr_ms);
        owner.asr_audio_ms = add(owner.asr_audio_ms, turn.speech_ms);
        if owner.intent.is_none() {
            owner.intent.clone_from(&turn.intent);
        }
    }
}

/// Nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// p50, p95, max of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// `None` for an empty sample.
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.sort_by(f64::total_cmp);
        Some(Spread {
            p50: percentile(&values, 50.0)?,
            p95: percentile(&values, 95.0)?,
            max: *values.last()?,
        })
    }
}

/// The figures of one concurrency level.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Calls at once.
    pub concurrency: usize,
    /// Calls placed.
    pub calls: usize,
    /// Calls that did not complete their script.
    pub failed_calls: usize,
    /// Utterances sent.
    pub utterances: usize,
    /// Utterances voxdesk never replied to.
    pub unanswered: usize,
    /// Utterances with no speech turn in the ticket.
    pub untranscribed: usize,
    /// Replies recognized by voice because no marker came first.
    pub by_voice: usize,
    /// Voice-to-voice latency, ms.
    pub latency_ms: Option<Spread>,
    /// ASR time per utterance, ms.
    pub asr_ms: Option<Spread>,
    /// Total ASR time / total audio given to the recognizer (the clip's length where the
    /// ticket does not say).
    pub rtf: Option<f64>,
    /// Word errors over transcribed utterances (an untranscribed one counts all its words).
    pub words: WordErrors,
    /// (right, labelled) over transcribed utterances whose sentence has an intent label.
    pub intents: (usize, usize),
}

impl Level {
    /// Aggregates the calls of one level.
    pub fn of(concurrency: usize, calls: &[CallRecord]) -> Level {
        let utterances: Vec<&Utterance> = calls.iter().flat_map(|c| &c.utterances).collect();
        let latencies = utterances
            .iter()
            .filter_map(|u| u.latency)
            .map(|l| l.as_secs_f64() * 1000.0)
            .collect();
        let transcribed: Vec<&&Utterance> = utterances
            .iter()
            .filter(|u| u.transcript.is_some())
            .collect();
        let asr: Vec<f64> = transcribed.iter().filter_map(|u| u.asr_ms).collect();
        let timed_audio: f64 = transcribed
            .iter()
            .filter(|u| u.asr_ms.is_some())
            .map(|u| u.asr_audio_ms.unwrap_or(u.audio.as_secs_f64() * 1000.0))
            .sum();
        let words = utterances.iter().fold(WordErrors::default(), |sum, u| {
            let reference = SENTENCES.get(u.sentence).map_or("", |s| s.text);
            sum.add(WordErrors::of(
                reference,
                u.transcript.as_deref().unwrap_or(""),
            ))
        });
        let labelled: Vec<(Option<&str>, Option<&str>)> = transcribed
            .iter()
            .filter_map(|u| {
                let expected = SENTENCES.get(u.sentence)?.intent?;
                Some((Some(expected), u.intent.as_deref()))
            })
            .collect();
        let right = labelled.iter().filter(|(e, got)| e == got).count();
        Level {
            concurrency,
            calls: calls.len(),
            failed_calls: calls.iter().filter(|c| c.failure.is_some()).count(),
            utterances: utterances.len(),
            unanswered: utterances.iter().filter(|u| u.latency.is_none()).count(),
            untranscribed: utterances.len() - transcribed.len(),
            by_voice: utterances.iter().filter(|u| u.by_voice).count(),
            latency_ms: Spread::of(latencies),
            rtf: (timed_audio > 0.0).then(|| asr.iter().sum::<f64>() / timed_audio),
            asr_ms: Spread::of(asr),
            words,
            intents: (right, labelled.len()),
        }
    }

    /// Whether this level kept voice-to-voice p95 within `limit_ms` with every call completed
    /// and every utterance answered.
    pub fn within(&self, limit_ms: f64) -> bool {
        self.failed_calls == 0
            && self.unanswered == 0
            && self.latency_ms.is_some_and(|l| l.p95 <= limit_ms)
    }
}

/// The largest concurrency that stayed within `limit_ms`.
pub fn largest_within(levels: &[Level], limit_ms: f64) -> Option<usize> {
    levels
        .iter()
        .filter(|l| l.within(limit_ms))
        .map(|l| l.concurrency)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(at_ms: i64, text: &str, asr_ms: f64, intent: Option<&str>) -> SpeechTurn {
        SpeechTurn {
            at_ms: Some(at_ms),
            text: text.into(),
            asr_ms: Some(asr_ms),
            speech_ms: None,
            intent: intent.map(str::to_string),
            outcome: Some("intent".into()),
        }
    }

    fn utterance(sentence: usize, started_ms: i64, latency_ms: Option<u64>) -> Utterance {
        Utterance {
            sentence,
            audio: Duration::from_millis(2000),
            started_ms: Some(started_ms),
            latency: latency_ms.map(Duration::from_millis),
            ..Utterance::default()
        }
    }

    #[test]
    fn percentile_table() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let cases = [
            (50.0, Some(5.0)),
            (95.0, Some(10.0)),
            (0.0, Some(1.0)),
            (100.0, Some(10.0)),
        ];
        for (p, expected) in cases {
            assert_eq!(percentile(&ten, p), expected, "p{p}");
        }
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        let spread = Spread::of(vec![5.0, 1.0, 3.0]);
        assert_eq!(
            spread,
            Some(Spread {
                p50: 3.0,
                p95: 5.0,
                max: 5.0
            })
        );
    }

    #[test]
    fn turns_go_to_the_utterance_they_follow() {
        let unsaid = Utterance {
            started_ms: None,
            ..utterance(2, 0, None)
        };
        let mut utterances = vec![
            utterance(0, 10_000, Some(900)),
            utterance(1, 20_000, Some(900)),
            unsaid,
        ];
        let turns = [
            turn(5_000, "greeting echo", 1.0, None),
            turn(12_000, "I want to check", 100.0, None),
            turn(12_500, "the status of my order", 50.0, Some("order_status")),
            turn(
                19_900,
                "I would like to return an item",
                80.0,
                Some("returns"),
            ),
            SpeechTurn {
                at_ms: None,
                ..turn(0, "lost", 1.0, None)
            },
            SpeechTurn {
                outcome: Some("noise".into()),
                speech_ms: Some(100.0),
                ..turn(13_000, "noise", 1.0, None)
            },
        ];
        attach_turns(&mut utterances, &turns);
        assert_eq!(
            utterances[0].transcript.as_deref(),
            Some("I want to check the status of my order")
        );
        assert_eq!(utterances[0].asr_ms, Some(150.0));
        assert_eq!(utterances[0].asr_audio_ms, None);
        assert_eq!(utterances[0].intent.as_deref(), Some("order_status"));
        assert_eq!(
            utterances[1].transcript.as_deref(),
            Some("I would like to return an item")
        );
        assert_eq!(utterances[2].transcript, None);
    }

    #[test]
    fn level_figures() {
        let mut answered = vec![utterance(0, 0, Some(800)), utterance(4, 10_000, Some(1200))];
        attach_turns(
            &mut answered,
            &[
                turn(
                    1_000,
                    "I want to check the status of my order",
                    500.0,
                    Some("order_status"),
                ),
                turn(
                    11_000,
                    "My order number is 1234",
                    300.0,
                    Some("order_status"),
                ),
            ],
        );
        let mut unanswered = vec![utterance(1, 0, None)];
        let heard = SpeechTurn {
            speech_ms: Some(3000.0),
            ..turn(
                1_000,
                "I would like to return an item",
                200.0,
                Some("agent"),
            )
        };
        attach_turns(&mut unanswered, &[heard]);
        let calls = [
            CallRecord {
                call_id: "a".into(),
                failure: None,
                utterances: answered,
            },
            CallRecord {
                call_id: "b".into(),
                failure: Some("voxdesk hung up".into()),
                utterances: unanswered,
            },
            CallRecord {
                call_id: "c".into(),
                failure: Some("no greeting".into()),
                utterances: vec![],
            },
        ];
        let level = Level::of(3, &calls);
        assert_eq!(
            (level.calls, level.failed_calls, level.utterances),
            (3, 2, 3)
        );
        assert_eq!((level.unanswered, level.untranscribed), (1, 0));
        assert_eq!(
            level.latency_ms,
            Some(Spread {
                p50: 800.0,
                p95: 1200.0,
                max: 1200.0
            })
        );
        assert_eq!(level.asr_ms.map(|s| s.p50), Some(300.0));
        assert_eq!(level.rtf, Some(1000.0 / 7000.0));
        assert_eq!(
            level.words,
            WordErrors {
                errors: 0,
                reference_words: 24
            }
        );
        // Sentence 4 has no label; sentence 1 expected `returns`, got `agent`.
        assert_eq!(level.intents, (1, 2));
        assert!(!level.within(1500.0));
    }

    #[test]
    fn largest_level_within_the_limit() {
        let level = |concurrency, latency| {
            let calls = [CallRecord {
                call_id: String::new(),
                failure: None,
                utterances: vec![utterance(0, 0, latency)],
            }];
            Level::of(concurrency, &calls)
        };
        let levels = [
            level(1, Some(900)),
            level(2, Some(1500)),
            level(4, Some(1501)),
            level(8, None),
        ];
        assert_eq!(largest_within(&levels, 1500.0), Some(2));
        assert_eq!(largest_within(&levels[2..], 1500.0), None);
    }
}
