//! The `queue` and `csat` steps on a fake clock: the call layer's queue events are made up
//! here, as are the caller's keys and transcripts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::interp_tests::says;
use super::*;

const PLAN: &str = r#"
steps:
  - label: wait
    queue:
      name: support
      max_wait: 300
      announce: "You are number {queue_position} in the queue, waiting {queue_wait} minutes."
      announce_every: 30
      priority: "{vip}"
      skill: "{team}"
      on_timeout: late
      on_full: full
      next: survey
  - label: late
    say: Late.
  - hangup: no-input
  - label: full
    say: Full.
  - hangup: failed
  - label: survey
    csat:
      prompt: Rate us from one to five.
      invalid: Please give a number from one to five.
      retries: 1
      timeout: 4s
  - say: "Bye {csat}."
  - hangup: completed
"#;

const EVERY: Duration = Duration::from_secs(30);

struct Call {
    interp: Interp,
    now: Instant,
    log: Vec<Action>,
}

impl Call {
    fn new(yaml: &str) -> Call {
        Call::with(load_str("t.yaml", yaml).unwrap(), true)
    }

    fn with(plan: Dialplan, speech: bool) -> Call {
        let vars = HashMap::from([
            ("caller".to_string(), "alice".to_string()),
            ("vip".to_string(), "3".to_string()),
            ("team".to_string(), "billing".to_string()),
        ]);
        let mut interp = Interp::new(Arc::new(plan), vars);
        if !speech {
            interp.disable_speech();
        }
        let now = Instant::now();
        interp.start(now);
        let mut call = Call {
            interp,
            now,
            log: Vec::new(),
        };
        call.drain();
        call
    }

    fn drain(&mut self) -> Vec<Action> {
        let out: Vec<Action> = std::iter::from_fn(|| self.interp.poll_action()).collect();
        self.log.extend(out.iter().cloned());
        out
    }

    fn event(&mut self, event: Event) -> Vec<Action> {
        self.interp.handle_event(event, self.now);
        self.drain()
    }

    /// Moves the clock to `at` and fires what is due.
    fn advance_to(&mut self, at: Instant) -> Vec<Action> {
        self.now = at;
        self.interp.handle_timeout(at);
        self.drain()
    }

    /// Fires the pending deadline, checking nothing fires just before it.
    fn time_out(&mut self) -> Vec<Action> {
        let deadline = self.interp.poll_timeout().expect("no timer armed");
        self.interp
            .handle_timeout(deadline - Duration::from_millis(1));
        assert!(self.drain().is_empty(), "fired before its deadline");
        self.advance_to(deadline)
    }

    fn queue_id(&self) -> QueueId {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Queue { id, .. } => Some(*id),
                _ => None,
            })
            .expect("never queued")
    }

    fn last_prompt(&self) -> PromptId {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Say { id, .. } => Some(*id),
                _ => None,
            })
            .expect("nothing said")
    }

    fn finish_prompt(&mut self) -> Vec<Action> {
        let id = self.last_prompt();
        self.event(Event::PromptFinished(id))
    }

    fn keys(&mut self, keys: &str) -> Vec<Action> {
        keys.chars()
            .flat_map(|k| self.event(Event::Dtmf(k)))
            .collect()
    }

    fn heard(&mut self, text: &str) -> Vec<Action> {
        self.event(Event::Heard {
            text: text.into(),
            confidence: 0.9,
        })
    }

    /// Queued, answered by `agent`, then the agent hangs up: the survey prompt is playing.
    fn at_survey(yaml: &str) -> Call {
        let mut call = Call::new(yaml);
        let id = call.queue_id();
        call.event(Event::AgentAnswered {
            id,
            agent: "bob".into(),
        });
        call.event(Event::AgentHungUp { id });
        call
    }
}

fn control(actions: &[Action]) -> Vec<&Action> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Record(_)))
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

fn csat_scores(actions: &[Action]) -> Vec<u8> {
    records(actions)
        .into_iter()
        .filter_map(|r| match r {
            TurnRecord::Csat { score } => Some(*score),
            _ => None,
        })
        .collect()
}

