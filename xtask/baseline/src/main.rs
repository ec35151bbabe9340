//! The benchmark's ceilings: a server that does what Tenantry's hot paths do at their core,
//! in raw sqlx behind actix-web, and nothing else (no authentication, no validation, no
//! middleware, no rate limits). `cargo xtask bench` runs it on the same database as Tenantry
//! and reports every Tenantry figure as a ratio to the matching route here:
//!
//! - `GET /static`: a constant JSON answer, the HTTP ceiling;
//! - `GET /organizations/{public_id}`: one organization row, whole, as JSON;
//! - `GET /organizations/{public_id}/detail`: that row and its first 1,000 members with
//!   their users, in two statements (what an organization's detail answers);
//! - `PATCH /organizations/{public_id}`: renames it and answers the row (`UPDATE … RETURNING`);
//! - `GET /users/{public_id}/organizations`: the first 100 organizations of a member.
//!
//! Configured by `BASELINE_DATABASE_URL` (SQLite or PostgreSQL, the same URL Tenantry uses),
//! `BASELINE_MAX_CONNECTIONS` (the pool's size Tenantry would open on it) and
//! `BASELINE_LISTEN`.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Executor, Row as _};
use std::str::FromStr as _;
use std::time::Duration;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Every column of an organization row.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Organization {
    id: Uuid,
    name: String,
    domain: Option<String>,
    logo_type: Option<String>,
    logo_url: Option<String>,
    billing_email: Option<String>,
    notifications_email: Option<String>,
    account_type: String,
    plan: String,
    contract_end_date: Option<Date>,
    salesforce_code: Option<String>,
    is_active: bool,
    auto_billing_enabled: bool,
    billing_cycle_start: i32,
    credit_allocation: Option<i64>,
    modules: serde_json::Value,
    user_quota: i32,
    workspace_quota: i32,
    analysis_quota: i32,
    asset_evaluation_quota: i32,
    search_credits: i32,
    rate_limit_overrides: serde_json::Value,
    max_overages: Option<i64>,
    metadata: serde_json::Value,
    default_llm_credentials: serde_json::Value,
    nsfw_check_enabled: bool,
    nsfw_fail_closed: bool,
    infrastructure: Option<String>,
    api_url: Option<String>,
    auth_provider_org_id: Option<String>,
    usage_cycle_start: Date,
    credits_used: i64,
    member_count: i64,
    workspace_count: i64,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

/// Decodes a row the same way for either database.
macro_rules! organization_from {
    ($row:expr) => {{
        let row = $row;
        let json = |column: &str| -> Result<serde_json::Value, sqlx::Error> {
            Ok(row
                .try_get::<sqlx::types::Json<serde_json::Value>, _>(column)?
                .0)
        };
        Ok::<_, sqlx::Error>(Organization {
            id: row.try_get("public_id")?,
            name: row.try_get("name")?,
            domain: row.try_get("domain")?,
            logo_type: row.try_get("logo_type")?,
            logo_url: row.try_get("logo_url")?,
            billing_email: row.try_get("billing_email")?,
            notifications_email: row.try_get("notifications_email")?,
            account_type: row.try_get("account_type")?,
            plan: row.try_get("plan")?,
            contract_end_date: row.try_get("contract_end_date")?,
            salesforce_code: row.try_get("salesforce_code")?,
            is_active: row.try_get("is_active")?,
            auto_billing_enabled: row.try_get("auto_billing_enabled")?,
            billing_cycle_start: row.try_get("billing_cycle_start")?,
            credit_allocation: row.try_get("credit_allocation")?,
            modules: json("modules")?,
            user_quota: row.try_get("user_quota")?,
            workspace_quota: row.try_get("workspace_quota")?,
            analysis_quota: row.try_get("analysis_quota")?,
            asset_evaluation_quota: row.try_get("asset_evaluation_quota")?,
            search_credits: row.try_get("search_credits")?,
            rate_limit_overrides: json("rate_limit_overrides")?,
            max_overages: row.try_get("max_overages")?,
            metadata: json("metadata")?,
            default_llm_credentials: json("default_llm_credentials")?,
            nsfw_check_enabled: row.try_get("nsfw_check_enabled")?,
            nsfw_fail_closed: row.try_get("nsfw_fail_closed")?,
            infrastructure: row.try_get("infrastructure")?,
            api_url: row.try_get("api_url")?,
            auth_provider_org_id: row.try_get("auth_provider_org_id")?,
            usage_cycle_start: row.try_get("usage_cycle_start")?,
            credits_used: row.try_get("credits_used")?,
            member_count: row.try_get("member_count")?,
            workspace_count: row.try_get("workspace_count")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }};
}

/// A member as an organization's detail lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    user_id: Uuid,
    email: String,
    name: String,
    role: String,
    #[serde(with = "time::serde::rfc3339")]
    joined_at: OffsetDateTime,
}

#[derive(Debug, Serialize)]
struct Detail {
    #[serde(flatten)]
    organization: Organization,
    members: Vec<Member>,
}

/// The members of the organization whose database key is bound first, as Tenantry's detail
/// caps them.
macro_rules! members_of {
    ($organization:literal) => {
        concat!(
            "SELECT u.public_id, u.email, u.name, m.role, m.joined_at FROM memberships m ",
            "JOIN users u ON u.id = m.user_id WHERE m.organization_id = ",
            $organization,
            " ORDER BY u.public_id LIMIT 1000"
        )
    };
}

macro_rules! member_from {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, sqlx::Error>(Member {
            user_id: row.try_get("public_id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            joined_at: row.try_get("joined_at")?,
        })
    }};
}

fn from_sqlite(row: &SqliteRow) -> Result<Organization, sqlx::Error> {
    organization_from!(row)
}

fn from_postgres(row: &PgRow) -> Result<Organization, sqlx::Error> {
    organization_from!(row)
}

fn answer<T: Serialize>(result: Result<Option<T>, sqlx::Error>) -> HttpResponse {
    match result {
        Ok(Some(body)) => HttpResponse::Ok().json(body),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

async fn constant() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn read(pool: web::Data<Pool>, id: web::Path<Uuid>) -> HttpResponse {
    let id = id.into_inner();
    answer(match pool.get_ref() {
        Pool::Sqlite(pool) => sqlx::query("SELECT * FROM organizations WHERE public_id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await
            .and_then(|row| row.as_ref().map(from_sqlite).transpose()),
        Pool::Postgres(pool) => sqlx::query("SELECT * FROM organizations WHERE public_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
            .and_then(|row| row.as_ref().map(from_postgres).transpose()),
    })
}

/// The organization's row, then its members: two statements, as the detail needs.
macro_rules! detail_from {
    ($pool:expr, $id:expr, $placeholder:literal, $organization:ident) => {{
        let select = concat!(
            "SELECT * FROM organizations WHERE public_id = ",
            $placeholder
        );
        let Some(row) = sqlx::query(select).bind($id).fetch_optional($pool).await? else {
            return Ok(None);
        };
        let members = sqlx::query(members_of!($placeholder))
            .bind(row.try_get::<i64, _>("id")?)
            .fetch_all($pool)
            .await?;
        Ok(Some(Detail {
            organization: $organization(&row)?,
            members: members
                .iter()
                .map(|m| member_from!(m))
                .collect::<Result<_, sqlx::Error>>()?,
        }))
    }};
}

async fn sqlite_detail(pool: &SqlitePool, id: Uuid) -> Result<Option<Detail>, sqlx::Error> {
    detail_from!(pool, id, "?", from_sqlite)
}

async fn postgres_detail(pool: &PgPool, id: Uuid) -> Result<Option<Detail>, sqlx::Error> {
    detail_from!(pool, id, "$1", from_postgres)
}

async fn detail(pool: web::Data<Pool>, id: web::Path<Uuid>) -> HttpResponse {
    answer(match pool.get_ref() {
        Pool::Sqlite(pool) => sqlite_detail(pool, id.into_inner()).await,
        Pool::Postgres(pool) => postgres_detail(pool, id.into_inner()).await,
    })
}

#[derive(Debug, serde::Deserialize)]
struct Rename {
    name: String,
}

async fn update(
    pool: web::Data<Pool>,
    id: web::Path<Uuid>,
    body: web::Json<Rename>,
) -> HttpResponse {
    let (id, now) = (id.into_inner(), OffsetDateTime::now_utc());
    answer(match pool.get_ref() {
        Pool::Sqlite(pool) => sqlx::query(
            "UPDATE organizations SET name = ?, updated_at = ?, version = version + 1 \
             WHERE public_id = ? RETURNING *",
        )
        .bind(&body.name)
        .bind(now)
        .bind(id)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.as_ref().map(from_sqlite).transpose()),
        Pool::Postgres(pool) => sqlx::query(
            "UPDATE organizations SET name = $1, updated_at = $2, version = version + 1 \
             WHERE public_id = $3 RETURNING *",
        )
        .bind(&body.name)
        .bind(now)
        .bind(id)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.as_ref().map(from_postgres).transpose()),
    })
}

/// The first page of a member's organizations, in the order they were joined.
macro_rules! page_of {
    ($user:literal) => {
        concat!(
            "SELECT o.* FROM memberships m ",
            "JOIN organizations o ON o.id = m.organization_id ",
            "WHERE m.user_id = (SELECT id FROM users WHERE public_id = ",
            $user,
            ") ORDER BY m.organization_id LIMIT 100"
        )
    };
}

async fn page(pool: web::Data<Pool>, user: web::Path<Uuid>) -> HttpResponse {
    let user = user.into_inner();
    answer(match pool.get_ref() {
        Pool::Sqlite(pool) => sqlx::query(page_of!("?"))
            .bind(user)
            .fetch_all(pool)
            .await
            .and_then(|rows| rows.iter().map(from_sqlite).collect::<Result<Vec<_>, _>>())
            .map(Some),
        Pool::Postgres(pool) => sqlx::query(page_of!("$1"))
            .bind(user)
            .fetch_all(pool)
            .await
            .and_then(|rows| {
                rows.iter()
                    .map(from_postgres)
                    .collect::<Result<Vec<_>, _>>()
            })
            .map(Some),
    })
}

/// `connections`: the pool's size Tenantry uses by default on this database, which the
/// bench passes, so both servers wait on the database alike.
async fn connect(url: &str, connections: u32) -> Result<Pool, sqlx::Error> {
    if url.starts_with("postgres") {
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .connect(url)
            .await?;
        return Ok(Pool::Postgres(pool));
    }
    let options = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await?;
    // Fail at start, not under load, if the schema is not Tenantry's.
    pool.execute("SELECT public_id FROM organizations LIMIT 1")
        .await?;
    Ok(Pool::Sqlite(pool))
}

/// Webhook requests received, for the bench's delivery figure.
static HOOKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A webhook receiver that takes any request and answers 204.
async fn hook(_body: web::Bytes) -> HttpResponse {
    HOOKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    HttpResponse::NoContent().finish()
}

/// How many webhook requests arrived.
async fn hooks() -> HttpResponse {
    HttpResponse::Ok().body(HOOKS.load(std::sync::atomic::Ordering::Relaxed).to_string())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let url = std::env::var("BASELINE_DATABASE_URL")
        .map_err(|_| std::io::Error::other("BASELINE_DATABASE_URL is not set"))?;
    let connections = std::env::var("BASELINE_MAX_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other("BASELINE_MAX_CONNECTIONS is not a number"))?;
    let listen = std::env::var("BASELINE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let pool = connect(&url, connections)
        .await
        .map_err(std::io::Error::other)?;
    let pool = web::Data::new(pool);
    HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route("/static", web::get().to(constant))
            .route("/organizations/{id}", web::get().to(read))
            .route("/organizations/{id}", web::patch().to(update))
            .route("/organizations/{id}/detail", web::get().to(detail))
            .route("/users/{id}/organizations", web::get().to(page))
            .route("/hook", web::post().to(hook))
            .route("/hook/count", web::get().to(hooks))
    })
    .bind(listen)?
    .run()
    .await
}
