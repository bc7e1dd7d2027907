//! Which CTranslate2 variable (and which rows of it) becomes which whisper.cpp tensor.
//!
//! CTranslate2 fuses attention projections: self-attention `linear_0` stacks query, key and
//! value rows; cross-attention `linear_1` stacks key and value. whisper.cpp wants them apart,
//! and has no key bias (CTranslate2 stores zeros there), so that slice is dropped.

/// How a whisper.cpp tensor is stored in the ggml file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    F16,
    F32,
}

/// Which rows of the source's first dimension to take: `part` of `parts` equal blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowBlock {
    pub part: u32,
    pub parts: u32,
}

/// One tensor of the output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub target: String,
    pub source: String,
    pub rows: Option<RowBlock>,
    pub storage: Storage,
    /// Conv biases get a trailing unit dimension (`[n]` → `[n, 1]`).
    pub column: bool,
}

fn mapping(target: String, source: String, rows: Option<RowBlock>) -> Mapping {
    let storage = if target.ends_with(".weight") && !target.contains("ln") {
        Storage::F16
    } else {
        Storage::F32
    };
    Mapping {
        target,
        source,
        rows,
        storage,
        column: false,
    }
}

fn whole(target: String, source: String) -> Mapping {
    mapping(target, source, None)
}

fn block(target: String, source: String, part: u32, parts: u32) -> Mapping {
    mapping(target, source, Some(RowBlock { part, parts }))
}

/// `weight`/`bias` of a linear layer, optionally one row block of a fused one.
fn linear(out: &mut Vec<Mapping>, target: &str, source: &str, rows: Option<(u32, u32)>) {
    for (t, s) in [("weight", "weight"), ("bias", "bias")] {
        let (target, source) = (format!("{target}.{t}"), format!("{source}/{s}"));
        out.push(match rows {
            Some((part, parts)) => block(target, source, part, parts),
            None => whole(target, source),
        });
    }
}

fn layer_norm(out: &mut Vec<Mapping>, target: &str, source: &str) {
    out.push(whole(format!("{target}.weight"), format!("{source}/gamma")));
    out.push(whole(format!("{target}.bias"), format!("{source}/beta")));
}

/// A layer's self-attention and the layer norm in front of it.
fn self_attention_block(out: &mut Vec<Mapping>, target: &str, source: &str) {
    self_attention(
        out,
        &format!("{target}.attn"),
        &format!("{source}/self_attention"),
    );
    layer_norm(
        out,
        &format!("{target}.attn_ln"),
        &format!("{source}/self_attention/layer_norm"),
    );
}

/// Self-attention with a fused q|k|v projection, key without bias.
fn self_attention(out: &mut Vec<Mapping>, target: &str, source: &str) {
    let fused = format!("{source}/linear_0");
    linear(out, &format!("{target}.query"), &fused, Some((0, 3)));
    out.push(block(
        format!("{target}.key.weight"),
        format!("{fused}/weight"),
        1,
        3,
    ));
    linear(out, &format!("{target}.value"), &fused, Some((2, 3)));
    linear(
        out,
        &format!("{target}.out"),
        &format!("{source}/linear_1"),
        None,
    );
}

fn cross_attention(out: &mut Vec<Mapping>, target: &str, source: &str) {
    linear(
        out,
        &format!("{target}.query"),
        &format!("{source}/linear_0"),
        None,
    );
    let fused = format!("{source}/linear_1");
    out.push(block(
        format!("{target}.key.weight"),
        format!("{fused}/weight"),
        0,
        2,
    ));
    linear(out, &format!("{target}.value"), &fused, Some((1, 2)));
    linear(
        out,
        &format!("{target}.out"),
        &format!("{source}/linear_2"),
        None,
    );
}

fn mlp(out: &mut Vec<Mapping>, target: &str, source: &str) {
    layer_norm(
        out,
        &format!("{target}.mlp_ln"),
        &format!("{source}/ffn/layer_norm"),
    );
    linear(
        out,
        &format!("{target}.mlp.0"),
        &format!("{source}/ffn/linear_0"),
        None,
    );
    linear(
        out,
        &format!("{target}.mlp.2"),
        &format!("{source}/ffn/linear_1"),
        None,
    );
}

