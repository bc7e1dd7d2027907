//! Shell tests for [`super`]: real UDP sockets on 127.0.0.1, a second socket as the caller.
//! Real time (a paused clock does not drive real sockets); each test runs a few hundred ms.
//! Also unit tests of the small sans-IO helpers the shell keeps private (DTMF sending).

use super::*;
use crate::media::dtmf::{DTMF_VOLUME, MAX_DTMF_FRAMES, MAX_QUEUED_DIGITS};
use crate::media::rtp::SeqNo;
use crate::media::SAMPLE_RATE;

const DTMF_PT: u8 = 101;
/// Upper bound for anything the tests wait for; normal runs take a few hundred ms.
const PATIENCE: Duration = Duration::from_secs(3);

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn socket() -> std::io::Result<UdpSocket> {
    UdpSocket::bind("127.0.0.1:0").await
}

async fn recv_rtp(sock: &UdpSocket) -> Result<RtpPacket, Box<dyn std::error::Error>> {
    let mut buf = [0u8; 1500];
    let (len, _) = tokio::time::timeout(PATIENCE, sock.recv_from(&mut buf)).await??;
    Ok(RtpPacket::parse(buf.get(..len).unwrap_or_default())?)
}

/// Skips other events until one matches; `None` if none does within `within`.
async fn wait_for(
    events: &mut mpsc::Receiver<MediaEvent>,
    within: Duration,
    mut wanted: impl FnMut(&MediaEvent) -> bool,
) -> Option<MediaEvent> {
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) if wanted(&event) => return Some(event),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

fn packet(pt: u8, marker: bool, seq: u16, timestamp: u32, payload: Vec<u8>) -> Vec<u8> {
    let pkt = RtpPacket {
        payload_type: pt,
        marker,
        seq: SeqNo(seq),
        timestamp,
        ssrc: 0xCA11,
        payload,
    };
    pkt.to_bytes().unwrap_or_default()
}

fn dtmf(seq: u16, timestamp: u32, marker: bool, event: u8, end: bool) -> Vec<u8> {
    let flags = if end { 0x80 | 10 } else { 10 };
    packet(DTMF_PT, marker, seq, timestamp, vec![event, flags, 0, 160])
}

#[tokio::test]
async fn sends_paced_packets_with_marker_on_prompt_start() -> TestResult {
    let (media, caller) = (socket().await?, socket().await?);
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.remote = Some(caller.local_addr()?);
    let (handle, mut events) = MediaSession::start(media, cfg);
    handle.play(7, Arc::from(vec![1000i16; 400]))?;

    let started = Instant::now();
    let mut packets = Vec::new();
    for _ in 0..12 {
        packets.push(recv_rtp(&caller).await?);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150),
        "not paced: {elapsed:?}"
    );
    for pair in packets.windows(2) {
        if let [a, b] = pair {
            assert_eq!(b.seq, a.seq.next());
            assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
            assert_eq!(b.ssrc, a.ssrc);
        }
    }
    assert!(packets
        .iter()
        .all(|p| p.payload_type == 0 && p.payload.len() == 160));
    let prompt_byte = Codec::Pcmu.encode_sample(1000);
    let with_prompt: Vec<&RtpPacket> = packets
        .iter()
        .filter(|p| p.payload.contains(&prompt_byte))
        .collect();
    assert_eq!(with_prompt.len(), 3, "400 samples = 3 frames");
    let markers: Vec<bool> = with_prompt.iter().map(|p| p.marker).collect();
    assert_eq!(markers, [true, false, false]);
    assert_eq!(packets.iter().filter(|p| p.marker).count(), 1);
    assert!(
        packets.iter().any(|p| p.payload.iter().all(|&b| b == 0xFF)),
        "comfort silence"
    );
    let finished = wait_for(&mut events, PATIENCE, |e| {
        *e == MediaEvent::PlaybackFinished(7)
    });
    assert!(finished.await.is_some());
    handle.shutdown()?;
    let stopped = wait_for(&mut events, PATIENCE, |e| {
        matches!(e, MediaEvent::Stopped(_))
    });
    let Some(MediaEvent::Stopped(stats)) = stopped.await else {
        return Err("no Stopped event".into());
    };
    assert!(stats.packets_sent >= 12);
    assert!(stats.send_interval_us_p50 > 10_000, "{stats:?}");
    Ok(())
}

