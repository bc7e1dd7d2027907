//! The browser agent desk in a real headless Chromium against the real binary: alice logs in
//! on `/desk` (the shipped `dialplans/agents.yaml`), her desk websocket makes her available
//! in the ACD, and the page shows it. A screenshot goes to `target/test-artifacts/`.
//! A second test takes a whole call on the desk: a SIPp caller asks for a person, the desk
//! rings with the bot's transcript, the agent answers over WebRTC (Opus, which the desk leg
//! transcodes to PCMU; the fake microphone plays a spoken WAV), both directions carry audio (checked on the recordings), both sides are
//! transcribed onto the ticket and the page with the bot's suggested replies (agent assist),
//! and the agent hangs up and files a note and a disposition.

mod common;

use std::time::Duration;

use common::webdriver::{artifact_path, available, Browser};
use common::{channel_rms, eventually, Voxdesk};

#[test]
fn alice_logs_in_on_the_desk_and_becomes_available() {
    assert!(
        available(),
        "chromium and chromedriver are missing: run tests/setup.sh"
    );
    let vox = Voxdesk::start();
    let browser = Browser::start();
    browser.open(&format!("http://{}/desk", vox.http));
    assert_eq!(
        browser.find("#call-status").text(),
        "",
        "hidden before login"
    );
    browser.find("#user").type_text("alice");
    browser.find("#password").type_text("change-me-alice");
    browser.find("#login").click();

    let state = browser.wait_text("#state", Duration::from_secs(10), |t| t == "available");
    assert_eq!(state, "available");
    assert_eq!(browser.find("#call-status").text(), "idle");
    eventually(Duration::from_secs(5), "alice available in the API", || {
        let agents = vox.get_json("/api/agents");
        let alice = agents["agents"]
            .as_array()?
            .iter()
            .find(|a| a["user"] == "alice")?
            .clone();
        (alice["state"] == "available").then_some(())
    });
    browser.wait_text("#queues", Duration::from_secs(10), |t| {
        t.contains("support")
    });

    // Pausing from the page reaches the ACD and comes back over the desk websocket.
    browser.find("#pause-reason").type_text("lunch");
    browser.find("#pause").click();
    browser.wait_text("#state", Duration::from_secs(10), |t| t == "paused (lunch)");
    let alice = vox.get_json("/api/agents/alice");
    assert_eq!(
        (&alice["state"], &alice["reason"]),
        (&"paused".into(), &"lunch".into())
    );
    browser.find("#available").click();
    browser.wait_text("#state", Duration::from_secs(10), |t| t == "available");

    let shot = artifact_path("desk_logged_in.png");
    browser.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
}

/// Alice (desk only) answers `support`.
const DESK_AGENTS: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    name: Alice Smith
    queues: [support]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 20
    wrap_up: 2
";

