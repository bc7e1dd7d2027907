//! The built-in hold music: a quiet arpeggio synthesized at start-up, so a queue without a
//! `hold_music` file still tells the caller the line is alive (silence on hold reads as a
//! dropped call, and callers hang up).

use std::f32::consts::TAU;
use std::sync::Arc;

use super::SAMPLE_RATE;

/// Notes of the loop (Hz): a slow C major / A minor figure, gentle on a phone speaker.
const NOTES: [f32; 8] = [
    261.63, 329.63, 392.00, 329.63, 220.00, 261.63, 329.63, 261.63,
];
/// Length of each note.
const NOTE_MS: u32 = 450;
/// Peak level: about -18 dBFS, below the prompts so announcements stand out.
const PEAK: f32 = 4_000.0;

/// One loop of the built-in hold music, 8 kHz mono (about 3.6 s; the call layer repeats it).
pub fn builtin() -> Arc<[i16]> {
    let note_len = (SAMPLE_RATE * NOTE_MS / 1000) as usize;
    let mut out = Vec::with_capacity(note_len * NOTES.len());
    for freq in NOTES {
        for n in 0..note_len {
            let t = n as f32 / SAMPLE_RATE as f32;
            // Soft attack and a long decay, like a struck bell, so the notes never click.
            let attack = (n as f32 / 80.0).min(1.0);
            let decay = (-3.0 * n as f32 / note_len as f32).exp();
            let tone = (TAU * freq * t).sin() + 0.3 * (TAU * 2.0 * freq * t).sin();
            out.push((PEAK * attack * decay * tone / 1.3) as i16);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_music_is_audible_quiet_and_starts_and_ends_softly() {
        let music = builtin();
        assert_eq!(music.len(), 8 * 3600);
        let peak = music.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((2_000..=4_000).contains(&peak), "peak {peak}");
        assert!(music[0].unsigned_abs() < 100, "no click at the loop start");
        assert!(
            music[music.len() - 1].unsigned_abs() < 400,
            "no click at the loop end"
        );
    }
}