#[tokio::test]
async fn latches_to_the_real_source_and_relatches_on_set_remote() -> TestResult {
    let (media, signalled, caller) = (socket().await?, socket().await?, socket().await?);
    let media_addr = media.local_addr()?;
    let mut cfg = MediaConfig::new(Codec::Pcma);
    cfg.remote = Some(signalled.local_addr()?);
    let (handle, _events) = MediaSession::start(media, cfg);

    assert_eq!(
        recv_rtp(&signalled).await?.payload_type,
        8,
        "sends to SDP address first"
    );
    caller
        .send_to(&packet(8, true, 1, 0, vec![0xD5; 160]), media_addr)
        .await?;
    assert_eq!(
        recv_rtp(&caller).await?.payload_type,
        8,
        "latched to the caller"
    );

    handle.set_remote(signalled.local_addr()?)?;
    // Drain what was in flight before the command, then the new target must get packets.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut buf = [0u8; 1500];
    while signalled.try_recv_from(&mut buf).is_ok() {}
    assert!(
        recv_rtp(&signalled).await.is_ok(),
        "re-armed to the new remote"
    );
    handle.shutdown()?;
    Ok(())
}

#[tokio::test]
async fn reports_each_rfc4733_digit_once() -> TestResult {
    let (media, caller) = (socket().await?, socket().await?);
    let media_addr = media.local_addr()?;
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.dtmf_pt = Some(DTMF_PT);
    let (handle, mut events) = MediaSession::start(media, cfg);

    let mut datagrams = vec![
        dtmf(10, 1000, true, 5, false),
        dtmf(11, 1000, false, 5, false),
        dtmf(12, 1000, false, 5, true),
        dtmf(13, 1000, false, 5, true),
        dtmf(14, 1000, false, 5, true),
        // '#' whose start was lost: only end packets.
        dtmf(20, 3000, false, 11, true),
        dtmf(21, 3000, false, 11, true),
        // Noise the session must ignore.
        packet(96, false, 22, 3000, vec![1, 2, 3, 4]),
        b"not rtp at all".to_vec(),
    ];
    // The same digit again, as a new event.
    datagrams.extend([
        dtmf(30, 5000, true, 5, false),
        dtmf(31, 5000, false, 5, true),
    ]);
    for datagram in &datagrams {
        caller.send_to(datagram, media_addr).await?;
    }
    let mut digits = String::new();
    while digits.len() < 3 {
        match wait_for(&mut events, PATIENCE, |e| matches!(e, MediaEvent::Dtmf(_))).await {
            Some(MediaEvent::Dtmf(digit)) => digits.push(digit),
            _ => break,
        }
    }
    assert_eq!(digits, "5#5");
    let extra = wait_for(&mut events, Duration::from_millis(100), |e| {
        matches!(e, MediaEvent::Dtmf(_))
    });
    assert_eq!(extra.await, None);
    handle.shutdown()?;
    let Some(MediaEvent::Stopped(stats)) = wait_for(&mut events, PATIENCE, |e| {
        matches!(e, MediaEvent::Stopped(_))
    })
    .await
    else {
        return Err("no Stopped event".into());
    };
    assert_eq!((stats.packets_invalid, stats.packets_ignored), (1, 1));
    assert_eq!(stats.dtmf_digits, 3);
    Ok(())
}

#[tokio::test]
async fn times_out_once_and_not_while_on_hold() -> TestResult {
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.rtp_timeout = Duration::from_millis(100);
    let (handle, mut events) = MediaSession::start(socket().await?, cfg.clone());
    let is_timeout = |e: &MediaEvent| *e == MediaEvent::RtpTimeout;
    assert!(wait_for(&mut events, PATIENCE, is_timeout).await.is_some());
    assert!(
        wait_for(&mut events, Duration::from_millis(250), is_timeout)
            .await
            .is_none()
    );
    handle.shutdown()?;

    let (held, mut held_events) = MediaSession::start(socket().await?, cfg);
    held.set_direction(false, false)?;
    assert!(
        wait_for(&mut held_events, Duration::from_millis(250), is_timeout)
            .await
            .is_none()
    );
    held.set_direction(true, true)?;
    assert!(wait_for(&mut held_events, PATIENCE, is_timeout)
        .await
        .is_some());
    held.shutdown()?;
    Ok(())
}

