//! Semantic matching: example phrases (of intents, or of knowledge articles) embedded once,
//! an utterance's embedding scored against them.
//!
//! An entry's similarity is a weighted mean of the cosines of its closest examples (k-NN,
//! [`NEIGHBOUR_WEIGHTS`]: the closest counts 1, the runner-up 0.5). Development measurement on
//! tests/eval/dev.jsonl and dev2.jsonl (81 + 269 cases, the four industry dialplans with their
//! current example and `out_of_scope` lists, `voxdesk eval --text`, threshold 0.5): weights
//! 1 + 0.5 got 340 of 350 right, the single closest example (k = 1) 338, the mean of the
//! closest 2 339, of 3 334; a close call (2 cases), kept because it was never worse on any of
//! the four dialplans, and the threshold is flat from 0.4 to 0.5. An earlier measurement on
//! dev.jsonl alone with shorter example lists found k = 1 74 %, k = 2 74 %, k = 3 73 %, k = 5
//! 70 %, and mixing in the keyword score (20–50 %) only lowered it (72–69 %). Cosines are
//! mapped linearly onto the keyword matcher's confidence scale ([`COSINE_AT_ZERO`] → 0,
//! [`COSINE_AT_ONE`] → 1), so a dialplan's `threshold` means the same with either matcher.
//!
//! Vectors are cached in a file beside the dialplan, keyed by a SHA-256 of the model's
//! identity and every example text: loading a dialplan with a hundred examples then costs a
//! file read instead of a hundred model runs. A cache that is missing, stale or unreadable is
//! rebuilt; one that cannot be written is skipped.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::embed::{cosine, EmbedError, Embedder, DIM};
use super::intents::IntentScore;

/// Weights of an entry's closest examples, closest first, in its weighted mean: the
/// runner-up counts half, so one stray example close to an utterance weighs less than two
/// (see module docs).
pub const NEIGHBOUR_WEIGHTS: [f32; 2] = [1.0, 0.5];
/// Cosine mapped to confidence 0.
pub const COSINE_AT_ZERO: f32 = -0.15;
/// Cosine mapped to confidence 1: only near-verbatim examples saturate, so an intent and a
/// knowledge article can still be told apart when both are close. With [`COSINE_AT_ZERO`]
/// this puts the default threshold 0.5 at cosine 0.325, the best cut on
/// tests/eval/dev.jsonl.
pub const COSINE_AT_ONE: f32 = 0.8;
/// Most example phrases embedded for one index.
pub const MAX_EXAMPLES: usize = 4096;

const CACHE_MAGIC: &[u8; 8] = b"VXEMB01\n";

/// Named entries (intents or articles), each with embedded example phrases.
#[derive(Debug, Clone)]
pub struct SemanticIndex {
    names: Vec<String>,
    /// (entry index, unit vector)
    examples: Vec<(usize, Vec<f32>)>,
}

impl SemanticIndex {
    /// Embeds `entries` (name, example phrases), reading and writing `cache` when given.
    pub fn build(
        embedder: &Embedder,
        entries: &[(String, Vec<String>)],
        cache: Option<&Path>,
    ) -> Result<SemanticIndex, EmbedError> {
        let mut owners = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for (index, (_, examples)) in entries.iter().enumerate() {
            for example in examples {
                if texts.len() < MAX_EXAMPLES {
                    owners.push(index);
                    texts.push(example);
                }
            }
        }
        let key = cache_key(embedder.identity(), &texts);
        let vectors = match cache.and_then(|path| read_cache(path, &key, texts.len())) {
            Some(vectors) => vectors,
            None => {
                let vectors = embedder.embed(&texts)?;
                if let Some(path) = cache {
                    if let Err(e) = write_cache(path, &key, &vectors) {
                        tracing::debug!("embedding cache {} not written: {e}", path.display());
                    }
                }
                vectors
            }
        };
        Ok(SemanticIndex {
            names: entries.iter().map(|(name, _)| name.clone()).collect(),
            examples: owners.into_iter().zip(vectors).collect(),
        })
    }

    /// Every entry's confidence for an utterance embedding, best first; ties keep
    /// declaration order.
    pub fn scores(&self, utterance: &[f32]) -> Vec<IntentScore> {
        let mut per_entry: Vec<Vec<f32>> = vec![Vec::new(); self.names.len()];
        for (owner, vector) in &self.examples {
            if let Some(list) = per_entry.get_mut(*owner) {
                list.push(cosine(utterance, vector));
            }
        }
        let mut scores: Vec<IntentScore> = self
            .names
            .iter()
            .zip(per_entry)
            .map(|(name, mut cosines)| {
                cosines.sort_by(|a, b| b.total_cmp(a));
                IntentScore {
                    intent: name.clone(),
                    confidence: confidence(weighted_mean(&cosines)),
                }
            })
            .collect();
        scores.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        scores
    }
}

