//! The bot's reading of one caller turn: every intent scored, entities, the closest knowledge
//! article, in one [`Analysis`]; and what to do about it ([`Bot::decide`]).
//!
//! A [`Bot`] is built once per dialplan from its intents and knowledge file. Without an
//! embedding model it scores by keyword overlap ([`IntentSet`]); with one ([`Bot::semantic`])
//! the utterance is embedded once and that vector scores intents, articles and emotion
//! prototypes. Both matchers give confidences on the same scale (a clear match ≥ 0.6, no
//! match < 0.3), so one threshold serves either.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::embed::{EmbedError, Embedder};
use super::entities::{self, CivilDate, Entities, Slot};
use super::faq::Faq;
use super::intents::{IntentScore, IntentSet};
use super::semantic::SemanticIndex;
use super::sentiment::{Sentiment, SentimentModel};

/// Intents kept in an [`Analysis`] (the ticket shows them as candidates).
pub const TOP_INTENTS: usize = 3;
/// Two intents closer than this are too close to call: the bot asks which one was meant.
pub const AMBIGUITY_MARGIN: f32 = 0.05;
/// Below this a knowledge article is not an answer.
pub const FAQ_THRESHOLD: f32 = 0.5;

/// How intents were scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Keyword overlap with the example phrases (no embedding model).
    Keywords,
    /// Sentence embeddings, k-NN over the example phrases.
    Semantic,
}

/// The closest knowledge article.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaqMatch {
    /// The article's id.
    pub article: String,
    /// Its spoken answer.
    pub answer: String,
    /// Same scale as intent confidences.
    pub confidence: f32,
}

/// Everything the bot read from one utterance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Every intent, best first (the first [`TOP_INTENTS`] are the reply candidates).
    pub intents: Vec<IntentScore>,
    /// How the intents were scored.
    pub method: Method,
    /// Numbers, yes/no and the like found in the text.
    pub entities: Entities,
    /// Polarity and emotion of the turn.
    pub sentiment: Sentiment,
    /// The closest knowledge article, if the dialplan has a knowledge file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faq: Option<FaqMatch>,
    /// Confidence of the closest out-of-scope phrase, when the dialplan lists some and the
    /// matcher is semantic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<f32>,
}

impl Analysis {
    /// The closest article when it is a better reading than every intent (including
    /// `best_intent`, the best score the caller has computed otherwise) and passes
    /// `threshold` and [`FAQ_THRESHOLD`]: "do you ship to Norway" is near `order_status` but
    /// nearer the shipping article.
    pub fn knowledge_answer(&self, threshold: f32, best_intent: f32) -> Option<&FaqMatch> {
        let best = self
            .intents
            .first()
            .map_or(0.0, |s| s.confidence)
            .max(best_intent);
        self.faq
            .as_ref()
            .filter(|f| f.confidence >= threshold.max(FAQ_THRESHOLD) && f.confidence > best)
    }
}

/// What the bot makes of an [`Analysis`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// One intent, clearly.
    Intent(IntentScore),
    /// The two best intents both pass the threshold and are too close to call.
    Ambiguous(IntentScore, IntentScore),
    /// No intent, but a knowledge article answers it.
    Faq(FaqMatch),
    /// Nothing the bot can act on.
    NoMatch,
}

/// A dialplan's understanding: intents, knowledge base and their matchers.
#[derive(Clone)]
pub struct Bot {
    intents: IntentSet,
    faq: Option<(Faq, IntentSet)>,
    semantic: Option<Semantic>,
    sentiment: SentimentModel,
}

/// The embedding side of a semantic bot.
#[derive(Clone)]
struct Semantic {
    embedder: Arc<Embedder>,
    intents: SemanticIndex,
    faq: Option<SemanticIndex>,
    out_of_scope: Option<SemanticIndex>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("semantic", &self.semantic.is_some())
            .field("faq", &self.faq.as_ref().map(|(faq, _)| faq.articles.len()))
            .finish()
    }
}

/// Intent or article names with their example phrases or questions.
type Entries = Vec<(String, Vec<String>)>;

fn faq_entries(faq: &Faq) -> Entries {
    faq.articles
        .iter()
        .map(|a| (a.id.clone(), a.questions.clone()))
        .collect()
}

impl Bot {
    /// A keyword-overlap bot over `intents` (name, example phrases) and an optional
    /// knowledge base.
    pub fn keywords(intents: &[(String, Vec<String>)], faq: Option<Faq>) -> Bot {
        let faq = faq.map(|faq| {
            let matcher = IntentSet::new(&faq_entries(&faq));
            (faq, matcher)
        });
        Bot {
            intents: IntentSet::new(intents),
            faq,
            semantic: None,
            sentiment: SentimentModel::lexicon(),
        }
    }

