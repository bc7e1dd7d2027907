//! The ACD with a fake clock: one test per strategy, then timeouts, abandons, priorities,
//! wrap-up, limits and a 50-caller run.

use std::time::{Duration, Instant};

use super::{
    parse_str, Acd, AcdAction, AcdError, AgentState, CallId, CallerInfo, EnqueueError, Position,
    MISSED_CALLS,
};

struct Desk {
    acd: Acd,
    t0: Instant,
}

impl Desk {
    fn new(yaml: &str) -> Self {
        let file = parse_str(yaml, "test").unwrap();
        let t0 = Instant::now();
        Desk {
            acd: Acd::new(&file, t0),
            t0,
        }
    }

    /// A queue `q` with `users` (all in it), `strategy` and extra queue lines.
    fn team(strategy: &str, users: &[&str], queue_extra: &str) -> Self {
        let mut yaml =
            format!("queues:\n  - name: q\n    strategy: {strategy}\n{queue_extra}agents:\n");
        for user in users {
            yaml.push_str(&format!(
                "  - user: {user}\n    password: x\n    queues: [q]\n"
            ));
        }
        Desk::new(&yaml)
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn online(&mut self, users: &[&str], secs: u64) {
        for user in users {
            self.acd.agent_online(user, self.at(secs)).unwrap();
        }
    }

    fn enqueue(&mut self, call: u64, priority: u8, secs: u64) -> Position {
        let info = CallerInfo {
            priority,
            ..CallerInfo::default()
        };
        self.acd
            .enqueue(CallId(call), "q", info, self.at(secs))
            .unwrap()
    }

    fn actions(&mut self) -> Vec<AcdAction> {
        std::iter::from_fn(|| self.acd.poll_action()).collect()
    }

    /// Only the Ring actions, as (call, users).
    fn rings(&mut self) -> Vec<(u64, Vec<String>)> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                AcdAction::Ring { call, users } => Some((call.0, users)),
                _ => None,
            })
            .collect()
    }

    /// Answers `call` on `user` and ends it at once; wrap-up follows the queue.
    fn take_call(&mut self, call: u64, user: &str, secs: u64) {
        self.acd
            .answered(CallId(call), user, self.at(secs))
            .unwrap();
        self.acd.call_ended(CallId(call), self.at(secs)).unwrap();
    }

    fn state(&self, user: &str) -> AgentState {
        self.acd.agent_state(user).cloned().unwrap()
    }
}

fn ring(call: u64, users: &[&str]) -> (u64, Vec<String>) {
    (call, users.iter().map(|u| u.to_string()).collect())
}

fn users(list: &[&str]) -> Vec<String> {
    list.iter().map(|u| u.to_string()).collect()
}

const NO_WRAP_UP: &str = "    wrap_up: 0\n";

#[test]
fn ring_all_rings_every_free_agent_and_stops_the_others_on_answer() {
    let mut desk = Desk::team("ring-all", &["a", "b", "c", "d"], NO_WRAP_UP);
    desk.online(&["a", "b", "c", "d"], 0);
    desk.acd.pause("d", "break", desk.at(0)).unwrap();
    desk.enqueue(1, 0, 1);
    assert_eq!(desk.rings(), [ring(1, &["a", "b", "c"])]);
    desk.acd.answered(CallId(1), "b", desk.at(3)).unwrap();
    assert_eq!(
        desk.actions(),
        [
            AcdAction::StopRinging {
                call: CallId(1),
                users: users(&["a", "c"])
            },
            AcdAction::Connected {
                call: CallId(1),
                user: "b".into()
            },
        ]
    );
    assert_eq!(desk.state("a"), AgentState::Available);
    assert_eq!(desk.state("b"), AgentState::OnCall { call: CallId(1) });
    desk.enqueue(2, 0, 4);
    assert_eq!(desk.rings(), [ring(2, &["a", "c"])]);
}

#[test]
fn longest_idle_offers_the_agent_free_for_longest() {
    let mut desk = Desk::team("longest-idle", &["a", "b", "c"], NO_WRAP_UP);
    desk.online(&["c"], 0);
    desk.online(&["a"], 1);
    desk.online(&["b"], 2);
    desk.enqueue(1, 0, 3);
    assert_eq!(desk.rings(), [ring(1, &["c"])]);
    desk.take_call(1, "c", 4); // c is now idle since 4, the shortest
    desk.enqueue(2, 0, 5);
    assert_eq!(desk.rings(), [ring(2, &["a"])]);
    desk.acd.answered(CallId(2), "a", desk.at(5)).unwrap();
    desk.enqueue(3, 0, 6);
    assert_eq!(desk.rings(), [ring(3, &["b"])]);
}

