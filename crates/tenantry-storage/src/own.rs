//! Connections of the store's own, outside the pool, for the statements every hot request
//! runs: the organization read that begins every request about an organization, a page of
//! members, and the one-statement writes (an organization's update with its event, usage
//! with its ledger entry).
//!
//! sqlx's pool pings every connection it is given back, always (to flush what a dropped
//! statement may have left), so each pooled statement costs a second round trip: on
//! SQLite a message to the connection's thread and its answer, on PostgreSQL a message to
//! the server. A statement run here is one round trip; what a dropped statement left is
//! flushed by the next one (each sqlx connection does so before its next statement).
//!
//! On SQLite the one-statement writes run on the write turn's connection (one slot, held
//! by the turn), the only one writing on the hot paths, so its page cache is not emptied
//! by other connections' writes, as a pooled connection's is in WAL mode; two readers take
//! the reads. On PostgreSQL, which writes concurrently, a few connections take both.
//!
//! As the pool does, a connection idle for a second is pinged before it is used (a
//! PostgreSQL server may have restarted meanwhile), and one that fails with anything but
//! the database's own answer to the statement (its thread or socket gone, the server
//! shutting down) is dropped and opened again for the next statement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::error::ConnAcquireErr;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
};
use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
use sea_orm::{DbErr, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use crate::{IDLE_BEFORE_PING, StoreOptions};

/// SQLite's readers, at most (and no more than the pool's size): more would only queue on
/// two cores.
const SQLITE_READERS: u32 = 2;
/// PostgreSQL's connections, at most (and no more than the pool's size): enough
/// statements in flight for the server to commit several together.
const POSTGRES_CONNECTIONS: u32 = 8;

/// How far the WAL may grow (in pages) before the connection that commits past it
/// checkpoints it, holding up its write: SQLite's default is 1,000. `tenantry serve`
/// checkpoints in the background instead ([`crate::Store::checkpoint`]), off the writes'
/// path; this bound holds when nothing does, or it falls behind.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// The write turn's page cache on SQLite, in KiB (SQLite's default is 2,000). Its cache is
/// the one no other connection's write empties, so it keeps what the writes use most (the
/// organizations' rows, the index of their public ids, the ledger's last pages) from one
/// write to the next. With the default, at 1,000,000 organizations a usage call on any of
/// 1,000 read 3.3 pages back from the kernel (0.7 at 10,000), the cost that grew with the
/// database; with 16 MB, none (32 MB did no better). It fills as pages are used, and the
/// tables the writes append to (events, the ledger) pass through it, so a server that has
/// written for a while holds it full: 16 MB of its resident memory.
const WRITER_CACHE_KIB: u32 = 16 * 1024;

/// How every SQLite connection of the store is set up, pooled or not: WAL,
/// `synchronous=NORMAL`, the busy timeout, foreign keys on, the memory map, and how far the
/// WAL grows before a writer checkpoints it.
pub(crate) fn configure(
    sqlite: SqliteConnectOptions,
    options: &StoreOptions,
) -> SqliteConnectOptions {
    sqlite
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true)
        .pragma("mmap_size", options.sqlite_mmap_size.to_string())
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
}

/// How to open one of the store's own connections.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    target: Target,
    /// How long opening one may take, as for the pool's.
    connect_timeout: Duration,
}

