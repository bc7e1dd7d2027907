//! Writer for whisper.cpp's legacy ggml model file: magic, hyper-parameters, mel filters,
//! vocabulary, then tensors each with a small header.
//!
//! Hand-written from the layout `whisper_model_load` reads; all integers are little-endian
//! `i32`, tensor dimensions are written innermost first (reversed from row-major order).

use std::io::Write;

use super::names::Storage;

pub const MAGIC: u32 = 0x6767_6d6c;
/// `ftype` 1: 2-D weights in float16, everything else float32.
pub const FTYPE_MOSTLY_F16: i32 = 1;

/// whisper.cpp's hyper-parameters, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    fn fields(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }
}

fn put_i32<W: Write>(out: &mut W, value: i32) -> std::io::Result<()> {
    out.write_all(&value.to_le_bytes())
}

fn put_len<W: Write>(out: &mut W, len: usize) -> std::io::Result<()> {
    let len = i32::try_from(len).map_err(|_| std::io::Error::other("length over i32"))?;
    put_i32(out, len)
}

/// Magic, hyper-parameters and the `rows × columns` mel filterbank.
pub fn write_header<W: Write>(
    out: &mut W,
    hparams: &Hparams,
    mel_rows: usize,
    mel: &[f32],
) -> std::io::Result<()> {
    out.write_all(&MAGIC.to_le_bytes())?;
    for field in hparams.fields() {
        put_i32(out, field)?;
    }
    put_len(out, mel_rows)?;
    put_len(out, mel.len().checked_div(mel_rows).unwrap_or(0))?;
    for &w in mel {
        out.write_all(&w.to_le_bytes())?;
    }
    Ok(())
}

pub fn write_vocab<W: Write>(out: &mut W, tokens: &[Vec<u8>]) -> std::io::Result<()> {
    put_len(out, tokens.len())?;
    for token in tokens {
        put_len(out, token.len())?;
        out.write_all(token)?;
    }
    Ok(())
}

/// A tensor header; `dims` in row-major (PyTorch) order.
pub fn write_tensor_header<W: Write>(
    out: &mut W,
    name: &str,
    dims: &[u64],
    storage: Storage,
) -> std::io::Result<()> {
    put_len(out, dims.len())?;
    put_len(out, name.len())?;
    put_i32(out, storage_ftype(storage))?;
    for &d in dims.iter().rev() {
        let d = i32::try_from(d).map_err(|_| std::io::Error::other("dimension over i32"))?;
        put_i32(out, d)?;
    }
    out.write_all(name.as_bytes())
}

pub fn storage_ftype(storage: Storage) -> i32 {
    match storage {
        Storage::F32 => 0,
        Storage::F16 => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(bytes: &[u8]) -> Vec<i32> {
        bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn tensor_header_reverses_dims() {
        let mut out = Vec::new();
        write_tensor_header(
            &mut out,
            "encoder.conv1.weight",
            &[384, 80, 3],
            Storage::F16,
        )
        .unwrap();
        assert_eq!(words(&out[..24]), [3, 20, 1, 3, 80, 384]);
        assert_eq!(&out[24..], b"encoder.conv1.weight");
    }

    #[test]
    fn header_and_vocab_layout() {
        let hparams = Hparams {
            n_vocab: 51864,
            n_audio_ctx: 1500,
            n_audio_state: 384,
            n_audio_head: 6,
            n_audio_layer: 4,
            n_text_ctx: 448,
            n_text_state: 384,
            n_text_head: 6,
            n_text_layer: 4,
            n_mels: 80,
            ftype: FTYPE_MOSTLY_F16,
        };
        let mut out = Vec::new();
        write_header(&mut out, &hparams, 2, &[0.5, 0.25, 1.0, 2.0]).unwrap();
        write_vocab(&mut out, &[b" a".to_vec(), b"!".to_vec()]).unwrap();
        let w = words(&out[..56]);
        assert_eq!(w[0] as u32, MAGIC);
        assert_eq!(&w[1..12], hparams.fields());
        assert_eq!(&w[12..14], [2, 2]);
        assert_eq!(
            f32::from_le_bytes([out[56], out[57], out[58], out[59]]),
            0.5
        );
        assert_eq!(
            &out[72..],
            [2, 0, 0, 0, 2, 0, 0, 0, b' ', b'a', 1, 0, 0, 0, b'!']
        );
    }
}
