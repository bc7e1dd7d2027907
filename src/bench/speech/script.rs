//! One caller's side of the conversation as a sans-IO state machine: which 20 ms frame to send
//! next, and what the packets from voxdesk mean for timing. The shell (`caller`) sends one
//! frame per tick with [`Script::next_frame`] and feeds every packet to
//! [`Script::handle_packet`]; both take `now`.
//!
//! The conversation: wait for the greeting, and for voxdesk to be quiet for [`Timing::quiet`]
//! after it; say one clip in real time, then silence; the reply starts at the first packet
//! after the clip's last frame that has the RTP marker bit (a prompt's first packet) or, if
//! the marker packet was lost, carries voice. Voice-to-voice latency = reply start − send time
//! of the clip's last (voiced) frame. After the reply has gone quiet, the next clip.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::corpus::{Clip, Frame};
use crate::media::FRAME_SAMPLES;

const SILENCE: Frame = [0xFF; FRAME_SAMPLES];

/// Waits of the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Silence from voxdesk after voice that ends its turn.
    pub quiet: Duration,
    /// Longest wait for the greeting to start.
    pub greeting: Duration,
    /// Longest wait for a reply, and for a reply to end.
    pub reply: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            // voxdesk's TTS prompts end in ~340 ms of near-silence, and a `say` before an `ask`
            // only starts listening when that tail has played: a caller answering sooner
            // loses their first word. 600 ms is still a prompt answer for a person.
            quiet: Duration::from_millis(600),
            greeting: Duration::from_secs(15),
            reply: Duration::from_secs(20),
        }
    }
}

/// How the reply start was recognized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySignal {
    /// RTP marker bit.
    Marker,
    /// First voiced payload (the marker packet never came).
    Voice,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptEvent {
    /// The first frame of clip `index` (into the call's clips) was sent at `at`.
    UtteranceStarted {
        /// Position in the call's clips.
        index: usize,
        /// Send time.
        at: Instant,
    },
    /// Voxdesk answered clip `index` after `latency`, or never (`None`).
    Replied {
        /// Position in the call's clips.
        index: usize,
        /// Reply start − last voiced frame sent.
        latency: Option<Duration>,
        /// Which signal marked the reply start.
        signal: Option<ReplySignal>,
    },
    /// Every clip was said and answered (or timed out); hang up.
    Finished,
    /// The greeting never came or never ended; hang up.
    NoGreeting,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Voxdesk is (or is about to be) talking: greeting, or a reply.
    Listening {
        last_voice: Option<Instant>,
        deadline: Instant,
        greeting: bool,
    },
    Speaking {
        index: usize,
        frame: usize,
    },
    AwaitingReply {
        index: usize,
        voice_end: Instant,
        deadline: Instant,
    },
    Done,
}

/// The caller's conversation.
#[derive(Debug)]
pub struct Script {
    clips: Vec<Clip>,
    timing: Timing,
    phase: Phase,
    next_clip: usize,
    events: VecDeque<ScriptEvent>,
}

impl Script {
    /// A conversation that says `clips` in order, starting when the call is answered at `now`.
    pub fn new(clips: Vec<Clip>, timing: Timing, now: Instant) -> Script {
        Script {
            clips,
            timing,
            phase: Phase::Listening {
                last_voice: None,
                deadline: now + timing.greeting,
                greeting: true,
            },
            next_clip: 0,
            events: VecDeque::new(),
        }
    }

    /// One packet from voxdesk (already checked to be PCMU audio of this call).
    pub fn handle_packet(&mut self, marker: bool, payload: &[u8], now: Instant) {
        let voiced = super::corpus::is_voiced(payload);
        match &mut self.phase {
            Phase::Listening { last_voice, .. } => {
                if voiced {
                    *last_voice = Some(now);
                }
            }
            Phase::AwaitingReply {
                index, voice_end, ..
            } if marker || voiced => {
                let signal = if marker {
                    ReplySignal::Marker
                } else {
                    ReplySignal::Voice
                };
                self.events.push_back(ScriptEvent::Replied {
                    index: *index,
                    latency: Some(now.saturating_duration_since(*voice_end)),
                    signal: Some(signal),
                });
                self.phase = Phase::Listening {
                    last_voice: voiced.then_some(now),
                    deadline: now + self.timing.reply,
                    greeting: false,
                };
            }
            Phase::AwaitingReply { .. } | Phase::Speaking { .. } | Phase::Done => {}
        }
    }

