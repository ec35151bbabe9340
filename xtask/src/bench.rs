//! `cargo xtask bench`: how fast Tenantry serves its hot paths.
//!
//! A release build of the server runs on a fresh SQLite database seeded through the storage
//! crate (organizations with one owner, who is in all of them, with auto billing on and no
//! overage cap so usage never runs out); then a closed-loop load generator keeps a fixed
//! number of connections busy against one endpoint at a time, and the table gives requests
//! per second, latency percentiles, the server's CPU time per request and its peak memory.
//! `/healthz` (a static JSON answer through the same stack) is the HTTP ceiling every other
//! figure is compared with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tenantry_domain::{
    ApiKey, ApiKeyId, ApiKeyScope, ApiKeySecret, Email, NewOrganization, Organization,
    OrganizationName, TextLine, User,
};
use tenantry_storage::{Store, StoreOptions};

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    pub(crate) orgs: usize,
    pub(crate) seconds: u64,
    pub(crate) connections: usize,
}

impl BenchOptions {
    pub(crate) fn parse(args: &[&str]) -> Result<Self, String> {
        let mut options = Self {
            orgs: 10_000,
            seconds: 10,
            connections: 64,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<usize, String> {
                args.next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .ok_or_else(|| format!("{name} takes a whole number"))
            };
            match *arg {
                "--quick" => {
                    options.orgs = 1_000;
                    options.seconds = 2;
                }
                "--orgs" => options.orgs = value("--orgs")?,
                "--seconds" => options.seconds = value("--seconds")? as u64,
                "--connections" => options.connections = value("--connections")?,
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(options)
    }
}

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

/// The figures of one endpoint.
#[derive(Debug, Clone)]
struct Figures {
    name: &'static str,
    requests: u64,
    errors: u64,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request: Duration,
}

/// Runs the benchmark and answers its report.
pub(crate) fn run(root: &Path, options: &BenchOptions) -> Result<String, String> {
    eprintln!("bench: building the server (release)");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "tenantry"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("the release build failed".into());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = target.join("release").join("tenantry");

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let database = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    eprintln!("bench: seeding {} organizations", options.orgs);
    let started = Instant::now();
    let (key, orgs) = runtime.block_on(seed(&database, options.orgs))?;
    let seeded_in = started.elapsed();

    let config = dir.path().join("tenantry.toml");
    let mut toml = String::new();
    for tier in ["free", "pro", "team", "enterprise"] {
        toml.push_str(&format!("[tiers.{tier}.rate_limits]\n"));
        for category in ["metadata", "data", "search", "upload", "compute"] {
            toml.push_str(&format!("{category} = 1000000000\n"));
        }
    }
    std::fs::write(&config, toml).map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let started = Instant::now();
    let server = Server(
        Command::new(&binary)
            .arg("serve")
            .env("TENANTRY_CONFIG", &config)
            .env("TENANTRY_DATABASE_URL", &database)
            .env("TENANTRY_LISTEN", format!("127.0.0.1:{port}"))
            .env("TENANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("TENANTRY_KEY_RATE_LIMIT", "1000000000")
            .env("TENANTRY_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let figures = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(options.connections)
            .build()
            .map_err(|e| e.to_string())?;
        wait_ready(&client, &base).await?;
        let startup = started.elapsed();
        let mut rows = Vec::new();
        for scenario in &SCENARIOS {
            rows.push(
                load(
                    &client,
                    &base,
                    &key,
                    &orgs,
                    scenario,
                    options,
                    server.0.id(),
                )
                .await?,
            );
        }
        Ok::<_, String>((rows, startup))
    })?;
    let peak_rss = peak_rss_kib(server.0.id());
    drop(server);
    Ok(report(options, &figures.0, figures.1, seeded_in, peak_rss))
}

/// Stops the server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn seed(database: &str, count: usize) -> Result<(String, Arc<Vec<String>>), String> {
    let store = Store::connect(&StoreOptions::new(database))
        .await
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    let email = Email::parse("bench@example.com").map_err(|e| e.to_string())?;
    let user = User::new(
        email,
        TextLine::user_name("Bench").map_err(|e| e.to_string())?,
        now,
    );
    store.create_user(&user).await.map_err(|e| e.to_string())?;
    let secret = ApiKeySecret::from_random_bytes(*b"tenantry bench key: not a secret");
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name: TextLine::api_key_name("bench").map_err(|e| e.to_string())?,
        prefix: secret.prefix(),
        scope: ApiKeyScope::User(user.id),
        created_at: now,
        revoked_at: None,
    };
    store
        .create_api_key(&key, &secret.hash())
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let name = OrganizationName::parse(format!("Bench {i}")).map_err(|e| e.to_string())?;
        let mut org = Organization::new(NewOrganization { name, domain: None }, now);
        org.member_count = 1;
        org.auto_billing_enabled = true;
        org.max_overages = None;
        store
            .create_organization(&org, user.id, None)
            .await
            .map_err(|e| e.to_string())?;
        ids.push(org.id.to_string());
    }
    store.close().await.map_err(|e| e.to_string())?;
    Ok((secret.expose().to_owned(), Arc::new(ids)))
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> Result<(), String> {
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the server did not become ready".into())
}

/// One endpoint under load.
struct Scenario {
    name: &'static str,
    request: fn(&reqwest::Client, &str, &str, &str, u64) -> reqwest::RequestBuilder,
}

const SCENARIOS: [Scenario; 6] = [
    Scenario {
        name: "GET /healthz (HTTP ceiling)",
        request: |c, base, _, _, _| c.get(format!("{base}/healthz")),
    },
    Scenario {
        name: "GET /organization/{id}",
        request: |c, base, key, org, _| {
            c.get(format!("{base}/organization/{org}")).bearer_auth(key)
        },
    },
    Scenario {
        name: "GET /v1/organizations/{id}",
        request: |c, base, key, org, _| {
            c.get(format!("{base}/v1/organizations/{org}"))
                .bearer_auth(key)
        },
    },
    Scenario {
        name: "PATCH /v1/organizations/{id}",
        request: |c, base, key, org, n| {
            c.patch(format!("{base}/v1/organizations/{org}"))
                .bearer_auth(key)
                .json(&serde_json::json!({"name": format!("Bench {n}")}))
        },
    },
    Scenario {
        name: "POST /organization/{id}/usage",
        request: |c, base, key, org, _| {
            c.post(format!("{base}/organization/{org}/usage"))
                .bearer_auth(key)
                .json(&serde_json::json!({"credits": 1}))
        },
    },
    Scenario {
        name: "GET /organization/list?limit=100",
        request: |c, base, key, _, _| {
            c.get(format!("{base}/organization/list?limit=100"))
                .bearer_auth(key)
        },
    },
];

async fn load(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    orgs: &Arc<Vec<String>>,
    scenario: &Scenario,
    options: &BenchOptions,
    pid: u32,
) -> Result<Figures, String> {
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut workers = Vec::new();
    for worker in 0..options.connections {
        let (client, base, key, orgs) = (
            client.clone(),
            base.to_owned(),
            key.to_owned(),
            orgs.clone(),
        );
        let request = scenario.request;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = worker as u64 * 7_919;
            while Instant::now() < deadline {
                n = n
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let org = &orgs[(n >> 33) as usize % orgs.len()];
                let sent = Instant::now();
                let ok = request(&client, &base, &key, org, n)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mut l, e) = worker.await.map_err(|e| e.to_string())?;
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let requests = latencies.len() as u64;
    Ok(Figures {
        name: scenario.name,
        requests,
        errors,
        per_second: requests as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_request: if requests == 0 {
            Duration::ZERO
        } else {
            cpu / requests as u32
        },
    })
}

/// The CPU time the process has used (user and system), from `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // The kernel counts in clock ticks of 1/100 s on Linux.
    Duration::from_millis(ticks * 10)
}

/// The process's peak resident memory, from `/proc`.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(
    options: &BenchOptions,
    rows: &[Figures],
    startup: Duration,
    seeded_in: Duration,
    peak_rss: Option<u64>,
) -> String {
    let ceiling = rows.first().map_or(1.0, |r| r.per_second.max(1.0));
    let mut text = format!(
        "{} organizations (seeded in {:.1} s), {} connections, {} s per endpoint, SQLite; the load generator shares the machine\n\n",
        options.orgs,
        seeded_in.as_secs_f64(),
        options.connections,
        options.seconds
    );
    text.push_str(
        "| endpoint | req/s | × HTTP ceiling | p50 | p99 | server CPU / req | errors |\n",
    );
    text.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for row in rows {
        text.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} ms | {:.2} ms | {} µs | {} of {} |\n",
            row.name,
            row.per_second,
            row.per_second / ceiling,
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
            row.cpu_per_request.as_micros(),
            row.errors,
            row.requests
        ));
    }
    text.push_str(&format!(
        "\nstart-up to ready: {:.0} ms; peak RSS: {}\n",
        startup.as_secs_f64() * 1e3,
        peak_rss.map_or("unknown".to_owned(), |kib| format!(
            "{:.1} MB",
            kib as f64 / 1024.0
        ))
    ));
    text
}