#[derive(Debug, Clone)]
enum Target {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

#[derive(Debug)]
enum Connection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

fn sqlx_error(kind: fn(RuntimeErr) -> DbErr, error: sea_orm::sqlx::Error) -> DbErr {
    kind(RuntimeErr::SqlxError(Arc::new(error)))
}

impl Options {
    async fn connect(&self) -> Result<Connection, DbErr> {
        let connecting = async {
            match &self.target {
                Target::Sqlite(options) => options.connect().await.map(Connection::Sqlite),
                Target::Postgres(options) => options.connect().await.map(Connection::Postgres),
            }
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(connected) => connected.map_err(|e| sqlx_error(DbErr::Conn, e)),
            Err(_) => Err(sqlx_error(DbErr::Conn, sea_orm::sqlx::Error::PoolTimedOut)),
        }
    }
}

impl Connection {
    async fn query_all(
        &mut self,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, sea_orm::sqlx::Error> {
        let values = SqlxValues(statement.values.unwrap_or(sea_orm::Values(Vec::new())));
        let sql = sea_orm::sqlx::AssertSqlSafe(statement.sql);
        match self {
            Self::Sqlite(connection) => sea_orm::sqlx::query_with(sql, values)
                .fetch_all(connection)
                .await
                .map(|rows| rows.into_iter().map(QueryResult::from).collect()),
            Self::Postgres(connection) => sea_orm::sqlx::query_with(sql, values)
                .fetch_all(connection)
                .await
                .map(|rows| rows.into_iter().map(QueryResult::from).collect()),
        }
    }

    async fn ping(&mut self) -> Result<(), sea_orm::sqlx::Error> {
        match self {
            Self::Sqlite(connection) => connection.ping().await,
            Self::Postgres(connection) => connection.ping().await,
        }
    }

    async fn close(self) {
        let _ = match self {
            Self::Sqlite(connection) => connection.close().await,
            Self::Postgres(connection) => connection.close().await,
        };
    }

    async fn close_hard(self) {
        let _ = match self {
            Self::Sqlite(connection) => connection.close_hard().await,
            Self::Postgres(connection) => connection.close_hard().await,
        };
    }
}

/// Whether `error` leaves the connection unfit for another statement: anything but the
/// database's answer to the statement, and PostgreSQL's connection exceptions (SQLSTATE
/// class 08) and shutdowns (57P).
fn breaks_connection(error: &sea_orm::sqlx::Error) -> bool {
    match error {
        sea_orm::sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => true,
    }
}

/// One connection, opened when first used.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    connection: Option<Connection>,
    used_at: Option<Instant>,
}

impl Slot {
    /// Runs `statement`, answering its rows.
    pub(crate) async fn query_all(
        &mut self,
        options: &Options,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if let (Some(connection), Some(used_at)) = (&mut self.connection, self.used_at)
            && used_at.elapsed() > IDLE_BEFORE_PING
            && connection.ping().await.is_err()
            && let Some(broken) = self.connection.take()
        {
            broken.close_hard().await;
        }
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(options.connect().await?),
        };
        let result = connection.query_all(statement).await;
        self.answered(result)
    }

    /// Runs `statement` on the connection open now, never opening one: for the statements
    /// of a transaction begun on it, which a new connection would run outside it.
    pub(crate) async fn query_open(
        &mut self,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let Some(connection) = &mut self.connection else {
            return Err(sqlx_error(
                DbErr::Query,
                sea_orm::sqlx::Error::WorkerCrashed,
            ));
        };
        let result = connection.query_all(statement).await;
        self.answered(result)
    }

    /// Whether a connection is open (none is after one broke, until the next statement).
    pub(crate) fn is_open(&self) -> bool {
        self.connection.is_some()
    }

    /// Closes the connection, if one is open, discarding whatever it was in the middle of
    /// (an open transaction rolls back); the next statement opens another.
    pub(crate) fn discard(&mut self) {
        if let Some(connection) = self.connection.take() {
            tokio::spawn(connection.close_hard());
        }
    }

    fn answered(
        &mut self,
        result: Result<Vec<QueryResult>, sea_orm::sqlx::Error>,
    ) -> Result<Vec<QueryResult>, DbErr> {
        self.used_at = Some(Instant::now());
        result.map_err(|error| {
            if breaks_connection(&error) {
                // Whatever became of it, the next statement gets a new one.
                self.discard();
            }
            sqlx_error(DbErr::Query, error)
        })
    }

    pub(crate) async fn close(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.close().await;
        }
    }
}

/// The store's own connections (see the module's docs).
#[derive(Debug)]
pub(crate) struct Own {
    /// How to open a reader (and, on PostgreSQL, any of its connections).
    pub(crate) options: Options,
    /// How to open the write turn's connection: on SQLite with a larger page cache
    /// ([`WRITER_CACHE_KIB`]).
    pub(crate) write_options: Options,
    connections: Vec<Mutex<Slot>>,
    /// Which thread opened each connection ([`here`]; 0: none yet).
    opened_by: Vec<AtomicU64>,
    next: AtomicUsize,
    /// How long a statement waits for a connection, as long as one waits for the pool.
    acquire_timeout: Duration,
}

