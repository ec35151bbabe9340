//! The domain crate stays pure: nothing in its dependency tree is a web framework, a
//! database driver, an ORM, an async runtime or an OpenAPI generator, so another team can
//! use it alone; and the client builds none of the server.

use std::collections::{BTreeMap, BTreeSet};

const FORBIDDEN: [&str; 8] = [
    "actix-web",
    "actix-rt",
    "sea-orm",
    "sea-query",
    "sqlx",
    "tokio",
    "utoipa",
    "hyper",
];

/// Package name to the names of its dependencies, as `Cargo.lock` records them. The lock
/// file lists every dependency that any feature set of the workspace enables, so the tree
/// found here contains the real one.
fn lock_graph() -> BTreeMap<String, Vec<String>> {
    // The directory cargo gives the run, not the one compiled in: a build reused from another
    // checkout sharing the target directory would read that checkout's file.
    let path = std::path::Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("../Cargo.lock");
    let text = std::fs::read_to_string(path).expect("Cargo.lock is readable");
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_dependencies = false;
    for line in text.lines().map(str::trim) {
        if line == "[[package]]" {
            current = None;
            in_dependencies = false;
        } else if let Some(name) = line.strip_prefix("name = ") {
            let name = name.trim_matches('"').to_owned();
            graph.entry(name.clone()).or_default();
            current = Some(name);
        } else if line.starts_with("dependencies = [") {
            in_dependencies = !line.ends_with(']');
        } else if in_dependencies && line == "]" {
            in_dependencies = false;
        } else if in_dependencies && let Some(package) = &current {
            let dependency = line.trim_matches(|c| c == '"' || c == ',');
            let name = dependency.split(' ').next().unwrap_or_default().to_owned();
            graph
                .get_mut(package)
                .expect("the package was recorded")
                .push(name);
        }
    }
    graph
}

/// Every package in the tree of `root`, `root` included.
fn tree(root: &str) -> BTreeSet<String> {
    let graph = lock_graph();
    assert!(graph.contains_key(root), "the lock file lists {root}");
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(package) = stack.pop() {
        if seen.insert(package.clone()) {
            stack.extend(graph.get(&package).into_iter().flatten().cloned());
        }
    }
    seen
}

/// A program that only calls Tenantry builds none of the server: no web framework, no
/// database, none of Tenantry's own crates.
#[test]
fn the_client_depends_on_no_server_crate() {
    let seen = tree("tenantry-client");
    let found: Vec<_> = seen
        .iter()
        .filter(|name| {
            ["actix-web", "sea-orm", "sqlx", "utoipa", "redis"].contains(&name.as_str())
                || (name.starts_with("tenantry") && name.as_str() != "tenantry-client")
        })
        .collect();
    assert!(
        found.is_empty(),
        "tenantry-client's tree contains {found:?}"
    );
    assert!(
        seen.contains("reqwest"),
        "the walk found the client's real dependencies"
    );
}

#[test]
fn the_domain_crate_depends_on_no_web_database_async_or_openapi_crate() {
    let seen = tree("tenantry-domain");
    let found: Vec<_> = seen
        .iter()
        .filter(|name| {
            FORBIDDEN
                .iter()
                .any(|f| name.as_str() == *f || name.starts_with(&format!("{f}-")))
        })
        .collect();
    assert!(
        found.is_empty(),
        "tenantry-domain's tree contains {found:?}"
    );
    assert!(
        seen.len() > 5,
        "the walk found the domain's real dependencies: {seen:?}"
    );
}
