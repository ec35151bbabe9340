//! The admin commands of the `tenantry` binary, run as an operator runs them.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tenantry_tests::{ADMIN_TOKEN, Receiver, TestApp, TestDatabase, data_url, png_bytes};

fn tenantry(dir: &Path, database: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    command
        .args(args)
        .current_dir(dir)
        .env("TENANTRY_DATABASE_URL", database)
        .env("TENANTRY_LOG", "warn")
        .env_remove("TENANTRY_ADMIN_TOKEN")
        .env_remove("TENANTRY_REDIS_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("tenantry runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("tenantry.db").display())
}

#[test]
fn migrate_lists_then_applies_what_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(dir.path());
    let status = tenantry(dir.path(), &db, &["migrate", "--status"], &[]);
    assert!(status.status.success(), "{}", text(&status));
    let listed = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        listed.lines().count() >= 6 && listed.lines().all(|l| l.starts_with("pending ")),
        "{listed}"
    );
    let applied = tenantry(dir.path(), &db, &["migrate"], &[]);
    assert!(applied.status.success(), "{}", text(&applied));
    assert!(text(&applied).contains("migration(s) applied"));
    let status = tenantry(dir.path(), &db, &["migrate", "--status"], &[]);
    let listed = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        listed.lines().all(|l| l.starts_with("applied ")),
        "{listed}"
    );
    // Nothing is left to do.
    let again = tenantry(dir.path(), &db, &["migrate"], &[]);
    assert!(
        text(&again).contains("0 migration(s) applied"),
        "{}",
        text(&again)
    );
}

#[test]
fn check_says_what_failed_in_its_exit_status_and_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(dir.path());
    let token = "a-configured-admin-token-never-printed";
    let good = tenantry(
        dir.path(),
        &db,
        &["check"],
        &[("TENANTRY_ADMIN_TOKEN", token)],
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let report = text(&good);
    assert!(report.contains("database: writable"), "{report}");
    assert!(report.contains("redis: not configured"), "{report}");
    assert!(!report.contains(token), "{report}");
    // The pool's size as it will be, though the setting is unset.
    assert!(report.contains("database pool: 8 connections"), "{report}");
    let sized = tenantry(
        dir.path(),
        &db,
        &["check"],
        &[("TENANTRY_DATABASE_MAX_CONNECTIONS", "3")],
    );
    assert!(
        text(&sized).contains("database pool: 3 connections"),
        "{}",
        text(&sized)
    );

    let bad_setting = tenantry(
        dir.path(),
        &db,
        &["check"],
        &[("TENANTRY_DATABASE_MAX_CONNECTIONS", "0")],
    );
    assert_eq!(bad_setting.status.code(), Some(2), "{}", text(&bad_setting));
    assert!(text(&bad_setting).contains("TENANTRY_DATABASE_MAX_CONNECTIONS"));

    let password = "hunter2-database-password";
    let no_database = tenantry(
        dir.path(),
        &format!("postgres://tenantry:{password}@127.0.0.1:1/tenantry"),
        &["check"],
        &[("TENANTRY_DATABASE_CONNECT_TIMEOUT_MS", "500")],
    );
    assert_eq!(no_database.status.code(), Some(3), "{}", text(&no_database));
    assert!(!text(&no_database).contains(password));

    let no_redis = tenantry(
        dir.path(),
        &db,
        &["check"],
        &[
            ("TENANTRY_REDIS_URL", "redis://127.0.0.1:1/"),
            ("TENANTRY_DATABASE_CONNECT_TIMEOUT_MS", "500"),
        ],
    );
    assert_eq!(no_redis.status.code(), Some(4), "{}", text(&no_redis));

    let unknown = tenantry(dir.path(), &db, &["frobnicate"], &[]);
    assert!(!unknown.status.success());
}

