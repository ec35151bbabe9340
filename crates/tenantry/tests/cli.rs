//! The admin commands of the `tenantry` binary, run as an operator runs them.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

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
