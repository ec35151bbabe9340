//! Export and import: every stored record as JSON Lines, to move a database to another
//! (SQLite to PostgreSQL) or keep a copy that any supported database can load.
//!
//! An export is a header line, then one line per row, table by table in the order of
//! their foreign keys and each table by its key, then an end line with the row count:
//!
//! ```text
//! {"format":"tenantry-export","version":1,"schema":"m20261125_000005_create_webhooks"}
//! {"table":"users","row":{"id":1,"public_id":"…","email":"…",…}}
//! …
//! {"end":{"rows":123456}}
//! ```
//!
//! Rows are the tables' own, keys included, so an import rebuilds the database exactly
//! (key hashes, webhook secrets and all: keep exports as safe as the database). Values are
//! spelled one way whatever the database ([`wire`]), so a database exported, imported
//! elsewhere and exported again gives the same bytes. An export reads one snapshot; both
//! directions stream, holding a page of rows at a time. An import goes into an empty
//! database of the same schema, in one transaction: a file that is not an export, is cut
//! short, or does not load leaves the database as it was.

pub(crate) mod wire;

use std::io::{BufRead, Write};

use sea_orm::{
    AccessMode, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, IsolationLevel, Iterable, ModelTrait, PrimaryKeyToColumn,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::entities::{
    api_keys, events, idempotency_keys, memberships, organizations, usage_entries, users,
    webhook_deliveries, webhook_endpoints, workspaces,
};
use crate::{Store, StoreError};

/// What the first line of an export says it is.
const FORMAT: &str = "tenantry-export";
/// The version of the line format (the rows' shape follows the schema, named apart).
const VERSION: u32 = 1;
/// Rows read per query when exporting.
const EXPORT_PAGE: u64 = 1_000;
/// Rows per insert when importing (41 columns × 500 stays under both databases' limits on
/// bound values), and the most bytes of rows held before they are written.
const IMPORT_BATCH: usize = 500;
const IMPORT_BATCH_BYTES: usize = 8 << 20;

/// How many rows of each table went out or came in, in the export's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferSummary {
    pub tables: Vec<(&'static str, u64)>,
}

impl TransferSummary {
    /// Every row, all tables together.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }

    fn count(&mut self, table: &'static str, rows: u64) {
        match self.tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, n)) => *n += rows,
            None => self.tables.push((table, rows)),
        }
    }
}

impl std::fmt::Display for TransferSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows", self.rows())?;
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|(table, n)| format!("{table} {n}"))
            .collect();
        if !tables.is_empty() {
            write!(f, " ({})", tables.join(", "))?;
        }
        Ok(())
    }
}

/// Why an export or import stopped. Nothing was imported when an import fails.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("this is not a Tenantry export: its first line is not a Tenantry export header")]
    NotAnExport,
    #[error("the export is in format version {0}, which this version of Tenantry does not read")]
    Version(u32),
    #[error(
        "the export was made at schema {export}, this database is at {here}: export and import with the same version of Tenantry"
    )]
    Schema { export: String, here: String },
    #[error("the database has pending migrations: apply them first (tenantry migrate)")]
    Pending,
    #[error(
        "the database is not empty ({0} has rows): import into a new database, before its first tenantry serve"
    )]
    NotEmpty(&'static str),
    #[error("line {line}: {cause}")]
    Line { line: u64, cause: String },
    #[error(
        "the export is cut short: it ends after {rows} rows without its end line; nothing was imported"
    )]
    Truncated { rows: u64 },
    #[error("lines {first}-{last} ({table}) could not be stored: {cause}")]
    Rows {
        table: String,
        first: u64,
        last: u64,
        cause: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    schema: String,
}

#[derive(Serialize)]
struct RowLine<'a, M> {
    table: &'a str,
    row: &'a M,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    rows: u64,
}

#[derive(Serialize)]
struct EndLine {
    end: End,
}

/// A line after the header, as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    table: Option<String>,
    #[serde(borrow)]
    row: Option<&'a serde_json::value::RawValue>,
    end: Option<End>,
}

/// Calls `$each!(module)` for every exported table, parents before children.
macro_rules! for_each_table {
    ($each:ident) => {
        $each!(users);
        $each!(organizations);
        $each!(memberships);
        $each!(api_keys);
        $each!(workspaces);
        $each!(usage_entries);
        $each!(idempotency_keys);
        $each!(events);
        $each!(webhook_endpoints);
        $each!(webhook_deliveries);
    };
}

