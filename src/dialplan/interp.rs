//! The sans-IO interpreter that runs one call through a [`Dialplan`].
//!
//! Events (prompt ended, DTMF, transfer failed) and time go in through `handle_*`; actions
//! (say, play, stop prompt, transfer, hang up, ticket records) come out of `poll_action`; the one
//! input deadline comes out of `poll_timeout`. No I/O, no clock, no tokio: the call task drives it.
//!
//! Input steps (`menu`, `collect`, `ask`) share one machine: an attempt plays the prompt, then
//! listens until a deadline; a timeout or invalid input counts against `retries`. `ask` adds
//! speech: entering it emits [`Action::Listen`], leaving it [`Action::StopListening`];
//! [`Event::SpeechStarted`] stops a barge-in prompt and holds the no-input timer until the
//! utterance comes back as [`Event::Heard`], which is matched against the step's intents or
//! captured as an entity (the matching itself is `bot/`'s). Keys keep working throughout.
//! After [`Event::SpeechUnavailable`] asks run on keys only, with their `dtmf_prompt`.
//! An `http` step emits [`Action::Http`] and waits for [`Event::HttpDone`] (`interp/http.rs`).
//! A `queue` step emits [`Action::Queue`], announces the caller's place on its own timer and
//! steps aside while an agent has the call (`interp/queue.rs`); a `csat` step is an input step
//! that reads a score from a key or a spoken number (`interp/csat.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::events::{Action, Event, PromptId, TurnRecord};
use super::http::RequestId;
use super::model::{Dialplan, Disposition, Entity, InputRules, StepKind, Target};
use super::queue::QueueId;
use super::template::{truncate_chars, MAX_RENDERED_CHARS};
use crate::bot::{CivilDate, Entities};

mod ask;
mod csat;
mod http;
mod queue;
mod suggest;

/// Steps run for one input before we call it a runaway `goto` loop.
pub const MAX_STEPS_PER_INPUT: usize = 1000;
/// Keys remembered while no menu/collect is listening; more are dropped.
pub const MAX_TYPEAHEAD: usize = 32;
/// Queued actions beyond which `Record`s are dropped (control actions never are).
pub const MAX_QUEUED_ACTIONS: usize = 256;

/// Where a call is in the dialplan.
#[derive(Debug)]
enum State {
    NotStarted,
    /// A `say`/`play` step waits for its prompt to end.
    Prompt {
        step: usize,
        id: PromptId,
        barge_in: bool,
    },
    /// A `menu`/`collect` attempt.
    Input(InputRun),
    /// Waiting for the call layer to take the call away (or report failure).
    Transferring {
        step: usize,
    },
    /// An `http` step waits for its request's outcome.
    Http {
        step: usize,
        id: RequestId,
        /// Gives up should the call layer never report.
        deadline: Instant,
        url: String,
    },
    /// A `queue` step waits for an agent.
    Queued(queue::Waiting),
    /// An agent has the call: no prompts, no input, until they hang up.
    Bridged {
        step: usize,
        id: QueueId,
        agent: String,
        since: Instant,
    },
    Finished,
}

#[derive(Debug)]
struct InputRun {
    step: usize,
    /// Failed attempts so far.
    failures: u32,
    /// Collect only: digits so far.
    digits: String,
    phase: Phase,
    /// `ask` only: a question of the bot's own that this attempt is waiting on.
    pending: Pending,
}

impl InputRun {
    fn new(step: usize, failures: u32, phase: Phase) -> Self {
        InputRun {
            step,
            failures,
            digits: String::new(),
            phase,
            pending: Pending::Answer,
        }
    }
}

/// What an `ask` attempt waits for.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    /// The answer to the step's own prompt.
    Answer,
    /// "Did you mean … or …?": indexes into the step's intent branches.
    Clarify { first: usize, second: usize },
    /// "Is that right?" about a spoken value for the capture.
    Confirm { value: String },
}

