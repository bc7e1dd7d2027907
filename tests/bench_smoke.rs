//! Smoke test of `voxdesk bench sip --quick` (about 13 s): the benchmark starts its own voxdesk
//! and SIPp processes, completes every call and prints both tables. It checks that the bench
//! runs end to end, not how fast anything is. Skipped (with a message) where SIPp is missing.

use std::process::Command;

#[test]
fn quick_bench_prints_both_tables() {
    if Command::new("sipp").arg("-v").output().is_err() {
        eprintln!("sipp not installed (Debian package sip-tester): skipping the bench smoke test");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_voxdesk"))
        .args(["bench", "sip", "--quick"])
        .output()
        .expect("run voxdesk bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{stderr}");
    for want in [
        "machine: ",
        // Every quick step completes all its calls on both sides.
        "highest rate with zero failed calls: voxdesk ",
        // All 10 calls streamed RTP to the probe from voxdesk and from SIPp.
        "   10 |      10 ",
        "Memory: answerer VmRSS",
    ] {
        assert!(
            stdout.contains(want),
            "{want:?} missing in:\n{stdout}\n{stderr}"
        );
    }
    assert!(!stdout.contains("SIPp UAS none"), "{stdout}");
    assert!(!stdout.contains("voxdesk none"), "{stdout}");
}