    /// The payload to send at `now` (one per 20 ms tick); advances the conversation.
    pub fn next_frame(&mut self, now: Instant) -> Frame {
        self.advance(now);
        let Phase::Speaking { index, frame } = &mut self.phase else {
            return SILENCE;
        };
        let (index, position) = (*index, *frame);
        let frames = self.clips.get(index).map(|c| c.frames.clone());
        let frames = frames.unwrap_or_else(|| Vec::new().into());
        if position == 0 {
            self.events
                .push_back(ScriptEvent::UtteranceStarted { index, at: now });
        }
        let out = frames.get(position).copied().unwrap_or(SILENCE);
        if position + 1 >= frames.len() {
            self.phase = Phase::AwaitingReply {
                index,
                voice_end: now,
                deadline: now + self.timing.reply,
            };
        } else {
            self.phase = Phase::Speaking {
                index,
                frame: position + 1,
            };
        }
        out
    }

    fn advance(&mut self, now: Instant) {
        match self.phase {
            Phase::Listening {
                last_voice,
                deadline,
                greeting,
            } => {
                let quiet = last_voice.is_some_and(|t| now >= t + self.timing.quiet);
                if quiet {
                    self.start_next_clip();
                } else if now >= deadline {
                    if greeting {
                        self.events.push_back(ScriptEvent::NoGreeting);
                        self.phase = Phase::Done;
                    } else {
                        // A reply that never ends: go on regardless.
                        self.start_next_clip();
                    }
                }
            }
            Phase::AwaitingReply {
                index, deadline, ..
            } if now >= deadline => {
                self.events.push_back(ScriptEvent::Replied {
                    index,
                    latency: None,
                    signal: None,
                });
                self.start_next_clip();
            }
            Phase::AwaitingReply { .. } | Phase::Speaking { .. } | Phase::Done => {}
        }
    }