    /// A bot that scores by sentence embeddings, keeping the keyword matcher for when an
    /// utterance cannot be embedded. `out_of_scope` lists phrases no intent covers (chatter,
    /// wrong numbers): an utterance closer to one of them than to every intent matches none.
    /// `cache` names a file prefix for the example vectors (`<prefix>.intents`,
    /// `<prefix>.faq` and `<prefix>.oos`); `None` embeds every time.
    pub fn semantic(
        intents: &[(String, Vec<String>)],
        out_of_scope: &[String],
        faq: Option<Faq>,
        embedder: Arc<Embedder>,
        cache: Option<&Path>,
    ) -> Result<Bot, EmbedError> {
        let cache_file = |suffix: &str| {
            cache.map(|prefix| {
                let mut name = prefix.as_os_str().to_owned();
                name.push(suffix);
                std::path::PathBuf::from(name)
            })
        };
        let intent_index =
            SemanticIndex::build(&embedder, intents, cache_file(".intents").as_deref())?;
        let faq_index = match &faq {
            Some(faq) => Some(SemanticIndex::build(
                &embedder,
                &faq_entries(faq),
                cache_file(".faq").as_deref(),
            )?),
            None => None,
        };
        let out_of_scope_index = if out_of_scope.is_empty() {
            None
        } else {
            // One entry per phrase: the best score is the closest phrase's.
            let entries: Entries = out_of_scope
                .iter()
                .map(|phrase| (phrase.clone(), vec![phrase.clone()]))
                .collect();
            Some(SemanticIndex::build(
                &embedder,
                &entries,
                cache_file(".oos").as_deref(),
            )?)
        };
        let sentiment = SentimentModel::with_prototypes(|texts| embedder.embed(texts))?;
        let mut bot = Bot::keywords(intents, faq);
        bot.sentiment = sentiment;
        bot.semantic = Some(Semantic {
            embedder,
            intents: intent_index,
            faq: faq_index,
            out_of_scope: out_of_scope_index,
        });
        Ok(bot)
    }

    /// How this bot scores intents.
    pub fn method(&self) -> Method {
        if self.semantic.is_some() {
            Method::Semantic
        } else {
            Method::Keywords
        }
    }

    /// Scores `text` against every intent and article and extracts entities.
    pub fn analyze(&self, text: &str) -> Analysis {
        self.analyze_at(text, None, None)
    }

    /// [`Bot::analyze`] for an answer to a question that `expected` a kind of entity, with
    /// relative dates resolved against `today`.
    pub fn analyze_at(
        &self,
        text: &str,
        expected: Option<Slot>,
        today: Option<CivilDate>,
    ) -> Analysis {
        let entities = match today {
            Some(today) => entities::extract_at(text, expected, today),
            None => entities::extract_for(text, expected),
        };
        let embedded =
            self.semantic
                .as_ref()
                .and_then(|semantic| match semantic.embedder.embed_one(text) {
                    Ok(vector) => Some((semantic, vector)),
                    Err(e) => {
                        tracing::warn!("embedding an utterance failed, using keywords: {e}");
                        None
                    }
                });
        let (intents, faq_scores, out_of_scope, method) = match &embedded {
            Some((semantic, vector)) => (
                semantic.intents.scores(vector),
                semantic.faq.as_ref().map(|index| index.scores(vector)),
                semantic
                    .out_of_scope
                    .as_ref()
                    .and_then(|index| index.scores(vector).first().map(|s| s.confidence)),
                Method::Semantic,
            ),
            None => (
                self.intents.classify(text),
                self.faq.as_ref().map(|(_, matcher)| matcher.classify(text)),
                None,
                Method::Keywords,
            ),
        };
        let faq = self
            .faq
            .as_ref()
            .zip(faq_scores)
            .and_then(|((faq, _), scores)| {
                let best = scores.into_iter().next()?;
                let article = faq.article(&best.intent)?;
                Some(FaqMatch {
                    article: article.id.clone(),
                    answer: article.answer.clone(),
                    confidence: best.confidence,
                })
            });
        let sentiment = self
            .sentiment
            .analyze(text, embedded.as_ref().map(|(_, v)| v.as_slice()));
        Analysis {
            intents,
            method,
            entities,
            sentiment,
            faq,
            out_of_scope,
        }
    }

