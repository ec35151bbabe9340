//! Project automation, run as `cargo xtask <command>`.
//!
//! - `openapi`: writes `openapi/openapi.json` from the code (no server is started).
//! - `openapi --check`: fails when the committed document is stale, and says how to fix it.
//! - `spec-check`: holds the document generated from the code against the documented APIs
//!   in `openapi/documented/` and the house rules, printing every mismatch.
//! - `client`: writes the typed Rust client, `crates/tenantry-client/src/generated.rs`, from the
//!   committed `openapi/openapi.json`; `client --check` fails when it is stale.
//! - `bench [--quick] [--orgs N[,N]...] [--seconds N] [--rounds N] [--connections N] [--postgres
//!   URL] [--only NAME]... [--instructions [--profiles DIR]]`: loads a release build of the
//!   server endpoint by endpoint, each against its ceiling, and prints the figures
//!   (`--rounds`: how many alternating turns each endpoint's seconds are split into, 2 by
//!   default; `--only`: just the parts whose name holds NAME: endpoints, `fixed rate` or
//!   `webhook delivery`; `--orgs 10000,1000000`: both sizes side by side, and how each
//!   endpoint's cost moved from one to the other; `--instructions`: instructions per
//!   request counted under callgrind, instead of time; `--profiles`: each server's
//!   callgrind dump kept in DIR).

mod bench;
mod client;
mod spec_check;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

const OPENAPI_PATH: &str = "openapi/openapi.json";
const DOCUMENTED_DIR: &str = "openapi/documented";

/// The workspace this run works on: the one `cargo xtask` was run in, as cargo tells the run
/// (`CARGO_MANIFEST_DIR`). Not the path compiled in: cargo reuses a build made in another
/// checkout that shares the target directory (the sources alike), and that path would point
/// into the other checkout, or to where it was.
fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// The cargo running this, as cargo tells the run (`CARGO`), for the same reason as
/// [`workspace_root`].
fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["openapi"] => write_openapi(),
        ["openapi", "--check"] => check_openapi(),
        ["spec-check"] => spec_check(),
        ["client"] => write_client(),
        ["client", "--check"] => check_client(),
        ["bench", rest @ ..] => bench(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask openapi [--check] | cargo xtask spec-check | cargo xtask client [--check] | cargo xtask bench [--quick] [--orgs N[,N]...] [--seconds N] [--rounds N] [--connections N] [--postgres URL] [--only NAME]... [--instructions [--profiles DIR]]"
            );
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

fn write_client() -> ExitCode {
    let root = workspace_root();
    let path = root.join(client::GENERATED_PATH);
    let written = client::generate(&root.join(OPENAPI_PATH)).and_then(|code| {
        std::fs::write(&path, code).map_err(|e| format!("{}: {e}", path.display()))
    });
    match written {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn check_client() -> ExitCode {
    let root = workspace_root();
    let committed = std::fs::read_to_string(root.join(client::GENERATED_PATH)).unwrap_or_default();
    match client::generate(&root.join(OPENAPI_PATH)) {
        Ok(code) if code == committed => {
            eprintln!("{} is up to date", client::GENERATED_PATH);
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!(
                "{} is stale: run `cargo xtask client` and commit the result",
                client::GENERATED_PATH
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The documented APIs, by file name.
fn documented() -> Result<Vec<(String, Value)>, String> {
    let dir = workspace_root().join(DOCUMENTED_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                value,
            ))
        })
        .collect()
}

/// Every mismatch, with the documented file it comes from.
fn spec_mismatches() -> Result<Vec<spec_check::Mismatch>, String> {
    let generated = tenantry_http::openapi_document();
    let mut rows = Vec::new();
    let files = documented()?;
    if files.is_empty() {
        return Err(format!("no documented API in {DOCUMENTED_DIR}"));
    }
    for (name, document) in files {
        for mut row in spec_check::check(&document, &generated) {
            row.operation = format!("{name}: {}", row.operation);
            rows.push(row);
        }
    }
    rows.extend(spec_check::lint(&generated));
    rows.extend(spec_check::lint_webhooks(&generated));
    Ok(rows)
}

fn spec_check() -> ExitCode {
    match spec_mismatches() {
        Ok(rows) if rows.is_empty() => {
            eprintln!(
                "spec-check: the generated document matches every documented operation and the house rules"
            );
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            eprintln!("{}", spec_check::table(&rows));
            eprintln!("\nspec-check: {} mismatch(es)", rows.len());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("spec-check: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &[&str]) -> ExitCode {
    let options = match bench::BenchOptions::parse(args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("bench: {error}");
            return ExitCode::from(2);
        }
    };
    match bench::run(&workspace_root(), &options) {
        Ok(report) => {
            #[allow(clippy::print_stdout, reason = "the report is the command's output")]
            {
                println!("{report}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_document_matches_the_documented_apis() {
        let rows = super::spec_mismatches().unwrap();
        assert!(
            rows.is_empty(),
            "run `cargo xtask spec-check`:\n{}",
            super::spec_check::table(&rows)
        );
    }
}