#[test]
fn entering_queues_the_caller_with_rendered_priority_and_skill() {
    let call = Call::new(PLAN);
    let id = call.queue_id();
    assert_eq!(
        control(&call.log),
        [&Action::Queue {
            id,
            name: "support".into(),
            priority: 3,
            skill: Some("billing".into()),
            agent: None,
            hold_music: None,
        }]
    );
    assert!(records(&call.log).contains(&&TurnRecord::Queued {
        step: 0,
        name: "support".into(),
        priority: 3,
        skill: Some("billing".into()),
    }));
    assert_eq!(call.interp.poll_timeout(), Some(call.now + EVERY));
}

#[test]
fn announcements_come_every_interval_with_the_position_and_never_overlap() {
    let mut call = Call::new(PLAN);
    let start = call.now;
    let id = call.queue_id();
    // No place reported yet: an announcement naming it is skipped, the next one is due.
    assert!(says(&call.time_out()).is_empty());
    assert_eq!(call.interp.poll_timeout(), Some(start + 2 * EVERY));

    assert!(call
        .event(Event::QueuePosition { id, position: 4 })
        .is_empty());
    let out = call.time_out();
    assert_eq!(
        says(&out),
        ["You are number 4 in the queue, waiting 1 minutes."]
    );
    assert!(matches!(
        control(&out)[..],
        [Action::Say {
            barge_in: false,
            ..
        }]
    ));
    assert_eq!(call.interp.vars()["queue_position"], "4");

    // Still playing when the next one is due: skipped, not stacked.
    call.event(Event::QueuePosition { id, position: 2 });
    assert!(says(&call.time_out()).is_empty());
    call.finish_prompt();
    let out = call.time_out();
    assert_eq!(call.now, start + 4 * EVERY);
    assert_eq!(
        says(&out),
        ["You are number 2 in the queue, waiting 2 minutes."]
    );
    // Keys are ignored while queued (and not kept for later).
    assert!(call.keys("12#").is_empty());
}

#[test]
fn max_wait_leaves_the_queue_and_takes_on_timeout() {
    let mut call = Call::new(PLAN);
    let start = call.now;
    let id = call.queue_id();
    call.event(Event::QueuePosition { id, position: 1 });
    call.advance_to(start + Duration::from_secs(290));
    let playing = call.last_prompt();
    let out = call.advance_to(start + Duration::from_secs(300));
    assert_eq!(
        control(&out)[..3],
        [
            &Action::LeaveQueue { id },
            &Action::StopPrompt { id: playing },
            &Action::Say {
                id: PromptId(playing.0 + 1),
                text: "Late.".into(),
                voice: "en-us".into(),
                barge_in: true,
            },
        ]
    );
    assert!(records(&out).contains(&&TurnRecord::QueueLeft {
        name: "support".into(),
        exit: QueueExit::TimedOut,
        waited: Duration::from_secs(300),
    }));
    // The stopped announcement's end must not move the `say` step along.
    assert!(call.event(Event::PromptStopped(playing)).is_empty());
}

#[test]
fn a_full_queue_takes_on_full() {
    let mut call = Call::new(PLAN);
    let id = call.queue_id();
    call.now += Duration::from_secs(2);
    let out = call.event(Event::QueueFull { id });
    assert_eq!(says(&out), ["Full."]);
    assert!(!out.iter().any(|a| matches!(a, Action::LeaveQueue { .. })));
    assert!(records(&out).contains(&&TurnRecord::QueueLeft {
        name: "support".into(),
        exit: QueueExit::Full,
        waited: Duration::from_secs(2),
    }));
}

