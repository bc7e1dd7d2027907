//! Model import: converts an OpenAI Whisper model exported by CTranslate2 (`model.bin`,
//! `vocabulary.txt`) into whisper.cpp's ggml file, so `asr` can load it with whisper-rs.
//!
//! Reads one tensor at a time (memory stays at the largest tensor, not the model) and writes
//! to `OUT.partial`, renamed to `OUT` only when complete. Formats are hand-written in
//! [`model_bin`] and [`ggml`] because neither has a Rust crate and each is a page of code.

pub mod bpe;
pub mod ggml;
pub mod half;
pub mod mel;
pub mod model_bin;
pub mod names;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use ggml::Hparams;
use model_bin::{Dtype, Index, Variable};
use names::{Mapping, Storage};

/// Whisper's audio front end: 16 kHz, 25 ms windows.
const SAMPLE_RATE: u32 = 16_000;
const N_FFT: usize = 400;
/// GPT-2's vocabulary ends here; whisper.cpp numbers the special tokens itself.
const FIRST_SPECIAL_TOKEN: &str = "<|endoftext|>";
const MAX_VOCABULARY_BYTES: u64 = 16 << 20;
const MAX_LAYERS: u32 = 256;
/// Whisper uses 80 or 128; the filterbank is allocated from this header value.
const MAX_MELS: i32 = 512;

#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("model.bin: binary version {0} is not supported (only {v})", v = model_bin::BINARY_VERSION)]
    UnsupportedVersion(u32),
    #[error("model.bin: malformed: {0}")]
    Malformed(String),
    #[error("model.bin: spec {0:?} is not a Whisper model")]
    NotWhisper(String),
    #[error("model.bin: missing variable {0}")]
    MissingVariable(String),
    #[error("model.bin: {name} is {dtype:?}; only float16 and float32 models can be converted")]
    UnsupportedDtype { name: String, dtype: Dtype },
    #[error("model.bin: {name} has shape {dims:?}, {reason}")]
    BadShape {
        name: String,
        dims: Vec<u32>,
        reason: &'static str,
    },
    #[error("vocabulary.txt line {line}: {reason}")]
    Vocabulary { line: usize, reason: &'static str },
}

/// What [`import_ct2`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub hparams: Hparams,
    pub vocab_tokens: usize,
    pub tensors: usize,
    pub bytes: u64,
}

fn io_error(what: &Path) -> impl Fn(std::io::Error) -> Ct2Error + '_ {
    move |source| Ct2Error::Io {
        what: what.display().to_string(),
        source,
    }
}

/// How far [`import_ct2`] has got: tensors and tensor bytes written so far, of the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub tensors_done: usize,
    pub tensors: usize,
    pub bytes_done: u64,
    pub bytes: u64,
}

/// Converts the CTranslate2 Whisper model in `dir` to a ggml file at `out`.
/// `progress` is called before the first tensor and after each one.
pub fn import_ct2(
    dir: &Path,
    out: &Path,
    mut progress: impl FnMut(Progress),
) -> Result<ImportSummary, Ct2Error> {
    let model_path = dir.join("model.bin");
    let mut model = BufReader::new(File::open(&model_path).map_err(io_error(&model_path))?);
    let index = Index::read(&mut model)?;
    if index.spec_name != "WhisperSpec" {
        return Err(Ct2Error::NotWhisper(index.spec_name));
    }
    let hparams = hparams(&index, &mut model)?;
    let vocab_path = dir.join("vocabulary.txt");
    let vocab = read_vocabulary(&vocab_path)?;
    let plan = plan(&index, &hparams)?;
    let total: u64 = plan.iter().map(|t| t.out_bytes()).sum();

    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let file = File::create(&partial).map_err(io_error(&partial))?;
    let mut writer = BufWriter::new(file);
    let result = (|| {
        let n_mels = usize::try_from(hparams.n_mels).unwrap_or(0);
        let mel = mel::filterbank(SAMPLE_RATE, N_FFT, n_mels);
        ggml::write_header(&mut writer, &hparams, n_mels, &mel).map_err(io_error(&partial))?;
        ggml::write_vocab(&mut writer, &vocab).map_err(io_error(&partial))?;
        let mut done = Progress {
            tensors_done: 0,
            tensors: plan.len(),
            bytes_done: 0,
            bytes: total,
        };
        progress(done);
        for tensor in &plan {
            write_tensor(&mut model, &mut writer, tensor).map_err(|e| match e {
                TensorError::Read(e) => e,
                TensorError::Write(e) => io_error(&partial)(e),
            })?;
            done.tensors_done += 1;
            done.bytes_done += tensor.out_bytes();
            progress(done);
        }
        let file = writer
            .into_inner()
            .map_err(|e| io_error(&partial)(e.into_error()))?;
        file.sync_all().map_err(io_error(&partial))?;
        file.metadata().map_err(io_error(&partial))
    })();
    let metadata = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, out).map_err(io_error(out))?;
    Ok(ImportSummary {
        hparams,
        vocab_tokens: vocab.len(),
        tensors: plan.len(),
        bytes: metadata.len(),
    })
}

