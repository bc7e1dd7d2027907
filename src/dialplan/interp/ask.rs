//! The interpreter's speech turns: what one utterance does to an `ask` step.
//!
//! Each utterance is analysed once (`bot/`), then read in this order: an angry turn may send
//! the call to `on_angry`; an answer to the bot's own question is read as that ("did you mean
//! … or …?", "is that right?"); a capture takes its entity, and asks the step's `confirm`
//! question before keeping it; a question nearer a knowledge article than any intent gets the
//! article; an intent branches — unless the runner-up is within
//! [`AMBIGUITY_MARGIN`], when the caller is asked which of the two they meant (once per
//! answer, so a vague caller is not asked forever).
//!
//! Slot filling: the entities of the turn that chose a branch travel to the next `ask`; if it
//! captures one of them ("where is order 12345" → "what is your order number?") the value is
//! taken (and confirmed) without asking.

use std::sync::Arc;
use std::time::Instant;

use super::suggest::{faq_suggestion, suggest_replies};
use super::{AfterPrompt, Failure, Flow, InputRun, Interp, Pending, Phase, State};
use crate::bot::understand::{AMBIGUITY_MARGIN, TOP_INTENTS};
use crate::bot::{Analysis, Emotion, Entities, IntentScore, Polarity, Slot};
use crate::dialplan::events::{TurnRecord, Understanding};
use crate::dialplan::model::{Ask, Capture, Entity, StepKind, Target};

/// Words that pick the first or the second option of a "did you mean" question.
const FIRST_WORDS: &[&str] = &["first", "former"];
const SECOND_WORDS: &[&str] = &["second", "latter", "last", "other"];

impl Interp {
    pub(super) fn on_heard(&mut self, text: String, confidence: f32, now: Instant) {
        if let State::Bridged { step, .. } = &self.state {
            let step = *step;
            self.heard_with_agent(step, &text, confidence);
            return;
        }
        let plan = Arc::clone(&self.plan);
        let mut run = match std::mem::replace(&mut self.state, State::Finished) {
            State::Input(run) => run,
            other => {
                self.state = other;
                return;
            }
        };
        let ask = match plan.steps().get(run.step).map(|s| &s.kind) {
            Some(StepKind::Ask(ask)) => ask,
            Some(StepKind::Csat(csat)) => {
                return self.csat_heard(run, csat, &text, confidence, now)
            }
            _ => {
                self.state = State::Input(run);
                return;
            }
        };
        let expected = ask.capture.as_ref().map(|c| slot_of(c.entity));
        let text = text.trim();
        // Noise has nothing to read (and embedding it would cost a model run).
        let analysis =
            (!text.is_empty()).then(|| plan.bot().analyze_at(text, expected, self.today));
        let mut heard = Understanding {
            step: run.step,
            text: text.to_string(),
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
        if let Some(analysis) = &analysis {
            heard.entities = analysis.entities.clone();
            heard.sentiment = Some(analysis.sentiment.clone());
            heard.candidates = analysis.intents.iter().take(TOP_INTENTS).cloned().collect();
            heard.article = analysis.faq.as_ref().map(|f| f.article.clone());
            heard.replies = suggest_replies(
                &plan,
                &heard.candidates,
                run.step,
                &self.vars,
                &analysis.entities,
            );
            heard.faq_answer = faq_suggestion(analysis.faq.as_ref()).cloned();
        }
        if let Phase::Prompting { id, .. } = run.phase {
            if !ask.input.barge_in {
                heard.outcome = "ignored";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.state = State::Input(run);
                return;
            }
            self.stop_prompt(id);
        }
        let Some(analysis) = analysis else {
            // A cough or line noise is not an answer: keep listening as if it never happened.
            run.phase = Phase::Listening {
                deadline: now + ask.input.timeout,
            };
            self.record(TurnRecord::Understood(Box::new(heard)));
            self.state = State::Input(run);
            return;
        };
        if let Some(flow) = self.escalate(&analysis, &mut heard) {
            self.run(flow, now);
            return;
        }
        let flow = match std::mem::replace(&mut run.pending, Pending::Answer) {
            Pending::Answer => self.understand(&run, ask, heard, &analysis, true, now),
            Pending::Clarify { first, second } => {
                self.clarified(&run, ask, heard, &analysis, [first, second], now)
            }
            Pending::Confirm { value } => self.confirmed(&run, ask, heard, &analysis, value, now),
        };
        self.run(flow, now);
    }

    /// The caller speaking to an agent (agent assist): the turn is read like any other, for
    /// the ticket and the agent's suggestions, but decides nothing.
    fn heard_with_agent(&mut self, step: usize, text: &str, confidence: f32) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let analysis = self.plan.bot().analyze_at(text, None, self.today);
        let best = analysis.intents.first();
        let candidates: Vec<_> = analysis.intents.iter().take(TOP_INTENTS).cloned().collect();
        let replies = suggest_replies(
            &self.plan,
            &candidates,
            step,
            &self.vars,
            &analysis.entities,
        );
        let heard = Understanding {
            step,
            text: text.to_string(),
            asr_confidence: confidence,
            intent: best.map(|c| c.intent.clone()),
            intent_confidence: best.map_or(0.0, |c| c.confidence),
            entities: analysis.entities.clone(),
            sentiment: Some(analysis.sentiment.clone()),
            candidates,
            article: analysis.faq.as_ref().map(|f| f.article.clone()),
            outcome: "with-agent",
            replies,
            faq_answer: faq_suggestion(analysis.faq.as_ref()).cloned(),
        };
        self.record(TurnRecord::Understood(Box::new(heard)));
    }