#[test]
fn an_agent_call_then_the_survey() {
    let mut call = Call::new(PLAN);
    let id = call.queue_id();
    call.event(Event::QueuePosition { id, position: 1 });
    call.advance_to(call.now + EVERY);
    let playing = call.last_prompt();
    call.now += Duration::from_secs(5);
    let out = call.event(Event::AgentAnswered {
        id,
        agent: "bob\u{7}".into(),
    });
    assert_eq!(
        control(&out),
        [
            &Action::StopPrompt { id: playing },
            // Agent assist: the caller keeps being transcribed.
            &Action::Listen {
                hints: String::new()
            }
        ]
    );
    assert!(records(&out).contains(&&TurnRecord::AgentAnswered {
        agent: "bob".into(),
        waited: Duration::from_secs(35),
    }));
    assert_eq!(call.interp.vars()["agent"], "bob");
    // Bridged: no timers, no prompts, keys and speech change nothing.
    assert_eq!(call.interp.poll_timeout(), None);
    assert!(call
        .advance_to(call.now + Duration::from_secs(600))
        .is_empty());
    assert!(call.keys("1").is_empty());
    // What the caller says to the agent is read and recorded, and decides nothing.
    let said = call.heard("five");
    assert!(control(&said).is_empty());
    match records(&said).as_slice() {
        [TurnRecord::Understood(heard)] => {
            assert_eq!((heard.text.as_str(), heard.outcome), ("five", "with-agent"));
            // This plan has no intents: nothing to suggest, and no reply without a candidate.
            assert_eq!(heard.replies.len(), heard.candidates.len());
        }
        other => panic!("unexpected records {other:?}"),
    }
    assert!(call.event(Event::PromptFinished(playing)).is_empty());

    let out = call.event(Event::AgentHungUp { id });
    assert!(records(&out).contains(&&TurnRecord::AgentHungUp {
        agent: "bob".into(),
        talked: Duration::from_secs(600),
    }));
    assert_eq!(says(&out), ["Rate us from one to five."]);
    assert!(out.contains(&Action::Listen {
        hints: CSAT_HINTS.into()
    }));
}

#[test]
fn a_transferred_call_names_the_agent_who_took_it() {
    let mut call = Call::new(PLAN);
    let id = call.queue_id();
    call.event(Event::AgentAnswered {
        id,
        agent: "bob".into(),
    });
    call.now += Duration::from_secs(30);
    let out = call.event(Event::AgentAnswered {
        id,
        agent: "carol".into(),
    });
    assert!(control(&out).is_empty());
    assert_eq!(
        records(&out),
        [&TurnRecord::AgentAnswered {
            agent: "carol".into(),
            waited: Duration::ZERO,
        }]
    );
    assert_eq!(call.interp.vars()["agent"], "carol");
    call.now += Duration::from_secs(20);
    let out = call.event(Event::AgentHungUp { id });
    assert!(records(&out).contains(&&TurnRecord::AgentHungUp {
        agent: "carol".into(),
        talked: Duration::from_secs(20),
    }));
}

#[test]
fn without_next_the_agents_hang_up_ends_the_call_transferred() {
    let plan = "steps:\n  - queue: {name: support, on_timeout: x, on_full: x}\n  - label: x\n    hangup: completed\n";
    let mut call = Call::new(plan);
    let id = call.queue_id();
    call.event(Event::AgentAnswered {
        id,
        agent: "bob".into(),
    });
    let out = call.event(Event::AgentHungUp { id });
    assert_eq!(
        control(&out),
        [
            &Action::StopListening,
            &Action::Hangup {
                disposition: Disposition::Transferred
            }
        ]
    );
    assert!(call.interp.is_finished());
}

#[test]
fn stale_and_early_queue_events_are_ignored() {
    let mut call = Call::new(PLAN);
    let id = call.queue_id();
    let stale = QueueId(id.0 + 100);
    let deadline = call.interp.poll_timeout();
    for event in [
        Event::QueuePosition {
            id: stale,
            position: 1,
        },
        Event::QueueFull { id: stale },
        Event::AgentAnswered {
            id: stale,
            agent: "eve".into(),
        },
        Event::AgentHungUp { id: stale },
        // Not answered yet: a hang-up cannot end what never began.
        Event::AgentHungUp { id },
        Event::TransferFailed { reason: "?".into() },
    ] {
        assert!(call.event(event.clone()).is_empty(), "{event:?}");
    }
    assert!(!call.interp.vars().contains_key("queue_position"));
    assert_eq!(call.interp.poll_timeout(), deadline);

    call.event(Event::QueueFull { id });
    // Once the wait is over its events are stale too.
    for event in [
        Event::QueuePosition { id, position: 1 },
        Event::QueueFull { id },
        Event::AgentAnswered {
            id,
            agent: "eve".into(),
        },
        Event::AgentHungUp { id },
    ] {
        assert!(call.event(event.clone()).is_empty(), "{event:?}");
    }
}

