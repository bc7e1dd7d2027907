//! SIPp as a load generator: the command lines the bench runs and the parsers for what SIPp
//! leaves behind (`-trace_stat` CSV, `-trace_rtt` CSV). Parsing is pure; running is in `procs`.

use std::net::SocketAddr;
use std::path::Path;

use super::BenchError;

/// Columns of SIPp's `-trace_stat` file the bench reads (cumulative `(C)` values).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SippStats {
    /// Calls placed.
    pub outgoing: u64,
    /// Calls that ran the whole scenario.
    pub successful: u64,
    /// Calls that failed for any reason.
    pub failed: u64,
    /// Of which: an unexpected message (e.g. 503 instead of 200).
    pub unexpected: u64,
    /// Of which: no answer within `-recv_timeout` or the UDP retransmission limit.
    pub timeouts: u64,
    /// UDP retransmissions SIPp had to send.
    pub retransmissions: u64,
    /// Calls still in progress when the line was written.
    pub current: u64,
    /// Average call rate over the run (calls/s).
    pub call_rate: f64,
}

/// Reads the last data line of a `-trace_stat` CSV (`;`-separated, header first).
pub fn parse_stat_csv(text: &str) -> Result<SippStats, BenchError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next();
    let header: Vec<&str> = header
        .ok_or_else(|| BenchError::Sipp("empty statistics file".into()))?
        .split(';')
        .collect();
    let last = lines
        .next_back()
        .ok_or_else(|| BenchError::Sipp("statistics file has no data line".into()))?;
    let values: Vec<&str> = last.split(';').collect();
    let column = |name: &str| -> Result<&str, BenchError> {
        header
            .iter()
            .position(|h| h.trim() == name)
            .and_then(|i| values.get(i).copied())
            .map(str::trim)
            .ok_or_else(|| BenchError::Sipp(format!("statistics file has no {name} column")))
    };
    let count = |name: &str| -> Result<u64, BenchError> {
        column(name)?
            .parse()
            .map_err(|_| BenchError::Sipp(format!("{name} is not a number")))
    };
    Ok(SippStats {
        outgoing: count("OutgoingCall(C)")?,
        successful: count("SuccessfulCall(C)")?,
        failed: count("FailedCall(C)")?,
        unexpected: count("FailedUnexpectedMessage(C)")?,
        timeouts: count("FailedTimeoutOnRecv(C)")? + count("FailedMaxUDPRetrans(C)")?,
        retransmissions: count("Retransmissions(C)")?,
        current: count("CurrentCall")?,
        call_rate: column("CallRate(C)")?.parse().unwrap_or(0.0),
    })
}

/// Response times (ms) from a `-trace_rtt` CSV: `Date_ms;response_time_ms;rtd_no` lines.
pub fn parse_rtt(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|line| line.split(';').nth(1))
        .filter_map(|ms| ms.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| ms.round().min(f64::from(u32::MAX)) as u32)
        .collect()
}

/// Nearest-rank percentile of an ascending slice.
pub fn percentile(sorted: &[u32], p: usize) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// One caller run (bench_uac.xml).
#[derive(Debug, Clone)]
pub struct UacRun<'a> {
    /// The scenario file.
    pub scenario: &'a Path,
    /// Who answers.
    pub target: SocketAddr,
    /// SIPp's own SIP port.
    pub local_port: u16,
    /// SIPp's media port (it binds it even when unused).
    pub media_port: u16,
    /// CSV of probe ports (`SEQUENTIAL` then one port per line).
    pub ports_csv: &'a Path,
    /// New calls per second.
    pub rate: u32,
    /// Calls in total.
    pub calls: u64,
    /// Concurrent calls at most.
    pub limit: u64,
    /// ACK to BYE.
    pub hold_ms: u64,
    /// SIPp gives up after this many seconds.
    pub timeout_secs: u64,
}

