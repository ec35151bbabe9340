//! The database going away: requests fail fast with 503, `/readyz` says not ready, and the
//! service recovers by itself when the database is back, losing no acknowledged write.
//! The test runs its own throwaway PostgreSQL cluster (initdb and pg_ctl from the
//! machine's PostgreSQL packages) on a spare port, and stops and restarts it mid-traffic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tenantry_storage::StoreOptions;
use tenantry_tests::TestApp;

/// A PostgreSQL cluster in a temporary directory, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let cluster = Self { bin, dir, port };
        if is_root() {
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(cluster.dir.path())
                .status()
                .ok()?;
        }
        let data = cluster.data();
        let ok = cluster.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust"]);
        assert!(ok, "initdb works");
        cluster.pg_ctl("start");
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) -> bool {
        let path = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command.status().is_ok_and(|s| s.success())
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let args: Vec<&str> = match action {
            "start" => vec!["-D", &data, "-l", &log, "-w", "-o", &options, "start"],
            _ => vec!["-D", &data, "-w", "-m", "fast", "stop"],
        };
        assert!(self.run("pg_ctl", &args), "pg_ctl {action}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-w", "-m", "immediate", "stop"]);
    }
}

fn is_root() -> bool {
    Path::new("/proc/self").exists()
        && std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
}

#[tokio::test]
async fn the_service_answers_503_while_the_database_is_down_and_recovers_by_itself() {
    let Some(cluster) = Cluster::start() else {
        eprintln!("no PostgreSQL binaries on this machine: the outage is not tested here");
        return;
    };
    let mut options = StoreOptions::new(cluster.url());
    options.acquire_timeout = Duration::from_millis(500);
    options.connect_timeout = Duration::from_millis(500);
    let app = TestApp::spawn_on(options, |_| {}).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let usage = format!("/organization/{}/usage", org["id"].as_str().unwrap());

    let mut acknowledged = 0u64;
    let mut unanswered = 0u64;
    for _ in 0..20 {
        if app.post(&usage, &ada.key, json!({"credits": 1})).await.0 == StatusCode::OK {
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, 20);

    cluster.pg_ctl("stop");
    for _ in 0..5 {
        let started = Instant::now();
        let (status, problem) = app.post(&usage, &ada.key, json!({"credits": 1})).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
        assert_eq!(problem["type"], "/problems/unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "fails fast: {:?}",
            started.elapsed()
        );
        unanswered += 1;
    }
    let (status, _) = app.get("/readyz", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    cluster.pg_ctl("start");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/readyz", "").await.0 == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service recovers without a restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..10 {
        let (status, body) = app.post(&usage, &ada.key, json!({"credits": 1})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        acknowledged += 1;
    }
    let (_, after) = app
        .get(
            &format!("/organization/{}", org["id"].as_str().unwrap()),
            &ada.key,
        )
        .await;
    let used = after["currentMonthUsage"].as_u64().unwrap();
    assert!(
        used >= acknowledged,
        "no acknowledged write is lost: {used} < {acknowledged}"
    );
    assert!(used <= acknowledged + unanswered);
}

/// Connections the server ended (as a restart or an administrator would) are opened again:
/// a request may meet a broken one and be answered 503, and the ones after it are served,
/// through the pool and through the store's own connections alike.
#[tokio::test]
async fn connections_the_server_ended_are_opened_again() {
    let Some(cluster) = Cluster::start() else {
        eprintln!("no PostgreSQL binaries on this machine: the outage is not tested here");
        return;
    };
    let app = TestApp::spawn_on(StoreOptions::new(cluster.url()), |_| {}).await;
    let ada = app.new_user("Ada").await;
    let org = app.create_organization(&ada.key, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let usage = format!("/organization/{id}/usage");
    let entitlements = format!("/organization/{id}/entitlements");
    for _ in 0..3 {
        assert_eq!(app.get(&entitlements, &ada.key).await.0, StatusCode::OK);
        assert_eq!(
            app.post(&usage, &ada.key, json!({"credits": 1})).await.0,
            StatusCode::OK
        );
    }
    let admin = sea_orm::Database::connect(cluster.url().as_str())
        .await
        .unwrap();
    {
        use sea_orm::ConnectionTrait as _;
        admin
            .execute_unprepared(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
    }
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.get(&entitlements, &ada.key).await.0);
        statuses.push(app.post(&usage, &ada.key, json!({"credits": 1})).await.0);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert!(
        statuses[10..].iter().all(|s| *s == StatusCode::OK),
        "served again within a few requests: {statuses:?}"
    );
    admin.close().await.unwrap();
}
