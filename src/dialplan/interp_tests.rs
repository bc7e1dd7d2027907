//! Interpreter scenarios on a fake clock: a caller pressing keys against a dialplan.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

/// One call under test, with virtual time.
struct Call {
    interp: Interp,
    now: Instant,
    /// Everything emitted so far, in order.
    log: Vec<Action>,
}

impl Call {
    fn new(plan: Dialplan) -> Call {
        Call::with_speech(plan, true)
    }

    fn with_speech(plan: Dialplan, speech: bool) -> Call {
        let vars = HashMap::from([("caller".to_string(), "alice".to_string())]);
        let now = Instant::now();
        let mut interp = Interp::new(Arc::new(plan), vars);
        if !speech {
            interp.disable_speech();
        }
        interp.start(now);
        let mut call = Call {
            interp,
            now,
            log: Vec::new(),
        };
        call.drain();
        call
    }

    fn from_yaml(text: &str) -> Call {
        Call::new(load_str("t.yaml", text).unwrap())
    }

    /// The shipped dialplan, for a caller on keys only (no recogniser).
    fn default_plan() -> Call {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/default.yaml");
        Call::with_speech(load_file(&path).unwrap(), false)
    }

    /// Takes the actions emitted since the last drain (and logs them).
    fn drain(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.interp.poll_action() {
            out.push(a);
        }
        self.log.extend(out.iter().cloned());
        out
    }

    fn event(&mut self, event: Event) -> Vec<Action> {
        self.interp.handle_event(event, self.now);
        self.drain()
    }

    fn keys(&mut self, keys: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for k in keys.chars() {
            out.extend(self.event(Event::Dtmf(k)));
        }
        out
    }

    /// The prompt currently expected to be playing: the last Say/Play emitted.
    fn current_prompt(&self) -> PromptId {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Say { id, .. } | Action::Play { id, .. } => Some(*id),
                _ => None,
            })
            .expect("no prompt was started")
    }

    /// The latest wait in a queue, or an id no wait has before the first.
    fn queue_id(&self) -> QueueId {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Queue { id, .. } => Some(*id),
                _ => None,
            })
            .unwrap_or(QueueId(u64::MAX))
    }

    fn finish_prompt(&mut self) -> Vec<Action> {
        let id = self.current_prompt();
        self.event(Event::PromptFinished(id))
    }

    /// Advances virtual time to the pending deadline and fires it.
    fn time_out(&mut self) -> Vec<Action> {
        let deadline = self.interp.poll_timeout().expect("no timer armed");
        self.interp
            .handle_timeout(deadline - Duration::from_millis(1));
        assert!(self.drain().is_empty(), "fired before its deadline");
        self.now = deadline;
        self.interp.handle_timeout(self.now);
        self.drain()
    }
}

pub(super) fn says(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Say { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn records(actions: &[Action]) -> Vec<&TurnRecord> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn control(actions: &[Action]) -> Vec<&Action> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Record(_)))
        .collect()
}

#[test]
fn greeting_then_menu_then_order_number_read_back() {
    let mut call = Call::default_plan();
    assert_eq!(says(&call.log), ["Welcome to Example Shop support."]);
    assert!(
        matches!(&call.log[..], [.., Action::Say { voice, barge_in: true, .. }] if voice == "en-us")
    );

    let out = call.finish_prompt();
    assert!(says(&out)[0].starts_with("For order status, press 1."));
    assert_eq!(
        call.interp.poll_timeout(),
        None,
        "timer must wait for the prompt to end"
    );
    call.finish_prompt();
    assert_eq!(
        call.interp.poll_timeout(),
        Some(call.now + Duration::from_secs(6))
    );

    let out = call.keys("1");
    assert!(records(&out).contains(&&TurnRecord::MenuChoice {
        step: 1,
        digit: '1',
        target: "order_status".into()
    }));
    assert_eq!(
        says(&out),
        ["Please enter your order number, followed by the hash key."]
    );
    call.finish_prompt();

    let out = call.keys("1234#");
    assert!(records(&out).contains(&&TurnRecord::Collected {
        var: "order_number".into(),
        value: "1234".into()
    }));
    let spoken = says(&out);
    assert_eq!(spoken.len(), 1);
    assert!(
        spoken[0].contains("Your order number 1 2 3 4 has been shipped"),
        "{spoken:?}"
    );
    assert_eq!(call.interp.vars()["order_number"], "1234");
    assert_eq!(call.interp.vars()["caller"], "alice");

    // "press 9 for the main menu": back to the main menu prompt.
    call.finish_prompt();
    call.finish_prompt();
    let out = call.keys("9");
    assert!(says(&out)[0].starts_with("For order status"));
}

