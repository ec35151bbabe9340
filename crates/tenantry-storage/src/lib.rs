//! Tenantry's storage: SeaORM entities and one [`Store`] that takes and returns domain types.
//!
//! Database keys (the integer primary keys) never leave this crate: every method speaks in
//! public ids.
//!
//! A row named by a unique key is read with `.all()`, never `.one()`: `.one()` adds a
//! `LIMIT ?`, and SQLite plans with the value bound to a `LIMIT`, so it parses such a
//! statement anew on every run (most of the database's time on a read path, measured).
//! For the same reason a page's LIMIT is written into its SQL (`limited`).

mod api_keys;
mod entities;
mod error;
mod events;
mod group_commit;
mod idempotency;
mod members;
mod organizations;
mod own;
mod pending;
mod reusable;
mod revocations;
mod rows;
pub mod trace;
mod transfer;

pub use api_keys::KeyFilter;
pub use organizations::Created;
mod usage;
mod users;
mod webhooks;
mod workspaces;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, QueryResult, QueryTrait, RuntimeErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tenantry_migrations::{Migrator, MigratorTrait};
use uuid::Uuid;

pub use error::StoreError;
pub use events::{ActorFilter, EventFilter};
pub use idempotency::{IdempotencyRecord, Replay, StoredResponse};
pub use revocations::{Heard, Revocation, RevocationListener};
pub use transfer::{TransferError, TransferSummary};
pub use usage::{EntryFilter, NewUsage, Recorded};
pub use webhooks::{ClaimedDelivery, DeliveryOutcome, WebhookEndpointChanges};

/// The pool's size on SQLite unless set otherwise. Each SQLite connection is a thread of
/// its own with its own page cache (which a write by another connection empties) and
/// prepared statements: on two cores, 16 of them spent a third more CPU on a page of 100
/// organizations than 8 did and held about 30 MB more, while single-row reads and writes
/// were alike (BENCHMARKS.md, 2026-12-05 (evening)). SQLite writes one at a time whatever
/// the pool's size; more connections only serve more reads at once, which a machine with
/// more cores may want.
pub const SQLITE_POOL_SIZE: u32 = 8;
/// The pool's size on PostgreSQL unless set otherwise.
pub const POSTGRES_POOL_SIZE: u32 = 16;

/// How the store connects to its database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path?mode=rwc` or `postgres://...`.
    pub url: String,
    /// The pool's size: [`SQLITE_POOL_SIZE`] or [`POSTGRES_POOL_SIZE`] by the URL, unless
    /// set.
    pub max_connections: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    /// How long SQLite waits for a lock before giving up.
    pub busy_timeout: Duration,
    /// On SQLite, how many bytes of the database file are read through a memory map that
    /// every connection shares (`PRAGMA mmap_size`) rather than copied into each
    /// connection's own page cache; 0, the default, maps nothing. The mapped pages are
    /// the kernel's file cache, but they count in the process's resident memory.
    pub sqlite_mmap_size: u64,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let max_connections = if url.starts_with("sqlite:") {
            SQLITE_POOL_SIZE
        } else {
            POSTGRES_POOL_SIZE
        };
        Self {
            url,
            max_connections,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(2),
            busy_timeout: Duration::from_secs(5),
            sqlite_mmap_size: 0,
        }
    }
}

/// Which migrations a database has applied, and which it has not, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationState {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
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

/// The current time, to the microsecond (the precision every supported database keeps), so
/// that what a write answers equals what a later read shows, on any database.
pub fn now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// A connection (pooled or the store's own) idle this long is pinged before it is used.
pub(crate) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// A statement that takes longer is logged as a warning.
pub(crate) const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// The one way into Tenantry's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// On SQLite, whose writers take turns on one lock: transactions of this process queue
    /// here for it instead of sleeping in SQLite's busy handler (which wakes them in steps
    /// of up to 100 ms, long after the lock is free). A transaction holds the lock across
    /// several round trips; a single statement holds it briefly and does not queue.
    /// The turn holds the connection the one-statement writes run on (see [`own`]).
    writes: std::sync::Arc<tokio::sync::Mutex<own::Slot>>,
    /// On SQLite, the one-statement writes waiting for the turn, to be committed together
    /// (see [`group_commit`]).
    queue: std::sync::Arc<std::sync::Mutex<group_commit::Queue>>,
    /// The store's own connections for the hot statements (see [`own`]).
    own: std::sync::Arc<own::Own>,
    /// How long a writer waits for its turn (SQLite's busy timeout) before it gives up.
    turn_timeout: Duration,
    /// The most connections the pool opens.
    max_connections: u32,
}

