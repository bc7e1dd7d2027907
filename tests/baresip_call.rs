//! A real SIP client, baresip, calls voxdesk: it must hear the greeting, voxdesk's recording
//! must hold what the caller said, time-aligned on the left channel, and a spoken request must
//! be understood.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_sip_port, read_recording, Voxdesk};

/// Writes the caller's audio: espeak-ng speech, then silence so the call lasts `secs`.
fn caller_audio(path: &Path, secs: u32) {
    let speech = path.with_extension("speech.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-w"])
        .arg(&speech)
        .arg("Hello, I would like to check my order.")
        .status()
        .expect("run espeak-ng");
    assert!(status.success());
    // 8 kHz mono 16-bit, padded: baresip's aufile source ends the call when the file ends.
    let status = Command::new("sox")
        .arg(&speech)
        .args(["-r", "8000", "-c", "1", "-b", "16"])
        .arg(path)
        .args([
            "pad",
            "0.5",
            &format!("{secs}"),
            "trim",
            "0",
            &format!("{secs}"),
        ])
        .status()
        .expect("run sox");
    assert!(status.success());
}

fn rms_of_wav(path: &Path) -> f64 {
    let mut reader = hound::WavReader::open(path).expect("open baresip dump");
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .collect();
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt()
}

/// Configures baresip in `conf` to play `source` and dump what it hears to `dumps`, dials
/// voxdesk and waits until it exits (at most `secs`).
fn run_baresip(vox: &Voxdesk, conf: &Path, source: &Path, dumps: &Path, secs: u32) {
    let port = free_sip_port();
    std::fs::write(
        conf.join("config"),
        format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{port}\n\
             net_interface 127.0.0.1\n\
             audio_player aufile,/dev/null\n\
             audio_source aufile,{}\n\
             audio_alert aufile,/dev/null\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule aufile.so\nmodule sndfile.so\nmodule account.so\nmodule menu.so\n\
             snd_path {}\n",
            source.display(),
            dumps.display()
        ),
    )
    .expect("write baresip config");
    std::fs::write(conf.join("accounts"), "<sip:caller@127.0.0.1>;regint=0\n")
        .expect("write accounts");
    let status = Command::new("baresip")
        .arg("-f")
        .arg(conf)
        .args([
            "-e",
            &format!("/dial sip:support@{}", vox.sip),
            "-t",
            &secs.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run baresip");
    assert!(status.success(), "baresip exited with {status}");
}

/// Writes a caller track: each `(silence_secs, text)` is silence then espeak-ng speech, and the
/// track is padded with silence to `total_secs` (8 kHz mono 16-bit, as aufile wants).
fn speech_track(path: &Path, parts: &[(f32, &str)], total_secs: u32) {
    let mut samples: Vec<i16> = Vec::new();
    for (index, (silence, text)) in parts.iter().enumerate() {
        samples.extend(std::iter::repeat_n(0, (silence * 8000.0) as usize));
        let wide = path.with_extension(format!("{index}.wav"));
        let narrow = path.with_extension(format!("{index}.8k.wav"));
        let spoken = Command::new("espeak-ng")
            .args(["-v", "en-us", "-s", "150", "-w"])
            .arg(&wide)
            .arg(text)
            .status()
            .expect("run espeak-ng");
        assert!(spoken.success());
        let converted = Command::new("sox")
            .arg(&wide)
            .args(["-r", "8000", "-c", "1", "-b", "16"])
            .arg(&narrow)
            .status()
            .expect("run sox");
        assert!(converted.success());
        let mut reader = hound::WavReader::open(&narrow).expect("open speech");
        samples.extend(reader.samples::<i16>().map(|s| s.expect("sample")));
    }
    samples.resize(total_secs as usize * 8000, 0);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create caller track");
    for sample in samples {
        writer.write_sample(sample).expect("write sample");
    }
    writer.finalize().expect("finish caller track");
}

#[test]
fn baresip_asks_for_its_order_by_voice() {
    let vox = Voxdesk::start();
    let dir = vox.dir().join("baresip-speech");
    let conf = dir.join("conf");
    let dumps = dir.join("dumps");
    std::fs::create_dir_all(&conf).expect("mkdir conf");
    std::fs::create_dir_all(&dumps).expect("mkdir dumps");
    let source = dir.join("caller.wav");
    // Greeting (2 s), then speech over the menu prompt; the number once it is asked for.
    speech_track(
        &source,
        &[
            (3.5, "I want to check the status of my order."),
            (7.0, "One two three four."),
        ],
        26,
    );
    run_baresip(&vox, &conf, &source, &dumps, 32);

    let tickets = vox.ended_tickets(1, Duration::from_secs(10));
    let ticket = vox.ticket(&tickets[0]["id"]);
    let turns = ticket["turns"].as_array().expect("turns");
    let heard: Vec<&serde_json::Value> = turns
        .iter()
        .filter(|t| t["kind"] == "speech" && t["outcome"] != "noise")
        .collect();
    assert!(heard.len() >= 2, "two utterances expected: {ticket:#}");
    assert_eq!(heard[0]["intent"], "order_status", "{ticket:#}");
    assert_eq!(heard[1]["entities"]["digits"], "1234", "{ticket:#}");
    let read_back = turns.iter().any(|t| {
        t["kind"] == "prompt" && t["text"].as_str().unwrap_or_default().contains("1 2 3 4")
    });
    assert!(read_back, "order number not read back: {ticket:#}");
}

#[test]
fn baresip_hears_the_greeting_and_is_recorded() {
    let vox = Voxdesk::start();
    let dir = vox.dir().join("baresip");
    let conf = dir.join("conf");
    let dumps = dir.join("dumps");
    std::fs::create_dir_all(&conf).expect("mkdir conf");
    std::fs::create_dir_all(&dumps).expect("mkdir dumps");
    let source = dir.join("caller.wav");
    caller_audio(&source, 7);
    run_baresip(&vox, &conf, &source, &dumps, 11);

    let heard = std::fs::read_dir(&dumps)
        .expect("read dumps")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("baresip dumped no decoded audio\n{}", vox.log()));
    let rms = rms_of_wav(&heard);
    assert!(rms > 500.0, "the caller heard (near) silence: RMS {rms:.0}");

    let tickets = vox.ended_tickets(1, Duration::from_secs(10));
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["disposition"], "caller-hung-up", "{ticket:#}");
    assert!(ticket["answered_at"].is_string(), "{ticket:#}");
    let prompts: Vec<&str> = ticket["turns"]
        .as_array()
        .expect("turns")
        .iter()
        .filter(|t| t["kind"] == "prompt")
        .filter_map(|t| t["text"].as_str())
        .collect();
    assert!(prompts.iter().any(|p| p.contains("Welcome")), "{prompts:?}");
    let recording = read_recording(
        &vox.data_dir(),
        ticket["recording_path"].as_str().expect("recording path"),
    );
    assert_eq!((recording.channels, recording.sample_rate), (2, 8000));
    // About the 7 s the caller's file lasted.
    let secs = f64::from(recording.frames) / 8000.0;
    assert!((5.0..9.0).contains(&secs), "recording lasts {secs:.1} s");
    assert!(
        recording.peak[0] > 3000,
        "caller speech missing: {recording:?}"
    );
    assert!(
        recording.peak[1] > 3000,
        "voxdesk speech missing: {recording:?}"
    );
}
