//! The interpreter's `csat` step: an input step (prompt, then keys and speech, retries) whose
//! answer is a score from 1 to 5. A key outside 1-5 or words without such a number are invalid
//! input; when the attempts run out the call goes on to `next` with nothing recorded (see
//! `Interp::fail`).

use std::time::Instant;

use super::{Failure, Flow, InputRun, Interp, Phase, State};
use crate::dialplan::csat::{csat_key, csat_spoken, CsatStep, CSAT_HINTS, CSAT_VAR};
use crate::dialplan::events::{Action, TurnRecord, Understanding};

impl Interp {
    pub(super) fn begin_csat(&mut self, step: usize, now: Instant) -> Flow {
        if self.speech_available {
            self.listening = true;
            self.push(Action::Listen {
                hints: CSAT_HINTS.into(),
            });
        }
        self.begin_attempt(step, 0, now)
    }

    /// A key: a score, or invalid input.
    pub(super) fn csat_keyed(
        &mut self,
        run: &InputRun,
        csat: &CsatStep,
        digit: char,
        now: Instant,
    ) -> Flow {
        match csat_key(digit) {
            Some(score) => self.csat_scored(run.step, csat, score),
            None => {
                self.record(TurnRecord::InvalidInput {
                    step: run.step,
                    input: digit.to_string(),
                    attempt: run.failures + 1,
                });
                self.fail(run.step, run.failures, Failure::Invalid, now)
            }
        }
    }

    /// An utterance: a score, invalid input, or noise (which changes nothing).
    pub(super) fn csat_heard(
        &mut self,
        mut run: InputRun,
        csat: &CsatStep,
        text: &str,
        confidence: f32,
        now: Instant,
    ) {
        let text = text.trim();
        let mut heard = Understanding {
            step: run.step,
            text: text.to_owned(),
            asr_confidence: confidence,
            intent: None,
            intent_confidence: 0.0,
            entities: Default::default(),
            sentiment: None,
            candidates: Vec::new(),
            article: None,
            outcome: "noise",
            replies: Vec::new(),
            faq_answer: None,
        };
        if let Phase::Prompting { id, .. } = run.phase {
            if !csat.input.barge_in {
                heard.outcome = "ignored";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.state = State::Input(run);
                return;
            }
            self.stop_prompt(id);
        }
        if text.is_empty() {
            run.phase = Phase::Listening {
                deadline: now + csat.input.timeout,
            };
            self.record(TurnRecord::Understood(Box::new(heard)));
            self.state = State::Input(run);
            return;
        }
        let flow = match csat_spoken(text) {
            Some(score) => {
                heard.outcome = "capture";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.csat_scored(run.step, csat, score)
            }
            None => {
                heard.outcome = "no-match";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.record(TurnRecord::InvalidInput {
                    step: run.step,
                    input: text.to_owned(),
                    attempt: run.failures + 1,
                });
                self.fail(run.step, run.failures, Failure::Invalid, now)
            }
        };
        self.run(flow, now);
    }

    fn csat_scored(&mut self, step: usize, csat: &CsatStep, score: u8) -> Flow {
        // Pushed, not recorded: the score is the point of the step.
        self.push(Action::Record(TurnRecord::Csat { score }));
        self.vars.insert(CSAT_VAR.into(), score.to_string());
        Flow::Goto(csat.next.as_ref().map_or(step + 1, |t| t.index))
    }
}
