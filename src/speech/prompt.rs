//! The prompt cache: spoken text and prompt files as shared 8 kHz mono audio, made once.
//!
//! A greeting is played on every call, so [`PromptCache`] keeps each result (keyed by text and
//! voice, or by file path, modification time and size) as an `Arc<[i16]>` that every call
//! shares. The cache is bounded by entry count and total samples and evicts the least recently
//! used entry; it is hand-written because a linear scan over a few hundred entries is all it
//! needs and no LRU crate is in the tree. Work happens outside the cache lock, so two callers
//! missing on the same key may both synthesise; the first result stored wins.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use super::tts::{self, TtsError, DEFAULT_RATE_WPM, RATE_WPM};
use super::wav::decode_wav;

/// Bounds of a [`PromptCache`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptCacheLimits {
    /// Most prompts kept.
    pub max_entries: usize,
    /// Most samples kept over all prompts (8000 = one second).
    pub max_samples: usize,
}

impl Default for PromptCacheLimits {
    /// 256 prompts or 10 minutes of audio (about 9.6 MB), whichever is reached first.
    fn default() -> Self {
        Self {
            max_entries: 256,
            max_samples: 10 * 60 * 8_000,
        }
    }
}

/// Shared, bounded cache of prompt audio; cheap to clone, usable from any thread or task.
#[derive(Clone, Debug)]
pub struct PromptCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rate_wpm: u16,
    entries: Mutex<Lru>,
}

impl PromptCache {
    /// A cache speaking at [`DEFAULT_RATE_WPM`].
    pub fn new(limits: PromptCacheLimits) -> Self {
        Self::build(limits, DEFAULT_RATE_WPM)
    }

    /// A cache speaking at `rate_wpm` words per minute (80..=450).
    pub fn with_rate(limits: PromptCacheLimits, rate_wpm: u16) -> Result<Self, TtsError> {
        if !RATE_WPM.contains(&rate_wpm) {
            return Err(TtsError::InvalidRate(rate_wpm));
        }
        Ok(Self::build(limits, rate_wpm))
    }

    fn build(limits: PromptCacheLimits, rate_wpm: u16) -> Self {
        Self {
            inner: Arc::new(Inner {
                rate_wpm,
                entries: Mutex::new(Lru::new(limits)),
            }),
        }
    }

    /// `text` spoken by espeak-ng voice `voice` (e.g. `"en-us"`), 8 kHz mono; synthesised on
    /// the first request, shared afterwards. Blocks for a few milliseconds on a miss.
    pub fn synthesize(&self, text: &str, voice: &str) -> Result<Arc<[i16]>, TtsError> {
        let key = Key::Speech {
            text: text.to_owned(),
            voice: voice.to_owned(),
        };
        if let Some(hit) = self.lookup(&key) {
            return Ok(hit);
        }
        let audio = tts::synthesize(text, voice, self.inner.rate_wpm)?;
        Ok(self.store(key, audio.into()))
    }

    /// [`Self::synthesize`] for async callers: a miss runs on tokio's blocking pool.
    pub async fn synthesize_async(&self, text: &str, voice: &str) -> Result<Arc<[i16]>, TtsError> {
        let key = Key::Speech {
            text: text.to_owned(),
            voice: voice.to_owned(),
        };
        if let Some(hit) = self.lookup(&key) {
            return Ok(hit);
        }
        let cache = self.clone();
        let (text, voice) = (text.to_owned(), voice.to_owned());
        tokio::task::spawn_blocking(move || cache.synthesize(&text, &voice)).await?
    }

