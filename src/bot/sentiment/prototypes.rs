//! Emotion prototypes in a sentence-embedding space: a dozen example utterances per emotion
//! (our own wording), embedded once by the caller's model, and a k-nearest-neighbour vote.
//!
//! Each emotion's similarity is the mean cosine of its [`TOP_K`] closest prototypes (a centroid
//! blurs emotions whose examples differ, a single nearest one is noisy); a softmax at
//! [`TEMPERATURE`] turns the seven similarities into a distribution. Vectors that are empty,
//! not finite, of another dimension than the first prototype, or longer than [`MAX_DIMS`] are
//! dropped, so a faulty embedder degrades to the lexicon instead of failing.

use super::Emotion;

/// Prototypes averaged per emotion.
pub(super) const TOP_K: usize = 3;
/// Softmax temperature over cosine similarities (MiniLM cosines of related sentences differ
/// by tenths, so a low temperature is needed for a peaked distribution).
pub(super) const TEMPERATURE: f32 = 0.05;
/// Largest embedding accepted.
pub(super) const MAX_DIMS: usize = 4096;

const ANGER: &[&str] = &[
    "This is ridiculous, I've been waiting for weeks.",
    "This is unacceptable, I want to speak to a manager.",
    "I'm furious, nobody has fixed this yet.",
    "I am sick and tired of being put on hold.",
    "Your service is absolutely useless.",
    "I've called five times and I'm fed up.",
    "Stop wasting my time and fix it now.",
    "This company is a joke.",
    "I'm so angry, you charged me twice.",
    "Why does nobody ever call me back?",
    "I'm really annoyed with how this was handled.",
    "This is outrageous, I want my money back.",
];

const DISGUST: &[&str] = &[
    "That's disgusting, the food was rotten.",
    "The room was filthy and smelled awful.",
    "There was hair in my meal, it's gross.",
    "The way you treat customers is appalling.",
    "The package was covered in mould, it's revolting.",
    "I'm disgusted by your staff's behaviour.",
    "The bathroom was absolutely vile.",
    "It made me sick to my stomach.",
    "There were bugs in the box, yuck.",
    "Your conduct is shameful.",
];

const FEAR: &[&str] = &[
    "I'm worried someone has access to my account.",
    "I think my card was stolen.",
    "There are payments I didn't make, is it fraud?",
    "I'm scared I'll lose my savings.",
    "I'm afraid my personal data was leaked.",
    "Someone hacked my email and I'm panicking.",
    "I'm nervous the payment won't arrive in time.",
    "What if they cut off my power tomorrow?",
    "I got a suspicious message asking for my password.",
    "I'm anxious about my identity being stolen.",
    "I'm terrified I'll be evicted.",
    "I clicked a strange link and now I'm frightened.",
];

const JOY: &[&str] = &[
    "Thank you so much, that's perfect.",
    "Great, that solves my problem, thanks.",
    "Wonderful, I'm so happy it's sorted.",
    "You've been really helpful, I appreciate it.",
    "That's excellent news.",
    "Brilliant, that was quick.",
    "I'm delighted with the service.",
    "You made my day, thank you.",
    "Everything works now, I'm very satisfied.",
    "Fantastic, thanks a lot.",
    "I'm glad we sorted that out.",
    "Lovely, have a nice day.",
];

const SADNESS: &[&str] = &[
    "I'm so disappointed, I expected better.",
    "My husband passed away and I need to close his account.",
    "Unfortunately I lost my job and can't pay.",
    "I'm really upset, the gift didn't arrive in time.",
    "It's sad after twenty years as a customer.",
    "I lost all my photos.",
    "I feel so let down.",
    "I'm heartbroken, it was my mother's.",
    "It's been a terrible week.",
    "I don't know what to do anymore.",
    "Sadly my father is in hospital.",
    "I'm unhappy that I missed the event.",
];

const SURPRISE: &[&str] = &[
    "Wow, I didn't expect that.",
    "I can't believe it's already fixed.",
    "Really? I had no idea that was included.",
    "I was surprised to see such a big charge.",
    "Suddenly my bill doubled out of nowhere.",
    "What? That's unexpected.",
    "I'm shocked, nobody told me about this fee.",
    "No way, it arrived a day early.",
    "I'm amazed it was that easy.",
    "Seriously? It was closed without warning.",
];

