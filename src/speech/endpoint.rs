//! Endpointing: turns a call's 8 kHz audio into utterances, sans-IO.
//!
//! [`Endpointer`] scores each 20 ms frame with a [`FrameClassifier`] and runs a small state
//! machine: `Idle` (not listening) → `Waiting` (listening, counting consecutive speech) →
//! `Speaking` (collecting the utterance) → back to `Waiting`. Speech must last
//! [`EndpointConfig::start_ms`] before it counts, so clicks do not; the utterance starts
//! [`EndpointConfig::pre_roll_ms`] before the first speech frame so the first phoneme is kept,
//! ends after [`EndpointConfig::end_silence_ms`] of non-speech (trimmed to
//! [`EndpointConfig::post_roll_ms`] of it), and is cut at [`EndpointConfig::max_utterance_ms`].
//! Speech timing is counted in samples, so it is exact and independent of the clock; the only
//! clock-driven rule is the no-input deadline, which needs `now` because audio may stop
//! arriving altogether. After an utterance ends the endpointer keeps listening (no deadline)
//! until [`Endpointer::stop`] or the next [`Endpointer::listen`].
//!
//! A shorter pause of [`EndpointConfig::speculate_ms`] reports [`EndpointEvent::Paused`] with
//! the utterance as it would end there, so recognition can start before the end is certain: if
//! no speech follows, [`EndpointEvent::SpeechEnded`] carries exactly the same samples and the
//! early transcript stands.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::vad::{EarshotVad, FrameClassifier};
use crate::media::{FRAME_SAMPLES, SAMPLE_RATE};

/// Events queued before [`Endpointer::push_frame`] ignores audio; callers drain after each push.
pub const MAX_QUEUED_EVENTS: usize = 8;

/// Endpointing tunables (the `[speech.endpoint]` table of the config, once wired).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointConfig {
    /// Consecutive speech needed before an utterance starts.
    pub start_ms: u32,
    /// Non-speech that ends an utterance.
    pub end_silence_ms: u32,
    /// Audio kept from before the first speech frame.
    pub pre_roll_ms: u32,
    /// Trailing non-speech kept at the end of an utterance.
    pub post_roll_ms: u32,
    /// Longest utterance; longer speech is cut here and reported as [`EndpointEvent::MaxLength`].
    pub max_utterance_ms: u32,
    /// Time after [`Endpointer::listen`] without speech that reports [`EndpointEvent::NoInput`].
    pub no_input_ms: u32,
    /// Classifier probability from which a frame counts as speech.
    pub threshold: f32,
    /// Non-speech after which [`EndpointEvent::Paused`] is reported (0 = never); below
    /// `end_silence_ms` to be useful.
    pub speculate_ms: u32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            start_ms: 80,
            end_silence_ms: 400,
            pre_roll_ms: 200,
            post_roll_ms: 100,
            max_utterance_ms: 15_000,
            no_input_ms: 5_000,
            threshold: 0.5,
            speculate_ms: 200,
        }
    }
}

/// What the endpointer noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointEvent {
    /// Speech has lasted `start_ms`; [`Endpointer::partial`] now returns the audio so far.
    SpeechStarted,
    /// `speculate_ms` of non-speech inside an utterance: what `SpeechEnded` will carry if the
    /// pause turns out to be the end.
    Paused {
        /// Pre-roll, speech and up to `post_roll_ms` of the pause.
        utterance: Vec<i16>,
    },
    /// The utterance ended with `end_silence_ms` of non-speech.
    SpeechEnded {
        /// Pre-roll, speech and up to `post_roll_ms` of trailing non-speech.
        utterance: Vec<i16>,
    },
    /// The utterance reached `max_utterance_ms` and was ended there.
    MaxLength {
        /// Exactly `max_utterance_ms` of audio.
        utterance: Vec<i16>,
    },
    /// `no_input_ms` passed after [`Endpointer::listen`] without speech starting.
    NoInput,
}

#[derive(Debug)]
enum State {
    Idle,
    Waiting {
        speech_run: usize,
    },
    Speaking {
        utterance: Vec<i16>,
        silence_run: usize,
    },
}

