//! Human agents: a SIPp phone registers as an agent with digest authentication (voxdesk's
//! registrar), a second SIPp process is that phone answering; a spoken SIPp caller asks for a
//! person, the dialplan queues the call, voxdesk places the agent leg (B2BUA) and bridges the
//! media, and the ticket shows the whole path. Real Whisper, real espeak-ng, real SQLite.

mod common;

use std::path::Path;
use std::time::Duration;

use common::sipp::SippRun;
use common::{channel_rms, free_udp_port, Sipp, Voxdesk};
use serde_json::Value;

const TICKET_WAIT: Duration = Duration::from_secs(20);

/// Alice answers the `support` queue; her phone is SIPp, which answers MD5 challenges only.
const AGENTS: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    name: Alice Smith
    queues: [support]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 10
    wrap_up: 2
";

/// voxdesk on the default dialplan with `AGENTS`.
fn start_center() -> Voxdesk {
    start_center_with(AGENTS)
}

/// voxdesk on the default dialplan with this agents file.
fn start_center_with(agents_yaml: &str) -> Voxdesk {
    let dir = tempfile::tempdir().expect("temporary directory");
    let agents = dir.path().join("agents.yaml");
    std::fs::write(&agents, agents_yaml).expect("write the agents file");
    // The config outlives this function inside voxdesk's own directory; the agents file is
    // read at start-up, so its directory may go.
    let config = format!(
        "[agents]\nfile = {:?}\nchallenge = [\"MD5\"]\n",
        agents.display().to_string()
    );
    let vox = Voxdesk::start_with(Some(&config), None);
    std::mem::forget(dir);
    vox
}

fn turns(ticket: &Value) -> Vec<Value> {
    ticket["turns"].as_array().cloned().unwrap_or_default()
}

fn seconds_between(later: &Value, earlier: &Value) -> f64 {
    let ms = |v: &Value| {
        let text = v.as_str().unwrap_or("");
        // RFC 3339 with milliseconds, UTC: compare the time of day.
        let time = text.get(11..23).unwrap_or("00:00:00.000");
        let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
        parts.iter().fold(0.0, |acc, p| acc * 60.0 + p)
    };
    ms(later) - ms(earlier)
}

#[test]
fn a_caller_who_asks_for_a_person_reaches_a_registered_agent() {
    let vox = start_center();
    let phone_port = free_udp_port();
    let phone = vox
        .sipp("agent_phone.xml")
        .service("alice")
        .port(phone_port)
        .set("ring_ms", "500")
        .set("talk_ms", "8000")
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    register(&vox, "alice", "wonder", phone_port);

    let caller = vox
        .sipp("caller_to_agent.xml")
        .clip("turn1.ul", "I want to talk to a person.")
        .clip(
            "turn2.ul",
            "My parcel never arrived and nobody answers my emails.",
        )
        .clip("turn3.ul", "Five out of five.")
        .set("at1", "3000")
        .set("at2", "9000")
        .set("at3", "14000")
        .set("caller", "07700900123")
        .run();
    vox.assert_passed(&caller);
    let phone = phone.wait();
    vox.assert_passed(&phone);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["queue"], "support", "{ticket}");
    assert_eq!(ticket["agent"], "alice", "{ticket}");
    assert_eq!(
        ticket["agents_tried"],
        serde_json::json!(["alice"]),
        "{ticket}"
    );
    let talk_ms = ticket["talk_ms"].as_i64().unwrap_or(0);
    assert!(
        (6_000..20_000).contains(&talk_ms),
        "talk {talk_ms} ms: {ticket}"
    );
    assert!(ticket["queue_wait_ms"].as_i64().is_some(), "{ticket}");
    assert_eq!(ticket["csat"], 5, "{ticket}");
    let all = turns(&ticket);
    let asked = all
        .iter()
        .any(|t| t["kind"] == "speech" && t["intent"] == "agent");
    assert!(
        asked,
        "the request for a person was not understood: {ticket}"
    );

    // Both directions carried audio while bridged: the agent leg's recording has the agent's
    // voice on the left and the caller's (turn 2) on the right; the caller's recording has
    // the agent on its right channel between answer and hang-up.
    let data = vox.data_dir();
    let agent_wav = data.join(ticket["agent_recording_path"].as_str().unwrap_or("missing"));
    let agent_side = channel_rms(&agent_wav, 0, 0.5, 6.0);
    let caller_heard_by_agent = channel_rms(&agent_wav, 1, 0.5, 6.0);
    assert!(
        agent_side > 300.0,
        "agent silent on their leg: {agent_side:.0}"
    );
    assert!(
        caller_heard_by_agent > 300.0,
        "the agent heard nothing of the caller: {caller_heard_by_agent:.0}"
    );
    let answered = all
        .iter()
        .find(|t| t["text"].as_str().unwrap_or("").starts_with("answered by"))
        .unwrap_or_else(|| panic!("no answered turn: {ticket}"));
    let bridged_at = seconds_between(&answered["at"], &ticket["answered_at"]);
    let caller_wav = data.join(ticket["recording_path"].as_str().unwrap_or("missing"));
    let agent_heard_by_caller = channel_rms(&caller_wav, 1, bridged_at + 0.5, bridged_at + 6.0);
    assert!(
        agent_heard_by_caller > 300.0,
        "the caller heard nothing of the agent: {agent_heard_by_caller:.0}"
    );
}

