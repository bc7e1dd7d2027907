//! Configuration: every limit and timer in one TOML file (`--config FILE`), with embedded
//! defaults so `voxdesk serve` runs with no file at all. CLI flags override the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is invalid or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the position.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// SIP signalling.
    pub sip: SipConfig,
    /// HTTP API.
    pub http: HttpConfig,
    /// RTP media.
    pub media: MediaConfig,
    /// Capacity limits.
    pub limits: Limits,
    /// Files on disk.
    pub data: DataConfig,
    /// Dialplans.
    pub dialplan: DialplanConfig,
    /// Text-to-speech.
    pub tts: TtsConfig,
    /// Speech recognition.
    pub speech: SpeechConfig,
    /// Stopping.
    pub shutdown: ShutdownConfig,
    /// Human agents and their queues.
    pub agents: AgentsConfig,
}

/// Where agents and queues come from, and how their phones are watched.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// The agents file (`agents:` and `queues:`); a missing file means no agents, so every
    /// `queue` step takes its `on_full` branch.
    pub file: PathBuf,
    /// Seconds between OPTIONS pings to each registered contact (NAT keepalive and presence).
    pub keepalive_secs: u64,
    /// Unanswered pings in a row after which a contact is dropped.
    pub keepalive_failures: u32,
    /// Digest algorithms offered in a REGISTER challenge, preferred first (RFC 8760). Old
    /// phones (and SIPp 3.6) read only the first challenge and know only MD5: list `["MD5"]`
    /// for them.
    pub challenge: Vec<String>,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            file: "dialplans/agents.yaml".into(),
            keepalive_secs: 30,
            keepalive_failures: 3,
            challenge: vec!["SHA-256".into(), "MD5".into()],
        }
    }
}

/// SIP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// UDP and TCP listen address (same port for both).
    pub listen: SocketAddr,
    /// Address put in Via/Contact/SDP when `listen` is a wildcard.
    pub advertise: Option<std::net::IpAddr>,
    /// Ringing time before the 200 OK.
    pub answer_delay_ms: u64,
    /// RFC 3261 T1.
    pub t1_ms: u64,
    /// RFC 3261 T2.
    pub t2_ms: u64,
    /// RFC 3261 T4.
    pub t4_ms: u64,
    /// Largest SIP message accepted.
    pub max_message_size: usize,
    /// Seconds to wait for the transferee's NOTIFY before hanging up after a REFER.
    pub transfer_notify_timeout_secs: u64,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            advertise: None,
            answer_delay_ms: 0,
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_message_size: 65_535,
            transfer_notify_timeout_secs: 5,
        }
    }
}

/// HTTP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address.
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

/// RTP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// RTP port range, `LOW-HIGH`.
    pub rtp_ports: String,
    /// Hang up when no RTP arrives for this long.
    pub rtp_timeout_secs: u64,
    /// Hang up a call the caller has held this long (RTP stops while on hold, so the RTP
    /// timeout cannot catch a phone that died on hold).
    pub hold_timeout_secs: u64,
    /// Jitter buffer depth in 20 ms frames.
    pub jitter_depth: usize,
    /// Record every call to a stereo WAV.
    pub record: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_ports: "20000-30000".into(),
            rtp_timeout_secs: 30,
            hold_timeout_secs: 600,
            jitter_depth: 3,
            record: true,
        }
    }
}

/// Capacity limits; beyond them new calls get 503 + Retry-After.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Concurrent calls.
    pub max_calls: usize,
    /// Longest answered call; then voxdesk hangs up.
    pub max_call_secs: u64,
    /// Retry-After seconds on 503.
    pub retry_after_secs: u32,
    /// Per-call event queue length.
    pub call_queue: usize,
    /// SIP command/event queue length.
    pub sip_queue: usize,
    /// Open SIP TCP connections; further connections are closed at once.
    pub max_tcp_connections: usize,
    /// HTTP requests handled at once; beyond: 503 + Retry-After.
    pub http_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_calls: 500,
            max_call_secs: 3600,
            retry_after_secs: 5,
            call_queue: 64,
            sip_queue: 8192,
            max_tcp_connections: 1024,
            http_in_flight: 256,
        }
    }
}

