//! `cargo xtask bench`: how fast Tenantry serves its hot paths, against the ceilings of its
//! own stack.
//!
//! A release build of the server and of `bench-baseline` (the same read and update in raw
//! sqlx, and a constant JSON answer) run on one fresh database (on SQLite, each on its own
//! copy of the file: [`ceiling_copy`]), seeded through the storage crate: organizations
//! with one owner, who is in all of them (auto billing on and no overage cap, so usage
//! never runs out), a key of that user, and organization-scoped keys for a thousand
//! organizations spread over the table. A closed-loop load generator then keeps a fixed
//! number of connections busy against one endpoint at a time, and against its ceiling in
//! turn (Tenantry, ceiling, Tenantry, ceiling), so that noise on the machine falls on both.
//! Then a second Tenantry process, logging every statement, answers each endpoint a few
//! times to count the SQL statements a request runs.
//!
//! Given two sizes or more (`--orgs 10000,1000000`), each backend is seeded at every size,
//! a Tenantry and a ceiling run on each, and an endpoint's load goes from one size to the
//! next within each round, so that the cost from the smallest size to the largest is
//! measured in one stretch of time rather than across two runs minutes apart.

use std::io::{BufRead as _, Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait as _;
use tenantry_domain::{
    Actor, ApiKey, ApiKeyId, ApiKeyScope, ApiKeySecret, Email, NewOrganization, Organization,
    OrganizationName, TextLine, User,
};
use tenantry_storage::{Store, StoreOptions};

mod instructions;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// The sizes to seed and load, smallest first: with two or more, each backend runs a
    /// server on each size side by side, interleaves their loads, and reports how each
    /// endpoint's cost moved from the smallest size to the largest.
    pub(crate) orgs: Vec<usize>,
    pub(crate) seconds: u64,
    /// How many turns each endpoint's `seconds` are split into, on Tenantry and its ceiling
    /// (and every size) alternately: the more, the less the machine's drift through the
    /// run weighs on one side. Each is a whole number of seconds, as wrk runs.
    pub(crate) rounds: u64,
    pub(crate) connections: usize,
    /// A PostgreSQL server to run on as well (its URL, naming any database the bench may
    /// connect to in order to create its own).
    pub(crate) postgres: Option<String>,
    /// Only time the move from SQLite to PostgreSQL (`tenantry export`, then `import`).
    pub(crate) move_only: bool,
    /// Only the parts whose name holds one of these (none: every endpoint, then the
    /// fixed-rate runs, [`FIXED_RATE_PART`], and the delivery drain, [`DELIVERY`]).
    pub(crate) only: Vec<String>,
    /// Count each endpoint's instructions per request under callgrind instead of timing it.
    pub(crate) instructions: bool,
    /// With `instructions`: keep each server's callgrind dump here, for
    /// `callgrind_annotate` to say where the instructions went.
    pub(crate) profiles: Option<PathBuf>,
}

impl BenchOptions {
    pub(crate) fn parse(args: &[&str]) -> Result<Self, String> {
        let mut options = Self {
            orgs: vec![10_000],
            seconds: 10,
            rounds: 2,
            connections: 64,
            postgres: None,
            move_only: false,
            only: Vec::new(),
            instructions: false,
            profiles: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<usize, String> {
                args.next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .filter(|&v: &usize| v > 0)
                    .ok_or_else(|| format!("{name} takes a whole number above zero"))
            };
            match *arg {
                "--quick" => {
                    options.orgs = vec![1_000];
                    options.seconds = 2;
                }
                "--orgs" => {
                    let list = args
                        .next()
                        .ok_or("--orgs takes a size, or sizes: 10000,1000000")?;
                    let mut sizes = list
                        .split(',')
                        .map(|size| {
                            size.trim()
                                .replace('_', "")
                                .parse()
                                .ok()
                                .filter(|&n: &usize| n > 0)
                        })
                        .collect::<Option<Vec<usize>>>()
                        .ok_or("--orgs takes whole numbers above zero, separated by commas")?;
                    sizes.sort_unstable();
                    sizes.dedup();
                    options.orgs = sizes;
                }
                "--seconds" => options.seconds = value("--seconds")? as u64,
                "--rounds" => options.rounds = value("--rounds")? as u64,
                "--connections" => options.connections = value("--connections")?,
                "--postgres" => {
                    let url = args.next().ok_or("--postgres takes a URL")?;
                    if !url.starts_with("postgres") {
                        return Err("--postgres takes a postgres:// URL".into());
                    }
                    options.postgres = Some((*url).to_owned());
                }
                "--move-only" => options.move_only = true,
                "--instructions" => options.instructions = true,
                "--profiles" => {
                    options.profiles = Some(PathBuf::from(
                        *args.next().ok_or("--profiles takes a directory")?,
                    ));
                }
                "--only" => options.only.push(
                    (*args
                        .next()
                        .ok_or("--only takes part of an endpoint's name")?)
                    .to_owned(),
                ),
                other => return Err(format!("unknown option {other}")),
            }
        }
        if !options.seconds.max(2).is_multiple_of(options.rounds) {
            return Err(format!(
                "--seconds ({}) is split into --rounds ({}) of whole seconds: make it a multiple",
                options.seconds.max(2),
                options.rounds
            ));
        }
        if options.move_only && options.postgres.is_none() {
            return Err("--move-only moves to PostgreSQL: name it with --postgres".into());
        }
        if options.profiles.is_some() && !options.instructions {
            return Err("--profiles keeps the dumps of --instructions: name that too".into());
        }
        if options.move_only && options.instructions {
            return Err("--move-only and --instructions measure different things".into());
        }
        if options.orgs.len() > 1 && (options.move_only || options.instructions) {
            return Err("--move-only and --instructions take one size of --orgs".into());
        }
        Ok(options)
    }
}

impl BenchOptions {
    /// The endpoints this run loads.
    fn pairs(&self) -> impl Iterator<Item = &'static Pair> {
        PAIRS.iter().filter(|pair| self.runs(pair.tenantry.name))
    }

    /// The largest size this run seeds.
    fn largest(&self) -> usize {
        self.orgs.last().copied().unwrap_or_default()
    }

    /// Whether this run measures the part of that name.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|part| name.contains(part.as_str()))
    }
}

/// The name `--only` selects the fixed-rate runs by.
const FIXED_RATE_PART: &str = "fixed rate";
/// The name `--only` selects the webhook delivery drain by.
const DELIVERY: &str = "webhook delivery";

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
/// A database the bench makes (and drops) on the PostgreSQL server it is given, named by
/// `tag` (a size, or [`MOVED`]) and by the run, so that two runs on one server do not drop
/// each other's.
fn postgres_database(tag: &str) -> String {
    format!("tenantry_bench_{}_{tag}", std::process::id())
}
/// The tag of the database `tenantry import` moves the SQLite database into.
const MOVED: &str = "moved";
/// Organizations that get an organization-scoped key of their own: spread evenly over the
/// table ([`keyed_positions`]).
const KEYED_ORGANIZATIONS: usize = 1_000;
/// Requests sent one by one to count statements.
const PROBES: usize = 20;

