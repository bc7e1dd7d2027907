//! Unit tests for [`super`]: queue behaviour tick by tick, exact mix values, the routing
//! matrix, and the commands the wiring sends (observed on bare channels, no session).

use super::*;
use crate::media::session::MediaCommand;
use proptest::prelude::*;

/// A one-sample frame; the queue does not care about length.
fn frame(value: i16) -> Frame {
    Arc::from([value])
}

fn first(frame: Option<Frame>) -> Option<i16> {
    frame.and_then(|f| f.first().copied())
}

/// Runs a script against a queue: a number pushes that frame, `None` pops and records.
fn run(queue: &mut FrameQueue, script: &[Option<i16>]) -> Vec<Option<i16>> {
    let mut popped = Vec::new();
    for step in script {
        match step {
            Some(value) => queue.push(frame(*value)),
            None => popped.push(first(queue.pop())),
        }
    }
    popped
}

#[test]
fn frame_queue_scripts() {
    const POP: Option<i16> = None;
    let p = Some;
    // (name, depth, prefill, script, popped, underruns, overruns)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        &str,
        usize,
        usize,
        Vec<Option<i16>>,
        Vec<Option<i16>>,
        u64,
        u64,
    )> = vec![
        (
            "empty queue pops nothing",
            4,
            1,
            vec![POP, POP],
            vec![None, None],
            0,
            0,
        ),
        (
            "lock-step",
            4,
            1,
            vec![p(1), POP, p(2), POP, p(3), POP],
            vec![Some(1), Some(2), Some(3)],
            0,
            0,
        ),
        (
            "producer late once: one silent tick, then one frame of slack",
            4,
            1,
            vec![p(1), POP, POP, p(2), p(3), POP, p(4), POP],
            vec![Some(1), None, Some(2), Some(3)],
            1,
            0,
        ),
        (
            "burst beyond depth drops the oldest",
            3,
            1,
            vec![p(1), p(2), p(3), p(4), p(5), POP, POP, POP, POP],
            vec![Some(3), Some(4), Some(5), None],
            1,
            2,
        ),
        (
            "prefill 2 waits, and waits again after running dry",
            4,
            2,
            vec![p(1), POP, p(2), POP, POP, POP, p(3), POP, p(4), POP],
            vec![None, Some(1), Some(2), None, None, Some(3)],
            1,
            0,
        ),
    ];
    for (name, depth, prefill, script, want, underruns, overruns) in cases {
        let mut queue = FrameQueue::new(depth, prefill);
        assert_eq!(run(&mut queue, &script), want, "{name}");
        let stats = queue.stats();
        assert_eq!(
            (stats.underruns, stats.overruns),
            (underruns, overruns),
            "{name}"
        );
        let pushed = script.iter().filter(|s| s.is_some()).count() as u64;
        assert_eq!(stats.pushed, pushed, "{name}");
        let held = queue.len() as u64;
        assert_eq!(
            stats.popped + stats.overruns + held,
            pushed,
            "{name}: every frame is popped, dropped or held"
        );
    }
}

#[test]
fn frame_queue_clamps_its_limits() {
    let mut queue = FrameQueue::new(0, 9);
    queue.push(frame(1));
    queue.push(frame(2));
    assert_eq!(queue.len(), 1, "depth 0 holds one frame");
    assert_eq!(first(queue.pop()), Some(2), "prefill is capped at depth");
    assert!(queue.is_empty());
}