#[tokio::test]
async fn barge_in_stops_current_and_queued_prompts() -> TestResult {
    let (media, caller) = (socket().await?, socket().await?);
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.remote = Some(caller.local_addr()?);
    let (handle, mut events) = MediaSession::start(media, cfg);
    handle.play(1, Arc::from(vec![500i16; 8000]))?;
    handle.play(2, Arc::from(vec![500i16; 8000]))?;
    handle.play(3, Arc::from(Vec::new()))?;
    handle.stop_playback()?;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match wait_for(&mut events, PATIENCE, |e| {
            matches!(
                e,
                MediaEvent::PlaybackStopped(_) | MediaEvent::PlaybackFinished(_)
            )
        })
        .await
        {
            Some(event) => seen.push(event),
            None => break,
        }
    }
    // The empty prompt finishes as soon as it is queued, before the barge-in.
    let want = [
        MediaEvent::PlaybackFinished(3),
        MediaEvent::PlaybackStopped(1),
        MediaEvent::PlaybackStopped(2),
    ];
    assert_eq!(seen, want);
    handle.shutdown()?;
    Ok(())
}

#[tokio::test]
async fn records_both_sides_and_feeds_caller_audio() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("call.wav");
    let (media, caller) = (socket().await?, socket().await?);
    let media_addr = media.local_addr()?;
    let (audio_tx, mut audio_rx) = mpsc::channel(100);
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.remote = Some(caller.local_addr()?);
    cfg.record_path = Some(path.clone());
    cfg.jitter_depth = 2;
    cfg.caller_audio = Some(audio_tx);
    let (handle, mut events) = MediaSession::start(media, cfg);
    handle.play(1, Arc::from(vec![-3000i16; 1600]))?;

    let caller_byte = Codec::Pcmu.encode_sample(2000);
    let mut pacer = tokio::time::interval(FRAME);
    for i in 0..10u16 {
        pacer.tick().await;
        let datagram = packet(
            0,
            i == 0,
            100 + i,
            160 * u32::from(i),
            vec![caller_byte; 160],
        );
        caller.send_to(&datagram, media_addr).await?;
    }
    // Let playout drain the jitter buffer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.shutdown()?;
    let Some(MediaEvent::Stopped(stats)) = wait_for(&mut events, PATIENCE, |e| {
        matches!(e, MediaEvent::Stopped(_))
    })
    .await
    else {
        return Err("no Stopped event".into());
    };
    assert_eq!(stats.packets_received, 10);
    assert_eq!(stats.jitter.played, 10, "{stats:?}");
    assert_eq!(stats.recording_error, None);

    let caller_value = Codec::Pcmu.decode_sample(caller_byte);
    // The bot side is recorded from the linear prompt, before G.711.
    let bot_value = -3000;
    let mut reader = hound::WavReader::open(&path)?;
    assert_eq!(
        (reader.spec().channels, reader.spec().sample_rate),
        (2, 8000)
    );
    let samples: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>()?;
    assert_eq!(samples.len() % (2 * FRAME_SAMPLES), 0, "whole ticks only");
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let count = |channel: &[i16], value: i16| channel.iter().filter(|&&s| s == value).count();
    assert_eq!(count(&left, caller_value), 10 * FRAME_SAMPLES);
    assert_eq!(count(&right, bot_value), 1600);
    assert_eq!(
        (count(&left, bot_value), count(&right, caller_value)),
        (0, 0),
        "separation"
    );

    let mut forwarded = Vec::new();
    while let Ok(frame) = audio_rx.try_recv() {
        forwarded.push(frame);
    }
    assert!(forwarded.iter().all(|f| f.len() == FRAME_SAMPLES));
    let voiced = forwarded
        .iter()
        .filter(|f| f.iter().all(|&s| s == caller_value))
        .count();
    assert_eq!(voiced, 10);
    Ok(())
}

