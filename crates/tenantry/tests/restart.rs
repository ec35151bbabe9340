//! The outbox survives a crash: events written before a `kill -9` of `tenantry serve` are
//! delivered after the next start.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tenantry_tests::Receiver;

const TOKEN: &str = "restart-admin-token-0123456789";

/// A `tenantry serve` process, killed when dropped (on failure too).
struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(database_url: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .arg("serve")
        .env("TENANTRY_DATABASE_URL", database_url)
        .env("TENANTRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TENANTRY_ADMIN_TOKEN", TOKEN)
        .env("TENANTRY_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("TENANTRY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenantry serve starts");
    let server = Server {
        child,
        address: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{}/readyz", server.address)).await
            && response.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tenantry serve did not become ready");
}

async fn post(server: &Server, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.address))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn events_written_before_a_kill_are_delivered_after_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    // The receiver is not there yet: the first process cannot deliver.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let mut first = serve(&database_url).await;
    post(
        &first,
        "/webhook-endpoint",
        json!({"url": url, "eventTypes": ["user.created"]}),
    )
    .await;
    let mut users = Vec::new();
    for n in 0..5 {
        let user = post(
            &first,
            "/user",
            json!({"email": format!("user{n}@example.com"), "name": format!("User {n}")}),
        )
        .await;
        users.push(user["id"].as_str().unwrap().to_owned());
    }
    // SIGKILL: no shutdown, no flush.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(first);

    let receiver = Receiver::start_on(port);
    let _second = serve(&database_url).await;
    // The first attempt failed (refused) and is tried again 5 s later.
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| r.len() >= 5)
        .await;
    let delivered: Vec<String> = received
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, users, "every event, once, in order");
}
