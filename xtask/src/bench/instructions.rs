//! `cargo xtask bench --instructions`: each endpoint's instructions per request, counted
//! by valgrind's callgrind, against its ceiling's.
//!
//! Timing on a shared machine varies by ±15% from run to run on the same build, which
//! hides a change of a few percent. Callgrind counts the instructions a process executes
//! in user space: the same from run to run for the same build, inputs and environment,
//! whatever else the machine does. The count leaves out the kernel's share (system calls,
//! the network), so it is not the CPU figure: it says where user-space work goes, and
//! what a change removed.
//!
//! For each endpoint, the server starts under callgrind; wrk warms it up (every key known
//! to the key cache, every statement prepared), the counters are zeroed, wrk loads it on
//! one thread and two connections for the run's seconds, and the counters are dumped and
//! divided by the requests wrk counted. Then the same for its ceiling.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{
    BenchOptions, Binaries, Scenario, Seeded, parse_wrk, run_wrk, spawn_baseline, spawn_tenantry,
    wait_ready_within, wrk_script,
};

/// How long a server under callgrind is given to become ready (it runs some 50 times
/// slower than natively).
const READY_WITHIN: Duration = Duration::from_secs(120);
/// The load before the counters are zeroed.
const WARM_UP: Duration = Duration::from_secs(3);
/// wrk's connections: two, so that both of the server's workers take requests.
const CONNECTIONS: usize = 2;

/// The report's opening line.
pub(super) fn heading(options: &BenchOptions) -> String {
    format!(
        "{} organizations; instructions per request in user space, counted by callgrind: after {} s of warm-up, wrk on 1 thread and {CONNECTIONS} keep-alive connections for {} s per endpoint, then its ceiling the same way; the server logs as by default\n",
        options.largest(),
        WARM_UP.as_secs(),
        options.seconds
    )
}

/// Counts every selected endpoint and its ceiling on `database` (seeded); answers the
/// report's section for it.
pub(super) fn run_on(
    runtime: &tokio::runtime::Runtime,
    binaries: &Binaries,
    config: &Path,
    options: &BenchOptions,
    backend: &str,
    database: &str,
    seeded: &Seeded,
) -> Result<String, String> {
    if Command::new("callgrind_control")
        .arg("--version")
        .output()
        .is_err()
    {
        return Err("--instructions needs valgrind (callgrind_control was not found)".into());
    }
    if let Some(profiles) = &options.profiles {
        std::fs::create_dir_all(profiles)
            .map_err(|e| format!("--profiles {}: {e}", profiles.display()))?;
    }
    // Where each dump is kept, if it is: `<backend>-<endpoint>.callgrind`.
    let keep = |name: &str| {
        options.profiles.as_ref().map(|dir| {
            dir.join(format!(
                "{}.callgrind",
                file_name(&format!("{backend} {name}"))
            ))
        })
    };
    // The run's files (the configuration, the scripts, the dumps) share one directory.
    let dir = config
        .parent()
        .ok_or("the configuration has no directory")?;
    let duration = Duration::from_secs(options.seconds);
    let mut ceilings: HashMap<&'static str, u64> = HashMap::new();
    let mut text = format!(
        "\n### {backend}\n\n| endpoint | instructions a request | ceiling | its instructions | × ceiling |\n| --- | ---: | --- | ---: | ---: |\n"
    );
    for pair in options.pairs() {
        eprintln!("bench: {backend}: {} (callgrind)", pair.tenantry.name);
        let ours = count(
            dir,
            seeded,
            &pair.tenantry,
            duration,
            runtime,
            "/readyz",
            keep(pair.tenantry.name).as_deref(),
            |out| spawn_tenantry(binaries, config, database, None, Some(out)),
        )?;
        let ceiling = match ceilings.get(pair.ceiling.name) {
            Some(&known) => known,
            None => {
                eprintln!("bench: {backend}: {} (callgrind)", pair.ceiling.name);
                let counted = count(
                    dir,
                    seeded,
                    &pair.ceiling,
                    duration,
                    runtime,
                    "/static",
                    keep(pair.ceiling.name).as_deref(),
                    |out| spawn_baseline(binaries, dir, database, Some(out)),
                )?;
                ceilings.insert(pair.ceiling.name, counted);
                counted
            }
        };
        text.push_str(&format!(
            "| `{}` | {} | {} | {} | {:.2}× |\n",
            pair.tenantry.name,
            thousands(ours),
            pair.ceiling.name,
            thousands(ceiling),
            ours as f64 / ceiling.max(1) as f64
        ));
    }
    Ok(text)
}