    fn start_next_clip(&mut self) {
        if self.next_clip < self.clips.len() {
            self.phase = Phase::Speaking {
                index: self.next_clip,
                frame: 0,
            };
            self.next_clip += 1;
        } else {
            self.events.push_back(ScriptEvent::Finished);
            self.phase = Phase::Done;
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ScriptEvent> {
        self.events.pop_front()
    }

    /// Whether the call should hang up now.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(20);
    const VOICE: Frame = [0x10; FRAME_SAMPLES];
    const TEST_TIMING: Timing = Timing {
        quiet: Duration::from_millis(300),
        greeting: Duration::from_secs(15),
        reply: Duration::from_secs(20),
    };

    fn clip(frames: usize) -> Clip {
        Clip {
            sentence: 0,
            frames: vec![VOICE; frames].into(),
        }
    }

    /// Steps a script tick by tick; `bot(t)` says what voxdesk sends at tick `t`.
    struct Run {
        script: Script,
        now: Instant,
        tick: usize,
        sent: Vec<Frame>,
        events: Vec<ScriptEvent>,
    }

    impl Run {
        fn new(clips: Vec<Clip>) -> Run {
            let now = Instant::now();
            Run {
                script: Script::new(clips, TEST_TIMING, now),
                now,
                tick: 0,
                sent: Vec::new(),
                events: Vec::new(),
            }
        }

        /// `bot` = Some((marker, voiced)) for a packet from voxdesk this tick; it arrives
        /// `offset` after our frame is sent.
        fn step(&mut self, bot: Option<(bool, bool)>, offset: Duration) {
            self.sent.push(self.script.next_frame(self.now));
            if let Some((marker, voiced)) = bot {
                let payload = if voiced { VOICE } else { SILENCE };
                self.script
                    .handle_packet(marker, &payload, self.now + offset);
            }
            while let Some(e) = self.script.poll_event() {
                self.events.push(e);
            }
            self.now += TICK;
            self.tick += 1;
        }

        fn steps(&mut self, n: usize, bot: Option<(bool, bool)>) {
            for _ in 0..n {
                self.step(bot, Duration::ZERO);
            }
        }
    }

    #[test]
    fn waits_for_greeting_then_quiet_before_speaking() {
        let mut run = Run::new(vec![clip(3)]);
        run.steps(5, Some((false, false))); // silence before the greeting
        run.step(Some((true, true)), Duration::ZERO);
        run.steps(10, Some((false, true))); // greeting
        run.steps(14, Some((false, false))); // quiet for 280 ms: not yet
        assert!(run.sent.iter().all(|f| *f == SILENCE));
        run.step(Some((false, false)), Duration::ZERO);
        assert_eq!(run.sent.last(), Some(&VOICE));
        assert!(matches!(
            run.events.first(),
            Some(ScriptEvent::UtteranceStarted { index: 0, .. })
        ));
    }

    #[test]
    fn latency_runs_from_last_clip_frame_to_marker() {
        let mut run = Run::new(vec![clip(3), clip(2)]);
        run.steps(1, Some((true, true)));
        run.steps(14, Some((false, false)));
        run.steps(3, Some((false, false))); // the clip: ticks 15..=17
        let last_voiced_at = run.now - TICK;
        assert_eq!(&run.sent[15..18], &[VOICE; 3]);
        run.steps(40, Some((false, false))); // 800 ms of endpointing and ASR
        run.step(Some((true, false)), Duration::from_millis(7)); // prompt lead-in, marker
        let expected = run.now - TICK + Duration::from_millis(7) - last_voiced_at;
        assert_eq!(
            run.events.get(1),
            Some(&ScriptEvent::Replied {
                index: 0,
                latency: Some(expected),
                signal: Some(ReplySignal::Marker)
            })
        );
        assert_eq!(expected, Duration::from_millis(827));
        // The reply talks, goes quiet, then the second clip and its reply, then hang up.
        run.steps(20, Some((false, true)));
        run.steps(17, Some((false, false)));
        run.steps(2, Some((false, false)));
        run.steps(5, Some((false, true)));
        run.steps(17, Some((false, false)));
        let kinds: Vec<_> = run.events.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), 5, "{:?}", run.events);
        assert_eq!(run.events.last(), Some(&ScriptEvent::Finished));
        assert!(run.script.is_done());
    }

    #[test]
    fn voice_without_marker_counts_as_reply() {
        let mut run = Run::new(vec![clip(1)]);
        run.steps(1, Some((false, true)));
        run.steps(15, None); // the clip is tick 15
        run.steps(4, Some((false, false)));
        run.step(Some((false, true)), Duration::ZERO);
        assert!(matches!(
            run.events.get(1),
            Some(ScriptEvent::Replied {
                latency: Some(l),
                signal: Some(ReplySignal::Voice),
                ..
            }) if *l == Duration::from_millis(100)
        ));
    }

    #[test]
    fn no_reply_times_out_and_goes_on() {
        let mut run = Run::new(vec![clip(1), clip(1)]);
        run.steps(1, Some((false, true)));
        run.steps(17, None);
        run.steps(1001, None);
        assert!(run.events.contains(&ScriptEvent::Replied {
            index: 0,
            latency: None,
            signal: None
        }));
        assert!(matches!(
            run.events.last(),
            Some(ScriptEvent::UtteranceStarted { index: 1, .. })
        ));
    }

    #[test]
    fn no_greeting_gives_up() {
        let mut run = Run::new(vec![clip(1)]);
        run.steps(751, Some((false, false)));
        assert_eq!(run.events, vec![ScriptEvent::NoGreeting]);
        assert!(run.script.is_done());
        assert!(run.sent.iter().all(|f| *f == SILENCE));
    }
}
