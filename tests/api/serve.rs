//! Starting the server as `tenantry serve` does: settings, the admin token bootstrap and the
//! listener.

use std::collections::BTreeMap;
use std::path::Path;

use tenantry::settings::{LogFormat, Settings};

fn settings(dir: &Path) -> Settings {
    Settings {
        database_url: format!("sqlite://{}", dir.join("tenantry.db").display()).into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        admin_token: None,
        redis_url: None,
        key_rate_limit: 600,
        key_cache_ms: 5_000,
        public_url: None,
        log: "warn".into(),
        log_format: LogFormat::Pretty,
        access_log: Default::default(),
        workers: Some(1),
        database_max_connections: Some(4),
        database_connect_timeout_ms: 5_000,
        database_acquire_timeout_ms: 5_000,
        database_sqlite_mmap_mb: 0,
        body_timeout_ms: 10_000,
        event_retention_days: 365,
        webhook_allow_private: false,
        tiers: BTreeMap::new(),
    }
}

async fn status_with(address: std::net::SocketAddr, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{address}/organization/list"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_first_start_without_a_token_generates_one_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let first = tenantry::prepare(&settings).await.unwrap();
    let token = first
        .generated_admin_token
        .clone()
        .expect("a token on first start");
    assert!(token.starts_with("tnt_"));
    let address = first.address;
    tokio::spawn(first.server);
    assert_eq!(status_with(address, &token).await, 200);
    assert_eq!(status_with(address, "tnt_wrong").await, 401);

    // The database keeps only the token's hash, and a later start makes no new one.
    let db = std::fs::read(dir.path().join("tenantry.db")).unwrap();
    let wal = std::fs::read(dir.path().join("tenantry.db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    assert!(
        !db.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle)
    );
    let second = tenantry::prepare(&settings).await.unwrap();
    assert!(second.generated_admin_token.is_none());
    let address = second.address;
    tokio::spawn(second.server);
    assert_eq!(status_with(address, &token).await, 200);
}

#[tokio::test]
async fn a_configured_token_is_the_platform_admin_and_none_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.admin_token = Some("a-configured-admin-token".into());
    let prepared = tenantry::prepare(&settings).await.unwrap();
    assert!(prepared.generated_admin_token.is_none());
    let address = prepared.address;
    tokio::spawn(prepared.server);
    assert_eq!(status_with(address, "a-configured-admin-token").await, 200);
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.admin_token = Some("a-configured-admin-token".into());
    settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let prepared = tenantry::prepare(&settings).await.unwrap();
    let metrics = prepared.metrics_address.expect("a metrics listener");
    let address = prepared.address;
    tokio::spawn(prepared.server);
    assert_eq!(status_with(address, "a-configured-admin-token").await, 200);
    let scraped = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains("tenantry_http_requests_total{route=\"/organization/list\""),
        "{text}"
    );
    // The API does not serve them.
    let (status, _) = (
        reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .status(),
        (),
    );
    assert_eq!(status, 404);
}

#[test]
fn settings_come_from_the_file_and_reject_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenantry.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\nlog_format = \"json\"\n[tiers.pro]\nmonthly_credits = 5\n[tiers.pro.rate_limits]\nsearch = 7\n",
    )
    .unwrap();
    let loaded = Settings::load(&file).unwrap();
    if std::env::var_os("TENANTRY_LISTEN").is_none() {
        assert_eq!(loaded.listen.port(), 9999);
    }
    let tiers = loaded.tier_table();
    assert_eq!(tiers.pro.monthly_credits, Some(5));
    assert_eq!(tiers.pro.rate_limits.search, 7);
    assert_eq!(tiers.pro.rate_limits.metadata, 60);

    std::fs::write(&file, "lisen = \"127.0.0.1:9999\"\n").unwrap();
    assert!(
        Settings::load(&file)
            .unwrap_err()
            .to_string()
            .contains("lisen")
    );
    std::fs::write(&file, "[tiers.gold]\nmonthly_credits = 5\n").unwrap();
    assert!(Settings::load(&file).is_err());
    if std::env::var_os("TENANTRY_ADMIN_TOKEN").is_none() {
        std::fs::write(&file, "admin_token = \"short\"\n").unwrap();
        assert!(Settings::load(&file).is_err());
    }
}

