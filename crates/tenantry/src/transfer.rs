//! `tenantry export` to a file: written whole or not at all.

use std::path::{Path, PathBuf};

use tenantry_storage::{Store, TransferError, TransferSummary};

/// Exports to a new file at `path`. The rows go to a file beside it first, readable by its
/// owner only (an export holds key hashes and webhook secrets), renamed to `path` once
/// complete; a failed export leaves no file behind.
pub async fn export_to_file(store: &Store, path: &Path) -> Result<TransferSummary, TransferError> {
    if path.exists() {
        return Err(TransferError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists already; name a new file", path.display()),
        )));
    }
    let partial = partial_path(path);
    let file = create_private(&partial).map_err(|error| {
        TransferError::Io(std::io::Error::new(
            error.kind(),
            format!("cannot write {}: {error}", partial.display()),
        ))
    })?;
    let result = async {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let summary = store.export(&mut out).await?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&partial, path)?;
        Ok(summary)
    }
    .await;
    if result.is_err() {
        std::fs::remove_file(&partial).ok();
    }
    result
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    path.with_file_name(name)
}

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}
