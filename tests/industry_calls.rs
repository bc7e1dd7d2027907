//! One spoken call per industry dialplan, through its main path: voxdesk runs on its embedded
//! defaults, so the called user picks the dialplan (`support@` the shop, `bank@` the bank,
//! `telecom@`, `government@`), and SIPp speaks four caller turns (espeak-ng, raw µ-law,
//! `sipp-scenarios/speech_script.xml`) while each question is asked. The ticket must show the
//! intents, the entities, a sentiment per turn, the bot's three best candidates, and the
//! priority and subject the dialplan gave the ticket.
//!
//! The pauses put each turn a second or more into the question it answers, measured on the
//! shipped prompts; a prompt made much longer needs its pause moved too.
//!
//! Needs the Whisper and MiniLM models that `tests/setup.sh` prepares.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::Voxdesk;
use serde_json::Value;

const TICKET_WAIT: Duration = Duration::from_secs(15);

/// One call at a time: the scripts' pauses assume recognition at its unloaded speed, and two
/// Whisper pools on a 2-core machine delay a turn past the question it answers.
static ONE_CALL_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What one caller turn must come out as on the ticket.
enum Heard {
    /// Matched this intent (the step branched on it).
    Intent(&'static str),
    /// Filled `var` with `value` (digits or yes/no).
    Captured(&'static str, &'static str),
}

/// One call: who is called, the four turns with the pause before each (ms from the start of
/// the previous turn, the first from the answer), and what the ticket must show.
struct Script {
    user: &'static str,
    dialplan_file: &'static str,
    turns: [(u32, &'static str, Heard); 4],
    /// Values collected without a turn of their own (carried from the request).
    collected: &'static [(&'static str, &'static str)],
    /// Words of a prompt that proves the main path's work was done.
    prompt: &'static str,
    /// The ticket's priority and the start of its subject.
    ticket: (&'static str, &'static str),
}

fn run(script: &Script) {
    let _turn = ONE_CALL_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let vox = Voxdesk::start_routed(None);
    let mut sipp = vox.sipp("speech_script.xml").service(script.user);
    for (i, (pause, text, _)) in script.turns.iter().enumerate() {
        let n = i + 1;
        sipp = sipp
            .clip(&format!("turn{n}.ul"), text)
            .set(&format!("at{n}"), &pause.to_string());
    }
    let outcome = sipp.run();
    vox.assert_passed(&outcome);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    let detail = vox.ticket(&ticket["id"]);
    let turns = detail["turns"].as_array().cloned().unwrap_or_default();
    let routed = turns
        .iter()
        .any(|t| t["kind"] == "note" && t["data"]["file"] == script.dialplan_file);
    assert!(
        routed,
        "{} did not run {}: {detail}",
        script.user, script.dialplan_file
    );

    let heard: Vec<&Value> = turns
        .iter()
        .filter(|t| t["kind"] == "speech" && t["outcome"] != "noise")
        .collect();
    assert_eq!(heard.len(), 4, "four caller turns expected: {detail}");
    for (turn, (_, said, expected)) in heard.iter().zip(&script.turns) {
        let sentiment = &turn["sentiment"];
        assert!(
            ["negative", "neutral", "positive"]
                .contains(&sentiment["polarity"].as_str().unwrap_or("")),
            "no sentiment for {said:?}: {turn}"
        );
        assert!(
            sentiment["emotion"].is_string(),
            "no emotion for {said:?}: {turn}"
        );
        let candidates = turn["candidates"].as_array().cloned().unwrap_or_default();
        assert_eq!(candidates.len(), 3, "three candidates for {said:?}: {turn}");
        match expected {
            Heard::Intent(intent) => {
                assert_eq!(turn["intent"], *intent, "{said:?}: {turn}");
                assert_eq!(candidates[0]["intent"], *intent, "{said:?}: {turn}");
            }
            Heard::Captured(var, value) => {
                assert_eq!(turn["outcome"], "capture", "{said:?}: {turn}");
                let collected = turns.iter().any(|t| {
                    t["kind"] == "collect"
                        && t["data"]["var"] == *var
                        && t["data"]["value"] == *value
                });
                assert!(
                    collected,
                    "{var}={value} not collected from {said:?}: {detail}"
                );
            }
        }
    }
    for (var, value) in script.collected {
        let collected = turns.iter().any(|t| {
            t["kind"] == "collect" && t["data"]["var"] == *var && t["data"]["value"] == *value
        });
        assert!(collected, "{var}={value} not collected: {detail}");
    }
    // The call's roll-up counts every caller turn.
    assert_eq!(detail["sentiment"]["turns"], 4, "{detail}");
    let (priority, subject) = script.ticket;
    assert_eq!(detail["priority"], priority, "{detail}");
    let said = detail["subject"].as_str().unwrap_or_default();
    assert!(said.starts_with(subject), "subject {said:?}: {detail}");
    let done = turns.iter().any(|t| {
        t["kind"] == "prompt"
            && t["text"]
                .as_str()
                .unwrap_or_default()
                .contains(script.prompt)
    });
    assert!(done, "no prompt with {:?}: {detail}", script.prompt);
}

#[test]
fn the_shop_reads_an_order_number_said_up_front_and_sends_a_return_label() {
    run(&Script {
        user: "support",
        dialplan_file: "dialplans/ecommerce.yaml",
        turns: [
            // The number in the request fills the next question's slot: it is not asked for.
            (
                6000,
                "Where is my order? The order number is one two three four five.",
                Heard::Intent("order_status"),
            ),
            (
                18000,
                "I'd like to return an item.",
                Heard::Intent("returns"),
            ),
            (
                14000,
                "Yes, please.",
                Heard::Captured("wants_return_label", "yes"),
            ),
            (
                7000,
                "One two three four five.",
                Heard::Captured("return_order_number", "12345"),
            ),
        ],
        collected: &[("order_number", "12345")],
        prompt: "Order 1 2 3 4 5 has left our warehouse",
        ticket: ("normal", "Return label for order 12345"),
    });
}

#[test]
fn the_bank_blocks_a_lost_card_after_confirmation() {
    run(&Script {
        user: "bank",
        dialplan_file: "dialplans/bank.yaml",
        turns: [
            (
                11000,
                "Hello, I have lost my bank card.",
                Heard::Intent("card_lost"),
            ),
            (
                9000,
                "Four three two one.",
                Heard::Captured("card_last_digits", "4321"),
            ),
            (
                12000,
                "Yes, please block it.",
                Heard::Captured("block_confirmed", "yes"),
            ),
            (
                16000,
                "No, everything looks normal.",
                Heard::Captured("unknown_payments", "no"),
            ),
        ],
        collected: &[],
        prompt: "Your card ending 4 3 2 1 is now blocked",
        ticket: ("urgent", "Card ending 4321 blocked"),
    });
}

#[test]
fn the_telecom_line_tops_up_a_spoken_amount() {
    run(&Script {
        user: "telecom",
        dialplan_file: "dialplans/telecom.yaml",
        turns: [
            (
                6000,
                "I'd like to buy some more credit for my mobile.",
                Heard::Intent("top_up"),
            ),
            (
                9000,
                "Yes, it is.",
                Heard::Captured("topup_own_phone", "yes"),
            ),
            (
                10000,
                "Twenty pounds, please.",
                Heard::Captured("topup_amount", "20"),
            ),
            (
                12000,
                "Yes, please send it.",
                Heard::Captured("topup_confirmed", "yes"),
            ),
        ],
        collected: &[],
        prompt: "The payment link is on its way",
        ticket: ("normal", ""),
    });
}

#[test]
fn the_council_checks_an_appointment() {
    run(&Script {
        user: "government",
        dialplan_file: "dialplans/government.yaml",
        turns: [
            (
                6000,
                "Hi, I'd like to check on my appointment.",
                Heard::Intent("appointment_status"),
            ),
            (
                12000,
                "One two three four five six seven eight.",
                Heard::Captured("booking_reference", "12345678"),
            ),
            (
                16000,
                // Not "no, thank you": Whisper's "Thank you." on silence is filtered as noise.
                "No, I do not need to change it.",
                Heard::Captured("wants_appointment_change", "no"),
            ),
            (
                6500,
                "That's all for today. Goodbye.",
                Heard::Intent("goodbye"),
            ),
        ],
        collected: &[],
        prompt: "Booking 1 2 3 4 5 6 7 8 is confirmed",
        ticket: ("normal", ""),
    });
}
