//! The README's curl walk, run as its readers run it: twice, against a fresh server.

use tenantry_tests::{ADMIN_TOKEN, TestApp};

/// The walk: the shell blocks of the README from "Walk through the API" to "Explore in
/// Swagger UI", but the command that starts a server and the webhook registration
/// (which needs a receiver on the internet).
fn walk() -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("### 3. Walk through the API")
        .expect("the walk");
    let end = readme[start..].find("\n### 4. Explore").expect("its end") + start;
    let mut script = String::new();
    for block in readme[start..end].split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        if block.contains("cargo ") || block.contains("webhook-endpoint") {
            continue;
        }
        script.push_str(block);
        script.push('\n');
    }
    script
}

#[tokio::test]
async fn the_readme_walk_runs_twice_and_stops_at_the_first_error() {
    let app = TestApp::spawn().await;
    let script = walk();
    assert!(script.contains("set -eu -o pipefail"), "{script}");
    for run in 0..2 {
        let (script, base) = (script.clone(), app.address.clone());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg("-c")
                .arg(script)
                .env("BASE", base)
                .env("TENANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
                .output()
                .expect("bash runs")
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "run {run}: {out}\n{err}");
        for expected in [
            "\"members\"",
            "idempotent-replayed: true",
            "\"refundOf\"",
            "member.added",
        ] {
            assert!(out.contains(expected), "run {run}: no {expected} in {out}");
        }
        assert!(!out.contains("/problems/"), "run {run}: {out}");
    }
    // An error answer stops it, and says so.
    let broken = format!("{script}\ncurl -s $BASE/organization/list\necho not-reached\n");
    let base = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(broken)
            .env("BASE", base)
            .env("TENANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .expect("bash runs")
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains("not-reached"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("401"));
}
