//! End-to-end calls: SIPp scenarios from sipp-scenarios/ against the real `voxdesk serve`
//! release binary, checked through SIPp's own assertions and voxdesk's HTTP API.
//!
//! Each test starts its own voxdesk on fresh ports, so the tests run in parallel. SIPp's
//! `play_pcap_audio` (the DTMF tests) sends through a raw socket, which needs root or
//! CAP_NET_RAW.

mod common;

use std::time::{Duration, Instant};

use common::dtmf_pcap::{self, DtmfStream};
use common::{eventually, read_recording, Voxdesk};
use serde_json::Value;

const TICKET_WAIT: Duration = Duration::from_secs(10);
/// `[shutdown] grace_secs` for the drain test.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn turns(ticket: &Value) -> Vec<Value> {
    ticket["turns"]
        .as_array()
        .unwrap_or_else(|| panic!("ticket has no turns list: {ticket}"))
        .clone()
}

/// The first of `names` the ticket has (the API names the parties `from`/`to` or
/// `from_uri`/`to_uri`).
fn field<'a>(ticket: &'a Value, names: &[&str]) -> &'a Value {
    names
        .iter()
        .map(|name| &ticket[*name])
        .find(|value| !value.is_null())
        .unwrap_or_else(|| panic!("ticket lacks {names:?}: {ticket}"))
}

/// Field checks every ended ticket must pass.
fn assert_ticket_shape(ticket: &Value) {
    for name in ["id", "call_id", "disposition", "started_at", "ended_at"] {
        assert!(!ticket[name].is_null(), "ticket lacks {name}: {ticket}");
    }
    field(ticket, &["from", "from_uri"]);
    field(ticket, &["to", "to_uri"]);
    assert!(
        ticket["digits"].is_string(),
        "digits is no string: {ticket}"
    );
}

#[test]
fn basic_call_is_recorded_and_ticketed() {
    let vox = Voxdesk::start();
    let run = vox.sipp("basic_call.xml").run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_ticket_shape(ticket);
    assert_eq!(ticket["disposition"], "caller-hung-up", "{ticket}");
    assert!(!ticket["answered_at"].is_null(), "{ticket}");
    assert!(
        text(field(ticket, &["to", "to_uri"])).contains("support"),
        "{ticket}"
    );

    let path = text(&ticket["recording_path"]);
    assert!(!path.is_empty(), "no recording: {ticket}");
    let wav = read_recording(&vox.data_dir(), path);
    assert_eq!((wav.channels, wav.sample_rate), (2, 8000), "{wav:?}");
    assert!(wav.frames >= 8000, "shorter than 1 s: {wav:?}");
    assert!(wav.peak[1] > 1000, "voxdesk's greeting is silent: {wav:?}");
    let metrics = vox.get("/metrics").body;
    let sent: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("voxdesk_rtp_packets_sent_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        sent >= 100.0,
        "3 s of call should send ~150 RTP packets, metrics say {sent}"
    );
    let download = vox.get(&format!("/api/tickets/{}/recording", ticket["id"]));
    assert_eq!(download.status, 200);
    assert!(download.body.starts_with("RIFF"), "not a WAV download");

    let detail = vox.ticket(&ticket["id"]);
    let spoke = turns(&detail)
        .iter()
        .any(|t| t["kind"] == "prompt" && !text(&t["text"]).is_empty());
    assert!(spoke, "no prompt turn: {detail}");
}

#[test]
fn dtmf_order_status_reads_the_number_back() {
    let vox = Voxdesk::start();
    let run = vox.sipp("dtmf_order_status.xml").run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_ticket_shape(ticket);
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    assert_eq!(ticket["digits"], "11234#", "{ticket}");

    let detail = vox.ticket(&ticket["id"]);
    let turns = turns(&detail);
    let collected = turns.iter().any(|t| {
        t["kind"] == "collect" && (t["data"]["value"] == "1234" || t["data"]["value"] == 1234)
    });
    assert!(collected, "no collect turn with 1234: {detail}");
    let read_back = turns
        .iter()
        .any(|t| t["kind"] == "prompt" && text(&t["text"]).contains("1 2 3 4"));
    assert!(read_back, "order number not read back: {detail}");
    // The 1 came while the menu prompt was playing: it cut the prompt short.
    let barged = turns
        .iter()
        .any(|t| t["kind"] == "note" && text(&t["text"]) == "barge-in");
    assert!(barged, "no barge-in: {detail}");
}

