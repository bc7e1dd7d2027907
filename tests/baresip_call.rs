//! A real SIP client, baresip, calls voxdesk: it must hear the greeting, and voxdesk's
//! recording must hold what the caller said, time-aligned on the left channel.

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
        .arg(&conf)
        .args(["-e", &format!("/dial sip:support@{}", vox.sip), "-t", "11"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run baresip");
    assert!(status.success(), "baresip exited with {status}");

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