#[test]
fn a_wrong_password_is_refused_and_no_agent_means_a_callback() {
    let vox = start_center();
    let register = vox.register_agent("alice", "not-her-password", 5999);
    vox.assert_failed(&register);
    assert!(
        register.messages.contains("SIP/2.0 403"),
        "no 403 for a wrong password: {}",
        register.messages
    );

    // Pressing 0 asks for an agent; nobody is logged in, so the queue is "full".
    let caller = vox.sipp("refer_transfer.xml").run();
    vox.assert_failed(&caller);
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["subject"], "Callback request", "{ticket}");
    assert_eq!(ticket["agent"], Value::Null, "{ticket}");
}

/// Alice takes the call from `support` and hands it to Bob, who serves `billing` only.
const TWO_AGENTS: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    queues: [support]
  - user: bob
    password: builder
    queues: [billing]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 10
    wrap_up: 2
  - name: billing
    strategy: longest-idle
    ring_timeout: 10
    wrap_up: 2
";

/// Registers `user`'s SIPp phone listening on `port`.
fn register(vox: &Voxdesk, user: &str, password: &str, port: u16) {
    vox.assert_passed(&vox.register_agent(user, password, port));
}

/// One call handed from alice to bob: alice's phone runs `alice_scenario` (the closure adds
/// its settings and spawns it), bob's answers and talks `bob_talk_ms`; a spoken caller asks
/// for a person, talks, and rates the call 4 after bob hangs up. Every SIPp run must pass.
fn transfer_call(
    vox: &Voxdesk,
    alice_scenario: &str,
    alice: impl FnOnce(Sipp) -> SippRun,
    bob_talk_ms: &str,
) {
    let (alice_port, bob_port) = (free_udp_port(), free_udp_port());
    let alice = alice(
        vox.sipp(alice_scenario)
            .service("alice")
            .port(alice_port)
            .set("ring_ms", "500"),
    );
    let bob = vox
        .sipp("agent_phone.xml")
        .service("bob")
        .port(bob_port)
        .set("ring_ms", "500")
        .set("talk_ms", bob_talk_ms)
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    register(vox, "alice", "wonder", alice_port);
    register(vox, "bob", "builder", bob_port);
    let caller = vox
        .sipp("caller_to_agent.xml")
        .clip("turn1.ul", "I want to talk to a person.")
        .clip("turn2.ul", "I was charged twice for one order.")
        .clip("turn3.ul", "Four out of five.")
        .set("at1", "3000")
        .set("at2", "4000")
        .set("at3", "14000")
        .run();
    vox.assert_passed(&caller);
    vox.assert_passed(&alice.wait());
    vox.assert_passed(&bob.wait());
}

/// Checks that `ticket` went from alice to bob by a `kind` transfer that bob answered; its
/// `transfers` entry.
fn handed_from_alice_to_bob<'a>(ticket: &'a Value, kind: &str) -> &'a Value {
    assert_eq!(ticket["agent"], "bob", "{ticket}");
    assert_eq!(
        ticket["agents_tried"],
        serde_json::json!(["alice", "bob"]),
        "{ticket}"
    );
    let transfer = &ticket["transfers"][0];
    assert_eq!(transfer["kind"], kind, "{ticket}");
    assert_eq!(transfer["by"], "alice", "{ticket}");
    assert_eq!(transfer["target"], "bob", "{ticket}");
    assert_eq!(transfer["outcome"], "answered", "{ticket}");
    transfer
}