#[test]
fn csat_by_key() {
    let mut call = Call::at_survey(PLAN);
    let prompt = call.last_prompt();
    let out = call.keys("4");
    assert_eq!(csat_scores(&out), [4]);
    assert_eq!(call.interp.vars()["csat"], "4");
    assert!(out.contains(&Action::StopPrompt { id: prompt }));
    assert_eq!(says(&out), ["Bye 4."]);
    assert!(out.contains(&Action::StopListening));
}

#[test]
fn csat_by_speech() {
    for (said, score) in [("four", 4), ("Five out of five!", 5), ("2", 2)] {
        let mut call = Call::at_survey(PLAN);
        call.finish_prompt();
        let out = call.heard(said);
        assert_eq!(csat_scores(&out), [score], "{said:?}");
        assert_eq!(says(&out), [format!("Bye {score}.")]);
    }
}

#[test]
fn csat_invalid_then_valid() {
    let mut call = Call::at_survey(PLAN);
    call.finish_prompt();
    let out = call.heard("it was fine");
    assert!(csat_scores(&out).is_empty());
    assert!(records(&out).iter().any(|r| matches!(r,
        TurnRecord::InvalidInput { input, attempt: 1, .. } if input == "it was fine")));
    assert_eq!(says(&out), ["Please give a number from one to five."]);
    let out = call.finish_prompt();
    assert_eq!(says(&out), ["Rate us from one to five."]);
    call.finish_prompt();
    let out = call.keys("3");
    assert_eq!(csat_scores(&out), [3]);
    assert_eq!(says(&out), ["Bye 3."]);

    // Out of range twice: the survey gives up and the call goes on.
    let mut call = Call::at_survey(PLAN);
    call.finish_prompt();
    call.keys("9");
    call.finish_prompt();
    call.finish_prompt();
    let out = call.keys("0");
    assert_eq!(says(&out), ["Bye ."]);
    assert!(csat_scores(&call.log).is_empty());
}

#[test]
fn csat_without_an_answer_goes_on_and_records_nothing() {
    let mut call = Call::at_survey(PLAN);
    call.finish_prompt();
    let out = call.time_out();
    assert!(records(&out)
        .iter()
        .any(|r| matches!(r, TurnRecord::NoInput { attempt: 1, .. })));
    assert_eq!(says(&out), ["Rate us from one to five."]);
    call.finish_prompt();
    let out = call.time_out();
    assert_eq!(says(&out), ["Bye ."]);
    assert!(csat_scores(&call.log).is_empty());
    assert!(!call.interp.vars().contains_key("csat"));
    let out = call.finish_prompt();
    assert!(out.contains(&Action::Hangup {
        disposition: Disposition::Completed
    }));
}

#[test]
fn csat_on_keys_only_when_speech_is_unavailable() {
    let plan = "steps:\n  - csat: {prompt: Rate us.}\n  - hangup: completed\n";
    let mut call = Call::with(load_str("t.yaml", plan).unwrap(), false);
    assert!(!call.log.iter().any(|a| matches!(a, Action::Listen { .. })));
    call.finish_prompt();
    let out = call.keys("5");
    assert_eq!(csat_scores(&out), [5]);
}

