//! Sentence embeddings on the CPU with all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions):
//! the vectors behind semantic intent matching. Owns loading the model directory that
//! `tests/setup.sh` prepares (`config.json`, `tokenizer.json`, `model.safetensors`) and the
//! sentence-transformers recipe on top of candle's BERT: tokenize, run the encoder, mean-pool
//! the token vectors weighted by the attention mask, L2-normalise.
//!
//! Texts are caller transcripts, hence untrusted: each is cut to [`MAX_TEXT_BYTES`] before
//! tokenizing and to [`MAX_TOKENS`] tokens after, and batches run [`BATCH`] texts at a time,
//! so one call's memory and time are bounded per text. The empty text is not an error: it
//! embeds as `[CLS] [SEP]`, a valid unit vector that is close to nothing in particular.
//!
//! Threads: an [`Embedder`] computes on one thread of its own, and concurrent callers queue
//! for it. candle would otherwise split every matrix product across rayon's global pool (one
//! thread per core), which on a 2-core box busy with speech recognition measured 2× slower
//! for a batch of 32 utterances and no faster for one, and would let embeddings take every
//! core from the calls. One embedding is ~10 ms of that thread; callers on tokio use
//! `spawn_blocking`.

use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

/// Dimensions of one embedding.
pub const DIM: usize = 384;
/// Where `tests/setup.sh` puts the model, relative to the working directory.
pub const DEFAULT_DIR: &str = "models/all-MiniLM-L6-v2";
/// Tokens per text, `[CLS]` and `[SEP]` included. The model was trained on sequences of at
/// most 128 tokens (its README; sentence_bert_config.json allows 256 at inference), and one spoken
/// utterance is a sentence or two, ~10–40 tokens, so 128 loses nothing a caller says in one
/// turn while at least halving the worst-case cost against 256 (attention is quadratic in length).
pub const MAX_TOKENS: usize = 128;
/// Bytes of a text the tokenizer sees: word pieces average 4–5 bytes of English, so 4 KiB
/// holds far more than [`MAX_TOKENS`] of them while stopping a megabyte of junk from being
/// normalised and split only to be thrown away.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Texts per forward pass: bounds the activations (~BATCH × 128 × 1536 floats at most).
pub const BATCH: usize = 32;

/// A question, a paraphrase sharing no content word with it, and an unrelated question: any
/// working sentence model puts the first nearer the second than the third.
pub const PROBE: [&str; 3] = [
    "where is my parcel",
    "track my order",
    "what are your opening hours",
];

/// Similarities of [`PROBE`]'s first sentence to the other two.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    /// To the paraphrase.
    pub near: f32,
    /// To the unrelated question.
    pub far: f32,
}

const MAX_CONFIG_BYTES: u64 = 1 << 20;
const MAX_TOKENIZER_BYTES: u64 = 32 << 20;
const MAX_MODEL_BYTES: u64 = 512 << 20;

/// Why a model could not be loaded or a text not embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model ranks [`PROBE`]'s sentences wrongly: it loads but does not mean anything.
    #[error(
        "probe: the unrelated question scores {far_similarity:.3}, the paraphrase only \
         {near_similarity:.3}"
    )]
    Probe {
        /// Similarity of the first sentence to the second.
        near_similarity: f32,
        /// Similarity of the first sentence to the third.
        far_similarity: f32,
    },
    /// A model file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model file is larger than any sane copy of this model.
    #[error("{path}: larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit it exceeds.
        limit: u64,
    },
    /// `config.json` is not a BERT configuration.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The configuration is BERT but not the shape this module pools.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The embedding thread could not be started.
    #[error("thread: {0}")]
    Thread(#[from] rayon::ThreadPoolBuildError),
    /// `tokenizer.json` could not be loaded, or a text not tokenized.
    #[error("tokenizer: {0}")]
    Tokenizer(tokenizers::Error),
    /// The weights do not fit the configuration, or a tensor operation failed.
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
}

/// A loaded all-MiniLM-L6-v2. Immutable after [`Embedder::load`], so one instance is shared
/// by reference (or `Arc`) across threads.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    compute: rayon::ThreadPool,
    identity: String,
}

// Shared across call tasks through an Arc: keep it that way when fields change.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Embedder>();
};