#[test]
fn inter_digit_timer_restarts_with_each_key() {
    let mut call = Call::default_plan();
    call.finish_prompt();
    call.finish_prompt();
    call.keys("1");
    call.finish_prompt();
    call.now += Duration::from_secs(3);
    call.keys("12");
    assert_eq!(
        call.interp.poll_timeout(),
        Some(call.now + Duration::from_secs(8))
    );
}

#[test]
fn type_ahead_during_greeting_barges_in_and_skips_the_menu_prompt() {
    let mut call = Call::default_plan();
    let greeting = call.current_prompt();
    let out = call.keys("1");
    let ctrl = control(&out);
    assert_eq!(ctrl[0], &Action::StopPrompt { id: greeting });
    assert!(records(&out).contains(&&TurnRecord::BargeIn { id: greeting }));
    // The menu never spoke its prompt: the key already chose option 1.
    assert_eq!(
        says(&out),
        ["Please enter your order number, followed by the hash key."]
    );
    // The late PromptStopped for the greeting is ignored.
    assert!(call.event(Event::PromptStopped(greeting)).is_empty());

    // Keys during the collect prompt barge in too, and count as digits.
    let prompt = call.current_prompt();
    let out = call.keys("98765#");
    assert_eq!(control(&out)[0], &Action::StopPrompt { id: prompt });
    assert!(says(&out)[0].contains("9 8 7 6 5"));
}

#[test]
fn keys_during_a_non_barge_in_prompt_are_kept_for_the_next_menu() {
    let mut call = Call::from_yaml(
        "steps:\n  - say: Important notice.\n    barge_in: false\n  - menu:\n      prompt: Pick.\n      options: { 2: two }\n  - label: two\n    say: Two.\n",
    );
    let out = call.keys("2");
    assert!(control(&out).is_empty(), "no barge-in: {out:?}");
    let out = call.finish_prompt();
    assert_eq!(says(&out), ["Two."]);
}

#[test]
fn type_ahead_is_bounded() {
    let mut call = Call::from_yaml(
        "steps:\n  - say: Long notice.\n    barge_in: false\n  - collect: { var: n, max_digits: 32, terminator: \"#\" }\n  - say: \"{n}\"\n",
    );
    call.keys(&"1".repeat(100));
    call.finish_prompt();
    assert_eq!(call.interp.vars()["n"].len(), MAX_TYPEAHEAD);
}

#[test]
fn no_input_replays_the_prompt_then_goes_on_timeout() {
    let mut call = Call::default_plan();
    call.finish_prompt(); // greeting
    call.finish_prompt(); // menu prompt, attempt 1
                          // default.yaml: retries 1, then on_timeout no_input.
    for attempt in 1..=1 {
        let out = call.time_out();
        assert!(records(&out).contains(&&TurnRecord::NoInput { step: 1, attempt }));
        assert!(
            says(&out)[0].starts_with("For order status"),
            "attempt {attempt}"
        );
        assert_eq!(call.interp.poll_timeout(), None);
        call.finish_prompt();
    }
    let out = call.time_out();
    assert_eq!(
        says(&out),
        ["We did not receive your choice. Thank you for calling Example Shop. Goodbye."]
    );
    let out = call.finish_prompt();
    assert_eq!(
        control(&out),
        [&Action::Hangup {
            disposition: Disposition::NoInput
        }]
    );
    assert!(call.interp.is_finished());
    assert_eq!(call.interp.poll_timeout(), None);
    assert!(call.keys("1").is_empty(), "finished calls ignore keys");
}

