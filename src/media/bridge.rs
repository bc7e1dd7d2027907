//! Bridging call legs: audio from one [`MediaSession`](super::MediaSession) into others, for
//! the B2BUA (caller ⇄ agent) and for a supervisor who listens, whispers or barges in.
//!
//! The core is sans-IO and tick-driven: [`FrameQueue`] absorbs the phase difference between
//! two sessions' independent 20 ms pacers, [`mix`] sums frames, and [`Conference`] says who
//! hears whom. The wiring ([`bridge`], [`BridgeHandle`]) only creates bounded channels and
//! sends commands; it runs no task and touches no socket or clock.
//!
//! How audio flows: each session offers every received 20 ms frame to its taps
//! (`MediaCommand::AddTap`); a tap is the sending end of a bounded channel whose receiving end
//! is a live input of another session (`MediaCommand::ConnectInput`). On each tick a session
//! drains every input into its own [`FrameQueue`], pops one frame per input and sends their
//! [`mix`]. So "A hears B" is exactly one channel from B's tap to A's input, mixing happens at
//! the listener, and nobody hears themselves because taps carry received audio, not mixes.
//!
//! While a session has a live input its prompts pause (they neither advance nor start). Hold
//! music is therefore the call layer's job: [`BridgeHandle::unbridge`], then `play` the music on
//! the held leg; to resume, `stop_playback` and [`bridge`] again. DTMF is not bridged here
//! either: the call layer reads `MediaEvent::Dtmf` from one leg and calls
//! [`MediaHandle::send_dtmf`] on the other (it may also filter digits, e.g. for PCI).

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;

use super::session::{InputId, MediaError, MediaHandle};
use super::FRAME_SAMPLES;

/// One 20 ms frame of 8 kHz linear audio, shared between taps without copying.
pub type Frame = Arc<[i16]>;

/// Frames in flight on one tap-to-input channel: covers a listener stalled for 160 ms.
pub const LINK_CHANNEL_FRAMES: usize = 8;
/// Most frames a live input holds: at most 80 ms of added latency.
pub const LINK_DEPTH: usize = 4;
/// Frames a live input waits for before it starts (and restarts after running dry).
pub const LINK_PREFILL: usize = 1;

/// Counters of one [`FrameQueue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FrameQueueStats {
    /// Frames pushed.
    pub pushed: u64,
    /// Frames popped for playout.
    pub popped: u64,
    /// Times playout found the queue empty and went back to filling.
    pub underruns: u64,
    /// Oldest frames dropped because the queue was full.
    pub overruns: u64,
}

impl std::ops::AddAssign for FrameQueueStats {
    fn add_assign(&mut self, other: FrameQueueStats) {
        self.pushed += other.pushed;
        self.popped += other.popped;
        self.underruns += other.underruns;
        self.overruns += other.overruns;
    }
}

/// A bounded FIFO of frames between one session's receive side and another's send side.
///
/// `push` once per producer tick, `pop` once per consumer tick. Beyond `depth` frames the
/// oldest is dropped, so latency stays bounded when the producer runs ahead (a burst after
/// a stall). Playout starts once `prefill` frames are queued and restarts the same way after
/// the queue runs dry; a dry queue pops `None`, which the consumer sends as silence.
#[derive(Debug, Clone)]
pub struct FrameQueue {
    frames: VecDeque<Frame>,
    depth: usize,
    prefill: usize,
    playing: bool,
    stats: FrameQueueStats,
}

impl FrameQueue {
    /// A queue holding at most `depth` frames (at least 1) that starts playout after
    /// `prefill` frames (clamped to `1..=depth`).
    pub fn new(depth: usize, prefill: usize) -> FrameQueue {
        let depth = depth.max(1);
        FrameQueue {
            frames: VecDeque::with_capacity(depth),
            depth,
            prefill: prefill.clamp(1, depth),
            playing: false,
            stats: FrameQueueStats::default(),
        }
    }

    /// Appends a frame, dropping the oldest if the queue is full.
    pub fn push(&mut self, frame: Frame) {
        self.stats.pushed += 1;
        if self.frames.len() >= self.depth {
            self.frames.pop_front();
            self.stats.overruns += 1;
        }
        self.frames.push_back(frame);
    }