#[test]
fn round_robin_takes_turns_whatever_the_idle_times() {
    let mut desk = Desk::team("round-robin", &["a", "b", "c"], NO_WRAP_UP);
    desk.online(&["a", "b", "c"], 0);
    desk.enqueue(1, 0, 1);
    desk.acd.answered(CallId(1), "a", desk.at(1)).unwrap();
    desk.enqueue(2, 0, 1);
    desk.acd.answered(CallId(2), "b", desk.at(1)).unwrap();
    desk.acd.call_ended(CallId(2), desk.at(10)).unwrap(); // b idle since 10
    desk.acd.call_ended(CallId(1), desk.at(20)).unwrap(); // a idle since 20
    desk.actions();
    desk.enqueue(3, 0, 21);
    assert_eq!(desk.rings(), [ring(3, &["c"])]);
    desk.acd.answered(CallId(3), "c", desk.at(21)).unwrap();
    desk.enqueue(4, 0, 22);
    // Longest-idle would pick b; the pointer has come round to a.
    assert_eq!(desk.rings(), [ring(4, &["a"])]);
    desk.acd.answered(CallId(4), "a", desk.at(22)).unwrap();
    desk.enqueue(5, 0, 23);
    assert_eq!(desk.rings(), [ring(5, &["b"])]);
}

#[test]
fn fewest_calls_evens_out_the_work_ties_by_longest_idle() {
    let mut desk = Desk::team("fewest-calls", &["a", "b", "c"], NO_WRAP_UP);
    desk.online(&["a", "b"], 0);
    let expected = [(1, "a"), (2, "b"), (3, "a")];
    for (i, (call, user)) in expected.into_iter().enumerate() {
        let secs = 5 + i as u64;
        desk.enqueue(call, 0, secs);
        assert_eq!(desk.rings(), [ring(call, &[user])], "call {call}");
        desk.take_call(call, user, secs);
    }
    // a has 2 calls, b 1 (idle since 6); c comes in fresh: fewest calls beats longest idle.
    desk.online(&["c"], 8);
    desk.enqueue(4, 0, 9);
    assert_eq!(desk.rings(), [ring(4, &["c"])]);
    desk.take_call(4, "c", 9);
    desk.enqueue(5, 0, 10);
    assert_eq!(
        desk.rings(),
        [ring(5, &["b"])],
        "b and c have one call; b idle longer"
    );
}

#[test]
fn skills_prefers_the_highest_level_and_filters_by_need() {
    let yaml =
        "queues:\n  - name: q\n    strategy: skills\n    wrap_up: 0\n    skills: {english: 1}\n\
        agents:\n\
        \x20 - {user: a, password: x, queues: [q], skills: {english: 2, billing: 1}}\n\
        \x20 - {user: b, password: x, queues: [q], skills: {english: 5}}\n\
        \x20 - {user: c, password: x, queues: [q], skills: {english: 3, billing: 4, spanish: 2}}\n\
        \x20 - {user: d, password: x, queues: [q], skills: {billing: 9}}\n";
    let mut desk = Desk::new(yaml);
    desk.online(&["a", "b", "c", "d"], 0);
    let caller = |skill: Option<&str>, language: Option<&str>| CallerInfo {
        priority: 0,
        skill: skill.map(str::to_owned),
        language: language.map(str::to_owned),
        agent: None,
    };
    let t = desk.at(1);
    // d is best at billing but lacks the queue's english.
    desk.acd
        .enqueue(CallId(1), "q", caller(Some("billing"), None), t)
        .unwrap();
    assert_eq!(desk.rings(), [ring(1, &["c"])]);
    desk.acd
        .enqueue(CallId(2), "q", caller(Some("billing"), None), t)
        .unwrap();
    assert_eq!(desk.rings(), [ring(2, &["a"])]);
    desk.acd
        .enqueue(CallId(3), "q", caller(None, None), t)
        .unwrap();
    assert_eq!(desk.rings(), [ring(3, &["b"])]);
    assert_eq!(
        desk.acd
            .enqueue(CallId(4), "q", caller(None, Some("german")), t),
        Err(EnqueueError::NoAgents("q".into()))
    );
    // Everyone qualified is busy: the priority caller gets the next free agent.
    desk.acd
        .enqueue(CallId(5), "q", caller(None, None), t)
        .unwrap();
    let urgent = CallerInfo {
        priority: 9,
        ..caller(None, None)
    };
    desk.acd
        .enqueue(CallId(6), "q", urgent, desk.at(2))
        .unwrap();
    desk.actions();
    desk.acd.ring_failed(CallId(3), "b", desk.at(3)).unwrap();
    assert_eq!(desk.rings(), [ring(6, &["b"])]);
}