/// The shipped dialplans send a caller who asks for a person (from `agent` on) to the
/// `support` queue; a refused caller gets a callback ticket, a served one the survey.
#[test]
fn shipped_dialplans_queue_for_agents() {
    for file in [
        "default.yaml",
        "ecommerce.yaml",
        "bank.yaml",
        "telecom.yaml",
        "government.yaml",
    ] {
        // Full queue: a callback ticket, then the call ends.
        let mut call = at_shipped_queue(file);
        let out = call.event(Event::QueueFull {
            id: call.queue_id(),
        });
        assert_eq!(control(&out).len(), 1, "{file}: {out:?}");
        call.finish_prompt();
        let ticket = records(&call.log).into_iter().any(
            |r| matches!(r, TurnRecord::Ticket { subject: Some(s), .. } if s == "Callback request"),
        );
        assert!(ticket, "{file}: no callback ticket: {:?}", call.log);
        assert!(call.interp.is_finished(), "{file}");

        // Served: the survey, then goodbye.
        let mut call = at_shipped_queue(file);
        let id = call.queue_id();
        call.event(Event::AgentAnswered {
            id,
            agent: "bob".into(),
        });
        let out = call.event(Event::AgentHungUp { id });
        assert!(
            says(&out).iter().any(|s| s.contains("from one to five")),
            "{file}: {out:?}"
        );
        call.finish_prompt();
        let out = call.keys("5");
        assert_eq!(csat_scores(&out), [5], "{file}");
        call.finish_prompt();
        assert!(call.interp.is_finished(), "{file}");
        assert!(call.log.contains(&Action::Hangup {
            disposition: Disposition::Completed
        }));
    }
}

/// A shipped dialplan started at its `agent` label, keys only, with the hold message played.
fn at_shipped_queue(file: &str) -> Call {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dialplans")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("\nstart: greeting\n", "\nstart: agent\n", 1);
    assert!(text.contains("start: agent"), "{file}");
    let plan = load_str(&path.display().to_string(), &text).unwrap();
    let mut call = Call::with(plan, false);
    call.finish_prompt();
    call.queue_id();
    call
}

// ---- loader ----

#[test]
fn each_loader_rule_reports_its_line_and_message() {
    const Q: &str = "  - queue:\n      name: support\n      on_timeout: a\n      on_full: a\n";
    let cases: &[(&str, usize, &str)] = &[
        ("  - queue: support\n", 2, "`queue` must be a mapping"),
        ("  - queue: {on_timeout: a, on_full: a}\n", 2, "queue step is missing required key `name`"),
        ("  - queue: {name: support, on_full: a}\n", 2, "queue step is missing required key `on_timeout`"),
        ("  - queue: {name: support, on_timeout: a}\n", 2, "queue step is missing required key `on_full`"),
        ("  - queue: {name: \"\", on_timeout: a, on_full: a}\n", 2, "bad queue name ``"),
        ("  - queue: {name: \"two words\", on_timeout: a, on_full: a}\n", 2, "bad queue name `two words`"),
        ("  - queue: {name: , on_timeout: a, on_full: a}\n", 2, "`name` must be a string"),
        ("  - queue: {name: support, on_timeout: nowhere, on_full: a}\n", 2, "`on_timeout` refers to unknown label `nowhere`"),
        ("  - queue: {name: support, on_timeout: a, on_full: nowhere}\n", 2, "`on_full` refers to unknown label `nowhere`"),
        (&format!("{Q}      next: nowhere\n"), 6, "`next` refers to unknown label `nowhere`"),
        (&format!("{Q}      max_wait: 0\n"), 6, "`max_wait` is 0, must be between 5 and 3600"),
        (&format!("{Q}      max_wait: 5m\n"), 6, "`max_wait` must be a whole number, found `5m`"),
        (&format!("{Q}      announce: hi\n      announce_every: 5\n"), 7, "`announce_every` is 5, must be between 10 and 600"),
        (&format!("{Q}      announce_every: 30\n"), 6, "`announce_every` needs `announce`"),
        (&format!("{Q}      announce: \"number {{queue_position\"\n"), 6, "`announce`: unclosed"),
        (&format!("{Q}      priority: 10\n"), 6, "`priority` is 10, must be between 0 and 9"),
        (&format!("{Q}      priority: high\n"), 6, "`priority` must be a number from 0 to 9 or a template like \"{vip_priority}\", found `high`"),
        (&format!("{Q}      priority: \"{{vip\"\n"), 6, "`priority`: unclosed"),
        (&format!("{Q}      skill: \"{{x\"\n"), 6, "`skill`: unclosed"),
        (&format!("{Q}      hold_music: missing.wav\n"), 6, "cannot play `missing.wav`"),
        (&format!("{Q}      wait: 3\n"), 6, "unknown key `wait` in queue; allowed keys: name, max_wait, announce, announce_every, hold_music, priority, skill, agent, on_timeout, on_full, next"),
        ("  - csat: rate us\n", 2, "`csat` must be a mapping"),
        ("  - csat: {retries: 1}\n", 2, "csat step is missing required key `prompt`"),
        ("  - csat: {prompt: Rate us., next: nowhere}\n", 2, "`next` refers to unknown label `nowhere`"),
        ("  - csat: {prompt: Rate us., retries: 11}\n", 2, "`retries` is 11, must be between 0 and 10"),
        ("  - csat: {prompt: Rate us., timeout: 3}\n", 2, "`timeout`: `3` is not a duration"),
        ("  - csat: {prompt: Rate us., on_timeout: a}\n", 2, "unknown key `on_timeout` in csat; allowed keys: prompt, timeout, retries, invalid, barge_in, next"),
        ("  - csat: {prompt: \"{x\"}\n", 2, "`prompt`: unclosed"),
    ];
    for (snippet, line, needle) in cases {
        let text = format!("steps:\n{snippet}  - label: a\n    hangup:\n");
        let Err(DialplanErrors(errors)) = load_str("t.yaml", &text) else {
            panic!("expected errors for:\n{text}");
        };
        let hit = errors
            .iter()
            .any(|e| e.line == Some(*line) && e.to_string().contains(needle));
        assert!(
            hit,
            "{snippet:?}: want line {line} `{needle}`, got {errors:#?}"
        );
    }
}