    /// The WAV file at `path` as 8 kHz mono (see [`super::wav`] for accepted formats); read
    /// again only when its modification time or size changes.
    pub fn load_wav(&self, path: &Path) -> Result<Arc<[i16]>, TtsError> {
        let in_file = |source: TtsError| TtsError::PromptFile {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let metadata = std::fs::metadata(path).map_err(|e| in_file(e.into()))?;
        let key = Key::File {
            path: path.to_owned(),
            modified: metadata.modified().ok(),
            len: metadata.len(),
        };
        if let Some(hit) = self.lookup(&key) {
            return Ok(hit);
        }
        let file = File::open(path).map_err(|e| in_file(e.into()))?;
        let audio = decode_wav(BufReader::new(file)).map_err(in_file)?;
        Ok(self.store(key, audio.into()))
    }

    /// [`Self::load_wav`] for async callers: a miss runs on tokio's blocking pool.
    pub async fn load_wav_async(&self, path: &Path) -> Result<Arc<[i16]>, TtsError> {
        let cache = self.clone();
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || cache.load_wav(&path)).await?
    }

    fn lookup(&self, key: &Key) -> Option<Arc<[i16]>> {
        self.entries().get(key)
    }

    fn store(&self, key: Key, audio: Arc<[i16]>) -> Arc<[i16]> {
        self.entries().insert(key, audio)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Lru> {
        // Every Lru method leaves it consistent before anything that could panic.
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Speech {
        text: String,
        voice: String,
    },
    File {
        path: PathBuf,
        modified: Option<SystemTime>,
        len: u64,
    },
}

/// Least-recently-used map bounded by entry count and total samples.
#[derive(Debug)]
struct Lru {
    limits: PromptCacheLimits,
    entries: HashMap<Key, Entry>,
    samples: usize,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    audio: Arc<[i16]>,
    last_used: u64,
}

impl Lru {
    fn new(limits: PromptCacheLimits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
            samples: 0,
            clock: 0,
        }
    }

    fn get(&mut self, key: &Key) -> Option<Arc<[i16]>> {
        self.clock += 1;
        let entry = self.entries.get_mut(key)?;
        entry.last_used = self.clock;
        Some(Arc::clone(&entry.audio))
    }

    /// Stores `audio` unless `key` is already present (then returns the stored audio), evicting
    /// least recently used entries to make room. Audio larger than the whole budget is returned
    /// but not kept.
    fn insert(&mut self, key: Key, audio: Arc<[i16]>) -> Arc<[i16]> {
        if let Some(existing) = self.get(&key) {
            return existing;
        }
        if audio.len() > self.limits.max_samples || self.limits.max_entries == 0 {
            return audio;
        }
        while self.entries.len() >= self.limits.max_entries
            || self.samples + audio.len() > self.limits.max_samples
        {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.samples -= evicted.audio.len();
            }
        }
        self.samples += audio.len();
        let entry = Entry {
            audio: Arc::clone(&audio),
            last_used: self.clock,
        };
        self.entries.insert(key, entry);
        audio
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{SampleFormat, WavSpec, WavWriter};

    fn speech(text: &str) -> Key {
        Key::Speech {
            text: text.to_owned(),
            voice: "en".to_owned(),
        }
    }

    fn audio(len: usize) -> Arc<[i16]> {
        vec![1; len].into()
    }

    #[test]
    fn lru_evicts_least_recently_used_within_both_bounds() {
        struct Case {
            max_entries: usize,
            max_samples: usize,
            /// (key, samples) inserted in order.
            inserts: &'static [(&'static str, usize)],
            /// A key read after every insert, so it stays recently used.
            touch: Option<&'static str>,
            kept: &'static [&'static str],
        }
        let case = |max_entries, max_samples, inserts, touch, kept| Case {
            max_entries,
            max_samples,
            inserts,
            touch,
            kept,
        };
        let abc = &[("a", 1), ("b", 1), ("c", 1)];
        let cases = [
            case(2, 100, abc, None, &["b", "c"]),
            case(2, 100, abc, Some("a"), &["a", "c"]),
            case(10, 10, &[("a", 4), ("b", 4), ("c", 4)], None, &["b", "c"]),
            case(10, 10, &[("a", 4), ("b", 4), ("c", 8)], None, &["c"]),
            case(10, 10, &[("a", 4), ("huge", 11)], None, &["a"]),
        ];
        for Case {
            max_entries,
            max_samples,
            inserts,
            touch,
            kept,
        } in cases
        {
            let mut lru = Lru::new(PromptCacheLimits {
                max_entries,
                max_samples,
            });
            for (key, len) in inserts {
                lru.insert(speech(key), audio(*len));
                if let Some(touch) = touch {
                    lru.get(&speech(touch));
                }
            }
            let mut present: Vec<&str> = ["a", "b", "c", "huge"]
                .into_iter()
                .filter(|key| lru.entries.contains_key(&speech(key)))
                .collect();
            present.sort_unstable();
            assert_eq!(present, kept, "{max_entries}/{max_samples} {inserts:?}");
            let total: usize = lru.entries.values().map(|e| e.audio.len()).sum();
            assert_eq!(lru.samples, total);
            assert!(lru.samples <= max_samples && lru.entries.len() <= max_entries);
        }
    }

    #[test]
    fn first_stored_audio_wins() {
        let mut lru = Lru::new(PromptCacheLimits::default());
        let first = lru.insert(speech("a"), audio(3));
        let second = lru.insert(speech("a"), audio(3));
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn greeting_is_synthesized_once() {
        let cache = PromptCache::new(PromptCacheLimits::default());
        let first = cache
            .synthesize("Hello, thank you for calling.", "en-us")
            .expect("synthesize");
        let second = cache
            .synthesize("Hello, thank you for calling.", "en-us")
            .expect("synthesize");
        assert!(Arc::ptr_eq(&first, &second));
        let other_voice = cache
            .synthesize("Hello, thank you for calling.", "en")
            .expect("synthesize");
        assert!(!Arc::ptr_eq(&first, &other_voice));
    }

    #[test]
    fn bad_voice_and_rate_are_errors() {
        let cache = PromptCache::new(PromptCacheLimits::default());
        assert!(matches!(
            cache.synthesize("Hello", "klingon-xx"),
            Err(TtsError::UnknownVoice(_))
        ));
        assert!(matches!(
            PromptCache::with_rate(PromptCacheLimits::default(), 1_000),
            Err(TtsError::InvalidRate(1_000))
        ));
    }

    #[test]
    fn wav_is_downmixed_resampled_and_cached_until_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("greeting.wav");
        let write = |seconds: f32| {
            let spec = WavSpec {
                channels: 2,
                sample_rate: 16_000,
                bits_per_sample: 16,
                sample_format: SampleFormat::Int,
            };
            let mut writer = WavWriter::create(&path, spec).expect("create");
            for n in 0..(16_000.0 * seconds) as i32 {
                // A 1 kHz tone on the left only: averaging the channels halves its level.
                let phase = std::f32::consts::TAU * 1_000.0 * n as f32 / 16_000.0;
                writer
                    .write_sample((16_000.0 * phase.sin()) as i16)
                    .expect("left");
                writer.write_sample(0i16).expect("right");
            }
            writer.finalize().expect("finalize");
        };
        write(1.5);
        let cache = PromptCache::new(PromptCacheLimits::default());
        let first = cache.load_wav(&path).expect("load");
        assert_eq!(first.len(), 12_000);
        let peak = first.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((7_600..=8_400).contains(&peak), "peak {peak}");
        assert!(Arc::ptr_eq(&first, &cache.load_wav(&path).expect("again")));

        write(0.5); // a different size, so a new key even within one mtime tick
        assert_eq!(cache.load_wav(&path).expect("changed").len(), 4_000);
    }

    #[test]
    fn missing_wav_names_the_file() {
        let cache = PromptCache::new(PromptCacheLimits::default());
        let err = cache
            .load_wav(Path::new("/nonexistent/prompt.wav"))
            .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/prompt.wav"), "{err}");
    }

    #[tokio::test]
    async fn async_synthesis_shares_the_cache() {
        let cache = PromptCache::new(PromptCacheLimits::default());
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.synthesize_async("Please hold.", "en-us").await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("join").expect("synthesize"));
        }
        let cached = cache.synthesize("Please hold.", "en-us").expect("cached");
        assert!(results.iter().all(|audio| !audio.is_empty()));
        assert!(Arc::ptr_eq(
            &cached,
            &cache
                .synthesize_async("Please hold.", "en-us")
                .await
                .expect("hit")
        ));
    }
}