impl Own {
    pub(crate) fn new(url: &str, options: &StoreOptions) -> Result<Self, DbErr> {
        use std::str::FromStr as _;
        let invalid = |e| sqlx_error(DbErr::Conn, e);
        // As the pool logs: every statement at debug, slow ones as warnings.
        let (own, most) = if url.starts_with("sqlite:") {
            let sqlite = configure(
                SqliteConnectOptions::from_str(url).map_err(invalid)?,
                options,
            )
            .log_statements(log::LevelFilter::Debug)
            .log_slow_statements(log::LevelFilter::Warn, crate::SLOW_STATEMENT);
            (Target::Sqlite(sqlite), SQLITE_READERS)
        } else {
            let postgres = PgConnectOptions::from_str(url)
                .map_err(invalid)?
                .log_statements(log::LevelFilter::Debug)
                .log_slow_statements(log::LevelFilter::Warn, crate::SLOW_STATEMENT);
            (Target::Postgres(postgres), POSTGRES_CONNECTIONS)
        };
        let write_target = match &own {
            Target::Sqlite(sqlite) => Target::Sqlite(
                sqlite
                    .clone()
                    .pragma("cache_size", format!("-{WRITER_CACHE_KIB}")),
            ),
            Target::Postgres(_) => own.clone(),
        };
        Ok(Self {
            options: Options {
                target: own,
                connect_timeout: options.connect_timeout,
            },
            write_options: Options {
                target: write_target,
                connect_timeout: options.connect_timeout,
            },
            connections: (0..most.min(options.max_connections).max(1))
                .map(|_| Mutex::default())
                .collect(),
            opened_by: (0..most.min(options.max_connections).max(1))
                .map(|_| AtomicU64::new(0))
                .collect(),
            next: AtomicUsize::new(0),
            acquire_timeout: options.acquire_timeout,
        })
    }

    /// Runs a statement on a free connection, or waits for the next in turn; one that
    /// waits longer than the acquire timeout fails as one that found no pooled connection
    /// does.
    ///
    /// A thread takes the connections it opened first. A connection's socket answers
    /// through the runtime of the thread that opened it, so a statement run on it from
    /// another server thread makes the opener's thread wake to pass the answer on: two
    /// threads woken for one statement. Each server thread runs a runtime of its own, and
    /// so keeps to its own connections while it has any free, or waits for one of them.
    ///
    /// A thread that has at least two connections fewer than another takes one of the
    /// other's when it is free, and opens it anew: the first thread to need two at once (as
    /// when two requests reach it before any reaches the other) would otherwise keep both
    /// for the life of the process, and every statement of the other thread would wake it.
    /// With SQLite's two readers and two server threads, a process that began that way
    /// spent about 30% more CPU on a `GET /organization/{id}`.
    pub(crate) async fn query_all(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let here = here();
        let mut elsewhere = None;
        for (at, connection) in self.connections.iter().enumerate() {
            let opener = self.opener(at);
            if opener == here || opener == 0 {
                if let Ok(slot) = connection.try_lock() {
                    drop(elsewhere);
                    return self.run(here, at, slot, statement).await;
                }
            } else if elsewhere.is_none() {
                // Opened by another thread: only if none of this one's is free.
                elsewhere = connection.try_lock().ok().map(|slot| (at, slot));
            }
        }
        if let Some((at, mut slot)) = elsewhere {
            if self.owned_by(self.opener(at)) > self.owned_by(here) + 1 {
                // Its opener has more than this thread: this thread opens it anew, and
                // owns it from now on.
                slot.discard();
            }
            return self.run(here, at, slot, statement).await;
        }
        // None free: wait for the next in turn of this thread's own, or of all.
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let own = || (0..self.connections.len()).filter(|&at| self.opener(at) == here);
        let at = match own().count() {
            0 => turn % self.connections.len(),
            count => own().nth(turn % count).unwrap_or(0),
        };
        let slot = tokio::time::timeout(self.acquire_timeout, self.connections[at].lock())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?;
        self.run(here, at, slot, statement).await
    }

    /// Which thread opened connection `at` ([`here`]; 0: none yet).
    fn opener(&self, at: usize) -> u64 {
        self.opened_by[at].load(Ordering::Relaxed)
    }