#[test]
fn mix_sums_with_saturation() {
    let mut long = vec![1i16; FRAME_SAMPLES + 40];
    long[FRAME_SAMPLES - 1] = 9;
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Vec<Vec<i16>>, [i16; 3], i16)> = vec![
        ("no frames", vec![], [0, 0, 0], 0),
        (
            "plain sum",
            vec![vec![1000, -5, 7], vec![2000, 7, -7]],
            [3000, 2, 0],
            0,
        ),
        (
            "clips high",
            vec![vec![30000], vec![30000]],
            [32767, 0, 0],
            0,
        ),
        (
            "clips low",
            vec![vec![-30000], vec![-30000]],
            [-32768, 0, 0],
            0,
        ),
        (
            "clipped once, whatever the order",
            vec![vec![32767], vec![1], vec![-1]],
            [32767, 0, 0],
            0,
        ),
        ("long frames are cut", vec![long], [1, 1, 1], 9),
    ];
    for (name, frames, head, last) in cases {
        let mixed = mix(frames.iter().map(Vec::as_slice));
        assert_eq!(&mixed[..3], &head, "{name}");
        assert_eq!(mixed[FRAME_SAMPLES - 1], last, "{name}");
        assert!(
            mixed[3..FRAME_SAMPLES - 1]
                .iter()
                .all(|&s| s == 0 || s == 1),
            "{name}"
        );
    }
}

const MODES: [Option<SupervisorMode>; 4] = [
    None,
    Some(SupervisorMode::Listen),
    Some(SupervisorMode::Whisper),
    Some(SupervisorMode::Barge),
];

#[test]
fn conference_routing_matrix() {
    // Rows: listener caller, agent, supervisor; columns: speaker in the same order.
    let want: [[[bool; 3]; 3]; 4] = [
        [
            [false, true, false],
            [true, false, false],
            [false, false, false],
        ],
        [
            [false, true, false],
            [true, false, false],
            [true, true, false],
        ],
        [
            [false, true, false],
            [true, false, true],
            [true, true, false],
        ],
        [
            [false, true, true],
            [true, false, true],
            [true, true, false],
        ],
    ];
    for (mode, want) in MODES.into_iter().zip(want) {
        let conference = Conference {
            supervisor: mode,
            held: false,
        };
        let got = Party::ALL.map(|l| Party::ALL.map(|s| conference.hears(l, s)));
        assert_eq!(got, want, "{mode:?}");
        let routes: Vec<(Party, Party)> = conference.routes().collect();
        let expected = want.iter().flatten().filter(|&&h| h).count();
        assert_eq!(routes.len(), expected, "{mode:?}");
        assert!(
            routes.iter().all(|&(s, l)| conference.hears(l, s)),
            "{mode:?}"
        );
    }
}

#[test]
fn conference_mix_exact_values() {
    // Distinct powers of ten show exactly who is in each mix.
    let (caller, agent, supervisor) = ([100i16, -100], [20i16, -20], [3i16, -3]);
    let sent = [Some(&caller[..]), Some(&agent[..]), Some(&supervisor[..])];
    // (mode, what caller, agent and supervisor hear in sample 0)
    let cases = [
        (MODES[0], [20, 100, 0]),
        (MODES[1], [20, 100, 120]),
        (MODES[2], [20, 103, 120]),
        (MODES[3], [23, 103, 120]),
    ];
    for (mode, want) in cases {
        let heard = Conference {
            supervisor: mode,
            held: false,
        }
        .mix(sent);
        for party in Party::ALL {
            let frame = heard[party.index()];
            let value = want[party.index()];
            assert_eq!((frame[0], frame[1]), (value, -value), "{mode:?} {party:?}");
            assert!(frame[2..].iter().all(|&s| s == 0));
        }
    }
    let silent_supervisor = [Some(&caller[..]), Some(&agent[..]), None];
    let heard = Conference {
        supervisor: Some(SupervisorMode::Barge),
        held: false,
    }
    .mix(silent_supervisor);
    assert_eq!([heard[0][0], heard[1][0], heard[2][0]], [20, 100, 120]);
}

/// A handle whose commands land in the returned receiver.
fn fake_leg() -> (MediaHandle, mpsc::Receiver<MediaCommand>) {
    let (tx, rx) = mpsc::channel(32);
    (MediaHandle::from_channel(tx, true), rx)
}

