//! The mel filterbank whisper.cpp reads from the model file: librosa's default
//! (`htk=False`, `norm="slaney"`) triangular filters, as OpenAI ships in `mel_filters.npz`.
//!
//! Computed here because the CTranslate2 export does not carry it.

/// Hz per mel below 1 kHz on the Slaney scale.
const LINEAR_HZ_PER_MEL: f64 = 200.0 / 3.0;
/// Where the Slaney scale turns logarithmic.
const LOG_START_HZ: f64 = 1000.0;
const LOG_START_MEL: f64 = LOG_START_HZ / LINEAR_HZ_PER_MEL;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= LOG_START_HZ {
        LOG_START_MEL + (hz / LOG_START_HZ).ln() / log_step()
    } else {
        hz / LINEAR_HZ_PER_MEL
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= LOG_START_MEL {
        LOG_START_HZ * (log_step() * (mel - LOG_START_MEL)).exp()
    } else {
        mel * LINEAR_HZ_PER_MEL
    }
}

/// `n_mels` rows of `n_fft / 2 + 1` weights, row-major, covering 0 Hz to Nyquist.
pub fn filterbank(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let nyquist = f64::from(sample_rate) / 2.0;
    let bin_hz: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * f64::from(sample_rate) / n_fft as f64)
        .collect();
    let mel_max = hz_to_mel(nyquist);
    let edges_hz: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_max * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut weights = Vec::with_capacity(n_mels * n_bins);
    for triangle in edges_hz.windows(3) {
        let [low, centre, high] = [triangle[0], triangle[1], triangle[2]];
        // Slaney normalisation: every filter has unit area in Hz.
        let area_norm = 2.0 / (high - low);
        for &hz in &bin_hz {
            let rising = (hz - low) / (centre - low);
            let falling = (high - hz) / (high - centre);
            weights.push((rising.min(falling).max(0.0) * area_norm) as f32);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    const N_FFT: usize = 400;
    const BINS: usize = N_FFT / 2 + 1;

    fn whisper_bank() -> Vec<f32> {
        filterbank(16_000, N_FFT, 80)
    }

    #[test]
    fn scale_round_trips_and_bends_at_one_kilohertz() {
        for hz in [0.0, 50.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9);
    }

    #[test]
    fn shape_and_non_negative() {
        let bank = whisper_bank();
        assert_eq!(bank.len(), 80 * BINS);
        assert!(bank.iter().all(|&w| w >= 0.0 && w.is_finite()));
        // The Nyquist bin sits exactly on the last edge, so no filter reaches it.
        assert!(bank.chunks(BINS).all(|row| row[BINS - 1] == 0.0));
    }

    #[test]
    fn peaks_never_move_down_and_span_the_band() {
        let bank = whisper_bank();
        let peaks: Vec<usize> = bank
            .chunks(BINS)
            .map(|row| {
                let max = row.iter().copied().fold(0.0f32, f32::max);
                row.iter().position(|&w| w == max).unwrap_or(0)
            })
            .collect();
        assert!(peaks.windows(2).all(|p| p[0] <= p[1]), "{peaks:?}");
        assert_eq!(peaks[0], 1); // first centre 37 Hz, nearest bin 40 Hz
        assert!(peaks[79] >= 190, "{}", peaks[79]);
    }

    #[test]
    fn wide_filters_have_unit_area_in_hz() {
        let bin_hz = 16_000.0 / N_FFT as f32;
        for (i, row) in whisper_bank().chunks(BINS).enumerate().skip(50) {
            let area: f32 = row.iter().sum::<f32>() * bin_hz;
            assert!((area - 1.0).abs() < 0.02, "row {i}: {area}");
        }
    }

    #[test]
    fn first_filter_value() {
        // Edges 0, 37.24 and 74.47 Hz; bin 1 (40 Hz) is on the falling side.
        let bank = whisper_bank();
        let mel_step = hz_to_mel(8000.0) / 81.0;
        let high = mel_step * 2.0 * LINEAR_HZ_PER_MEL;
        let centre = high / 2.0;
        let expected = (high - 40.0) / (high - centre) * 2.0 / high;
        assert!((f64::from(bank[1]) - expected).abs() < 1e-7);
        assert!((bank[1] - 0.024_86).abs() < 1e-4, "{}", bank[1]);
        assert_eq!(bank[0], 0.0);
    }
}