/// Runs the benchmark and answers its report.
pub(crate) fn run(root: &Path, options: &BenchOptions) -> Result<String, String> {
    eprintln!("bench: building the server and the baseline (release)");
    let status = Command::new(crate::cargo())
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "tenantry",
            "-p",
            "bench-baseline",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("the release build failed".into());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binaries = Binaries {
        tenantry: target.join("release").join("tenantry"),
        baseline: target.join("release").join("bench-baseline"),
        oha: if options.move_only || options.instructions {
            PathBuf::new()
        } else {
            ensure_oha()?
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;

    let sizes = options
        .orgs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" and ");
    let mut report = if options.instructions {
        instructions::heading(options)
    } else {
        format!(
            "{sizes} organizations; wrk, closed loop, 2 threads and {} keep-alive connections, {} s per endpoint on Tenantry and as long on its ceiling, interleaved in {} rounds (p50: the rounds' mean, p99: the worst){}; the server logs as by default; the load generator shares the machine\n",
            options.connections,
            options.seconds.max(2),
            options.rounds,
            if options.orgs.len() > 1 {
                ", each size's servers running side by side, their loads interleaved too"
            } else {
                ""
            }
        )
    };
    let sqlite: Vec<(usize, String)> = options
        .orgs
        .iter()
        .map(|&orgs| {
            let file = dir.path().join(format!("bench-{orgs}.db"));
            (orgs, format!("sqlite://{}?mode=rwc", file.display()))
        })
        .collect();
    let largest = sqlite.last().ok_or("--orgs names no size")?.clone();
    if !options.move_only {
        ensure_wrk()?;
    }
    if options.move_only {
        let admin_url = options.postgres.as_deref().unwrap_or_default();
        eprintln!("bench: seeding {} organizations", largest.0);
        runtime.block_on(seed(&largest.1, largest.0))?;
        return moving(&runtime, &binaries, dir.path(), &largest, admin_url);
    }
    report.push_str(&run_on(
        &runtime,
        &binaries,
        dir.path(),
        options,
        "SQLite",
        &sqlite,
    )?);
    if let Some(admin_url) = &options.postgres {
        // The SQLite database, as the loads left it (usage, events, deliveries), moves
        // (unless the run is a selection of endpoints, or counts instructions).
        if options.only.is_empty() && !options.instructions {
            report.push_str(&moving(
                &runtime,
                &binaries,
                dir.path(),
                &largest,
                admin_url,
            )?);
        }
        let databases: Result<Vec<(usize, String)>, String> = options
            .orgs
            .iter()
            .map(|&orgs| {
                runtime
                    .block_on(fresh_postgres_database(admin_url, &orgs.to_string()))
                    .map(|url| (orgs, url))
            })
            .collect();
        let result = databases.and_then(|databases| {
            run_on(
                &runtime,
                &binaries,
                dir.path(),
                options,
                "PostgreSQL",
                &databases,
            )
        });
        // Every size's database, whether or not each was made (`IF EXISTS`).
        for &orgs in &options.orgs {
            runtime.block_on(drop_postgres_database(admin_url, &orgs.to_string()))?;
        }
        report.push_str(&result?);
    }
    Ok(report)
}

/// Moving from SQLite to PostgreSQL must take less than this, each step, for 100,000
/// organizations...
const MOVE_TARGET: Duration = Duration::from_secs(60);
/// ...and hold less than this much memory.
const MOVE_TARGET_RSS_KIB: u64 = 200 * 1024;

/// Runs `tenantry export` from the SQLite database, `tenantry import` into a new PostgreSQL
/// database and `tenantry export` again from it: answers the section of the report with
/// the time and peak memory of each step, and whether the two exports are identical.
fn moving(
    runtime: &tokio::runtime::Runtime,
    binaries: &Binaries,
    dir: &Path,
    (orgs, sqlite): &(usize, String),
    admin_url: &str,
) -> Result<String, String> {
    let postgres = runtime.block_on(fresh_postgres_database(admin_url, MOVED))?;
    let first = dir.join("export-sqlite.jsonl");
    let second = dir.join("export-postgres.jsonl");
    let steps = (|| {
        eprintln!("bench: moving to PostgreSQL: export");
        let export = run_measured(binaries, dir, sqlite, "export", &first)?;
        eprintln!("bench: moving to PostgreSQL: import");
        let import = run_measured(binaries, dir, &postgres, "import", &first)?;
        run_measured(binaries, dir, &postgres, "export", &second)?;
        Ok::<_, String>((export, import))
    })();
    runtime.block_on(drop_postgres_database(admin_url, MOVED))?;
    let (export, import) = steps?;
    let size = std::fs::metadata(&first).map_err(|e| e.to_string())?.len();
    let identical = files_equal(&first, &second)?;
    let rows = std::fs::read(&first)
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(2);
    std::fs::remove_file(&first).ok();
    std::fs::remove_file(&second).ok();
    let verdict = |step: &Measured| {
        // The targets are set for 100,000 organizations as seeded (202,004 rows); scale
        // the time to this run's rows, which the loads before it add to (events, usage).
        let scale = rows as f64 / 202_004.0;
        let time_ok = step.elapsed.as_secs_f64() <= MOVE_TARGET.as_secs_f64() * scale.max(0.01);
        let memory_ok = step
            .peak_rss_kib
            .is_some_and(|kib| kib < MOVE_TARGET_RSS_KIB);
        if time_ok && memory_ok {
            "met"
        } else {
            "missed"
        }
    };
    let row = |name: &str, step: &Measured| {
        format!(
            "| {name} | {:.1} s | {} | {} |\n",
            step.elapsed.as_secs_f64(),
            step.peak_rss_kib.map_or_else(
                || "?".to_owned(),
                |kib| format!("{:.0} MB", kib as f64 / 1024.0)
            ),
            verdict(step)
        )
    };
    Ok(format!(
        "\n### Moving from SQLite to PostgreSQL\n\n{} organizations, {rows} rows, an export of {:.1} MB. Target: each step under 60 s and 200 MB for 100,000 organizations, 202,004 rows (time scaled to this run's rows).\n\n| step | time | peak RSS | target |\n|---|---|---|---|\n{}{}\nExported again from PostgreSQL: {}.\n",
        orgs,
        size as f64 / 1e6,
        row("tenantry export (SQLite)", &export),
        row("tenantry import (PostgreSQL)", &import),
        if identical {
            "identical, byte for byte"
        } else {
            "DIFFERENT"
        }
    ))
}

#[derive(Debug)]
struct Measured {
    elapsed: Duration,
    peak_rss_kib: Option<u64>,
}

/// Runs `tenantry <command> <path>` on `database`, polling its peak memory until it exits
/// (the high-water mark only grows, so the last reading is the peak within one poll).
fn run_measured(
    binaries: &Binaries,
    dir: &Path,
    database: &str,
    command: &str,
    path: &Path,
) -> Result<Measured, String> {
    let started = Instant::now();
    let mut child = Command::new(&binaries.tenantry)
        .arg(command)
        .arg(path)
        .current_dir(dir)
        .env("TENANTRY_DATABASE_URL", database)
        .env("TENANTRY_LOG", "warn")
        .env("TENANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("tenantry {command}: {e}"))?;
    let mut peak = None;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = Some(kib);
        }
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let elapsed = started.elapsed();
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_string(&mut stderr).ok();
        }
        return Err(format!("tenantry {command} failed: {}", stderr.trim()));
    }
    Ok(Measured {
        elapsed,
        peak_rss_kib: peak,
    })
}

fn files_equal(a: &Path, b: &Path) -> Result<bool, String> {
    let lines = |p: &Path| {
        std::fs::File::open(p)
            .map(|file| std::io::BufReader::new(file).lines().map(Result::ok))
            .map_err(|e| e.to_string())
    };
    Ok(lines(a)?.eq(lines(b)?))
}

#[derive(Debug)]
struct Binaries {
    tenantry: PathBuf,
    baseline: PathBuf,
    /// The fixed-rate load generator.
    oha: PathBuf,
}

/// One size of a backend's run: its database, as seeded, and the servers on it.
struct Site {
    orgs: usize,
    database: String,
    seeded: Arc<Seeded>,
    seeded_in: Duration,
    startup: Duration,
    tenantry: Server,
    tenantry_url: String,
    baseline: Server,
    baseline_url: String,
}

