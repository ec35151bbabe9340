//! The `tenantry` binary: `serve`, and the commands that operate it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: a request allocates and frees many small
/// values across two worker threads, where glibc's allocator showed as an eighth of the
/// server's time (see BENCHMARKS.md). With its `override` feature it serves SQLite's
/// `malloc` and `free` as well: a page of organizations copies each of its values with
/// SQLite's `malloc`, and frees them on another thread. Its `no_thp` feature keeps it from
/// asking the kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`) for the memory
/// it reserves: with them, every 2 MiB region a thread touched stayed resident whole, about
/// half of the server's memory under load (130 MB rather than 60 at 10,000 organizations).
/// A host whose huge pages are `always` rather than `madvise` grants them unasked:
/// `MIMALLOC_ALLOW_THP=0` in the environment turns them off for the process (README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tenantry::{Settings, prepare, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "tenantry",
    version,
    about = "A self-hostable organization service"
)]
struct Cli {
    /// The configuration file (TENANTRY_* environment variables override it). Without
    /// this, `tenantry.toml` in the working directory is read if it exists; a file named
    /// here must exist.
    #[arg(long, global = true, env = "TENANTRY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations and serve the HTTP API until SIGTERM or SIGINT.
    Serve,
    /// Apply pending migrations and exit; with --status, list them and change nothing.
    Migrate {
        /// List applied and pending migrations instead of applying them.
        #[arg(long)]
        status: bool,
    },
    /// Check the configuration, the database and Redis, and print the effective settings
    /// (secrets redacted). Exit status: 0 all good, 2 the configuration, 3 the database,
    /// 4 Redis.
    Check,
    /// Copy the SQLite database, consistently, to a new file, while it may be serving.
    Backup {
        /// Where to write the copy; it must not exist.
        path: PathBuf,
    },
    /// Write every record (users, organizations with their logos, members, key hashes,
    /// workspaces, usage, events, webhook endpoints) as JSON Lines, from one consistent
    /// snapshot, while the server may be serving. The file holds key hashes and webhook
    /// secrets: keep it as safe as the database.
    Export {
        /// Where to write the export (a new file, made readable by its owner only), or `-`
        /// for standard output.
        path: PathBuf,
    },
    /// Load an export into this configuration's database, which must be new (no rows),
    /// in one transaction: an export that is cut short or does not load changes nothing.
    Import {
        /// The export to read, or `-` for standard input.
        path: PathBuf,
    },
    /// The platform admin token.
    AdminToken {
        #[command(subcommand)]
        command: AdminTokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminTokenCommand {
    /// Make a new admin token and print it once; the stored one it replaces stops working.
    Rotate,
}

/// Exit statuses of `tenantry check`.
const CONFIGURATION_FAILED: u8 = 2;
const DATABASE_FAILED: u8 = 3;
const REDIS_FAILED: u8 = 4;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match tenantry::settings::config_file(cli.config) {
        Ok(path) => path,
        Err(error) => {
            eprintln!("tenantry: {error}");
            return ExitCode::FAILURE;
        }
    };
    let settings = match Settings::load(&config).and_then(|s| s.check().map(|()| s)) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tenantry: {error}");
            return match cli.command {
                Command::Check => ExitCode::from(CONFIGURATION_FAILED),
                _ => ExitCode::FAILURE,
            };
        }
    };
    let log_to = match cli.command {
        Command::Serve => telemetry::LogTo::Stdout,
        _ => telemetry::LogTo::Stderr,
    };
    // Held to the end of `main`: dropping it writes the lines still queued.
    let _log = match telemetry::init(
        &settings.log,
        settings.log_format,
        log_to,
        settings.access_log.into(),
    ) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("tenantry: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate { status } => migrate(&settings, status).await,
        Command::Check => check(&settings).await,
        Command::Backup { path } => backup(&settings, &path).await,
        Command::Export { path } => export(&settings, &path).await,
        Command::Import { path } => import(&settings, &path).await,
        Command::AdminToken {
            command: AdminTokenCommand::Rotate,
        } => rotate(&settings).await,
    }
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("tenantry: {error}");
    ExitCode::FAILURE
}

#[allow(clippy::print_stdout, reason = "the command's report is its output")]
async fn migrate(settings: &Settings, status: bool) -> ExitCode {
    let options = tenantry::store_options(settings);
    let store = match tenantry_storage::Store::connect_without_migrating(&options).await {
        Ok(store) => store,
        Err(error) => return fail(error),
    };
    let state = match store.migration_state().await {
        Ok(state) => state,
        Err(error) => return fail(error),
    };
    if status {
        for name in &state.applied {
            println!("applied  {name}");
        }
        for name in &state.pending {
            println!("pending  {name}");
        }
        return ExitCode::SUCCESS;
    }
    if let Err(error) = tenantry_storage::Store::connect(&options).await {
        return fail(error);
    }
    for name in &state.pending {
        println!("applied  {name}");
    }
    println!(
        "{} migration(s) applied; the database is up to date",
        state.pending.len()
    );
    ExitCode::SUCCESS
}

