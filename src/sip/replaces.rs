//! The Replaces header (RFC 3891 §6.1): `callid;to-tag=…;from-tag=…[;early-only]`, the dialog
//! an attended transfer means. Hand-written: one line of grammar, and rsip has no type for it.

/// A parsed Replaces value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    /// The replaced dialog's Call-ID.
    pub call_id: String,
    /// `to-tag`: the tag of the side that received the dialog's first request.
    pub to_tag: String,
    /// `from-tag`: the tag of the side that sent it.
    pub from_tag: String,
    /// Replace the dialog only while it is early.
    pub early_only: bool,
}

impl Replaces {
    /// Whether the dialog with these two tags (in either role) is the one meant.
    pub fn names_tags(&self, a: &str, b: &str) -> bool {
        (self.to_tag == a && self.from_tag == b) || (self.to_tag == b && self.from_tag == a)
    }
}

/// Parses a Replaces value; `None` without a Call-ID or either tag.
pub fn parse(value: &str) -> Option<Replaces> {
    let mut parts = value.split(';');
    let call_id = parts.next()?.trim();
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return None;
    }
    let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
    for part in parts {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("to-tag") {
            to_tag = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("from-tag") {
            from_tag = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("early-only") {
            early_only = true;
        }
    }
    Some(Replaces {
        call_id: call_id.to_owned(),
        to_tag: to_tag.filter(|t| !t.is_empty())?,
        from_tag: from_tag.filter(|t| !t.is_empty())?,
        early_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_parse_or_are_refused() {
        let full = parse("consult///abc@host;to-tag=vx1;from-tag=a1;early-only").unwrap();
        assert_eq!(
            full,
            Replaces {
                call_id: "consult///abc@host".into(),
                to_tag: "vx1".into(),
                from_tag: "a1".into(),
                early_only: true,
            }
        );
        assert!(full.names_tags("a1", "vx1") && full.names_tags("vx1", "a1"));
        assert!(!full.names_tags("a1", "other"));
        let spaced = parse(" c1 ; From-Tag = f ; TO-TAG=t").unwrap();
        assert_eq!(
            (spaced.call_id.as_str(), spaced.to_tag.as_str()),
            ("c1", "t")
        );
        assert!(!spaced.early_only);
        for broken in [
            "",
            ";to-tag=a;from-tag=b",
            "c1;to-tag=a",
            "c1;from-tag=b",
            "c1;to-tag=;from-tag=b",
            "c 1;to-tag=a;from-tag=b",
        ] {
            assert_eq!(parse(broken), None, "{broken:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic(value in "\\PC{0,80}") {
            let _ = parse(&value);
        }
    }
}