/// Commands sent so far, as short strings; taps and inputs are counted, not identified.
fn drain(leg: &mut (MediaHandle, mpsc::Receiver<MediaCommand>)) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(command) = leg.1.try_recv() {
        seen.push(match command {
            MediaCommand::AddTap(_) => "tap".to_string(),
            MediaCommand::ConnectInput { .. } => "connect".to_string(),
            MediaCommand::DisconnectInput(_) => "disconnect".to_string(),
            other => format!("{other:?}"),
        });
    }
    seen.sort();
    seen
}

#[test]
fn wiring_follows_the_conference() -> Result<(), MediaError> {
    let mut caller = fake_leg();
    let mut agent = fake_leg();
    let mut supervisor = fake_leg();
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let mut handle = bridge(&caller.0, &agent.0)?;
    assert_eq!(drain(&mut caller), strs(&["connect", "tap"]));
    assert_eq!(drain(&mut agent), strs(&["connect", "tap"]));

    // (step, caller, agent, supervisor commands)
    #[allow(clippy::type_complexity)]
    let steps: [(SupervisorMode, &[&str], &[&str], &[&str]); 3] = [
        (
            SupervisorMode::Listen,
            &["tap"],
            &["tap"],
            &["connect", "connect"],
        ),
        (
            SupervisorMode::Barge,
            &["connect"],
            &["connect"],
            &["tap", "tap"],
        ),
        (SupervisorMode::Whisper, &["disconnect"], &[], &[]),
    ];
    for (mode, want_caller, want_agent, want_supervisor) in steps {
        handle.supervise(mode, &supervisor.0)?;
        assert_eq!(handle.conference().supervisor, Some(mode));
        assert_eq!(drain(&mut caller), strs(want_caller), "{mode:?} caller");
        assert_eq!(drain(&mut agent), strs(want_agent), "{mode:?} agent");
        assert_eq!(
            drain(&mut supervisor),
            strs(want_supervisor),
            "{mode:?} sup"
        );
    }

    handle.end_supervision()?;
    assert_eq!(drain(&mut caller), Vec::<String>::new());
    assert_eq!(drain(&mut agent), strs(&["disconnect"]));
    assert_eq!(drain(&mut supervisor), strs(&["disconnect", "disconnect"]));

    handle.unbridge()?;
    assert_eq!(drain(&mut caller), strs(&["disconnect"]));
    assert_eq!(drain(&mut agent), strs(&["disconnect"]));
    Ok(())
}

#[test]
fn a_new_supervisor_replaces_the_old_and_drop_unbridges() -> Result<(), MediaError> {
    let mut caller = fake_leg();
    let mut agent = fake_leg();
    let mut first_sup = fake_leg();
    let mut second_sup = fake_leg();
    {
        let mut handle = bridge(&caller.0, &agent.0)?;
        handle.supervise(SupervisorMode::Listen, &first_sup.0)?;
        handle.supervise(SupervisorMode::Listen, &second_sup.0)?;
        assert_eq!(
            drain(&mut first_sup).len(),
            2 + 2,
            "two inputs, then both gone"
        );
        assert_eq!(drain(&mut second_sup), ["connect", "connect"]);
        drain(&mut caller);
        drain(&mut agent);
    }
    assert_eq!(drain(&mut caller), ["disconnect"]);
    assert_eq!(drain(&mut agent), ["disconnect"]);
    assert_eq!(drain(&mut second_sup), ["disconnect", "disconnect"]);
    Ok(())
}

#[test]
fn a_failed_bridge_undoes_the_routes_it_wired() {
    // Room for one command: the caller takes its tap, then refuses its input.
    let (tx, _caller_rx) = mpsc::channel(1);
    let caller = MediaHandle::from_channel(tx, true);
    let mut agent = fake_leg();
    assert_eq!(bridge(&caller, &agent.0).err(), Some(MediaError::Busy));
    assert_eq!(drain(&mut agent), ["connect", "disconnect", "tap"]);

    let (closed, closed_rx) = mpsc::channel(1);
    drop(closed_rx);
    let closed = MediaHandle::from_channel(closed, true);
    assert_eq!(bridge(&closed, &agent.0).err(), Some(MediaError::Closed));
}

