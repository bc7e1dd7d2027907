//! Speech turns beyond one answer: "did you mean", values confirmed or corrected, values
//! carried from the request that chose the branch, amounts and dates.

use super::*;

/// Two intents that share words, so "my order" scores them the same.
const CLOSE_INTENTS: &str = "intents:
  returns:
    label: returning an item
    examples: [return my order]
  order_status: [check my order]
steps:
  - ask:
      prompt: How can I help?
      intents: {returns: back, order_status: status}
      threshold: 0.3
  - label: back
    say: Returns.
  - hangup: completed
  - label: status
    say: Status.
  - hangup: completed
";

fn listening(plan: &str) -> Call {
    let mut call = Call::from_yaml(plan);
    call.finish_prompt();
    call
}

#[test]
fn two_close_intents_are_asked_about_by_their_labels() {
    let mut call = listening(CLOSE_INTENTS);
    let out = call.event(heard("my order"));
    assert_eq!(understood(&out)[0].outcome, "ambiguous");
    assert_eq!(
        says(&out),
        ["Did you mean returning an item, or order status?"]
    );
    // Not a new attempt: the answer comes in the same step and picks one of the two.
    call.finish_prompt();
    let out = call.event(heard("the second one please"));
    let u = understood(&out);
    assert_eq!(
        (u[0].outcome, u[0].intent.as_deref()),
        ("clarified", Some("order_status"))
    );
    assert_eq!(says(&out), ["Status."]);
    assert_eq!(call.interp.vars()["intent"], "order_status");
}

#[test]
fn a_clarification_is_answered_by_name_or_yes() {
    for (answer, expected) in [("return it", "Returns."), ("yes", "Returns.")] {
        let mut call = listening(CLOSE_INTENTS);
        call.event(heard("my order"));
        call.finish_prompt();
        let out = call.event(heard(answer));
        assert_eq!(says(&out), [expected], "{answer:?}");
    }
}

#[test]
fn a_second_vague_answer_takes_the_likelier_without_asking_again() {
    let mut call = listening(CLOSE_INTENTS);
    call.event(heard("my order"));
    call.finish_prompt();
    let out = call.event(heard("my order"));
    assert_eq!(understood(&out)[0].outcome, "clarified", "{out:?}");
    assert_eq!(says(&out), ["Returns."]);
}

const ORDER_CONFIRM: &str = r##"intents:
  order_status: [where is my order, track my order]
steps:
  - ask:
      prompt: How can I help?
      intents: {order_status: number}
  - label: number
    ask:
      prompt: What is the order number?
      capture:
        var: order
        entity: order_number
        min_digits: 5
        max_digits: 10
        terminator: "#"
        confirm: "Order {order|digits}, is that right?"
      retries: 1
      on_timeout: gone
  - say: "Looking up {order|digits}."
  - hangup: completed
  - label: gone
    hangup: failed
"##;

#[test]
fn an_order_number_said_up_front_is_confirmed_not_asked_for() {
    let mut call = listening(ORDER_CONFIRM);
    let out = call.event(heard("Where is my order 12345?"));
    assert_eq!(understood(&out)[0].intent.as_deref(), Some("order_status"));
    assert_eq!(says(&out), ["Order 1 2 3 4 5, is that right?"]);
    call.finish_prompt();
    let out = call.event(heard("Yes, that's right."));
    assert_eq!(understood(&out)[0].outcome, "confirmed");
    assert!(records(&out).contains(&&TurnRecord::Collected {
        var: "order".into(),
        value: "12345".into()
    }));
    assert_eq!(says(&out), ["Looking up 1 2 3 4 5."]);
}

