//! ACD cases on the real binary with real SIPp: an unanswered agent is skipped and paused, a
//! caller abandons the queue, ring-all rings every free agent, and fifty callers share ten
//! agents. The dialplan is only a `queue` step (no prompts, no speech), so the callers send no
//! audio of their own and the tests stay light: SIPp's `-rtp_echo` returns what voxdesk sends,
//! which keeps the RTP inactivity timeout quiet during long waits.

mod common;

use std::time::{Duration, Instant};

use common::{free_udp_port, Voxdesk, QUEUE_ONLY};
use serde_json::{json, Value};

const TICKET_WAIT: Duration = Duration::from_secs(20);

/// The dialplan's `max_wait`, in milliseconds (see [`QUEUE_ONLY`]).
const MAX_WAIT_MS: i64 = 60_000;

/// voxdesk on [`QUEUE_ONLY`] with this agents file.
fn start_center(agents_yaml: &str) -> Voxdesk {
    Voxdesk::start_with_agents(agents_yaml, Some(QUEUE_ONLY))
}

/// `GET /api/queues`'s totals (answered, abandoned, timed out, rates).
fn totals(vox: &Voxdesk) -> Value {
    vox.get_json("/api/queues")["totals"].clone()
}

fn wait_ms(ticket: &Value) -> i64 {
    ticket["queue_wait_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("no queue_wait_ms: {ticket}"))
}

/// Alice's phone only rings; after one missed ring (3 s) she is paused and Bob is rung.
const NO_ANSWER: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    queues: [support]
  - user: bob
    password: builder
    queues: [support]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 3
    max_misses: 1
    wrap_up: 1
";

#[test]
fn an_unanswered_agent_is_skipped_for_the_next_and_paused() {
    let vox = start_center(NO_ANSWER);
    let (alice_port, bob_port) = (free_udp_port(), free_udp_port());
    let alice = vox.sipp("agent_phone_ring.xml").port(alice_port).spawn();
    let bob = vox.answering_phone(bob_port, 1, 300, 2000).spawn();
    // Alice comes first, so longest-idle offers her the caller first.
    vox.register_available("alice", "wonder", alice_port);
    vox.register_available("bob", "builder", bob_port);

    let caller = vox.queue_caller().run();
    vox.assert_passed(&caller);
    vox.assert_passed(&alice.wait());
    vox.assert_passed(&bob.wait());

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["queue"], "support", "{ticket}");
    assert_eq!(ticket["agents_tried"], json!(["alice", "bob"]), "{ticket}");
    assert_eq!(ticket["agent"], "bob", "{ticket}");
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    // Alice's three seconds of ringing, then Bob's 0.3.
    let waited = wait_ms(&ticket);
    assert!(
        (3_000..8_000).contains(&waited),
        "waited {waited} ms: {ticket}"
    );

    let alice = vox.agent("alice");
    assert_eq!(alice["state"], "paused", "{alice}");
    assert_eq!(alice["reason"], "missed calls", "{alice}");
    assert_eq!(alice["misses"], 1, "{alice}");
    assert_eq!(alice["calls_taken"], 0, "{alice}");
    let bob = vox.agent("bob");
    assert_eq!(bob["calls_taken"], 1, "{bob}");
    assert_eq!(bob["misses"], 0, "{bob}");
    let totals = totals(&vox);
    assert_eq!(totals["answered"], 1, "{totals}");
    assert_eq!(totals["abandoned"], 0, "{totals}");
}

/// Alice's phone rings far longer than the caller is willing to wait.
const RINGS_FOREVER: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    queues: [support]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 30
    wrap_up: 1
";

#[test]
fn a_caller_who_hangs_up_while_queued_counts_as_abandoned() {
    let vox = start_center(RINGS_FOREVER);
    let alice_port = free_udp_port();
    let alice = vox.sipp("agent_phone_ring.xml").port(alice_port).spawn();
    vox.register_available("alice", "wonder", alice_port);

    let caller = vox.sipp("queue_abandon.xml").set("hold_ms", "4000").run();
    vox.assert_passed(&caller);
    // The caller's BYE cancels the ring.
    vox.assert_passed(&alice.wait());

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["queue"], "support", "{ticket}");
    assert_eq!(ticket["agent"], Value::Null, "{ticket}");
    assert_eq!(ticket["agents_tried"], json!(["alice"]), "{ticket}");
    assert_eq!(ticket["disposition"], "caller-hung-up", "{ticket}");
    let waited = wait_ms(&ticket);
    assert!(
        (3_500..6_000).contains(&waited),
        "waited {waited} ms: {ticket}"
    );

    let totals = totals(&vox);
    assert_eq!(totals["abandoned"], 1, "{totals}");
    assert_eq!(totals["answered"], 0, "{totals}");
    assert_eq!(totals["abandon_rate"], 1.0, "{totals}");
    let metrics = vox.get("/metrics").body;
    assert!(
        metrics.contains("voxdesk_queue_calls_abandoned_total 1"),
        "{metrics}"
    );
    let queue = vox.get_json("/api/queues/support");
    assert_eq!(queue["waiting"], 0, "{queue}");
    // A caller who left is no missed ring: Alice is free again, not paused.
    let alice = vox.wait_agent_state("alice", "available");
    assert_eq!(alice["misses"], 0, "{alice}");
}

/// Every free phone rings at once.
const RING_ALL: &str = "realm: voxdesk
agents:
  - user: alice
    password: wonder
    queues: [support]
  - user: bob
    password: builder
    queues: [support]
  - user: carol
    password: coach
    queues: [support]