#[test]
fn backup_copies_the_database_to_a_new_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(dir.path());
    assert!(
        tenantry(dir.path(), &db, &["migrate"], &[])
            .status
            .success()
    );
    let copy = dir.path().join("copy.db");
    let made = tenantry(dir.path(), &db, &["backup", copy.to_str().unwrap()], &[]);
    assert!(made.status.success(), "{}", text(&made));
    // The copy is a whole database: every migration applied.
    let copy_url = format!("sqlite://{}", copy.display());
    let status = tenantry(dir.path(), &copy_url, &["migrate", "--status"], &[]);
    let listed = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        !listed.is_empty() && listed.lines().all(|l| l.starts_with("applied ")),
        "{listed}"
    );
    let again = tenantry(dir.path(), &db, &["backup", copy.to_str().unwrap()], &[]);
    assert!(!again.status.success());
    assert!(text(&again).contains("exists already"), "{}", text(&again));
}

/// A `tenantry serve` process, killed when dropped.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

async fn serve(dir: &Path, database: &str, env: &[(&str, &str)]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    command
        .arg("serve")
        .current_dir(dir)
        .env("TENANTRY_DATABASE_URL", database)
        .env("TENANTRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TENANTRY_LOG", "warn")
        .env_remove("TENANTRY_ADMIN_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let server = Server(command.spawn().unwrap(), format!("http://127.0.0.1:{port}"));
    for _ in 0..200 {
        if reqwest::get(format!("{}/readyz", server.1))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tenantry serve did not become ready");
}

async fn status_with(server: &Server, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/organization/list", server.1))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn token_in(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("tnt_"))
        .expect("a token")
        .to_owned()
}

#[tokio::test]
async fn rotating_the_admin_token_retires_the_old_one_and_a_configured_one_retires_both() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(dir.path());
    let first = tenantry(dir.path(), &db, &["admin-token", "rotate"], &[]);
    assert!(first.status.success(), "{}", text(&first));
    let first = token_in(&first);
    let second = tenantry(dir.path(), &db, &["admin-token", "rotate"], &[]);
    assert!(second.status.success(), "{}", text(&second));
    let second = token_in(&second);
    assert_ne!(first, second);
    {
        let server = serve(dir.path(), &db, &[]).await;
        assert_eq!(status_with(&server, &second).await, 200);
        assert_eq!(status_with(&server, &first).await, 401);
    }
    // A configured token is changed where it is configured.
    let configured = "a-configured-admin-token-0123456789";
    let refused = tenantry(
        dir.path(),
        &db,
        &["admin-token", "rotate"],
        &[("TENANTRY_ADMIN_TOKEN", configured)],
    );
    assert!(!refused.status.success());
    assert!(text(&refused).contains("TENANTRY_ADMIN_TOKEN"));
    // Once configured, the stored one stops working.
    let server = serve(dir.path(), &db, &[("TENANTRY_ADMIN_TOKEN", configured)]).await;
    assert_eq!(status_with(&server, configured).await, 200);
    assert_eq!(status_with(&server, &second).await, 401);
}

/// Reads `path` as the platform admin (or as `key`): the status and the body, parsed when
/// JSON (key order aside: PostgreSQL's JSONB keeps its own), else as bytes.
async fn answer(app: &TestApp, path: &str, key: &str) -> (u16, Result<Value, Vec<u8>>) {
    let response = app
        .request(reqwest::Method::GET, path, key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap().to_vec();
    (status, serde_json::from_slice(&bytes).map_err(|_| bytes))
}

/// Fills a SQLite database through the API with one of every kind of record.
async fn populated(source: &TestApp) -> (Vec<(String, String)>, Receiver) {
    let receiver = Receiver::start();
    let (status, endpoint) = source
        .post(
            "/webhook-endpoint",
            ADMIN_TOKEN,
            json!({"url": receiver.url, "eventTypes": [], "description": "billing"}),
        )
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let ada = source.new_user("Ada").await;
    let bob = source.new_user("Bob").await;
    let acme = source.create_organization(&ada.key, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let beta = source.create_organization(&ada.key, "Beta").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    source.add_member(&acme, &bob.id, "member").await;
    let org_key = source.organization_key(&ada.key, &acme).await;
    let (status, body) = source
        .patch(
            &format!("/v1/organizations/{acme}"),
            ADMIN_TOKEN,
            json!({"logo": data_url("image/png", &png_bytes())}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Keys in an order PostgreSQL's JSONB does not keep.
    let changed = source
        .request(reqwest::Method::PATCH, "/v1/organizations", &ada.key)
        .header("X-Organization-Id", &acme)
        .json(&json!({"metadata": {"zeta": 1, "alpha": {"b": [2, {"y": 1, "x": 0}], "a": null}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{:?}", changed.text().await);
    let (status, body) = source
        .post(
            &format!("/organization/{acme}/workspace"),
            &ada.key,
            json!({"name": "Lab"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let used = source
        .request(
            reqwest::Method::POST,
            &format!("/organization/{acme}/usage"),
            &ada.key,
        )
        .header("Idempotency-Key", "job-1")
        .json(&json!({"credits": 10, "category": "compute"}))
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    let entry = used.json::<Value>().await.unwrap()["entryId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = source
        .post(
            &format!("/organization/{acme}/usage/{entry}/refund"),
            &ada.key,
            json!({"credits": 4}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        source
            .delete(&format!("/organization/{beta}"), &ada.key)
            .await
            .0,
        204
    );
    // Every event delivered, so that no delivery changes while the answers are compared.
    receiver
        .wait_for(Duration::from_secs(10), |got| got.len() >= 8)
        .await;
    let mut delivered = false;
    for _ in 0..200 {
        let (_, deliveries) = source
            .get(
                &format!("/webhook-endpoint/{endpoint}/deliveries?limit=100"),
                ADMIN_TOKEN,
            )
            .await;
        let deliveries = deliveries.as_array().unwrap();
        if !deliveries.is_empty() && deliveries.iter().all(|d| d["status"] == "delivered") {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(delivered, "every delivery is made");

    let admin = ADMIN_TOKEN.to_owned();
    let reads = [
        ("/organization/list".to_owned(), admin.clone()),
        (format!("/organization/{acme}"), admin.clone()),
        (format!("/v1/organizations/{acme}"), admin.clone()),
        (format!("/organization/{acme}/logo"), admin.clone()),
        (format!("/organization/{acme}/member/list"), admin.clone()),
        (
            format!("/organization/{acme}/workspace/list"),
            admin.clone(),
        ),
        (format!("/organization/{acme}/usage"), admin.clone()),
        (format!("/organization/{acme}/usage/entries"), admin.clone()),
        (format!("/organization/{acme}/entitlements"), admin.clone()),
        ("/events?limit=100".to_owned(), admin.clone()),
        (format!("/events?organizationId={beta}"), admin.clone()),
        ("/webhook-endpoint/list".to_owned(), admin.clone()),
        (format!("/webhook-endpoint/{endpoint}"), admin.clone()),
        (
            format!("/webhook-endpoint/{endpoint}/deliveries?limit=100"),
            admin.clone(),
        ),
        // The keys still open the same doors.
        ("/user/me".to_owned(), ada.key.clone()),
        ("/api-key/list".to_owned(), ada.key.clone()),
        ("/organization/list".to_owned(), bob.key.clone()),
        ("/v1/organizations".to_owned(), org_key),
    ];
    (reads.into_iter().collect(), receiver)
}

fn export_file(dir: &Path, database: &str, name: &str) -> (std::path::PathBuf, Output) {
    let path = dir.join(name);
    let output = tenantry(dir, database, &["export", path.to_str().unwrap()], &[]);
    (path, output)
}

#[tokio::test]
async fn a_database_moves_by_export_and_import_and_reads_the_same() {
    // From SQLite to the tests' database (PostgreSQL when configured).
    let source = TestApp::spawn_on_database(TestDatabase::sqlite(), |_| {}).await;
    let (reads, _receiver) = populated(&source).await;
    let mut before = Vec::new();
    for (path, key) in &reads {
        before.push(answer(&source, path, key).await);
    }

    let target = TestDatabase::new().await;
    let dir = target.dir().to_owned();
    // Exported while the source serves.
    let (first, exported) = export_file(&dir, &source.database_url, "first.jsonl");
    assert!(exported.status.success(), "{}", text(&exported));
    assert!(
        text(&exported).contains("organizations 1,"),
        "{}",
        text(&exported)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&first).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "an export is readable by its owner only");
    }
    let imported = tenantry(&dir, &target.url, &["import", first.to_str().unwrap()], &[]);
    assert!(imported.status.success(), "{}", text(&imported));
    let (second, exported) = export_file(&dir, &target.url, "second.jsonl");
    assert!(exported.status.success(), "{}", text(&exported));
    let (first, second) = (
        std::fs::read_to_string(first).unwrap(),
        std::fs::read_to_string(second).unwrap(),
    );
    assert!(first.lines().count() > 30, "{first}");
    if first != second {
        let differ: Vec<_> = first
            .lines()
            .zip(second.lines())
            .filter(|(a, b)| a != b)
            .take(3)
            .collect();
        panic!("the two exports differ: {differ:#?}");
    }

    let moved = TestApp::spawn_on_database(target, |_| {}).await;
    for ((path, key), before) in reads.iter().zip(before) {
        assert_eq!(
            answer(&moved, path, key).await,
            before,
            "GET {path} answers the same"
        );
    }
    // New rows get new ids (PostgreSQL's sequences continue after the imported ones).
    let carol = moved.new_user("Carol").await;
    let org = moved.create_organization(&carol.key, "Gamma").await;
    assert_eq!(org["name"], "Gamma");
}

#[tokio::test]
async fn an_import_refuses_what_is_not_a_whole_export_and_changes_nothing() {
    let source = TestApp::spawn_on_database(TestDatabase::sqlite(), |_| {}).await;
    let ada = source.new_user("Ada").await;
    for name in ["Acme", "Beta", "Gamma"] {
        source.create_organization(&ada.key, name).await;
    }
    let target = TestDatabase::new().await;
    let dir = target.dir().to_owned();
    let (export, output) = export_file(&dir, &source.database_url, "export.jsonl");
    assert!(output.status.success(), "{}", text(&output));
    let whole = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = whole.lines().collect();

    let import = |name: &str, content: String| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        tenantry(&dir, &target.url, &["import", path.to_str().unwrap()], &[])
    };
    let refused = |output: &Output, says: &str| {
        assert!(!output.status.success(), "{}", text(output));
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(says), "{stderr}");
    };

    refused(
        &import("notes.txt", "name,plan\nAcme,pro\n".into()),
        "not a Tenantry export",
    );
    refused(
        &import("empty.jsonl", String::new()),
        "not a Tenantry export",
    );
    // Cut short: the last rows and the end line are missing.
    refused(
        &import("cut.jsonl", lines[..lines.len() - 2].join("\n")),
        "cut short",
    );
    // A row that is not one of the table's: where it is.
    let mut broken = lines.clone();
    let bad_row = r#"{"table":"users","row":{"id":"x"}}"#;
    broken.insert(1, bad_row);
    refused(&import("broken.jsonl", broken.join("\n")), "line 2");
    // Another schema.
    let other = whole.replacen("\"schema\":\"m", "\"schema\":\"x", 1);
    refused(&import("other.jsonl", other), "schema");
    // An end line that miscounts, and a line after the end.
    let miscounted = whole.replacen("{\"end\":{\"rows\":", "{\"end\":{\"rows\":1", 1);
    refused(&import("miscounted.jsonl", miscounted), "end line counts");
    refused(
        &import("trailing.jsonl", format!("{whole}{}\n", lines[1])),
        "after the end line",
    );

    // Nothing of any of them stayed: the whole export still loads, once.
    let loaded = tenantry(
        &dir,
        &target.url,
        &["import", export.to_str().unwrap()],
        &[],
    );
    assert!(loaded.status.success(), "{}", text(&loaded));
    assert!(
        text(&loaded).contains("organizations 3"),
        "{}",
        text(&loaded)
    );
    refused(
        &tenantry(
            &dir,
            &target.url,
            &["import", export.to_str().unwrap()],
            &[],
        ),
        "not empty",
    );
    // To standard output: the export itself, its summary on standard error.
    let streamed = tenantry(&dir, &source.database_url, &["export", "-"], &[]);
    assert!(streamed.status.success(), "{}", text(&streamed));
    assert_eq!(String::from_utf8_lossy(&streamed.stdout), whole);
    assert!(String::from_utf8_lossy(&streamed.stderr).contains("exported"));
    // An export never overwrites.
    refused(
        &tenantry(
            &dir,
            &source.database_url,
            &["export", export.to_str().unwrap()],
            &[],
        ),
        "exists already",
    );
}

#[test]
fn unknown_commands_and_flags_and_a_taken_metrics_address_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(dir.path());
    let version = tenantry(dir.path(), &db, &["--version"], &[]);
    assert!(version.status.success());
    assert!(
        String::from_utf8_lossy(&version.stdout)
            .starts_with(&format!("tenantry {}", env!("CARGO_PKG_VERSION")))
    );
    for args in [&["frobnicate"][..], &["serve", "--frobnicate"], &["export"]] {
        let refused = tenantry(dir.path(), &db, args, &[]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&refused)
        );
        assert!(text(&refused).starts_with("error: "), "{}", text(&refused));
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let refused = tenantry(
        dir.path(),
        &db,
        &["serve"],
        &[
            ("TENANTRY_LISTEN", "127.0.0.1:0"),
            ("TENANTRY_METRICS_LISTEN", &address),
            ("TENANTRY_ADMIN_TOKEN", "a-configured-admin-token"),
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&address) && stderr.contains("in use"),
        "{stderr}"
    );
    // The failure is in the log as well, naming the address (its line is queued for the
    // log's thread just before the process ends).
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(
        stdout.contains("could not start") && stdout.contains(&address),
        "{stdout}"
    );
}

/// Serves with `access` as the access log until two requests are answered (one 200, one
/// 401); answers the lines the server wrote.
async fn access_lines(access: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("out.log");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .arg("serve")
        .current_dir(dir.path())
        .env("TENANTRY_DATABASE_URL", sqlite(dir.path()))
        .env("TENANTRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TENANTRY_ADMIN_TOKEN", "a-configured-admin-token")
        .env("TENANTRY_ACCESS_LOG", access)
        .env_remove("TENANTRY_LOG")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child, format!("http://127.0.0.1:{port}"));
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if client
            .get(format!("{}/readyz", server.1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready);
    assert_eq!(status_with(&server, "a-configured-admin-token").await, 200);
    assert_eq!(status_with(&server, "not-a-key").await, 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(server);
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("/organization/list"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_access_log_is_a_short_line_by_default_and_one_setting_from_full_or_off() {
    let compact = access_lines("compact").await;
    assert_eq!(compact.len(), 2, "{compact:#?}");
    for line in &compact {
        assert!(
            line.contains("tenantry::access: GET /organization/list "),
            "{line}"
        );
        assert!(line.len() < 200, "{} bytes: {line}", line.len());
    }
    assert!(compact[0].contains(" 200 ") && compact[1].contains(" 401 "));

    // Off: the refusal only.
    let off = access_lines("off").await;
    assert_eq!(off.len(), 1, "{off:#?}");
    assert!(off[0].contains(" 401 "));

    // Full: the request's span, every field.
    let full = access_lines("full").await;
    assert_eq!(full.len(), 2, "{full:#?}");
    assert!(
        full.iter()
            .all(|l| l.contains("http.route=/organization/list"))
    );
}
