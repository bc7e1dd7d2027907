//! End-to-end conversion of a synthetic one-layer Whisper spec.

use proptest::prelude::*;

use super::*;

const STATE: u32 = 4;
const FFN: u32 = 8;
const MELS: u32 = 2;

fn f16_counting(elements: u32) -> Vec<u8> {
    (0..elements)
        .flat_map(|i| half::f32_to_f16(i as f32).to_le_bytes())
        .collect()
}

fn attention(vars: &mut Vec<(String, Vec<u32>)>, scope: &str, fused: &[(u32, &str)]) {
    for &(rows, linear) in fused {
        vars.push((format!("{scope}/{linear}/weight"), vec![rows, STATE]));
        vars.push((format!("{scope}/{linear}/bias"), vec![rows]));
    }
    vars.push((format!("{scope}/layer_norm/gamma"), vec![STATE]));
    vars.push((format!("{scope}/layer_norm/beta"), vec![STATE]));
}

fn ffn(vars: &mut Vec<(String, Vec<u32>)>, scope: &str) {
    vars.push((format!("{scope}/ffn/linear_0/weight"), vec![FFN, STATE]));
    vars.push((format!("{scope}/ffn/linear_0/bias"), vec![FFN]));
    vars.push((format!("{scope}/ffn/linear_1/weight"), vec![STATE, FFN]));
    vars.push((format!("{scope}/ffn/linear_1/bias"), vec![STATE]));
    vars.push((format!("{scope}/ffn/layer_norm/gamma"), vec![STATE]));
    vars.push((format!("{scope}/ffn/layer_norm/beta"), vec![STATE]));
}

fn synthetic_model() -> Vec<u8> {
    let mut vars: Vec<(String, Vec<u32>)> = vec![
        ("encoder/conv1/weight".into(), vec![STATE, MELS, 3]),
        ("encoder/conv1/bias".into(), vec![STATE]),
        ("encoder/conv2/weight".into(), vec![STATE, STATE, 3]),
        ("encoder/conv2/bias".into(), vec![STATE]),
        (
            "encoder/position_encodings/encodings".into(),
            vec![3, STATE],
        ),
        ("encoder/layer_norm/gamma".into(), vec![STATE]),
        ("encoder/layer_norm/beta".into(), vec![STATE]),
        ("decoder/embeddings/weight".into(), vec![6, STATE]),
        (
            "decoder/position_encodings/encodings".into(),
            vec![2, STATE],
        ),
        ("decoder/layer_norm/gamma".into(), vec![STATE]),
        ("decoder/layer_norm/beta".into(), vec![STATE]),
    ];
    let self_attention = [(3 * STATE, "linear_0"), (STATE, "linear_1")];
    attention(&mut vars, "encoder/layer_0/self_attention", &self_attention);
    ffn(&mut vars, "encoder/layer_0");
    attention(&mut vars, "decoder/layer_0/self_attention", &self_attention);
    let cross = [
        (STATE, "linear_0"),
        (2 * STATE, "linear_1"),
        (STATE, "linear_2"),
    ];
    attention(&mut vars, "decoder/layer_0/attention", &cross);
    ffn(&mut vars, "decoder/layer_0");
    let data: Vec<Vec<u8>> = vars
        .iter()
        .map(|(_, dims)| f16_counting(dims.iter().product()))
        .collect();
    let two_heads = 2i16.to_le_bytes();
    let mut spec: Vec<(&str, &[u32], Dtype, &[u8])> = vec![
        ("encoder/num_heads", &[], Dtype::I16, &two_heads),
        ("decoder/num_heads", &[], Dtype::I16, &two_heads),
    ];
    for ((name, dims), bytes) in vars.iter().zip(&data) {
        spec.push((name, dims, Dtype::F16, bytes));
    }
    model_bin::write_model("WhisperSpec", &spec, &[])
}

struct Tensor {
    name: String,
    dims: Vec<i32>,
    ftype: i32,
    data: Vec<u8>,
}

/// Minimal ggml reader for checking the writer: returns (header words, vocab, tensors).
fn parse_ggml(bytes: &[u8]) -> (Vec<i32>, Vec<Vec<u8>>, Vec<Tensor>) {
    let mut at = 0;
    let mut word = || {
        let w = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        at += 4;
        w
    };
    let header: Vec<i32> = (0..14).map(|_| word()).collect();
    at += (header[12] * header[13]) as usize * 4;
    let mut vocab = Vec::new();
    let mut tensors = Vec::new();
    let take = |at: &mut usize, n: usize| {
        let slice = bytes[*at..*at + n].to_vec();
        *at += n;
        slice
    };
    let read_i32 = |at: &mut usize| {
        let w = i32::from_le_bytes(bytes[*at..*at + 4].try_into().unwrap());
        *at += 4;
        w
    };
    for _ in 0..read_i32(&mut at) {
        let len = read_i32(&mut at) as usize;
        vocab.push(take(&mut at, len));
    }
    while at < bytes.len() {
        let n_dims = read_i32(&mut at);
        let name_len = read_i32(&mut at) as usize;
        let ftype = read_i32(&mut at);
        let dims: Vec<i32> = (0..n_dims).map(|_| read_i32(&mut at)).collect();
        let name = String::from_utf8(take(&mut at, name_len)).unwrap();
        let elements: i32 = dims.iter().product();
        let data = take(&mut at, elements as usize * if ftype == 0 { 4 } else { 2 });
        tensors.push(Tensor {
            name,
            dims,
            ftype,
            data,
        });
    }
    (header, vocab, tensors)
}

