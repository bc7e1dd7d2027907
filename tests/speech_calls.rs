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
fn spoken_order_status_reads_the_number_back_and_barges_in() {
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
    // tiny.en on telephone-band espeak often hears "check must have a son my order"; the
    // words that carry the intent must be there.
    for word in ["check", "order"] {
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

    // ...within a few frames of the caller's first word, on the stereo recording.
    let path = ticket["recording_path"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (caller, bot) = frame_levels(&path);
    // SIPp sends nothing before its first clip, so the first loud caller frame is the onset,
    // and the menu prompt is playing then.
    let onset = caller
        .iter()
        .position(|&level| level > 300)
        .expect("caller speech in the recording");
    let before = onset.saturating_sub(3);
    assert!(
        bot[before..=onset].iter().any(|&level| level > 100),
        "the prompt was not sounding when the caller started: {:?}",
        &bot[before..=onset]
    );
    // Stopped = silent from there for a whole second, so a pause between two words of the
    // prompt does not count.
    let stopped = (onset..bot.len())
        .find(|&i| bot.iter().skip(i).take(50).all(|&level| level < 30))
        .expect("the prompt never stopped");
    let latency_ms = (stopped - onset) * 20;
    eprintln!("barge-in: prompt stopped {latency_ms} ms after the caller started speaking");
    // Speech must last 80 ms before it counts; the stop takes effect on the next 20 ms frame.
    assert!(
        latency_ms <= 160,
        "prompt stopped {latency_ms} ms after speech began"
    );
}

/// Mean absolute level of each 20 ms frame of each channel (caller, voxdesk).
fn frame_levels(path: &str) -> (Vec<i64>, Vec<i64>) {
    let mut reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let samples: Vec<i64> = reader
        .samples::<i16>()
        .map(|s| i64::from(s.unwrap_or(0)).abs())
        .collect();
    let level = |channel: usize| -> Vec<i64> {
        samples
            .chunks(320)
            .map(|frame| frame.iter().skip(channel).step_by(2).sum::<i64>() / 160)
            .collect()
    };
    (level(0), level(1))
}

#[test]
fn a_key_then_a_spoken_number_in_one_call() {
    let vox = Voxdesk::start();
    let run = vox
        .sipp("mixed_dtmf_speech.xml")
        .clip("digits.ul", "One two three four.")
        .run();
    vox.assert_passed(&run);
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    assert_eq!(ticket["digits"], "1", "{ticket}");
    let detail = vox.ticket(&ticket["id"]);
    let heard = speech_turns(&detail);
    assert_eq!(heard.len(), 1, "one utterance: {detail}");
    assert_eq!(heard[0]["entities"]["digits"], "1234", "{detail}");
    assert_eq!(heard[0]["outcome"], "capture", "{detail}");
    let read_back = turns(&detail).iter().any(|t| {
        t["kind"] == "prompt" && t["text"].as_str().unwrap_or_default().contains("1 2 3 4")
    });
    assert!(read_back, "order number not read back: {detail}");
}

#[test]
fn an_angry_caller_is_queued_for_a_person() {
    let vox = Voxdesk::start();
    let run = vox
        .sipp("speech_angry_caller.xml")
        .clip(
            "angry1.ul",
            "This is ridiculous! I have been waiting for weeks!",
        )
        .clip(
            "angry2.ul",
            "This is absolutely unacceptable. Your service is useless!",
        )
        .run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    let detail = vox.ticket(&ticket["id"]);
    // No agent is logged in on the embedded defaults: queued, then a callback request.
    assert_eq!(detail["queue"], "support", "{detail}");
    assert_eq!(detail["subject"], "Callback request", "{detail}");
    let heard = speech_turns(&detail);
    let angry = heard
        .iter()
        .find(|t| t["outcome"] == "angry")
        .unwrap_or_else(|| panic!("no turn escalated for anger: {detail}"));
    assert_eq!(angry["sentiment"]["polarity"], "negative", "{angry}");
    assert!(
        ["anger", "disgust"].contains(&angry["sentiment"]["emotion"].as_str().unwrap_or("")),
        "{angry}"
    );
    let candidates = angry["candidates"].as_array().cloned().unwrap_or_default();
    assert!(!candidates.is_empty() && candidates.len() <= 3, "{angry}");
}