fn variable<'a>(index: &'a Index, name: &str) -> Result<&'a Variable, Ct2Error> {
    index
        .get(name)
        .ok_or_else(|| Ct2Error::MissingVariable(name.to_owned()))
}

fn dim(variable: &Variable, axis: usize, rank: usize) -> Result<i32, Ct2Error> {
    let bad = |reason| Ct2Error::BadShape {
        name: variable.name.clone(),
        dims: variable.dims.clone(),
        reason,
    };
    if variable.dims.len() != rank {
        return Err(bad("unexpected rank"));
    }
    let d = variable.dims.get(axis).copied().unwrap_or(0);
    i32::try_from(d).map_err(|_| bad("dimension too large"))
}

/// Layers are numbered from 0; the count is the first missing one.
fn layer_count(index: &Index, side: &str) -> u32 {
    (0..MAX_LAYERS)
        .find(|n| {
            index
                .get(&format!("{side}/layer_{n}/ffn/linear_0/weight"))
                .is_none()
        })
        .unwrap_or(MAX_LAYERS)
}

fn hparams<R: Read + Seek>(index: &Index, model: &mut R) -> Result<Hparams, Ct2Error> {
    let embeddings = variable(index, "decoder/embeddings/weight")?;
    let audio_positions = variable(index, "encoder/position_encodings/encodings")?;
    let text_positions = variable(index, "decoder/position_encodings/encodings")?;
    let conv1 = variable(index, "encoder/conv1/weight")?;
    let mut heads = |name: &str| -> Result<i32, Ct2Error> {
        let value = index.read_scalar(model, name)?;
        i32::try_from(value)
            .ok()
            .filter(|&h| h > 0)
            .ok_or_else(|| Ct2Error::Malformed(format!("{name} = {value}")))
    };
    let n_audio_head = heads("encoder/num_heads")?;
    let n_text_head = heads("decoder/num_heads")?;
    let layers = |side| i32::try_from(layer_count(index, side)).unwrap_or(0);
    let n_mels = dim(conv1, 1, 3)?;
    if !(1..=MAX_MELS).contains(&n_mels) {
        return Err(Ct2Error::BadShape {
            name: conv1.name.clone(),
            dims: conv1.dims.clone(),
            reason: "mel bin count out of range",
        });
    }
    Ok(Hparams {
        n_vocab: dim(embeddings, 0, 2)?,
        n_audio_ctx: dim(audio_positions, 0, 2)?,
        n_audio_state: dim(audio_positions, 1, 2)?,
        n_audio_head,
        n_audio_layer: layers("encoder"),
        n_text_ctx: dim(text_positions, 0, 2)?,
        n_text_state: dim(embeddings, 1, 2)?,
        n_text_head,
        n_text_layer: layers("decoder"),
        n_mels,
        ftype: ggml::FTYPE_MOSTLY_F16,
    })
}

/// The GPT-2 tokens of `vocabulary.txt` (one per line) as raw bytes, up to the first special.
fn read_vocabulary(path: &Path) -> Result<Vec<Vec<u8>>, Ct2Error> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut text = String::new();
    file.take(MAX_VOCABULARY_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io_error(path))?;
    if text.len() as u64 > MAX_VOCABULARY_BYTES {
        return Err(Ct2Error::Vocabulary {
            line: 0,
            reason: "file too large",
        });
    }
    parse_vocabulary(&text)
}