const VOCABULARY: &str = "!\nĠthe\nĊ\n<|endoftext|>\n<|startoftranscript|>\n";

fn convert_synthetic() -> (
    tempfile::TempDir,
    Result<ImportSummary, Ct2Error>,
    Vec<Progress>,
) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.bin"), synthetic_model()).unwrap();
    std::fs::write(dir.path().join("vocabulary.txt"), VOCABULARY).unwrap();
    let mut calls = Vec::new();
    let result = import_ct2(dir.path(), &dir.path().join("out.bin"), |progress| {
        calls.push(progress)
    });
    (dir, result, calls)
}

#[test]
fn converts_a_synthetic_model() {
    let (dir, summary, progress) = convert_synthetic();
    let summary = summary.unwrap();
    let bytes = std::fs::read(dir.path().join("out.bin")).unwrap();
    assert!(!dir.path().join("out.bin.partial").exists());
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(summary.vocab_tokens, 3);
    // 1 + 4 + 15 encoder, 2 + 24 + 2 decoder, + 2 ln_post.
    assert_eq!(summary.tensors, 50);

    let (header, vocab, tensors) = parse_ggml(&bytes);
    assert_eq!(header[0] as u32, ggml::MAGIC);
    assert_eq!(&header[1..12], [6, 3, 4, 2, 1, 2, 4, 2, 1, 2, 1]);
    assert_eq!(&header[12..14], [2, 201]);
    assert_eq!(vocab, [b"!".to_vec(), b" the".to_vec(), b"\n".to_vec()]);
    assert_eq!(tensors.len(), 50);

    let find = |name: &str| tensors.iter().find(|t| t.name == name).unwrap();
    let key = find("encoder.blocks.0.attn.key.weight");
    assert_eq!((key.dims.as_slice(), key.ftype), (&[4, 4][..], 1));
    assert_eq!(key.data, f16_counting(32)[32..64]);
    let bias = find("encoder.conv1.bias");
    assert_eq!((bias.dims.as_slice(), bias.ftype), (&[1, 4][..], 0));
    let floats: Vec<f32> = bias
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, [0.0, 1.0, 2.0, 3.0]);
    let value_bias = find("decoder.blocks.0.cross_attn.value.bias");
    assert_eq!(value_bias.data[..4], 4.0f32.to_le_bytes());
    assert_eq!(find("encoder.conv1.weight").dims, [3, 2, 4]);
    assert_eq!(find("decoder.positional_embedding").ftype, 0);

    let (first, last) = (progress[0], progress[progress.len() - 1]);
    assert_eq!((first.tensors_done, first.bytes_done), (0, 0));
    assert_eq!((last.tensors_done, last.bytes_done), (50, last.bytes));
    assert_eq!(last.tensors, 50);
    assert_eq!(progress.len(), 51);
    assert!(progress
        .windows(2)
        .all(|w| w[0].bytes_done <= w[1].bytes_done));
}

#[test]
fn missing_files_and_wrong_specs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    assert!(matches!(
        import_ct2(dir.path(), &out, |_| {}),
        Err(Ct2Error::Io { .. })
    ));
    let other = model_bin::write_model("TransformerSpec", &[], &[]);
    std::fs::write(dir.path().join("model.bin"), other).unwrap();
    assert!(matches!(
        import_ct2(dir.path(), &out, |_| {}),
        Err(Ct2Error::NotWhisper(_))
    ));
    let empty_whisper = model_bin::write_model("WhisperSpec", &[], &[]);
    std::fs::write(dir.path().join("model.bin"), empty_whisper).unwrap();
    assert!(matches!(
        import_ct2(dir.path(), &out, |_| {}),
        Err(Ct2Error::MissingVariable(_))
    ));
    assert!(!out.exists());
}

#[test]
fn vocabulary_parsing() {
    assert_eq!(parse_vocabulary(VOCABULARY).unwrap().len(), 3);
    assert!(matches!(
        parse_vocabulary("a\nb\n"),
        Err(Ct2Error::Vocabulary { .. })
    ));
    assert!(matches!(
        parse_vocabulary("a\nb c\n<|endoftext|>\n"),
        Err(Ct2Error::Vocabulary { line: 2, .. })
    ));
}

proptest! {
    #[test]
    fn vocabulary_parser_never_panics(text in "\\PC{0,64}") {
        let _ = parse_vocabulary(&text);
    }
}
