//! SQLite's one-statement writes (an organization's update with its event, usage with its
//! ledger entry), committed together when several wait for the write turn at once.
//!
//! SQLite's cost of a commit is mostly pages: each commit appends to the WAL every page it
//! changed, and a write with its event changes seven or so (the organization's row, the
//! event's row and the last page of each of the events' indexes). Consecutive events share
//! those last pages, so writes committed together append each shared page once.
//!
//! A write joins the queue, then waits for its answer or the turn, whichever comes first.
//! The one that gets the turn takes every write queued by then: one alone runs as it
//! always did, in its own implicit transaction; several run in one transaction
//! (`BEGIN IMMEDIATE`, each statement, `COMMIT`) in a task of their own, so that a request
//! that goes away midway cannot leave it open. Each is answered only after the commit, so
//! nothing is acknowledged that a crash could take back.
//!
//! Each statement is atomic on its own in SQLite (one that fails leaves the transaction as
//! it was before it), but any failure in a group, a statement's or the commit's, rolls the
//! whole group back, and each of its writes then runs alone, to get its own answer: the
//! fast path is for writes that succeed. If the connection breaks midway, the transaction
//! went with it; the commit's own failure is told apart from a broken connection (whose
//! commit may have happened), and in that case every write of the group is answered that
//! the database is unavailable, rather than run again.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DbBackend, DbErr, QueryResult, RuntimeErr, Statement};
use tokio::sync::{Mutex, oneshot};

use crate::StoreError;
use crate::own::{Options, Slot};

/// The most writes one transaction takes: enough to share the pages, few enough that the
/// first of them is not kept waiting long for the last.
pub(crate) const MOST_TOGETHER: usize = 32;

/// A statement's rows, or its error.
type Answer = Result<Vec<QueryResult>, DbErr>;

/// The writes waiting for the write turn.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    next_ticket: u64,
    waiting: Vec<Waiting>,
}

impl Queue {
    #[cfg(test)]
    pub(crate) fn waiting_count(&self) -> usize {
        self.waiting.len()
    }
}

#[derive(Debug)]
struct Waiting {
    ticket: u64,
    statement: Statement,
    answer: oneshot::Sender<Answer>,
}

/// Runs one statement that writes on SQLite's write turn's connection (see the module's
/// docs). The outer error: no turn within `turn_timeout` (the statement did not run); the
/// inner: the statement's own answer.
pub(crate) async fn write(
    queue: &std::sync::Mutex<Queue>,
    writes: &Arc<Mutex<Slot>>,
    options: &Options,
    turn_timeout: Duration,
    statement: Statement,
) -> Result<Answer, StoreError> {
    let (sender, mut answer) = oneshot::channel();
    let ticket = {
        let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiting.push(Waiting {
            ticket,
            statement,
            answer: sender,
        });
        ticket
    };
    let deadline = tokio::time::Instant::now() + turn_timeout;
    // Until answered: the turn's holder takes the queue as it is, this write's or not (and
    // may leave it for the next holder, past the most a group takes).
    loop {
        let turn = tokio::select! {
            biased;
            answered = &mut answer => return Ok(answered.unwrap_or_else(|_| Err(gone()))),
            turn = tokio::time::timeout_at(deadline, writes.clone().lock_owned()) => turn,
        };
        let Ok(mut turn) = turn else {
            // Still queued, it is taken out and never runs; taken already, it is answered.
            let removed = {
                let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                let at = queue.waiting.iter().position(|w| w.ticket == ticket);
                at.map(|at| queue.waiting.remove(at))
            };
            if removed.is_some() {
                return Err(StoreError::Unavailable(DbErr::Custom(format!(
                    "no turn to write within {} ms",
                    turn_timeout.as_millis()
                ))));
            }
            return Ok(answer.await.unwrap_or_else(|_| Err(gone())));
        };
        let group: Vec<Waiting> = {
            let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            let take = queue.waiting.len().min(MOST_TOGETHER);
            queue.waiting.drain(..take).collect()
        };
        match <[Waiting; 1]>::try_from(group) {
            Ok([alone]) if alone.ticket == ticket => {
                // This request's own write, alone: run here, as any single statement.
                return Ok(turn.query_all(options, alone.statement).await);
            }
            Ok([alone]) => {
                let options = options.clone();
                let _ = tokio::spawn(async move {
                    let answered = turn.query_all(&options, alone.statement).await;
                    let _ = alone.answer.send(answered);
                })
                .await;
            }
            Err(group) if group.is_empty() => drop(turn),
            Err(group) => {
                let options = options.clone();
                let _ =
                    tokio::spawn(async move { commit_together(&mut turn, &options, group).await })
                        .await;
            }
        }
    }
}

/// What a write is answered whose group's task ended without answering it (it panicked).
fn gone() -> DbErr {
    DbErr::Custom("the write's group ended without an answer".into())
}

fn sql(text: &str) -> Statement {
    Statement::from_string(DbBackend::Sqlite, text)
}

/// Runs `group` in one transaction on `slot`, answering each write after the commit; on any
/// failure, runs each alone (see the module's docs).
async fn commit_together(slot: &mut Slot, options: &Options, group: Vec<Waiting>) {
    let mut answers = Vec::with_capacity(group.len());
    let begun = slot.query_all(options, sql("BEGIN IMMEDIATE")).await;
    let mut failed = begun.is_err();
    if !failed {
        for waiting in &group {
            match slot.query_open(waiting.statement.clone()).await {
                Ok(rows) => answers.push(rows),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
    }
    if !failed {
        match slot.query_open(sql("COMMIT")).await {
            Ok(_) => {
                for (waiting, rows) in group.into_iter().zip(answers) {
                    let _ = waiting.answer.send(Ok(rows));
                }
                return;
            }
            Err(error) if !slot.is_open() => {
                // The connection broke on the commit: whether it happened is not known, and
                // the database is unavailable (503) to each write of the group.
                for waiting in group {
                    let _ = waiting
                        .answer
                        .send(Err(DbErr::Conn(RuntimeErr::Internal(format!(
                            "the database went away while committing: {error}"
                        )))));
                }
                return;
            }
            Err(_) => {}
        }
    }
    // Nothing of the group is committed: rolled back here, or gone with its connection.
    if slot.is_open() && slot.query_open(sql("ROLLBACK")).await.is_err() {
        // No transaction was open, or one that would not end: either way, start afresh.
        slot.discard();
    }
    for waiting in group {
        let answered = slot.query_all(options, waiting.statement).await;
        let _ = waiting.answer.send(answered);
    }
}
