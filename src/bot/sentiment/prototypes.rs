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

// Worded apart from the labelled sets in this directory, so that those measure this path.
const ANGER: &[&str] = &[
    "I have been chasing this for a month and I am losing my temper.",
    "How many times do I have to ring before someone sorts this out?",
    "Get me your supervisor right now.",
    "I'm absolutely livid with the way I've been treated.",
    "You promised a callback and nobody bothered.",
    "This service is a shambles from start to finish.",
    "I am fed up with being passed from one department to another.",
    "Don't you dare put me on hold again.",
    "That is a complete rip-off and you know it.",
    "I'm furious that you took the money without asking.",
    "Your excuses are wearing really thin.",
    "This is the most incompetent company I have ever dealt with.",
];

const DISGUST: &[&str] = &[
    "The meal smelled rotten and made me gag.",
    "There were stains all over the sheets, it was revolting.",
    "The van left rubbish all over my driveway, it's gross.",
    "Your agent's comments were vile.",
    "The fridge arrived covered in grime and mould.",
    "It's sickening how you treat pensioners.",
    "I found a dead insect in the packet, yuck.",
    "The whole place stank and the floor was sticky.",
    "Frankly the behaviour of your staff was repulsive.",
    "That's nasty, the water coming out is brown and smells.",
];

const FEAR: &[&str] = &[
    "I'm frightened that someone has my bank details.",
    "My purse was taken and all my cards were in it.",
    "I've spotted transactions I never authorised.",
    "I'm terrified the heating will be cut off in winter.",
    "I'm anxious that my personal information is out there.",
    "Someone logged into my account from abroad, I'm scared.",
    "I'm worried sick the money won't clear in time.",
    "Is it safe? I think that email was a scam.",
    "I'm nervous I'll get a fine if this is late.",
    "What happens if the bailiffs turn up?",
    "I'm afraid somebody is pretending to be me.",
    "I'm panicking, my phone was hacked.",
];

const JOY: &[&str] = &[
    "Cheers, you've been a massive help.",
    "That's fantastic, really appreciate it.",
    "Brilliant, everything's working again.",
    "Oh lovely, thank you ever so much.",
    "You've sorted it in minutes, I'm thrilled.",
    "That's great news, I'm really pleased.",
    "Superb service today, thank you.",
    "I'm so happy with the new package.",
    "Wonderful, that's a weight off my mind.",
    "Thanks a million, you're a star.",
    "Excellent, that's just what I wanted.",
    "I'm delighted, the engineer was lovely.",
];

const SADNESS: &[&str] = &[
    "My wife died recently and the account was in her name.",
    "I'm gutted the parcel never came in time for Christmas.",
    "Sadly I was made redundant and money is tight.",
    "I feel really let down after being loyal for years.",
    "I'm so disappointed with how it turned out.",
    "It's been an awful few months for our family.",
    "I'm heartbroken, those were the only pictures of my dad.",
    "Unfortunately I can't keep up with the repayments.",
    "I'm just worn out and miserable with all of this.",
    "It's upsetting that nobody seems to care.",
    "My mum is in hospital so I'm dealing with her post.",
    "I missed my flight because of the mix-up and I'm devastated.",
];

const SURPRISE: &[&str] = &[
    "Wow, that was much faster than I expected.",
    "Hold on, are you telling me it's free?",
    "I had no clue that fee existed.",
    "I can't believe the price has gone up again.",
    "Out of the blue the bill jumped to three hundred.",
    "Really? I never knew that.",
    "Blimey, it's already arrived!",
    "I'm astonished, it went through first time.",
    "The service just stopped without any warning.",
    "What? Since when?",
];

const NEUTRAL: &[&str] = &[
    "I'd like to know my current balance.",
    "The order number is five six seven eight.",
    "I'm moving house next month and need to update my details.",
    "Do you open on bank holidays?",
    "Yes, that's correct.",
    "No, nothing else.",
    "Can I pay over the phone?",
    "I have a question about my statement.",
    "Could you put me through to customer services?",
    "I'd like to arrange a delivery for Friday.",
    "My date of birth is the third of May.",
    "What does the basic package include?",
    "Hang on, let me get a pen.",
    "I'm ringing about the letter you sent.",
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
    if norm <= f32::EPSILON || !norm.is_finite() {
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
        assert_eq!(
            p.as_ref().and_then(|p| p.distribution(&[1.0, 0.0, 0.0])),
            None
        );
        let joy = p.and_then(|p| p.distribution(&[2.0, 0.0])).map(|d| d[3]);
        assert!(joy.is_some_and(|j| (j - 1.0).abs() < 1e-6), "{joy:?}");
        assert!(Prototypes::new(&labels, vec![vec![]]).is_none());
    }
}
