use proptest::prelude::*;

use super::*;

/// The setup.sh model, loaded once for all tests, or `None` (with a note) when it has not
/// been prepared.
fn embedder() -> Option<&'static Embedder> {
    super::tests_support::model()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn assert_close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= tolerance, "{what}: differs by {worst}");
}

#[test]
fn cosine_of_unit_vectors() {
    let s = std::f32::consts::FRAC_1_SQRT_2;
    let cases: &[(&[f32], &[f32], f32)] = &[
        (&[1.0, 0.0], &[1.0, 0.0], 1.0),
        (&[1.0, 0.0], &[0.0, 1.0], 0.0),
        (&[1.0, 0.0], &[-1.0, 0.0], -1.0),
        (&[s, s], &[1.0, 0.0], s),
        (&[1.0, 0.0], &[1.0, 0.0, 0.0], 0.0),
        (&[], &[], 0.0),
    ];
    for (a, b, want) in cases {
        let got = cosine(a, b);
        assert!((got - want).abs() < 1e-6, "cosine({a:?}, {b:?}) = {got}");
        assert_eq!(got, cosine(b, a));
    }
}

#[test]
fn prefix_cuts_on_char_boundaries() {
    let cases = [
        ("hello", 10, "hello"),
        ("hello", 5, "hello"),
        ("hello", 3, "hel"),
        ("", 3, ""),
        ("héllo", 2, "h"),
        ("héllo", 3, "hé"),
        ("日本", 4, "日"),
        ("日本", 0, ""),
    ];
    for (text, max, want) in cases {
        assert_eq!(prefix(text, max), want, "prefix({text:?}, {max})");
    }
}

proptest! {
    #[test]
    fn prefix_is_the_longest_valid_prefix(text in "\\PC{0,40}", max in 0usize..64) {
        let cut = prefix(&text, max);
        prop_assert!(text.starts_with(cut));
        prop_assert!(cut.len() <= max);
        // One more char would not fit.
        if let Some(next) = text[cut.len()..].chars().next() {
            prop_assert!(cut.len() + next.len_utf8() > max);
        }
    }
}

const MINILM_CONFIG: &str = r#"{"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1,
  "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 384,
  "initializer_range": 0.02, "intermediate_size": 1536, "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12,
  "num_hidden_layers": 6, "pad_token_id": 0, "position_embedding_type": "absolute",
  "type_vocab_size": 2, "vocab_size": 30522}"#;

const TINY_TOKENIZER: &str = r#"{"version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
  "post_processor": null, "decoder": null,
  "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1}, "unk_token": "[UNK]"}}"#;

/// Loads a directory holding the given files (`None` = absent).
fn load_files(
    config: Option<&str>,
    tokenizer: Option<&str>,
    weights: Option<&[u8]>,
) -> Result<Embedder, EmbedError> {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = config {
        std::fs::write(dir.path().join("config.json"), config).unwrap();
    }
    if let Some(tokenizer) = tokenizer {
        std::fs::write(dir.path().join("tokenizer.json"), tokenizer).unwrap();
    }
    if let Some(weights) = weights {
        std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    }
    Embedder::load(dir.path())
}