#[test]
fn no_input_without_on_timeout_hangs_up_as_no_input() {
    let mut call =
        Call::from_yaml("steps:\n  - menu:\n      prompt: Pick.\n      retries: 0\n      options: { 1: a }\n  - label: a\n    hangup:\n");
    call.finish_prompt();
    let out = call.time_out();
    assert_eq!(
        control(&out),
        [&Action::Hangup {
            disposition: Disposition::NoInput
        }]
    );
}

#[test]
fn invalid_key_says_so_reprompts_and_finally_gives_up() {
    let mut call = Call::default_plan();
    call.finish_prompt();
    call.finish_prompt();
    let out = call.keys("7");
    assert!(records(&out).contains(&&TurnRecord::InvalidInput {
        step: 1,
        input: "7".into(),
        attempt: 1
    }));
    assert_eq!(says(&out), ["Sorry, I did not get that."]);
    assert_eq!(call.interp.poll_timeout(), None);
    let out = call.finish_prompt();
    assert!(says(&out)[0].starts_with("For order status"));
    call.finish_prompt();
    // Second failure: retries (1) exhausted; no on_invalid, so on_timeout (no_input).
    let out = call.keys("8");
    assert_eq!(
        says(&out),
        ["We did not receive your choice. Thank you for calling Example Shop. Goodbye."]
    );
}

#[test]
fn a_key_during_the_invalid_prompt_answers_the_next_attempt() {
    let mut call = Call::default_plan();
    call.finish_prompt();
    call.finish_prompt();
    call.keys("7");
    let out = call.keys("3");
    assert_eq!(
        control(&out)[0],
        &Action::StopPrompt {
            id: call.current_prompt_before(&out)
        }
    );
    assert!(says(&out)[0].starts_with("Our support line is open"));
}

impl Call {
    /// The prompt that was playing before `out` was emitted.
    fn current_prompt_before(&self, out: &[Action]) -> PromptId {
        let earlier = &self.log[..self.log.len() - out.len()];
        earlier
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Say { id, .. } => Some(*id),
                _ => None,
            })
            .unwrap()
    }
}

#[test]
fn invalid_without_any_branch_hangs_up_failed() {
    let mut call =
        Call::from_yaml("steps:\n  - menu:\n      prompt: Pick.\n      retries: 0\n      options: { 1: a }\n  - label: a\n    hangup:\n");
    call.finish_prompt();
    let out = call.keys("5");
    assert_eq!(
        control(&out),
        [&Action::Hangup {
            disposition: Disposition::Failed
        }]
    );
}

#[test]
fn agent_queue_and_its_callback_path() {
    let mut call = Call::default_plan();
    call.finish_prompt();
    call.finish_prompt();
    let out = call.keys("0");
    assert_eq!(
        says(&out),
        ["Please hold while we connect you to an agent."]
    );
    assert!(matches!(
        control(&out)[..],
        [Action::Say {
            barge_in: false,
            ..
        }]
    ));
    let out = call.finish_prompt();
    let [Action::Queue { id, name, .. }] = control(&out)[..] else {
        panic!("not queued: {out:?}");
    };
    assert_eq!(name, "support");
    assert!(!call.interp.is_finished());
    assert!(call.keys("1").is_empty(), "keys are ignored while queued");
    let out = call.event(Event::QueueFull { id: *id });
    assert!(says(&out)[0].starts_with("Sorry, all our agents are busy"));
    let out = call.finish_prompt();
    assert!(records(&out).contains(&&TurnRecord::Ticket {
        priority: None,
        subject: Some("Callback request".into())
    }));
    assert!(call.interp.is_finished());
}

