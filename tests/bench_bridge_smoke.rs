//! Smoke test of `voxdesk bench bridge --quick` (about 11 s): the benchmark starts its own
//! voxdesk and SIPp processes (agents registering, agent phone, callers), bridges 10 calls and
//! prints its figure lines. It checks that the bench runs end to end, not how fast anything is.
//! Skipped (with a message) where SIPp is missing.

use std::process::Command;

#[test]
fn quick_bridge_bench_prints_its_figures() {
    if Command::new("sipp").arg("-v").output().is_err() {
        eprintln!("sipp not installed (Debian package sip-tester): skipping the bench smoke test");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_voxdesk"))
        .args(["bench", "bridge", "--quick"])
        .output()
        .expect("run voxdesk bench bridge");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{stderr}");
    for want in [
        "machine: ",
        // Every agent registered and every call was bridged both ways.
        "calls: 10 asked, 10 agents registered, 10 bridged both ways, 0 failed",
        "bridge added latency caller->agent: p50 ",
        "bridge added latency agent->caller: p50 ",
        "jitter voxdesk->agent (bridged stream): p50 ",
        "CPU per bridged call: ",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing in:\n{stdout}\n{stderr}"
        );
    }
    assert!(!stdout.contains("(0 frames matched"), "{stdout}");
}