/// A graceful stop (what SIGTERM and SIGINT trigger) lets a request that has started finish.
#[tokio::test]
async fn a_graceful_stop_finishes_the_requests_in_flight() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = tenantry_storage::Store::connect(&tenantry_storage::StoreOptions::new(url))
        .await
        .unwrap();
    let mut state = tenantry_http::AppState::new(store);
    state.admin_token = Some(tenantry_domain::KeyHash::of(tenantry_tests::ADMIN_TOKEN));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let options = tenantry_http::ServerOptions {
        workers: 1,
        ..Default::default()
    };
    let server = tenantry_http::server(state, listener, &options).unwrap();
    let handle = server.handle();
    let running = tokio::spawn(server);

    // A request whose body is still arriving when the stop comes.
    let body = r#"{"email": "late@example.com", "name": "Late"}"#;
    let (head, tail) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /user HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        tenantry_tests::ADMIN_TOKEN,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stopping = tokio::spawn(async move { handle.stop(true).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    stopping.await.unwrap();
    running.await.unwrap().unwrap();
    // Stopped: no new connection is served.
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn an_out_of_range_setting_stops_the_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenantry.toml");
    for (line, name) in [
        (
            "database_max_connections = 0",
            "TENANTRY_DATABASE_MAX_CONNECTIONS",
        ),
        (
            "database_acquire_timeout_ms = 0",
            "TENANTRY_DATABASE_ACQUIRE_TIMEOUT_MS",
        ),
        ("workers = 0", "TENANTRY_WORKERS"),
        ("body_timeout_ms = 0", "TENANTRY_BODY_TIMEOUT_MS"),
        (
            "database_sqlite_mmap_mb = 4096",
            "TENANTRY_DATABASE_SQLITE_MMAP_MB",
        ),
        ("workers = \"abc\"", "TENANTRY_WORKERS"),
        ("listen = \"nope\"", "TENANTRY_LISTEN"),
        ("public_url = \"ftp://x\"", "TENANTRY_PUBLIC_URL"),
    ] {
        std::fs::write(&file, format!("{line}\n")).unwrap();
        let error = Settings::load(&file).unwrap_err().to_string();
        assert!(error.contains(name), "{line}: {error}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }
    // `prepare` checks too, for settings made in code.
    let mut bad = settings(dir.path());
    bad.database_max_connections = Some(0);
    let error = tenantry::prepare(&bad)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("TENANTRY_DATABASE_MAX_CONNECTIONS"),
        "{error}"
    );
}

#[tokio::test]
async fn start_up_errors_name_the_database_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let mut missing_dir = settings(dir.path());
    let path = dir.path().join("no-such-dir").join("tenantry.db");
    missing_dir.database_url = format!("sqlite://{}", path.display()).into();
    let error = tenantry::prepare(&missing_dir)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("does not exist"), "{error}");

    // A port nothing listens on: the address and the refusal, not a pool time-out.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut refused = settings(dir.path());
    refused.database_url =
        format!("postgres://app:pw-never-shown@127.0.0.1:{port}/tenantry").into();
    refused.database_connect_timeout_ms = 2_000;
    let error = tenantry::prepare(&refused).await.err().unwrap().to_string();
    assert!(
        error.contains(&format!("127.0.0.1:{port}/tenantry")),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(!error.contains("pw-never-shown"), "{error}");

    if let Ok(admin_url) = std::env::var("TENANTRY_TEST_DATABASE_URL")
        && admin_url.starts_with("postgres")
    {
        let (base, _) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let (server, _) = base.rsplit_once('/').unwrap();
        let mut missing_db = settings(dir.path());
        missing_db.database_url = format!("{server}/tenantry_no_such_database").into();
        let error = tenantry::prepare(&missing_db)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("tenantry_no_such_database"), "{error}");
        assert!(error.contains("does not exist"), "{error}");
        assert!(!error.contains(" at line "), "{error}");
    }
}

#[tokio::test]
async fn a_database_that_cannot_be_written_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let writable = settings(dir.path());
    // Create the database, then open it as a process that may only read it would.
    let first = tenantry::prepare(&writable).await.unwrap();
    drop(first);
    let mut read_only = settings(dir.path());
    read_only.database_url = format!(
        "sqlite://{}?mode=ro",
        dir.path().join("tenantry.db").display()
    )
    .into();
    read_only.admin_token = Some("a-configured-admin-token".into());
    let error = tenantry::prepare(&read_only)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("cannot be written"), "{error}");
    assert!(error.contains("tenantry.db"), "{error}");
}