#[test]
fn unanswered_rings_move_on_and_pause_after_max_misses() {
    let extra = "    ring_timeout: 15\n    max_misses: 2\n";
    let mut desk = Desk::team("longest-idle", &["a", "b"], extra);
    desk.online(&["a"], 0);
    desk.online(&["b"], 1);
    desk.enqueue(1, 0, 2);
    assert_eq!(desk.rings(), [ring(1, &["a"])]);
    assert_eq!(desk.acd.poll_timeout(), Some(desk.at(17)));
    desk.acd.handle_timeout(desk.at(16));
    assert_eq!(desk.actions(), []);
    desk.acd.handle_timeout(desk.at(17));
    assert_eq!(
        desk.actions(),
        [
            AcdAction::StopRinging {
                call: CallId(1),
                users: users(&["a"])
            },
            AcdAction::Ring {
                call: CallId(1),
                users: users(&["b"])
            },
        ]
    );
    // b declines: everyone has had a turn, so a new round starts with a.
    desk.acd.ring_failed(CallId(1), "b", desk.at(20)).unwrap();
    assert_eq!(desk.rings(), [ring(1, &["a"])]);
    desk.acd.handle_timeout(desk.at(35));
    let paused = AgentState::Paused {
        reason: MISSED_CALLS.into(),
    };
    assert_eq!(desk.state("a"), paused);
    assert_eq!(desk.rings(), [ring(1, &["b"])]);
    desk.acd.handle_timeout(desk.at(50));
    assert_eq!(desk.state("b"), paused);
    assert_eq!(desk.rings(), []);
    assert_eq!(desk.acd.poll_timeout(), None);
    let pauses = std::iter::from_fn(|| desk.acd.poll_event())
        .filter(|e| e.to == paused)
        .count();
    assert_eq!(pauses, 2);
    // Unpausing forgets the misses and the waiting caller is offered again.
    desk.acd.unpause("a", desk.at(60)).unwrap();
    assert_eq!(desk.rings(), [ring(1, &["a"])]);
    desk.acd.answered(CallId(1), "a", desk.at(61)).unwrap();
    assert_eq!(desk.acd.snapshot(desk.at(61)).agents[0].misses, 0);
}

#[test]
fn abandoned_callers_are_never_rung_and_their_rings_stop() {
    let mut desk = Desk::team("longest-idle", &["a"], NO_WRAP_UP);
    desk.online(&["a"], 0);
    desk.enqueue(1, 0, 1);
    desk.enqueue(2, 0, 1);
    desk.enqueue(3, 0, 1);
    assert_eq!(desk.rings(), [ring(1, &["a"])]);
    desk.acd.abandon(CallId(2), desk.at(2)).unwrap();
    assert_eq!(
        desk.actions(),
        [AcdAction::Position {
            call: CallId(3),
            position: Position(2)
        }]
    );
    // Abandon while ringing: the ring stops and the agent moves on to call 3, not 2.
    desk.acd.abandon(CallId(1), desk.at(3)).unwrap();
    assert_eq!(
        desk.actions(),
        [
            AcdAction::StopRinging {
                call: CallId(1),
                users: users(&["a"])
            },
            AcdAction::Ring {
                call: CallId(3),
                users: users(&["a"])
            },
            AcdAction::Position {
                call: CallId(3),
                position: Position(1)
            },
        ]
    );
    assert_eq!(
        desk.acd.abandon(CallId(2), desk.at(4)),
        Err(AcdError::UnknownCall(CallId(2)))
    );
    assert_eq!(
        desk.acd.answered(CallId(1), "a", desk.at(4)),
        Err(AcdError::UnknownCall(CallId(1)))
    );
}

