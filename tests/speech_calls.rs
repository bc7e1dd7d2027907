//! Spoken calls: SIPp streams espeak-ng speech (raw µ-law via `rtp_stream`) into the real
//! `voxdesk serve` with the real Whisper model, and the ticket must show what was heard.
//!
//! Needs `models/ggml-tiny.en.bin`, which `tests/setup.sh` prepares before the tests run.

mod common;

use std::time::Duration;

use common::Voxdesk;
use serde_json::Value;

const TICKET_WAIT: Duration = Duration::from_secs(10);

fn turns(ticket: &Value) -> Vec<Value> {
    ticket["turns"]
        .as_array()
        .unwrap_or_else(|| panic!("ticket has no turns list: {ticket}"))
        .clone()
}

/// Speech turns that were words (a click or line noise is recorded as `noise`).
fn speech_turns(ticket: &Value) -> Vec<Value> {
    turns(ticket)
        .into_iter()
        .filter(|t| t["kind"] == "speech" && t["outcome"] != "noise")
        .collect()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn spoken_order_status_reads_the_number_back() {
    let vox = Voxdesk::start();
    let run = vox
        .sipp("speech_order_status.xml")
        .clip("order.ul", "I want to check the status of my order.")
        .clip("digits.ul", "One two three four.")
        .run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    let detail = vox.ticket(&ticket["id"]);
    let heard = speech_turns(&detail);
    assert!(heard.len() >= 2, "two utterances expected: {detail}");

    let first = &heard[0];
    let said = words(first["text"].as_str().unwrap_or_default());
    for word in ["check", "status", "order"] {
        assert!(said.iter().any(|w| w == word), "{word:?} not in {said:?}");
    }
    assert_eq!(first["intent"], "order_status", "{first}");
    assert!(
        first["intent_confidence"].as_f64().unwrap_or(0.0) >= 0.5,
        "{first}"
    );
    assert!(
        first["asr_confidence"].as_f64().unwrap_or(0.0) > 0.0,
        "{first}"
    );
    let timings = &first["timings"];
    for key in [
        "asr_ms",
        "speech_end_to_transcript_ms",
        "speech_end_to_reply_ms",
    ] {
        assert!(timings[key].is_u64(), "timing {key} missing: {first}");
    }

    let second = &heard[1];
    assert_eq!(second["entities"]["digits"], "1234", "{second}");
    let all = turns(&detail);
    let collected = all
        .iter()
        .any(|t| t["kind"] == "collect" && t["data"]["value"] == "1234");
    assert!(collected, "no collect turn with 1234: {detail}");
    let read_back = all.iter().any(|t| {
        t["kind"] == "prompt" && t["text"].as_str().unwrap_or_default().contains("1 2 3 4")
    });
    assert!(read_back, "order number not read back: {detail}");
    // The first utterance came while the menu prompt played: it cut the prompt short.
    let barged = all
        .iter()
        .any(|t| t["kind"] == "note" && t["text"] == "barge-in");
    assert!(barged, "no barge-in: {detail}");
}