#[test]
fn an_agent_transfers_the_caller_blind_to_another_agent() {
    let vox = start_center_with(TWO_AGENTS);
    let alice = |sipp: Sipp| sipp.set("talk_ms", "3000").set("target", "bob").spawn();
    transfer_call(&vox, "agent_phone_transfer.xml", alice, "5000");

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    let transfer = handed_from_alice_to_bob(&ticket, "blind");
    assert_eq!(transfer["target_kind"], "agent", "{ticket}");
    // Alice's three seconds and Bob's five add up.
    let talk_ms = ticket["talk_ms"].as_i64().unwrap_or(0);
    assert!((7_000..20_000).contains(&talk_ms), "talk {talk_ms} ms");
    assert_eq!(ticket["csat"], 4, "{ticket}");
    // Each agent leg has its own recording with that agent's voice on the left.
    let data = vox.data_dir();
    for path in [
        transfer["by_recording"].as_str(),
        ticket["agent_recording_path"].as_str(),
    ] {
        let wav = data.join(path.unwrap_or("missing"));
        let agent_side = channel_rms(&wav, 0, 0.5, 2.5);
        assert!(agent_side > 300.0, "{}: agent silent", wav.display());
    }
    assert_ne!(
        transfer["by_recording"], ticket["agent_recording_path"],
        "{ticket}"
    );
}

#[test]
fn an_agent_consults_a_colleague_then_transfers_the_caller_to_them() {
    let vox = start_center_with(TWO_AGENTS);
    let alice = |sipp: Sipp| {
        sipp.arg("-ap")
            .arg("wonder")
            .set("talk_ms", "2000")
            .set("consult_ms", "2000")
            .set("target", "bob")
            .spawn()
    };
    // Bob is rung by alice's consultation, then talks on with the caller and hangs up.
    transfer_call(&vox, "agent_phone_attended.xml", alice, "6000");

    // The caller's call and alice's consultation each have their ticket.
    let tickets = vox.ended_tickets(2, TICKET_WAIT);
    let (from_alice, from_caller): (Vec<&Value>, Vec<&Value>) = tickets
        .iter()
        .partition(|t| t["from_uri"].as_str().unwrap_or("").contains("alice@"));
    assert_eq!((from_alice.len(), from_caller.len()), (1, 1), "{tickets:?}");
    let ticket = vox.ticket(&from_caller[0]["id"]);
    let consultation = vox.ticket(&from_alice[0]["id"]);
    let transfer = handed_from_alice_to_bob(&ticket, "attended");
    assert_eq!(
        transfer["consultation_ticket"], consultation["id"],
        "{ticket}"
    );
    assert_eq!(ticket["csat"], 4, "{ticket}");
    // Alice's part (talk and consultation) and bob's with the caller add up.
    let talk_ms = ticket["talk_ms"].as_i64().unwrap_or(0);
    assert!((6_000..25_000).contains(&talk_ms), "talk {talk_ms} ms");
    // Bob's leg is recorded on the caller's ticket from the hand-over on, with his voice.
    let data = vox.data_dir();
    let bob_wav = data.join(ticket["agent_recording_path"].as_str().unwrap_or("missing"));
    assert!(
        bob_wav.to_string_lossy().ends_with("-agent-2.wav"),
        "{}",
        bob_wav.display()
    );
    assert!(channel_rms(&bob_wav, 0, 0.3, 1.5) > 300.0, "bob silent");
    // The consultation: alice called bob; it ended handed over, not hung up.
    assert_eq!(consultation["agent"], "bob", "{consultation}");
    assert_eq!(consultation["disposition"], "transferred", "{consultation}");
    assert!(
        turns(&consultation)
            .iter()
            .any(|t| t["text"] == "consultation: alice calls agent bob"),
        "{consultation}"
    );
    // Both agents are free again (wrap-up over) and bob took one call, not two.
    let bob_state = vox.get_json("/api/agents/bob");
    assert_eq!(bob_state["calls_taken"], 1, "{bob_state}");
}

/// Alice answers `support`; Dave and Carol supervise (their queue never rings for these
/// callers).
const WITH_SUPERVISOR: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    queues: [support]
  - user: carol
    password: coach
    queues: [supervisors]
  - user: dave
    password: lead
    queues: [supervisors]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 10
    wrap_up: 2
  - name: supervisors
    strategy: ring-all
";

/// The `at` of the first turn whose text starts with `prefix`, in seconds after the ticket's
/// `answered_at`.
fn turn_offset(ticket: &Value, prefix: &str) -> f64 {
    let turn = turns(ticket)
        .into_iter()
        .find(|t| t["text"].as_str().unwrap_or("").starts_with(prefix))
        .unwrap_or_else(|| panic!("no turn {prefix:?}: {ticket}"));
    seconds_between(&turn["at"], &ticket["answered_at"])
}