#[test]
fn cancel_while_ringing_gets_487() {
    let vox = Voxdesk::start_with_config(Some("[sip]\nanswer_delay_ms = 2000\n"));
    let run = vox.sipp("cancel.xml").run();
    vox.assert_passed(&run);

    // A ticket for an unanswered call is optional; if there is one, it says so.
    std::thread::sleep(Duration::from_millis(500));
    let (tickets, _) = vox.tickets();
    for ticket in &tickets {
        assert_eq!(ticket["disposition"], "caller-hung-up", "{ticket}");
        assert!(ticket["answered_at"].is_null(), "{ticket}");
    }
}

#[test]
fn bye_for_unknown_dialog_gets_481() {
    let vox = Voxdesk::start();
    let run = vox.sipp("bye_unknown.xml").run();
    vox.assert_passed(&run);
    assert_eq!(vox.tickets().1, 0, "a stray BYE made a ticket");
}

#[test]
fn options_lists_capabilities() {
    let vox = Voxdesk::start();
    let run = vox.sipp("options.xml").run();
    vox.assert_passed(&run);
}

#[test]
fn invite_without_sdp_gets_an_offer_and_takes_the_answer_from_the_ack() {
    let vox = Voxdesk::start();
    let run = vox.sipp("invite_no_sdp.xml").run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    assert_ticket_shape(&tickets[0]);
    assert_eq!(
        tickets[0]["disposition"], "caller-hung-up",
        "{}",
        tickets[0]
    );
}

#[test]
fn no_common_codec_gets_488() {
    let vox = Voxdesk::start();
    let run = vox.sipp("no_common_codec.xml").run();
    vox.assert_passed(&run);
    let (tickets, _) = vox.tickets();
    for ticket in &tickets {
        assert_eq!(ticket["disposition"], "failed", "{ticket}");
    }
}

#[test]
fn thirty_concurrent_calls_all_succeed() {
    let vox = Voxdesk::start();
    let run = vox
        .sipp("concurrent.xml")
        .calls(30)
        .limit(30)
        .rate(30)
        .duration_ms(1500)
        .run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(30, Duration::from_secs(20));
    let mut call_ids: Vec<&str> = tickets.iter().map(|t| text(&t["call_id"])).collect();
    call_ids.sort_unstable();
    call_ids.dedup();
    assert_eq!(call_ids.len(), 30, "tickets share Call-IDs");
    for ticket in &tickets {
        assert_eq!(ticket["disposition"], "caller-hung-up", "{ticket}");
    }

    let metrics = vox.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("voxdesk_"), "{}", metrics.body);
}

#[test]
fn call_beyond_max_calls_gets_503_with_retry_after() {
    let vox = Voxdesk::start_with_config(Some("[limits]\nmax_calls = 2\n"));
    let holders = vox
        .sipp("concurrent.xml")
        .calls(2)
        .limit(2)
        .rate(10)
        .duration_ms(8000)
        .spawn();
    eventually(Duration::from_secs(10), "2 live calls", || {
        (vox.live_calls() == 2).then_some(())
    });

    let third = vox.sipp("over_limit.xml").run();
    vox.assert_passed(&third);
    let holders = holders.wait();
    vox.assert_passed(&holders);
}

