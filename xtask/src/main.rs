//! Project automation, run as `cargo xtask <command>`.
//!
//! - `openapi`: writes `openapi/openapi.json` from the code (no server is started).
//! - `openapi --check`: fails when the committed document is stale, and says how to fix it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const OPENAPI_PATH: &str = "openapi/openapi.json";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["openapi"] => write_openapi(),
        ["openapi", "--check"] => check_openapi(),
        _ => {
            eprintln!("usage: cargo xtask openapi [--check]");
            ExitCode::from(2)
        }
    }
}

fn write_openapi() -> ExitCode {
    let path = workspace_root().join(OPENAPI_PATH);
    match std::fs::write(&path, tenantry_http::openapi_json()) {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("could not write {}: {error}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn check_openapi() -> ExitCode {
    let path = workspace_root().join(OPENAPI_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == tenantry_http::openapi_json() {
        eprintln!("{OPENAPI_PATH} is up to date");
        ExitCode::SUCCESS
    } else {
        eprintln!("{OPENAPI_PATH} is stale: run `cargo xtask openapi` and commit the result");
        ExitCode::FAILURE
    }
}