/// Seeds each of `databases` (a size, and the database to seed with it), loads every
/// endpoint on each and counts its statements; answers the section of the report for this
/// backend. With two sizes or more, the servers of every size run side by side, and each
/// endpoint's load goes from one size to the next in turn, so that the machine's drift
/// through the run falls on every size alike.
fn run_on(
    runtime: &tokio::runtime::Runtime,
    binaries: &Binaries,
    dir: &Path,
    options: &BenchOptions,
    backend: &str,
    databases: &[(usize, String)],
) -> Result<String, String> {
    let config = dir.join("tenantry.toml");
    let mut toml = String::new();
    for tier in ["free", "pro", "team", "enterprise"] {
        toml.push_str(&format!("[tiers.{tier}.rate_limits]\n"));
        for category in ["metadata", "data", "search", "upload", "compute"] {
            // As high as a tier may go: the load is not held back by rate limits, which
            // still count every request.
            toml.push_str(&format!(
                "{category} = {}\n",
                tenantry_domain::limits::RATE_LIMIT_MAX
            ));
        }
    }
    std::fs::write(&config, toml).map_err(|e| e.to_string())?;

    let mut seeded = Vec::new();
    for (orgs, database) in databases {
        eprintln!("bench: {backend}: seeding {orgs} organizations");
        let started = Instant::now();
        let done = Arc::new(runtime.block_on(seed(database, *orgs))?);
        seeded.push((*orgs, database.clone(), done, started.elapsed()));
    }
    if options.instructions {
        let (_, database, seeded, _) = seeded.first().ok_or("--orgs names no size")?;
        return instructions::run_on(
            runtime, binaries, &config, options, backend, database, seeded,
        );
    }

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()
        .map_err(|e| e.to_string())?;
    let mut sites = Vec::new();
    for (orgs, database, seeded, seeded_in) in seeded {
        let ceiling_database = runtime.block_on(ceiling_copy(&database))?;
        let started = Instant::now();
        let (tenantry, tenantry_url) = spawn_tenantry(binaries, &config, &database, None, None)?;
        let (baseline, baseline_url) = spawn_baseline(binaries, dir, &ceiling_database, None)?;
        let startup = runtime.block_on(async {
            wait_ready(&client, &format!("{tenantry_url}/readyz"))
                .await
                .map_err(|e| tenantry.explain(e))?;
            let startup = started.elapsed();
            wait_ready(&client, &format!("{baseline_url}/static"))
                .await
                .map_err(|e| baseline.explain(e))?;
            Ok::<_, String>(startup)
        })?;
        sites.push(Site {
            orgs,
            database,
            seeded,
            seeded_in,
            startup,
            tenantry,
            tenantry_url,
            baseline,
            baseline_url,
        });
    }

    let mut rows: Vec<Vec<Row>> = sites.iter().map(|_| Vec::new()).collect();
    for pair in options.pairs() {
        eprintln!("bench: {backend}: {}", pair.tenantry.name);
        let mut totals: Vec<(Totals, Totals)> = Vec::new();
        for site in &sites {
            reset_peak_rss(site.tenantry.id());
            totals.push(Default::default());
        }
        let phase = Duration::from_secs(options.seconds.max(2) / options.rounds);
        for _ in 0..options.rounds {
            for (site, (ours, ceiling)) in sites.iter().zip(&mut totals) {
                ours.add(wrk_load(
                    dir,
                    &site.tenantry_url,
                    &site.seeded,
                    &pair.tenantry,
                    phase,
                    options,
                    site.tenantry.id(),
                )?);
                ceiling.add(wrk_load(
                    dir,
                    &site.baseline_url,
                    &site.seeded,
                    &pair.ceiling,
                    phase,
                    options,
                    site.baseline.id(),
                )?);
            }
        }
        for ((site, (ours, ceiling)), rows) in sites.iter().zip(totals).zip(&mut rows) {
            rows.push(Row {
                name: pair.tenantry.name,
                ceiling_name: pair.ceiling.name,
                cpu_target: pair.cpu_target,
                ours: ours.figures(),
                ceiling: ceiling.figures(),
                statements: None,
                peak_rss_kib: peak_rss_kib(site.tenantry.id()),
            });
        }
    }

    let mut text = String::new();
    let several = sites.len() > 1;
    for (site, rows) in sites.into_iter().zip(&mut rows) {
        let size = if several {
            format!(", {} organizations", site.orgs)
        } else {
            String::new()
        };
        let mut fixed = String::new();
        if options.runs(FIXED_RATE_PART) {
            eprintln!("bench: {backend}{size}: at a {FIXED_RATE_PART}");
            fixed = fixed_rates(
                binaries,
                &site.tenantry_url,
                &site.baseline_url,
                &site.seeded,
                options,
            )?;
        }
        let mut delivery = String::new();
        if options.runs(DELIVERY) {
            eprintln!("bench: {backend}{size}: {DELIVERY}");
            delivery = runtime.block_on(deliveries(
                &client,
                &site.tenantry_url,
                &site.baseline_url,
                &site.seeded,
                options,
                site.tenantry.id(),
            ))?;
        }
        drop(site.tenantry);
        drop(site.baseline);

        eprintln!("bench: {backend}{size}: counting statements per request");
        let log = dir.join("statements.log");
        let (probe, probe_url) =
            spawn_tenantry(binaries, &config, &site.database, Some(&log), None)?;
        let counts = runtime.block_on(async {
            wait_ready(&client, &format!("{probe_url}/readyz"))
                .await
                .map_err(|e| probe.explain(e))?;
            let mut counts = Vec::new();
            for pair in options.pairs() {
                counts.push(
                    count_statements(&client, &probe_url, &site.seeded, &pair.tenantry, &log)
                        .await?,
                );
            }
            Ok::<_, String>(counts)
        })?;
        drop(probe);
        for (row, count) in rows.iter_mut().zip(counts) {
            row.statements = Some(count);
        }
        text.push_str(&report(
            &format!("{backend}{size}"),
            rows,
            site.startup,
            site.seeded_in,
        ));
        text.push_str(&fixed);
        text.push_str(&delivery);
    }
    if let (true, Some(smallest), Some(largest)) = (several, rows.first(), rows.last()) {
        let (from, to) = (databases[0].0, databases[databases.len() - 1].0);
        text.push_str(&format!(
            "\n### {backend}: the cost from {from} to {to} organizations\n"
        ));
        text.push_str(&flatness(smallest, largest));
    }
    Ok(text)
}