#[test]
fn loads_full_steps_and_their_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(dir.path().join("hold.wav"), spec).unwrap();
    wav.write_sample(0i16).unwrap();
    wav.finalize().unwrap();
    let text = "steps:
  - queue:
      name: support
      hold_music: hold.wav
      priority: 9
      announce: \"{queue_position} {queue_wait}\"
      on_timeout: done
      on_full: done
  - queue: {name: sales.emea, on_timeout: done, on_full: done, next: done}
  - csat: {prompt: \"Thanks {agent}. Rate us.\"}
  - label: done
    say: \"{csat}\"
";
    let path = dir.path().join("plan.yaml");
    std::fs::write(&path, text).unwrap();
    let plan = load_file(&path).unwrap();
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    let StepKind::Queue(full) = &plan.steps()[0].kind else {
        panic!("not a queue");
    };
    assert_eq!(
        full.hold_music.as_deref(),
        Some(&*dir.path().join("hold.wav"))
    );
    assert_eq!(full.priority(&HashMap::new()), 9);
    assert_eq!(full.announce_every, Duration::from_secs(30));
    assert_eq!(full.max_wait, Duration::from_secs(300));
    assert_eq!((full.on_timeout.index, full.on_full.index), (3, 3));
    assert!(full.next.is_none());
    let StepKind::Queue(plain) = &plan.steps()[1].kind else {
        panic!("not a queue");
    };
    assert_eq!(plain.name, "sales.emea");
    assert!(plain.announce.is_none() && plain.hold_music.is_none() && plain.skill.is_none());
    assert_eq!(plain.priority(&HashMap::new()), 0);
    assert_eq!(plain.next.as_ref().map(|t| t.index), Some(3));
    let StepKind::Csat(csat) = &plan.steps()[2].kind else {
        panic!("not a csat");
    };
    assert_eq!(
        (csat.input.retries, csat.input.timeout, csat.input.barge_in),
        (2, Duration::from_secs(5), true)
    );
    assert!(csat.next.is_none() && csat.input.on_timeout.is_none());
}