#[test]
fn dtmf_sender_emits_rfc4733_packets() {
    // (digit, duration_ms, expected (marker, end, duration) per packet)
    let long: Vec<(bool, bool, u16)> = [
        (true, false, 160),
        (false, false, 320),
        (false, false, 480),
        (false, false, 640),
        (false, true, 800),
        (false, true, 800),
        (false, true, 800),
    ]
    .to_vec();
    #[allow(clippy::type_complexity)]
    let cases: [(char, u32, u8, Vec<(bool, bool, u16)>); 4] = [
        ('5', 100, 5, long.clone()),
        ('5', 90, 5, long),
        (
            '#',
            0,
            11,
            vec![(true, true, 160), (false, true, 160), (false, true, 160)],
        ),
        (
            'd',
            40,
            15,
            vec![
                (true, false, 160),
                (false, true, 320),
                (false, true, 320),
                (false, true, 320),
            ],
        ),
    ];
    for (digit, duration_ms, code, want) in cases {
        let mut sender = DtmfSender::default();
        assert!(sender.queue(digit, duration_ms));
        let mut got = Vec::new();
        let mut clock = 1000u32;
        while let Some(packet) = sender.next(clock) {
            assert_eq!(
                packet.timestamp, 1000,
                "{digit}: start timestamp throughout"
            );
            let [event, flags, hi, lo] = packet.payload;
            assert_eq!((event, flags & 0x3F), (code, DTMF_VOLUME), "{digit}");
            got.push((
                packet.marker,
                flags & 0x80 != 0,
                u16::from_be_bytes([hi, lo]),
            ));
            clock += 160;
        }
        assert_eq!(got, want, "{digit} {duration_ms} ms");
    }
    let mut sender = DtmfSender::default();
    assert!(!sender.queue('x', 100), "not a digit");
    assert!(sender.queue('9', u32::MAX), "capped, not refused");
    assert_eq!(sender.next(0).map(|p| p.payload[0]), Some(9));
    let packets = std::iter::from_fn(|| sender.next(0)).count() + 1;
    assert_eq!(packets, MAX_DTMF_FRAMES as usize + 2);
    for _ in 0..MAX_QUEUED_DIGITS {
        assert!(sender.queue('1', 20));
    }
    assert!(!sender.queue('1', 20), "queue is bounded");
}

#[test]
fn dtmf_event_codes_invert_event_char() {
    for code in 0u8..=15 {
        let digit = crate::media::dtmf::event_char(code).unwrap_or('?');
        assert_eq!(dtmf_event_code(digit), Some(code), "{digit}");
        assert_eq!(dtmf_event_code(digit.to_ascii_lowercase()), Some(code));
    }
    for other in ['x', 'E', ' ', '٣'] {
        assert_eq!(dtmf_event_code(other), None, "{other}");
    }
}

#[test]
fn decode_frame_is_always_one_frame() {
    let cases: [(&[u8], usize); 3] = [(&[], 0), (&[0x00; 80], 80), (&[0x00; 400], 160)];
    for (payload, voiced) in cases {
        let frame = decode_frame(Codec::Pcmu, payload);
        assert_eq!(frame.len(), FRAME_SAMPLES);
        let loud = Codec::Pcmu.decode_sample(0x00);
        assert_eq!(frame.iter().filter(|&&s| s == loud).count(), voiced);
    }
}

/// Everything queued on a socket now, as RTP packets (a short wait lets in-flight ones land).
async fn drain_rtp(sock: &UdpSocket) -> Vec<RtpPacket> {
    tokio::time::sleep(Duration::from_millis(40)).await;
    let mut buf = [0u8; 1500];
    let mut packets = Vec::new();
    while let Ok((len, _)) = sock.try_recv_from(&mut buf) {
        if let Ok(pkt) = RtpPacket::parse(buf.get(..len).unwrap_or_default()) {
            packets.push(pkt);
        }
    }
    packets
}