/// Limits of [`EndpointConfig`] in samples.
#[derive(Clone, Copy, Debug)]
struct SampleLimits {
    start: usize,
    end_silence: usize,
    pre_roll: usize,
    post_roll: usize,
    max_utterance: usize,
    /// 0 = never.
    speculate: usize,
}

/// Milliseconds of 8 kHz call audio in samples, saturating.
pub(crate) fn ms_to_samples(ms: u64) -> usize {
    usize::try_from(ms.saturating_mul(u64::from(SAMPLE_RATE)) / 1000).unwrap_or(usize::MAX)
}

/// Per-call endpointer; see the module docs.
#[derive(Debug)]
pub struct Endpointer<C: FrameClassifier = EarshotVad> {
    classifier: C,
    threshold: f32,
    no_input: Duration,
    limits: SampleLimits,
    state: State,
    no_input_at: Option<Instant>,
    /// The last `pre_roll + start + FRAME_SAMPLES` samples, for the pre-roll.
    recent: VecDeque<i16>,
    events: VecDeque<EndpointEvent>,
}

impl Endpointer<EarshotVad> {
    /// An idle endpointer using the earshot VAD.
    pub fn new(config: &EndpointConfig) -> Self {
        Self::with_classifier(config, EarshotVad::new())
    }
}

impl<C: FrameClassifier> Endpointer<C> {
    /// An idle endpointer using `classifier`.
    pub fn with_classifier(config: &EndpointConfig, classifier: C) -> Self {
        let max_utterance = ms_to_samples(u64::from(config.max_utterance_ms)).max(FRAME_SAMPLES);
        let limits = SampleLimits {
            start: ms_to_samples(u64::from(config.start_ms)).min(max_utterance),
            end_silence: ms_to_samples(u64::from(config.end_silence_ms)).max(1),
            pre_roll: ms_to_samples(u64::from(config.pre_roll_ms)).min(max_utterance),
            post_roll: ms_to_samples(u64::from(config.post_roll_ms)),
            max_utterance,
            speculate: ms_to_samples(u64::from(config.speculate_ms)),
        };
        Self {
            classifier,
            threshold: config.threshold,
            no_input: Duration::from_millis(u64::from(config.no_input_ms)),
            limits,
            state: State::Idle,
            no_input_at: None,
            recent: VecDeque::with_capacity(limits.pre_roll + limits.start + FRAME_SAMPLES),
            events: VecDeque::with_capacity(MAX_QUEUED_EVENTS),
        }
    }

    /// Starts listening (again): any utterance in progress is dropped, the no-input
    /// deadline is armed from `now`.
    pub fn listen(&mut self, now: Instant) {
        self.state = State::Waiting { speech_run: 0 };
        self.no_input_at = now.checked_add(self.no_input);
    }

    /// Stops listening: drops the utterance in progress, the deadline and queued events.
    pub fn stop(&mut self) {
        self.state = State::Idle;
        self.no_input_at = None;
        self.events.clear();
    }

