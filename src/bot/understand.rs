//! The bot's reading of one caller turn: every intent scored, entities, the closest knowledge
//! article, in one [`Analysis`]; and what to do about it ([`Bot::decide`]).
//!
//! A [`Bot`] is built once per dialplan from its intents and knowledge file. Without an
//! embedding model it scores by keyword overlap ([`IntentSet`]); `semantic` adds
//! embedding scores when a model is loaded. Both give confidences on the same scale (a clear
//! match ≥ 0.6, no match < 0.3), so one threshold serves either.

use serde::Serialize;

use super::entities::{self, Entities};
use super::faq::Faq;
use super::intents::{IntentScore, IntentSet};

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
    /// The best [`TOP_INTENTS`] intents, best first.
    pub intents: Vec<IntentScore>,
    /// How the intents were scored.
    pub method: Method,
    /// Numbers, yes/no and the like found in the text.
    pub entities: Entities,
    /// The closest knowledge article, if the dialplan has a knowledge file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faq: Option<FaqMatch>,
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
#[derive(Debug, Clone)]
pub struct Bot {
    intents: IntentSet,
    faq: Option<(Faq, IntentSet)>,
}

impl Bot {
    /// A keyword-overlap bot over `intents` (name, example phrases) and an optional
    /// knowledge base.
    pub fn keywords(intents: &[(String, Vec<String>)], faq: Option<Faq>) -> Bot {
        let faq = faq.map(|faq| {
            let questions: Vec<(String, Vec<String>)> = faq
                .articles
                .iter()
                .map(|a| (a.id.clone(), a.questions.clone()))
                .collect();
            let matcher = IntentSet::new(&questions);
            (faq, matcher)
        });
        Bot {
            intents: IntentSet::new(intents),
            faq,
        }
    }

    /// Scores `text` against every intent and article and extracts entities.
    pub fn analyze(&self, text: &str) -> Analysis {
        let mut intents = self.intents.classify(text);
        intents.truncate(TOP_INTENTS);
        let faq = self.faq.as_ref().and_then(|(faq, matcher)| {
            let best = matcher.classify(text).into_iter().next()?;
            let article = faq.article(&best.intent)?;
            Some(FaqMatch {
                article: article.id.clone(),
                answer: article.answer.clone(),
                confidence: best.confidence,
            })
        });
        Analysis {
            intents,
            method: Method::Keywords,
            entities: entities::extract(text),
            faq,
        }
    }

    /// The intent at or above `threshold`, a tie to ask about, a knowledge answer, or nothing.
    /// Only intents `allowed` (e.g. the branches of the current question) are considered.
    pub fn decide(
        &self,
        analysis: &Analysis,
        threshold: f32,
        allowed: impl Fn(&str) -> bool,
    ) -> Decision {
        let mut passing = analysis
            .intents
            .iter()
            .filter(|s| allowed(&s.intent) && s.confidence >= threshold);
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
        assert!(a.intents.len() <= TOP_INTENTS);
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
            faq: None,
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