#[test]
fn pressing_0_transfers_with_refer() {
    // The shipped dialplans queue for agents now; the `transfer` step still hands a call to
    // another number by REFER.
    let plan = "name: keys to a number\nsteps:\n  - menu:\n      prompt: \"For sales, press 0.\"\n      \
                options: { \"0\": sales }\n  - label: sales\n    transfer: \"sip:sales@127.0.0.1:5070\"\n";
    let vox = Voxdesk::start_with(None, Some(plan));
    let run = vox.sipp("refer_transfer.xml").run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_ticket_shape(ticket);
    assert_eq!(ticket["disposition"], "transferred", "{ticket}");
    assert!(text(&ticket["digits"]).starts_with('0'), "{ticket}");
    let detail = vox.ticket(&ticket["id"]);
    let transfer = turns(&detail).iter().any(|t| t["kind"] == "transfer");
    assert!(transfer, "no transfer turn: {detail}");
}

#[test]
fn sigterm_drains_live_calls_and_exits_0() {
    let config = format!("[shutdown]\ngrace_secs = {}\n", DRAIN_GRACE.as_secs());
    let mut vox = Voxdesk::start_with_config(Some(&config));
    let live = vox.sipp("long_call.xml").spawn();
    eventually(Duration::from_secs(10), "1 live call", || {
        (vox.live_calls() == 1).then_some(())
    });

    vox.terminate();
    let draining = Instant::now();
    // New calls are refused while draining.
    let refused = vox.sipp("over_limit.xml").run();
    vox.assert_passed(&refused);

    // The live call gets its BYE from voxdesk after the grace period...
    let live = live.wait();
    vox.assert_passed(&live);
    let bye_after = draining.elapsed();
    assert!(
        bye_after < DRAIN_GRACE + Duration::from_secs(5),
        "BYE only {bye_after:?} after SIGTERM"
    );
    // ...and voxdesk exits cleanly soon after.
    let status = vox.wait_exit(DRAIN_GRACE + Duration::from_secs(5));
    let status = status.unwrap_or_else(|| {
        panic!(
            "voxdesk still running {:?} after SIGTERM",
            draining.elapsed()
        )
    });
    assert!(status.success(), "voxdesk exited with {status}");
}

#[test]
fn info_dtmf_order_status_reads_the_number_back() {
    let vox = Voxdesk::start();
    let run = vox.sipp("info_dtmf.xml").run();
    vox.assert_passed(&run);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    assert_eq!(ticket["digits"], "11234#", "{ticket}");
    let detail = vox.ticket(&ticket["id"]);
    let read_back = turns(&detail)
        .iter()
        .any(|t| t["kind"] == "prompt" && text(&t["text"]).contains("1 2 3 4"));
    assert!(read_back, "order number not read back: {detail}");
}

#[test]
fn basic_call_over_tcp() {
    let vox = Voxdesk::start();
    let run = vox.sipp("basic_call.xml").transport("t1").run();
    vox.assert_passed(&run);
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    assert_eq!(
        tickets[0]["disposition"], "caller-hung-up",
        "{}",
        tickets[0]
    );
}

#[test]
fn hold_and_resume_with_reinvites() {
    let vox = Voxdesk::start();
    let run = vox.sipp("hold_resume.xml").run();
    vox.assert_passed(&run);
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let detail = vox.ticket(&tickets[0]["id"]);
    let notes: Vec<String> = turns(&detail)
        .iter()
        .filter(|t| t["kind"] == "note")
        .map(|t| text(&t["text"]).to_string())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("hold")) && notes.iter().any(|n| n.contains("resumed")),
        "{notes:?}"
    );
}

/// Runs `scenario` (which waits for voxdesk's BYE) under `config`, and checks voxdesk hung up
/// within 10 s as `failed`, with a ticket note containing `note`.
fn assert_voxdesk_hangs_up(config: &str, scenario: &str, note: &str) {
    let vox = Voxdesk::start_with_config(Some(config));
    let started = Instant::now();
    let run = vox.sipp(scenario).run();
    vox.assert_passed(&run);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "BYE came only after {waited:?}"
    );
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    assert_eq!(tickets[0]["disposition"], "failed", "{}", tickets[0]);
    let detail = vox.ticket(&tickets[0]["id"]);
    let noted = turns(&detail)
        .iter()
        .any(|t| text(&t["text"]).contains(note));
    assert!(noted, "no {note:?} note: {detail}");
}