#[test]
fn broken_model_directories_are_errors() {
    let wide = MINILM_CONFIG.replace("\"hidden_size\": 384", "\"hidden_size\": 768");
    let short = MINILM_CONFIG.replace("512", "64");
    // An empty safetensors file: an 8-byte header length, then the header `{}` padded.
    let mut no_tensors = 8u64.to_le_bytes().to_vec();
    no_tensors.extend_from_slice(b"{}      ");
    let cases: Vec<(&str, Result<Embedder, EmbedError>)> = vec![
        ("no files", load_files(None, None, None)),
        ("not json", load_files(Some("{"), None, None)),
        (
            "not bert",
            load_files(Some(r#"{"hidden_size": 384}"#), None, None),
        ),
        ("768 wide", load_files(Some(&wide), None, None)),
        ("64 positions", load_files(Some(&short), None, None)),
        (
            "no tokenizer",
            load_files(Some(MINILM_CONFIG), None, Some(b"")),
        ),
        (
            "bad tokenizer",
            load_files(Some(MINILM_CONFIG), Some("[]"), Some(b"")),
        ),
        (
            "no weights",
            load_files(Some(MINILM_CONFIG), Some(TINY_TOKENIZER), None),
        ),
        (
            "garbage weights",
            load_files(Some(MINILM_CONFIG), Some(TINY_TOKENIZER), Some(b"garbage")),
        ),
        (
            "empty weights",
            load_files(Some(MINILM_CONFIG), Some(TINY_TOKENIZER), Some(&no_tensors)),
        ),
    ];
    for (what, result) in cases {
        let kind = match result {
            Ok(_) => panic!("{what}: loaded"),
            Err(EmbedError::Read { .. }) => "read",
            Err(EmbedError::Config { .. }) => "config",
            Err(EmbedError::Unsupported(_)) => "unsupported",
            Err(EmbedError::Tokenizer(_)) => "tokenizer",
            Err(EmbedError::Model(_)) => "model",
            Err(e) => panic!("{what}: {e}"),
        };
        let want = match what {
            "no files" | "no tokenizer" | "no weights" => "read",
            "not json" | "not bert" => "config",
            "768 wide" | "64 positions" => "unsupported",
            "bad tokenizer" => "tokenizer",
            _ => "model",
        };
        assert_eq!(kind, want, "{what}");
    }
}

#[test]
fn embeddings_are_unit_vectors_of_dim() {
    let Some(embedder) = embedder() else { return };
    let texts = [
        "",
        "   ",
        "track my order",
        "I would like to check the status of my order please",
        "日本語のテキスト",
        "\u{0}\u{7f}\u{200b}\u{feff}",
        "????!!!! ,,,, ....",
    ];
    let vectors = embedder.embed(&texts).unwrap();
    assert_eq!(vectors.len(), texts.len());
    for (text, v) in texts.iter().zip(&vectors) {
        assert_eq!(v.len(), DIM, "{text:?}");
        assert!((norm(v) - 1.0).abs() < 1e-4, "{text:?}: norm {}", norm(v));
        assert!(v.iter().all(|x| x.is_finite()), "{text:?}");
    }
    assert!(embedder.embed(&[]).unwrap().is_empty());
}

#[test]
fn paraphrases_are_closer_than_unrelated_questions() {
    let Some(embedder) = embedder() else { return };
    let probe = embedder.probe().unwrap();
    // Reference values: near 0.393, far 0.055.
    assert!((probe.near - 0.393).abs() < 0.01, "{probe:?}");
    assert!((probe.far - 0.055).abs() < 0.01, "{probe:?}");
    let v = |t| embedder.embed_one(t).unwrap();
    let order = v("I want to know where my order is");
    assert!(
        cosine(&order, &v("track my order")) > cosine(&order, &v("I want to speak to a person"))
    );
}

#[test]
fn matches_the_reference_implementation() {
    let Some(embedder) = embedder() else { return };
    // First components of sentence-transformers' all-MiniLM-L6-v2 vectors, computed by an
    // independent numpy forward pass over the same safetensors and tokenizer.json.
    // Full vectors agreed to within 3e-7 (cosine 1.000000) on ten texts when this was written.
    let cases: [(&str, [f32; 4]); 3] = [
        (
            "track my order",
            [-0.027445, -0.042773, 0.070574, -0.011666],
        ),
        (
            "what are your opening hours",
            [0.051103, -0.043817, 0.007472, 0.020841],
        ),
        ("", [-0.118838, 0.048299, -0.002548, -0.011011]),
    ];
    for (text, want) in cases {
        let got = embedder.embed_one(text).unwrap();
        assert_close(&got[..4], &want, 1e-4, text);
    }
}

#[test]
fn a_batch_equals_its_texts_one_by_one() {
    let Some(embedder) = embedder() else { return };
    // More than one BATCH, with lengths mixed so rows are padded and reordered.
    let texts: Vec<String> = (0..BATCH + 5)
        .map(|i| match i % 4 {
            0 => format!("order number {i}"),
            1 => "what are your opening hours on a bank holiday weekend".to_string(),
            2 => String::new(),
            _ => "yes".repeat(i),
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = embedder.embed(&refs).unwrap();
    assert_eq!(batch.len(), texts.len());
    for (text, together) in refs.iter().zip(&batch) {
        let alone = embedder.embed_one(text).unwrap();
        assert_close(together, &alone, 1e-4, text);
    }
}

#[test]
fn long_texts_embed_as_their_first_tokens() {
    let Some(embedder) = embedder() else { return };
    // "hello " is one token: [CLS] + 126 words + [SEP] fill MAX_TOKENS exactly.
    let fits = "hello ".repeat(MAX_TOKENS - 2);
    let long = "hello ".repeat(100_000);
    let fits_vector = embedder.embed_one(&fits).unwrap();
    let long_vector = embedder.embed_one(&long).unwrap();
    assert_close(&fits_vector, &long_vector, 1e-4, "long text");
    let one_word = embedder.embed_one(&"x".repeat(1 << 20)).unwrap();
    assert!((norm(&one_word) - 1.0).abs() < 1e-4);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_text_embeds_to_a_unit_vector(text in "\\PC{0,200}") {
        let Some(embedder) = embedder() else { return Ok(()) };
        let v = embedder.embed_one(&text).unwrap();
        prop_assert_eq!(v.len(), DIM);
        prop_assert!((norm(&v) - 1.0).abs() < 1e-4);
    }
}