    /// The frame for this tick; `None` while filling or when the producer fell behind.
    pub fn pop(&mut self) -> Option<Frame> {
        if !self.playing {
            if self.frames.len() < self.prefill {
                return None;
            }
            self.playing = true;
        }
        match self.frames.pop_front() {
            Some(frame) => {
                self.stats.popped += 1;
                Some(frame)
            }
            None => {
                self.playing = false;
                self.stats.underruns += 1;
                None
            }
        }
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Counters so far.
    pub fn stats(&self) -> FrameQueueStats {
        self.stats
    }
}

/// Sums frames sample by sample, saturating at the `i16` range. Each frame contributes its
/// first [`FRAME_SAMPLES`] samples; shorter frames are padded with silence. No frames give
/// silence. The sum is taken in `i32` and clipped once, so the result does not depend on
/// the order of the frames.
pub fn mix<'a>(frames: impl IntoIterator<Item = &'a [i16]>) -> [i16; FRAME_SAMPLES] {
    let mut sum = [0i32; FRAME_SAMPLES];
    for frame in frames {
        for (acc, &sample) in sum.iter_mut().zip(frame) {
            *acc += i32::from(sample);
        }
    }
    sum.map(|s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
}

/// A participant of a bridged call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The customer's leg.
    Caller,
    /// The agent's leg.
    Agent,
    /// A supervisor's leg, when one is attached.
    Supervisor,
}

impl Party {
    /// Every party, in the order of [`Conference::mix`]'s arrays.
    pub const ALL: [Party; 3] = [Party::Caller, Party::Agent, Party::Supervisor];

    /// This party's index in [`Conference::mix`]'s arrays.
    pub fn index(self) -> usize {
        match self {
            Party::Caller => 0,
            Party::Agent => 1,
            Party::Supervisor => 2,
        }
    }
}

/// What an attached supervisor does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorMode {
    /// Hears caller and agent; nobody hears the supervisor.
    Listen,
    /// Hears caller and agent; only the agent hears the supervisor (coaching).
    Whisper,
    /// Everyone hears the other two.
    Barge,
}

impl SupervisorMode {
    /// Every mode, in the order of increasing presence.
    pub const ALL: [SupervisorMode; 3] = [
        SupervisorMode::Listen,
        SupervisorMode::Whisper,
        SupervisorMode::Barge,
    ];

    /// The API's and headers' word for it.
    pub fn name(self) -> &'static str {
        match self {
            SupervisorMode::Listen => "listen",
            SupervisorMode::Whisper => "whisper",
            SupervisorMode::Barge => "barge",
        }
    }

    /// The mode named `name`.
    pub fn from_name(name: &str) -> Option<SupervisorMode> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Who hears whom on a bridged call. Caller and agent hear each other unless the call is on
/// hold; a supervisor adds routes according to its mode. Nobody hears themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Conference {
    /// The attached supervisor's mode; `None` = a plain two-party bridge.
    pub supervisor: Option<SupervisorMode>,
    /// The caller is on hold (either side held): the caller hears nobody and nobody hears
    /// the caller, so the caller's leg has no live input and its hold music plays. Agent and
    /// supervisor keep their routes (an agent may consult a whispering supervisor meanwhile).
    pub held: bool,
}

impl Conference {
    /// Whether `listener` hears what `speaker` says.
    pub fn hears(self, listener: Party, speaker: Party) -> bool {
        use Party::{Agent, Caller, Supervisor};
        if listener == speaker {
            return false;
        }
        if self.held && (listener == Caller || speaker == Caller) {
            return false;
        }
        match (self.supervisor, listener, speaker) {
            (_, Caller, Agent) | (_, Agent, Caller) => true,
            (None, _, _) => false,
            (Some(_), Supervisor, _) => true,
            (Some(SupervisorMode::Whisper), Agent, Supervisor) => true,
            (Some(SupervisorMode::Barge), _, Supervisor) => true,
            (Some(_), _, _) => false,
        }
    }

    /// Every `(speaker, listener)` pair that carries audio, i.e. the channels to wire.
    pub fn routes(self) -> impl Iterator<Item = (Party, Party)> {
        Party::ALL.into_iter().flat_map(move |speaker| {
            Party::ALL
                .into_iter()
                .filter(move |&listener| self.hears(listener, speaker))
                .map(move |listener| (speaker, listener))
        })
    }

    /// One tick of the conference: from what each party sent (`None` = nothing, e.g. not
    /// attached), what each should receive, indexed by [`Party::index`].
    pub fn mix(self, sent: [Option<&[i16]>; 3]) -> [[i16; FRAME_SAMPLES]; 3] {
        Party::ALL.map(|listener| {
            mix(Party::ALL.into_iter().filter_map(|speaker| {
                let frame = sent.get(speaker.index()).copied().flatten()?;
                self.hears(listener, speaker).then_some(frame)
            }))
        })
    }
}

/// One wired route: `listener`'s session has live input `input` fed by `speaker`'s tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    speaker: Party,
    listener: Party,
    input: InputId,
}

