//! A dialplan's knowledge base: questions callers ask that no intent covers, each with a short
//! spoken answer, read from a Markdown file.
//!
//! Format: `##` headings are questions; consecutive headings are alternative phrasings of one
//! article; the text up to the next heading is the answer (joined into one line, at most
//! [`MAX_ANSWER_SENTENCES`] sentences, since it is spoken). A `#` title and blank lines are
//! ignored. The article's id is a slug of its first question, so tickets can say which article
//! answered. Errors carry the 1-based line they are about.
//!
//! Matching lives in `understand`: articles are scored like intents (semantic when an
//! embedding model is loaded, keyword overlap otherwise).

use std::collections::HashSet;

/// Most articles a file may hold.
pub const MAX_ARTICLES: usize = 200;
/// Most alternative questions per article.
pub const MAX_QUESTIONS: usize = 16;
/// Longest answer, in bytes.
pub const MAX_ANSWER_BYTES: usize = 600;
/// An answer is spoken to a caller on the phone: two sentences at most.
pub const MAX_ANSWER_SENTENCES: usize = 2;

/// One question-and-answer article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Slug of the first question (`what-is-your-returns-policy`), unique in the file.
    pub id: String,
    /// The question and its alternative phrasings.
    pub questions: Vec<String>,
    /// What is spoken.
    pub answer: String,
    /// Line of the first question.
    pub line: usize,
}

/// The articles of one knowledge file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faq {
    /// In file order.
    pub articles: Vec<Article>,
}

/// What is wrong with a knowledge file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Faq {
    /// Parses a knowledge file; every problem is reported, not only the first.
    pub fn parse(text: &str) -> Result<Faq, Vec<FaqError>> {
        let mut parser = Parser::default();
        for (index, raw) in text.lines().enumerate() {
            parser.line(index + 1, raw.trim());
        }
        parser.finish(text.lines().count() + 1)
    }

    /// The article with this id.
    pub fn article(&self, id: &str) -> Option<&Article> {
        self.articles.iter().find(|a| a.id == id)
    }
}

#[derive(Default)]
struct Parser {
    faq: Faq,
    errors: Vec<FaqError>,
    questions: Vec<String>,
    first_line: usize,
    answer: Vec<String>,
    ids: HashSet<String>,
}

impl Parser {
    fn line(&mut self, number: usize, line: &str) {
        if let Some(question) = line.strip_prefix("##") {
            if !self.answer.is_empty() {
                self.close(number);
            }
            let question = question.trim_start_matches('#').trim();
            if question.is_empty() {
                self.error(number, "empty question heading");
            } else if self.questions.len() >= MAX_QUESTIONS {
                self.error(
                    number,
                    &format!("more than {MAX_QUESTIONS} questions in one article"),
                );
            } else {
                if self.questions.is_empty() {
                    self.first_line = number;
                }
                self.questions.push(question.to_string());
            }
        } else if line.starts_with('#') {
            if !self.questions.is_empty() {
                self.close(number);
            }
        } else if !line.is_empty() {
            if self.questions.is_empty() {
                self.error(number, "text before the first `##` question");
            } else {
                self.answer.push(line.to_string());
            }
        }
    }

    /// Ends the open article (if any) before `next_line`.
    fn close(&mut self, next_line: usize) {
        let questions = std::mem::take(&mut self.questions);
        let answer = std::mem::take(&mut self.answer).join(" ");
        let Some(first) = questions.first() else {
            return;
        };
        let line = self.first_line;
        if answer.is_empty() {
            self.error(
                line,
                &format!("question `{first}` has no answer before line {next_line}"),
            );
            return;
        }
        if answer.len() > MAX_ANSWER_BYTES {
            self.error(
                line,
                &format!("answer longer than {MAX_ANSWER_BYTES} bytes"),
            );
            return;
        }
        let sentences = sentence_count(&answer);
        if sentences > MAX_ANSWER_SENTENCES {
            self.error(
                line,
                &format!(
                    "answer has {sentences} sentences; callers hear at most {MAX_ANSWER_SENTENCES}"
                ),
            );
            return;
        }
        if self.faq.articles.len() >= MAX_ARTICLES {
            self.error(line, &format!("more than {MAX_ARTICLES} articles"));
            return;
        }
        let id = slug(first);
        if !self.ids.insert(id.clone()) {
            self.error(line, &format!("two articles have the id `{id}`"));
            return;
        }
        self.faq.articles.push(Article {
            id,
            questions,
            answer,
            line,
        });
    }