    /// Whether [`Self::listen`] is in effect.
    pub fn is_listening(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// The utterance so far while speech is ongoing (after [`EndpointEvent::SpeechStarted`]).
    pub fn partial(&self) -> Option<&[i16]> {
        match &self.state {
            State::Speaking { utterance, .. } => Some(utterance),
            _ => None,
        }
    }

    /// Feeds received audio (any length; scored in 20 ms frames, so hand in whole frames).
    /// Ignored while [`MAX_QUEUED_EVENTS`] events wait to be polled.
    pub fn push_frame(&mut self, samples: &[i16], now: Instant) {
        self.handle_timeout(now);
        for frame in samples.chunks(FRAME_SAMPLES) {
            if self.events.len() + 2 > MAX_QUEUED_EVENTS {
                return;
            }
            self.push_one(frame);
        }
    }

    /// Fires the no-input deadline if `now` has reached it.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.no_input_at.is_some_and(|at| now >= at) {
            self.no_input_at = None;
            if self.events.len() < MAX_QUEUED_EVENTS {
                self.events.push_back(EndpointEvent::NoInput);
            }
        }
    }

    /// When [`Self::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.no_input_at
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    fn push_one(&mut self, frame: &[i16]) {
        let limits = self.limits;
        self.recent.extend(frame);
        let keep = limits.pre_roll + limits.start + FRAME_SAMPLES;
        if self.recent.len() > keep {
            self.recent.drain(..self.recent.len() - keep);
        }
        // Idle frames only feed the pre-roll: scoring them would cost every call the VAD
        // whether or not its dialplan ever listens.
        if matches!(self.state, State::Idle) {
            return;
        }
        let speech = self.classifier.speech_probability(frame) >= self.threshold;
        match &mut self.state {
            State::Idle => {}
            State::Waiting { speech_run } => {
                *speech_run = if speech { *speech_run + frame.len() } else { 0 };
                if speech && *speech_run >= limits.start {
                    let take = (limits.pre_roll + *speech_run).min(self.recent.len());
                    let mut utterance = Vec::with_capacity(limits.max_utterance.min(1 << 16));
                    utterance.extend(self.recent.iter().skip(self.recent.len() - take));
                    utterance.truncate(limits.max_utterance);
                    self.no_input_at = None;
                    self.events.push_back(EndpointEvent::SpeechStarted);
                    self.state = State::Speaking {
                        utterance,
                        silence_run: 0,
                    };
                    self.end_if_full();
                }
            }
            State::Speaking {
                utterance,
                silence_run,
            } => {
                let room = limits.max_utterance.saturating_sub(utterance.len());
                utterance.extend(frame.iter().take(room));
                let before = *silence_run;
                *silence_run = if speech {
                    0
                } else {
                    *silence_run + frame.len()
                };
                let keep = utterance.len() - (*silence_run).min(utterance.len())
                    + (*silence_run).min(limits.post_roll);
                if *silence_run >= limits.end_silence {
                    utterance.truncate(keep);
                    let utterance = std::mem::take(utterance);
                    self.events
                        .push_back(EndpointEvent::SpeechEnded { utterance });
                    self.state = State::Waiting { speech_run: 0 };
                } else {
                    if limits.speculate > 0
                        && before < limits.speculate
                        && *silence_run >= limits.speculate
                    {
                        let utterance = utterance.get(..keep).unwrap_or_default().to_vec();
                        self.events.push_back(EndpointEvent::Paused { utterance });
                    }
                    self.end_if_full();
                }
            }
        }
    }

    fn end_if_full(&mut self) {
        if let State::Speaking { utterance, .. } = &mut self.state {
            if utterance.len() >= self.limits.max_utterance {
                let utterance = std::mem::take(utterance);
                self.events
                    .push_back(EndpointEvent::MaxLength { utterance });
                // Speech goes on: the next utterance continues here rather than re-sending
                // the end of this one as its pre-roll.
                self.recent.clear();
                self.state = State::Waiting { speech_run: 0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::vad::EnergyVad;
    use proptest::prelude::*;

    const FRAME: Duration = Duration::from_millis(20);

    #[derive(Clone, Copy)]
    enum Seg {
        Silence(usize),
        /// 1 kHz tone at this amplitude.
        Tone(usize, i16),
        /// Uniform white noise of this amplitude.
        Noise(usize, i16),
        /// One frame with a single loud sample.
        Click,
    }

    fn render(segments: &[Seg]) -> Vec<i16> {
        let mut out = Vec::new();
        let mut seed: u32 = 12345;
        for seg in segments {
            match *seg {
                Seg::Silence(n) => out.extend(std::iter::repeat_n(0, n * FRAME_SAMPLES)),
                Seg::Tone(n, amp) => out.extend((0..n * FRAME_SAMPLES).map(|i| {
                    let phase = i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 8000.0;
                    (f32::from(amp) * phase.sin()) as i16
                })),
                Seg::Noise(n, amp) => out.extend((0..n * FRAME_SAMPLES).map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let unit = (seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
                    (unit * f32::from(amp)) as i16
                })),
                Seg::Click => {
                    let mut frame = [0i16; FRAME_SAMPLES];
                    frame[80] = 20_000;
                    out.extend(frame);
                }
            }
        }
        out
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Started,
        Ended(usize),
        Max(usize),
        NoInput,
    }

    /// Runs `audio` frame by frame from `listen(t0)`; events with the frame index they came on.
    fn run(config: &EndpointConfig, audio: &[i16]) -> Vec<(usize, Seen)> {
        let t0 = Instant::now();
        let mut ep = Endpointer::with_classifier(config, EnergyVad::new());
        ep.listen(t0);
        let mut seen = Vec::new();
        for (index, frame) in audio.chunks(FRAME_SAMPLES).enumerate() {
            ep.push_frame(frame, t0 + FRAME * (index as u32 + 1));
            while let Some(event) = ep.poll_event() {
                let event = match event {
                    EndpointEvent::SpeechStarted => Seen::Started,
                    EndpointEvent::SpeechEnded { utterance } => Seen::Ended(utterance.len()),
                    EndpointEvent::MaxLength { utterance } => Seen::Max(utterance.len()),
                    EndpointEvent::NoInput => Seen::NoInput,
                    EndpointEvent::Paused { .. } => continue,
                };
                seen.push((index, event));
            }
        }
        seen
    }

    fn config() -> EndpointConfig {
        EndpointConfig {
            start_ms: 100,
            end_silence_ms: 400,
            pre_roll_ms: 200,
            post_roll_ms: 100,
            max_utterance_ms: 2_000,
            no_input_ms: 3_000,
            threshold: 0.5,
            speculate_ms: 0,
        }
    }

    #[test]
    fn a_pause_predicts_the_end_exactly_unless_speech_resumes() {
        use Seg::*;
        let config = EndpointConfig {
            speculate_ms: 200,
            ..config()
        };
        let collect = |audio: &[i16]| {
            let t0 = Instant::now();
            let mut ep = Endpointer::with_classifier(&config, EnergyVad::new());
            ep.listen(t0);
            let mut events = Vec::new();
            for (index, frame) in audio.chunks(FRAME_SAMPLES).enumerate() {
                ep.push_frame(frame, t0 + FRAME * (index as u32 + 1));
                while let Some(event) = ep.poll_event() {
                    events.push((index, event));
                }
            }
            events
        };
        let ended = collect(&render(&[Silence(20), Tone(30, 8_000), Silence(30)]));
        let paused: Vec<_> = ended
            .iter()
            .filter_map(|(i, e)| match e {
                EndpointEvent::Paused { utterance } => Some((*i, utterance.clone())),
                _ => None,
            })
            .collect();
        let end: Vec<_> = ended
            .iter()
            .filter_map(|(i, e)| match e {
                EndpointEvent::SpeechEnded { utterance } => Some((*i, utterance.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(paused.len(), 1);
        assert_eq!(end.len(), 1);
        // 10 frames of pause (200 ms) before the 20-frame end silence (400 ms).
        assert_eq!(paused[0].0 + 10, end[0].0);
        assert_eq!(
            paused[0].1, end[0].1,
            "same samples when the pause was the end"
        );

        let resumed = collect(&render(&[
            Silence(20),
            Tone(30, 8_000),
            Silence(12),
            Tone(10, 8_000),
            Silence(30),
        ]));
        let pauses = resumed
            .iter()
            .filter(|(_, e)| matches!(e, EndpointEvent::Paused { .. }))
            .count();
        let ends: Vec<usize> = resumed
            .iter()
            .filter_map(|(_, e)| match e {
                EndpointEvent::SpeechEnded { utterance } => Some(utterance.len()),
                _ => None,
            })
            .collect();
        assert_eq!(pauses, 2, "one per pause");
        assert_eq!(ends.len(), 1, "one utterance across the short gap");
    }

    #[test]
    fn synthetic_signals_give_events_at_exact_frames() {
        use Seen::*;
        use Seg::*;
        // Utterance = 200 ms pre-roll + speech + 100 ms post-roll, in samples.
        let utt = |speech_frames: usize| 1_600 + speech_frames * FRAME_SAMPLES + 800;
        type Case = (&'static str, Vec<Seg>, Vec<(usize, Seen)>);
        let cases: Vec<Case> = vec![
            (
                "tone burst then silence",
                vec![Silence(50), Tone(30, 8_000), Silence(30)],
                vec![(54, Started), (99, Ended(utt(30)))],
            ),
            (
                "two bursts with a short gap are one utterance",
                vec![
                    Silence(50),
                    Tone(20, 8_000),
                    Silence(10),
                    Tone(20, 8_000),
                    Silence(30),
                ],
                vec![(54, Started), (119, Ended(utt(50)))],
            ),
            (
                "two bursts with a long gap are two",
                vec![
                    Silence(50),
                    Tone(10, 8_000),
                    Silence(25),
                    Tone(10, 8_000),
                    Silence(25),
                ],
                vec![
                    (54, Started),
                    (79, Ended(utt(10))),
                    (89, Started),
                    (114, Ended(utt(10))),
                ],
            ),
            (
                "clicks and a 60 ms blip never start",
                vec![
                    Silence(50),
                    Click,
                    Silence(5),
                    Click,
                    Click,
                    Silence(5),
                    Tone(3, 8_000),
                    Silence(90),
                ],
                vec![(149, NoInput)],
            ),
            (
                "low white noise is no input",
                vec![Noise(160, 300)],
                vec![(149, NoInput)],
            ),
            (
                "speech over noise",
                vec![Noise(100, 100), Tone(30, 8_000), Noise(30, 100)],
                vec![(104, Started), (149, Ended(utt(30)))],
            ),
            (
                "long speech is cut at max length, then restarts",
                vec![Silence(10), Tone(120, 8_000), Silence(30)],
                vec![
                    (14, Started),
                    (99, Max(16_000)),
                    (104, Started),
                    (149, Ended(utt(30) - 1_600)),
                ],
            ),
        ];
        for (name, segments, expected) in cases {
            assert_eq!(run(&config(), &render(&segments)), expected, "{name}");
        }
    }

    #[test]
    fn no_input_fires_from_the_clock_without_audio() {
        let t0 = Instant::now();
        let mut ep = Endpointer::with_classifier(&config(), EnergyVad::new());
        assert_eq!(ep.poll_timeout(), None);
        ep.listen(t0);
        let deadline = t0 + Duration::from_secs(3);
        assert_eq!(ep.poll_timeout(), Some(deadline));
        ep.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(ep.poll_event(), None);
        ep.handle_timeout(deadline);
        assert_eq!(ep.poll_event(), Some(EndpointEvent::NoInput));
        assert_eq!(ep.poll_timeout(), None);
        ep.handle_timeout(deadline + Duration::from_secs(9));
        assert_eq!(ep.poll_event(), None);
    }

    #[test]
    fn partial_grows_during_speech_and_stop_discards() {
        let t0 = Instant::now();
        let mut ep = Endpointer::with_classifier(&config(), EnergyVad::new());
        let audio = render(&[Seg::Silence(20), Seg::Tone(10, 8_000)]);
        ep.push_frame(&audio, t0);
        assert_eq!(ep.poll_event(), None, "not listening");
        ep.listen(t0);
        ep.push_frame(&audio, t0);
        assert_eq!(ep.poll_event(), Some(EndpointEvent::SpeechStarted));
        assert_eq!(ep.poll_timeout(), None, "speech disarms no-input");
        // 200 ms pre-roll plus the 10 speech frames after the start was detected.
        assert_eq!(
            ep.partial().map(<[i16]>::len),
            Some(1_600 + 10 * FRAME_SAMPLES)
        );
        ep.stop();
        assert_eq!(ep.partial(), None);
        assert!(!ep.is_listening());
    }

    #[test]
    fn config_deserializes_partially_from_toml() {
        let config: EndpointConfig = toml::from_str("end_silence_ms = 700").unwrap();
        assert_eq!(config.end_silence_ms, 700);
        assert_eq!(config.start_ms, EndpointConfig::default().start_ms);
        assert!(toml::from_str::<EndpointConfig>("bogus = 1").is_err());
    }

    /// Speech from espeak-ng, resampled to 8 kHz by sox, through the default (earshot) VAD.
    #[test]
    fn espeak_sentence_is_one_utterance_of_its_length() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.wav");
        let speech = dir.path().join("speech.wav");
        let trimmed = dir.path().join("trimmed.wav");
        let ok = Command::new("espeak-ng")
            .args(["-v", "en-us", "-w"])
            .arg(&raw)
            .arg("Hello, I would like to check the status of my order, please.")
            .status()
            .unwrap()
            .success();
        assert!(ok, "espeak-ng failed");
        let ok = Command::new("sox")
            .arg(&raw)
            .args(["-r", "8000", "-c", "1", "-b", "16"])
            .arg(&speech)
            .status()
            .unwrap()
            .success();
        assert!(ok, "sox resample failed");
        // Independent length: sox trims silence below 1 % at both ends.
        let ok = Command::new("sox")
            .arg(&speech)
            .arg(&trimmed)
            .args([
                "silence", "1", "0.01", "1%", "reverse", "silence", "1", "0.01", "1%", "reverse",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "sox trim failed");
        let read = |path: &std::path::Path| -> Vec<i16> {
            let mut reader = hound::WavReader::open(path).unwrap();
            reader.samples::<i16>().map(Result::unwrap).collect()
        };
        let speech_len = read(&trimmed).len();
        let mut audio = read(&speech);
        audio.extend(std::iter::repeat_n(0, 8_000));

        let t0 = Instant::now();
        let mut ep = Endpointer::new(&EndpointConfig::default());
        ep.listen(t0);
        let mut events = Vec::new();
        for (index, frame) in audio.chunks(FRAME_SAMPLES).enumerate() {
            ep.push_frame(frame, t0 + FRAME * index as u32);
            events.extend(
                std::iter::from_fn(|| ep.poll_event())
                    .filter(|e| !matches!(e, EndpointEvent::Paused { .. })),
            );
        }
        let [EndpointEvent::SpeechStarted, EndpointEvent::SpeechEnded { utterance }] =
            events.as_slice()
        else {
            panic!("expected one utterance, got {events:?}");
        };
        // The utterance carries pre- and post-roll around the speech by design.
        let cfg = EndpointConfig::default();
        let rolls = (cfg.pre_roll_ms + cfg.post_roll_ms) as i64 * 8;
        let diff_ms = (utterance.len() as i64 - rolls - speech_len as i64).abs() / 8;
        assert!(
            diff_ms <= 300,
            "utterance {} samples (with {rolls} of roll) vs speech {speech_len}",
            utterance.len()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_audio_never_panics_and_events_alternate(
            chunks in prop::collection::vec(prop::collection::vec(any::<i16>(), 0..400), 0..200),
            step_ms in 0u64..50,
        ) {
            let t0 = Instant::now();
            let mut config = config();
            config.max_utterance_ms = 500;
            let mut ep = Endpointer::with_classifier(&config, EnergyVad::new());
            ep.listen(t0);
            let mut in_speech = false;
            for (i, chunk) in chunks.iter().enumerate() {
                ep.push_frame(chunk, t0 + Duration::from_millis(step_ms * i as u64));
                while let Some(event) = ep.poll_event() {
                    match event {
                        EndpointEvent::SpeechStarted => { prop_assert!(!in_speech); in_speech = true; }
                        EndpointEvent::SpeechEnded { utterance } | EndpointEvent::MaxLength { utterance } => {
                            prop_assert!(in_speech);
                            prop_assert!(utterance.len() <= 4_000);
                            in_speech = false;
                        }
                        EndpointEvent::NoInput => prop_assert!(!in_speech),
                        EndpointEvent::Paused { utterance } => {
                            prop_assert!(in_speech);
                            prop_assert!(utterance.len() <= 4_000);
                        }
                    }
                }
                prop_assert_eq!(ep.partial().is_some(), in_speech);
            }
        }

        #[test]
        fn earshot_vad_takes_any_length(samples in prop::collection::vec(any::<i16>(), 0..2_000)) {
            let mut vad = crate::speech::vad::EarshotVad::new();
            let p = vad.speech_probability(&samples);
            prop_assert!((0.0..=1.0).contains(&p));
        }
    }
}
