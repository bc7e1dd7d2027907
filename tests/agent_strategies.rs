//! Each routing strategy on the real binary: SIPp phones registered as agents answer after a
//! short ring, SIPp callers come one after another (or overlap, for priority), and the tickets
//! say who took each call. Every test sets the agents up so that the other strategies would
//! pick someone else: agents register in an order that differs from the agents file, and join
//! after others have already taken calls, so idle time, call counts and file order disagree.
//!
//! Agents have no wrap-up, so each is free again as soon as their call ends; the tests wait
//! for that before the next caller, which keeps the order of events (and so the expected
//! agent) deterministic.

mod common;

use std::time::Duration;

use common::{agents_config, free_udp_port, Voxdesk, QUEUE_ONLY};
use serde_json::{json, Value};

const TICKET_WAIT: Duration = Duration::from_secs(20);
/// How long each SIPp phone rings before it answers.
const RING_MS: u64 = 300;
/// How long each SIPp phone talks before it hangs up.
const TALK_MS: u64 = 1000;

/// One `support` queue with `strategy` and no wrap-up, and these agents (YAML list items).
fn agents_file(strategy: &str, agents: &str) -> String {
    format!(
        "realm: voxdesk\nagents:\n{agents}queues:\n  - name: support\n    strategy: {strategy}\n    \
         ring_timeout: 10\n    wrap_up: 0\n"
    )
}

/// An agent of `support` with password `secret` and these skills (`{}` for none).
fn member(user: &str, skills: &str) -> String {
    format!("  - user: {user}\n    password: secret\n    queues: [support]\n    skills: {skills}\n")
}

/// Tickets oldest first.
fn tickets_in_order(vox: &Voxdesk, count: usize) -> Vec<Value> {
    let mut tickets = vox.ended_tickets(count, TICKET_WAIT);
    tickets.sort_by_key(|t| t["id"].as_i64().unwrap_or(i64::MAX));
    tickets
}

fn agent_of(ticket: &Value) -> String {
    ticket["agent"]
        .as_str()
        .unwrap_or_else(|| panic!("no agent took the call: {ticket}"))
        .to_owned()
}

/// Runs `caller` to the end as the `nth` call (1-based) and returns who took it, once that
/// agent is free again.
fn serve(vox: &Voxdesk, caller: common::Sipp, nth: usize) -> String {
    vox.assert_passed(&caller.run());
    let tickets = tickets_in_order(vox, nth);
    let ticket = tickets.last().unwrap_or_else(|| panic!("no ticket"));
    assert_eq!(ticket["disposition"], "completed", "{ticket}");
    let agent = agent_of(ticket);
    assert_eq!(ticket["agents_tried"], json!([agent]), "{ticket}");
    vox.wait_agent_state(&agent, "available");
    agent
}

fn calls_taken(vox: &Voxdesk, user: &str) -> u64 {
    let view = vox.agent(user);
    view["calls_taken"]
        .as_u64()
        .unwrap_or_else(|| panic!("no calls_taken: {view}"))
}

#[test]
fn longest_idle_offers_the_agent_idle_longest_even_with_more_calls() {
    let agents = [member("alice", "{}"), member("bob", "{}")].concat();
    let vox = Voxdesk::start_with_agents(&agents_file("longest-idle", &agents), Some(QUEUE_ONLY));
    let port = free_udp_port();
    let phones = vox.answering_phone(port, 3, RING_MS, TALK_MS).spawn();

    vox.register_available("alice", "secret", port);
    let first = serve(&vox, vox.queue_caller(), 1);
    // Bob logs in after Alice's call: she has taken a call but has been idle longer.
    vox.register_available("bob", "secret", port);
    let second = serve(&vox, vox.queue_caller(), 2);
    let third = serve(&vox, vox.queue_caller(), 3);
    vox.assert_passed(&phones.wait());

    // fewest-calls and round-robin would give Bob the second call.
    assert_eq!([first, second, third], ["alice", "alice", "bob"]);
    assert_eq!(calls_taken(&vox, "alice"), 2);
    assert_eq!(calls_taken(&vox, "bob"), 1);
}