/// This process's turn to write (on SQLite; nothing to wait for on PostgreSQL), held until
/// the write is committed or rolled back.
pub(crate) type WriteTurn<'a> = Option<tokio::sync::MutexGuard<'a, own::Slot>>;

impl Store {
    /// Connects, configures every SQLite connection (WAL, `synchronous=NORMAL`, a busy
    /// timeout, foreign keys on) and applies pending migrations.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        Self::open(options, true).await
    }

    /// Connects as [`Store::connect`] does, but applies nothing and writes nothing: for
    /// looking at a database (`tenantry check`, `tenantry migrate --status`) or copying it.
    pub async fn connect_without_migrating(options: &StoreOptions) -> Result<Self, StoreError> {
        Self::open(options, false).await
    }

    async fn open(options: &StoreOptions, migrating: bool) -> Result<Self, StoreError> {
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
        let configured = options.clone();
        connect.map_sqlx_sqlite_opts(move |sqlite| own::configure(sqlite, &configured));
        let target = describe_target(&options.url);
        let open_error = |cause: String| StoreError::Open {
            target: target.clone(),
            cause,
        };
        probe(options).await.map_err(open_error)?;
        let db = Database::connect(connect)
            .await
            .map_err(|e| open_error(db_cause(&e)))?;
        if migrating {
            migrate(&db).await.map_err(|e| match e {
                StoreError::Database(e) | StoreError::Unavailable(e) => open_error(db_cause(&e)),
                other => other,
            })?;
            check_writable(&db).await.map_err(|e| {
                open_error(format!(
                    "the database cannot be written ({}); check the file's owner and permissions, or the server's read-only mode",
                    db_cause(&e)
                ))
            })?;
        }
        let own = std::sync::Arc::new(
            own::Own::new(&options.url, options).map_err(|e| open_error(db_cause(&e)))?,
        );
        Ok(Self {
            db,
            own,
            writes: Default::default(),
            queue: Default::default(),
            turn_timeout: options.busy_timeout,
            max_connections: options.max_connections,
        })
    }

    /// The migrations this database has applied, and those it has not, oldest first.
    pub async fn migration_state(&self) -> Result<MigrationState, StoreError> {
        use tenantry_migrations::MigrationStatus;
        let migrations = Migrator::get_migration_with_status_read_only(&self.db).await?;
        let mut state = MigrationState::default();
        for migration in migrations {
            let name = migration.name().to_owned();
            match migration.status() {
                MigrationStatus::Applied => state.applied.push(name),
                MigrationStatus::Pending => state.pending.push(name),
            }
        }
        Ok(state)
    }

    /// Whether the database takes writes: a write that is rolled back.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        check_writable(&self.db).await.map_err(StoreError::from)
    }

    /// Copies a SQLite database, consistently, while it is in use (`VACUUM INTO`), to a
    /// new file at `path` (one that exists is refused).
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Err(StoreError::Conflict(
                "only a SQLite database is copied by tenantry backup; back PostgreSQL up with pg_dump".into(),
            ));
        }
        if path.exists() {
            return Err(StoreError::Conflict(format!(
                "{} exists already; name a new file",
                path.display()
            )));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Conflict("the path is not valid UTF-8".into()))?;
        self.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [target.into()],
            ))
            .await?;
        Ok(())
    }

    /// Deletes the rows of `E` whose `at` is before `before`, at most `batch` per statement
    /// so that no statement holds locks for long (each taking its turn to write); answers
    /// how many went. `id` is the table's integer key.
    pub(crate) async fn prune_before<E: sea_orm::EntityTrait>(
        &self,
        id: E::Column,
        at: E::Column,
        before: time::OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        use sea_orm::{ColumnTrait as _, QueryFilter as _, QuerySelect as _};
        let mut removed = 0;
        loop {
            let ids: Vec<i64> = E::find()
                .select_only()
                .column(id)
                .filter(at.lt(before))
                .limit(batch)
                .into_tuple()
                .all(self.db())
                .await?;
            if ids.is_empty() {
                return Ok(removed);
            }
            let count = ids.len() as u64;
            let _turn = self.write_turn().await?;
            let deleted = E::delete_many()
                .filter(id.is_in(ids))
                .exec(self.db())
                .await?;
            removed += deleted.rows_affected;
            if count < batch {
                return Ok(removed);
            }
        }
    }

    /// On SQLite, copies what the WAL holds into the database file as far as it can
    /// without waiting for anyone (`PRAGMA wal_checkpoint(PASSIVE)`), so that the next
    /// writer may start the WAL over; answers the WAL's frames and how many of them are now
    /// in the file. Run often, off the writes' path: else the write that takes the WAL past
    /// its bound checkpoints it, and every write waiting for its turn waits for that too.
    /// On PostgreSQL, nothing to do: `(0, 0)`.
    pub async fn checkpoint(&self) -> Result<(u64, u64), StoreError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Ok((0, 0));
        }
        let rows = self
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(PASSIVE)",
            ))
            .await?;
        let count = |at: usize| -> Result<u64, StoreError> {
            let row = rows
                .first()
                .ok_or_else(|| StoreError::Corrupt("a checkpoint without its counts".into()))?;
            Ok(u64::try_from(row.try_get_by_index::<i64>(at)?).unwrap_or(0))
        };
        Ok((count(1)?, count(2)?))
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

    /// The pool's open connections and how many of them are idle.
    pub fn pool_status(&self) -> Option<(u32, usize)> {
        // The getters panic on another backend: ask only the one this is.
        match self.db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                Some((pool.size(), pool.num_idle()))
            }
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                Some((pool.size(), pool.num_idle()))
            }
            _ => None,
        }
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    pub async fn close(self) -> Result<(), StoreError> {
        self.writes.lock().await.close().await;
        self.own.close().await;
        self.db.close().await.map_err(StoreError::from)
    }

    /// Runs one statement that writes on the store's own connections (see [`own`]): on
    /// SQLite the write turn's, committed together with others waiting for the turn (see
    /// [`group_commit`]); on PostgreSQL any. The outer error: no turn to write in time (the
    /// statement did not run); the inner: the statement's own answer.
    pub(crate) async fn write_one(
        &self,
        statement: sea_orm::Statement,
    ) -> Result<Result<Vec<QueryResult>, DbErr>, StoreError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Ok(self.own.query_all(statement).await);
        }
        group_commit::write(
            &self.queue,
            &self.writes,
            &self.own.write_options,
            self.turn_timeout,
            statement,
        )
        .await
    }

    /// Runs a read of a hot path on the store's own connections (see [`own`]).
    pub(crate) async fn read_all(
        &self,
        statement: sea_orm::Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        self.own.query_all(statement).await
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a transaction that will write, after this process's turn to write. On SQLite
    /// it takes the write lock at once (`BEGIN IMMEDIATE`, waiting up to the busy timeout
    /// for another process), so a transaction never fails halfway when it upgrades from
    /// reading to writing. Keep the turn until the transaction ends.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<(DatabaseTransaction, WriteTurn<'_>), StoreError> {
        let turn = self.write_turn().await?;
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok((self.db.begin_with_options(options).await?, turn))
    }

    /// Waits for this process's turn to write, on SQLite (see [`Store::writes`]).
    /// A writer that waits longer than the busy timeout gives up, as SQLite itself would:
    /// the database is too busy to answer (503).
    pub(crate) async fn write_turn(&self) -> Result<WriteTurn<'_>, StoreError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Ok(None);
        }
        match tokio::time::timeout(self.turn_timeout, self.writes.lock()).await {
            Ok(guard) => Ok(Some(guard)),
            Err(_) => Err(StoreError::Unavailable(DbErr::Custom(format!(
                "no turn to write within {} ms",
                self.turn_timeout.as_millis()
            )))),
        }
    }
}

