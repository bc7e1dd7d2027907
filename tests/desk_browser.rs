//! The browser agent desk in a real headless Chromium against the real binary: alice logs in
//! on `/desk` (the shipped `dialplans/agents.yaml`), her desk websocket makes her available
//! in the ACD, and the page shows it. A screenshot goes to `target/test-artifacts/`.
//! Skipped (with a message) when Chromium or chromedriver is not installed.

mod common;

use std::time::Duration;

use common::webdriver::{artifact_path, available, Browser};
use common::{eventually, Voxdesk};

#[test]
fn alice_logs_in_on_the_desk_and_becomes_available() {
    if !available() {
        eprintln!("skipped: chromium and chromedriver are not installed (tests/setup.sh)");
        return;
    }
    let vox = Voxdesk::start();
    let browser = Browser::start();
    browser.open(&format!("http://{}/desk", vox.http));
    assert_eq!(
        browser.find("#call-status").text(),
        "",
        "hidden before login"
    );
    browser.find("#user").type_text("alice");
    browser.find("#password").type_text("change-me-alice");
    browser.find("#login").click();

    let state = browser.wait_text("#state", Duration::from_secs(10), |t| t == "available");
    assert_eq!(state, "available");
    assert_eq!(browser.find("#call-status").text(), "idle");
    eventually(Duration::from_secs(5), "alice available in the API", || {
        let agents = vox.get_json("/api/agents");
        let alice = agents["agents"]
            .as_array()?
            .iter()
            .find(|a| a["user"] == "alice")?
            .clone();
        (alice["state"] == "available").then_some(())
    });
    browser.wait_text("#queues", Duration::from_secs(10), |t| {
        t.contains("support")
    });

    // Pausing from the page reaches the ACD and comes back over the desk websocket.
    browser.find("#pause-reason").type_text("lunch");
    browser.find("#pause").click();
    browser.wait_text("#state", Duration::from_secs(10), |t| t == "paused (lunch)");
    let alice = vox.get_json("/api/agents/alice");
    assert_eq!(
        (&alice["state"], &alice["reason"]),
        (&"paused".into(), &"lunch".into())
    );
    browser.find("#available").click();
    browser.wait_text("#state", Duration::from_secs(10), |t| t == "available");

    let shot = artifact_path("desk_logged_in.png");
    browser.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
}