#[test]
fn round_robin_rotates_in_agents_file_order() {
    let agents = [
        member("alice", "{}"),
        member("bob", "{}"),
        member("carol", "{}"),
    ]
    .concat();
    let vox = Voxdesk::start_with_agents(&agents_file("round-robin", &agents), Some(QUEUE_ONLY));
    let port = free_udp_port();
    let phones = vox.answering_phone(port, 4, RING_MS, TALK_MS).spawn();
    // Registered in reverse: longest-idle and fewest-calls would start with Carol.
    for user in ["carol", "bob", "alice"] {
        vox.register_available(user, "secret", port);
    }

    let served: Vec<String> = (1..=4)
        .map(|nth| serve(&vox, vox.queue_caller(), nth))
        .collect();
    vox.assert_passed(&phones.wait());

    assert_eq!(served, ["alice", "bob", "carol", "alice"]);
}

#[test]
fn fewest_calls_offers_the_agent_with_fewer_calls_taken() {
    let agents = [member("alice", "{}"), member("bob", "{}")].concat();
    let vox = Voxdesk::start_with_agents(&agents_file("fewest-calls", &agents), Some(QUEUE_ONLY));
    let port = free_udp_port();
    let phones = vox.answering_phone(port, 4, RING_MS, TALK_MS).spawn();

    vox.register_available("alice", "secret", port);
    let mut served: Vec<String> = (1..=2)
        .map(|nth| serve(&vox, vox.queue_caller(), nth))
        .collect();
    // Bob joins late: Alice has been idle longer, but has two calls to his none.
    vox.register_available("bob", "secret", port);
    served.extend((3..=4).map(|nth| serve(&vox, vox.queue_caller(), nth)));
    vox.assert_passed(&phones.wait());

    // longest-idle would give Alice the third call, round-robin the fourth.
    assert_eq!(served, ["alice", "alice", "bob", "bob"]);
    assert_eq!(calls_taken(&vox, "alice"), 2);
    assert_eq!(calls_taken(&vox, "bob"), 2);
}

/// The caller says what it is about; the recognised intent is the skill the queue asks for.
const SKILL_BY_INTENT: &str = "name: Skills by intent
start: ask
intents:
  billing:
    label: billing
    examples:
      - a question about my bill
      - my bill is wrong
      - invoice
      - I was charged twice
  tech:
    label: technical support
    examples:
      - my internet is down
      - the internet does not work
      - my router is broken
      - no connection
steps:
  - label: ask
    ask:
      prompt: Is it about your bill, or a technical problem?
      timeout: 8s
      retries: 1
      intents: { billing: queued, tech: queued }
      on_timeout: gave_up
      on_no_match: gave_up
  - label: queued
    queue:
      name: support
      skill: \"{intent}\"
      max_wait: 30
      on_timeout: gave_up
      on_full: gave_up
      next: done
  - label: done
    hangup: completed
  - label: gave_up
    hangup: no-input
";

/// A caller who says `request` three seconds into the call and then waits for an agent.
fn spoken_caller(vox: &Voxdesk, request: &str) -> common::Sipp {
    vox.sipp("queue_caller_speech.xml")
        .clip("request.ul", request)
        .set("at1", "3000")
}