proptest! {
    #[test]
    fn frame_queue_stays_bounded(
        depth in 1usize..6,
        prefill in 0usize..6,
        ops in proptest::collection::vec(any::<bool>(), 0..200),
    ) {
        let mut queue = FrameQueue::new(depth, prefill);
        let mut next = 0i16;
        let mut last_popped = -1i16;
        for push in ops {
            if push {
                queue.push(frame(next));
                next = next.wrapping_add(1);
            } else if let Some(value) = first(queue.pop()) {
                prop_assert!(value > last_popped, "frames leave in order");
                last_popped = value;
            }
            prop_assert!(queue.len() <= depth);
        }
        let stats = queue.stats();
        prop_assert_eq!(stats.popped + stats.overruns + queue.len() as u64, stats.pushed);
    }
}

#[test]
fn on_hold_the_caller_hears_nobody_and_nobody_hears_the_caller() {
    use Party::{Agent, Caller, Supervisor};
    // (supervisor, the (listener, speaker) pairs that still carry audio on hold)
    type Routes = &'static [(Party, Party)];
    let cases: [(Option<SupervisorMode>, Routes); 4] = [
        (None, &[]),
        (Some(SupervisorMode::Listen), &[(Supervisor, Agent)]),
        (
            Some(SupervisorMode::Whisper),
            &[(Supervisor, Agent), (Agent, Supervisor)],
        ),
        (
            Some(SupervisorMode::Barge),
            &[(Supervisor, Agent), (Agent, Supervisor)],
        ),
    ];
    for (supervisor, want) in cases {
        let held = Conference {
            supervisor,
            held: true,
        };
        for listener in Party::ALL {
            for speaker in Party::ALL {
                let expected = want.contains(&(listener, speaker));
                assert_eq!(
                    held.hears(listener, speaker),
                    expected,
                    "{supervisor:?}: {listener:?} hears {speaker:?}"
                );
            }
        }
        assert!(!held.routes().any(|(s, l)| s == Caller || l == Caller));
        let sent = [Some(&[7i16][..]), Some(&[5i16][..]), Some(&[3i16][..])];
        assert_eq!(held.mix(sent)[Caller.index()][0], 0, "{supervisor:?}");
    }
}

#[test]
fn hold_unwires_the_caller_and_resume_wires_it_again() -> Result<(), MediaError> {
    let mut caller = fake_leg();
    let mut agent = fake_leg();
    let mut supervisor = fake_leg();
    let mut handle = bridge(&caller.0, &agent.0)?;
    handle.supervise(SupervisorMode::Whisper, &supervisor.0)?;
    drain(&mut caller);
    drain(&mut agent);
    drain(&mut supervisor);

    handle.set_held(true)?;
    assert!(handle.conference().held);
    // The caller's input (agent audio) and the agent's input from the caller go; the
    // supervisor's input of the caller goes; the supervisor keeps hearing the agent.
    assert_eq!(drain(&mut caller), ["disconnect"]);
    assert_eq!(drain(&mut agent), ["disconnect"]);
    assert_eq!(drain(&mut supervisor), ["disconnect"]);

    // Changing the supervisor's mode keeps the hold.
    handle.supervise(SupervisorMode::Barge, &supervisor.0)?;
    assert!(handle.conference().held);
    assert_eq!(drain(&mut caller), Vec::<String>::new());

    handle.set_held(false)?;
    assert!(!handle.conference().held);
    // Barge now: the caller hears agent and supervisor, both hear the caller.
    assert_eq!(drain(&mut caller), ["connect", "connect", "tap", "tap"]);
    assert_eq!(drain(&mut agent), ["connect", "tap"]);
    assert_eq!(drain(&mut supervisor), ["connect", "tap"]);
    Ok(())
}