#[test]
fn fifty_callers_for_ten_agents_are_served_in_priority_then_arrival_order() {
    let agents: Vec<String> = (0..10).map(|i| format!("agent{i}")).collect();
    let names: Vec<&str> = agents.iter().map(String::as_str).collect();
    let mut desk = Desk::team("longest-idle", &names, "    wrap_up: 5\n");
    desk.online(&names, 0);
    for name in &names {
        desk.acd.pause(name, "meeting", desk.at(0)).unwrap();
    }
    let priority = |call: u64| [0u8, 2, 1][call as usize % 3];
    for call in 0..50 {
        desk.enqueue(call, priority(call), 1);
    }
    assert_eq!(desk.acd.snapshot(desk.at(1)).queues[0].waiting, 50);
    let mut expected: Vec<u64> = (0..50).collect();
    expected.sort_by_key(|c| (std::cmp::Reverse(priority(*c)), *c));

    let mut served = Vec::new();
    let mut on_call: Vec<(u64, String)> = Vec::new();
    for name in &names {
        desk.acd.unpause(name, desk.at(2)).unwrap();
    }
    let mut secs = 2;
    while served.len() < 50 {
        for (call, users) in desk.rings() {
            let [user] = users.as_slice() else {
                panic!("one agent per ring: {users:?}")
            };
            desk.acd
                .answered(CallId(call), user, desk.at(secs))
                .unwrap();
            served.push(call);
            on_call.push((call, user.clone()));
        }
        secs += 7;
        // The oldest call on each pass ends; wrap-up timers free agents later.
        if !on_call.is_empty() {
            let (call, _) = on_call.remove(0);
            desk.acd.call_ended(CallId(call), desk.at(secs)).unwrap();
        }
        desk.acd.handle_timeout(desk.at(secs));
        assert!(secs < 10_000, "stalled after {served:?}");
    }
    assert_eq!(served, expected);
    let snapshot = desk.acd.snapshot(desk.at(secs));
    assert_eq!(snapshot.queues[0].waiting, 0);
    assert_eq!(
        snapshot.agents.iter().map(|a| a.calls_taken).sum::<u64>(),
        50
    );
}

#[test]
fn wrap_up_ends_by_timer_or_by_the_agent() {
    let mut desk = Desk::team("longest-idle", &["a"], "    wrap_up: 10\n");
    desk.online(&["a"], 0);
    desk.enqueue(1, 0, 1);
    desk.take_call(1, "a", 2);
    let until = desk.at(12);
    assert_eq!(desk.state("a"), AgentState::WrapUp { until });
    assert_eq!(desk.acd.poll_timeout(), Some(until));
    desk.enqueue(2, 0, 3);
    desk.actions();
    desk.acd.handle_timeout(desk.at(11));
    assert_eq!(desk.rings(), []);
    desk.acd.handle_timeout(until);
    assert_eq!(desk.rings(), [ring(2, &["a"])]);
    desk.take_call(2, "a", 13);
    desk.acd.end_wrap_up("a", desk.at(14)).unwrap();
    assert_eq!(desk.state("a"), AgentState::Available);
    assert_eq!(
        desk.acd.end_wrap_up("a", desk.at(15)),
        Err(AcdError::NotInWrapUp("a".into()))
    );
}

#[test]
fn enqueue_refuses_full_unknown_unstaffed_and_duplicate() {
    let mut desk = Desk::team("ring-all", &["a"], "    max_waiting: 2\n");
    let none = CallerInfo::default;
    assert_eq!(
        desk.acd.enqueue(CallId(1), "q", none(), desk.at(0)),
        Err(EnqueueError::NoAgents("q".into()))
    );
    desk.online(&["a"], 0);
    assert_eq!(
        desk.acd.enqueue(CallId(1), "nope", none(), desk.at(0)),
        Err(EnqueueError::UnknownQueue("nope".into()))
    );
    assert_eq!(desk.enqueue(1, 0, 1), Position(1));
    assert_eq!(
        desk.acd.enqueue(CallId(1), "q", none(), desk.at(1)),
        Err(EnqueueError::DuplicateCall(CallId(1)))
    );
    assert_eq!(desk.enqueue(2, 0, 1), Position(2));
    assert_eq!(
        desk.acd.enqueue(CallId(3), "q", none(), desk.at(1)),
        Err(EnqueueError::Full {
            queue: "q".into(),
            max: 2
        })
    );
}