const NEUTRAL: &[&str] = &[
    "I want to check my order.",
    "My account number is one two three four.",
    "I'd like to change my delivery address.",
    "What are your opening hours?",
    "Yes.",
    "No, that's all.",
    "Can I pay by card?",
    "I'm calling about my invoice.",
    "I need to update my phone number.",
    "I'd like to book an appointment for Tuesday.",
    "Please transfer me to billing.",
    "My name is John Smith.",
    "How much does the plan cost?",
    "Okay, one moment please.",
];

/// Every prototype sentence with its emotion, in [`Emotion::ALL`] order.
pub(super) fn sentences() -> Vec<(Emotion, &'static str)> {
    let tables = [ANGER, DISGUST, FEAR, JOY, SADNESS, SURPRISE, NEUTRAL];
    Emotion::ALL
        .iter()
        .zip(tables)
        .flat_map(|(&e, table)| table.iter().map(move |&s| (e, s)))
        .collect()
}

/// Embedded prototypes, unit length, all of one dimension.
#[derive(Debug, Clone)]
pub(super) struct Prototypes {
    dims: usize,
    vectors: Vec<(Emotion, Vec<f32>)>,
}

impl Prototypes {
    /// Keeps the well-formed vectors of `embedded` (paired with `labels` in order).
    pub(super) fn new(labels: &[(Emotion, &str)], embedded: Vec<Vec<f32>>) -> Option<Prototypes> {
        let mut dims = None;
        let mut vectors = Vec::new();
        for ((emotion, _), v) in labels.iter().zip(embedded) {
            let Some(unit) = unit(v) else { continue };
            if *dims.get_or_insert(unit.len()) == unit.len() {
                vectors.push((*emotion, unit));
            }
        }
        Some(Prototypes {
            dims: dims?,
            vectors,
        })
    }

    /// A distribution over [`Emotion::ALL`], or `None` if `embedding` does not fit.
    pub(super) fn distribution(&self, embedding: &[f32]) -> Option<[f32; 7]> {
        if embedding.len() != self.dims {
            return None;
        }
        let query = unit(embedding.to_vec())?;
        let mut similarity = [f32::NEG_INFINITY; 7];
        for (k, emotion) in Emotion::ALL.iter().enumerate() {
            let mut cosines: Vec<f32> = self
                .vectors
                .iter()
                .filter(|(e, _)| e == emotion)
                .map(|(_, v)| dot(v, &query))
                .collect();
            if cosines.is_empty() {
                continue;
            }
            cosines.sort_by(|a, b| b.total_cmp(a));
            let top = &cosines[..cosines.len().min(TOP_K)];
            similarity[k] = top.iter().sum::<f32>() / top.len() as f32;
        }
        softmax(&similarity)
    }
}

fn unit(v: Vec<f32>) -> Option<Vec<f32>> {
    if v.is_empty() || v.len() > MAX_DIMS || !v.iter().all(|x| x.is_finite()) {
        return None;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !(norm > f32::EPSILON) || !norm.is_finite() {
        return None;
    }
    Some(v.into_iter().map(|x| x / norm).collect())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax(similarity: &[f32; 7]) -> Option<[f32; 7]> {
    let max = similarity.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return None;
    }
    let mut out = [0.0; 7];
    for (o, s) in out.iter_mut().zip(similarity) {
        *o = ((s - max) / TEMPERATURE).exp();
    }
    let sum: f32 = out.iter().sum();
    out.iter_mut().for_each(|o| *o /= sum);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_to_twenty_sentences_per_emotion() {
        let all = sentences();
        for emotion in Emotion::ALL {
            let n = all.iter().filter(|(e, _)| *e == emotion).count();
            assert!((10..=20).contains(&n), "{emotion:?}: {n}");
        }
    }

    #[test]
    fn malformed_vectors_are_dropped() {
        let labels = [
            (Emotion::Joy, "a"),
            (Emotion::Anger, "b"),
            (Emotion::Fear, "c"),
            (Emotion::Sadness, "d"),
        ];
        let embedded = vec![
            vec![1.0, 0.0],
            vec![0.0, 0.0],      // zero norm
            vec![f32::NAN, 1.0], // not finite
            vec![1.0, 0.0, 0.0], // other dimension
        ];
        let p = Prototypes::new(&labels, embedded);
        assert_eq!(p.as_ref().map(|p| p.vectors.len()), Some(1));
        assert_eq!(p.as_ref().and_then(|p| p.distribution(&[1.0, 0.0, 0.0])), None);
        let joy = p.and_then(|p| p.distribution(&[2.0, 0.0])).map(|d| d[3]);
        assert!(joy.is_some_and(|j| (j - 1.0).abs() < 1e-6), "{joy:?}");
        assert!(Prototypes::new(&labels, vec![vec![]]).is_none());
    }
}