#[test]
fn goto_loop_is_capped_and_hangs_up_failed() {
    let call = Call::from_yaml("steps:\n  - label: a\n    set: { x: \"{x}ab\" }\n  - goto: a\n");
    assert!(call.interp.is_finished());
    assert!(matches!(
        control(&call.log)[..],
        [Action::Hangup {
            disposition: Disposition::Failed
        }]
    ));
    let reason = records(&call.log).into_iter().find_map(|r| match r {
        TurnRecord::Hangup { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("goto loop"));
    assert!(call.interp.vars()["x"].len() <= 1024);
    assert!(call.log.len() <= MAX_QUEUED_ACTIONS + 2);
}

#[test]
fn running_off_the_end_completes() {
    let call = Call::from_yaml("steps:\n  - set: { greeting: \"hi {caller}\" }\n");
    assert_eq!(call.interp.vars()["greeting"], "hi alice");
    assert_eq!(
        control(&call.log),
        [&Action::Hangup {
            disposition: Disposition::Completed
        }]
    );
}

#[test]
fn collect_outcomes() {
    let plan = "steps:\n  - collect:\n      var: pin\n      min_digits: 3\n      max_digits: 4\n      terminator: \"#\"\n      retries: 1\n      invalid: Too short.\n  - say: \"got {pin}\"\n  - collect: { var: more, max_digits: 2 }\n  - say: \"more {more}\"\n";
    // (keys, wait for timeout?, expected spoken after)
    let cases: &[(&str, bool, &str)] = &[
        ("123#", false, "got 123"),
        ("1234", false, "got 1234"), // completes at max_digits
        ("123", true, "got 123"),    // timeout with enough digits accepts
        ("12#", false, "Too short."),
        ("12", true, "Too short."),
        ("", true, ""), // silent timeout: no prompt to replay, just listens again
    ];
    for (keys, wait, want) in cases {
        let mut call = Call::from_yaml(plan);
        let mut out = call.keys(keys);
        if *wait {
            out.extend(call.time_out());
        }
        assert_eq!(says(&out).join("|"), *want, "keys {keys:?}");
    }
}

#[test]
fn terminator_after_a_full_collect_is_swallowed() {
    let mut call = Call::from_yaml(
        "steps:\n  - collect: { var: pin, max_digits: 2, terminator: \"#\" }\n  - menu:\n      prompt: Pick.\n      options: { 1: a }\n      invalid: Bad.\n  - label: a\n    say: A.\n",
    );
    let out = call.keys("12#");
    assert_eq!(
        says(&out),
        ["Pick."],
        "the # must not be an invalid menu key"
    );
}

#[test]
fn stale_and_foreign_events_are_ignored() {
    let mut call = Call::default_plan();
    assert!(call.event(Event::PromptFinished(PromptId(999))).is_empty());
    assert!(call
        .event(Event::TransferFailed { reason: "?".into() })
        .is_empty());
    assert!(call.keys("A").is_empty(), "A-D are not menu keys");
    call.interp.start(call.now);
    assert!(call.drain().is_empty(), "start twice is a no-op");
}

#[test]
fn play_steps_emit_play_and_wait_for_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav = dir.path().join("jingle.wav");
    hound::WavWriter::create(&wav, spec)
        .unwrap()
        .finalize()
        .unwrap();
    let plan_path = dir.path().join("p.yaml");
    std::fs::write(
        &plan_path,
        "steps:\n  - play: jingle.wav\n  - hangup: completed\n",
    )
    .unwrap();
    let mut call = Call::new(load_file(&plan_path).unwrap());
    assert!(
        matches!(&control(&call.log)[..], [Action::Play { path, barge_in: true, .. }] if *path == wav)
    );
    let out = call.finish_prompt();
    assert!(matches!(control(&out)[..], [Action::Hangup { .. }]));
}

#[derive(Debug, Clone)]
enum Op {
    Key(char),
    EndPrompt,
    StopPrompt,
    StalePrompt(u64),
    Sleep(u64),
    FireTimer,
    TransferFailed,
    /// Queue events name the latest wait (or a made-up one before any).
    QueuePosition(u32),
    QueueFull,
    AgentAnswered,
    AgentHungUp,
    StaleQueue(u64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        proptest::sample::select(vec!['0', '1', '2', '3', '7', '9', '#', '*', 'A'])
            .prop_map(Op::Key),
        Just(Op::EndPrompt),
        Just(Op::StopPrompt),
        (0u64..50).prop_map(Op::StalePrompt),
        (0u64..20_000).prop_map(Op::Sleep),
        Just(Op::FireTimer),
        Just(Op::TransferFailed),
        (0u32..20).prop_map(Op::QueuePosition),
        Just(Op::QueueFull),
        Just(Op::AgentAnswered),
        Just(Op::AgentHungUp),
        (0u64..50).prop_map(Op::StaleQueue),
    ]
}

proptest::proptest! {
    #[test]
    fn random_callers_never_panic_and_end_at_most_once(
        ops in proptest::collection::vec(op(), 0..200)
    ) {
        let mut call = Call::default_plan();
        for op in ops {
            let out = match op {
                Op::Key(k) => call.keys(&k.to_string()),
                Op::EndPrompt => call.finish_prompt(),
                Op::StopPrompt => {
                    let id = call.current_prompt();
                    call.event(Event::PromptStopped(id))
                }
                Op::StalePrompt(n) => call.event(Event::PromptFinished(PromptId(n))),
                Op::Sleep(ms) => {
                    call.now += Duration::from_millis(ms);
                    call.interp.handle_timeout(call.now);
                    call.drain()
                }
                Op::FireTimer => match call.interp.poll_timeout() {
                    Some(_) => call.time_out(),
                    None => Vec::new(),
                },
                Op::TransferFailed => call.event(Event::TransferFailed { reason: "x".into() }),
                Op::QueuePosition(position) => {
                    let id = call.queue_id();
                    call.event(Event::QueuePosition { id, position })
                }
                Op::QueueFull => call.event(Event::QueueFull { id: call.queue_id() }),
                Op::AgentAnswered => {
                    let id = call.queue_id();
                    call.event(Event::AgentAnswered { id, agent: "bob".into() })
                }
                Op::AgentHungUp => call.event(Event::AgentHungUp { id: call.queue_id() }),
                Op::StaleQueue(n) => {
                    let out = call.event(Event::AgentHungUp { id: QueueId(n) });
                    out.into_iter()
                        .chain(call.event(Event::QueueFull { id: QueueId(n) }))
                        .collect()
                }
            };
            proptest::prop_assert!(out.len() <= MAX_QUEUED_ACTIONS + 4);
            if let Some(deadline) = call.interp.poll_timeout() {
                proptest::prop_assert!(deadline > call.now, "a due deadline did not fire");
            }
        }
        let hangups = control(&call.log)
            .into_iter()
            .filter(|a| matches!(a, Action::Hangup { .. }))
            .count();
        proptest::prop_assert!(hangups <= 1);
        proptest::prop_assert_eq!(hangups == 1, call.interp.is_finished());
    }
}

// ---- ask: speech ----

fn heard(text: &str) -> Event {
    Event::Heard {
        text: text.into(),
        confidence: 0.9,
    }
}

fn understood(actions: &[Action]) -> Vec<&Understanding> {
    records(actions)
        .into_iter()
        .filter_map(|r| match r {
            TurnRecord::Understood(u) => Some(&**u),
            _ => None,
        })
        .collect()
}

/// The shipped plan for a caller who speaks, at the main menu with its prompt playing.
fn at_main_menu() -> Call {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/default.yaml");
    let mut call = Call::new(load_file(&path).unwrap());
    let out = call.finish_prompt();
    assert!(
        matches!(control(&out)[..], [Action::Listen { hints }, Action::Say { .. }] if hints.is_empty()),
        "{out:?}"
    );
    call
}

#[test]
fn spoken_order_status_then_spoken_number_is_read_back() {
    let mut call = at_main_menu();
    // Speech during the prompt barges in and holds the no-input timer.
    let out = call.event(Event::SpeechStarted);
    assert!(matches!(control(&out)[..], [Action::StopPrompt { .. }]));
    assert_eq!(call.interp.poll_timeout(), None);
    call.event(Event::PromptStopped(call.current_prompt()));
    assert_eq!(call.interp.poll_timeout(), None, "still hearing");

    let out = call.event(heard("I want to check the status of my order."));
    let u = understood(&out);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].intent.as_deref(), Some("order_status"));
    assert!(u[0].intent_confidence >= 0.5);
    assert_eq!(u[0].outcome, "intent");
    // Next ask: listen again with its own hints, then its prompt.
    assert!(
        matches!(
            control(&out)[..],
            [Action::Listen { .. }, Action::Say { .. }]
        ),
        "{out:?}"
    );
    assert_eq!(call.interp.vars()["intent"], "order_status");

    call.finish_prompt();
    let out = call.event(heard("One, two, three, four."));
    assert!(records(&out).contains(&&TurnRecord::Collected {
        var: "order_number".into(),
        value: "1234".into()
    }));
    assert_eq!(understood(&out)[0].outcome, "capture");
    // Leaving the ask stops listening before the read-back.
    assert!(matches!(control(&out)[0], Action::StopListening));
    assert!(says(&out)[0].contains("1 2 3 4"), "{out:?}");
}

