//! Tenantry's storage: SeaORM entities and one [`Store`] that takes and returns domain types.
//!
//! Database keys (the integer primary keys) never leave this crate: every method speaks in
//! public ids.
//!
//! A row named by a unique key is read with `.all()`, never `.one()`: `.one()` adds a
//! `LIMIT ?`, and SQLite plans with the value bound to a `LIMIT`, so it parses such a
//! statement anew on every run (most of the database's time on a read path, measured).
//! For the same reason a page's LIMIT is written into its SQL ([`all_limited`]).

mod api_keys;
mod entities;
mod error;
mod idempotency;
mod members;
mod organizations;

pub use api_keys::KeyFilter;
pub use organizations::Created;
mod usage;
mod users;
mod workspaces;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, FromQueryResult, QueryTrait, SelectModel, SelectorRaw, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use tenantry_migrations::{Migrator, MigratorTrait};
use uuid::Uuid;

pub use error::StoreError;
pub use idempotency::{IdempotencyRecord, Replay, StoredResponse};

/// How the store connects to its database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path?mode=rwc` or `postgres://...`.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    /// How long SQLite waits for a lock before giving up.
    pub busy_timeout: Duration,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(2),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A page request for keyset paging: items after `after` (a public id), at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: u64,
}

/// One page of items, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items read in order; the extra item only tells
    /// that a next page exists.
    pub(crate) fn from_overfetch(
        mut items: Vec<T>,
        limit: u64,
        id_of: impl Fn(&T) -> Uuid,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(id_of)
        } else {
            None
        };
        Self { items, next }
    }
}

/// A pooled connection idle this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// A statement that takes longer is logged as a warning.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// The one way into Tenantry's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects, configures every SQLite connection (WAL, `synchronous=NORMAL`, a busy
    /// timeout, foreign keys on) and applies pending migrations.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let mut connect = ConnectOptions::new(options.url.clone());
        connect
            .max_connections(options.max_connections)
            .min_connections(1)
            .connect_timeout(options.connect_timeout)
            .acquire_timeout(options.acquire_timeout)
            // A connection that has sat idle may have been dropped by the server: ping it
            // before use. One in steady use is not pinged, which would double every round
            // trip; if it broke anyway, the statement fails and the request is answered 503.
            .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
            // Every statement at debug (target `sqlx::query`), so a filter can show them;
            // slow ones as warnings whatever the filter.
            .sqlx_logging(true)
            .sqlx_logging_level(log::LevelFilter::Debug)
            .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, SLOW_STATEMENT);
        let busy_timeout = options.busy_timeout;
        connect.map_sqlx_sqlite_opts(move |sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
        let db = Database::connect(connect).await?;
        migrate(&db).await?;
        Ok(Self { db })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await.map_err(StoreError::from)
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout), so a transaction never fails
    /// halfway when it upgrades from reading to writing.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }
}

/// Applies pending migrations. On PostgreSQL several instances may start at once: a
/// transaction-scoped advisory lock lets one migrate while the others wait, then find
/// nothing left to do. (SQLite serves one machine, and its file lock serializes writers.)
async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        Migrator::up(db, None).await?;
        return Ok(());
    }
    /// An arbitrary key naming "Tenantry's migrations" among advisory locks.
    const MIGRATION_LOCK: i64 = 0x7465_6e61_6e74;
    let lock = db.begin().await?;
    lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    let result = Migrator::up(db, None).await;
    lock.commit().await?;
    Ok(result?)
}

/// Reads up to `limit` rows of `select` as `M`, the LIMIT written into the SQL rather than
/// bound to it, so that SQLite keeps the prepared statement (see the crate's docs).
/// `select` must not have a LIMIT of its own.
pub(crate) async fn all_limited<M: FromQueryResult>(
    db: &impl ConnectionTrait,
    select: &impl QueryTrait,
    limit: u64,
) -> Result<Vec<M>, DbErr> {
    let mut statement = select.build(db.get_database_backend());
    // LIMIT is the last clause of a SELECT; `limit` is a number, not text from a request.
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    SelectorRaw::<SelectModel<M>>::from_statement(statement)
        .all(db)
        .await
}

/// Runs a statement that must affect exactly one row.
pub(crate) fn exactly_one(affected: u64) -> Result<(), StoreError> {
    match affected {
        1 => Ok(()),
        0 => Err(StoreError::NotFound),
        n => Err(StoreError::Corrupt(format!(
            "{n} rows matched a unique key"
        ))),
    }
}