/// Delivery to a local receiver (the baseline's `/hook`): an endpoint for
/// `organization.updated` is registered, `PATCH` load runs as in its row (every write an
/// event), then the backlog drains. Answers the report's line: events written, how fast
/// they were delivered while written and once writing stopped, and the server's CPU per
/// delivery while draining.
async fn deliveries(
    client: &reqwest::Client,
    tenantry: &str,
    baseline: &str,
    seeded: &Arc<Seeded>,
    options: &BenchOptions,
    pid: u32,
) -> Result<String, String> {
    let count = || async {
        client
            .get(format!("{baseline}/hook/count"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?
            .parse::<u64>()
            .map_err(|e| e.to_string())
    };
    let registered = client
        .post(format!("{tenantry}/webhook-endpoint"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"url": format!("{baseline}/hook"), "eventTypes": ["organization.updated"]}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if registered.status() != reqwest::StatusCode::CREATED {
        return Err(format!("registering the endpoint: {}", registered.status()));
    }
    let before = count().await?;
    let patch = &PAIRS[3].tenantry;
    let load_time = Duration::from_secs(options.seconds).max(Duration::from_secs(2));
    let started = Instant::now();
    let written = load(client, tenantry, seeded, patch, load_time, options, pid).await?;
    let written_in = started.elapsed();
    let events = written.latencies.len() as u64 - written.errors;
    let during = count().await? - before;
    let drain_started = Instant::now();
    let cpu_before = cpu_time(pid);
    let deadline = drain_started + Duration::from_secs(120);
    let mut delivered = during;
    while delivered < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        delivered = count().await? - before;
    }
    let drained_in = drain_started.elapsed();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let backlog = events.saturating_sub(during);
    let drained = delivered.saturating_sub(during);
    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    // wrk counts the answers it read: the requests still in flight when it stopped wrote
    // their events too, and those are delivered as well.
    let in_flight = if delivered > events {
        format!(
            " (the {} more were written by requests still in flight when the load stopped)",
            delivered - events
        )
    } else {
        String::new()
    };
    let met = if rate(drained, drained_in) >= 2_000.0 || backlog == 0 {
        "met"
    } else {
        "missed"
    };
    Ok(format!(
        "\nWebhook delivery to a local receiver: {events} events written by `PATCH` load in {:.1} s, {during} delivered meanwhile ({:.0}/s); the backlog of {backlog} drained at {:.0}/s ({} µs server CPU per delivery); {delivered} of {events} delivered in all{in_flight}. Target 2,000/s: {met}.\n",
        written_in.as_secs_f64(),
        rate(during, written_in),
        rate(drained, drained_in),
        (cpu.as_micros() as u64).checked_div(drained).unwrap_or(0),
    ))
}

/// A child process, stopped when dropped, with the file its standard error goes to.
struct Server {
    child: Child,
    stderr: PathBuf,
}

impl Server {
    /// Starts `command` with its standard error written to `stderr`, where a server says
    /// why it did not start.
    fn spawn(command: &mut Command, stderr: PathBuf) -> Result<Self, String> {
        let file = std::fs::File::create(&stderr).map_err(|e| e.to_string())?;
        let child = command
            .stderr(file)
            .spawn()
            .map_err(|e| format!("{}: {e}", command.get_program().display()))?;
        Ok(Self { child, stderr })
    }

    fn id(&self) -> u32 {
        self.child.id()
    }

    /// `error`, with what the server wrote to its standard error (why it did not start).
    fn explain(&self, error: String) -> String {
        with_output(error, &self.stderr)
    }
}

/// `error` followed by the end of the file at `path`, if it says anything.
fn with_output(error: String, path: &Path) -> String {
    let written = std::fs::read_to_string(path).unwrap_or_default();
    let written = written.trim();
    if written.is_empty() {
        return error;
    }
    let start = written.floor_char_boundary(written.len().saturating_sub(2_000));
    format!("{error}; the server wrote:\n{}", &written[start..])
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// `binary`, or with `callgrind` (the file its counts are dumped to), `binary` under
/// valgrind's callgrind. Either way the process's id is the program's.
fn command_for(binary: &Path, callgrind: Option<&Path>) -> Command {
    match callgrind {
        None => Command::new(binary),
        Some(out) => {
            let mut command = Command::new("valgrind");
            command
                .arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", out.display()))
                .arg(binary);
            command
        }
    }
}

/// Starts Tenantry on `database`; with `log`, every SQL statement is logged there as JSON;
/// with `callgrind`, under callgrind (see [`command_for`]).
fn spawn_tenantry(
    binaries: &Binaries,
    config: &Path,
    database: &str,
    log: Option<&Path>,
    callgrind: Option<&Path>,
) -> Result<(Server, String), String> {
    let port = free_port()?;
    let mut command = command_for(&binaries.tenantry, callgrind);
    command
        .arg("serve")
        .env("TENANTRY_CONFIG", config)
        .env("TENANTRY_DATABASE_URL", database)
        .env("TENANTRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("TENANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TENANTRY_KEY_RATE_LIMIT", "1000000000")
        // The delivery figure's receiver is the baseline, on loopback.
        .env("TENANTRY_WEBHOOK_ALLOW_PRIVATE", "true");
    if callgrind.is_some() {
        // Under callgrind a request takes milliseconds, not microseconds, so the bench's
        // 1,000 keys would outlive the key cache's 5 s, as they never do at full speed, and
        // a slower build would count more key lookups than a faster one: a build's count
        // would depend on its own speed. A minute keeps them cached, as at full speed.
        command.env("TENANTRY_KEY_CACHE_MS", "60000");
    }
    match log {
        // As a user runs it: the default log filter and access line, written (to nowhere).
        None => {
            command.stdout(Stdio::null());
        }
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
            command
                .env("TENANTRY_LOG", "warn,sqlx::query=debug")
                .env("TENANTRY_LOG_FORMAT", "json")
                .stdout(file);
        }
    }
    let server = Server::spawn(
        &mut command,
        config.with_file_name(format!("tenantry-{port}.stderr")),
    )?;
    Ok((server, format!("http://127.0.0.1:{port}")))
}

fn spawn_baseline(
    binaries: &Binaries,
    dir: &Path,
    database: &str,
    callgrind: Option<&Path>,
) -> Result<(Server, String), String> {
    let port = free_port()?;
    let server = Server::spawn(
        command_for(&binaries.baseline, callgrind)
            .env("BASELINE_DATABASE_URL", database)
            // The pool Tenantry opens on this database: the size set for it in the
            // environment the bench passes on, else its default.
            .env(
                "BASELINE_MAX_CONNECTIONS",
                std::env::var("TENANTRY_DATABASE_MAX_CONNECTIONS").unwrap_or_else(|_| {
                    tenantry_storage::StoreOptions::new(database)
                        .max_connections
                        .to_string()
                }),
            )
            .env("BASELINE_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null()),
        dir.join(format!("baseline-{port}.stderr")),
    )?;
    Ok((server, format!("http://127.0.0.1:{port}")))
}

/// What the load needs to know of the seeded database.
#[derive(Debug)]
struct Seeded {
    user: String,
    user_key: String,
    orgs: Vec<String>,
    /// Organizations with a key scoped to each, and that key.
    keyed: Vec<(String, String)>,
}

impl Seeded {
    fn org(&self, n: u64) -> &str {
        &self.orgs[(n >> 33) as usize % self.orgs.len()]
    }

    fn keyed(&self, n: u64) -> (&str, &str) {
        let (org, key) = &self.keyed[(n >> 33) as usize % self.keyed.len()];
        (org, key)
    }
}

async fn seed(database: &str, count: usize) -> Result<Seeded, String> {
    let text = |e: tenantry_domain::InvalidValue| e.to_string();
    let store = Store::connect(&StoreOptions::new(database))
        .await
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    let user = User::new(
        Email::parse("bench@example.com").map_err(text)?,
        TextLine::user_name("Bench").map_err(text)?,
        now,
    );
    store
        .create_user(&user, Actor::PlatformAdmin(None))
        .await
        .map_err(|e| e.to_string())?;
    let make_key = |seed: u32, scope: ApiKeyScope| -> Result<(ApiKey, ApiKeySecret), String> {
        let mut bytes = *b"tenantry bench key: not a secret";
        bytes[..4].copy_from_slice(&seed.to_le_bytes());
        let secret = ApiKeySecret::from_random_bytes(bytes);
        let key = ApiKey {
            id: ApiKeyId::generate(),
            name: TextLine::api_key_name("bench").map_err(text)?,
            prefix: secret.prefix(),
            scope,
            created_at: now,
            revoked_at: None,
        };
        Ok((key, secret))
    };
    let (key, user_secret) = make_key(0, ApiKeyScope::User(user.id))?;
    store
        .create_api_key(&key, &user_secret.hash(), Actor::PlatformAdmin(None))
        .await
        .map_err(|e| e.to_string())?;

    /// Organizations per transaction.
    const BATCH: usize = 10_000;
    let mut ids = Vec::with_capacity(count);
    let mut batch = Vec::with_capacity(BATCH.min(count));
    for i in 0..count {
        let name = OrganizationName::parse(format!("Bench {i}")).map_err(text)?;
        let mut org = Organization::new(NewOrganization { name, domain: None }, now);
        org.auto_billing_enabled = true;
        org.max_overages = None;
        ids.push(org.id);
        batch.push(org);
        if batch.len() == BATCH || i + 1 == count {
            store
                .import_organizations(user.id, &batch)
                .await
                .map_err(|e| e.to_string())?;
            batch.clear();
            if (i + 1) % 100_000 == 0 {
                eprintln!("bench: {} organizations", i + 1);
            }
        }
    }
    let mut keyed = Vec::new();
    for (i, at) in keyed_positions(ids.len()).enumerate() {
        let org = ids[at];
        let scope = ApiKeyScope::Organization {
            organization_id: org,
            user_id: Some(user.id),
        };
        let (key, secret) = make_key(i as u32 + 1, scope)?;
        store
            .create_api_key(&key, &secret.hash(), Actor::PlatformAdmin(None))
            .await
            .map_err(|e| e.to_string())?;
        keyed.push((org.to_string(), secret.expose().to_owned()));
    }
    store.close().await.map_err(|e| e.to_string())?;
    if database.starts_with("postgres") {
        // Measure the steady state, not the aftermath of a bulk load: without this,
        // autovacuum visits the fresh tables in the middle of the run and takes CPU from
        // whichever endpoint is being measured then.
        execute_alone(
            database,
            "VACUUM (ANALYZE) organizations, memberships, users, api_keys",
        )
        .await?;
    }
    Ok(Seeded {
        user: user.id.to_string(),
        user_key: user_secret.expose().to_owned(),
        orgs: ids.iter().map(ToString::to_string).collect(),
        keyed,
    })
}

/// Where the keyed organizations are among `count`, in the order they were created: every
/// `count / 1,000`th, so that the `/v1` endpoints range over the whole table as their
/// ceilings' random organizations do, not over its first rows (pages a cache holds at any
/// size).
fn keyed_positions(count: usize) -> impl Iterator<Item = usize> {
    let step = (count / KEYED_ORGANIZATIONS).max(1);
    (0..count).step_by(step).take(KEYED_ORGANIZATIONS)
}

/// Runs `sql` on `database` on a connection of its own, closed after.
async fn execute_alone(database: &str, sql: &str) -> Result<(), String> {
    let db = sea_orm::Database::connect(database)
        .await
        .map_err(|e| e.to_string())?;
    db.execute_unprepared(sql)
        .await
        .map_err(|e| e.to_string())?;
    db.close().await.map_err(|e| e.to_string())
}

/// The database the ceiling runs on: on SQLite a copy of the seeded file, byte for byte,
/// so that each server's writes, and the checkpoints that copy them from the WAL into the
/// file (with their `fsync`), are paid by that server alone: sharing one file, either
/// process checkpointed whatever the WAL held, the other's writes too, and paid for them
/// in its own half. On PostgreSQL, whose own processes do that work, the same database.
async fn ceiling_copy(database: &str) -> Result<String, String> {
    let Some(rest) = database.strip_prefix("sqlite://") else {
        return Ok(database.to_owned());
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    // Everything in the WAL into the file first, with no one else connected: the file is
    // then the whole database.
    execute_alone(database, "PRAGMA wal_checkpoint(TRUNCATE)").await?;
    let copy = path.strip_suffix(".db").map_or_else(
        || format!("{path}-ceiling"),
        |stem| format!("{stem}-ceiling.db"),
    );
    std::fs::copy(path, &copy).map_err(|e| format!("copying {path}: {e}"))?;
    Ok(if query.is_empty() {
        format!("sqlite://{copy}")
    } else {
        format!("sqlite://{copy}?{query}")
    })
}

/// Makes the bench's own database on the PostgreSQL server of `admin_url`, anew.
async fn fresh_postgres_database(admin_url: &str, tag: &str) -> Result<String, String> {
    drop_postgres_database(admin_url, tag).await?;
    let admin = sea_orm::Database::connect(admin_url)
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {}", postgres_database(tag)))
        .await
        .map_err(|e| e.to_string())?;
    admin.close().await.map_err(|e| e.to_string())?;
    let (server, _) = admin_url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .ok_or("the PostgreSQL URL names no database")?;
    // Plain TCP, as the baseline (whose sqlx has no TLS) connects: on loopback, TLS would
    // only add its cost to Tenantry's side of every comparison.
    Ok(format!(
        "{server}/{}?sslmode=disable",
        postgres_database(tag)
    ))
}

async fn drop_postgres_database(admin_url: &str, tag: &str) -> Result<(), String> {
    let admin = sea_orm::Database::connect(admin_url)
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            postgres_database(tag)
        ))
        .await
        .map_err(|e| e.to_string())?;
    admin.close().await.map_err(|e| e.to_string())
}

async fn wait_ready(client: &reqwest::Client, url: &str) -> Result<(), String> {
    wait_ready_within(client, url, Duration::from_secs(6)).await
}

/// As [`wait_ready`], waiting up to `limit`.
async fn wait_ready_within(
    client: &reqwest::Client,
    url: &str,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("{url} did not become ready"))
}

/// One endpoint under load: its request, given a pseudo-random number.
struct Scenario {
    name: &'static str,
    request: fn(&reqwest::Client, &str, &Seeded, u64) -> reqwest::RequestBuilder,
}

/// A Tenantry endpoint and the ceiling it is measured against.
struct Pair {
    tenantry: Scenario,
    ceiling: Scenario,
    /// The most server CPU a request may cost, as a multiple of the ceiling's (BENCHMARKS.md,
    /// "Targets"); `None`: no target.
    cpu_target: Option<f64>,
}

/// Peak RSS must stay under this, in KiB (the target is set at 1,000,000 organizations).
const RSS_TARGET_KIB: u64 = 150 * 1024;

const STATIC: Scenario = Scenario {
    name: "static JSON",
    request: |c, base, _, _| c.get(format!("{base}/static")),
};
const RAW_READ: Scenario = Scenario {
    name: "raw read",
    request: |c, base, s, n| c.get(format!("{base}/organizations/{}", s.org(n))),
};
const RAW_DETAIL: Scenario = Scenario {
    name: "raw read with members",
    request: |c, base, s, n| c.get(format!("{base}/organizations/{}/detail", s.org(n))),
};
const RAW_UPDATE: Scenario = Scenario {
    name: "raw update",
    request: |c, base, s, n| {
        c.patch(format!("{base}/organizations/{}", s.org(n)))
            .json(&serde_json::json!({"name": format!("Bench {n}")}))
    },
};

const PAIRS: [Pair; 7] = [
    Pair {
        tenantry: Scenario {
            name: "GET /healthz",
            request: |c, base, _, _| c.get(format!("{base}/healthz")),
        },
        ceiling: STATIC,
        cpu_target: None,
    },
    Pair {
        tenantry: Scenario {
            name: "GET /organization/{id} (user key)",
            request: |c, base, s, n| {
                c.get(format!("{base}/organization/{}", s.org(n)))
                    .bearer_auth(&s.user_key)
            },
        },
        ceiling: RAW_DETAIL,
        cpu_target: Some(1.6),
    },
    Pair {
        tenantry: Scenario {
            name: "GET /v1/organizations/{id} (organization key)",
            request: |c, base, s, n| {
                let (org, key) = s.keyed(n);
                c.get(format!("{base}/v1/organizations/{org}"))
                    .bearer_auth(key)
            },
        },
        ceiling: RAW_READ,
        cpu_target: Some(1.3),
    },
    Pair {
        tenantry: Scenario {
            name: "PATCH /v1/organizations/{id} (organization key)",
            request: |c, base, s, n| {
                let (org, key) = s.keyed(n);
                c.patch(format!("{base}/v1/organizations/{org}"))
                    .bearer_auth(key)
                    .json(&serde_json::json!({"name": format!("Bench {n}")}))
            },
        },
        ceiling: RAW_UPDATE,
        cpu_target: Some(1.6),
    },
    Pair {
        tenantry: Scenario {
            name: "POST /organization/{id}/usage (user key)",
            request: |c, base, s, n| {
                c.post(format!("{base}/organization/{}/usage", s.org(n)))
                    .bearer_auth(&s.user_key)
                    .json(&serde_json::json!({"credits": 1}))
            },
        },
        ceiling: RAW_UPDATE,
        cpu_target: Some(1.6),
    },
    Pair {
        tenantry: Scenario {
            name: "GET /organization/{id}/entitlements (user key)",
            request: |c, base, s, n| {
                c.get(format!("{base}/organization/{}/entitlements", s.org(n)))
                    .bearer_auth(&s.user_key)
            },
        },
        ceiling: RAW_READ,
        cpu_target: Some(1.3),
    },
    Pair {
        tenantry: Scenario {
            name: "GET /organization/list?limit=100 (user key)",
            request: |c, base, s, _| {
                c.get(format!("{base}/organization/list?limit=100"))
                    .bearer_auth(&s.user_key)
            },
        },
        ceiling: Scenario {
            name: "raw page of 100",
            request: |c, base, s, _| c.get(format!("{base}/users/{}/organizations", s.user)),
        },
        cpu_target: Some(1.3),
    },
];

/// What one phase of load measured.
#[derive(Debug, Default)]
struct Totals {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
    cpu: Duration,
    /// What wrk measured, which reports percentiles rather than each latency: the
    /// requests, and p50 and p99 of each phase.
    counted: u64,
    percentiles: Vec<(Duration, Duration)>,
}

impl Totals {
    fn add(&mut self, mut other: Totals) {
        self.latencies.append(&mut other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.cpu += other.cpu;
        self.counted += other.counted;
        self.percentiles.append(&mut other.percentiles);
    }

    fn figures(mut self) -> Figures {
        if !self.percentiles.is_empty() {
            // Phases measured by wrk: the mean of their medians, the worst of their p99s.
            let phases = self.percentiles.len() as u32;
            let p50 = self
                .percentiles
                .iter()
                .map(|(p50, _)| *p50)
                .sum::<Duration>()
                / phases;
            let p99 = self
                .percentiles
                .iter()
                .map(|(_, p99)| *p99)
                .max()
                .unwrap_or_default();
            let requests = self.counted;
            return Figures {
                requests,
                errors: self.errors,
                per_second: requests as f64 / self.elapsed.as_secs_f64().max(1e-9),
                p50,
                p99,
                cpu_per_request: if requests == 0 {
                    Duration::ZERO
                } else {
                    self.cpu.div_f64(requests as f64)
                },
            };
        }
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let last = self.latencies.len().saturating_sub(1);
            self.latencies
                .get(((self.latencies.len() as f64 * q) as usize).min(last))
                .copied()
                .unwrap_or_default()
        };
        let requests = self.latencies.len() as u64;
        Figures {
            requests,
            errors: self.errors,
            per_second: requests as f64 / self.elapsed.as_secs_f64().max(1e-9),
            p50: at(0.50),
            p99: at(0.99),
            cpu_per_request: if requests == 0 {
                Duration::ZERO
            } else {
                self.cpu.div_f64(requests as f64)
            },
        }
    }
}

/// The figures of one endpoint.
#[derive(Debug, Clone, Default)]
struct Figures {
    requests: u64,
    errors: u64,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_request: Duration,
}

/// One line of the report.
#[derive(Debug)]
struct Row {
    name: &'static str,
    ceiling_name: &'static str,
    cpu_target: Option<f64>,
    ours: Figures,
    ceiling: Figures,
    statements: Option<f64>,
    peak_rss_kib: Option<u64>,
}

async fn load(
    client: &reqwest::Client,
    base: &str,
    seeded: &Arc<Seeded>,
    scenario: &Scenario,
    duration: Duration,
    options: &BenchOptions,
    pid: u32,
) -> Result<Totals, String> {
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for worker in 0..options.connections {
        let (client, base, seeded) = (client.clone(), base.to_owned(), seeded.clone());
        let request = scenario.request;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = worker as u64 * 7_919 + started.elapsed().subsec_nanos() as u64;
            while Instant::now() < deadline {
                n = n
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let sent = Instant::now();
                let ok = request(&client, &base, &seeded, n)
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
    let mut totals = Totals::default();
    for worker in workers {
        let (mut latencies, errors) = worker.await.map_err(|e| e.to_string())?;
        totals.latencies.append(&mut latencies);
        totals.errors += errors;
    }
    totals.elapsed = started.elapsed();
    totals.cpu = cpu_time(pid).saturating_sub(cpu_before);
    Ok(totals)
}

/// How many different requests a wrk script cycles through (organizations, keys, bodies).
const WRK_REQUESTS: u64 = 1_000;
/// wrk's threads, one a core.
const WRK_THREADS: usize = 2;

/// Loads `scenario` with wrk (closed loop: `connections` keep-alive connections on two
/// threads), a generator light enough that the server, not the client, is measured. The
/// scenario's requests are built once, written into a Lua script as raw HTTP, and cycled.
fn wrk_load(
    dir: &Path,
    base: &str,
    seeded: &Seeded,
    scenario: &Scenario,
    duration: Duration,
    options: &BenchOptions,
    pid: u32,
) -> Result<Totals, String> {
    let path = wrk_script(dir, base, seeded, scenario, WRK_THREADS)?;
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let text = run_wrk(&path, base, WRK_THREADS, options.connections, duration)?;
    let elapsed = started.elapsed();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let (requests, errors, p50, p99) = parse_wrk(&text)?;
    Ok(Totals {
        errors,
        elapsed,
        cpu,
        counted: requests,
        percentiles: vec![(p50, p99)],
        ..Default::default()
    })
}

/// Writes the wrk script that cycles through [`WRK_REQUESTS`] of `scenario`'s requests to
/// `base`, answering its path. Each of wrk's `threads` starts as far from the others in the
/// cycle as it can (thread k at k/threads of it), as independent clients would be: started
/// at one place (Lua's `math.random` gives every thread the same first number), the threads
/// sent their requests about each organization at the same moment, until their paces drew
/// them apart, and each write raced another on the same row.
fn wrk_script(
    dir: &Path,
    base: &str,
    seeded: &Seeded,
    scenario: &Scenario,
    threads: usize,
) -> Result<PathBuf, String> {
    let client = reqwest::Client::new();
    let mut script = String::from("local requests = {\n");
    for i in 0..WRK_REQUESTS {
        let n = i.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(i << 33);
        let request = (scenario.request)(&client, base, seeded, n)
            .build()
            .map_err(|e| e.to_string())?;
        let url = request.url();
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let headers: Vec<String> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                value
                    .to_str()
                    .ok()
                    .map(|value| format!("[{}] = {}", lua_string(name.as_str()), lua_string(value)))
            })
            .collect();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(|bytes| lua_string(&String::from_utf8_lossy(bytes)))
            .unwrap_or_else(|| "nil".to_owned());
        script.push_str(&format!(
            "  {{{}, {}, {{{}}}, {}}},\n",
            lua_string(request.method().as_str()),
            lua_string(&path),
            headers.join(", "),
            body
        ));
    }
    script.push_str(&format!(
        "}}\nlocal formatted = {{}}\nlocal i = 0\nlocal made = 0\n\
         setup = function(thread)\n  thread:set(\"thread_id\", made)\n  made = made + 1\nend\n\
         init = function(args)\n  for k, r in ipairs(requests) do formatted[k] = wrk.format(r[1], r[2], r[3], r[4]) end\n  \
         i = math.floor(thread_id * #formatted / {threads})\nend\n\
         request = function()\n  i = i % #formatted + 1\n  return formatted[i]\nend\n",
        threads = threads.max(1)
    ));
    let path = dir.join("scenario.lua");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Runs wrk with `script` against `base` (`threads`, `connections`, for `duration`),
/// answering its report.
fn run_wrk(
    script: &Path,
    base: &str,
    threads: usize,
    connections: usize,
    duration: Duration,
) -> Result<String, String> {
    let output = Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{}s", duration.as_secs().max(1)),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(base)
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "wrk failed: {}{text}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A Lua string literal of `text`.
fn lua_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\{}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads wrk's report: the requests sent, those answered other than 2xx or 3xx (and
/// socket errors), and the p50 and p99 latencies.
fn parse_wrk(text: &str) -> Result<(u64, u64, Duration, Duration), String> {
    let duration = |value: &str| -> Option<Duration> {
        let split = value.find(|c: char| c.is_ascii_alphabetic())?;
        let (number, unit) = value.split_at(split);
        let number: f64 = number.parse().ok()?;
        let seconds = match unit {
            "us" => number / 1e6,
            "ms" => number / 1e3,
            "s" => number,
            "m" => number * 60.0,
            _ => return None,
        };
        Some(Duration::from_secs_f64(seconds))
    };
    let mut requests = None;
    let mut errors = 0;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [count, "requests", "in", ..] => requests = count.parse().ok(),
            ["50%", value] => p50 = duration(value),
            ["99%", value] => p99 = duration(value),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                errors += count.parse::<u64>().unwrap_or(0);
            }
            ["Socket", "errors:", rest @ ..] => {
                errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    match (requests, p50, p99) {
        (Some(requests), Some(p50), Some(p99)) => Ok((requests, errors, p50, p99)),
        _ => Err(format!("could not read wrk's report:\n{text}")),
    }
}

/// The rate of the fixed-rate phases, below saturation on two cores.
const FIXED_RATE: u32 = 2_000;
/// The oha release the bench installs.
const OHA_VERSION: &str = "1.16.0";

/// Installs oha (from crates.io, once, into the tools cache beside cargo-deny) if it is not
/// there; answers its path.
fn ensure_oha() -> Result<PathBuf, String> {
    let tools = std::env::var_os("TENANTRY_TOOLS_DIR").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/tenantry-tools")
        },
        PathBuf::from,
    );
    let oha = tools.join("bin").join("oha");
    let installed = Command::new(&oha)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(OHA_VERSION));
    if installed {
        return Ok(oha);
    }
    eprintln!(
        "bench: installing oha {OHA_VERSION} into {} (once)",
        tools.display()
    );
    let status = Command::new(crate::cargo())
        .args([
            "install",
            "--locked",
            "--quiet",
            "--version",
            OHA_VERSION,
            "--root",
        ])
        .arg(&tools)
        .arg("oha")
        .env("CARGO_TARGET_DIR", tools.join("build"))
        .status()
        .map_err(|e| e.to_string())?;
    std::fs::remove_dir_all(tools.join("build")).ok();
    if status.success() {
        Ok(oha)
    } else {
        Err(format!("oha {OHA_VERSION} could not be installed"))
    }
}

/// Latency at a fixed rate below saturation, where a closed loop would hide the waits of
/// requests that were due while the server was busy (oha corrects for them): `GET` and
/// `PATCH /v1/organizations/{id}` at [`FIXED_RATE`] requests a second on the first 200
/// organizations, with their targets, each followed by the ceiling's read or update of the
/// same rows at the same rate. A p99 is decided by the slowest 1%, and a stall of the
/// machine or the database (a disk flush, a checkpoint, another process) of 100 ms puts
/// the 200 requests due during it there: the ceiling's p99 beside Tenantry's says whether a
/// slow stretch was Tenantry's own. The target is on Tenantry's alone.
fn fixed_rates(
    binaries: &Binaries,
    base: &str,
    ceiling_base: &str,
    seeded: &Seeded,
    options: &BenchOptions,
) -> Result<String, String> {
    let ids: Vec<&str> = seeded.orgs.iter().take(200).map(String::as_str).collect();
    // A dot is any character to oha's generator; `\.` is mangled: a class holds it.
    let rows =
        |base: &str, path: &str| format!("{}{path}/({})", base.replace('.', "[.]"), ids.join("|"));
    let mut text = format!(
        "\nAt a fixed rate of {FIXED_RATE} requests a second (oha, latency corrected for requests due while the server was busy, {} s each, the user key; the ceiling's read and update of the same rows right after):\n\n| endpoint | achieved req/s | p50 | p99 | ceiling p99 | target p99 | errors |\n| --- | ---: | ---: | ---: | ---: | --- | ---: |\n",
        options.seconds.max(2)
    );
    for (method, body, target) in [
        ("GET", None, Duration::from_millis(10)),
        (
            "PATCH",
            Some(r#"{"name": "Bench"}"#),
            Duration::from_millis(20),
        ),
    ] {
        let ours = oha_at_fixed_rate(
            binaries,
            &rows(base, "/v1/organizations"),
            method,
            body,
            Some(&seeded.user_key),
            options,
        )?;
        let ceiling = oha_at_fixed_rate(
            binaries,
            &rows(ceiling_base, "/organizations"),
            method,
            body,
            None,
            options,
        )?;
        text.push_str(&format!(
            "| {method} /v1/organizations/{{id}} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | under {} ms: {} | {} |\n",
            ours.per_second,
            ours.p50.as_secs_f64() * 1e3,
            ours.p99.as_secs_f64() * 1e3,
            ceiling.p99.as_secs_f64() * 1e3,
            target.as_millis(),
            if ours.p99 < target { "met" } else { "missed" },
            ours.errors,
        ));
    }
    Ok(text)
}

/// What one fixed-rate run measured.
struct AtFixedRate {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

/// Sends `method` requests (with `body`, as JSON) to the URLs `url` generates (a pattern of
/// oha's `--rand-regex-url`) at [`FIXED_RATE`] for the run's seconds, with `key` as a
/// bearer token if any.
fn oha_at_fixed_rate(
    binaries: &Binaries,
    url: &str,
    method: &str,
    body: Option<&str>,
    key: Option<&str>,
    options: &BenchOptions,
) -> Result<AtFixedRate, String> {
    let mut command = Command::new(&binaries.oha);
    command
        .args([
            "--no-tui",
            "--output-format",
            "json",
            "--latency-correction",
        ])
        .args(["-z", &format!("{}s", options.seconds.max(2))])
        .args(["-q", &FIXED_RATE.to_string(), "-c", "64", "-m", method])
        .arg("--rand-regex-url");
    if let Some(key) = key {
        command.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    if let Some(body) = body {
        command.args(["-T", "application/json", "-d", body]);
    }
    let output = command.arg(url).output().map_err(|e| format!("oha: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "oha failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("oha's report: {e}"))?;
    let seconds = |pointer: &str| {
        report
            .pointer(pointer)
            .and_then(serde_json::Value::as_f64)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("oha's report has no {pointer}"))
    };
    let errors: u64 = report["statusCodeDistribution"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(status, _)| !status.starts_with('2'))
        .filter_map(|(_, count)| count.as_u64())
        .sum::<u64>()
        + report["errorDistribution"]
            .as_object()
            .into_iter()
            .flatten()
            // Requests still in flight when the phase ends are cut, not failed.
            .filter(|(error, _)| !error.contains("deadline"))
            .filter_map(|(_, count)| count.as_u64())
            .sum::<u64>();
    Ok(AtFixedRate {
        per_second: report
            .pointer("/summary/requestsPerSec")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_default(),
        p50: seconds("/latencyPercentiles/p50")?,
        p99: seconds("/latencyPercentiles/p99")?,
        errors,
    })
}

/// Installs wrk from the machine's packages if it is not there.
fn ensure_wrk() -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("bench: installing wrk");
    let installed = Command::new("sh")
        .args(["-c", "apt-get update -qq && apt-get install -y -qq wrk"])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if installed.success() {
        Ok(())
    } else {
        Err("wrk is not installed and could not be (apt-get install wrk)".into())
    }
}

/// Sends [`PROBES`] requests one by one, twice, and answers how many SQL statements each
/// ran on average the second time, from the statement log (transaction control, `BEGIN`
/// and `COMMIT`, not counted).
async fn count_statements(
    client: &reqwest::Client,
    base: &str,
    seeded: &Seeded,
    scenario: &Scenario,
    log: &Path,
) -> Result<f64, String> {
    let send = |n: u64| async move {
        let response = (scenario.request)(client, base, seeded, n)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{}: {}", scenario.name, response.status()))
        }
    };
    let probes = || (0..PROBES as u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    // Once to warm up (under load every key is soon known to the key cache), then again,
    // counted. Statements are logged when they finish, before the answer is sent.
    for n in probes() {
        send(n).await?;
    }
    // The server's log lines are written by a thread of their own, moments after they
    // are logged: let the warm-up's reach the file before the count begins.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = std::fs::metadata(log).map_err(|e| e.to_string())?.len();
    for n in probes() {
        send(n).await?;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut file = std::fs::File::open(log).map_err(|e| e.to_string())?;
    file.seek(std::io::SeekFrom::Start(start))
        .map_err(|e| e.to_string())?;
    let mut statements = 0usize;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["target"] != "sqlx::query" {
            continue;
        }
        // The webhook worker polls beside the requests: its statements are the only ones
        // that touch deliveries or whether events were dispatched.
        let statement = event["fields"]["db.statement"].as_str().unwrap_or_default();
        let summary = event["fields"]["summary"].as_str().unwrap_or_default();
        if [statement, summary]
            .iter()
            .any(|s| s.contains("dispatched") || s.contains("webhook_"))
        {
            continue;
        }
        let keyword = summary.split_whitespace().next().unwrap_or_default();
        if !["BEGIN", "COMMIT", "ROLLBACK"].contains(&keyword.to_ascii_uppercase().as_str()) {
            statements += 1;
        }
    }
    Ok(statements as f64 / PROBES as f64)
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

/// Starts measuring the process's peak memory afresh (Linux's `clear_refs`).
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The process's peak resident memory since the last reset, from `/proc`.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let mut status = String::new();
    std::fs::File::open(format!("/proc/{pid}/status"))
        .ok()?
        .read_to_string(&mut status)
        .ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(backend: &str, rows: &[Row], startup: Duration, seeded_in: Duration) -> String {
    let mut text = format!(
        "\n### {backend}\n\nSeeded in {:.1} s; start-up to ready {:.0} ms.\n\n",
        seeded_in.as_secs_f64(),
        startup.as_secs_f64() * 1e3,
    );
    text.push_str(
        "| endpoint | req/s | ceiling | ceiling req/s | × ceiling | p50 | p99 | ceiling p99 | CPU / req | ceiling CPU / req | SQL / req | peak RSS | errors |\n",
    );
    text.push_str(
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let us = |d: Duration| format!("{} µs", d.as_micros());
    for row in rows {
        text.push_str(&format!(
            "| {} | {:.0} | {} | {:.0} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} of {} |\n",
            row.name,
            row.ours.per_second,
            row.ceiling_name,
            row.ceiling.per_second,
            row.ours.per_second / row.ceiling.per_second.max(1e-9),
            ms(row.ours.p50),
            ms(row.ours.p99),
            ms(row.ceiling.p99),
            us(row.ours.cpu_per_request),
            us(row.ceiling.cpu_per_request),
            row.statements.map_or("?".into(), |s| format!("{s:.1}")),
            row.peak_rss_kib
                .map_or("?".into(), |kib| format!("{:.1} MB", kib as f64 / 1024.0)),
            row.ours.errors + row.ceiling.errors,
            row.ours.requests + row.ceiling.requests,
        ));
    }
    text.push_str(&verdicts(rows));
    text
}

/// Each target a table of rows is measured against, met or missed: server CPU a request
/// against the ceiling's, and peak RSS.
fn verdicts(rows: &[Row]) -> String {
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let mut text = String::from(
        "\n| endpoint | server CPU a request × its ceiling's | target |\n| --- | ---: | --- |\n",
    );
    for row in rows {
        let Some(target) = row.cpu_target else {
            continue;
        };
        let ceiling = row.ceiling.cpu_per_request.as_secs_f64();
        let ratio = row.ours.cpu_per_request.as_secs_f64() / ceiling.max(1e-9);
        text.push_str(&format!(
            "| {} | {ratio:.2}× | at most {target}×: {} |\n",
            row.name,
            verdict(ceiling > 0.0 && ratio <= target),
        ));
    }
    let peak = rows.iter().filter_map(|row| row.peak_rss_kib).max();
    text.push_str(&match peak {
        Some(kib) => format!(
            "\nPeak RSS {:.1} MB (target under {} MB): {}.\n",
            kib as f64 / 1024.0,
            RSS_TARGET_KIB / 1024,
            verdict(kib < RSS_TARGET_KIB),
        ),
        None => "\nPeak RSS: not read (target under 150 MB).\n".to_owned(),
    });
    text
}

/// How much more server CPU a request may cost at the largest size than at the smallest
/// (BENCHMARKS.md, "Targets": flat within 25% from 10,000 to 1,000,000 organizations).
const FLAT_TARGET: f64 = 0.25;

/// The cost of each endpoint with a target, at the smallest size and at the largest, met or
/// missed against [`FLAT_TARGET`]; its ceiling's change beside it, since what grows for the
/// ceiling grows in the database, for every server alike.
fn flatness(smallest: &[Row], largest: &[Row]) -> String {
    let mut text = String::from(
        "\n| endpoint | CPU / req, smallest | largest | change | ceiling's change | target |\n| --- | ---: | ---: | ---: | ---: | --- |\n",
    );
    let change =
        |from: Duration, to: Duration| to.as_secs_f64() / from.as_secs_f64().max(1e-9) - 1.0;
    for (small, large) in smallest.iter().zip(largest) {
        if small.cpu_target.is_none() || small.name != large.name {
            continue;
        }
        let ours = change(small.ours.cpu_per_request, large.ours.cpu_per_request);
        let ceiling = change(small.ceiling.cpu_per_request, large.ceiling.cpu_per_request);
        let measured = !small.ours.cpu_per_request.is_zero();
        text.push_str(&format!(
            "| {} | {} µs | {} µs | {:+.0}% | {:+.0}% | within {:.0}%: {} |\n",
            small.name,
            small.ours.cpu_per_request.as_micros(),
            large.ours.cpu_per_request.as_micros(),
            ours * 100.0,
            ceiling * 100.0,
            FLAT_TARGET * 100.0,
            if measured && ours <= FLAT_TARGET {
                "met"
            } else {
                "missed"
            },
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_up_failure_carries_what_the_server_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenantry.stderr");
        std::fs::write(
            &path,
            "tenantry: invalid configuration: tiers.free.rate_limits.search must be at most 1000000\n",
        )
        .unwrap();
        let error = with_output("x did not become ready".into(), &path);
        assert_eq!(
            error,
            "x did not become ready; the server wrote:\ntenantry: invalid configuration: tiers.free.rate_limits.search must be at most 1000000"
        );
        // A long output keeps its end, cut at a character's boundary.
        std::fs::write(
            &path,
            format!("{}é{}last line", "a".repeat(3_000), "b".repeat(1_990)),
        )
        .unwrap();
        // The last 2,000 bytes begin inside the "é": the cut moves back to keep it whole.
        assert_eq!(
            with_output("e".into(), &path),
            format!("e; the server wrote:\né{}last line", "b".repeat(1_990))
        );
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(with_output("quiet".into(), &path), "quiet");
        assert_eq!(
            with_output("none".into(), &dir.path().join("missing")),
            "none"
        );
    }

    /// A row of the report: server CPU a request (µs) of Tenantry and its ceiling, and
    /// the peak RSS (MB).
    fn row(
        name: &'static str,
        cpu_target: Option<f64>,
        ours: u64,
        ceiling: u64,
        rss_mb: u64,
    ) -> Row {
        let figures = |micros: u64| Figures {
            cpu_per_request: Duration::from_micros(micros),
            ..Figures::default()
        };
        Row {
            name,
            ceiling_name: "raw read",
            cpu_target,
            ours: figures(ours),
            ceiling: figures(ceiling),
            statements: None,
            peak_rss_kib: Some(rss_mb * 1024),
        }
    }

    #[test]
    fn each_target_is_called_met_or_missed() {
        let text = verdicts(&[
            row("GET /healthz", None, 10, 5, 60),
            row("GET /a", Some(1.3), 130, 100, 80),
            row("PATCH /b", Some(1.6), 161, 100, 90),
        ]);
        assert!(!text.contains("GET /healthz"), "{text}");
        assert!(
            text.contains("| GET /a | 1.30× | at most 1.3×: met |"),
            "{text}"
        );
        assert!(
            text.contains("| PATCH /b | 1.61× | at most 1.6×: missed |"),
            "{text}"
        );
        assert!(
            text.contains("Peak RSS 90.0 MB (target under 150 MB): met."),
            "{text}"
        );
        let text = verdicts(&[row("GET /a", Some(1.3), 100, 100, 150)]);
        assert!(
            text.contains("Peak RSS 150.0 MB (target under 150 MB): missed."),
            "{text}"
        );
    }

    #[test]
    fn the_cost_from_one_size_to_another_is_called_met_or_missed() {
        let smallest = [
            row("GET /healthz", None, 10, 10, 60),
            row("GET /a", Some(1.3), 100, 80, 60),
            row("PATCH /b", Some(1.6), 100, 80, 60),
            row("GET /c", Some(1.3), 100, 80, 60),
        ];
        let largest = [
            row("GET /healthz", None, 50, 10, 60),
            row("GET /a", Some(1.3), 124, 100, 60),
            row("PATCH /b", Some(1.6), 126, 100, 60),
            row("GET /c", Some(1.3), 60, 80, 60),
        ];
        let text = flatness(&smallest, &largest);
        assert!(!text.contains("healthz"), "no target, no line:\n{text}");
        assert!(
            text.contains("| GET /a | 100 µs | 124 µs | +24% | +25% | within 25%: met |"),
            "{text}"
        );
        assert!(
            text.contains("| PATCH /b | 100 µs | 126 µs | +26% | +25% | within 25%: missed |"),
            "{text}"
        );
        assert!(
            text.contains("| GET /c | 100 µs | 60 µs | -40% | +0% | within 25%: met |"),
            "cheaper at the larger size is flat enough:\n{text}"
        );
    }

    #[test]
    fn wrks_report_is_read() {
        let report = "Running 2s test @ http://127.0.0.1:1\n  2 threads and 64 connections\n  Latency Distribution\n     50%  791.00us\n     75%    1.20ms\n     90%    2.01ms\n     99%    4.53ms\n  112345 requests in 2.00s, 9.10MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 7\nRequests/sec:  56172.50\n";
        let (requests, errors, p50, p99) = parse_wrk(report).unwrap();
        assert_eq!(requests, 112_345);
        assert_eq!(errors, 10);
        assert_eq!(p50, Duration::from_micros(791));
        assert_eq!(p99, Duration::from_micros(4_530));
        assert!(parse_wrk("wrk: connection refused").is_err());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn options_parse_and_refuse_what_they_do_not_know() {
        let options = BenchOptions::parse(&[
            "--quick",
            "--orgs",
            "1_000_000",
            "--postgres",
            "postgres://p@h/db",
        ])
        .unwrap();
        assert_eq!(options.orgs, [1_000_000]);
        assert_eq!(options.seconds, 2);
        assert_eq!(options.rounds, 2);
        let rounds = BenchOptions::parse(&["--seconds", "12", "--rounds", "4"]).unwrap();
        assert_eq!((rounds.seconds, rounds.rounds), (12, 4));
        assert!(
            BenchOptions::parse(&["--seconds", "10", "--rounds", "4"]).is_err(),
            "wrk runs whole seconds: 10 s are not 4 rounds"
        );
        assert!(BenchOptions::parse(&["--quick", "--rounds", "4"]).is_err());
        assert!(BenchOptions::parse(&["--rounds", "0"]).is_err());
        let sizes = BenchOptions::parse(&["--orgs", "1_000_000,10000,10000"]).unwrap();
        assert_eq!(sizes.orgs, [10_000, 1_000_000], "sorted, once each");
        assert_eq!(sizes.largest(), 1_000_000);
        assert!(BenchOptions::parse(&["--orgs", "10000,"]).is_err());
        assert!(BenchOptions::parse(&["--orgs", "10000,0"]).is_err());
        assert!(
            BenchOptions::parse(&["--orgs", "1000,2000", "--instructions"]).is_err(),
            "one size under callgrind"
        );
        assert_eq!(options.postgres.as_deref(), Some("postgres://p@h/db"));
        assert!(BenchOptions::parse(&["--orgs", "0"]).is_err());
        assert!(BenchOptions::parse(&["--postgres", "mysql://h/db"]).is_err());
        assert!(BenchOptions::parse(&["--fast"]).is_err());
        assert!(
            BenchOptions::parse(&["--move-only"]).is_err(),
            "needs --postgres"
        );
        let only = BenchOptions::parse(&["--only", "PATCH", "--only", "usage"]).unwrap();
        let names: Vec<&str> = only.pairs().map(|pair| pair.tenantry.name).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.contains("PATCH") || n.contains("usage"))
        );
        assert_eq!(
            BenchOptions::parse(&[]).unwrap().pairs().count(),
            PAIRS.len()
        );
        assert!(!only.runs(FIXED_RATE_PART) && !only.runs(DELIVERY));
        let drain = BenchOptions::parse(&["--only", "delivery"]).unwrap();
        assert_eq!(drain.pairs().count(), 0);
        assert!(drain.runs(DELIVERY) && !drain.runs(FIXED_RATE_PART));
        assert!(BenchOptions::parse(&["--only"]).is_err());
        let kept = BenchOptions::parse(&["--instructions", "--profiles", "out"]).unwrap();
        assert_eq!(kept.profiles.as_deref(), Some(Path::new("out")));
        assert!(
            BenchOptions::parse(&["--profiles", "out"]).is_err(),
            "needs --instructions"
        );
        assert!(BenchOptions::parse(&["--instructions", "--profiles"]).is_err());
    }

    #[test]
    fn a_sqlite_ceiling_runs_on_a_copy_of_the_whole_database() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bench-3.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let count = |url: String| async move {
            let db = sea_orm::Database::connect(&url).await.unwrap();
            let rows = db
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT count(*) FROM t",
                ))
                .await
                .unwrap();
            db.close().await.unwrap();
            rows[0].try_get_by_index::<i64>(0).unwrap()
        };
        let wal = dir.path().join("bench-3.db-wal");
        let (copied, kept) = runtime.block_on(async {
            let db = sea_orm::Database::connect(&url).await.unwrap();
            for sql in [
                "PRAGMA journal_mode = WAL",
                "PRAGMA wal_autocheckpoint = 0",
                "CREATE TABLE t (n INTEGER)",
            ] {
                db.execute_unprepared(sql).await.unwrap();
            }
            // Another connection stays open, so that closing the first leaves its rows in
            // the WAL (the last connection to close would copy them into the file).
            let kept = sea_orm::Database::connect(&url).await.unwrap();
            kept.execute_unprepared("SELECT 1").await.unwrap();
            db.execute_unprepared("INSERT INTO t VALUES (1), (2), (3)")
                .await
                .unwrap();
            db.close().await.unwrap();
            assert!(
                std::fs::metadata(&wal).unwrap().len() > 0,
                "rows in the WAL"
            );
            (ceiling_copy(&url).await.unwrap(), kept)
        });
        let copy = dir.path().join("bench-3-ceiling.db");
        assert_eq!(copied, format!("sqlite://{}?mode=rwc", copy.display()));
        assert_eq!(runtime.block_on(count(copied)), 3);
        runtime.block_on(kept.close()).unwrap();
        assert_eq!(runtime.block_on(count(url)), 3, "the original is whole too");
        let postgres = "postgres://postgres@127.0.0.1:5432/test";
        assert_eq!(runtime.block_on(ceiling_copy(postgres)).unwrap(), postgres);
    }

    #[test]
    fn keyed_organizations_range_over_the_whole_table() {
        let at: Vec<usize> = keyed_positions(1_000_000).collect();
        assert_eq!(at.len(), KEYED_ORGANIZATIONS);
        assert_eq!((at[0], at[1], at[999]), (0, 1_000, 999_000));
        let at: Vec<usize> = keyed_positions(10_000).collect();
        assert_eq!((at.len(), at[1], at[999]), (KEYED_ORGANIZATIONS, 10, 9_990));
        // Fewer organizations than keys: each has one.
        assert_eq!(keyed_positions(3).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn cpu_time_reads_this_process() {
        let mut x = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        assert!(cpu_time(std::process::id()) > Duration::ZERO);
        assert!(peak_rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
