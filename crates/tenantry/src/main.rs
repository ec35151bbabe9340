//! `tenantry serve`: the organization service.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

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
    let settings = match Settings::load(&config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tenantry: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = telemetry::init(&settings.log, settings.log_format) {
        eprintln!("tenantry: {error}");
        return ExitCode::FAILURE;
    }
    match cli.command {
        Command::Serve => serve(settings).await,
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
