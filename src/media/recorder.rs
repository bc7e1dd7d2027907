//! Call recording: one stereo 8 kHz 16-bit WAV per call (left = caller, right = voxdesk),
//! written through hound. The two channels are kept time-aligned by writing both sides of
//! every 20 ms tick together, padding the shorter side with silence.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::SAMPLE_RATE;

/// At most this many samples per side are taken from one `push_frame` (one second), so a
/// buggy caller cannot make one tick write an unbounded amount.
const MAX_FRAME_SAMPLES: usize = SAMPLE_RATE as usize;

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// Creating, writing or finalising the WAV file failed.
    #[error("call recording: {0}")]
    Wav(#[from] hound::Error),
}

/// Writes one call's stereo recording.
pub struct CallRecorder {
    writer: hound::WavWriter<BufWriter<File>>,
    frames_written: u64,
}

impl std::fmt::Debug for CallRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRecorder")
            .field("frames_written", &self.frames_written)
            .finish_non_exhaustive()
    }
}

impl CallRecorder {
    /// Creates (or truncates) the WAV file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<CallRecorder, RecorderError> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(CallRecorder {
            writer: hound::WavWriter::create(path, spec)?,
            frames_written: 0,
        })
    }

    /// Appends one tick: the caller's and voxdesk's samples for the same 20 ms. The shorter
    /// side is padded with silence so both channels advance by the same amount.
    pub fn push_frame(&mut self, caller: &[i16], bot: &[i16]) -> Result<(), RecorderError> {
        let len = caller.len().max(bot.len()).min(MAX_FRAME_SAMPLES);
        for i in 0..len {
            self.writer
                .write_sample(caller.get(i).copied().unwrap_or(0))?;
            self.writer.write_sample(bot.get(i).copied().unwrap_or(0))?;
        }
        self.frames_written += len as u64;
        Ok(())
    }

    /// Stereo sample frames written so far (one per 1/8000 s).
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Writes the final header lengths and closes the file.
    pub fn finish(self) -> Result<(), RecorderError> {
        self.writer.finalize()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_time_aligned_stereo() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("call.wav");
        let mut rec = CallRecorder::create(&path)?;
        rec.push_frame(&[1000; 160], &[])?; // caller talks, bot silent
        rec.push_frame(&[], &[-2000; 160])?; // bot talks
        rec.push_frame(&[5; 100], &[6; 160])?; // short caller frame is padded
        assert_eq!(rec.frames_written(), 480);
        rec.finish()?;

        let mut reader = hound::WavReader::open(&path)?;
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 8000, 16)
        );
        assert_eq!(reader.duration(), 480);
        let samples: Vec<i16> = reader.samples::<i16>().collect::<Result<_, _>>()?;
        let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
        let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
        assert!(left[..160].iter().all(|&s| s == 1000));
        assert!(right[..160].iter().all(|&s| s == 0));
        assert!(left[160..320].iter().all(|&s| s == 0));
        assert!(right[160..320].iter().all(|&s| s == -2000));
        assert!(left[320..420].iter().all(|&s| s == 5));
        assert!(left[420..].iter().all(|&s| s == 0));
        assert!(right[320..].iter().all(|&s| s == 6));
        Ok(())
    }

    #[test]
    fn oversized_frame_is_capped() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut rec = CallRecorder::create(dir.path().join("big.wav"))?;
        rec.push_frame(&vec![1; 3 * MAX_FRAME_SAMPLES], &[])?;
        assert_eq!(rec.frames_written(), MAX_FRAME_SAMPLES as u64);
        rec.finish()?;
        Ok(())
    }

    #[test]
    fn unwritable_path_is_an_error() {
        let missing_dir = std::env::temp_dir().join("voxdesk-no-such-dir/x/call.wav");
        assert!(CallRecorder::create(missing_dir).is_err());
    }
}