/// Where data lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Directory for the ticket database and recordings.
    pub dir: PathBuf,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { dir: "var".into() }
    }
}

/// Which dialplan runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialplanConfig {
    /// The dialplan of calls to any user `routes` does not name.
    pub file: PathBuf,
    /// Called user (the Request-URI's user part, e.g. `support` or a number) → dialplan
    /// file. The defaults put the four industry dialplans on `support@`, `bank@`, `telecom@`
    /// and `government@`; `routes = {}` sends every call to `file`.
    pub routes: BTreeMap<String, PathBuf>,
    /// Sentence-embedding model directory for semantic intents; when it is missing the bot
    /// matches keywords.
    pub embed_model: PathBuf,
}

impl Default for DialplanConfig {
    fn default() -> Self {
        DialplanConfig {
            file: "dialplans/default.yaml".into(),
            routes: [
                ("support", "dialplans/ecommerce.yaml"),
                ("bank", "dialplans/bank.yaml"),
                ("telecom", "dialplans/telecom.yaml"),
                ("government", "dialplans/government.yaml"),
            ]
            .into_iter()
            .map(|(user, file)| (user.to_string(), PathBuf::from(file)))
            .collect(),
            embed_model: crate::bot::embed::DEFAULT_DIR.into(),
        }
    }
}

/// TTS settings (the voice is chosen per dialplan).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsConfig {
    /// Speaking rate, words per minute (80–450).
    pub rate_wpm: u16,
    /// Synthesized prompts kept in memory.
    pub cache_entries: usize,
    /// Seconds of audio kept in the prompt cache over all prompts.
    pub cache_seconds: usize,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            rate_wpm: 160,
            cache_entries: 256,
            cache_seconds: 600,
        }
    }
}

/// Speech recognition (`[speech]`, with `[speech.endpoint]` for the endpointer).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpeechConfig {
    /// ggml Whisper model; when the file is missing, `ask` steps run on keys only.
    pub model: PathBuf,
    /// Parallel transcriptions.
    pub asr_workers: usize,
    /// CPU threads per transcription.
    pub asr_threads: usize,
    /// Utterances waiting for a worker; beyond that, calls fall back to keys.
    pub asr_queue: usize,
    /// Beam width of the decoder (1 = greedy).
    pub asr_beam: usize,
    /// VAD and endpointing.
    pub endpoint: crate::speech::endpoint::EndpointConfig,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        // One thread per transcription: whisper.cpp's threads spin-wait on each other, and on
        // a busy machine a 2-thread decode was measured taking seconds instead of 120 ms.
        // Parallel calls get parallel workers instead.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SpeechConfig {
            model: "models/ggml-tiny.en.bin".into(),
            asr_workers: cores.clamp(1, 16),
            asr_threads: 1,
            asr_queue: 8,
            asr_beam: 1,
            endpoint: crate::speech::endpoint::EndpointConfig::default(),
        }
    }
}

/// Shutdown settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Live calls get their BYE after this long on SIGTERM.
    pub grace_secs: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { grace_secs: 5 }
    }
}