#[test]
fn dead_call_is_hung_up_after_the_rtp_timeout() {
    // SIPp sends no RTP at all: voxdesk must notice and send BYE itself.
    assert_voxdesk_hangs_up(
        "[media]\nrtp_timeout_secs = 2\n",
        "long_call.xml",
        "RTP timeout",
    );
}

#[test]
fn silent_caller_ends_as_no_input() {
    // SIPp sends no RTP; keep the RTP timeout out of the way of the menu's retries.
    let vox = Voxdesk::start_with_config(Some("[media]\nrtp_timeout_secs = 120\n"));
    let run = vox.sipp("long_call.xml").run();
    vox.assert_passed(&run);
    let tickets = vox.ended_tickets(1, Duration::from_secs(60));
    assert_eq!(tickets[0]["disposition"], "no-input", "{}", tickets[0]);
}

#[test]
fn transfer_before_any_prompt_is_a_302() {
    let plan = "name: straight to agents\nsteps:\n  - transfer: \"sip:agent@127.0.0.1:5070\"\n";
    let vox = Voxdesk::start_with(None, Some(plan));
    let run = vox.sipp("redirect_302.xml").run();
    vox.assert_passed(&run);
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = &tickets[0];
    assert_eq!(ticket["disposition"], "transferred", "{ticket}");
    assert_eq!(
        ticket["transfer_target"], "sip:agent@127.0.0.1:5070",
        "{ticket}"
    );
    assert!(
        ticket["answered_at"].is_null(),
        "a redirected call is never answered: {ticket}"
    );
}

#[test]
fn a_call_held_too_long_is_hung_up() {
    assert_voxdesk_hangs_up(
        "[media]\nhold_timeout_secs = 2\n",
        "hold_forever.xml",
        "on hold too long",
    );
}

/// The DTMF files the scenarios play: one stream per call, nothing a receiver may drop.
#[test]
fn dtmf_pcaps_are_one_increasing_rfc4733_stream() {
    let mut stream = DtmfStream::new(7, 65_530, u32::MAX - 1000);
    let first = dtmf_pcap::decode_pcap(&stream.pcap("1")).expect("decodes");
    let second = dtmf_pcap::decode_pcap(&stream.pcap("1234#")).expect("decodes");

    let events = |pkts: &[dtmf_pcap::EventPacket]| -> Vec<u8> {
        pkts.iter().filter(|p| p.marker).map(|p| p.event).collect()
    };
    assert_eq!(events(&first), [1]);
    assert_eq!(events(&second), [1, 2, 3, 4, 11]);

    let all: Vec<_> = first.iter().chain(&second).collect();
    assert!(all.iter().all(|p| p.payload_type == 101 && p.ssrc == 7));
    for pair in all.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let seq_step = b.seq.wrapping_sub(a.seq);
        if a.timestamp == b.timestamp {
            // Within an event: the end packet is repeated with the same sequence number.
            assert!(
                seq_step == 1 || (a.end && b.end && seq_step == 0),
                "{a:?} {b:?}"
            );
            assert!(
                b.duration >= a.duration && a.event == b.event,
                "{a:?} {b:?}"
            );
        } else {
            // A new event: new timestamp, later than the last one.
            assert_eq!(seq_step, 1, "{a:?} {b:?}");
            assert!(a.end && b.marker, "{a:?} {b:?}");
            let ts_step = b.timestamp.wrapping_sub(a.timestamp);
            assert!(ts_step > 0 && ts_step < 1 << 31, "{a:?} {b:?}");
        }
    }
    // Three end packets per key.
    let ends = second.iter().filter(|p| p.end).count();
    assert_eq!(ends, 15);
}