#[test]
fn a_wrong_value_is_asked_again_or_corrected() {
    // "No": the value is forgotten and the step's own question comes again.
    let mut call = listening(ORDER_CONFIRM);
    call.event(heard("Where is my order 12345?"));
    call.finish_prompt();
    let out = call.event(heard("No."));
    assert_eq!(understood(&out)[0].outcome, "denied");
    assert_eq!(says(&out), ["What is the order number?"]);
    assert!(!call.interp.vars().contains_key("order"));
    call.finish_prompt();
    let out = call.event(heard("one two three four six"));
    assert_eq!(says(&out), ["Order 1 2 3 4 6, is that right?"]);
    let out = call.keys("1");
    assert_eq!(says(&out), ["Looking up 1 2 3 4 6."]);

    // "No, it's …": the new value is confirmed in its place.
    let mut call = listening(ORDER_CONFIRM);
    call.event(heard("Where is my order 12345?"));
    call.finish_prompt();
    let out = call.event(heard("No, it's one two three four seven."));
    assert_eq!(understood(&out)[0].outcome, "corrected");
    assert_eq!(says(&out), ["Order 1 2 3 4 7, is that right?"]);
}

#[test]
fn a_caller_who_never_confirms_leaves_the_step() {
    let mut call = listening(ORDER_CONFIRM);
    call.event(heard("Where is my order 12345?"));
    call.finish_prompt();
    // Key 2 = no: the first of two attempts is used up.
    let out = call.keys("2");
    assert_eq!(says(&out), ["What is the order number?"]);
    call.finish_prompt();
    call.event(heard("one two three four five"));
    call.finish_prompt();
    let out = call.event(heard("purple"));
    assert_eq!(understood(&out)[0].outcome, "no-match");
    assert!(
        out.iter().any(|a| matches!(
            a,
            Action::Hangup {
                disposition: Disposition::Failed
            }
        )),
        "{out:?}"
    );
}

#[test]
fn keyed_digits_need_no_confirmation() {
    let mut call = listening(ORDER_CONFIRM);
    call.event(heard("track my order"));
    call.finish_prompt();
    let out = call.keys("12345#");
    assert_eq!(says(&out), ["Looking up 1 2 3 4 5."]);
}

#[test]
fn amounts_and_dates_are_captured_from_speech() {
    let plan = "steps:
  - ask:
      prompt: How much?
      capture: {var: amount, entity: amount, max_digits: 3, terminator: \"#\"}
  - ask:
      prompt: Which day?
      capture: {var: day, entity: date}
  - say: \"{amount} on {day}\"
  - hangup: completed
";
    let mut call = listening(plan);
    call.interp
        .set_today(crate::bot::CivilDate::new(2026, 11, 26).unwrap());
    let out = call.event(heard("Twenty five pounds please."));
    assert_eq!(says(&out), ["Which day?"]);
    call.finish_prompt();
    let out = call.event(heard("Tomorrow."));
    assert_eq!(says(&out), ["25 on 2026-11-27"]);

    // Keyed amounts are whole units; a date cannot be keyed.
    let mut call = listening(plan);
    call.keys("40#");
    assert_eq!(call.interp.vars()["amount"], "40");
    call.finish_prompt();
    let out = call.keys("5");
    assert!(records(&out)
        .iter()
        .any(|r| matches!(r, TurnRecord::InvalidInput { .. })));
}

#[test]
fn a_ticket_step_sets_priority_and_subject_and_goes_on() {
    let mut call = listening(
        "steps:\n  - ask:\n      prompt: Which line?\n      capture: {var: line, entity: phone_number, min_digits: 10, max_digits: 11}\n  - ticket: {priority: high, subject: \"Fault on {line}\"}\n  - say: Logged.\n  - hangup: completed\n",
    );
    let out = call.event(heard(
        "zero seven seven zero zero nine zero zero one two three",
    ));
    assert!(records(&out).contains(&&TurnRecord::Ticket {
        priority: Some(crate::tickets::Priority::High),
        subject: Some("Fault on 07700900123".into()),
    }));
    assert_eq!(says(&out), ["Logged."]);
}