#[test]
fn no_match_says_so_and_retries_then_gives_up() {
    let mut call = at_main_menu();
    call.finish_prompt();
    let out = call.event(heard("What's the weather like?"));
    assert_eq!(understood(&out)[0].outcome, "no-match");
    assert_eq!(says(&out), ["Sorry, I did not get that."]);
    call.finish_prompt();
    call.finish_prompt();
    let out = call.event(heard("Purple monkey dishwasher."));
    assert_eq!(
        says(&out),
        ["We did not receive your choice. Thank you for calling Example Shop. Goodbye."]
    );
}

#[test]
fn noise_keeps_listening_without_counting_a_failure() {
    let mut call = at_main_menu();
    call.finish_prompt();
    call.event(Event::SpeechStarted);
    assert_eq!(call.interp.poll_timeout(), None);
    let out = call.event(heard(""));
    assert_eq!(understood(&out)[0].outcome, "noise");
    assert!(control(&out).is_empty());
    assert_eq!(
        call.interp.poll_timeout(),
        Some(call.now + Duration::from_secs(6)),
        "the no-input timer restarts"
    );
}

#[test]
fn keys_still_work_while_listening() {
    let mut call = at_main_menu();
    let out = call.keys("3");
    assert!(
        matches!(
            control(&out)[..],
            [
                Action::StopPrompt { .. },
                Action::StopListening,
                Action::Say { .. }
            ]
        ),
        "{out:?}"
    );
    assert!(says(&out)[0].starts_with("Our support line is open"));
}