#[allow(clippy::print_stdout, reason = "the command's report is its output")]
async fn check(settings: &Settings) -> ExitCode {
    println!("configuration: valid");
    println!("database: {}", settings.database_url_redacted());
    println!("{settings:#?}");
    let options = tenantry::store_options(settings);
    println!("database pool: {} connections", options.max_connections);
    let store = match tenantry_storage::Store::connect_without_migrating(&options).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("tenantry: {error}");
            return ExitCode::from(DATABASE_FAILED);
        }
    };
    match store.migration_state().await {
        Ok(state) if state.pending.is_empty() => {
            println!(
                "database: reachable, {} migrations applied",
                state.applied.len()
            );
        }
        Ok(state) => println!(
            "database: reachable, {} migration(s) pending (`tenantry migrate` or the next start applies them)",
            state.pending.len()
        ),
        Err(error) => {
            eprintln!("tenantry: the database's migrations cannot be read: {error}");
            return ExitCode::from(DATABASE_FAILED);
        }
    }
    if let Err(error) = store.check_writable().await {
        eprintln!("tenantry: the database cannot be written: {error}");
        return ExitCode::from(DATABASE_FAILED);
    }
    println!("database: writable");
    if let Some(url) = &settings.redis_url {
        use secrecy::ExposeSecret as _;
        let timeout = settings.connect_timeout();
        match tenantry_http::rate_limit::check_redis(url.expose_secret(), timeout).await {
            Ok(()) => println!("redis: reachable"),
            Err(error) => {
                eprintln!("tenantry: Redis: {error}");
                return ExitCode::from(REDIS_FAILED);
            }
        }
    } else {
        println!("redis: not configured (rate limits are counted per instance)");
    }
    ExitCode::SUCCESS
}

#[allow(clippy::print_stdout, reason = "the command's report is its output")]
async fn backup(settings: &Settings, path: &std::path::Path) -> ExitCode {
    let options = tenantry::store_options(settings);
    let store = match tenantry_storage::Store::connect_without_migrating(&options).await {
        Ok(store) => store,
        Err(error) => return fail(error),
    };
    match store.backup_to(path).await {
        Ok(()) => {
            println!("copied the database to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

/// `-` as a path: standard input or output.
fn is_standard_stream(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

async fn export(settings: &Settings, path: &std::path::Path) -> ExitCode {
    let options = tenantry::store_options(settings);
    let store = match tenantry_storage::Store::connect_without_migrating(&options).await {
        Ok(store) => store,
        Err(error) => return fail(error),
    };
    if is_standard_stream(path) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        return match store.export(&mut out).await {
            Ok(summary) => {
                eprintln!("exported {summary}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(error),
        };
    }
    match tenantry::transfer::export_to_file(&store, path).await {
        Ok(summary) => {
            eprintln!("exported {summary} to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

async fn import(settings: &Settings, path: &std::path::Path) -> ExitCode {
    let options = tenantry::store_options(settings);
    let input: Box<dyn std::io::BufRead> = if is_standard_stream(path) {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(file) => Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            Err(error) => return fail(format!("cannot read {}: {error}", path.display())),
        }
    };
    let store = match tenantry_storage::Store::connect(&options).await {
        Ok(store) => store,
        Err(error) => return fail(error),
    };
    match store.import(input).await {
        Ok(summary) => {
            eprintln!("imported {summary}");
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

#[allow(
    clippy::print_stdout,
    reason = "the new token is shown once, on the terminal"
)]
async fn rotate(settings: &Settings) -> ExitCode {
    match tenantry::rotate_admin_token(settings).await {
        Ok(token) => {
            println!(
                "New platform admin token (shown once, store it now; the previous one no longer works):\n\n    {token}\n"
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

#[allow(
    clippy::print_stdout,
    reason = "the generated admin token is shown once, on the terminal"
)]
async fn serve(settings: Settings) -> ExitCode {
    let prepared = match prepare(&settings).await {
        Ok(prepared) => prepared,
        Err(error) => {
            tracing::error!(%error, "could not start");
            eprintln!("tenantry: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(token) = &prepared.generated_admin_token {
        tracing::warn!(
            "no admin token was configured: generated one, printed below once; only its hash is kept"
        );
        println!("\nPlatform admin token (shown once, store it now):\n\n    {token}\n");
    }
    if let Some(address) = prepared.metrics_address {
        tracing::info!(%address, "metrics at /metrics");
    }
    tracing::info!(address = %prepared.address, "listening; Swagger UI at /swagger-ui/");
    match prepared.server.await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}