async fn stopped(events: &mut mpsc::Receiver<MediaEvent>) -> Result<MediaStats, String> {
    match wait_for(events, PATIENCE, |e| matches!(e, MediaEvent::Stopped(_))).await {
        Some(MediaEvent::Stopped(stats)) => Ok(*stats),
        _ => Err("no Stopped event".into()),
    }
}

/// `(left, right)` channels of a stereo WAV.
fn read_stereo(path: &std::path::Path) -> Result<(Vec<i16>, Vec<i16>), hound::Error> {
    let mut reader = hound::WavReader::open(path)?;
    let samples: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>()?;
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    Ok((left, right))
}

#[tokio::test]
async fn live_input_replaces_prompts_and_is_recorded() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("live.wav");
    let (media, phone) = (socket().await?, socket().await?);
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.remote = Some(phone.local_addr()?);
    cfg.record_path = Some(path.clone());
    let (handle, mut events) = MediaSession::start(media, cfg);

    let (live_tx, live_rx) = mpsc::channel(crate::media::bridge::LINK_CHANNEL_FRAMES);
    let input = InputId::fresh();
    handle.connect_input(input, live_rx)?;
    handle.play(1, Arc::from(vec![-3000i16; 1600]))?;
    let mut pacer = tokio::time::interval(FRAME);
    for _ in 0..10 {
        pacer.tick().await;
        live_tx.try_send(Arc::from(vec![1234i16; FRAME_SAMPLES]))?;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(event) = events.try_recv() {
        assert_ne!(event, MediaEvent::PlaybackStarted(1), "prompt paused");
    }
    handle.disconnect_input(input)?;
    let finished = wait_for(&mut events, PATIENCE, |e| {
        *e == MediaEvent::PlaybackFinished(1)
    });
    assert!(finished.await.is_some(), "prompt resumes after disconnect");
    handle.shutdown()?;
    let stats = stopped(&mut events).await?;

    let packets = drain_rtp(&phone).await;
    let live_byte = Codec::Pcmu.encode_sample(1234);
    let prompt_byte = Codec::Pcmu.encode_sample(-3000);
    let live = packets
        .iter()
        .filter(|p| p.payload == [live_byte; 160])
        .count();
    assert!(live >= 8, "{live} live frames sent, {stats:?}");
    let prompt = packets
        .iter()
        .filter(|p| p.payload == [prompt_byte; 160])
        .count();
    assert_eq!(prompt, 10);
    let markers: Vec<usize> = packets
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.marker.then_some(i))
        .collect();
    let first_live = packets.iter().position(|p| p.payload == [live_byte; 160]);
    let first_prompt = packets.iter().position(|p| p.payload == [prompt_byte; 160]);
    assert_eq!(markers.len(), 2, "live start and prompt start");
    assert!(
        markers.first() <= first_live.as_ref(),
        "{markers:?} {first_live:?}"
    );
    assert_eq!(markers.get(1), first_prompt.as_ref());
    assert_eq!(stats.live.pushed, 10);

    let (left, right) = read_stereo(&path)?;
    let count = |channel: &[i16], value: i16| channel.iter().filter(|&&s| s == value).count();
    // The right channel is what was sent, before G.711: the live frames, then the prompt.
    assert_eq!(count(&right, 1234), live * FRAME_SAMPLES);
    assert_eq!(count(&right, -3000), 1600);
    assert!(left.iter().all(|&s| s == 0), "the phone sent nothing");
    Ok(())
}

/// One 20 ms frame of a sine tone, continuing from sample `start`.
fn tone(freq: f64, amplitude: f64, start: usize) -> Vec<i16> {
    (start..start + FRAME_SAMPLES)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * freq * n as f64 / f64::from(SAMPLE_RATE);
            (amplitude * phase.sin()) as i16
        })
        .collect()
}

