//! A call's history: the dialplan's records become ticket turns (and the live view's current
//! step), so the call task itself only decides what happens next.
//!
//! A speech turn is held back until the bot's reply starts playing, so that it carries the
//! whole timing (end of speech → transcript → first reply packet); it is stamped with the end
//! of speech, so it still sorts before the turns written meanwhile.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::listen::HeardTiming;
use super::Registry;
use crate::bot::Sentiment;
use crate::dialplan::{self, TurnRecord};
use crate::sip::endpoint::CallKey;
use crate::speech::asr::Transcript;
use crate::tickets::{
    Disposition, HandlingUpdate, TicketId, TicketStore, Timestamp, Turn, TurnKind,
};

/// Where one call's history goes.
pub(super) struct CallLog {
    pub(super) tickets: TicketStore,
    pub(super) ticket: TicketId,
    pub(super) registry: Registry,
    pub(super) key: CallKey,
    /// Timing of the utterance the interpreter is about to record.
    pub(super) heard: Option<HeardTiming>,
    /// A speech turn waiting for the reply's first packet.
    pub(super) pending_speech: Option<(Turn, HeardTiming)>,
    /// The caller's turns' sentiments so far, for the call's roll-up (the first
    /// [`MAX_SENTIMENT_TURNS`]).
    pub(super) sentiments: Vec<Sentiment>,
}

/// Caller turns a call's sentiment roll-up reads; a call has rarely more than a few dozen.
const MAX_SENTIMENT_TURNS: usize = 256;