#[derive(Debug)]
enum Phase {
    /// The no-input timer only starts once the prompt has ended.
    Prompting {
        id: PromptId,
        then: AfterPrompt,
    },
    Listening {
        deadline: Instant,
    },
    /// `ask` only: the caller is speaking; no deadline until the utterance is recognised.
    Hearing,
}

#[derive(Debug, Clone, Copy)]
enum AfterPrompt {
    /// The step's prompt ended: listen.
    Listen,
    /// The "invalid choice" prompt ended: start the next attempt.
    NextAttempt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Timeout,
    Invalid,
}

/// What to do after a state change: run another step now, or wait for input.
#[derive(Debug)]
enum Flow {
    Goto(usize),
    Wait,
}

/// Runs one call through a dialplan.
#[derive(Debug)]
pub struct Interp {
    plan: Arc<Dialplan>,
    vars: HashMap<String, String>,
    state: State,
    typeahead: VecDeque<char>,
    /// After a collect filled `max_digits`, a terminator pressed next is dropped, not typed ahead.
    swallow_terminator: Option<char>,
    actions: VecDeque<Action>,
    next_prompt: u64,
    /// Between `Listen` and `StopListening`.
    listening: bool,
    /// Cleared for good by `SpeechUnavailable`.
    speech_available: bool,
    /// Caller turns read as angry so far (for `on_angry`).
    angry_turns: u32,
    /// The caller's date, for relative dates ("tomorrow"); the shell sets it.
    today: Option<CivilDate>,
    /// Entities of the turn that chose the current branch, for the next capture to use
    /// instead of asking ("where is order 12345" → no "what is your order number?").
    carried: Option<Entities>,
}