fn parse_vocabulary(text: &str) -> Result<Vec<Vec<u8>>, Ct2Error> {
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line == FIRST_SPECIAL_TOKEN {
            return Ok(tokens);
        }
        let bytes = bpe::decode_token(line).ok_or(Ct2Error::Vocabulary {
            line: i + 1,
            reason: "character outside the byte-level BPE alphabet",
        })?;
        tokens.push(bytes);
    }
    Err(Ct2Error::Vocabulary {
        line: tokens.len(),
        reason: "no <|endoftext|> token",
    })
}

/// One output tensor, resolved against the model: where to read and what to write.
struct Planned<'a> {
    mapping: Mapping,
    source: &'a Variable,
    out_dims: Vec<u64>,
    start: u64,
    len: u64,
}

impl Planned<'_> {
    fn elements(&self) -> u64 {
        self.out_dims.iter().product()
    }

    fn out_bytes(&self) -> u64 {
        let element = match self.mapping.storage {
            Storage::F16 => 2,
            Storage::F32 => 4,
        };
        self.elements() * element
    }
}

fn plan<'a>(index: &'a Index, hparams: &Hparams) -> Result<Vec<Planned<'a>>, Ct2Error> {
    let layers = |n: i32| u32::try_from(n).unwrap_or(0);
    names::whisper_tensors(layers(hparams.n_audio_layer), layers(hparams.n_text_layer))
        .into_iter()
        .map(|mapping| {
            let source = variable(index, &mapping.source)?;
            if !matches!(source.dtype, Dtype::F16 | Dtype::F32) {
                return Err(Ct2Error::UnsupportedDtype {
                    name: source.name.clone(),
                    dtype: source.dtype,
                });
            }
            let bad = |reason| Ct2Error::BadShape {
                name: source.name.clone(),
                dims: source.dims.clone(),
                reason,
            };
            let mut out_dims: Vec<u64> = source.dims.iter().map(|&d| u64::from(d)).collect();
            let (start, len) = match mapping.rows {
                None => (0, source.len),
                Some(block) => {
                    let first = out_dims.first_mut().ok_or(bad("scalar cannot be split"))?;
                    if *first % u64::from(block.parts) != 0 {
                        return Err(bad("rows do not split evenly"));
                    }
                    *first /= u64::from(block.parts);
                    let len = source.len / u64::from(block.parts);
                    (len * u64::from(block.part), len)
                }
            };
            if mapping.column {
                out_dims.push(1);
            }
            if out_dims.is_empty() {
                return Err(bad("scalar where a tensor was expected"));
            }
            Ok(Planned {
                mapping,
                source,
                out_dims,
                start,
                len,
            })
        })
        .collect()
}

enum TensorError {
    Read(Ct2Error),
    Write(std::io::Error),
}

fn write_tensor<R: Read + Seek, W: Write>(
    model: &mut R,
    out: &mut W,
    tensor: &Planned<'_>,
) -> Result<(), TensorError> {
    let raw = Index::read_bytes(model, tensor.source, tensor.start, tensor.len)
        .map_err(TensorError::Read)?;
    let storage = tensor.mapping.storage;
    ggml::write_tensor_header(out, &tensor.mapping.target, &tensor.out_dims, storage)
        .map_err(TensorError::Write)?;
    let converted = convert(&raw, tensor.source.dtype, storage);
    out.write_all(&converted).map_err(TensorError::Write)
}

/// Re-encodes little-endian float data between float16 and float32.
fn convert(raw: &[u8], from: Dtype, to: Storage) -> Vec<u8> {
    match (from, to) {
        (Dtype::F16, Storage::F32) => raw
            .chunks_exact(2)
            .flat_map(|c| half::f16_to_f32(u16::from_le_bytes([c[0], c[1]])).to_le_bytes())
            .collect(),
        (Dtype::F32, Storage::F16) => raw
            .chunks_exact(4)
            .flat_map(|c| {
                half::f32_to_f16(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes()
            })
            .collect(),
        _ => raw.to_vec(),
    }
}

#[cfg(test)]
mod tests;