/// Milliseconds, for ticket JSON.
fn ms_i64(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl CallLog {
    /// Appends one turn to the ticket.
    pub(super) fn turn(&self, kind: TurnKind, text: impl Into<String>, data: serde_json::Value) {
        self.tickets.add_turn(
            self.ticket,
            Turn::new(Timestamp::now(), kind, text).with_data(data),
        );
    }

    /// The bot's reply started playing at `now`: completes and writes a held speech turn.
    /// Records a step of the human part of the call on the ticket.
    pub(super) fn handling(&self, update: HandlingUpdate) {
        self.tickets.handling(self.ticket, update);
    }

    pub(super) fn reply_started(&mut self, now: Instant) {
        if let Some((mut turn, timing)) = self.pending_speech.take() {
            let timings = turn
                .extras
                .get_mut("timings")
                .and_then(Value::as_object_mut);
            if let Some(timings) = timings {
                let reply = now.saturating_duration_since(timing.transcript_at);
                let voice_to_voice = now.saturating_duration_since(timing.speech_end);
                timings.insert("transcript_to_reply_ms".into(), json!(ms(reply)));
                timings.insert("speech_end_to_reply_ms".into(), json!(ms(voice_to_voice)));
            }
            self.tickets.add_turn(self.ticket, turn);
        }
    }

    /// Writes a held speech turn without reply timing (no reply came).
    pub(super) fn flush(&mut self) {
        if let Some((turn, _)) = self.pending_speech.take() {
            self.tickets.add_turn(self.ticket, turn);
        }
    }

    /// Writes the call's sentiment roll-up, if the caller said anything.
    pub(super) fn summarize_sentiment(&self) {
        if self.sentiments.is_empty() {
            return;
        }
        let summary = serde_json::to_value(crate::bot::summarize(&self.sentiments))
            .unwrap_or(serde_json::Value::Null);
        self.tickets.set_sentiment(self.ticket, &summary);
    }

    fn understood(&mut self, heard: dialplan::Understanding) {
        self.flush();
        if let Some(sentiment) = &heard.sentiment {
            if self.sentiments.len() < MAX_SENTIMENT_TURNS {
                self.sentiments.push(sentiment.clone());
            }
        }
        let timing = self.heard.take();
        let now = Instant::now();
        let at = match timing {
            Some(t) => {
                let ago = now.saturating_duration_since(t.speech_end);
                Timestamp::from_unix_millis(
                    Timestamp::now().unix_millis() - i64::try_from(ms(ago)).unwrap_or(0),
                )
            }
            None => Timestamp::now(),
        };
        let mut extras = Map::new();
        extras.insert("asr_confidence".into(), json!(round3(heard.asr_confidence)));
        extras.insert("intent".into(), json!(heard.intent));
        extras.insert(
            "intent_confidence".into(),
            json!(round3(heard.intent_confidence)),
        );
        extras.insert("entities".into(), json!(heard.entities));
        if let Some(sentiment) = &heard.sentiment {
            extras.insert(
                "sentiment".into(),
                json!({
                    "polarity": sentiment.polarity,
                    "score": round3(sentiment.score),
                    "emotion": sentiment.emotion,
                    "emotion_confidence": round3(sentiment.emotion_confidence),
                }),
            );
        }
        let candidates: Vec<_> = heard
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let reply = heard.replies.get(i).cloned().flatten();
                json!({"intent": c.intent, "confidence": round3(c.confidence), "reply": reply})
            })
            .collect();
        extras.insert("candidates".into(), json!(candidates));
        if let Some(article) = &heard.article {
            extras.insert("faq_article".into(), json!(article));
        }
        if let Some(faq) = &heard.faq_answer {
            extras.insert(
                "faq_answer".into(),
                json!({"article": faq.article, "answer": faq.answer, "confidence": round3(faq.confidence)}),
            );
        }
        extras.insert("speaker".into(), json!("caller"));
        extras.insert("outcome".into(), json!(heard.outcome));
        if let Some(t) = timing {
            extras.insert(
                "timings".into(),
                json!({
                    "speech_ms": ms(t.audio),
                    "asr_ms": ms(t.asr),
                    "speculative": t.speculative,
                    "speech_end_to_transcript_ms":
                        ms(t.transcript_at.saturating_duration_since(t.speech_end)),
                }),
            );
        }
        let mut turn = Turn::new(at, TurnKind::Other("speech".into()), heard.text);
        turn.data = json!({"step": heard.step});
        turn.extras = extras;
        match timing {
            // Only a turn that leads to a reply waits for it.
            Some(t) if !matches!(heard.outcome, "noise" | "ignored" | "with-agent") => {
                self.pending_speech = Some((turn, t));
            }
            _ => self.tickets.add_turn(self.ticket, turn),
        }
    }

    /// The bridged agent said something (agent assist): an `agent-speech` turn, stamped with
    /// the end of the agent's speech. Noise is not written.
    pub(super) fn agent_heard(
        &self,
        agent: &str,
        transcript: &Transcript,
        timing: &HeardTiming,
        now: Instant,
    ) {
        let ago = now.saturating_duration_since(timing.speech_end);
        let at = Timestamp::from_unix_millis(
            Timestamp::now().unix_millis() - i64::try_from(ms(ago)).unwrap_or(0),
        );
        if let Some(turn) = agent_turn(agent, transcript, timing, at) {
            crate::metrics::global().asr_utterances.inc();
            self.tickets.add_turn(self.ticket, turn);
        }
    }

    /// Writes one interpreter record.
    pub(super) fn record(&mut self, rec: TurnRecord) {
        match rec {
            TurnRecord::Understood(heard) => self.understood(*heard),
            TurnRecord::SpeechUnavailable { step } => self.turn(
                TurnKind::Note,
                "speech recognition unavailable: keys only",
                json!({"step": step}),
            ),
            TurnRecord::StepEntered { label, kind, step } => {
                let name = label.clone().unwrap_or_else(|| format!("#{step}"));
                self.registry
                    .update(self.key, |c| c.step = Some(name.clone()));
                self.turn(TurnKind::Step, name, json!({"step": step, "kind": kind}));
            }
            TurnRecord::Prompt { id, text } => {
                self.turn(TurnKind::Prompt, text, json!({"prompt_id": id.0}))
            }
            TurnRecord::PromptFile { id, path } => self.turn(
                TurnKind::Prompt,
                path.display().to_string(),
                json!({"prompt_id": id.0, "file": path.display().to_string()}),
            ),
            TurnRecord::PromptSkipped { step } => self.turn(
                TurnKind::Note,
                "prompt skipped: caller typed ahead",
                json!({"step": step}),
            ),
            TurnRecord::BargeIn { id } => {
                self.turn(TurnKind::Note, "barge-in", json!({"prompt_id": id.0}))
            }
            TurnRecord::Dtmf { digit } => {
                self.tickets.add_digits(self.ticket, &digit.to_string());
                self.turn(
                    TurnKind::Dtmf,
                    digit.to_string(),
                    json!({"digit": digit.to_string()}),
                );
            }
            TurnRecord::MenuChoice {
                step,
                digit,
                target,
            } => self.turn(
                TurnKind::Menu,
                format!("{digit} -> {target}"),
                json!({"step": step, "digit": digit.to_string(), "branch": target}),
            ),
            TurnRecord::InvalidInput {
                step,
                input,
                attempt,
            } => self.turn(
                TurnKind::Note,
                format!("invalid input {input:?}"),
                json!({"step": step, "input": input, "attempt": attempt}),
            ),
            TurnRecord::NoInput { step, attempt } => self.turn(
                TurnKind::Note,
                "no input",
                json!({"step": step, "attempt": attempt}),
            ),
            TurnRecord::Collected { var, value } => self.turn(
                TurnKind::Collect,
                format!("{var}={value}"),
                json!({"var": var, "value": value}),
            ),
            TurnRecord::VarSet { var, value } => self.turn(
                TurnKind::Note,
                format!("{var}={value}"),
                json!({"var": var, "value": value}),
            ),
            TurnRecord::Transfer { target } => self.turn(
                TurnKind::Transfer,
                format!("REFER to {target}"),
                json!({"target": target, "method": "REFER"}),
            ),
            TurnRecord::TransferFailed { reason } => self.turn(
                TurnKind::Transfer,
                format!("transfer failed: {reason}"),
                json!({"reason": reason}),
            ),
            TurnRecord::Http(http) => self.http(*http),
            TurnRecord::Ticket { priority, subject } => {
                if let Some(priority) = priority {
                    self.tickets.set_priority(self.ticket, priority);
                }
                if let Some(subject) = &subject {
                    self.tickets.set_subject(self.ticket, subject);
                }
                let said = [
                    priority.map(|p| format!("priority {}", p.as_str())),
                    subject.as_ref().map(|s| format!("subject {s:?}")),
                ];
                let text = said.into_iter().flatten().collect::<Vec<_>>().join(", ");
                self.turn(
                    TurnKind::Note,
                    format!("ticket: {text}"),
                    json!({"priority": priority.map(|p| p.as_str()), "subject": subject}),
                )
            }
            TurnRecord::Queued {
                step,
                name,
                priority,
                skill,
            } => {
                self.handling(HandlingUpdate::Queued(name.clone()));
                self.turn(
                    TurnKind::Other("queue".into()),
                    format!("queued in {name} (priority {priority})"),
                    json!({"step": step, "queue": name, "priority": priority, "skill": skill}),
                )
            }
            TurnRecord::QueueLeft { name, exit, waited } => {
                self.handling(HandlingUpdate::QueueLeft {
                    wait_ms: ms_i64(waited),
                });
                self.turn(
                    TurnKind::Other("queue".into()),
                    format!("left {name}: {}", exit.as_str()),
                    json!({"queue": name, "exit": exit.as_str(), "waited_ms": ms(waited)}),
                )
            }
            TurnRecord::AgentAnswered { agent, waited } => {
                self.handling(HandlingUpdate::AgentAnswered(agent.clone()));
                self.handling(HandlingUpdate::QueueLeft {
                    wait_ms: ms_i64(waited),
                });
                self.turn(
                    TurnKind::Transfer,
                    format!("answered by {agent}"),
                    json!({"agent": agent, "waited_ms": ms(waited)}),
                )
            }
            TurnRecord::AgentHungUp { agent, talked } => self.turn(
                TurnKind::Note,
                format!("{agent} hung up"),
                json!({"agent": agent, "talked_ms": ms(talked)}),
            ),
            TurnRecord::Csat { score } => {
                self.handling(HandlingUpdate::Csat(score));
                self.turn(
                    TurnKind::Other("csat".into()),
                    format!("satisfaction {score}/5"),
                    json!({"score": score}),
                )
            }
            TurnRecord::Hangup {
                disposition,
                reason,
            } => self.turn(
                TurnKind::Note,
                format!("hangup: {reason}"),
                json!({"disposition": map_disposition(disposition).as_str()}),
            ),
        }
    }
}