#[test]
fn priority_caller_jumps_the_line() {
    let mut desk = Desk::team("longest-idle", &["a"], NO_WRAP_UP);
    desk.online(&["a"], 0);
    desk.enqueue(1, 0, 1);
    desk.acd.answered(CallId(1), "a", desk.at(1)).unwrap();
    assert_eq!(desk.enqueue(2, 0, 2), Position(1));
    assert_eq!(desk.enqueue(3, 0, 3), Position(2));
    desk.actions();
    assert_eq!(desk.enqueue(4, 5, 4), Position(1));
    assert_eq!(
        desk.actions(),
        [
            AcdAction::Position {
                call: CallId(2),
                position: Position(2)
            },
            AcdAction::Position {
                call: CallId(3),
                position: Position(3)
            },
        ]
    );
    desk.acd.call_ended(CallId(1), desk.at(5)).unwrap();
    assert_eq!(desk.rings(), [ring(4, &["a"])]);
}

#[test]
fn agent_leaving_mid_ring_hands_the_call_on() {
    let mut desk = Desk::team("longest-idle", &["a", "b"], NO_WRAP_UP);
    desk.online(&["a"], 0);
    desk.online(&["b"], 1);
    desk.enqueue(1, 0, 2);
    desk.actions();
    desk.acd.agent_offline("a", desk.at(3)).unwrap();
    assert_eq!(
        desk.actions(),
        [
            AcdAction::StopRinging {
                call: CallId(1),
                users: users(&["a"])
            },
            AcdAction::Ring {
                call: CallId(1),
                users: users(&["b"])
            },
        ]
    );
    assert_eq!(desk.state("a"), AgentState::Offline);
    assert_eq!(
        desk.acd.pause("a", "x", desk.at(4)),
        Err(AcdError::AgentOffline("a".into()))
    );
    assert_eq!(
        desk.acd.answered(CallId(1), "a", desk.at(4)),
        Err(AcdError::NotRinging {
            call: CallId(1),
            user: "a".into()
        })
    );
}

#[test]
fn pause_during_a_call_starts_when_it_ends() {
    let mut desk = Desk::team("longest-idle", &["a"], "    wrap_up: 10\n");
    desk.online(&["a"], 0);
    desk.enqueue(1, 0, 1);
    desk.acd.answered(CallId(1), "a", desk.at(1)).unwrap();
    desk.acd.pause("a", "lunch", desk.at(2)).unwrap();
    assert_eq!(desk.state("a"), AgentState::OnCall { call: CallId(1) });
    desk.acd.call_ended(CallId(1), desk.at(3)).unwrap();
    assert_eq!(
        desk.state("a"),
        AgentState::Paused {
            reason: "lunch".into()
        }
    );
}

#[test]
fn snapshot_counts_states_and_the_longest_wait() {
    let mut desk = Desk::team("longest-idle", &["a", "b", "c"], NO_WRAP_UP);
    desk.online(&["a", "b"], 0);
    desk.acd.pause("b", "break", desk.at(0)).unwrap();
    desk.enqueue(1, 0, 10);
    desk.enqueue(2, 0, 20);
    let snapshot = desk.acd.snapshot(desk.at(25));
    let queue = &snapshot.queues[0];
    assert_eq!(
        (queue.waiting, queue.longest_wait),
        (2, Duration::from_secs(15))
    );
    let counts = queue.agents;
    assert_eq!(
        (
            counts.ringing,
            counts.paused,
            counts.offline,
            counts.available
        ),
        (1, 1, 1, 0)
    );
    let a = &snapshot.agents[0];
    assert_eq!((a.user.as_str(), a.since), ("a", desk.at(10)));
    assert_eq!(a.state, AgentState::Ringing { call: CallId(1) });
    let events: Vec<_> = std::iter::from_fn(|| desk.acd.poll_event()).collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.iter().all(|e| e.from != e.to));
}