/// What a database URL opens, for an error message: the SQLite file's path, or the
/// PostgreSQL server and database without user or password.
fn describe_target(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return match sqlite_path(url) {
            Some(path) => format!("the SQLite database {}", path.display()),
            None => "an in-memory SQLite database".to_owned(),
        };
    }
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let after_credentials = without_scheme
        .rsplit_once('@')
        .map_or(without_scheme, |(_, rest)| rest);
    let address = after_credentials.split('?').next().unwrap_or_default();
    format!("the PostgreSQL database at {address}")
}

/// The file a SQLite URL names (`None` for an in-memory database).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr as _;
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (!path.as_os_str().is_empty() && path != std::path::Path::new(":memory:"))
        .then(|| path.to_path_buf())
}

/// Opens one connection before the pool does, to say why the database cannot be opened:
/// a pool only reports that it timed out. For SQLite, also names a missing directory.
async fn probe(options: &StoreOptions) -> Result<(), String> {
    use sea_orm::sqlx::Connection as _;
    use std::str::FromStr as _;
    if options.url.starts_with("sqlite:") {
        if let Some(path) = sqlite_path(&options.url)
            && let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.is_dir()
        {
            return Err(format!("its directory {} does not exist", dir.display()));
        }
        return Ok(());
    }
    let connect = sea_orm::sqlx::postgres::PgConnectOptions::from_str(&options.url)
        .map_err(|e| format!("the URL is invalid: {}", sqlx_cause(&e)))?;
    match tokio::time::timeout(
        options.connect_timeout,
        sea_orm::sqlx::PgConnection::connect_with(&connect),
    )
    .await
    {
        Err(_) => Err(format!(
            "no answer within {} ms",
            options.connect_timeout.as_millis()
        )),
        Ok(Err(error)) => Err(sqlx_cause(&error)),
        Ok(Ok(connection)) => {
            connection.close().await.ok();
            Ok(())
        }
    }
}