/// Share of the frame's energy at `freq` (Goertzel): about 1 for a pure tone on that
/// frequency, 0.5 for an equal mix of two, near 0 for other tones; 0 for near-silence.
fn tone_share(frame: &[i16], freq: f64) -> f64 {
    let energy: f64 = frame.iter().map(|&s| f64::from(s).powi(2)).sum();
    if energy < 1e6 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in frame {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (energy * frame.len() as f64 / 2.0)
}

/// How many frames carry each tone, `(at 1 kHz, at 400 Hz)`: share above 0.2, as the test
/// tones mixed give 0.72 and 0.28.
fn count_tones<'a>(frames: impl Iterator<Item = &'a [i16]>) -> (usize, usize) {
    frames.fold((0, 0), |(high, low), frame| {
        (
            high + usize::from(tone_share(frame, 1000.0) > 0.2),
            low + usize::from(tone_share(frame, 400.0) > 0.2),
        )
    })
}

fn decoded(packets: &[RtpPacket], codec: Codec) -> Vec<Vec<i16>> {
    packets
        .iter()
        .filter(|p| p.payload_type == codec.payload_type())
        .map(|p| codec.decode(&p.payload))
        .collect()
}

#[test]
fn tone_share_tells_the_test_tones_apart() {
    let high = tone(1000.0, 8000.0, 0);
    let low = tone(400.0, 5000.0, 0);
    let both = crate::media::bridge::mix([&high[..], &low[..]]);
    let shares = |f: &[i16]| (tone_share(f, 1000.0), tone_share(f, 400.0));
    let near = |got: (f64, f64), want: (f64, f64)| {
        (got.0 - want.0).abs() < 0.1 && (got.1 - want.1).abs() < 0.1
    };
    assert!(near(shares(&high), (1.0, 0.0)), "{:?}", shares(&high));
    assert!(near(shares(&low), (0.0, 1.0)), "{:?}", shares(&low));
    let mixed = shares(&both);
    assert!(mixed.0 > 0.5 && mixed.1 > 0.2, "{mixed:?}");
    assert_eq!(shares(&[3; FRAME_SAMPLES]), (0.0, 0.0), "quiet");
}

#[tokio::test]
async fn bridges_pcmu_and_pcma_legs_with_a_listening_supervisor() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("caller.wav");
    let (media_a, media_b, media_s) = (socket().await?, socket().await?, socket().await?);
    let (phone_a, phone_b, phone_s) = (socket().await?, socket().await?, socket().await?);
    let (addr_a, addr_b) = (media_a.local_addr()?, media_b.local_addr()?);

    let mut cfg_a = MediaConfig::new(Codec::Pcmu);
    cfg_a.remote = Some(phone_a.local_addr()?);
    cfg_a.record_path = Some(path.clone());
    cfg_a.jitter_depth = 2;
    let mut cfg_b = MediaConfig::new(Codec::Pcma);
    cfg_b.remote = Some(phone_b.local_addr()?);
    cfg_b.jitter_depth = 2;
    let mut cfg_s = MediaConfig::new(Codec::Pcmu);
    cfg_s.remote = Some(phone_s.local_addr()?);
    let (caller, mut caller_events) = MediaSession::start(media_a, cfg_a);
    let (agent, _agent_events) = MediaSession::start(media_b, cfg_b);
    let (supervisor, _supervisor_events) = MediaSession::start(media_s, cfg_s);
    let mut bridged = crate::media::bridge(&caller, &agent)?;
    bridged.supervise(crate::media::SupervisorMode::Listen, &supervisor)?;

    const FRAMES: u16 = 50;
    let mut pacer = tokio::time::interval(FRAME);
    for i in 0..FRAMES {
        pacer.tick().await;
        let start = usize::from(i) * FRAME_SAMPLES;
        let ts = 160 * u32::from(i);
        let high = Codec::Pcmu.encode(&tone(1000.0, 8000.0, start));
        let low = Codec::Pcma.encode(&tone(400.0, 5000.0, start));
        phone_a
            .send_to(&packet(0, i == 0, i, ts, high), addr_a)
            .await?;
        phone_b
            .send_to(&packet(8, i == 0, 500 + i, ts, low), addr_b)
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    bridged.unbridge()?;
    caller.shutdown()?;
    let stats = stopped(&mut caller_events).await?;
    let (heard_a, heard_b, heard_s) = (
        drain_rtp(&phone_a).await,
        drain_rtp(&phone_b).await,
        drain_rtp(&phone_s).await,
    );
    let _ = (agent.shutdown(), supervisor.shutdown());

    let most = usize::from(FRAMES) - 8;
    let at_b = decoded(&heard_b, Codec::Pcma);
    let (high, low) = count_tones(at_b.iter().map(Vec::as_slice));
    assert!(
        high >= most && low == 0,
        "agent phone: {high} 1 kHz, {low} 400 Hz"
    );
    let at_a = decoded(&heard_a, Codec::Pcmu);
    let (high, low) = count_tones(at_a.iter().map(Vec::as_slice));
    assert!(
        high == 0 && low >= most,
        "caller phone: {high} 1 kHz, {low} 400 Hz"
    );
    let at_s = decoded(&heard_s, Codec::Pcmu);
    let (high, low) = count_tones(at_s.iter().map(Vec::as_slice));
    assert!(
        high >= most && low >= most,
        "supervisor: {high} 1 kHz, {low} 400 Hz"
    );

    let (left, right) = read_stereo(&path)?;
    let (high, low) = count_tones(left.chunks(FRAME_SAMPLES));
    assert!(high >= most && low == 0, "recorded caller: {high} / {low}");
    let (high, low) = count_tones(right.chunks(FRAME_SAMPLES));
    assert!(high == 0 && low >= most, "recorded agent: {high} / {low}");
    assert!(stats.live.popped >= most as u64, "{stats:?}");
    Ok(())
}