impl Store {
    /// Writes every row to `out` as JSON Lines, from one consistent snapshot (the server
    /// may keep serving meanwhile).
    pub async fn export(&self, out: &mut impl Write) -> Result<TransferSummary, TransferError> {
        let state = self.migration_state().await?;
        if !state.pending.is_empty() {
            return Err(TransferError::Pending);
        }
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            schema: state.applied.last().cloned().unwrap_or_default(),
        };
        write_line(out, &header)?;
        let snapshot = match self.db().get_database_backend() {
            DbBackend::Postgres => {
                self.db()
                    .begin_with_config(
                        Some(IsolationLevel::RepeatableRead),
                        Some(AccessMode::ReadOnly),
                    )
                    .await
            }
            // A read transaction in WAL mode reads one snapshot and blocks no writer.
            _ => self.db().begin().await,
        }
        .map_err(StoreError::from)?;
        let mut summary = TransferSummary::default();
        macro_rules! export {
            ($table:ident) => {
                export_table::<$table::Entity>(&snapshot, out, &mut summary).await?;
            };
        }
        for_each_table!(export);
        snapshot.commit().await.map_err(StoreError::from)?;
        write_line(
            out,
            &EndLine {
                end: End {
                    rows: summary.rows(),
                },
            },
        )?;
        out.flush()?;
        Ok(summary)
    }

    /// Reads an export from `input` into this database, which must be empty and at the
    /// export's schema, in one transaction.
    pub async fn import(&self, input: impl BufRead) -> Result<TransferSummary, TransferError> {
        let mut lines = input.lines();
        let header: Header = match lines.next().transpose()? {
            Some(line) => serde_json::from_str(&line).map_err(|_| TransferError::NotAnExport)?,
            None => return Err(TransferError::NotAnExport),
        };
        if header.format != FORMAT {
            return Err(TransferError::NotAnExport);
        }
        if header.version != VERSION {
            return Err(TransferError::Version(header.version));
        }
        let state = self.migration_state().await?;
        if !state.pending.is_empty() {
            return Err(TransferError::Pending);
        }
        let here = state.applied.last().cloned().unwrap_or_default();
        if header.schema != here {
            return Err(TransferError::Schema {
                export: header.schema,
                here,
            });
        }

        let (transaction, _turn) = self.begin_write().await?;
        macro_rules! must_be_empty {
            ($table:ident) => {
                if has_rows::<$table::Entity>(&transaction).await? {
                    return Err(TransferError::NotEmpty(table_name::<$table::Entity>()));
                }
            };
        }
        for_each_table!(must_be_empty);

        let mut batch = Batch::default();
        let mut summary = TransferSummary::default();
        let mut number = 1;
        let mut end = None;
        for line in lines {
            let line = line?;
            number += 1;
            if line.trim().is_empty() {
                continue;
            }
            let invalid = |cause: String| TransferError::Line {
                line: number,
                cause,
            };
            if end.is_some() {
                return Err(invalid("a line after the end line".into()));
            }
            let parsed: Line<'_> = serde_json::from_str(&line)
                .map_err(|e| invalid(format!("not an export line: {e}")))?;
            match parsed {
                Line {
                    table: Some(table),
                    row: Some(row),
                    end: None,
                } => {
                    if batch.table.as_deref() != Some(table.as_str())
                        || batch.rows.len() >= IMPORT_BATCH
                        || batch.bytes >= IMPORT_BATCH_BYTES
                    {
                        batch.flush(&transaction, &mut summary).await?;
                        batch.table = Some(table);
                        batch.first = number;
                    }
                    batch.bytes += row.get().len();
                    batch.rows.push((number, row.get().to_owned()));
                }
                Line {
                    table: None,
                    row: None,
                    end: Some(announced),
                } => end = Some(announced.rows),
                _ => {
                    return Err(invalid(
                        "expected {\"table\": …, \"row\": {…}} or {\"end\": {…}}".into(),
                    ));
                }
            }
        }
        batch.flush(&transaction, &mut summary).await?;
        match end {
            None => {
                return Err(TransferError::Truncated {
                    rows: summary.rows(),
                });
            }
            Some(rows) if rows != summary.rows() => {
                return Err(TransferError::Line {
                    line: number,
                    cause: format!(
                        "the end line counts {rows} rows, the file holds {}",
                        summary.rows()
                    ),
                });
            }
            Some(_) => {}
        }
        if transaction.get_database_backend() == DbBackend::Postgres {
            macro_rules! continue_sequence {
                ($table:ident) => {
                    continue_sequence(&transaction, table_name::<$table::Entity>()).await?;
                };
            }
            for_each_table!(continue_sequence);
        }
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(summary)
    }
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> Result<(), TransferError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn table_name<E: EntityTrait>() -> &'static str {
    E::default().table_name()
}