    /// Counts an angry turn; at the dialplan's `on_angry` count the call goes there.
    fn escalate(&mut self, analysis: &Analysis, heard: &mut Understanding) -> Option<Flow> {
        let sentiment = &analysis.sentiment;
        let angry = sentiment.polarity == Polarity::Negative
            && matches!(sentiment.emotion, Emotion::Anger | Emotion::Disgust);
        if !angry {
            return None;
        }
        self.angry_turns = self.angry_turns.saturating_add(1);
        let escalation = self.plan.on_angry()?;
        if self.angry_turns < escalation.turns {
            return None;
        }
        heard.outcome = "angry";
        let target = escalation.target.index;
        self.record(TurnRecord::Understood(Box::new(heard.clone())));
        Some(Flow::Goto(target))
    }

    /// Decides an ask step from one utterance; `may_clarify` is false right after a "did you
    /// mean" question.
    fn understand(
        &mut self,
        run: &InputRun,
        ask: &Ask,
        mut heard: Understanding,
        analysis: &Analysis,
        may_clarify: bool,
        now: Instant,
    ) -> Flow {
        let step = run.step;
        let ranked = rank_branches(ask, &heard, &analysis.intents);
        let best_confidence = ranked.first().map_or(0.0, |b| b.1);
        heard.intent_confidence = best_confidence;
        let matched = ranked.first().filter(|b| b.1 >= ask.threshold).map(|b| b.0);
        self.vars.insert("utterance".into(), heard.text.clone());
        let intent_var = matched
            .map(|i| ask.intents[i].0.clone())
            .unwrap_or_default();
        self.vars.insert("intent".into(), intent_var);
        if let Some(capture) = &ask.capture {
            if let Some(value) = spoken_value(capture.entity, &heard.entities) {
                heard.outcome = "capture";
                if capture.entity == Entity::YesNo {
                    heard.intent = Some(value.clone());
                    self.record(TurnRecord::Understood(Box::new(heard)));
                    return self.capture_yes_no(step, ask, &capture.var, &value);
                }
                let text = heard.text.clone();
                self.record(TurnRecord::Understood(Box::new(heard)));
                if is_valid(capture, &value) {
                    return self.take_value(step, run.failures, ask, capture, value);
                }
                self.record(TurnRecord::InvalidInput {
                    step,
                    input: text,
                    attempt: run.failures + 1,
                });
                return self.fail(step, run.failures, Failure::Invalid, now);
            }
        }
        // A question nearer a knowledge article than to any intent gets the article's answer,
        // then the same question again; it is not a failed attempt.
        if let Some(faq) = analysis.knowledge_answer(ask.threshold, best_confidence) {
            heard.outcome = "faq";
            let answer = faq.answer.clone();
            self.record(TurnRecord::Understood(Box::new(heard)));
            let id = self.say(answer, ask.input.barge_in);
            let phase = Phase::Prompting {
                id,
                then: AfterPrompt::NextAttempt,
            };
            self.state = State::Input(InputRun::new(step, run.failures, phase));
            return Flow::Wait;
        }
        let Some(best) = matched else {
            heard.outcome = "no-match";
            let text = heard.text.clone();
            self.record(TurnRecord::Understood(Box::new(heard)));
            self.record(TurnRecord::InvalidInput {
                step,
                input: text,
                attempt: run.failures + 1,
            });
            return self.fail(step, run.failures, Failure::Invalid, now);
        };
        let close_second = ranked.iter().skip(1).find(|(i, confidence)| {
            !is_builtin(&ask.intents[*i].0)
                && *confidence >= ask.threshold
                && best_confidence - confidence < AMBIGUITY_MARGIN
        });
        match close_second {
            Some(&(second, _)) if may_clarify && !is_builtin(&ask.intents[best].0) => {
                heard.outcome = "ambiguous";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.clarify(run, ask, [best, second])
            }
            _ => self.choose_intent(ask, heard, best, "intent"),
        }
    }