    /// The intent at or above `threshold`, a tie to ask about, a knowledge answer, or nothing.
    /// Only intents `allowed` (e.g. the branches of the current question) are considered; none
    /// is when an out-of-scope phrase is closer than every intent.
    pub fn decide(
        &self,
        analysis: &Analysis,
        threshold: f32,
        allowed: impl Fn(&str) -> bool,
    ) -> Decision {
        let best_intent = analysis.intents.first().map_or(0.0, |s| s.confidence);
        let out_of_scope = analysis
            .out_of_scope
            .is_some_and(|confidence| confidence > best_intent);
        let mut passing = analysis
            .intents
            .iter()
            .filter(|s| !out_of_scope && allowed(&s.intent) && s.confidence >= threshold);
        if let Some(faq) = analysis.knowledge_answer(threshold, 0.0) {
            return Decision::Faq(faq.clone());
        }
        match (passing.next(), passing.next()) {
            (Some(first), Some(second))
                if first.confidence - second.confidence < AMBIGUITY_MARGIN =>
            {
                Decision::Ambiguous(first.clone(), second.clone())
            }
            (Some(first), _) => Decision::Intent(first.clone()),
            (None, _) => match &analysis.faq {
                Some(faq) if faq.confidence >= FAQ_THRESHOLD => Decision::Faq(faq.clone()),
                _ => Decision::NoMatch,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> Bot {
        let intents = vec![
            (
                "order_status".to_string(),
                vec![
                    "where is my order".to_string(),
                    "track my package".to_string(),
                ],
            ),
            (
                "returns".to_string(),
                vec!["return an item".to_string(), "refund".to_string()],
            ),
        ];
        let faq = Faq::parse(
            "## Do you deliver abroad?\n## Do you ship to other countries?\nWe deliver to the EU.\n",
        )
        .unwrap();
        Bot::keywords(&intents, Some(faq))
    }

    #[test]
    fn analysis_keeps_the_best_intents_and_entities() {
        let a = bot().analyze("Where is my order? It's number 1234.");
        assert_eq!(a.intents[0].intent, "order_status");
        assert_eq!(a.intents.len(), 2);
        assert_eq!(a.entities.digits.as_deref(), Some("1234"));
        assert_eq!(a.method, Method::Keywords);
    }

    #[test]
    fn decisions() {
        let bot = bot();
        let all = |_: &str| true;
        let decide = |text: &str| bot.decide(&bot.analyze(text), 0.5, all);
        assert!(
            matches!(decide("where is my order"), Decision::Intent(s) if s.intent == "order_status")
        );
        assert!(
            matches!(decide("do you ship to other countries"), Decision::Faq(f) if f.article == "do-you-deliver-abroad")
        );
        assert_eq!(decide("the weather is nice"), Decision::NoMatch);
        let only_returns = |name: &str| name == "returns";
        assert_eq!(
            bot.decide(&bot.analyze("where is my order"), 0.5, only_returns),
            Decision::NoMatch
        );
    }

    #[test]
    fn a_closer_out_of_scope_phrase_means_no_intent() {
        let analysis = |out_of_scope| Analysis {
            intents: vec![IntentScore {
                intent: "returns".into(),
                confidence: 0.7,
            }],
            method: Method::Semantic,
            entities: Entities::default(),
            sentiment: SentimentModel::lexicon().analyze("", None),
            faq: None,
            out_of_scope,
        };
        let bot = bot();
        let decide = |a: &Analysis| bot.decide(a, 0.5, |_| true);
        assert_eq!(decide(&analysis(Some(0.8))), Decision::NoMatch);
        assert!(
            matches!(decide(&analysis(Some(0.6))), Decision::Intent(s) if s.intent == "returns")
        );
        assert!(matches!(decide(&analysis(None)), Decision::Intent(s) if s.intent == "returns"));
    }

    #[test]
    fn close_scores_are_ambiguous() {
        let analysis = Analysis {
            intents: vec![
                IntentScore {
                    intent: "returns".into(),
                    confidence: 0.71,
                },
                IntentScore {
                    intent: "order_status".into(),
                    confidence: 0.69,
                },
            ],
            method: Method::Keywords,
            entities: Entities::default(),
            sentiment: SentimentModel::lexicon().analyze("", None),
            faq: None,
            out_of_scope: None,
        };
        assert!(matches!(
            bot().decide(&analysis, 0.5, |_| true),
            Decision::Ambiguous(a, b) if a.intent == "returns" && b.intent == "order_status"
        ));
        assert!(matches!(
            bot().decide(&analysis, 0.7, |_| true),
            Decision::Intent(a) if a.intent == "returns"
        ));
    }
}