#[tokio::test]
async fn forwards_a_received_digit_as_rfc4733_on_the_other_leg() -> TestResult {
    let (media_a, media_b, phone_a, phone_b) = (
        socket().await?,
        socket().await?,
        socket().await?,
        socket().await?,
    );
    let addr_a = media_a.local_addr()?;
    let mut cfg_a = MediaConfig::new(Codec::Pcmu);
    cfg_a.dtmf_pt = Some(DTMF_PT);
    let mut cfg_b = MediaConfig::new(Codec::Pcma);
    cfg_b.dtmf_pt = Some(DTMF_PT);
    cfg_b.remote = Some(phone_b.local_addr()?);
    let (leg_a, mut events_a) = MediaSession::start(media_a, cfg_a);
    let (leg_b, mut events_b) = MediaSession::start(media_b, cfg_b);

    for datagram in [dtmf(1, 800, true, 7, false), dtmf(2, 800, false, 7, true)] {
        phone_a.send_to(&datagram, addr_a).await?;
    }
    // The call layer's part: a digit from one leg is sent on the other.
    let digit = wait_for(&mut events_a, PATIENCE, |e| {
        matches!(e, MediaEvent::Dtmf(_))
    })
    .await;
    let Some(MediaEvent::Dtmf(digit)) = digit else {
        return Err("no digit on leg A".into());
    };
    leg_b.send_dtmf(digit, Duration::from_millis(100))?;
    leg_b.send_dtmf('#', Duration::from_millis(40))?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    leg_b.shutdown()?;
    let stats = stopped(&mut events_b).await?;
    let packets = drain_rtp(&phone_b).await;
    let _ = leg_a.shutdown();

    let events: Vec<&RtpPacket> = packets
        .iter()
        .filter(|p| p.payload_type == DTMF_PT)
        .collect();
    let summary: Vec<(u8, bool, bool, u16)> = events
        .iter()
        .map(|p| match p.payload[..] {
            [code, flags, hi, lo] => (
                code,
                p.marker,
                flags & 0x80 != 0,
                u16::from_be_bytes([hi, lo]),
            ),
            _ => (0xFF, false, false, 0),
        })
        .collect();
    let want = [
        (7, true, false, 160),
        (7, false, false, 320),
        (7, false, false, 480),
        (7, false, false, 640),
        (7, false, true, 800),
        (7, false, true, 800),
        (7, false, true, 800),
        (11, true, false, 160),
        (11, false, true, 320),
        (11, false, true, 320),
        (11, false, true, 320),
    ];
    assert_eq!(summary, want);
    let timestamps: Vec<u32> = events.iter().map(|p| p.timestamp).collect();
    assert!(timestamps[..7].iter().all(|&t| t == timestamps[0]));
    assert!(timestamps[7..].iter().all(|&t| t == timestamps[7]));
    assert_eq!(
        timestamps[7].wrapping_sub(timestamps[0]),
        7 * 160,
        "back to back"
    );
    // One stream: one SSRC, no sequence gaps, and the clock runs on through the events.
    for pair in packets.windows(2) {
        if let [a, b] = pair {
            assert_eq!((b.seq, b.ssrc), (a.seq.next(), a.ssrc));
            if a.payload_type == 8 && b.payload_type == 8 {
                assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
            }
        }
    }
    let first_event = packets
        .iter()
        .position(|p| p.payload_type == DTMF_PT)
        .unwrap_or(0);
    let audio_after = packets
        .iter()
        .skip(first_event)
        .find(|p| p.payload_type == 8);
    assert_eq!(
        audio_after.map(|p| p.timestamp),
        Some(timestamps[0].wrapping_add(11 * 160)),
        "audio resumes where the clock is"
    );
    let mut receiver = crate::media::DtmfReceiver::new();
    let now = std::time::Instant::now();
    let digits: String = events
        .iter()
        .filter_map(|p| receiver.handle(p, now))
        .collect();
    assert_eq!(digits, "7#");
    assert_eq!(stats.dtmf_digits_sent, 2);

    let (no_events, _) = MediaSession::start(socket().await?, MediaConfig::new(Codec::Pcmu));
    let refused = no_events.send_dtmf('1', Duration::from_millis(100));
    assert_eq!(refused, Err(MediaError::NoTelephoneEvent));
    assert_eq!(
        leg_a.send_dtmf('x', Duration::from_millis(100)),
        Err(MediaError::InvalidDigit('x'))
    );
    no_events.shutdown()?;
    Ok(())
}