    /// Takes the intent branch `index`, keeping the turn's entities for the next capture.
    fn choose_intent(
        &mut self,
        ask: &Ask,
        mut heard: Understanding,
        index: usize,
        outcome: &'static str,
    ) -> Flow {
        let (name, target) = &ask.intents[index];
        heard.intent = Some(name.clone());
        heard.outcome = outcome;
        self.vars.insert("intent".into(), name.clone());
        self.carried = Some(heard.entities.clone());
        self.record(TurnRecord::Understood(Box::new(heard)));
        Flow::Goto(target.index)
    }

    /// Asks "Did you mean A, or B?" and waits for the answer in the same attempt.
    fn clarify(&mut self, run: &InputRun, ask: &Ask, options: [usize; 2]) -> Flow {
        let intents = self.plan.intents();
        let [first, second] = options.map(|i| intents.label(&ask.intents[i].0));
        let id = self.say(
            format!("Did you mean {first}, or {second}?"),
            ask.input.barge_in,
        );
        let phase = Phase::Prompting {
            id,
            then: AfterPrompt::Listen,
        };
        let mut next = InputRun::new(run.step, run.failures, phase);
        next.pending = Pending::Clarify {
            first: options[0],
            second: options[1],
        };
        self.state = State::Input(next);
        Flow::Wait
    }

    /// The answer to "did you mean": an ordinal, a yes (the first, the likelier one), or the
    /// better scoring of the two; anything else is read as a fresh answer to the step.
    fn clarified(
        &mut self,
        run: &InputRun,
        ask: &Ask,
        heard: Understanding,
        analysis: &Analysis,
        options: [usize; 2],
        now: Instant,
    ) -> Flow {
        let words = crate::bot::normalize::tokens(&heard.text);
        let says = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
        let score = |i: usize| confidence_of(&analysis.intents, &ask.intents[i].0);
        let [first, second] = options;
        let pick = if says(FIRST_WORDS) && !says(SECOND_WORDS) {
            Some(first)
        } else if says(SECOND_WORDS) && !says(FIRST_WORDS) {
            Some(second)
        } else {
            let better = if score(second) > score(first) {
                second
            } else {
                first
            };
            if score(better) >= ask.threshold {
                Some(better)
            } else if heard.entities.yes_no == Some(true) {
                Some(first)
            } else {
                None
            }
        };
        match pick {
            Some(index) => {
                let mut heard = heard;
                heard.intent_confidence = score(index);
                self.choose_intent(ask, heard, index, "clarified")
            }
            None => self.understand(run, ask, heard, analysis, false, now),
        }
    }