#[test]
fn skills_gives_the_intents_call_to_the_most_skilled_agent() {
    // File and registration order put Carol, the generalist, first: any other strategy, or a
    // skills strategy blind to levels, would give her both calls.
    let agents = [
        member("carol", "{billing: 1, tech: 1}"),
        member("bob", "{tech: 3}"),
        member("alice", "{billing: 2}"),
    ]
    .concat();
    let vox = Voxdesk::start_with_agents(&agents_file("skills", &agents), Some(SKILL_BY_INTENT));
    let port = free_udp_port();
    let phones = vox.answering_phone(port, 2, RING_MS, TALK_MS).spawn();
    for user in ["carol", "bob", "alice"] {
        vox.register_available(user, "secret", port);
    }

    let billing = serve(
        &vox,
        spoken_caller(&vox, "I have a question about my bill."),
        1,
    );
    let tech = serve(&vox, spoken_caller(&vox, "My internet is down."), 2);
    vox.assert_passed(&phones.wait());

    let tickets = tickets_in_order(&vox, 2);
    for (ticket, intent) in tickets.iter().zip(["billing", "tech"]) {
        let detail = vox.ticket(&ticket["id"]);
        let understood = detail["turns"]
            .as_array()
            .is_some_and(|turns| turns.iter().any(|t| t["intent"] == intent));
        assert!(understood, "intent {intent} not recognised: {detail}");
    }
    assert_eq!([billing, tech], ["alice", "bob"]);
    assert_eq!(calls_taken(&vox, "carol"), 0);
}

/// Start of the call plus time in the queue, in milliseconds since midnight (UTC).
fn connected_at_ms(ticket: &Value) -> f64 {
    let started = ticket["started_at"].as_str().unwrap_or("");
    // RFC 3339 with milliseconds: the time of day is enough within one test.
    let time = started.get(11..23).unwrap_or("00:00:00.000");
    let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let since_midnight = parts.iter().fold(0.0, |acc, p| acc * 60.0 + p) * 1000.0;
    let waited = ticket["queue_wait_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no queue_wait_ms: {ticket}"));
    since_midnight + waited
}

fn waiting(vox: &Voxdesk) -> u64 {
    vox.get_json("/api/queues/support")["waiting"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_vip_caller_is_served_before_an_earlier_normal_caller() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let agents = agents_file("skills", &member("dave", "{}"));
    let normal = dir.path().join("normal.yaml");
    let vip = dir.path().join("vip.yaml");
    std::fs::write(&normal, QUEUE_ONLY).expect("write the dialplan");
    let vip_plan = QUEUE_ONLY.replace("name: support\n", "name: support\n      priority: 5\n");
    assert_ne!(vip_plan, QUEUE_ONLY);
    std::fs::write(&vip, vip_plan).expect("write the VIP dialplan");
    // Calls to `vip@` are the VIP line; every other number runs the normal dialplan.
    let config = format!(
        "{}[dialplan]\nfile = {:?}\n[dialplan.routes]\nvip = {:?}\n",
        agents_config(dir.path(), &agents),
        normal.display().to_string(),
        vip.display().to_string()
    );
    let vox = Voxdesk::start_routed(Some(&config));
    let port = free_udp_port();
    let phones = vox.answering_phone(port, 3, RING_MS, 3000).spawn();
    vox.register_available("dave", "secret", port);

    // Dave is busy with the first caller while a normal caller, then a VIP, queue up.
    let first = vox.queue_caller().spawn();
    vox.wait_agent_state("dave", "on-call");
    let normal_caller = vox.queue_caller().spawn();
    common::eventually(Duration::from_secs(10), "one caller waiting", || {
        (waiting(&vox) == 1).then_some(())
    });
    let vip_caller = vox.queue_caller().service("vip").spawn();
    common::eventually(Duration::from_secs(10), "two callers waiting", || {
        (waiting(&vox) == 2).then_some(())
    });
    for run in [first, normal_caller, vip_caller] {
        vox.assert_passed(&run.wait());
    }
    vox.assert_passed(&phones.wait());

    let tickets = tickets_in_order(&vox, 3);
    let [first, normal, vip] = [&tickets[0], &tickets[1], &tickets[2]];
    assert!(
        vip["to_uri"].as_str().unwrap_or("").contains("vip@"),
        "{vip}"
    );
    for ticket in [first, normal, vip] {
        assert_eq!(agent_of(ticket), "dave");
    }
    assert!(
        connected_at_ms(vip) < connected_at_ms(normal),
        "the VIP who came later was not put through first:\n{vip}\n{normal}"
    );
    assert!(connected_at_ms(first) < connected_at_ms(vip));
    assert_eq!(calls_taken(&vox, "dave"), 3);
}
