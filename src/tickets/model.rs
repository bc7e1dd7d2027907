//! The ticket read and write model: ids, dispositions, turns, pages.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::handling::Handling;
use super::time::Timestamp;

/// Primary key of a ticket; allocated in memory so `create` never waits on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TicketId(pub i64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a call ended. Stored and serialized as exactly these kebab-case words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// The dialplan ran to its end.
    Completed,
    /// Handed to an agent or another number.
    Transferred,
    /// The caller hung up before the dialplan ended.
    CallerHungUp,
    /// The caller never answered a prompt.
    NoInput,
    /// Something on our side went wrong.
    Failed,
}

impl Disposition {
    /// All dispositions, for tables and tests.
    pub const ALL: [Disposition; 5] = [
        Self::Completed,
        Self::Transferred,
        Self::CallerHungUp,
        Self::NoInput,
        Self::Failed,
    ];

    /// The stored / serialized word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Transferred => "transferred",
            Self::CallerHungUp => "caller-hung-up",
            Self::NoInput => "no-input",
            Self::Failed => "failed",
        }
    }
}

/// How urgently a ticket needs a person. Stored and serialized as these lowercase words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Whenever someone has time.
    Low,
    /// Every ticket unless the dialplan says otherwise.
    #[default]
    Normal,
    /// Before the normal ones (e.g. a service fault).
    High,
    /// Now (e.g. fraud on a card).
    Urgent,
}

impl Priority {
    /// All priorities, least urgent first.
    pub const ALL: [Priority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    /// The stored / serialized word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Parses the stored word.
    pub fn parse(word: &str) -> Option<Priority> {
        Self::ALL.into_iter().find(|p| p.as_str() == word)
    }
}

/// A stored disposition word this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown disposition {0:?}")]
pub struct UnknownDisposition(pub String);

impl FromStr for Disposition {
    type Err = UnknownDisposition;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDisposition(s.to_owned()))
    }
}

/// What a turn records. Unknown stored kinds survive as `Other` so a newer
/// binary's tickets still read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TurnKind {
    /// Said or played to the caller.
    Prompt,
    /// A digit the caller pressed.
    Dtmf,
    /// A menu choice and the branch it took.
    Menu,
    /// A collected variable (`var=value`).
    Collect,
    /// The dialplan entered a step.
    Step,
    /// The call was transferred.
    Transfer,
    /// Free-form remark.
    Note,
    /// Any other kind word.
    Other(String),
}

impl TurnKind {
    /// The stored / serialized word.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Prompt => "prompt",
            Self::Dtmf => "dtmf",
            Self::Menu => "menu",
            Self::Collect => "collect",
            Self::Step => "step",
            Self::Transfer => "transfer",
            Self::Note => "note",
            Self::Other(s) => s,
        }
    }

    /// Parses a stored word; never fails.
    pub fn parse(s: &str) -> Self {
        match s {
            "prompt" => Self::Prompt,
            "dtmf" => Self::Dtmf,
            "menu" => Self::Menu,
            "collect" => Self::Collect,
            "step" => Self::Step,
            "transfer" => Self::Transfer,
            "note" => Self::Note,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for TurnKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Keys a turn's extras may not use, because the turn itself serializes them.
pub const RESERVED_TURN_KEYS: [&str; 4] = ["at", "kind", "text", "data"];

/// One entry in a ticket's timeline.
///
/// `extras` holds kind-specific fields (later: `asr_confidence`, `intent`, `entities`, …); they
/// are stored as one JSON column and serialized flattened beside `at`/`kind`/`text`/`data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    /// When it happened.
    pub at: Timestamp,
    /// What it records.
    pub kind: TurnKind,
    /// Human-readable text (prompt text, digit, `var=value`, …).
    pub text: String,
    /// Structured detail; `null` when there is none.
    pub data: Value,
    /// Kind-specific fields, flattened into the turn's JSON.
    #[serde(flatten)]
    pub extras: Map<String, Value>,
}

impl Turn {
    /// A turn with no data or extras.
    pub fn new(at: Timestamp, kind: TurnKind, text: impl Into<String>) -> Self {
        Self {
            at,
            kind,
            text: text.into(),
            data: Value::Null,
            extras: Map::new(),
        }
    }

    /// Sets the structured detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// Adds one extra field; reserved keys (`at`, `kind`, `text`, `data`) are ignored so the
    /// flattened JSON never has duplicate keys.
    pub fn with_extra(mut self, key: impl Into<String>, value: Value) -> Self {
        let key = key.into();
        if !RESERVED_TURN_KEYS.contains(&key.as_str()) {
            self.extras.insert(key, value);
        }
        self
    }
}

/// What the call layer knows when a ticket is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// SIP Call-ID of the inbound dialog.
    pub call_id: String,
    /// From URI as received.
    pub from: String,
    /// To / request URI as received.
    pub to: String,
    /// When the INVITE arrived.
    pub started_at: Timestamp,
}