/// A live bridge between a caller leg and an agent leg, optionally with a supervisor.
/// Dropping it tears the bridge down like [`BridgeHandle::unbridge`] (errors ignored).
#[derive(Debug)]
#[must_use = "dropping the handle unbridges the legs"]
pub struct BridgeHandle {
    caller: MediaHandle,
    agent: MediaHandle,
    supervisor: Option<MediaHandle>,
    conference: Conference,
    routes: Vec<Route>,
}

/// Bridges two legs both ways: each hears what the other's remote sends. Codecs may differ
/// (each session decodes to and encodes from linear PCM). On error, routes already wired
/// are torn down again (best effort).
pub fn bridge(caller: &MediaHandle, agent: &MediaHandle) -> Result<BridgeHandle, MediaError> {
    let mut handle = BridgeHandle {
        caller: caller.clone(),
        agent: agent.clone(),
        supervisor: None,
        conference: Conference::default(),
        routes: Vec::new(),
    };
    if let Err(err) = handle.rewire(Conference::default()) {
        let _ = handle.disconnect_all();
        return Err(err);
    }
    Ok(handle)
}

impl BridgeHandle {
    /// Who hears whom right now.
    pub fn conference(&self) -> Conference {
        self.conference
    }

    /// Attaches `supervisor` in `mode`, or switches the attached supervisor to `mode`
    /// (a different `supervisor` session replaces the previous one). On error the routes
    /// wired so far stay; call again to retry, or [`Self::end_supervision`].
    pub fn supervise(
        &mut self,
        mode: SupervisorMode,
        supervisor: &MediaHandle,
    ) -> Result<(), MediaError> {
        let same = self
            .supervisor
            .as_ref()
            .is_some_and(|current| current.same_session(supervisor));
        if !same {
            self.rewire(Conference {
                supervisor: None,
                ..self.conference
            })?;
            self.supervisor = Some(supervisor.clone());
        }
        self.rewire(Conference {
            supervisor: Some(mode),
            ..self.conference
        })
    }

    /// Detaches the supervisor; caller and agent stay bridged (or held).
    pub fn end_supervision(&mut self) -> Result<(), MediaError> {
        self.rewire(Conference {
            supervisor: None,
            ..self.conference
        })?;
        self.supervisor = None;
        Ok(())
    }

    /// Puts the caller on hold (`true`: the caller's routes are disconnected, so prompts such
    /// as hold music play on the caller's leg) or takes them off it. A supervisor stays.
    pub fn set_held(&mut self, held: bool) -> Result<(), MediaError> {
        self.rewire(Conference {
            held,
            ..self.conference
        })
    }

    /// Disconnects every route; prompts on the legs resume.
    pub fn unbridge(mut self) -> Result<(), MediaError> {
        self.disconnect_all()
    }

    fn disconnect_all(&mut self) -> Result<(), MediaError> {
        let mut result = Ok(());
        for route in std::mem::take(&mut self.routes) {
            if let Some(listener) = self.party(route.listener) {
                if let Err(err) = listener.disconnect_input(route.input) {
                    result = Err(err);
                }
            }
        }
        result
    }

    /// Wires exactly the routes of `target`: disconnects the ones it lacks and adds the new
    /// ones. A route whose speaker's tap is gone (channel closed) is removed by the session.
    fn rewire(&mut self, target: Conference) -> Result<(), MediaError> {
        let mut result = Ok(());
        let mut kept = Vec::with_capacity(self.routes.len());
        for route in std::mem::take(&mut self.routes) {
            if target.hears(route.listener, route.speaker) {
                kept.push(route);
                continue;
            }
            if let Some(listener) = self.party(route.listener) {
                if let Err(err) = listener.disconnect_input(route.input) {
                    result = Err(err);
                }
            }
        }
        self.routes = kept;
        for (speaker, listener) in target.routes() {
            let wired = self
                .routes
                .iter()
                .any(|r| r.speaker == speaker && r.listener == listener);
            if wired {
                continue;
            }
            let (Some(from), Some(to)) = (self.party(speaker), self.party(listener)) else {
                continue;
            };
            let (tap, frames) = mpsc::channel(LINK_CHANNEL_FRAMES);
            let input = InputId::fresh();
            // If the input is refused, `frames` is dropped and the tap closes itself.
            let wired = from
                .add_tap(tap)
                .and_then(|()| to.connect_input(input, frames));
            match wired {
                Ok(()) => self.routes.push(Route {
                    speaker,
                    listener,
                    input,
                }),
                Err(err) => result = Err(err),
            }
        }
        self.conference = target;
        result
    }

    fn party(&self, party: Party) -> Option<&MediaHandle> {
        match party {
            Party::Caller => Some(&self.caller),
            Party::Agent => Some(&self.agent),
            Party::Supervisor => self.supervisor.as_ref(),
        }
    }
}

impl Drop for BridgeHandle {
    fn drop(&mut self) {
        let _ = self.disconnect_all();
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