impl UacRun<'_> {
    /// Arguments after `sipp`; the statistics and response times land in the working directory.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-sf".into(),
            self.scenario.display().to_string(),
            self.target.to_string(),
        ];
        let pairs: [(&str, String); 8] = [
            ("-i", "127.0.0.1".into()),
            ("-p", self.local_port.to_string()),
            ("-mp", self.media_port.to_string()),
            ("-inf", self.ports_csv.display().to_string()),
            ("-r", self.rate.to_string()),
            ("-m", self.calls.to_string()),
            ("-l", self.limit.to_string()),
            ("-d", self.hold_ms.to_string()),
        ];
        for (flag, value) in pairs {
            args.push(flag.into());
            args.push(value);
        }
        args.extend(
            [
                "-key",
                "rtp_ip",
                "127.0.0.1",
                "-recv_timeout",
                "5000",
                "-timeout",
                &format!("{}s", self.timeout_secs),
                "-nostdin",
                "-trace_stat",
                "-stf",
                STAT_FILE,
                "-fd",
                "1",
                "-trace_rtt",
                "-rtt_freq",
                "1",
                "-trace_err",
            ]
            .map(String::from),
        );
        args
    }
}

/// Name of the `-trace_stat` file in a UAC's working directory.
pub const STAT_FILE: &str = "stat.csv";

/// Arguments for an answering SIPp: the built-in `uas`, or a scenario file.
pub fn uas_args(scenario: Option<&Path>, port: u16, media_port: u16) -> Vec<String> {
    let mut args: Vec<String> = match scenario {
        Some(file) => vec!["-sf".into(), file.display().to_string()],
        None => vec!["-sn".into(), "uas".into()],
    };
    args.extend(
        [
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mp",
            &media_port.to_string(),
            "-nostdin",
        ]
        .map(String::from),
    );
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "StartTime;CallRate(C);OutgoingCall(C);CurrentCall;SuccessfulCall(C);\
FailedCall(C);FailedUnexpectedMessage(C);FailedTimeoutOnRecv(C);FailedMaxUDPRetrans(C);\
Retransmissions(C);\n\
x;10.0;5;5;0;0;0;0;0;0;\n\
y;199.85;2000;0;1990;10;7;2;1;31;\n";

    #[test]
    fn last_statistics_line_is_read_by_column_name() {
        let s = parse_stat_csv(STAT).unwrap();
        assert_eq!(
            s,
            SippStats {
                outgoing: 2000,
                successful: 1990,
                failed: 10,
                unexpected: 7,
                timeouts: 3,
                retransmissions: 31,
                current: 0,
                call_rate: 199.85,
            }
        );
    }

    #[test]
    fn broken_statistics_are_errors() {
        for text in ["", "A;B\n", "CallRate(C)\n1\n", "OutgoingCall(C)\nx\n"] {
            assert!(parse_stat_csv(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn rtt_lines_and_percentiles() {
        let text =
            "Date_ms;response_time_ms;rtd_no\n1.0;0;answer\n2.0;3;answer\n3;1.6;answer\nbad\n";
        let mut rtt = parse_rtt(text);
        rtt.sort_unstable();
        assert_eq!(rtt, [0, 2, 3]);
        let hundred: Vec<u32> = (1..=100).collect();
        let cases = [
            (50, Some(50)),
            (95, Some(95)),
            (99, Some(99)),
            (100, Some(100)),
        ];
        for (p, want) in cases {
            assert_eq!(percentile(&hundred, p), want);
        }
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 1), Some(7));
    }

    #[test]
    fn uac_arguments_name_every_file_and_limit() {
        let run = UacRun {
            scenario: Path::new("/t/bench_uac.xml"),
            target: "127.0.0.1:5060".parse().unwrap(),
            local_port: 40000,
            media_port: 40002,
            ports_csv: Path::new("/t/ports.csv"),
            rate: 200,
            calls: 2000,
            limit: 600,
            hold_ms: 0,
            timeout_secs: 30,
        };
        let line = run.args().join(" ");
        for want in [
            "-sf /t/bench_uac.xml 127.0.0.1:5060",
            "-r 200 -m 2000 -l 600 -d 0",
            "-inf /t/ports.csv",
            "-timeout 30s",
            "-stf stat.csv",
        ] {
            assert!(line.contains(want), "{want:?} missing in {line}");
        }
        let uas = uas_args(None, 5070, 6000).join(" ");
        assert!(uas.starts_with("-sn uas -i 127.0.0.1"), "{uas}");
    }
}