/// The [`NEIGHBOUR_WEIGHTS`] mean of `cosines` (sorted, closest first); 0 for none.
fn weighted_mean(cosines: &[f32]) -> f32 {
    let (sum, weights) = cosines
        .iter()
        .zip(NEIGHBOUR_WEIGHTS)
        .fold((0.0, 0.0), |(sum, weights), (c, w)| {
            (sum + c * w, weights + w)
        });
    if weights > 0.0 {
        sum / weights
    } else {
        0.0
    }
}

/// A cosine on the keyword matcher's confidence scale.
pub fn confidence(cosine: f32) -> f32 {
    ((cosine - COSINE_AT_ZERO) / (COSINE_AT_ONE - COSINE_AT_ZERO)).clamp(0.0, 1.0)
}

fn cache_key(model: &str, texts: &[&str]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(model.as_bytes());
    hash.update([0]);
    for text in texts {
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    hash.finalize().into()
}

/// The cached vectors if the file is ours, for this key, and complete.
fn read_cache(path: &Path, key: &[u8; 32], count: usize) -> Option<Vec<Vec<f32>>> {
    let expected = CACHE_MAGIC.len() + key.len() + count * DIM * 4;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(expected as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    if bytes.len() != expected {
        return None;
    }
    let (magic, rest) = bytes.split_at(CACHE_MAGIC.len());
    let (stored_key, floats) = rest.split_at(key.len());
    if magic != CACHE_MAGIC || stored_key != key {
        return None;
    }
    let values: Vec<f32> = floats
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(values.chunks(DIM).map(<[f32]>::to_vec).collect())
}

/// Writes through a temporary file so a reader never sees half a cache.
fn write_cache(path: &Path, key: &[u8; 32], vectors: &[Vec<f32>]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        out.write_all(CACHE_MAGIC)?;
        out.write_all(key)?;
        for vector in vectors {
            for value in vector {
                out.write_all(&value.to_le_bytes())?;
            }
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_maps_the_cosine_range() {
        assert_eq!(confidence(-0.3), 0.0);
        assert_eq!(confidence(COSINE_AT_ZERO), 0.0);
        assert!((confidence(0.325) - 0.5).abs() < 1e-6);
        assert_eq!(confidence(0.95), 1.0);
    }

    #[test]
    fn weighted_mean_counts_the_runner_up_half() {
        assert_eq!(weighted_mean(&[]), 0.0);
        assert_eq!(weighted_mean(&[0.6]), 0.6);
        assert!((weighted_mean(&[0.9, 0.3]) - 0.7).abs() < 1e-6);
        assert!((weighted_mean(&[0.9, 0.3, 0.3, 0.3]) - 0.7).abs() < 1e-6);
    }

    #[test]
    fn cache_round_trips_and_rejects_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.embeddings");
        let key = cache_key("model", &["a", "b"]);
        let vectors = vec![vec![0.5f32; DIM], vec![-0.25f32; DIM]];
        write_cache(&path, &key, &vectors).unwrap();
        assert_eq!(read_cache(&path, &key, 2), Some(vectors));
        assert_eq!(read_cache(&path, &cache_key("model", &["a", "c"]), 2), None);
        assert_eq!(read_cache(&path, &key, 3), None);
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(read_cache(&path, &key, 2), None);
    }

    #[test]
    fn keys_depend_on_model_and_text_boundaries() {
        assert_ne!(cache_key("m", &["ab", "c"]), cache_key("m", &["a", "bc"]));
        assert_ne!(cache_key("m1", &["a"]), cache_key("m2", &["a"]));
    }

    #[test]
    fn knn_scores_with_a_real_model() {
        let Some(embedder) = super::super::embed::tests_support::model() else {
            return;
        };
        let entries = vec![
            (
                "order_status".to_string(),
                vec![
                    "where is my order".to_string(),
                    "track my package".to_string(),
                ],
            ),
            (
                "opening_hours".to_string(),
                vec![
                    "when are you open".to_string(),
                    "what time do you close".to_string(),
                ],
            ),
        ];
        let index = SemanticIndex::build(embedder, &entries, None).unwrap();
        let utterance = embedder
            .embed_one("has my parcel been shipped yet")
            .unwrap();
        let scores = index.scores(&utterance);
        assert_eq!(scores[0].intent, "order_status");
        assert!(
            scores[0].confidence > scores[1].confidence + 0.2,
            "{scores:?}"
        );
    }
}