    /// A spoken value for the capture: confirmed first if the step says so, else kept.
    fn take_value(
        &mut self,
        step: usize,
        failures: u32,
        ask: &Ask,
        capture: &Capture,
        value: String,
    ) -> Flow {
        let Some(question) = &capture.confirm else {
            return self.keep_value(step, ask, capture, value);
        };
        // Set now so the question can read it back; removed again on a "no".
        self.vars.insert(capture.var.clone(), value.clone());
        let id = self.say(question.render(&self.vars), ask.input.barge_in);
        let phase = Phase::Prompting {
            id,
            then: AfterPrompt::Listen,
        };
        let mut run = InputRun::new(step, failures, phase);
        run.pending = Pending::Confirm { value };
        self.state = State::Input(run);
        Flow::Wait
    }

    /// Stores the captured value and goes on.
    fn keep_value(&mut self, step: usize, ask: &Ask, capture: &Capture, value: String) -> Flow {
        self.record(TurnRecord::Collected {
            var: capture.var.clone(),
            value: value.clone(),
        });
        self.vars.insert(capture.var.clone(), value);
        Flow::Goto(ask.next.as_ref().map_or(step + 1, |t| t.index))
    }

    /// The answer to "is that right?": yes keeps the value, no asks for it again, a different
    /// value ("no, it's 12346") is confirmed in its place.
    fn confirmed(
        &mut self,
        run: &InputRun,
        ask: &Ask,
        mut heard: Understanding,
        analysis: &Analysis,
        value: String,
        now: Instant,
    ) -> Flow {
        let Some(capture) = &ask.capture else {
            return self.understand(run, ask, heard, analysis, true, now);
        };
        let corrected = spoken_value(capture.entity, &heard.entities)
            .filter(|v| *v != value && is_valid(capture, v));
        if let Some(yes) = heard.entities.yes_no {
            heard.intent = Some(if yes { "yes" } else { "no" }.to_string());
            heard.intent_confidence = 1.0;
        }
        match (corrected, heard.entities.yes_no) {
            (Some(new), _) => {
                heard.outcome = "corrected";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.take_value(run.step, run.failures, ask, capture, new)
            }
            (None, Some(true)) => {
                heard.outcome = "confirmed";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.keep_value(run.step, ask, capture, value)
            }
            (None, Some(false)) => {
                heard.outcome = "denied";
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.ask_again(run.step, run.failures, &capture.var, now)
            }
            (None, None) => {
                heard.outcome = "no-match";
                let text = heard.text.clone();
                self.record(TurnRecord::Understood(Box::new(heard)));
                self.record(TurnRecord::InvalidInput {
                    step: run.step,
                    input: text,
                    attempt: run.failures + 1,
                });
                match self.retries_left(run.step, run.failures) {
                    true => self.take_value(run.step, run.failures + 1, ask, capture, value),
                    false => self.fail(run.step, run.failures, Failure::Invalid, now),
                }
            }
        }
    }

    /// Key 1 or 2 answers "is that right?"; another key is invalid input.
    pub(super) fn confirm_key(
        &mut self,
        run: &mut InputRun,
        ask: &Ask,
        capture: &Capture,
        digit: char,
        now: Instant,
    ) -> Flow {
        let Pending::Confirm { value } = std::mem::replace(&mut run.pending, Pending::Answer)
        else {
            return self.choose_key(run, &[], digit, now);
        };
        match digit {
            '1' => self.keep_value(run.step, ask, capture, value),
            '2' => self.ask_again(run.step, run.failures, &capture.var, now),
            _ => self.choose_key(run, &[], digit, now),
        }
    }

    /// The caller said the value was wrong: forget it and ask the step's own prompt again (a
    /// failed attempt, so a caller who never agrees still leaves the step).
    fn ask_again(&mut self, step: usize, failures: u32, var: &str, now: Instant) -> Flow {
        self.vars.remove(var);
        if self.retries_left(step, failures) {
            self.begin_attempt(step, failures + 1, now)
        } else {
            self.fail(step, failures, Failure::Invalid, now)
        }
    }

    fn retries_left(&self, step: usize, failures: u32) -> bool {
        super::input_rules(&self.plan, step).is_some_and(|rules| failures < rules.retries)
    }

    /// On entering an ask: a value the caller already gave for its capture.
    pub(super) fn use_carried(&mut self, step: usize, ask: &Ask) -> Option<Flow> {
        let carried = self.carried.take()?;
        let capture = ask.capture.as_ref()?;
        let value = carried_value(capture.entity, &carried).filter(|v| is_valid(capture, v))?;
        Some(self.take_value(step, 0, ask, capture, value))
    }