/// Starts a server with `spawn` under callgrind (dumping to the path it is given), waits
/// until `ready` (a path) answers, loads `scenario` on it, and answers the instructions
/// per request; with `keep`, the dump is copied there.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one thing a run differs by"
)]
fn count(
    dir: &Path,
    seeded: &Seeded,
    scenario: &Scenario,
    duration: Duration,
    runtime: &tokio::runtime::Runtime,
    ready: &str,
    keep: Option<&Path>,
    spawn: impl FnOnce(&Path) -> Result<(super::Server, String), String>,
) -> Result<u64, String> {
    let out = dir.join("callgrind.out");
    let dumped = dir.join("callgrind.out.1");
    for file in [&out, &dumped] {
        let _ = std::fs::remove_file(file);
    }
    let (server, base) = spawn(&out)?;
    let client = reqwest::Client::new();
    runtime
        .block_on(wait_ready_within(
            &client,
            &format!("{base}{ready}"),
            READY_WITHIN,
        ))
        .map_err(|e| server.explain(e))?;
    let script = wrk_script(dir, &base, seeded, scenario, 1)?;
    run_wrk(&script, &base, 1, CONNECTIONS, WARM_UP)?;
    callgrind_control("-z", server.id())?;
    let report = run_wrk(&script, &base, 1, CONNECTIONS, duration)?;
    callgrind_control("-d", server.id())?;
    drop(server);
    let (requests, errors, _, _) = parse_wrk(&report)?;
    if errors > 0 || requests == 0 {
        return Err(format!(
            "{}: {errors} of {requests} requests failed under callgrind",
            scenario.name
        ));
    }
    let counts =
        std::fs::read_to_string(&dumped).map_err(|e| format!("{}: {e}", dumped.display()))?;
    if let Some(keep) = keep {
        std::fs::write(keep, &counts).map_err(|e| format!("{}: {e}", keep.display()))?;
    }
    Ok(
        total_instructions(&counts).ok_or_else(|| format!("no totals in {}", dumped.display()))?
            / requests,
    )
}

/// A name fit for a file: lower-case letters and digits, a dash for each run of anything
/// else (`SQLite GET /v1/organizations/{id}` → `sqlite-get-v1-organizations-id`).
fn file_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// `n` with a comma between each group of three digits.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Sends `command` (`-z`: zero the counters; `-d`: dump them) to the callgrind process
/// `pid`, waiting until it is done.
fn callgrind_control(command: &str, pid: u32) -> Result<(), String> {
    let output = Command::new("callgrind_control")
        .arg(command)
        .arg(pid.to_string())
        .output()
        .map_err(|e| format!("callgrind_control: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "callgrind_control {command} {pid}: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The instructions a callgrind dump counted in all (its `totals:` line, or `summary:`).
fn total_instructions(dump: &str) -> Option<u64> {
    dump.lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_a_dump() {
        let dump = "version: 1\ncreator: callgrind-3.19.0\ncmd: tenantry serve\nevents: Ir\nfn=main\n0 5\ntotals: 123456789\n";
        assert_eq!(total_instructions(dump), Some(123_456_789));
        assert_eq!(total_instructions("summary: 42\n"), Some(42));
        assert_eq!(total_instructions("events: Ir\n"), None);
    }

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(550_204), "550,204");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn dumps_are_named_after_their_endpoint() {
        assert_eq!(
            file_name("SQLite GET /v1/organizations/{id} (organization key)"),
            "sqlite-get-v1-organizations-id-organization-key"
        );
        assert_eq!(file_name("PostgreSQL raw read"), "postgresql-raw-read");
        assert_eq!(file_name("--"), "");
    }
}