    fn error(&mut self, line: usize, message: &str) {
        self.errors.push(FaqError {
            line,
            message: message.to_string(),
        });
    }

    fn finish(mut self, end: usize) -> Result<Faq, Vec<FaqError>> {
        self.close(end);
        if self.faq.articles.is_empty() && self.errors.is_empty() {
            self.error(1, "no `## question` articles");
        }
        if self.errors.is_empty() {
            Ok(self.faq)
        } else {
            Err(self.errors)
        }
    }
}

/// Sentences in `text`: runs ending in `.`, `?` or `!` followed by a space or the end, plus a
/// trailing run without an end mark. "10.50" and "e.g." mid-word do not split.
fn sentence_count(text: &str) -> usize {
    let mut count = 0;
    let mut open = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, '.' | '?' | '!') {
            if open && chars.peek().is_none_or(|n| n.is_whitespace()) {
                count += 1;
                open = false;
            }
        } else if c.is_alphanumeric() {
            open = true;
        }
    }
    count + usize::from(open)
}

/// Lowercase ASCII letters and digits joined by single dashes, at most 60 bytes.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() + word.len() + 1 > 60 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    if out.is_empty() {
        out.push_str("article");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Shop help\n\
        \n\
        ## What is your returns policy?\n\
        ## How long do I have to send something back?\n\
        You can return any unused item within 30 days.\n\
        Refunds reach your card within five working days.\n\
        \n\
        ## Do you ship abroad?\n\
        We deliver to the UK and the EU, for 4.50 pounds.\n";

    #[test]
    fn articles_with_alternative_questions() {
        let faq = Faq::parse(SAMPLE).unwrap();
        assert_eq!(faq.articles.len(), 2);
        let first = &faq.articles[0];
        assert_eq!(first.id, "what-is-your-returns-policy");
        assert_eq!(first.questions.len(), 2);
        assert_eq!(
            first.answer,
            "You can return any unused item within 30 days. Refunds reach your card within five working days."
        );
        assert_eq!(first.line, 3);
        assert_eq!(faq.articles[1].id, "do-you-ship-abroad");
        assert_eq!(faq.article("do-you-ship-abroad").unwrap().line, 8);
    }

    #[test]
    fn problems_are_reported_with_lines() {
        let cases = [
            ("stray text\n## Q?\nA.\n", 1, "before the first"),
            ("## Q?\n\n## R?\nA.\n## S?\n", 5, "no answer"),
            ("## Q?\nOne. Two. Three.\n", 1, "3 sentences"),
            ("## Same?\nA.\n## Same?\nB.\n", 3, "two articles"),
            ("##   \nA.\n", 1, "empty question"),
            ("# only a title\n", 1, "no `## question`"),
        ];
        for (text, line, needle) in cases {
            let errors = Faq::parse(text).unwrap_err();
            assert!(
                errors
                    .iter()
                    .any(|e| e.line == line && e.message.contains(needle)),
                "{text:?}: {errors:?}"
            );
        }
    }

    #[test]
    fn sentences_are_counted_by_their_end_marks() {
        assert_eq!(sentence_count("It costs 4.50 pounds."), 1);
        assert_eq!(sentence_count("Yes. We do!"), 2);
        assert_eq!(sentence_count("No end mark"), 1);
        assert_eq!(sentence_count("Why? Because. Done"), 3);
    }

    #[test]
    fn slugs_are_bounded_and_never_empty() {
        assert_eq!(slug("Can I pay by card?"), "can-i-pay-by-card");
        assert_eq!(slug("???"), "article");
        assert!(slug(&"word ".repeat(100)).len() <= 60);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "(## [a-z ?]{0,12}\n|[a-zA-Z .?!#]{0,30}\n){0,20}") {
            let _ = Faq::parse(&text);
        }
    }
}