#[test]
fn speech_unavailable_falls_back_to_the_key_prompt() {
    let mut call = at_main_menu();
    let out = call.event(Event::SpeechUnavailable);
    assert!(records(&out).contains(&&TurnRecord::SpeechUnavailable { step: 1 }));
    assert!(matches!(control(&out)[0], Action::StopPrompt { .. }));
    assert!(
        says(&out)[0].starts_with("For order status, press 1."),
        "{out:?}"
    );
    // Later asks do not listen at all.
    call.finish_prompt();
    let out = call.keys("1");
    assert!(!out.iter().any(|a| matches!(a, Action::Listen { .. })));
    assert_eq!(
        says(&out),
        ["Please enter your order number, followed by the hash key."]
    );
}

#[test]
fn a_prompt_without_barge_in_ignores_speech() {
    let mut call = Call::from_yaml(
        "intents:\n  agent: [talk to a person]\nsteps:\n  - ask:\n      prompt: Listen carefully.\n      barge_in: false\n      intents: {agent: a}\n  - label: a\n    hangup: completed\n",
    );
    assert!(control(&call.event(Event::SpeechStarted)).is_empty());
    let out = call.event(heard("talk to a person"));
    assert_eq!(understood(&out)[0].outcome, "ignored");
    assert!(control(&out).is_empty());
}