queues:
  - name: support
    strategy: ring-all
    ring_timeout: 15
    wrap_up: 1
";

#[test]
fn ring_all_rings_every_agent_and_cancels_the_others_when_one_answers() {
    let vox = start_center(RING_ALL);
    let ports = [free_udp_port(), free_udp_port(), free_udp_port()];
    let alice = vox.sipp("agent_phone_ring.xml").port(ports[0]).spawn();
    let bob = vox.answering_phone(ports[1], 1, 1000, 2000).spawn();
    let carol = vox.sipp("agent_phone_ring.xml").port(ports[2]).spawn();
    vox.register_available("alice", "wonder", ports[0]);
    vox.register_available("bob", "builder", ports[1]);
    vox.register_available("carol", "coach", ports[2]);

    let started = Instant::now();
    let caller = vox.queue_caller().run();
    vox.assert_passed(&caller);
    vox.assert_passed(&bob.wait());
    // Their runs pass only if the CANCEL came (and voxdesk ACKed the 487).
    let alice = alice.wait();
    vox.assert_passed(&alice);
    let carol = carol.wait();
    vox.assert_passed(&carol);
    assert!(alice.messages.contains("CANCEL sip:"), "{alice}");
    assert!(carol.messages.contains("CANCEL sip:"), "{carol}");
    // Well before the 15 s ring timeout: cancelled because Bob answered.
    assert!(started.elapsed() < Duration::from_secs(12));

    let tickets = vox.ended_tickets(1, TICKET_WAIT);
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["agent"], "bob", "{ticket}");
    let mut tried: Vec<String> = ticket["agents_tried"]
        .as_array()
        .unwrap_or_else(|| panic!("no agents_tried: {ticket}"))
        .iter()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    tried.sort();
    assert_eq!(tried, ["alice", "bob", "carol"], "{ticket}");
    let waited = wait_ms(&ticket);
    assert!(
        (800..5_000).contains(&waited),
        "waited {waited} ms: {ticket}"
    );

    assert_eq!(vox.agent("bob")["calls_taken"], 1);
    // Losing the race is no missed ring.
    for user in ["alice", "carol"] {
        let view = vox.wait_agent_state(user, "available");
        assert_eq!(view["misses"], 0, "{view}");
        assert_eq!(view["calls_taken"], 0, "{view}");
    }
}

const CALLERS: u32 = 50;
const AGENTS: usize = 10;

/// Ten agents with one password, in one longest-idle queue with room for every caller.
fn ten_agents() -> String {
    let mut yaml = String::from("realm: voxdesk\nagents:\n");
    for n in 1..=AGENTS {
        yaml.push_str(&format!(
            "  - user: a{n:02}\n    password: secret\n    queues: [support]\n"
        ));
    }
    yaml.push_str(
        "queues:\n  - name: support\n    strategy: longest-idle\n    ring_timeout: 10\n    \
         wrap_up: 0\n    max_waiting: 60\n",
    );
    yaml
}

#[test]
fn fifty_callers_are_all_served_by_ten_agents() {
    let vox = start_center(&ten_agents());
    let users: Vec<String> = (1..=AGENTS).map(|n| format!("a{n:02}")).collect();
    let phones_port = free_udp_port();
    let phones = vox.answering_phone(phones_port, CALLERS, 500, 2000).spawn();
    let accounts = vox.dir().join("agents.csv");
    let lines: String = users
        .iter()
        .map(|u| format!("{u};[authentication username={u} password=secret]\n"))
        .collect();
    std::fs::write(&accounts, format!("SEQUENTIAL\n{lines}")).expect("write the injection file");
    let register = vox
        .sipp("agent_register_many.xml")
        .arg("-inf")
        .arg(&accounts.display().to_string())
        .calls(AGENTS as u32)
        .set("cport", &phones_port.to_string())
        .set("expires", "3600")
        .run();
    vox.assert_passed(&register);
    for user in &users {
        vox.wait_agent_state(user, "available");
    }

    // At most 30 callers at once: the harness gives voxdesk 50 RTP ports, and the ten agent
    // legs need theirs too.
    let callers = vox.queue_caller().calls(CALLERS).rate(10).limit(30).run();
    vox.assert_passed(&callers);
    vox.assert_passed(&phones.wait());

    let tickets = vox.ended_tickets(CALLERS as usize, TICKET_WAIT);
    for ticket in &tickets {
        assert!(ticket["agent"].is_string(), "not served: {ticket}");
        assert_eq!(ticket["disposition"], "completed", "{ticket}");
        let waited = wait_ms(ticket);
        assert!(waited < MAX_WAIT_MS, "waited {waited} ms: {ticket}");
    }
    let agents = vox.get_json("/api/agents");
    let taken: Vec<(String, u64)> = agents["agents"]
        .as_array()
        .unwrap_or_else(|| panic!("no agents: {agents}"))
        .iter()
        .map(|a| {
            let user = a["user"].as_str().unwrap_or("?").to_owned();
            (user, a["calls_taken"].as_u64().unwrap_or(0))
        })
        .collect();
    assert_eq!(taken.len(), AGENTS, "{agents}");
    assert!(
        taken.iter().all(|(_, n)| *n >= 1),
        "an idle agent: {taken:?}"
    );
    let total: u64 = taken.iter().map(|(_, n)| n).sum();
    assert_eq!(total, u64::from(CALLERS), "{taken:?}");
    let totals = totals(&vox);
    assert_eq!(totals["answered"], CALLERS, "{totals}");
    assert_eq!(totals["abandoned"], 0, "{totals}");
    assert_eq!(totals["timed_out"], 0, "{totals}");
}
