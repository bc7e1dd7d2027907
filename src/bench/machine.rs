//! What the figures were measured on: cores, CPU model, open-file limit, date, SIPp version.

use std::path::Path;
use std::process::Command;

/// The machine line of the report.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Soft limit on open files (`ulimit -n`).
    pub open_files: Option<u64>,
    /// UTC, RFC 3339.
    pub date: String,
    /// First line of `sipp -v`.
    pub sipp: String,
    /// 1-minute load average when the bench started (other work on the box skews figures).
    pub load: String,
}

impl Machine {
    /// Reads it all; unknown parts are left blank rather than failing the bench.
    pub fn probe(sipp: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let sipp_version = Command::new(sipp)
            .arg("-v")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".into()),
            open_files: open_files(&limits),
            date: serde_json::to_value(crate::tickets::Timestamp::now())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            sipp: sipp_version
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("SIPp not found")
                .to_string(),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "?".into()),
        }
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

fn open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_text_is_read() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor: 0\n"), None);
        let limits = "Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files\n";
        assert_eq!(open_files(limits), Some(20000));
        assert_eq!(open_files("Max open files unlimited unlimited files"), None);
    }
}
