//! Agent assist's suggested replies: for each intent the bot thinks the caller may mean, the
//! words the bot itself would say next had it taken that intent. Read from the dialplan (the
//! branch's first spoken text, `{variables}` filled where known), never made up, so an agent
//! sees the business's own wording. Pure: a plan, variables and a turn's entities in, text out.

use std::collections::HashMap;

use super::ask::{carried_value, is_valid};
use crate::bot::understand::{FaqMatch, FAQ_THRESHOLD};
use crate::bot::{Entities, IntentScore};
use crate::dialplan::model::{Ask, Dialplan, StepKind};

/// Steps followed from a branch before giving up (a `goto` loop with nothing to say).
const MAX_HOPS: usize = 32;

/// The bot's reply to each of `candidates`, in the same order (`None`: the dialplan has no
/// branch for it, or says nothing before leaving the bot). Branches of the `ask` at step `at`
/// win; otherwise the first `ask` in the file that branches on the intent.
pub(crate) fn suggest_replies(
    plan: &Dialplan,
    candidates: &[IntentScore],
    at: usize,
    vars: &HashMap<String, String>,
    entities: &Entities,
) -> Vec<Option<String>> {
    candidates
        .iter()
        .map(|c| reply_for(plan, &c.intent, at, vars, entities))
        .collect()
}

/// A knowledge article's answer worth suggesting: close enough that the bot would speak it.
pub(crate) fn faq_suggestion(faq: Option<&FaqMatch>) -> Option<&FaqMatch> {
    faq.filter(|f| f.confidence >= FAQ_THRESHOLD && !f.answer.trim().is_empty())
}

/// See [`suggest_replies`].
pub(crate) fn reply_for(
    plan: &Dialplan,
    intent: &str,
    at: usize,
    vars: &HashMap<String, String>,
    entities: &Entities,
) -> Option<String> {
    let branch = |ask: &Ask| {
        ask.intents
            .iter()
            .find(|(name, _)| name == intent)
            .map(|(_, t)| t.index)
    };
    let here = match plan.steps().get(at).map(|s| &s.kind) {
        Some(StepKind::Ask(ask)) => branch(ask),
        _ => None,
    };
    let target = here.or_else(|| {
        plan.steps().iter().find_map(|s| match &s.kind {
            StepKind::Ask(ask) => branch(ask),
            _ => None,
        })
    })?;
    first_words(plan, target, vars.clone(), entities)
}