/// The table's integer key column.
fn key<E: EntityTrait>() -> Result<E::Column, StoreError> {
    E::PrimaryKey::iter()
        .next()
        .map(PrimaryKeyToColumn::into_column)
        .ok_or_else(|| StoreError::Corrupt(format!("{} has no key", table_name::<E>())))
}

async fn export_table<E>(
    snapshot: &DatabaseTransaction,
    out: &mut impl Write,
    summary: &mut TransferSummary,
) -> Result<(), TransferError>
where
    E: EntityTrait,
    E::Model: Serialize,
{
    let table = table_name::<E>();
    let id = key::<E>()?;
    let mut after: Option<i64> = None;
    summary.count(table, 0);
    loop {
        let mut page = E::find().order_by_asc(id).limit(EXPORT_PAGE);
        if let Some(after) = after {
            page = page.filter(id.gt(after));
        }
        let rows = page.all(snapshot).await.map_err(StoreError::from)?;
        for row in &rows {
            write_line(out, &RowLine { table, row })?;
        }
        summary.count(table, rows.len() as u64);
        match rows.last().map(|row| row.get(id)) {
            Some(sea_orm::Value::BigInt(Some(last))) if rows.len() as u64 == EXPORT_PAGE => {
                after = Some(last);
            }
            Some(sea_orm::Value::BigInt(Some(_))) | None => return Ok(()),
            Some(other) => {
                return Err(StoreError::Corrupt(format!("{table} has a key {other:?}")).into());
            }
        }
    }
}

async fn has_rows<E: EntityTrait>(db: &impl ConnectionTrait) -> Result<bool, StoreError> {
    let id = key::<E>()?;
    let any: Option<i64> = E::find()
        .select_only()
        .column(id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(any.is_some())
}

/// Sets a PostgreSQL table's id sequence past the ids imported, so that the next row made
/// gets a new one.
async fn continue_sequence(db: &impl ConnectionTrait, table: &str) -> Result<(), StoreError> {
    db.execute_unprepared(&format!(
        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
    ))
    .await?;
    Ok(())
}

/// Rows of one table waiting to be inserted, with their line numbers.
#[derive(Default)]
struct Batch {
    table: Option<String>,
    first: u64,
    rows: Vec<(u64, String)>,
    bytes: usize,
}

impl Batch {
    async fn flush(
        &mut self,
        db: &DatabaseTransaction,
        summary: &mut TransferSummary,
    ) -> Result<(), TransferError> {
        let Some(table) = self.table.take() else {
            return Ok(());
        };
        let rows = std::mem::take(&mut self.rows);
        self.bytes = 0;
        let last = rows.last().map_or(self.first, |(line, _)| *line);
        let failed = |cause: String| TransferError::Rows {
            table: table.clone(),
            first: self.first,
            last,
            cause,
        };
        macro_rules! insert {
            ($table:ident) => {
                if table == table_name::<$table::Entity>() {
                    let count = insert_rows::<$table::Entity, _>(db, rows, failed).await?;
                    summary.count(table_name::<$table::Entity>(), count);
                    return Ok(());
                }
            };
        }
        for_each_table!(insert);
        Err(TransferError::Line {
            line: self.first,
            cause: format!("no table is named {table:?}"),
        })
    }
}

async fn insert_rows<E, F>(
    db: &DatabaseTransaction,
    rows: Vec<(u64, String)>,
    failed: F,
) -> Result<u64, TransferError>
where
    E: EntityTrait,
    E::Model: DeserializeOwned + IntoActiveModel<E::ActiveModel>,
    F: Fn(String) -> TransferError,
{
    let mut models = Vec::with_capacity(rows.len());
    for (line, row) in rows {
        let model: E::Model = serde_json::from_str(&row).map_err(|e| TransferError::Line {
            line,
            cause: format!("not a row of {}: {e}", table_name::<E>()),
        })?;
        models.push(model.into_active_model().reset_all());
    }
    let count = models.len() as u64;
    if count > 0 {
        E::insert_many(models)
            .exec_without_returning(db)
            .await
            .map_err(|e| failed(crate::db_cause(&e)))?;
    }
    Ok(count)
}
