//! Shell tests for [`super`]: real UDP sockets on 127.0.0.1, a second socket as the caller.
//! Real time (a paused clock does not drive real sockets); each test runs a few hundred ms.

use super::*;
use crate::media::rtp::SeqNo;

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
