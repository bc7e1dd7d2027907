use super::*;
use proptest::prelude::*;

fn sine(freq: f32, rate: u32, amplitude: f32, samples: usize, from: usize) -> Vec<i16> {
    (from..from + samples)
        .map(|n| {
            let t = n as f32 / rate as f32;
            (amplitude * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

fn zero_crossings(samples: &[i16]) -> usize {
    samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count()
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// G.711 frames of a 1 kHz tone → Opus → G.711 again, decoded to 8 kHz PCM.
fn round_trip(codec: Codec, seconds: usize) -> (Vec<i16>, Vec<i16>, std::time::Duration) {
    let mut bridge = OpusBridge::new(codec).expect("bridge");
    let frames = seconds * 50;
    let input = sine(1000.0, 8000, 8000.0, frames * FRAME_SAMPLES, 0);
    let mut output = Vec::new();
    let started = std::time::Instant::now();
    for pcm in input.chunks(FRAME_SAMPLES) {
        let opus = bridge
            .push_g711(&codec.encode(pcm))
            .expect("every 20 ms G.711 frame completes an Opus frame");
        assert!(!opus.is_empty() && opus.len() < 200, "{} bytes", opus.len());
        let back = bridge.push_opus(&opus);
        assert_eq!(back.len(), 1, "one 20 ms Opus packet is one G.711 frame");
        for frame in back {
            assert_eq!(frame.len(), FRAME_SAMPLES);
            output.extend(codec.decode(&frame));
        }
    }
    (input, output, started.elapsed())
}

#[test]
fn a_tone_keeps_its_level_and_frequency_through_opus_and_back() {
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let seconds = 5;
        let (input, output, took) = round_trip(codec, seconds);
        assert_eq!(output.len(), input.len());
        // Skip the first half second: codec and filter delay, encoder ramp-up.
        let settled = output.get(4000..).expect("long enough");
        let reference = input.get(4000..).expect("long enough");
        let gain = db(rms(settled) / rms(reference));
        assert!(gain.abs() < 3.0, "{codec:?}: level changed by {gain:.1} dB");
        let expected = zero_crossings(reference) as f64;
        let got = zero_crossings(settled) as f64;
        assert!(
            (got - expected).abs() / expected < 0.02,
            "{codec:?}: {got} zero crossings, expected about {expected}"
        );
        // Both directions of one leg for `seconds` of audio.
        eprintln!(
            "{codec:?}: transcoding {seconds} s both ways took {took:?} ({:.2} % of one core)",
            took.as_secs_f64() / seconds as f64 * 100.0
        );
    }
}

#[test]
fn the_decimator_filters_out_what_would_alias() {
    for (freq, min_db, max_db) in [
        (1000.0, -1.0, 1.0),
        (3000.0, -3.0, 1.0),
        (5000.0, -200.0, -40.0),
    ] {
        let mut down = Decimator::new();
        let input = sine(freq, OPUS_RATE, 10_000.0, 48_000, 0);
        let output: Vec<i16> = input.chunks_exact(FACTOR).map(|c| down.push(c)).collect();
        let gain = db(rms(output.get(100..).expect("long")) / rms(&input));
        assert!(
            (min_db..=max_db).contains(&gain),
            "{freq} Hz: {gain:.1} dB, expected {min_db}..{max_db}"
        );
    }
}

#[test]
fn the_interpolator_keeps_the_level_and_suppresses_images() {
    let mut up = Interpolator::new();
    let input = sine(1000.0, 8000, 10_000.0, 8000, 0);
    let output: Vec<i16> = input.iter().flat_map(|&s| up.push(s)).collect();
    assert_eq!(output.len(), input.len() * FACTOR);
    let settled = output.get(600..).expect("long");
    let gain = db(rms(settled) / rms(&input));
    assert!(gain.abs() < 1.0, "{gain:.1} dB");
    // The first image of 1 kHz lies at 7 kHz: correlate against it.
    let (mut sin_part, mut cos_part) = (0.0f64, 0.0f64);
    for (n, &y) in (600..).zip(settled.iter()) {
        let phase = 2.0 * std::f64::consts::PI * 7000.0 * f64::from(n) / 48_000.0;
        sin_part += f64::from(y) * phase.sin();
        cos_part += f64::from(y) * phase.cos();
    }
    let amplitude = 2.0 * (sin_part.powi(2) + cos_part.powi(2)).sqrt() / settled.len() as f64;
    assert!(
        db(amplitude / 10_000.0) < -40.0,
        "7 kHz image at {:.1} dB",
        db(amplitude / 10_000.0)
    );
}

#[test]
fn a_long_opus_packet_yields_several_frames() {
    let mut encoder =
        ::opus::Encoder::new(OPUS_RATE, ::opus::Channels::Mono, ::opus::Application::Voip)
            .expect("encoder");
    let pcm = sine(440.0, OPUS_RATE, 5000.0, OPUS_FRAME_SAMPLES * 3, 0);
    let packet = encoder.encode_vec(&pcm, MAX_PACKET).expect("encode 60 ms");
    let mut bridge = OpusBridge::new(Codec::Pcmu).expect("bridge");
    let frames = bridge.push_opus(&packet);
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
}

#[test]
fn odd_g711_sizes_are_regrouped_into_20_ms_opus_frames() {
    let mut bridge = OpusBridge::new(Codec::Pcmu).expect("bridge");
    let half = Codec::Pcmu.encode(&sine(1000.0, 8000, 5000.0, FRAME_SAMPLES / 2, 0));
    assert_eq!(bridge.push_g711(&half), None);
    assert!(bridge.push_g711(&half).is_some());
    assert_eq!(bridge.push_g711(&[]), None);
}

#[test]
fn empty_and_garbage_opus_payloads_yield_nothing() {
    let mut bridge = OpusBridge::new(Codec::Pcmu).expect("bridge");
    assert!(bridge.push_opus(&[]).is_empty());
    // TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5).
    assert!(bridge.push_opus(&[0x03, 0x00]).is_empty());
    // After garbage, a good packet still decodes.
    let opus = (0..3)
        .filter_map(|n| {
            let pcm = sine(1000.0, 8000, 5000.0, FRAME_SAMPLES, n * FRAME_SAMPLES);
            bridge.push_g711(&Codec::Pcmu.encode(&pcm))
        })
        .last()
        .expect("an Opus frame");
    assert_eq!(bridge.push_opus(&opus).len(), 1);
}

proptest! {
    #[test]
    fn arbitrary_opus_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut bridge = OpusBridge::new(Codec::Pcmu).expect("bridge");
        let frames = bridge.push_opus(&payload);
        prop_assert!(frames.len() <= MAX_DECODED / OPUS_FRAME_SAMPLES);
        prop_assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
    }
}