    /// Stores a yes/no answer and branches on it when the step lists `yes`/`no` intents.
    pub(super) fn capture_yes_no(
        &mut self,
        step: usize,
        ask: &Ask,
        var: &str,
        answer: &str,
    ) -> Flow {
        self.record(TurnRecord::Collected {
            var: var.to_string(),
            value: answer.to_string(),
        });
        self.vars.insert(var.to_string(), answer.to_string());
        let branch = ask.intents.iter().find(|(name, _)| name == answer);
        match (branch, &ask.next) {
            (Some((_, target)), _) | (None, Some(target)) => Flow::Goto(target.index),
            (None, None) => Flow::Goto(step + 1),
        }
    }
}

/// The step's intent branches with confidences, best first (ties keep file order). A built-in
/// yes/no scores 1 when the turn says it and 0 otherwise.
fn rank_branches(ask: &Ask, heard: &Understanding, scores: &[IntentScore]) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = ask
        .intents
        .iter()
        .enumerate()
        .map(|(i, (name, _)): (usize, &(String, Target))| {
            let confidence = match (name.as_str(), heard.entities.yes_no) {
                ("yes", Some(answer)) | ("no", Some(answer)) => {
                    if answer == (name == "yes") {
                        1.0
                    } else {
                        0.0
                    }
                }
                _ => confidence_of(scores, name),
            };
            (i, confidence)
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

fn confidence_of(scores: &[IntentScore], intent: &str) -> f32 {
    scores
        .iter()
        .find(|s| s.intent == intent)
        .map_or(0.0, |s| s.confidence)
}

fn is_builtin(intent: &str) -> bool {
    crate::dialplan::model::BUILTIN_INTENTS.contains(&intent)
}

/// What the bot should listen for while a capture of `entity` asks.
fn slot_of(entity: Entity) -> Slot {
    match entity {
        Entity::Digits => Slot::Digits,
        Entity::YesNo => Slot::YesNo,
        Entity::OrderNumber => Slot::OrderNumber,
        Entity::AccountNumber => Slot::AccountNumber,
        Entity::PhoneNumber => Slot::PhoneNumber,
        Entity::Amount => Slot::Amount,
        Entity::Date => Slot::Date,
    }
}

/// The value an answer to a capture of `entity` gives, if any. A bare number answers a
/// question for an order, account or phone number.
fn spoken_value(entity: Entity, entities: &Entities) -> Option<String> {
    let digits = || entities.digits.clone();
    match entity {
        Entity::Digits => digits(),
        Entity::YesNo => entities
            .yes_no
            .map(|yes| if yes { "yes" } else { "no" }.to_string()),
        Entity::OrderNumber => entities.order_number.clone().or_else(digits),
        Entity::AccountNumber => entities.account_number.clone().or_else(digits),
        Entity::PhoneNumber => entities.phone_number.clone().or_else(digits),
        Entity::Amount | Entity::Date => carried_value(entity, entities),
    }
}

/// A value of `entity` said in passing (named by its cue words, not a bare number).
pub(super) fn carried_value(entity: Entity, entities: &Entities) -> Option<String> {
    match entity {
        Entity::Digits | Entity::YesNo => None,
        Entity::OrderNumber => entities.order_number.clone(),
        Entity::AccountNumber => entities.account_number.clone(),
        Entity::PhoneNumber => entities.phone_number.clone(),
        Entity::Amount => entities.amount.as_ref().map(|a| a.value.clone()),
        Entity::Date => entities.date.clone().or_else(|| entities.time.clone()),
    }
}

/// Digit kinds must fit the capture's `min_digits..=max_digits`.
pub(super) fn is_valid(capture: &Capture, value: &str) -> bool {
    match capture.entity {
        Entity::Digits | Entity::OrderNumber | Entity::AccountNumber | Entity::PhoneNumber => {
            value.bytes().all(|b| b.is_ascii_digit())
                && (capture.min_digits..=capture.max_digits).contains(&value.len())
        }
        Entity::YesNo | Entity::Amount | Entity::Date => !value.is_empty(),
    }
}
