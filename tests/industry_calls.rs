//! One spoken call per industry dialplan, through its main path: voxdesk runs on its embedded
//! defaults, so the called user picks the dialplan (`support@` the shop, `bank@` the bank,
//! `telecom@`, `government@`), and SIPp speaks four caller turns (espeak-ng, raw µ-law,
//! `sipp-scenarios/speech_script.xml`) while each question is asked. The ticket must show the
//! intents, the entities, a sentiment per turn and the bot's three best candidates.
//!
//! The pauses put each turn a second or more into the question it answers, measured on the
//! shipped prompts; a prompt made much longer needs its pause moved too.
//!
//! Needs the Whisper and MiniLM models that `tests/setup.sh` prepares.

mod common;

use std::time::Duration;

use common::Voxdesk;
use serde_json::Value;

const TICKET_WAIT: Duration = Duration::from_secs(15);

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
    /// Words of a prompt that proves the main path's work was done.
    prompt: &'static str,
}

fn run(script: &Script) {
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
fn the_shop_tracks_an_order_and_tells_its_hours() {
    run(&Script {
        user: "support",
        dialplan_file: "dialplans/ecommerce.yaml",
        turns: [
            (
                6000,
                "Hi, where is my parcel? I ordered it last week.",
                Heard::Intent("order_status"),
            ),
            (
                9000,
                "One two three four five.",
                Heard::Captured("order_number", "12345"),
            ),
            (
                16000,
                "What are your opening hours?",
                Heard::Intent("opening_hours"),
            ),
            (
                16000,
                "That's everything, thanks. Goodbye.",
                Heard::Intent("goodbye"),
            ),
        ],
        prompt: "Order 1 2 3 4 5 has left our warehouse",
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
        prompt: "Your card ending 4 3 2 1 is now blocked",
    });
}

#[test]
fn the_telecom_line_logs_a_fault() {
    run(&Script {
        user: "telecom",
        dialplan_file: "dialplans/telecom.yaml",
        turns: [
            (
                6000,
                "My broadband keeps dropping out, it's really annoying.",
                Heard::Intent("fault_report"),
            ),
            (
                12000,
                "Yes, I have already restarted the router.",
                Heard::Captured("already_restarted", "yes"),
            ),
            (
                10000,
                "Zero seven seven zero zero, nine zero zero, one two three.",
                Heard::Captured("fault_number", "07700900123"),
            ),
            (
                21000,
                "That's all for today. Goodbye.",
                Heard::Intent("goodbye"),
            ),
        ],
        prompt: "I have logged a fault for 0 7 7 0 0 9 0 0 1 2 3",
    });
}

#[test]
fn the_council_logs_a_complaint_for_a_call_back() {
    run(&Script {
        user: "government",
        dialplan_file: "dialplans/government.yaml",
        turns: [
            (
                6000,
                "I want to make a complaint about the rubbish collection.",
                Heard::Intent("complaint"),
            ),
            (
                20000,
                "Yes, please.",
                Heard::Captured("wants_complaint_logged", "yes"),
            ),
            (
                10000,
                "Zero seven seven zero zero, nine zero zero, one two three.",
                Heard::Captured("callback_number", "07700900123"),
            ),
            (
                17000,
                "That's all for today. Goodbye.",
                Heard::Intent("goodbye"),
            ),
        ],
        prompt: "a complaints officer will call you on 0 7 7 0 0 9 0 0 1 2 3",
    });
}