#[test]
fn supervisors_listen_then_whisper_to_the_agent_then_barge_in() {
    let vox = start_center_with(WITH_SUPERVISOR);
    let (alice_port, carol_port, dave_port) = (free_udp_port(), free_udp_port(), free_udp_port());
    // Alice's voice (SIPp's sample, about 7 s) ends before Carol comes in.
    let alice = vox
        .sipp("agent_phone.xml")
        .service("alice")
        .port(alice_port)
        .set("ring_ms", "300")
        .set("talk_ms", "18000")
        .spawn();
    let carol = vox
        .sipp("agent_phone.xml")
        .service("carol")
        .port(carol_port)
        .set("ring_ms", "200")
        .set("talk_ms", "6000")
        .spawn();
    // Dave listens in while Alice talks, then hangs up after three seconds.
    let dave = vox
        .sipp("agent_phone.xml")
        .service("dave")
        .port(dave_port)
        .set("ring_ms", "200")
        .set("talk_ms", "3000")
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    register(&vox, "alice", "wonder", alice_port);
    register(&vox, "carol", "coach", carol_port);
    register(&vox, "dave", "lead", dave_port);

    // The caller speaks only before the agent answers and at the survey, so whatever the
    // agent hears while Carol talks is Carol.
    let caller = vox
        .sipp("caller_to_agent.xml")
        .clip("turn1.ul", "I want to talk to a person.")
        .clip("turn2.ul", "Hello?")
        .clip("turn3.ul", "Five.")
        .set("at1", "3000")
        .set("at2", "1000")
        .set("at3", "28000")
        .spawn();
    let ticket_id = common::eventually(Duration::from_secs(30), "the agent answering", || {
        let calls = vox.get_json("/api/calls");
        calls["calls"]
            .as_array()?
            .iter()
            .find(|c| c["state"] == "with agent")
            .map(|c| c["ticket_id"].clone())
    });
    let path = format!("/api/calls/{ticket_id}/supervise");
    let rsp = vox.send_json(
        "POST",
        &path,
        Some(r#"{"supervisor": "dave", "mode": "listen"}"#),
    );
    assert_eq!(rsp.status, 202, "{}", rsp.body);
    let refused = vox.send_json(
        "POST",
        &path,
        Some(r#"{"supervisor": "alice", "mode": "whisper"}"#),
    );
    assert_eq!(
        refused.status, 409,
        "the agent cannot supervise: {}",
        refused.body
    );
    let bad = vox.send_json(
        "POST",
        &path,
        Some(r#"{"supervisor": "carol", "mode": "shout"}"#),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    // After Alice's sample has ended.
    std::thread::sleep(Duration::from_secs(8));
    let rsp = vox.send_json(
        "POST",
        &path,
        Some(r#"{"supervisor": "carol", "mode": "whisper"}"#),
    );
    assert_eq!(rsp.status, 202, "{}", rsp.body);
    // Three seconds of coaching, then Carol barges in: now the caller hears her too.
    std::thread::sleep(Duration::from_secs(3));
    let rsp = vox.send_json(
        "POST",
        &path,
        Some(r#"{"supervisor": "carol", "mode": "barge"}"#),
    );
    assert_eq!(rsp.status, 202, "{}", rsp.body);

    vox.assert_passed(&caller.wait());
    vox.assert_passed(&alice.wait());
    vox.assert_passed(&carol.wait());
    vox.assert_passed(&dave.wait());
    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    let data = vox.data_dir();
    let agent_answered = turn_offset(&ticket, "answered by");
    let agent_wav = data.join(ticket["agent_recording_path"].as_str().unwrap_or("missing"));

    // Listening, Dave hears Alice (her sample) and nobody hears Dave (his own sample).
    let listening = turn_offset(&ticket, "supervisor dave is on the call (listen)");
    let dave_wav = agent_wav.with_file_name(format!("{}-supervisor.wav", ticket["id"]));
    let dave_heard = channel_rms(&dave_wav, 1, 0.5, 2.0);
    assert!(
        dave_heard > 300.0,
        "the listener heard nothing: {dave_heard:.0}"
    );
    assert!(
        channel_rms(&dave_wav, 0, 0.5, 2.0) > 300.0,
        "dave's phone sent no voice"
    );
    let (from, to) = (
        listening + 0.5 - agent_answered,
        listening + 2.0 - agent_answered,
    );
    let agent_heard_listener = channel_rms(&agent_wav, 1, from, to);
    assert!(
        agent_heard_listener < 100.0,
        "the agent heard the listening supervisor: {agent_heard_listener:.0}"
    );
    assert!(
        turns(&ticket)
            .iter()
            .any(|t| t["text"] == "supervisor dave left"),
        "{ticket}"
    );

    let attached = turn_offset(&ticket, "supervisor carol is on the call (whisper)");
    assert!(
        turns(&ticket)
            .iter()
            .any(|t| t["text"] == "supervisor carol left"),
        "{ticket}"
    );

    let (from, to) = (attached + 0.5, attached + 2.5);
    let agent_heard = channel_rms(&agent_wav, 1, from - agent_answered, to - agent_answered);
    assert!(
        agent_heard > 300.0,
        "the agent did not hear the whisper: {agent_heard:.0}"
    );
    let caller_wav = data.join(ticket["recording_path"].as_str().unwrap_or("missing"));
    let caller_heard = channel_rms(&caller_wav, 1, from, to);
    let profile = |wav: &Path, channel: usize| -> Vec<u32> {
        (0..60)
            .map(|i| channel_rms(wav, channel, f64::from(i) * 0.5, f64::from(i + 1) * 0.5) as u32)
            .collect()
    };
    assert!(
        caller_heard < 100.0,
        "the caller heard the whisper: {caller_heard:.0} (window {from:.1}..{to:.1} s)\n\
         caller heard, per 0.5 s: {:?}\nagent heard (from {agent_answered:.1} s): {:?}",
        profile(&caller_wav, 1),
        profile(&agent_wav, 1),
    );
    let barged = turn_offset(&ticket, "supervisor carol switched to barge");
    let caller_heard_barge = channel_rms(&caller_wav, 1, barged + 0.3, barged + 2.0);
    assert!(
        caller_heard_barge > 300.0,
        "the caller did not hear the supervisor barge in: {caller_heard_barge:.0}"
    );
    let carol_wav = agent_wav.with_file_name(format!("{}-supervisor-2.wav", ticket["id"]));
    let carol_side = channel_rms(&carol_wav, 0, 0.5, 3.5);
    assert!(carol_side > 300.0, "the supervisor leg carried no voice");
}

#[test]
fn the_agent_holds_the_caller_who_hears_music_then_resumes() {
    let vox = start_center();
    let phone_port = free_udp_port();
    let phone = vox
        .sipp("agent_phone_hold.xml")
        .service("alice")
        .port(phone_port)
        .set("ring_ms", "300")
        .set("before_ms", "1500")
        .set("hold_ms", "3000")
        .set("talk_ms", "4000")
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    register(&vox, "alice", "wonder", phone_port);

    let caller = vox
        .sipp("caller_to_agent.xml")
        .clip("turn1.ul", "I want to talk to a person.")
        .clip("turn2.ul", "Hello?")
        .clip("turn3.ul", "Five.")
        .set("at1", "3000")
        .set("at2", "9000")
        .set("at3", "16000")
        .run();
    vox.assert_passed(&caller);
    let phone = phone.wait();
    vox.assert_passed(&phone);

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["agent"], "alice", "{ticket}");
    let hold_ms = ticket["hold_ms"].as_i64().unwrap_or(0);
    assert!(
        (1_500..=4_500).contains(&hold_ms),
        "hold {hold_ms} ms: {ticket}"
    );
    let held = turn_offset(&ticket, "alice put the caller on hold");
    let resumed = turn_offset(&ticket, "alice resumed the call");
    assert!(
        (1.5..=4.5).contains(&(resumed - held)),
        "held at {held:.1} s, resumed at {resumed:.1} s"
    );

    // The agent is silent until the resume, so what the caller hears while held is
    // voxdesk's hold music; after the resume, the agent's voice.
    let data = vox.data_dir();
    let caller_wav = data.join(ticket["recording_path"].as_str().unwrap_or("missing"));
    let music = channel_rms(&caller_wav, 1, held + 0.5, resumed - 0.3);
    assert!(
        music > 300.0,
        "the caller heard no hold music: {music:.0} ({held:.1}..{resumed:.1} s)"
    );
    let agent = channel_rms(&caller_wav, 1, resumed + 0.5, resumed + 3.0);
    assert!(
        agent > 300.0,
        "the caller did not hear the agent after the resume: {agent:.0}"
    );
}