/// A ticket without its turns: one row of the list view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketSummary {
    /// Ticket id.
    pub id: TicketId,
    /// SIP Call-ID.
    pub call_id: String,
    /// Caller URI.
    pub from_uri: String,
    /// Called URI.
    pub to_uri: String,
    /// INVITE received.
    pub started_at: Timestamp,
    /// 200 OK sent, if ever.
    pub answered_at: Option<Timestamp>,
    /// Call torn down, if yet.
    pub ended_at: Option<Timestamp>,
    /// `ended_at - answered_at` when both are known.
    pub duration_ms: Option<i64>,
    /// `None` while the call is live.
    pub disposition: Option<Disposition>,
    /// Where the call went, if transferred.
    pub transfer_target: Option<String>,
    /// Path of the call recording, if any.
    pub recording_path: Option<String>,
    /// Every key the caller pressed, in order.
    pub digits: String,
    /// Number of turns stored.
    pub turn_count: u32,
    /// How urgent (`normal` unless the dialplan set it).
    pub priority: Priority,
    /// What the call was about, as the dialplan summed it up (empty if it did not).
    pub subject: String,
    /// The caller's sentiment over the call (`bot::CallSentiment`), null before the call ends
    /// or when the caller never spoke.
    pub sentiment: Value,
    /// Queue, agents, talk time, CSAT…: the human part of the call.
    #[serde(flatten)]
    pub handling: Handling,
}

/// A ticket with its ordered turns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    /// Everything but the turns.
    #[serde(flatten)]
    pub summary: TicketSummary,
    /// Timeline, oldest first.
    pub turns: Vec<Turn>,
}

/// One page of a newest-first listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The rows on this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: u32,
    /// Rows per page requested.
    pub per_page: u32,
    /// Rows in the whole listing.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn disposition_words_round_trip() {
        let words = [
            "completed",
            "transferred",
            "caller-hung-up",
            "no-input",
            "failed",
        ];
        for (d, word) in Disposition::ALL.into_iter().zip(words) {
            assert_eq!(d.as_str(), word);
            assert_eq!(serde_json::to_value(d).unwrap(), json!(word));
            assert_eq!(word.parse::<Disposition>(), Ok(d));
        }
        assert!("hung_up".parse::<Disposition>().is_err());
    }

    #[test]
    fn turn_kind_parse_round_trips_including_unknown() {
        for word in [
            "prompt", "dtmf", "menu", "collect", "step", "transfer", "note", "speech",
        ] {
            assert_eq!(TurnKind::parse(word).as_str(), word);
        }
        assert_eq!(TurnKind::parse("speech"), TurnKind::Other("speech".into()));
    }

    #[test]
    fn turn_extras_flatten_and_reserved_keys_are_ignored() {
        let turn = Turn::new(Timestamp::from_unix_millis(0), TurnKind::Prompt, "hello")
            .with_data(json!({"file": "welcome.wav"}))
            .with_extra("intent", json!("billing"))
            .with_extra("kind", json!("bogus"));
        assert_eq!(
            serde_json::to_value(&turn).unwrap(),
            json!({
                "at": "1970-01-01T00:00:00.000Z",
                "kind": "prompt",
                "text": "hello",
                "data": {"file": "welcome.wav"},
                "intent": "billing",
            })
        );
    }
}