    /// How many of the connections `thread` opened.
    fn owned_by(&self, thread: u64) -> usize {
        (0..self.connections.len())
            .filter(|&at| self.opener(at) == thread)
            .count()
    }

    /// Runs `statement` on `slot`, the connection `at`, noting that this thread opens it
    /// if it is not open.
    async fn run(
        &self,
        here: u64,
        at: usize,
        mut slot: tokio::sync::MutexGuard<'_, Slot>,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if !slot.is_open() {
            // This thread opens it.
            self.opened_by[at].store(here, Ordering::Relaxed);
        }
        slot.query_all(&self.options, statement).await
    }

    pub(crate) async fn close(&self) {
        for connection in &self.connections {
            connection.lock().await.close().await;
        }
    }
}

/// The calling thread, as a number no other thread of the process has (never 0).
fn here() -> u64 {
    static THREADS: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static HERE: u64 = THREADS.fetch_add(1, Ordering::Relaxed);
    }
    HERE.with(|here| *here)
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    /// Runs `SELECT 1` on `own` from a thread of its own, as a server thread would,
    /// `at_once` times at once (each on a connection of its own), and answers that thread's
    /// number.
    fn select_from_a_thread(own: &Arc<Own>, at_once: usize) -> u64 {
        let own = Arc::clone(own);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let selects: Vec<_> = (0..at_once)
                    .map(|_| {
                        let own = Arc::clone(&own);
                        let select = Statement::from_string(DbBackend::Sqlite, "SELECT 1");
                        tokio::spawn(async move { own.query_all(select).await.unwrap() })
                    })
                    .collect();
                for select in selects {
                    select.await.unwrap();
                }
            });
            here()
        })
        .join()
        .unwrap()
    }

    /// A new database file, already in WAL mode, as the store's pool leaves it before its
    /// own connections open: two connections opening a new file at once may both switch it
    /// to WAL, and one of them is then refused ("database is locked").
    fn wal_database(dir: &std::path::Path) -> String {
        use std::str::FromStr as _;
        let url = format!("sqlite://{}?mode=rwc", dir.join("own.db").display());
        let options = configure(
            SqliteConnectOptions::from_str(&url).unwrap(),
            &StoreOptions::new(&url),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { options.connect().await.unwrap().close().await.unwrap() });
        url
    }

    fn openers(own: &Own) -> Vec<u64> {
        (0..own.connections.len())
            .map(|at| own.opener(at))
            .collect()
    }

    /// A thread opens a connection of its own rather than take a free one another thread
    /// opened; once every connection is open, a thread takes any that is free.
    #[test]
    fn a_thread_keeps_to_the_connections_it_opened() {
        let dir = tempfile::tempdir().unwrap();
        let url = wal_database(dir.path());
        let own = Arc::new(Own::new(&url, &StoreOptions::new(&url)).unwrap());
        assert_eq!(own.connections.len(), 2);

        let first = select_from_a_thread(&own, 1);
        assert_eq!(openers(&own), [first, 0]);
        // The first thread's connection is free, but the second opens its own.
        let second = select_from_a_thread(&own, 1);
        assert_ne!(first, second);
        assert_eq!(openers(&own), [first, second]);

        // Once every connection is opened, a new thread takes a free one wherever it is.
        let third = select_from_a_thread(&own, 1);
        assert_eq!(openers(&own), [first, second]);
        assert!(![first, second].contains(&third));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(own.close());
    }

    /// A thread that opened both connections gives one up to a thread that has none, which
    /// opens it anew; a third thread, with none either, takes a free one without reopening
    /// it, as each of the others has only one.
    #[test]
    fn a_thread_without_a_connection_takes_one_from_a_thread_with_two() {
        let dir = tempfile::tempdir().unwrap();
        let url = wal_database(dir.path());
        let own = Arc::new(Own::new(&url, &StoreOptions::new(&url)).unwrap());

        let first = select_from_a_thread(&own, 2);
        assert_eq!(openers(&own), [first, first]);

        let second = select_from_a_thread(&own, 1);
        let owners = openers(&own);
        assert!(
            owners.contains(&first) && owners.contains(&second),
            "{owners:?}"
        );

        let before = openers(&own);
        let third = select_from_a_thread(&own, 1);
        assert!(!before.contains(&third));
        assert_eq!(openers(&own), before);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(own.close());
    }
}