impl CallLog {
    /// `http` turn: `GET <url> -> 200 (35 ms)` or `... -> failed: why`.
    fn http(&self, http: dialplan::HttpRecord) {
        let method = http.method.as_str();
        let ms = http.elapsed.map(ms);
        let result = match (&http.error, http.status) {
            (None, Some(status)) => status.to_string(),
            (None, None) => "ok".to_string(),
            (Some(error), _) => format!("failed: {error}"),
        };
        let took = ms.map(|ms| format!(" ({ms} ms)")).unwrap_or_default();
        self.turn(
            TurnKind::Other("http".into()),
            format!("{method} {} -> {result}{took}", http.url),
            json!({
                "step": http.step,
                "method": method,
                "url": http.url,
                "ok": http.ok,
                "status": http.status,
                "ms": ms,
                "attempts": http.attempts,
                "error": http.error,
            }),
        );
    }
}

/// Kind of the turns that hold what the bridged agent said.
pub(super) const AGENT_SPEECH: &str = "agent-speech";

/// The ticket turn for one utterance of the agent, at `at`; `None` for noise.
pub(super) fn agent_turn(
    agent: &str,
    transcript: &Transcript,
    timing: &HeardTiming,
    at: Timestamp,
) -> Option<Turn> {
    if transcript.is_noise() {
        return None;
    }
    let mut turn = Turn::new(
        at,
        TurnKind::Other(AGENT_SPEECH.into()),
        transcript.text.trim(),
    );
    turn.data = json!({"agent": agent});
    let extras = [
        ("speaker", json!("agent")),
        ("agent", json!(agent)),
        ("asr_confidence", json!(round3(transcript.confidence))),
        (
            "timings",
            json!({
                "speech_ms": ms(timing.audio),
                "asr_ms": ms(timing.asr),
                "speculative": timing.speculative,
                "speech_end_to_transcript_ms":
                    ms(timing.transcript_at.saturating_duration_since(timing.speech_end)),
            }),
        ),
    ];
    turn.extras = extras.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Some(turn)
}

