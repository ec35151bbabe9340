//! On SQLite, connections of the store's own, outside the pool, for the statements every
//! hot request runs: the one-statement writes (on the write turn's connection) and the
//! organization read that begins every request about an organization (on a few readers).
//!
//! A SQLite connection is a thread; a statement is a message to it and an answer back. The
//! pool adds a second such round trip to every statement: a connection given back is
//! pinged by its thread before it is reused, always (sqlx does so to flush what a dropped
//! statement may have left). A statement run here is one round trip. The write turn's
//! connection is also the only one that writes on the hot paths, so its page cache is not
//! emptied by other connections' writes, as a pooled connection's is in WAL mode.
//!
//! A connection that fails with anything but the database's own answer (its thread gone,
//! an I/O error) is dropped and opened again for the next statement.

use std::sync::Arc;

use sea_orm::error::ConnAcquireErr;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
};
use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
use sea_orm::{DbErr, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use crate::StoreOptions;

/// Readers, at most (and no more than the pool's size): more would only queue on two
/// cores.
const READERS: u32 = 2;

/// How every SQLite connection of the store is set up, pooled or not: WAL,
/// `synchronous=NORMAL`, the busy timeout, foreign keys on, and the memory map.
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
}

/// One connection, opened when first used.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    connection: Option<SqliteConnection>,
}

impl Slot {
    /// Runs `statement`, answering its rows.
    pub(crate) async fn query_all(
        &mut self,
        options: &SqliteConnectOptions,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(
                options
                    .connect()
                    .await
                    .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?,
            ),
        };
        let values = statement.values.unwrap_or(sea_orm::Values(Vec::new()));
        let query = sea_orm::sqlx::query_with(
            sea_orm::sqlx::AssertSqlSafe(statement.sql.as_str()),
            SqlxValues(values),
        );
        match query.fetch_all(&mut *connection).await {
            Ok(rows) => Ok(rows.into_iter().map(QueryResult::from).collect()),
            Err(error) => {
                if !matches!(error, sea_orm::sqlx::Error::Database(_)) {
                    // Whatever became of it, the next statement gets a new one.
                    if let Some(broken) = self.connection.take() {
                        let _ = broken.close_hard().await;
                    }
                }
                Err(DbErr::Query(RuntimeErr::SqlxError(Arc::new(error))))
            }
        }
    }

    pub(crate) async fn close(&mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
    }
}

/// The store's own SQLite connections (see the module's docs).
#[derive(Debug)]
pub(crate) struct Own {
    pub(crate) options: SqliteConnectOptions,
    readers: Vec<Mutex<Slot>>,
    next: std::sync::atomic::AtomicUsize,
    /// How long a read waits for a reader, as long as one waits for the pool.
    acquire_timeout: std::time::Duration,
}

impl Own {
    pub(crate) fn new(url: &str, options: &StoreOptions) -> Result<Self, DbErr> {
        use std::str::FromStr as _;
        let sqlite = SqliteConnectOptions::from_str(url)
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
        // As the pool logs: every statement at debug, slow ones as warnings.
        let sqlite = configure(sqlite, options)
            .log_statements(log::LevelFilter::Debug)
            .log_slow_statements(log::LevelFilter::Warn, crate::SLOW_STATEMENT);
        Ok(Self {
            options: sqlite,
            readers: (0..READERS.min(options.max_connections).max(1))
                .map(|_| Mutex::default())
                .collect(),
            next: Default::default(),
            acquire_timeout: options.acquire_timeout,
        })
    }

    /// Runs a read on a free reader, or waits for the next in turn; a read that waits
    /// longer than the acquire timeout fails as one that found no pooled connection does.
    pub(crate) async fn read(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let free = self
            .readers
            .iter()
            .find_map(|reader| reader.try_lock().ok());
        let mut reader = match free {
            Some(reader) => reader,
            None => {
                let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let next = self.readers[turn % self.readers.len()].lock();
                tokio::time::timeout(self.acquire_timeout, next)
                    .await
                    .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            }
        };
        reader.query_all(&self.options, statement).await
    }

    pub(crate) async fn close(&self) {
        for reader in &self.readers {
            reader.lock().await.close().await;
        }
    }
}