/// The cause of a database error in one line, without the driver's wrapping.
fn db_cause(error: &DbErr) -> String {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_cause(e),
        other => other.to_string(),
    }
}

fn sqlx_cause(error: &sea_orm::sqlx::Error) -> String {
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        Sqlx::Database(db) => db.message().to_owned(),
        Sqlx::Io(io) => io.to_string(),
        Sqlx::Configuration(e) => e.to_string(),
        Sqlx::Tls(e) => format!("TLS: {e}"),
        other => other.to_string(),
    }
}

/// Writes and rolls back, so that a database this process may read but not write (a file
/// owned by another user, a read-only server) stops the start instead of failing every
/// write later.
async fn check_writable(db: &DatabaseConnection) -> Result<(), DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let transaction = db.begin_with_options(options).await?;
    transaction
        .execute_unprepared("CREATE TABLE tenantry_write_check (x INTEGER)")
        .await?;
    transaction.rollback().await
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

/// `select` with `LIMIT limit` written into its SQL rather than bound to it, so that SQLite
/// keeps the prepared statement (see the crate's docs). `select` must not have a LIMIT of
/// its own.
pub(crate) fn limited(
    backend: DbBackend,
    select: &impl QueryTrait,
    limit: u64,
) -> sea_orm::Statement {
    let mut statement = select.build(backend);
    // LIMIT is the last clause of a SELECT; `limit` is a number, not text from a request.
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    statement
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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait as _, Statement};
    use tenantry_domain::{OrganizationId, UserId};

    use super::{POSTGRES_POOL_SIZE, SQLITE_POOL_SIZE, Store, StoreOptions};

    /// The pool's size follows the database the URL names.
    #[test]
    fn the_pool_size_follows_the_database() {
        let sqlite = StoreOptions::new("sqlite://tenantry.db?mode=rwc");
        assert_eq!(sqlite.max_connections, SQLITE_POOL_SIZE);
        let postgres = StoreOptions::new("postgres://app@db:5432/tenantry");
        assert_eq!(postgres.max_connections, POSTGRES_POOL_SIZE);
        assert_ne!(SQLITE_POOL_SIZE, POSTGRES_POOL_SIZE);
    }

    /// A store on a new SQLite file `name` in `dir`, with `configure` applied to its
    /// options.
    async fn sqlite_store(
        dir: &std::path::Path,
        name: &str,
        configure: impl FnOnce(&mut StoreOptions),
    ) -> Store {
        let path = dir.join(format!("{name}.db"));
        let mut options = StoreOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
        options.max_connections = 1;
        configure(&mut options);
        Store::connect(&options).await.unwrap()
    }

    /// Asserts that SQLite runs `statement` (its values bound) through index searches and
    /// scalar subqueries only, but for the steps of its plan named in `also`: no table
    /// scanned, no temporary table built.
    async fn assert_searches_indexes(store: &Store, statement: Statement, also: &[&str]) {
        let plan = plan_of(store, statement).await;
        let indexed = |step: &String| {
            step.starts_with("SEARCH ")
                || step.starts_with("SCALAR SUBQUERY")
                || also.contains(&step.as_str())
        };
        assert!(!plan.is_empty());
        assert!(plan.iter().all(indexed), "{plan:?}");
    }

    /// SQLite's plan of `statement`, a step a line.
    async fn plan_of(store: &Store, statement: Statement) -> Vec<String> {
        let explain = Statement {
            sql: format!("EXPLAIN QUERY PLAN {}", statement.sql),
            ..statement
        };
        let rows = store.db().query_all_raw(explain).await.unwrap();
        rows.iter()
            .map(|row| row.try_get::<String>("", "detail").unwrap())
            .collect()
    }

    /// A checkpoint copies every frame of the WAL into the database file when no one
    /// reads or writes, and a writer no longer does it itself until the WAL holds 10,000
    /// pages.
    #[tokio::test]
    async fn a_checkpoint_empties_the_wal_that_writers_leave_growing() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "checkpoint", |_| {}).await;
        store
            .db()
            .execute_raw(sql("CREATE TABLE t (x BLOB NOT NULL)"))
            .await
            .unwrap();
        // About 1,500 pages: past SQLite's default bound, within this one.
        for _ in 0..1_500 {
            store
                .db()
                .execute_raw(sql("INSERT INTO t (x) VALUES (randomblob(3000))"))
                .await
                .unwrap();
        }
        let (frames, copied) = store.checkpoint().await.unwrap();
        assert!(frames > 1_500, "{frames} frames: a writer checkpointed");
        assert_eq!(copied, frames);
        store.close().await.unwrap();
    }

    /// The latest migrations undo and apply again on SQLite, where they change the schema
    /// (the last one adds an index; the one before rebuilds a trigger and the columns it
    /// reads).
    #[tokio::test]
    async fn the_latest_migrations_go_down_and_up_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "down", |_| {}).await;
        async fn columns(store: &Store) -> Vec<String> {
            let query = "SELECT name FROM pragma_table_info('organizations') \
                         WHERE name GLOB 'pending_event*'";
            names(store, query).await
        }
        async fn covering_index(store: &Store) -> bool {
            names(store, "SELECT name FROM pragma_index_list('memberships')")
                .await
                .iter()
                .any(|name| name == tenantry_migrations::SQLITE_MEMBERSHIPS_INDEX)
        }
        assert!(
            columns(&store)
                .await
                .contains(&"pending_event_id".to_owned())
        );
        assert!(covering_index(&store).await);
        <crate::Migrator as tenantry_migrations::MigratorTrait>::down(store.db(), Some(4))
            .await
            .unwrap();
        assert_eq!(columns(&store).await, ["pending_event"]);
        assert!(!covering_index(&store).await);
        <crate::Migrator as tenantry_migrations::MigratorTrait>::up(store.db(), None)
            .await
            .unwrap();
        assert_eq!(columns(&store).await.len(), 8);
        assert!(covering_index(&store).await);
        store.close().await.unwrap();
    }

    /// The `name` column of every row `query` answers on one of `store`'s connections.
    async fn names(store: &Store, query: &str) -> Vec<String> {
        let rows = store.db().query_all_raw(sql(query)).await.unwrap();
        rows.iter()
            .map(|row| row.try_get::<String>("", "name").unwrap())
            .collect()
    }

    /// `text` as a statement of SQLite's.
    fn sql(text: &str) -> Statement {
        Statement::from_string(DbBackend::Sqlite, text)
    }

    /// `INSERT INTO t (x) VALUES (x) RETURNING x`, as a one-statement write.
    fn insert_x(x: i64) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO t (x) VALUES (?) RETURNING x",
            [x.into()],
        )
    }

    /// A store with a table `t` of unique `x`, its WAL emptied.
    async fn store_of_unique_x(
        dir: &std::path::Path,
        configure: impl FnOnce(&mut StoreOptions),
    ) -> Store {
        let store = sqlite_store(dir, "together", configure).await;
        store
            .db()
            .execute_raw(sql("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)"))
            .await
            .unwrap();
        store
            .db()
            .execute_raw(sql("PRAGMA wal_checkpoint(TRUNCATE)"))
            .await
            .unwrap();
        store
    }

    async fn xs(store: &Store) -> Vec<i64> {
        let rows = store
            .db()
            .query_all_raw(sql("SELECT x FROM t ORDER BY x"))
            .await
            .unwrap();
        rows.iter()
            .map(|row| row.try_get_by_index(0).unwrap())
            .collect()
    }

    /// Runs `writes` while the write turn is held, so that they all queue for it, then
    /// lets them go: answers each one's answer.
    async fn queued_together(
        store: &Store,
        writes: Vec<Statement>,
    ) -> Vec<Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr>> {
        let count = writes.len();
        let turn = store.write_turn().await.unwrap();
        let tasks: Vec<_> = writes
            .into_iter()
            .map(|statement| {
                let store = store.clone();
                tokio::spawn(async move { store.write_one(statement).await.unwrap() })
            })
            .collect();
        while store.queue.lock().unwrap().waiting_count() < count {
            tokio::task::yield_now().await;
        }
        drop(turn);
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }

    /// Writes that wait for the turn together commit in one transaction: each is answered
    /// its own rows, and the WAL takes the pages they share once, where ten writes one after
    /// another take ten commits' worth.
    #[tokio::test]
    async fn writes_waiting_together_commit_together_and_each_is_answered_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of_unique_x(dir.path(), |_| {}).await;
        let answers = queued_together(&store, (0..10).map(insert_x).collect()).await;
        for (x, answer) in (0..10).zip(answers) {
            let rows = answer.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].try_get_by_index::<i64>(0).unwrap(), x);
        }
        assert_eq!(xs(&store).await, (0..10).collect::<Vec<_>>());
        let (together, _) = store.checkpoint().await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let one_by_one = store_of_unique_x(dir.path(), |_| {}).await;
        for x in 0..10 {
            one_by_one.write_one(insert_x(x)).await.unwrap().unwrap();
        }
        let (apart, _) = one_by_one.checkpoint().await.unwrap();
        assert!(apart >= 10, "{apart} frames for ten commits");
        assert!(together < 5, "{together} frames for ten writes together");
        store.close().await.unwrap();
        one_by_one.close().await.unwrap();
    }

    /// More writes than one group takes wait together: each is answered its own rows, in
    /// however many groups the turn's holders take them.
    #[tokio::test]
    async fn more_writes_than_a_group_takes_are_each_answered() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of_unique_x(dir.path(), |_| {}).await;
        let count = 3 * crate::group_commit::MOST_TOGETHER as i64 + 1;
        let answers = queued_together(&store, (0..count).map(insert_x).collect()).await;
        for (x, answer) in (0..count).zip(answers) {
            let rows = answer.unwrap();
            assert_eq!(rows[0].try_get_by_index::<i64>(0).unwrap(), x);
        }
        assert_eq!(xs(&store).await, (0..count).collect::<Vec<_>>());
        store.close().await.unwrap();
    }

    /// A write of a group that fails (here a unique value taken) is answered its error,
    /// and the others of its group are committed all the same, each once.
    #[tokio::test]
    async fn a_failed_write_fails_alone_and_its_group_commits_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of_unique_x(dir.path(), |_| {}).await;
        let writes = [1, 2, 3, 2, 4].into_iter().map(insert_x).collect();
        let answers = queued_together(&store, writes).await;
        let taken: Vec<bool> = answers
            .iter()
            .map(|answer| match answer {
                Ok(rows) => {
                    assert_eq!(rows.len(), 1);
                    false
                }
                Err(error) => {
                    assert!(crate::StoreError::is_unique_violation(error), "{error}");
                    true
                }
            })
            .collect();
        assert_eq!(taken, [false, false, false, true, false]);
        assert_eq!(xs(&store).await, [1, 2, 3, 4]);
        // The turn's connection is left out of any transaction: the next write commits.
        store.write_one(insert_x(5)).await.unwrap().unwrap();
        let read = store.read_all(sql("SELECT count(*) FROM t")).await.unwrap();
        assert_eq!(read[0].try_get_by_index::<i64>(0).unwrap(), 5);
        store.close().await.unwrap();
    }

    /// A write that gets no turn within the busy timeout is answered that the database is
    /// unavailable, and never runs, even once the turn comes free.
    #[tokio::test]
    async fn a_write_that_gets_no_turn_in_time_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of_unique_x(dir.path(), |options| {
            options.busy_timeout = std::time::Duration::from_millis(100);
        })
        .await;
        let turn = store.write_turn().await.unwrap();
        let refused = store.write_one(insert_x(1)).await;
        assert!(
            matches!(refused, Err(crate::StoreError::Unavailable(_))),
            "{refused:?}"
        );
        drop(turn);
        store.write_one(insert_x(2)).await.unwrap().unwrap();
        assert_eq!(xs(&store).await, [2]);
        store.close().await.unwrap();
    }

    /// The webhook dispatcher's look on every poll reads the index of the undispatched
    /// events alone: its condition implies the partial index's.
    #[tokio::test]
    async fn the_dispatchers_look_reads_the_undispatched_events_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "dispatch", |_| {}).await;
        let look = crate::webhooks::earliest_undispatched().build(DbBackend::Sqlite);
        let plan = plan_of(&store, look).await;
        assert_eq!(
            plan,
            ["SCAN events USING COVERING INDEX events_undispatched"],
            "{plan:?}"
        );
        store.close().await.unwrap();
    }

    /// The read of an organization with its caller's role, and a page of its members, read
    /// their memberships from the index that holds every column of one, never from the
    /// membership rows.
    #[tokio::test]
    async fn memberships_are_read_from_an_index_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "memberships", |_| {}).await;
        let org = OrganizationId::generate();
        let index = tenantry_migrations::SQLITE_MEMBERSHIPS_INDEX;
        let read = crate::organizations::organization_read(
            DbBackend::Sqlite,
            org,
            Some(UserId::generate()),
        );
        let plan = plan_of(&store, read).await;
        let covered = format!(
            "SEARCH memberships USING COVERING INDEX {index} (organization_id=? AND user_id=?) \
             LEFT-JOIN"
        );
        assert!(plan.contains(&covered), "{plan:?}");
        for after in [None, Some(uuid::Uuid::now_v7())] {
            let page = crate::members::members_page(org, after).build(DbBackend::Sqlite);
            let plan = plan_of(&store, page).await;
            let covered =
                format!("SEARCH memberships USING COVERING INDEX {index} (organization_id=?)");
            assert!(plan.contains(&covered), "{plan:?}");
        }
        store.close().await.unwrap();
    }

    /// The statements of the hot paths find their rows through indexes and build no
    /// temporary table (as `IN (SELECT …)` made SQLite do on every request): the read
    /// every request about an organization begins with, with and without a caller, and a
    /// page of members, whose order by user id is the one sort allowed.
    #[tokio::test]
    async fn the_hot_statements_search_indexes_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "plans", |_| {}).await;
        let org = OrganizationId::generate();
        for user in [None, Some(UserId::generate())] {
            let read = crate::organizations::organization_read(DbBackend::Sqlite, org, user);
            assert_searches_indexes(&store, read, &[]).await;
        }
        for after in [None, Some(uuid::Uuid::now_v7())] {
            let page = crate::members::members_page(org, after).build(DbBackend::Sqlite);
            assert_searches_indexes(&store, page, &["USE TEMP B-TREE FOR ORDER BY"]).await;
        }
    }

    /// The rows `PRAGMA name` answers on one of `store`'s connections.
    async fn pragma(store: &Store, name: &str) -> Vec<sea_orm::QueryResult> {
        store
            .db()
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .unwrap()
    }

    /// The memory map named in the options is what each SQLite connection reads through,
    /// and none by default.
    #[tokio::test]
    async fn sqlite_connections_map_as_much_of_the_file_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        for (asked, name) in [(0, "plain"), (64 << 20, "mapped")] {
            let store = sqlite_store(dir.path(), name, |options| {
                options.max_connections = 2;
                options.sqlite_mmap_size = asked;
            })
            .await;
            let rows = pragma(&store, "mmap_size").await;
            assert_eq!(
                rows[0].try_get_by_index::<i64>(0).unwrap(),
                asked as i64,
                "{name}"
            );
            store.db().clone().close().await.unwrap();
        }
    }

    /// The store's own connections (its readers and the write turn's) are set up as the
    /// pool's are: WAL, `synchronous=NORMAL`, the busy timeout, foreign keys on and the
    /// memory map asked for.
    #[tokio::test]
    async fn the_stores_own_sqlite_connections_are_set_up_as_the_pools() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "own", |options| {
            options.sqlite_mmap_size = 16 << 20;
            options.busy_timeout = std::time::Duration::from_millis(4_321);
        })
        .await;
        let expected = [
            ("journal_mode", "wal".to_owned()),
            ("synchronous", "1".to_owned()),
            ("busy_timeout", "4321".to_owned()),
            ("foreign_keys", "1".to_owned()),
            ("mmap_size", (16 << 20).to_string()),
            ("wal_autocheckpoint", "10000".to_owned()),
        ];
        let value = |rows: Vec<sea_orm::QueryResult>| {
            let row = &rows[0];
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                .unwrap()
        };
        for (name, expected) in expected {
            let statement = || Statement::from_string(DbBackend::Sqlite, format!("PRAGMA {name}"));
            let pooled = value(store.db().query_all_raw(statement()).await.unwrap());
            let read = value(store.read_all(statement()).await.unwrap());
            let written = value(store.write_one(statement()).await.unwrap().unwrap());
            assert_eq!(
                [pooled, read, written],
                [expected.clone(), expected.clone(), expected],
                "{name}: pooled, read, written"
            );
        }
        // Only the write turn's connection keeps a larger page cache (`own.rs`).
        let statement = || Statement::from_string(DbBackend::Sqlite, "PRAGMA cache_size");
        let pooled = value(store.db().query_all_raw(statement()).await.unwrap());
        let read = value(store.read_all(statement()).await.unwrap());
        let written = value(store.write_one(statement()).await.unwrap().unwrap());
        assert_eq!(
            [pooled.as_str(), read.as_str(), written.as_str()],
            ["-2000", "-2000", "-16384"],
            "cache_size: pooled, read, written"
        );
        store.close().await.unwrap();
    }

    /// A read that keeps SQLite busy for a while: a count to `n`.
    fn count_to(n: u64) -> Statement {
        Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
                 SELECT count(*) FROM n"
            ),
        )
    }

    /// A read given up midway (its request went away) leaves its reader as it was: the
    /// reads after it answer, each with its own rows.
    #[tokio::test]
    async fn a_read_given_up_midway_leaves_its_reader_usable() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "abandoned", |options| {
            options.max_connections = 1;
        })
        .await;
        for round in 0..20_i64 {
            // A read long enough to be given up while it runs.
            let given_up = tokio::time::timeout(
                std::time::Duration::from_micros(200),
                store.read_all(count_to(1_000_000)),
            )
            .await;
            assert!(given_up.is_err(), "the long read outlasts its patience");
            let rows = store
                .read_all(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("SELECT {round}"),
                ))
                .await
                .unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].try_get_by_index::<i64>(0).unwrap(), round);
        }
        store.close().await.unwrap();
    }

    /// A statement that finds every own connection busy for longer than the acquire
    /// timeout fails as one that found no pooled connection does (a 503), rather than
    /// queueing without end.
    #[tokio::test]
    async fn a_read_that_waits_past_the_acquire_timeout_fails_as_the_pool_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "busy", |options| {
            options.max_connections = 1;
            options.acquire_timeout = std::time::Duration::from_millis(20);
        })
        .await;
        let busy = {
            let store = store.clone();
            tokio::spawn(async move { store.read_all(count_to(3_000_000)).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let waited = store
            .read_all(Statement::from_string(DbBackend::Sqlite, "SELECT 1"))
            .await
            .unwrap_err();
        assert!(crate::StoreError::from(waited).is_pool_timeout());
        let counted = busy.await.unwrap().unwrap();
        assert_eq!(counted[0].try_get_by_index::<i64>(0).unwrap(), 3_000_000);
        store.close().await.unwrap();
    }

    /// SQLite is built as `.cargo/config.toml` asks (`LIBSQLITE3_FLAGS`): without the
    /// memory statistics and the shared page-cache group, each a lock that every
    /// allocation or page of every connection took in turn (see BENCHMARKS.md,
    /// 2026-12-05 (evening)). Set `LIBSQLITE3_FLAGS` yourself and this tells you the build
    /// differs.
    #[tokio::test]
    async fn sqlite_is_built_without_its_global_locks() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path(), "options", |_| {}).await;
        let compiled: Vec<String> = pragma(&store, "compile_options")
            .await
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect();
        store.db().clone().close().await.unwrap();
        assert!(
            compiled.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{compiled:?}"
        );
        assert!(
            !compiled.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{compiled:?}"
        );
    }
}