#[test]
fn a_call_for_one_agent_rings_only_that_agent() {
    let mut desk = Desk::team("ring-all", &["a", "b", "c"], "");
    desk.online(&["a", "b", "c"], 0);
    let for_b = CallerInfo {
        agent: Some("b".into()),
        ..CallerInfo::default()
    };
    desk.acd
        .enqueue(CallId(1), "q", for_b.clone(), desk.at(1))
        .unwrap();
    assert_eq!(desk.rings(), [ring(1, &["b"])]);
    // b is busy now: a second call for b waits although a and c are free.
    desk.acd.enqueue(CallId(2), "q", for_b, desk.at(2)).unwrap();
    assert!(desk.rings().is_empty());
    // An ordinary caller still gets everyone free.
    desk.enqueue(3, 0, 3);
    assert_eq!(desk.rings(), [ring(3, &["a", "c"])]);
}

#[test]
fn an_agent_with_a_phone_and_a_desk_stays_online_until_both_are_gone() {
    let mut desk = Desk::team("longest-idle", &["a"], NO_WRAP_UP);
    desk.online(&["a"], 0);
    desk.online(&["a"], 1);
    desk.acd.agent_offline("a", desk.at(2)).unwrap();
    let state = |desk: &Desk| {
        desk.acd
            .snapshot(desk.at(3))
            .agents
            .into_iter()
            .find(|a| a.user == "a")
            .map(|a| a.state)
    };
    assert_eq!(state(&desk), Some(AgentState::Available));
    desk.acd.agent_offline("a", desk.at(3)).unwrap();
    assert_eq!(state(&desk), Some(AgentState::Offline));
    // A stray offline (e.g. a phone dropped twice) does not go below zero.
    desk.acd.agent_offline("a", desk.at(4)).unwrap();
    desk.online(&["a"], 5);
    assert_eq!(state(&desk), Some(AgentState::Available));
}

#[test]
fn hand_over_moves_the_consulted_agent_to_the_caller_and_wraps_up_the_first() {
    let mut desk = Desk::team("longest-idle", &["a", "b"], "    wrap_up: 10\n");
    desk.online(&["a", "b"], 0);
    desk.enqueue(1, 0, 1);
    desk.acd.answered(CallId(1), "a", desk.at(2)).unwrap();
    // a consults b: the consultation is a call of its own, pinned to b.
    let info = CallerInfo {
        agent: Some("b".into()),
        ..CallerInfo::default()
    };
    desk.acd.enqueue(CallId(2), "q", info, desk.at(3)).unwrap();
    desk.acd.answered(CallId(2), "b", desk.at(4)).unwrap();
    let taken_before = desk.acd.snapshot(desk.at(5)).agents;
    assert_eq!(
        desk.acd.hand_over(CallId(2), CallId(1), desk.at(5)),
        Ok("b".to_string())
    );
    assert_eq!(desk.state("a"), AgentState::WrapUp { until: desk.at(15) });
    assert_eq!(desk.state("b"), AgentState::OnCall { call: CallId(1) });
    let taken_after = desk.acd.snapshot(desk.at(5)).agents;
    let calls = |list: &[super::AgentSnapshot]| -> Vec<u64> {
        list.iter().map(|a| a.calls_taken).collect()
    };
    assert_eq!(
        calls(&taken_before),
        calls(&taken_after),
        "no new call taken"
    );
    // The consultation is gone; the caller's call ends with b.
    assert_eq!(
        desk.acd.call_ended(CallId(2), desk.at(6)),
        Err(AcdError::UnknownCall(CallId(2)))
    );
    desk.acd.call_ended(CallId(1), desk.at(7)).unwrap();
    assert_eq!(desk.state("b"), AgentState::WrapUp { until: desk.at(17) });
}

#[test]
fn hand_over_needs_two_connected_calls() {
    let mut desk = Desk::team("longest-idle", &["a", "b"], NO_WRAP_UP);
    desk.online(&["a", "b"], 0);
    desk.enqueue(1, 0, 1);
    desk.acd.answered(CallId(1), "a", desk.at(2)).unwrap();
    desk.enqueue(2, 0, 3);
    // Call 2 is only ringing b: nothing to hand over, nothing changes.
    assert_eq!(
        desk.acd.hand_over(CallId(2), CallId(1), desk.at(4)),
        Err(AcdError::NotConnected(CallId(2)))
    );
    assert_eq!(
        desk.acd.hand_over(CallId(1), CallId(9), desk.at(4)),
        Err(AcdError::NotConnected(CallId(9)))
    );
    assert_eq!(desk.state("a"), AgentState::OnCall { call: CallId(1) });
}