/// What the bot says first from step `index` on, without waiting for the caller.
fn first_words(
    plan: &Dialplan,
    mut index: usize,
    mut vars: HashMap<String, String>,
    entities: &Entities,
) -> Option<String> {
    for _ in 0..MAX_HOPS {
        let text = match &plan.steps().get(index)?.kind {
            StepKind::Say(say) => say.text.render_known(&vars),
            StepKind::Ask(ask) => {
                // A value the caller already gave (or the call knows) is not asked for again.
                if let Some(capture) = &ask.capture {
                    let known = vars.get(&capture.var).cloned().or_else(|| {
                        carried_value(capture.entity, entities).filter(|v| is_valid(capture, v))
                    });
                    if let Some(value) = known {
                        vars.insert(capture.var.clone(), value);
                        index = ask.next.as_ref().map_or(index + 1, |t| t.index);
                        continue;
                    }
                }
                ask.input.prompt.as_ref()?.render_known(&vars)
            }
            StepKind::Menu(menu) => menu.input.prompt.as_ref()?.render_known(&vars),
            StepKind::Collect(collect) => collect.input.prompt.as_ref()?.render_known(&vars),
            StepKind::Csat(csat) => csat.input.prompt.as_ref()?.render_known(&vars),
            StepKind::Set(assignments) => {
                for a in assignments {
                    let value = a.value.render(&vars);
                    vars.insert(a.var.clone(), value);
                }
                index += 1;
                continue;
            }
            StepKind::Goto(target) => {
                index = target.index;
                continue;
            }
            StepKind::Play(_) | StepKind::Http(_) | StepKind::Ticket(_) => {
                index += 1;
                continue;
            }
            StepKind::Transfer(_) | StepKind::Hangup(_) | StepKind::Queue(_) => return None,
        };
        let text = text.trim();
        return (!text.is_empty()).then(|| text.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::load_str;
    use crate::dialplan::template::vars;

    const PLAN: &str = r#"
name: shop
start: menu
intents:
  order_status: {examples: [where is my order]}
  returns: {examples: [return an item]}
  hours: {examples: [opening hours]}
  agent: {examples: [a person]}
  loop: {examples: [round and round]}
  unbranched: {examples: [nothing here]}
steps:
  - label: menu
    ask:
      prompt: "How can I help?"
      intents: {order_status: order, returns: returns, hours: hours, agent: agent, loop: spin}
  - label: order
    ask:
      prompt: "What is your order number, {caller}?"
      capture: {var: order_number, entity: order_number, min_digits: 4, max_digits: 10}
  - say: "Order {order_number|digits} ships in 3 days."
  - hangup: completed
  - label: returns
    set: {kind: refund}
  - goto: returns_say
  - label: returns_say
    say: "Your {kind} follows within 5 days."
  - hangup: completed
  - label: hours
    say: "We are open 8 to 8."
  - label: other
    ask:
      prompt: "Anything else?"
      intents: {hours: late_hours, yes: menu}
  - label: late_hours
    say: "Late: open until 10."
  - label: agent
    queue: {name: support, on_timeout: hours, on_full: hours}
  - label: spin
    goto: spin
"#;

    fn plan() -> Dialplan {
        load_str("shop.yaml", PLAN).expect("test plan loads")
    }

    #[test]
    fn each_intent_gets_the_first_words_of_its_branch() {
        let plan = plan();
        let menu = plan.label_index("menu").unwrap();
        let other = plan.label_index("other").unwrap();
        let order = Entities {
            order_number: Some("12345".into()),
            ..Entities::default()
        };
        let short_order = Entities {
            order_number: Some("12".into()),
            ..Entities::default()
        };
        let none = Entities::default();
        let known = vars(&[("caller", "Ann")]);
        type Case<'a> = (
            &'a str,
            usize,
            &'a HashMap<String, String>,
            &'a Entities,
            Option<&'a str>,
        );
        let cases: [Case; 11] = [
            // A question, with the variables known filled and the others left as slots.
            (
                "order_status",
                menu,
                &known,
                &none,
                Some("What is your order number, Ann?"),
            ),
            (
                "order_status",
                menu,
                &HashMap::new(),
                &none,
                Some("What is your order number, {caller}?"),
            ),
            // The caller already said the number: the bot skips the question.
            (
                "order_status",
                menu,
                &known,
                &order,
                Some("Order 1 2 3 4 5 ships in 3 days."),
            ),
            // ... unless it is not a valid one.
            (
                "order_status",
                menu,
                &known,
                &short_order,
                Some("What is your order number, Ann?"),
            ),
            // `set` and `goto` are followed.
            (
                "returns",
                menu,
                &known,
                &none,
                Some("Your refund follows within 5 days."),
            ),
            ("hours", menu, &known, &none, Some("We are open 8 to 8.")),
            // The current ask's own branch wins over the file's first.
            ("hours", other, &known, &none, Some("Late: open until 10.")),
            // Elsewhere (e.g. with an agent, at a queue step): the first ask that branches.
            ("hours", 0, &known, &none, Some("We are open 8 to 8.")),
            // Nothing said before the queue, a goto loop, no branch at all.
            ("agent", menu, &known, &none, None),
            ("loop", menu, &known, &none, None),
            ("unbranched", menu, &known, &none, None),
        ];
        for (intent, at, vars, entities, want) in cases {
            assert_eq!(
                reply_for(&plan, intent, at, vars, entities).as_deref(),
                want,
                "{intent} at {at} with {entities:?}"
            );
        }
    }

    #[test]
    fn replies_follow_the_candidates_order() {
        let plan = plan();
        let candidates = [
            IntentScore {
                intent: "hours".into(),
                confidence: 0.8,
            },
            IntentScore {
                intent: "unbranched".into(),
                confidence: 0.5,
            },
            IntentScore {
                intent: "returns".into(),
                confidence: 0.2,
            },
        ];
        let replies = suggest_replies(
            &plan,
            &candidates,
            plan.label_index("menu").unwrap(),
            &HashMap::new(),
            &Entities::default(),
        );
        assert_eq!(
            replies,
            [
                Some("We are open 8 to 8.".to_string()),
                None,
                Some("Your refund follows within 5 days.".to_string()),
            ]
        );
    }

    #[test]
    fn only_a_close_article_is_suggested() {
        let article = |confidence: f32, answer: &str| FaqMatch {
            article: "shipping".into(),
            answer: answer.into(),
            confidence,
        };
        let cases = [
            (Some(article(0.9, "We ship worldwide.")), true),
            (Some(article(FAQ_THRESHOLD, "We ship worldwide.")), true),
            (
                Some(article(FAQ_THRESHOLD - 0.01, "We ship worldwide.")),
                false,
            ),
            (Some(article(0.9, "  ")), false),
            (None, false),
        ];
        for (faq, want) in cases {
            assert_eq!(faq_suggestion(faq.as_ref()).is_some(), want, "{faq:?}");
        }
    }
}
