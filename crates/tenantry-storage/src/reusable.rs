//! Statements built once. A hot path's query has the same SQL on every call but for its
//! values, so building it with sea-query on every request (a few microseconds of
//! allocation and string writing) buys nothing: it is built on first use, for each kind of
//! database, with stand-in ids, and kept; each call binds its own ids in their places.

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};
use uuid::Uuid;

/// The SQL of one query and where its ids go, built on first use per database kind.
#[derive(Debug)]
pub(crate) struct Reusable<const N: usize> {
    built: [OnceLock<Built>; 2],
}

#[derive(Debug)]
struct Built {
    sql: String,
    /// Each bound value: one of the call's ids, or a value the query itself fixes.
    slots: Vec<Slot>,
}

#[derive(Debug)]
enum Slot {
    Id(usize),
    Fixed(Value),
}

impl<const N: usize> Reusable<N> {
    pub(crate) const fn new() -> Self {
        Self {
            built: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The statement `build` makes for `ids`, on `backend`. `build` runs once per database
    /// kind, with stand-in ids, which must each reach the statement only as a bound value.
    pub(crate) fn statement(
        &self,
        backend: DbBackend,
        ids: [Uuid; N],
        build: impl FnOnce([Uuid; N]) -> Statement,
    ) -> Statement {
        let index = usize::from(backend == DbBackend::Postgres);
        let built = self.built[index].get_or_init(|| {
            let stand_ins: [Uuid; N] = std::array::from_fn(stand_in);
            let statement = build(stand_ins);
            let slots = statement
                .values
                .iter()
                .flat_map(|values| values.0.iter())
                .map(|value| {
                    stand_ins
                        .iter()
                        .position(|id| *value == Value::from(*id))
                        .map_or_else(|| Slot::Fixed(value.clone()), Slot::Id)
                })
                .collect();
            Built {
                sql: statement.sql,
                slots,
            }
        });
        let values = built.slots.iter().map(|slot| match slot {
            Slot::Id(i) => Value::from(ids[*i]),
            Slot::Fixed(value) => value.clone(),
        });
        Statement::from_sql_and_values(backend, built.sql.as_str(), values)
    }
}

/// Statements whose SQL follows a shape (say, which columns an update writes) and whose
/// values are made by hand, without building the statement: the SQL is built with
/// sea-query the first time a shape is seen, and kept if the values made by hand for that
/// call are the ones sea-query bound (else that shape is built every time).
#[derive(Debug)]
pub(crate) struct ByShape {
    /// Each shape seen, by database kind, and its SQL if kept: a handful, searched in turn.
    #[allow(clippy::type_complexity, reason = "read where it is declared")]
    built: std::sync::RwLock<Vec<((bool, u128), Option<std::sync::Arc<str>>)>>,
}

impl ByShape {
    pub(crate) const fn new() -> Self {
        Self {
            built: std::sync::RwLock::new(Vec::new()),
        }
    }

    /// The statement of `shape` on `backend`: `build`'s SQL, kept from the shape's first
    /// call, with `values`.
    pub(crate) fn statement<E>(
        &self,
        backend: DbBackend,
        shape: u128,
        build: impl FnOnce() -> Result<Statement, E>,
        values: impl FnOnce() -> Result<Vec<Value>, E>,
    ) -> Result<Statement, E> {
        let key = (backend == DbBackend::Postgres, shape);
        let kept = self
            .built
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(seen, _)| *seen == key)
            .map(|(_, sql)| sql.clone());
        match kept {
            Some(Some(sql)) => Ok(Statement::from_sql_and_values(backend, &*sql, values()?)),
            Some(None) => build(),
            None => {
                let built = build()?;
                let by_hand = values()?;
                let same = built.values.as_ref().is_some_and(|v| v.0 == by_hand);
                let mut shapes = self.built.write().unwrap_or_else(|e| e.into_inner());
                if !shapes.iter().any(|(seen, _)| *seen == key) {
                    shapes.push((key, same.then(|| built.sql.as_str().into())));
                }
                Ok(built)
            }
        }
    }

    /// Whether `shape`'s SQL is kept on `backend` (its values made by hand matched).
    #[cfg(test)]
    pub(crate) fn keeps(&self, backend: DbBackend, shape: u128) -> bool {
        let key = (backend == DbBackend::Postgres, shape);
        let shapes = self.built.read().unwrap();
        shapes
            .iter()
            .any(|(seen, sql)| *seen == key && sql.is_some())
    }
}

/// The `i`th stand-in id: ids no caller has (version 8, "custom", in the high bits).
fn stand_in(i: usize) -> Uuid {
    Uuid::from_u128(0x7e57_0000_0000_8000_8000_0000_0000_0000 | i as u128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query, SqliteQueryBuilder};

    fn select(a: Uuid, b: Uuid) -> Statement {
        let (sql, values) = Query::select()
            .column(Alias::new("x"))
            .from(Alias::new("t"))
            .and_where(Expr::col(Alias::new("b")).eq(b))
            .and_where(Expr::col(Alias::new("flag")).eq(true))
            .and_where(Expr::col(Alias::new("a")).eq(a))
            .build(SqliteQueryBuilder);
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    }

    #[test]
    fn each_call_binds_its_own_ids_in_their_places_and_keeps_fixed_values() {
        let reusable = Reusable::<2>::new();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut builds = 0;
        let first = reusable.statement(DbBackend::Sqlite, [a, b], |[a, b]| {
            builds += 1;
            select(a, b)
        });
        assert_eq!(first, select(a, b));
        let (c, d) = (Uuid::now_v7(), Uuid::now_v7());
        let second = reusable.statement(DbBackend::Sqlite, [c, d], |[c, d]| {
            builds += 1;
            select(c, d)
        });
        assert_eq!(second, select(c, d));
        assert_eq!(builds, 1, "built once");
    }
}