#[test]
fn yes_no_capture_branches_on_the_answer() {
    let plan = "steps:\n  - ask:\n      prompt: Shall I text you the tracking link?\n      capture: {var: answer, entity: yes_no}\n      intents: {no: declined}\n  - say: Sent.\n  - hangup: completed\n  - label: declined\n    say: No problem.\n  - hangup: completed\n";
    let mut call = Call::from_yaml(plan);
    call.finish_prompt();
    let out = call.event(heard("Yes, please."));
    assert_eq!(call.interp.vars()["answer"], "yes");
    assert_eq!(says(&out), ["Sent."]);

    let mut call = Call::from_yaml(plan);
    call.finish_prompt();
    let out = call.event(heard("No thanks."));
    assert_eq!(says(&out), ["No problem."]);

    let mut call = Call::from_yaml(plan);
    call.finish_prompt();
    let out = call.keys("2");
    assert_eq!(call.interp.vars()["answer"], "no");
    assert_eq!(says(&out), ["No problem."]);
}

#[test]
fn a_spoken_number_of_the_wrong_length_is_invalid() {
    let mut call = at_main_menu();
    call.finish_prompt();
    call.event(heard("check my order"));
    call.finish_prompt();
    let out = call.event(heard("twelve"));
    assert!(records(&out)
        .iter()
        .any(|r| matches!(r, TurnRecord::InvalidInput { input, .. } if input == "twelve")));
    assert_eq!(says(&out), ["Sorry, order numbers have at least 4 digits."]);
}

#[test]
fn each_candidate_carries_the_reply_the_bot_would_give() {
    let mut call = at_main_menu();
    call.finish_prompt();
    let out = call.event(heard("I want to return an item"));
    let u = understood(&out);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].replies.len(), u[0].candidates.len());
    assert_eq!(u[0].candidates[0].intent, "returns");
    let reply = u[0].replies[0].as_deref().unwrap_or_default();
    assert!(
        reply.starts_with("You can return any item within 30 days"),
        "{reply:?}"
    );
    // The plan has no knowledge file: no article to suggest.
    assert_eq!(u[0].faq_answer, None);
}

#[test]
fn two_angry_turns_go_to_a_person() {
    let mut call = at_main_menu();
    call.finish_prompt();
    // One angry turn is answered like any other.
    let out = call.event(heard("This is ridiculous, I've been waiting for weeks!"));
    let u = understood(&out);
    assert_eq!(u.len(), 1);
    let sentiment = u[0].sentiment.as_ref().unwrap();
    assert_eq!(sentiment.polarity, crate::bot::Polarity::Negative);
    assert_eq!(sentiment.emotion, crate::bot::Emotion::Anger);
    assert_ne!(u[0].outcome, "angry");
    assert!(!u[0].candidates.is_empty() && u[0].candidates.len() <= 3);
    // The second goes to the agent branch, whatever the question was.
    call.finish_prompt();
    let out = call.event(heard("This is unacceptable, your service is useless."));
    assert_eq!(understood(&out)[0].outcome, "angry");
    assert!(
        records(&out)
            .iter()
            .any(|r| matches!(r, TurnRecord::StepEntered { label: Some(l), .. } if l == "agent")),
        "{out:?}"
    );
}

#[test]
fn a_knowledge_question_is_answered_then_the_question_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    std::fs::write(
        &plan_path,
        "faq: kb.md\nintents:\n  order: [where is my order]\nsteps:\n  - ask:\n      prompt: How can I help?\n      intents: {order: done}\n  - label: done\n    hangup: completed\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kb.md"),
        "## Do you ship abroad?\n## Do you deliver to other countries?\nWe deliver to the EU.\n",
    )
    .unwrap();
    let mut call = Call::new(load_file(&plan_path).unwrap());
    call.drain();
    call.finish_prompt();
    let out = call.event(heard("Do you deliver to other countries?"));
    let u = understood(&out);
    assert_eq!(u[0].outcome, "faq", "{out:?}");
    assert_eq!(u[0].article.as_deref(), Some("do-you-ship-abroad"));
    assert_eq!(says(&out), ["We deliver to the EU."]);
    // Not a failed attempt: the question comes again and an intent still works.
    let out = call.finish_prompt();
    assert_eq!(says(&out), ["How can I help?"]);
    call.finish_prompt();
    let out = call.event(heard("Where is my order?"));
    assert_eq!(understood(&out)[0].outcome, "intent");
}

#[path = "interp_ask_tests.rs"]
mod ask;