impl Embedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        let config_path = dir.join("config.json");
        let config: Config = serde_json::from_slice(&read_bounded(&config_path, MAX_CONFIG_BYTES)?)
            .map_err(|source| EmbedError::Config {
                path: config_path.clone(),
                source,
            })?;
        check_config(&config)?;

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes = read_bounded(&tokenizer_path, MAX_TOKENIZER_BYTES)?;
        let mut identity = Sha256::new();
        identity.update(&tokenizer_bytes);
        let mut tokenizer =
            Tokenizer::from_bytes(tokenizer_bytes).map_err(EmbedError::Tokenizer)?;
        // tokenizer.json pads every text to 128; batches pad to their longest text instead.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(EmbedError::Tokenizer)?;

        // Read rather than mmap: a file changed under a mapping is undefined behaviour.
        let device = Device::Cpu;
        let weights = read_bounded(&dir.join("model.safetensors"), MAX_MODEL_BYTES)?;
        identity.update(&weights);
        let identity: String = identity
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)?;
        drop(weights);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config)?;
        let compute = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "voxdesk-embed".into())
            .build()?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
            compute,
            identity,
        })
    }

    /// SHA-256 (hex) of the tokenizer and weights: what cached vectors were made with.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// L2-normalised mean-pooled (attention-mask weighted) embeddings, one per text, [`DIM`]
    /// floats each, like sentence-transformers. Texts longer than [`MAX_TOKENS`] tokens are
    /// embedded from their start.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Inside the pool, candle's rayon work runs on its one thread (see the module doc).
        self.compute.install(|| self.embed_here(texts))
    }

    fn embed_here(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut encoded = Vec::with_capacity(texts.len());
        for text in texts {
            let encoding = self
                .tokenizer
                .encode(prefix(text, MAX_TEXT_BYTES), true)
                .map_err(EmbedError::Tokenizer)?;
            encoded.push(encoding.get_ids().to_vec());
        }
        // Similar lengths share a batch, so little of it is padding.
        let mut order: Vec<usize> = (0..encoded.len()).collect();
        order.sort_by_key(|&i| encoded.get(i).map_or(0, Vec::len));
        let mut out = vec![Vec::new(); encoded.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk
                .iter()
                .filter_map(|&i| encoded.get(i).map(Vec::as_slice))
                .collect();
            let vectors = self.forward(&batch)?;
            for (&i, vector) in chunk.iter().zip(vectors) {
                if let Some(slot) = out.get_mut(i) {
                    *slot = vector;
                }
            }
        }
        Ok(out)
    }

    /// The embedding of one text; see [`Embedder::embed`].
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed(&[text])?
            .pop()
            .ok_or_else(|| EmbedError::Unsupported("no embedding for one text".into()))
    }

    /// Embeds [`PROBE`] and checks its ordering: `models embed-verify` and setup run this on
    /// a freshly unpacked model.
    pub fn probe(&self) -> Result<ProbeResult, EmbedError> {
        let vectors = self.embed(&PROBE)?;
        let [query, near, far] = vectors.as_slice() else {
            return Err(EmbedError::Unsupported(
                "probe: wrong number of vectors".into(),
            ));
        };
        let result = ProbeResult {
            near: cosine(query, near),
            far: cosine(query, far),
        };
        if result.near > result.far {
            Ok(result)
        } else {
            Err(EmbedError::Probe {
                near_similarity: result.near,
                far_similarity: result.far,
            })
        }
    }

    /// One padded batch through the encoder, pooled and normalised.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let len = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for row in batch {
            ids.extend_from_slice(row);
            ids.resize(ids.len() + len - row.len(), 0);
            mask.resize(mask.len() + row.len(), 1u32);
            mask.resize(mask.len() + len - row.len(), 0);
        }
        let shape = (batch.len(), len);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;

        let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
        // Every row holds [CLS] and [SEP], so no count is zero; the floor only guards it.
        let counts = weights.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}

/// Dot product of two L2-normalised vectors (0 when lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn check_config(config: &Config) -> Result<(), EmbedError> {
    if config.hidden_size != DIM {
        return Err(EmbedError::Unsupported(format!(
            "hidden_size {}, expected {DIM}",
            config.hidden_size
        )));
    }
    if config.max_position_embeddings < MAX_TOKENS {
        return Err(EmbedError::Unsupported(format!(
            "max_position_embeddings {} < {MAX_TOKENS}",
            config.max_position_embeddings
        )));
    }
    Ok(())
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn prefix(text: &str, max: usize) -> &str {
    let end = (0..=max.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text.get(..end).unwrap_or("")
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, EmbedError> {
    let read_error = |source| EmbedError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(EmbedError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "embed_tests.rs"]
mod tests;

/// The model setup.sh prepares, for tests in other modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::{Embedder, DEFAULT_DIR};

    /// Loaded once, or `None` (with a note) when setup has not prepared it.
    pub(crate) fn model() -> Option<&'static Embedder> {
        static EMBEDDER: std::sync::OnceLock<Option<Embedder>> = std::sync::OnceLock::new();
        EMBEDDER
            .get_or_init(|| {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DIR);
                if !dir.join("model.safetensors").exists() {
                    eprintln!(
                        "skipping: {} missing (tests/setup.sh prepares it)",
                        dir.display()
                    );
                    return None;
                }
                match Embedder::load(&dir) {
                    Ok(embedder) => Some(embedder),
                    Err(e) => panic!("loading {}: {e}", dir.display()),
                }
            })
            .as_ref()
    }
}