#[test]
fn a_caller_asking_for_a_person_is_answered_on_the_browser_desk() {
    assert!(
        available(),
        "chromium and chromedriver are missing: run tests/setup.sh"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let agents = dir.path().join("agents.yaml");
    std::fs::write(&agents, DESK_AGENTS).expect("write the agents file");
    let config = format!("[agents]\nfile = {:?}\n", agents.display().to_string());
    let vox = Voxdesk::start_with(Some(&config), None);

    // The agent's microphone: a spoken sentence, padded with silence, looped by Chromium.
    let voice = dir.path().join("alice.wav");
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&voice)
        .arg("Hello, this is Alice from customer support. I can see your order here.")
        .status()
        .expect("run espeak-ng");
    assert!(status.success());
    // A pause after the sentence, so the agent's side hears it end (agent assist) each loop.
    pad_with_silence(&voice, Duration::from_millis(1500));
    let browser = Browser::start_with_audio(Some(&voice));
    browser.open(&format!("http://{}/desk", vox.http));
    browser.find("#user").type_text("alice");
    browser.find("#password").type_text("wonder");
    browser.find("#login").click();
    browser.wait_text("#state", Duration::from_secs(10), |t| t == "available");

    let caller = vox
        .sipp("caller_to_agent.xml")
        .clip("turn1.ul", "I want to talk to a person.")
        .clip("turn2.ul", "My parcel never arrived.")
        .clip("turn3.ul", "Five out of five.")
        .set("at1", "3000")
        .set("at2", "7000")
        .set("at3", "16000")
        .set("caller", "07700900555")
        .spawn();

    browser.wait_text("#call-status", Duration::from_secs(30), |t| t == "ringing");
    let started = std::time::Instant::now();
    let transcript = browser.wait_text("#transcript", Duration::from_secs(10), |t| {
        t.to_lowercase().contains("person")
    });
    assert!(
        transcript.contains("agent"),
        "the desk does not show the bot's intent: {transcript}"
    );
    let suggested_at_ring = browser.find("#suggestions").text();
    browser.find("#answer").click();
    browser.wait_text("#call-status", Duration::from_secs(15), |t| {
        t == "connected"
    });
    eprintln!("connected after {:?}", started.elapsed());
    // Chromium offers Opus first, and the desk leg takes it (transcoding to PCMU).
    let answered = vox
        .log()
        .lines()
        .filter(|line| line.contains("browser leg answered"))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(
        answered.len() == 1 && answered[0].contains("opus"),
        "the desk leg did not negotiate Opus: {answered:?}"
    );
    // Talk for a while: the caller's second sentence and the agent's words are transcribed
    // while bridged (agent assist) and reach the page.
    let transcript = browser.wait_text("#transcript", Duration::from_secs(20), |t| {
        let after = t.to_lowercase();
        let after = after.split("answered by alice").nth(1).unwrap_or_default();
        let lines: Vec<&str> = after.lines().collect();
        let agent_said = lines
            .windows(2)
            .any(|w| w[0] == "agent" && said_by_alice(w[1]));
        after.contains("arrived") && agent_said
    });
    eprintln!(
        "both sides on the page after {:?}: {transcript}",
        started.elapsed()
    );
    // Styled as the agent's, apart from the caller's turns.
    let agent_turn = browser.find("#transcript li.agent").text();
    assert!(agent_turn.starts_with("Agent\n"), "{agent_turn:?}");
    // The suggestions follow the caller's latest turn, as the bot's reply texts.
    let reply = browser
        .find("#suggestions li.suggestion .reply:not(.none)")
        .text();
    assert!(
        reply.len() > 10,
        "a suggestion without a reply text: {reply:?}"
    );
    let suggested = browser.find("#suggestions").text();
    assert_ne!(
        suggested, suggested_at_ring,
        "the suggestions did not follow the caller's new turn"
    );
    std::thread::sleep(Duration::from_secs(1));
    let shot = artifact_path("desk_on_call.png");
    browser.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
    browser.find("#hangup").click();
    browser.wait_text("#call-status", Duration::from_secs(10), |t| t == "ended");
    browser.find("#note").type_text("Parcel lost; resent.");
    browser.find("#disposition option[value=resolved]").click();
    browser.find("#save").click();

    vox.assert_passed(&caller.wait());
    let tickets = vox.ended_tickets(1, Duration::from_secs(20));
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["agent"], "alice", "{ticket}");
    assert_eq!(ticket["csat"], 5, "{ticket}");
    let with_agent = ticket["turns"].as_array().into_iter().flatten().any(|t| {
        t["outcome"] == "with-agent" && t["candidates"].as_array().is_some_and(|c| !c.is_empty())
    });
    assert!(
        with_agent,
        "no transcribed turn while with the agent: {ticket}"
    );
    let replies = ticket["turns"].as_array().into_iter().flatten().any(|t| {
        t["outcome"] == "with-agent"
            && t["candidates"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["reply"].is_string()))
    });
    assert!(replies, "no suggested reply text on the ticket: {ticket}");
    let agent_said = ticket["turns"].as_array().into_iter().flatten().any(|t| {
        t["kind"] == "agent-speech"
            && t["speaker"] == "agent"
            && t["agent"] == "alice"
            && t["text"]
                .as_str()
                .is_some_and(|text| said_by_alice(&text.to_lowercase()))
    });
    assert!(
        agent_said,
        "no agent-speech turn with Alice's words: {ticket}"
    );
    common::eventually(Duration::from_secs(5), "the note and disposition", || {
        let ticket = vox.ticket(&tickets[0]["id"]);
        (ticket["agent_disposition"] == "resolved"
            && ticket["notes"][0]["text"] == "Parcel lost; resent.")
            .then_some(())
    });
    // The agent's leg: Alice's fake microphone on the left, the caller on the right.
    let data = vox.data_dir();
    let agent_wav = data.join(ticket["agent_recording_path"].as_str().unwrap_or("missing"));
    let alice = channel_rms(&agent_wav, 0, 0.5, 6.0);
    assert!(alice > 300.0, "no audio from the browser: {alice:.0}");
    let caller_heard_by_alice = channel_rms(&agent_wav, 1, 0.5, 6.0);
    assert!(
        caller_heard_by_alice > 300.0,
        "the desk heard nothing of the caller: {caller_heard_by_alice:.0}"
    );
}

/// Words of the agent's fake microphone sentence, as the recogniser may write them.
fn said_by_alice(lowercase: &str) -> bool {
    ["customer", "this is alice", "see your order"]
        .iter()
        .any(|w| lowercase.contains(w))
}

/// Appends `silence` to a mono 16-bit WAV.
fn pad_with_silence(path: &std::path::Path, silence: Duration) {
    let mut reader = hound::WavReader::open(path).expect("read the spoken WAV");
    let spec = reader.spec();
    let mut samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("16-bit samples");
    let pad = (u128::from(spec.sample_rate) * silence.as_millis() / 1000) as usize;
    samples.resize(samples.len() + pad * usize::from(spec.channels), 0);
    let mut writer = hound::WavWriter::create(path, spec).expect("rewrite the WAV");
    for s in samples {
        writer.write_sample(s).expect("write a sample");
    }
    writer.finalize().expect("finish the WAV");
}