/// The ticket's word for how a dialplan ended a call.
pub(super) fn map_disposition(d: dialplan::Disposition) -> Disposition {
    match d {
        dialplan::Disposition::Completed => Disposition::Completed,
        dialplan::Disposition::NoInput => Disposition::NoInput,
        dialplan::Disposition::Failed => Disposition::Failed,
        dialplan::Disposition::Transferred => Disposition::Transferred,
    }
}

/// Three decimals are plenty for a confidence and keep the JSON readable.
fn round3(x: f32) -> f64 {
    (f64::from(x) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(base: Instant) -> HeardTiming {
        HeardTiming {
            speech_end: base,
            transcript_at: base + Duration::from_millis(420),
            asr: Duration::from_millis(380),
            audio: Duration::from_millis(2100),
            speculative: true,
        }
    }

    fn transcript(text: &str, confidence: f32, no_speech_prob: f32) -> Transcript {
        Transcript {
            text: text.into(),
            confidence,
            no_speech_prob,
            elapsed: Duration::from_millis(380),
        }
    }

    #[test]
    fn an_agent_utterance_is_an_agent_speech_turn() {
        let at = Timestamp::from_unix_millis(1_700_000_000_000);
        let heard = transcript(" I can see your order here. ", 0.91234, 0.01);
        let turn = agent_turn("alice", &heard, &timing(Instant::now()), at).expect("a turn");
        let json = serde_json::to_value(&turn).expect("serializes");
        assert_eq!(json["kind"], "agent-speech");
        assert_eq!(json["text"], "I can see your order here.");
        assert_eq!(json["speaker"], "agent");
        assert_eq!(json["agent"], "alice");
        assert_eq!(json["data"]["agent"], "alice");
        assert_eq!(json["asr_confidence"], 0.912);
        assert_eq!(
            json["timings"],
            json!({"speech_ms": 2100, "asr_ms": 380, "speculative": true,
                   "speech_end_to_transcript_ms": 420})
        );
        assert_eq!(turn.at, at);
    }

    #[test]
    fn agent_noise_writes_nothing() {
        let cases = [transcript("", 0.9, 0.0), transcript("uh", 0.1, 0.95)];
        for heard in cases {
            let turn = agent_turn("alice", &heard, &timing(Instant::now()), Timestamp::now());
            assert!(turn.is_none(), "{heard:?}");
        }
    }
}