#[tokio::test]
async fn record_to_closes_the_first_file_and_records_on_in_the_second() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (first, second) = (dir.path().join("first.wav"), dir.path().join("second.wav"));
    let (media, caller) = (socket().await?, socket().await?);
    let media_addr = media.local_addr()?;
    let mut cfg = MediaConfig::new(Codec::Pcmu);
    cfg.remote = Some(caller.local_addr()?);
    cfg.record_path = Some(first.clone());
    cfg.jitter_depth = 2;
    let (handle, mut events) = MediaSession::start(media, cfg);
    let mut pacer = tokio::time::interval(FRAME);
    let send = |seq: u16, level: i16| {
        let byte = Codec::Pcmu.encode_sample(level);
        packet(0, seq == 0, seq, 160 * u32::from(seq), vec![byte; 160])
    };
    for seq in 0..10u16 {
        pacer.tick().await;
        caller.send_to(&send(seq, 1000), media_addr).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle.record_to(Some(second.clone()))?;
    tokio::time::sleep(Duration::from_millis(60)).await;
    for seq in 10..20u16 {
        pacer.tick().await;
        caller.send_to(&send(seq, -2000), media_addr).await?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle.shutdown()?;
    wait_for(&mut events, PATIENCE, |e| {
        matches!(e, MediaEvent::Stopped(_))
    })
    .await
    .ok_or("no Stopped event")?;
    let left = |path: &std::path::Path| -> Result<Vec<i16>, Box<dyn std::error::Error>> {
        let samples: Vec<i16> = hound::WavReader::open(path)?
            .samples::<i16>()
            .collect::<Result<_, _>>()?;
        Ok(samples.into_iter().step_by(2).collect())
    };
    let (a, b) = (left(&first)?, left(&second)?);
    let level = |v: i16| Codec::Pcmu.decode_sample(Codec::Pcmu.encode_sample(v));
    let count = |channel: &[i16], value: i16| channel.iter().filter(|&&s| s == value).count();
    // Whole frames; a few may be lost to the jitter buffer around the pause.
    assert!(
        count(&a, level(1000)) >= 6 * FRAME_SAMPLES,
        "first part in the first file"
    );
    assert_eq!(count(&a, level(-2000)), 0);
    assert!(
        count(&b, level(-2000)) >= 6 * FRAME_SAMPLES,
        "second part in the second"
    );
    assert_eq!(count(&b, level(1000)), 0);
    Ok(())
}