impl Interp {
    /// A call about to start; `vars` usually holds `caller`, `called` and `call_id`.
    pub fn new(plan: Arc<Dialplan>, vars: HashMap<String, String>) -> Self {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k, truncate_chars(v, MAX_RENDERED_CHARS)))
            .collect();
        Interp {
            plan,
            vars,
            state: State::NotStarted,
            typeahead: VecDeque::new(),
            swallow_terminator: None,
            actions: VecDeque::new(),
            next_prompt: 1,
            angry_turns: 0,
            today: None,
            carried: None,
            listening: false,
            speech_available: true,
        }
    }

    /// Runs the start step. Only the first call has an effect.
    pub fn start(&mut self, now: Instant) {
        if matches!(self.state, State::NotStarted) {
            self.run(Flow::Goto(self.plan.start()), now);
        }
    }

    /// Feeds one event.
    pub fn handle_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Dtmf(digit) => self.on_dtmf(digit, now),
            Event::PromptFinished(id) | Event::PromptStopped(id) => self.on_prompt_end(id, now),
            Event::TransferFailed { reason } => self.on_transfer_failed(reason, now),
            Event::SpeechStarted => self.on_speech_started(),
            Event::Heard { text, confidence } => self.on_heard(text, confidence, now),
            Event::SpeechUnavailable => self.on_speech_unavailable(now),
            Event::HttpDone { id, outcome } => self.on_http_done(id, outcome, now),
            Event::QueuePosition { id, position } => self.on_queue_position(id, position),
            Event::QueueFull { id } => self.on_queue_full(id, now),
            Event::AgentAnswered { id, agent } => self.on_agent_answered(id, agent, now),
            Event::AgentHungUp { id } => self.on_agent_hung_up(id, now),
        }
    }

    /// Fires the input deadline if `now` reached it.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.handle_http_timeout(now) || self.handle_queue_timeout(now) {
            return;
        }
        let due = matches!(&self.state,
            State::Input(InputRun { phase: Phase::Listening { deadline }, .. }) if now >= *deadline);
        if !due {
            return;
        }
        let State::Input(run) = std::mem::replace(&mut self.state, State::Finished) else {
            return;
        };
        let flow = if run.digits.is_empty() {
            self.record(TurnRecord::NoInput {
                step: run.step,
                attempt: run.failures + 1,
            });
            self.fail(run.step, run.failures, Failure::Timeout, now)
        } else {
            self.finish_collect(run.step, run.failures, run.digits, now)
        };
        self.run(flow, now);
    }

    /// Next thing for the call layer to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Input(InputRun {
                phase: Phase::Listening { deadline },
                ..
            }) => Some(*deadline),
            State::Http { deadline, .. } => Some(*deadline),
            State::Queued(waiting) => Some(waiting.next_deadline()),
            _ => None,
        }
    }

    /// The call's variables (builtins, collected digits, `set` values).
    pub fn vars(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// Makes every `ask` run on keys only, as after [`Event::SpeechUnavailable`] but silently
    /// (for calls that start without a recogniser).
    pub fn disable_speech(&mut self) {
        self.speech_available = false;
    }

    /// True once the interpreter has hung up.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    // ---- stepping ----

    /// Runs steps until one waits, capping runaway loops.
    fn run(&mut self, mut flow: Flow, now: Instant) {
        let mut executed = 0;
        while let Flow::Goto(step) = flow {
            executed += 1;
            if executed > MAX_STEPS_PER_INPUT {
                let reason = format!(
                    "ran {MAX_STEPS_PER_INPUT} steps without waiting for the caller (goto loop?)"
                );
                self.hangup(Disposition::Failed, reason);
                return;
            }
            flow = self.enter(step, now);
        }
    }

    fn enter(&mut self, index: usize, now: Instant) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(step) = plan.steps().get(index) else {
            return self.hangup(
                Disposition::Completed,
                "reached the end of the dialplan".into(),
            );
        };
        self.record(TurnRecord::StepEntered {
            step: index,
            label: step.label.clone(),
            kind: step.kind.name(),
        });
        if self.listening && !matches!(step.kind, StepKind::Ask(_) | StepKind::Csat(_)) {
            self.stop_listening();
        }
        match &step.kind {
            StepKind::Say(say) => {
                if say.barge_in && !self.typeahead.is_empty() {
                    self.record(TurnRecord::PromptSkipped { step: index });
                    return Flow::Goto(index + 1);
                }
                let text = say.text.render(&self.vars);
                let id = self.say(text, say.barge_in);
                self.state = State::Prompt {
                    step: index,
                    id,
                    barge_in: say.barge_in,
                };
                Flow::Wait
            }
            StepKind::Play(play) => {
                if play.barge_in && !self.typeahead.is_empty() {
                    self.record(TurnRecord::PromptSkipped { step: index });
                    return Flow::Goto(index + 1);
                }
                let id = self.new_prompt_id();
                self.record(TurnRecord::PromptFile {
                    id,
                    path: play.path.clone(),
                });
                self.push(Action::Play {
                    id,
                    path: play.path.clone(),
                    barge_in: play.barge_in,
                });
                self.state = State::Prompt {
                    step: index,
                    id,
                    barge_in: play.barge_in,
                };
                Flow::Wait
            }
            StepKind::Menu(_) | StepKind::Collect(_) => self.begin_attempt(index, 0, now),
            StepKind::Ask(ask) => {
                if self.speech_available {
                    self.listening = true;
                    self.push(Action::Listen {
                        hints: ask.hints.clone(),
                    });
                }
                if let Some(flow) = self.use_carried(index, ask) {
                    return flow;
                }
                self.begin_attempt(index, 0, now)
            }
            StepKind::Csat(_) => self.begin_csat(index, now),
            StepKind::Queue(queue) => self.begin_queue(index, queue, now),
            StepKind::Set(assignments) => {
                for a in assignments {
                    let value = a.value.render(&self.vars);
                    self.record(TurnRecord::VarSet {
                        var: a.var.clone(),
                        value: value.clone(),
                    });
                    self.vars.insert(a.var.clone(), value);
                }
                Flow::Goto(index + 1)
            }
            StepKind::Goto(target) => Flow::Goto(target.index),
            StepKind::Transfer(transfer) => {
                self.record(TurnRecord::Transfer {
                    target: transfer.target.clone(),
                });
                self.push(Action::Transfer {
                    target: transfer.target.clone(),
                });
                self.state = State::Transferring { step: index };
                Flow::Wait
            }
            StepKind::Hangup(disposition) => self.hangup(*disposition, "hangup step".into()),
            StepKind::Http(http) => self.begin_http(index, http, now),
            StepKind::Ticket(fields) => {
                let subject = fields.subject.as_ref().map(|t| t.render(&self.vars));
                // Pushed, not recorded: a full action queue must not lose the ticket's fields.
                self.push(Action::Record(TurnRecord::Ticket {
                    priority: fields.priority,
                    subject,
                }));
                Flow::Goto(index + 1)
            }
        }
    }

    // ---- input steps ----

    /// Starts attempt `failures + 1`: type-ahead first, else the prompt.
    fn begin_attempt(&mut self, step: usize, failures: u32, now: Instant) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(rules) = input_rules(&plan, step) else {
            return self.hangup(Disposition::Failed, "internal: not an input step".into());
        };
        let mut run = InputRun::new(
            step,
            failures,
            Phase::Listening {
                deadline: now + rules.timeout,
            },
        );
        while let Some(digit) = self.typeahead.pop_front() {
            if let Some(flow) = self.take_digit(&mut run, digit, now) {
                return flow;
            }
        }
        if run.digits.is_empty() {
            if let Some(prompt) = self.attempt_prompt(&plan, step) {
                let id = self.say(prompt.render(&self.vars), rules.barge_in);
                run.phase = Phase::Prompting {
                    id,
                    then: AfterPrompt::Listen,
                };
            }
        }
        self.state = State::Input(run);
        Flow::Wait
    }

    /// One key for an input step. `None` = keep listening (run updated), `Some` = step decided.
    fn take_digit(&mut self, run: &mut InputRun, digit: char, now: Instant) -> Option<Flow> {
        let plan = Arc::clone(&self.plan);
        match &plan.steps().get(run.step)?.kind {
            StepKind::Menu(menu) => Some(self.choose_key(run, &menu.options, digit, now)),
            StepKind::Collect(collect) => self.collect_digit(
                run,
                digit,
                collect.max_digits,
                collect.terminator,
                collect.input.timeout,
                now,
            ),
            StepKind::Ask(ask) => match &ask.capture {
                Some(capture) if matches!(run.pending, Pending::Confirm { .. }) => {
                    Some(self.confirm_key(run, ask, capture, digit, now))
                }
                Some(capture) if capture.entity.keyed_as_digits() => self.collect_digit(
                    run,
                    digit,
                    capture.max_digits,
                    capture.terminator,
                    ask.input.timeout,
                    now,
                ),
                Some(capture) if capture.entity == Entity::YesNo && matches!(digit, '1' | '2') => {
                    let answer = if digit == '1' { "yes" } else { "no" };
                    Some(self.capture_yes_no(run.step, ask, &capture.var, answer))
                }
                Some(_) => Some(self.choose_key(run, &[], digit, now)),
                None => Some(self.choose_key(run, &ask.keys, digit, now)),
            },
            StepKind::Csat(csat) => Some(self.csat_keyed(run, csat, digit, now)),
            _ => Some(self.hangup(Disposition::Failed, "internal: not an input step".into())),
        }
    }

    /// A menu-like key: its branch, or invalid input.
    fn choose_key(
        &mut self,
        run: &InputRun,
        options: &[(char, Target)],
        digit: char,
        now: Instant,
    ) -> Flow {
        match options.iter().find(|(d, _)| *d == digit) {
            Some((_, target)) => {
                self.record(TurnRecord::MenuChoice {
                    step: run.step,
                    digit,
                    target: target.label.clone(),
                });
                Flow::Goto(target.index)
            }
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

    /// A collect-like key: `None` while more digits may follow.
    fn collect_digit(
        &mut self,
        run: &mut InputRun,
        digit: char,
        max_digits: usize,
        terminator: Option<char>,
        timeout: std::time::Duration,
        now: Instant,
    ) -> Option<Flow> {
        let done = Some(digit) == terminator || {
            run.digits.push(digit);
            run.digits.len() >= max_digits
        };
        if done {
            if Some(digit) != terminator {
                self.swallow_terminator = terminator;
            }
            let digits = std::mem::take(&mut run.digits);
            return Some(self.finish_collect(run.step, run.failures, digits, now));
        }
        run.phase = Phase::Listening {
            deadline: now + timeout,
        };
        None
    }

    fn finish_collect(&mut self, step: usize, failures: u32, digits: String, now: Instant) -> Flow {
        let plan = Arc::clone(&self.plan);
        let target = match plan.steps().get(step).map(|s| &s.kind) {
            Some(StepKind::Collect(c)) => Some((&c.var, c.min_digits, c.max_digits, step + 1)),
            Some(StepKind::Ask(ask)) => ask.capture.as_ref().map(|c| {
                let next = ask.next.as_ref().map_or(step + 1, |t| t.index);
                (&c.var, c.min_digits, c.max_digits, next)
            }),
            _ => None,
        };
        let Some((var, min_digits, max_digits, next)) = target else {
            return self.hangup(Disposition::Failed, "internal: not a collect step".into());
        };
        if (min_digits..=max_digits).contains(&digits.len()) {
            self.record(TurnRecord::Collected {
                var: var.clone(),
                value: digits.clone(),
            });
            self.vars.insert(var.clone(), digits);
            return Flow::Goto(next);
        }
        self.swallow_terminator = None;
        self.record(TurnRecord::InvalidInput {
            step,
            input: digits,
            attempt: failures + 1,
        });
        self.fail(step, failures, Failure::Invalid, now)
    }

    /// Counts a failed attempt: retry (after the invalid prompt), or branch away.
    fn fail(&mut self, step: usize, failures: u32, failure: Failure, now: Instant) -> Flow {
        let failures = failures + 1;
        let plan = Arc::clone(&self.plan);
        let Some(rules) = input_rules(&plan, step) else {
            return self.hangup(Disposition::Failed, "internal: not an input step".into());
        };
        if failures > rules.retries {
            if let Some(StepKind::Csat(csat)) = plan.steps().get(step).map(|s| &s.kind) {
                // A survey never traps the caller: unanswered, the call just goes on.
                return Flow::Goto(csat.next.as_ref().map_or(step + 1, |t| t.index));
            }
            let target = match failure {
                Failure::Timeout => rules.on_timeout.as_ref(),
                Failure::Invalid => rules.on_invalid.as_ref().or(rules.on_timeout.as_ref()),
            };
            return match (target, failure) {
                (Some(target), _) => Flow::Goto(target.index),
                (None, Failure::Timeout) => {
                    self.hangup(Disposition::NoInput, "no input after all retries".into())
                }
                (None, Failure::Invalid) => self.hangup(
                    Disposition::Failed,
                    "invalid input after all retries".into(),
                ),
            };
        }
        let typed_ahead = rules.barge_in && !self.typeahead.is_empty();
        match (&rules.invalid, failure) {
            (Some(invalid), Failure::Invalid) if !typed_ahead => {
                let id = self.say(invalid.render(&self.vars), rules.barge_in);
                self.state = State::Input(InputRun::new(
                    step,
                    failures,
                    Phase::Prompting {
                        id,
                        then: AfterPrompt::NextAttempt,
                    },
                ));
                Flow::Wait
            }
            _ => self.begin_attempt(step, failures, now),
        }
    }

    // ---- events ----

    fn on_dtmf(&mut self, digit: char, now: Instant) {
        if !matches!(digit, '0'..='9' | '*' | '#')
            || matches!(
                self.state,
                State::NotStarted
                    | State::Transferring { .. }
                    | State::Queued(_)
                    | State::Bridged { .. }
                    | State::Finished
            )
        {
            return;
        }
        self.record(TurnRecord::Dtmf { digit });
        if self.swallow_terminator.take() == Some(digit) {
            return;
        }
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Prompt { step, id, barge_in } => {
                self.buffer(digit);
                if barge_in {
                    self.stop_prompt(id);
                    self.run(Flow::Goto(step + 1), now);
                } else {
                    self.state = State::Prompt { step, id, barge_in };
                }
            }
            State::Input(mut run) => {
                let Some(rules) = input_rules(&self.plan, run.step) else {
                    return;
                };
                let (barge_in, timeout) = (rules.barge_in, rules.timeout);
                if let Phase::Prompting { id, then } = run.phase {
                    if !barge_in {
                        self.buffer(digit);
                        self.state = State::Input(run);
                        return;
                    }
                    self.stop_prompt(id);
                    if let AfterPrompt::NextAttempt = then {
                        // The key answers the next attempt, whose prompt need not play.
                        self.buffer(digit);
                        let flow = self.begin_attempt(run.step, run.failures, now);
                        self.run(flow, now);
                        return;
                    }
                    run.phase = Phase::Listening {
                        deadline: now + timeout,
                    };
                }
                match self.take_digit(&mut run, digit, now) {
                    Some(flow) => self.run(flow, now),
                    None => self.state = State::Input(run),
                }
            }
            waiting @ State::Http { .. } => {
                self.buffer(digit);
                self.state = waiting;
            }
            other => self.state = other,
        }
    }

    fn on_prompt_end(&mut self, ended: PromptId, now: Instant) {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Prompt { step, id, .. } if id == ended => self.run(Flow::Goto(step + 1), now),
            State::Input(mut run) => match run.phase {
                Phase::Prompting { id, then } if id == ended => match then {
                    AfterPrompt::Listen => {
                        let timeout = input_rules(&self.plan, run.step)
                            .map(|r| r.timeout)
                            .unwrap_or_default();
                        run.phase = Phase::Listening {
                            deadline: now + timeout,
                        };
                        while let Some(digit) = self.typeahead.pop_front() {
                            if let Some(flow) = self.take_digit(&mut run, digit, now) {
                                self.run(flow, now);
                                return;
                            }
                        }
                        self.state = State::Input(run);
                    }
                    AfterPrompt::NextAttempt => {
                        let flow = self.begin_attempt(run.step, run.failures, now);
                        self.run(flow, now);
                    }
                },
                _ => self.state = State::Input(run),
            },
            State::Queued(waiting) => self.on_announcement_end(waiting, ended),
            other => self.state = other,
        }
    }

    fn on_speech_started(&mut self) {
        let plan = Arc::clone(&self.plan);
        let State::Input(run) = &mut self.state else {
            return;
        };
        let barge_in = match plan.steps().get(run.step).map(|s| &s.kind) {
            Some(StepKind::Ask(ask)) => ask.input.barge_in,
            Some(StepKind::Csat(csat)) => csat.input.barge_in,
            _ => return,
        };
        match run.phase {
            Phase::Prompting { id, .. } if barge_in => {
                run.phase = Phase::Hearing;
                self.stop_prompt(id);
            }
            Phase::Listening { .. } => run.phase = Phase::Hearing,
            Phase::Prompting { .. } | Phase::Hearing => {}
        }
    }

    /// Sets the caller's date, against which relative dates in answers resolve.
    pub fn set_today(&mut self, today: CivilDate) {
        self.today = Some(today);
    }

    fn on_speech_unavailable(&mut self, now: Instant) {
        if !self.speech_available {
            return;
        }
        self.speech_available = false;
        self.listening = false;
        let State::Input(run) = std::mem::replace(&mut self.state, State::Finished) else {
            return;
        };
        // Replaced below unless this is an ask, in which case the attempt restarts on keys.
        let is_ask = matches!(
            self.plan.steps().get(run.step).map(|s| &s.kind),
            Some(StepKind::Ask(_))
        );
        if !is_ask {
            self.state = State::Input(run);
            return;
        }
        self.record(TurnRecord::SpeechUnavailable { step: run.step });
        if let Phase::Prompting { id, .. } = run.phase {
            self.push(Action::StopPrompt { id });
        }
        let flow = self.begin_attempt(run.step, run.failures, now);
        self.run(flow, now);
    }

    fn on_transfer_failed(&mut self, reason: String, now: Instant) {
        let State::Transferring { step } = self.state else {
            return;
        };
        self.record(TurnRecord::TransferFailed { reason });
        let on_failure = match self.plan.steps().get(step).map(|s| &s.kind) {
            Some(StepKind::Transfer(t)) => t.on_failure.as_ref().map(|t| t.index),
            _ => None,
        };
        match on_failure {
            Some(index) => self.run(Flow::Goto(index), now),
            None => {
                self.hangup(Disposition::Failed, "transfer failed".into());
            }
        }
    }

    // ---- output ----

    fn new_prompt_id(&mut self) -> PromptId {
        let id = PromptId(self.next_prompt);
        self.next_prompt += 1;
        id
    }

    fn say(&mut self, text: String, barge_in: bool) -> PromptId {
        let id = self.new_prompt_id();
        self.record(TurnRecord::Prompt {
            id,
            text: text.clone(),
        });
        self.push(Action::Say {
            id,
            text,
            voice: self.plan.voice.clone(),
            barge_in,
        });
        id
    }

    /// The prompt of an attempt: an ask without speech says its `dtmf_prompt` if it has one.
    fn attempt_prompt(&self, plan: &Dialplan, step: usize) -> Option<super::Template> {
        match &plan.steps().get(step)?.kind {
            StepKind::Ask(ask) if !self.speech_available => {
                ask.dtmf_prompt.clone().or_else(|| ask.input.prompt.clone())
            }
            _ => input_rules(plan, step)?.prompt.clone(),
        }
    }

    fn stop_listening(&mut self) {
        self.listening = false;
        self.push(Action::StopListening);
    }

    fn stop_prompt(&mut self, id: PromptId) {
        self.record(TurnRecord::BargeIn { id });
        self.push(Action::StopPrompt { id });
    }

    fn hangup(&mut self, disposition: Disposition, reason: String) -> Flow {
        if self.listening {
            self.stop_listening();
        }
        // Never dropped, unlike other records: the ticket must say why the call ended.
        self.push(Action::Record(TurnRecord::Hangup {
            disposition,
            reason,
        }));
        self.push(Action::Hangup { disposition });
        self.state = State::Finished;
        Flow::Wait
    }

    fn buffer(&mut self, digit: char) {
        if self.typeahead.len() < MAX_TYPEAHEAD {
            self.typeahead.push_back(digit);
        }
    }

    fn record(&mut self, record: TurnRecord) {
        if self.actions.len() < MAX_QUEUED_ACTIONS {
            self.actions.push_back(Action::Record(record));
        }
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }
}

/// The prompt/timeout/retry rules of an input step.
fn input_rules(plan: &Dialplan, step: usize) -> Option<&InputRules> {
    match &plan.steps().get(step)?.kind {
        StepKind::Menu(menu) => Some(&menu.input),
        StepKind::Collect(collect) => Some(&collect.input),
        StepKind::Ask(ask) => Some(&ask.input),
        StepKind::Csat(csat) => Some(&csat.input),
        _ => None,
    }
}