impl Config {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses TOML text (`path` only names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks ranges that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        parse_port_range(&self.media.rtp_ports)?;
        let limits = &self.limits;
        let sizes = [
            limits.max_calls,
            limits.call_queue,
            limits.sip_queue,
            limits.max_tcp_connections,
            limits.http_in_flight,
        ];
        if sizes.contains(&0) {
            return Err(ConfigError::Invalid(
                "every value under [limits] must be > 0".into(),
            ));
        }
        if self.sip.t1_ms == 0 || self.sip.t2_ms < self.sip.t1_ms {
            return Err(ConfigError::Invalid(
                "sip.t1_ms must be > 0 and sip.t2_ms >= sip.t1_ms".into(),
            ));
        }
        if self.sip.max_message_size < 1024 {
            return Err(ConfigError::Invalid(
                "sip.max_message_size must be at least 1024".into(),
            ));
        }
        self.digest_algorithms()?;
        if self.agents.keepalive_secs == 0 || self.agents.keepalive_failures == 0 {
            return Err(ConfigError::Invalid(
                "agents.keepalive_secs and agents.keepalive_failures must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// The `[agents] challenge` algorithms, parsed.
    pub fn digest_algorithms(&self) -> Result<Vec<crate::sip::auth::Algorithm>, ConfigError> {
        use crate::sip::auth::Algorithm;
        let parsed: Vec<Algorithm> = self
            .agents
            .challenge
            .iter()
            .map(|name| match name.to_ascii_uppercase().as_str() {
                "MD5" => Ok(Algorithm::Md5),
                "SHA-256" => Ok(Algorithm::Sha256),
                _ => Err(ConfigError::Invalid(format!(
                    "agents.challenge: unknown digest algorithm {name:?} (MD5 or SHA-256)"
                ))),
            })
            .collect::<Result<_, _>>()?;
        if parsed.is_empty() {
            return Err(ConfigError::Invalid(
                "agents.challenge must not be empty".into(),
            ));
        }
        Ok(parsed)
    }

    /// The RFC 3261 timers.
    pub fn sip_timers(&self) -> crate::sip::transaction::SipTimers {
        crate::sip::transaction::SipTimers {
            t1: Duration::from_millis(self.sip.t1_ms),
            t2: Duration::from_millis(self.sip.t2_ms),
            t4: Duration::from_millis(self.sip.t4_ms),
        }
    }
}

/// Parses `LOW-HIGH` into an inclusive range of at least two ports.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), ConfigError> {
    let bad = || ConfigError::Invalid(format!("RTP port range {text:?}: expected LOW-HIGH"));
    let (low, high) = text.split_once('-').ok_or_else(bad)?;
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low == 0 || high <= low {
        return Err(bad());
    }
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_embedded_defaults() {
        let cfg = Config::parse(Path::new("x.toml"), "").unwrap();
        assert_eq!(
            cfg.sip.listen,
            "127.0.0.1:5060".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            cfg.http.listen,
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(cfg.dialplan.file, PathBuf::from("dialplans/default.yaml"));
        let routed = &cfg.dialplan.routes;
        assert_eq!(routed["support"], PathBuf::from("dialplans/ecommerce.yaml"));
        assert_eq!(routed["bank"], PathBuf::from("dialplans/bank.yaml"));
    }

    #[test]
    fn routes_are_replaced_or_cleared_by_the_file() {
        let cleared = Config::parse(Path::new("x.toml"), "[dialplan]\nroutes = {}\n").unwrap();
        assert!(cleared.dialplan.routes.is_empty());
        let text = "[dialplan.routes]\n\"4420\" = \"dialplans/bank.yaml\"\n";
        let own = Config::parse(Path::new("x.toml"), text).unwrap();
        let users: Vec<_> = own.dialplan.routes.keys().collect();
        assert_eq!(users, ["4420"]);
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let cases = [
            ("[sip]\nbogus = 1\n", "unknown field"),
            ("[media]\nrtp_ports = \"9-3\"\n", "LOW-HIGH"),
            ("[limits]\nmax_calls = 0\n", "[limits]"),
            ("[sip\n", "x.toml"),
        ];
        for (text, want) in cases {
            let err = Config::parse(Path::new("x.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text:?} gave {err}");
        }
    }

    #[test]
    fn overrides_apply() {
        let cfg = Config::parse(
            Path::new("x.toml"),
            "[sip]\nanswer_delay_ms = 2000\n[limits]\nmax_calls = 2\n",
        )
        .unwrap();
        assert_eq!(cfg.sip.answer_delay_ms, 2000);
        assert_eq!(cfg.limits.max_calls, 2);
        assert_eq!(parse_port_range("10000-10100").unwrap(), (10000, 10100));
    }
}
