//! Caller speech for tests: espeak-ng's voice, resampled by sox to raw 8 kHz µ-law, the
//! format SIPp's `rtp_stream` plays (it sends the bytes as they are, so no WAV header).

use std::path::Path;
use std::process::Command;

/// Writes `text` spoken by espeak-ng (voice `en-us`, 150 wpm) to `path` as raw µ-law with
/// `tail_ms` of silence after it, so the endpointer hears the end of speech before RTP stops.
pub fn write_ulaw_clip(path: &Path, text: &str, tail_ms: u32) {
    let wav = path.with_extension("espeak.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("run espeak-ng (tests/setup.sh installs it)");
    assert!(status.success(), "espeak-ng failed for {text:?}");
    let tail = format!("{:.3}", f64::from(tail_ms) / 1000.0);
    let status = Command::new("sox")
        .arg(&wav)
        .args(["-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw"])
        .arg(path)
        .args(["pad", "0", &tail])
        .status()
        .expect("run sox (tests/setup.sh installs it)");
    assert!(status.success(), "sox failed for {}", wav.display());
    let _ = std::fs::remove_file(wav);
    pad_to_whole_packets(path);
}

/// µ-law silence is 0xFF; a zero byte is the loudest sample there is.
const ULAW_SILENCE: u8 = 0xFF;
/// Bytes in one 20 ms PCMU packet.
const PACKET_BYTES: usize = 160;

/// SIPp fills the last packet of an `rtp_stream` with zero bytes, a full-scale click that
/// the endpointer rightly takes for the start of speech; whole packets of silence avoid it.
fn pad_to_whole_packets(path: &Path) {
    let mut audio = std::fs::read(path).expect("read the clip");
    let short = (PACKET_BYTES - audio.len() % PACKET_BYTES) % PACKET_BYTES;
    audio.resize(audio.len() + short, ULAW_SILENCE);
    std::fs::write(path, audio).expect("write the clip");
}