/// Every tensor whisper.cpp loads, in the order OpenAI's checkpoints list them.
pub fn whisper_tensors(encoder_layers: u32, decoder_layers: u32) -> Vec<Mapping> {
    let mut out = Vec::new();
    out.push(whole(
        "encoder.positional_embedding".into(),
        "encoder/position_encodings/encodings".into(),
    ));
    for conv in ["conv1", "conv2"] {
        linear(
            &mut out,
            &format!("encoder.{conv}"),
            &format!("encoder/{conv}"),
            None,
        );
        if let Some(bias) = out.last_mut() {
            bias.column = true;
        }
    }
    for n in 0..encoder_layers {
        let (target, source) = (format!("encoder.blocks.{n}"), format!("encoder/layer_{n}"));
        self_attention_block(&mut out, &target, &source);
        mlp(&mut out, &target, &source);
    }
    layer_norm(&mut out, "encoder.ln_post", "encoder/layer_norm");
    out.push(whole(
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight".into(),
    ));
    out.push(whole(
        "decoder.positional_embedding".into(),
        "decoder/position_encodings/encodings".into(),
    ));
    for n in 0..decoder_layers {
        let (target, source) = (format!("decoder.blocks.{n}"), format!("decoder/layer_{n}"));
        self_attention_block(&mut out, &target, &source);
        cross_attention(
            &mut out,
            &format!("{target}.cross_attn"),
            &format!("{source}/attention"),
        );
        layer_norm(
            &mut out,
            &format!("{target}.cross_attn_ln"),
            &format!("{source}/attention/layer_norm"),
        );
        mlp(&mut out, &target, &source);
    }
    layer_norm(&mut out, "decoder.ln", "decoder/layer_norm");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(plan: &'a [Mapping], target: &str) -> &'a Mapping {
        plan.iter().find(|m| m.target == target).unwrap()
    }

    #[test]
    fn tiny_has_167_tensors_with_unique_names() {
        let plan = whisper_tensors(4, 4);
        assert_eq!(plan.len(), 167);
        let mut names: Vec<_> = plan.iter().map(|m| m.target.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 167);
        assert!(!names.iter().any(|n| n.ends_with("key.bias")));
    }

    #[test]
    fn mapping_table() {
        let plan = whisper_tensors(4, 4);
        let q = |part, parts| Some(RowBlock { part, parts });
        let cases: &[(&str, &str, Option<RowBlock>, Storage)] = &[
            (
                "encoder.conv1.weight",
                "encoder/conv1/weight",
                None,
                Storage::F16,
            ),
            (
                "encoder.conv2.bias",
                "encoder/conv2/bias",
                None,
                Storage::F32,
            ),
            (
                "encoder.positional_embedding",
                "encoder/position_encodings/encodings",
                None,
                Storage::F32,
            ),
            (
                "encoder.blocks.3.attn.query.weight",
                "encoder/layer_3/self_attention/linear_0/weight",
                q(0, 3),
                Storage::F16,
            ),
            (
                "encoder.blocks.0.attn.key.weight",
                "encoder/layer_0/self_attention/linear_0/weight",
                q(1, 3),
                Storage::F16,
            ),
            (
                "encoder.blocks.0.attn.value.bias",
                "encoder/layer_0/self_attention/linear_0/bias",
                q(2, 3),
                Storage::F32,
            ),
            (
                "encoder.blocks.1.attn_ln.weight",
                "encoder/layer_1/self_attention/layer_norm/gamma",
                None,
                Storage::F32,
            ),
            (
                "encoder.blocks.2.mlp.2.weight",
                "encoder/layer_2/ffn/linear_1/weight",
                None,
                Storage::F16,
            ),
            (
                "encoder.ln_post.bias",
                "encoder/layer_norm/beta",
                None,
                Storage::F32,
            ),
            (
                "decoder.token_embedding.weight",
                "decoder/embeddings/weight",
                None,
                Storage::F16,
            ),
            (
                "decoder.blocks.0.cross_attn.query.bias",
                "decoder/layer_0/attention/linear_0/bias",
                None,
                Storage::F32,
            ),
            (
                "decoder.blocks.0.cross_attn.key.weight",
                "decoder/layer_0/attention/linear_1/weight",
                q(0, 2),
                Storage::F16,
            ),
            (
                "decoder.blocks.0.cross_attn.value.weight",
                "decoder/layer_0/attention/linear_1/weight",
                q(1, 2),
                Storage::F16,
            ),
            (
                "decoder.blocks.3.cross_attn.out.weight",
                "decoder/layer_3/attention/linear_2/weight",
                None,
                Storage::F16,
            ),
            (
                "decoder.blocks.3.cross_attn_ln.bias",
                "decoder/layer_3/attention/layer_norm/beta",
                None,
                Storage::F32,
            ),
            (
                "decoder.blocks.1.mlp_ln.weight",
                "decoder/layer_1/ffn/layer_norm/gamma",
                None,
                Storage::F32,
            ),
            (
                "decoder.ln.weight",
                "decoder/layer_norm/gamma",
                None,
                Storage::F32,
            ),
        ];
        for (target, source, rows, storage) in cases {
            let m = find(&plan, target);
            assert_eq!(
                (m.source.as_str(), m.rows, m.storage),
                (*source, *rows, *storage),
                "{target}"
            );
        }
        let column: Vec<_> = plan
            .iter()
            .filter(|m| m.column)
            .map(|m| m.target.as_str())
            .collect();
        assert_eq!(column, ["encoder.conv1.bias", "encoder.conv2.bias"]);
    }
}
