//! Test support: a real Tenantry server on a free port with its own fresh database, and an
//! HTTP client that talks to it.

use std::net::TcpListener;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tenantry_domain::KeyHash;
use tenantry_http::{AppState, ServerOptions};
use tenantry_storage::{Store, StoreOptions};

/// The platform admin token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A running server with its own database.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// The database this server uses.
    pub database_url: String,
    /// Whether other tests use this database too (servers of another process).
    store_is_shared: bool,
    /// The database made for this test, removed with it.
    _database: Option<TestDatabase>,
}

/// A database made for one test: a SQLite file in a temporary directory, or, when
/// `TENANTRY_TEST_DATABASE_URL` names a PostgreSQL server, a new database there. It is
/// removed when dropped, whether the test passed or failed.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    /// The PostgreSQL server to drop the database through.
    drop_through: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    /// A new database on the test's database server (PostgreSQL when configured).
    pub async fn new() -> Self {
        match std::env::var("TENANTRY_TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => Self {
                url: fresh_postgres_database(&admin_url).await,
                drop_through: Some(admin_url),
                _dir: tempfile::tempdir().expect("a temporary directory"),
            },
            _ => Self::sqlite(),
        }
    }

    /// A new SQLite database, whatever the test's database server.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self {
            url: format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("tenantry.db").display()
            ),
            drop_through: None,
            _dir: dir,
        }
    }

    /// A directory removed with the database, for the test's other files.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin_url) = self.drop_through.take() else {
            return;
        };
        let Some(name) = self
            .url
            .split('?')
            .next()
            .and_then(|base| base.rsplit('/').next())
            .map(str::to_owned)
        else {
            return;
        };
        // Drop may run inside the test's runtime: do the work on a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                use sea_orm::ConnectionTrait as _;
                let admin = sea_orm::Database::connect(admin_url.as_str()).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        });
        let _ = dropped.join();
    }
}

impl TestApp {
    /// Starts a server on a free loopback port, with a fresh SQLite file.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// As [`TestApp::spawn`], with the application state adjusted by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut AppState)) -> Self {
        Self::spawn_on_database(TestDatabase::new().await, configure).await
    }

    /// A server on `database`, which goes when the server does.
    pub async fn spawn_on_database(
        database: TestDatabase,
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        let store = Store::connect(&StoreOptions::new(database.url.clone()))
            .await
            .expect("the database opens");
        Self::serve(store, database.url.clone(), Some(database), configure)
    }

    /// A server already running at `address` (another process), on the database at
    /// `database_url`, that accepts [`ADMIN_TOKEN`].
    pub async fn attach(address: &str, database_url: &str) -> Self {
        let store = Store::connect(&StoreOptions::new(database_url.to_owned()))
            .await
            .expect("the database opens");
        Self {
            address: address.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            store,
            database_url: database_url.to_owned(),
            store_is_shared: true,
            _database: None,
        }
    }

    /// A server on the database at `url`, opened with `options`.
    pub async fn spawn_on(options: StoreOptions, configure: impl FnOnce(&mut AppState)) -> Self {
        let store = Store::connect(&options).await.expect("the database opens");
        Self::serve(store, options.url.clone(), None, configure)
    }

    /// A second server on the same database as `self`, with its own connections, as a
    /// second instance would be.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut AppState)) -> Self {
        let store = Store::connect(&StoreOptions::new(self.database_url.clone()))
            .await
            .expect("the database opens");
        Self::serve(store, self.database_url.clone(), None, configure)
    }

    fn serve(
        store: Store,
        database_url: String,
        database: Option<TestDatabase>,
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        let mut state = AppState::new(store.clone());
        state.admin_token = Some(KeyHash::of(ADMIN_TOKEN));
        // Most tests send many requests in a second: their limits are lifted, and the rate
        // limit tests set their own.
        state.key_rate_limit = u32::MAX;
        for tier in tenantry_domain::AccountType::ALL {
            state.tiers.get_mut(tier).rate_limits =
                tenantry_domain::RateLimits::uniform(tenantry_domain::limits::RATE_LIMIT_MAX);
        }
        // Test receivers listen on loopback.
        state.webhooks.allow_private = true;
        configure(&mut state);
        tokio::spawn(tenantry_http::webhooks::run(
            state.store.clone(),
            state.webhooks.clone(),
        ));
        tokio::spawn(tenantry_http::revocations::follow(
            state.store.clone(),
            state.keys.clone(),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let options = ServerOptions {
            workers: 2,
            ..Default::default()
        };
        let server = tenantry_http::server(state, listener, &options).expect("the server starts");
        tokio::spawn(server);
        Self {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            store,
            database_url,
            store_is_shared: false,
            _database: database,
        }
    }

    /// Serves this server's metrics on a free port (recording starts now, for the whole
    /// test process); answers the base URL.
    pub fn metrics(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let server =
            tenantry_http::metrics_listener::server(AppState::new(self.store.clone()), listener)
                .expect("the metrics server starts");
        tokio::spawn(server);
        format!("http://127.0.0.1:{port}")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request with `key` as a bearer token.
    pub fn request(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    /// Sends `body` as JSON with `key`; returns the status and the parsed body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        parse(request.send().await.expect("the server answers")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, key, Some(body)).await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, key, Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, key, Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, key, None).await
    }

    /// Creates a user (as the platform admin); returns its id.
    pub async fn create_user(&self, email: &str, name: &str) -> String {
        let (status, body) = self
            .post("/user", ADMIN_TOKEN, json!({"email": email, "name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("an id").to_owned()
    }

    /// Creates a key acting as `user_id` (as the platform admin); returns the key.
    pub async fn user_key(&self, user_id: &str) -> String {
        let (status, body) = self
            .post(
                "/api-key",
                ADMIN_TOKEN,
                json!({"name": "test key", "userId": user_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key"].as_str().expect("a key").to_owned()
    }

    /// A new user and a key acting as them.
    pub async fn new_user(&self, name: &str) -> TestUser {
        let local = name.to_lowercase().replace(' ', ".");
        // Servers of another process share their database across tests: emails must differ.
        let email = if self.store_is_shared {
            format!("{local}.{}@example.com", uuid::Uuid::now_v7().simple())
        } else {
            format!("{local}@example.com")
        };
        let id = self.create_user(&email, name).await;
        let key = self.user_key(&id).await;
        TestUser { id, key }
    }

    /// Creates an organization owned by the holder of `key`; returns its body.
    pub async fn create_organization(&self, key: &str, name: &str) -> Value {
        let (status, body) = self
            .post("/organization", key, json!({"organizationName": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Makes a key scoped to `org_id`, as the holder of `key`; returns the key.
    pub async fn organization_key(&self, key: &str, org_id: &str) -> String {
        let (status, body) = self
            .post(
                "/api-key",
                key,
                json!({"name": "organization key", "organizationId": org_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["key"].as_str().expect("a key").to_owned()
    }

    /// Adds `user_id` to `org_id` with `role` (as the platform admin).
    pub async fn add_member(&self, org_id: &str, user_id: &str, role: &str) {
        let (status, body) = self
            .post(
                &format!("/organization/{org_id}/member"),
                ADMIN_TOKEN,
                json!({"userId": user_id, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// Servers running as separate processes, to test several instances for real:
/// `TENANTRY_TEST_INSTANCES` lists their base URLs (comma-separated) and
/// `TENANTRY_TEST_INSTANCES_DATABASE_URL` their shared database.
pub fn external_instances() -> Option<(Vec<String>, String)> {
    let addresses = std::env::var("TENANTRY_TEST_INSTANCES").ok()?;
    let database = std::env::var("TENANTRY_TEST_INSTANCES_DATABASE_URL").ok()?;
    let addresses: Vec<String> = addresses
        .split(',')
        .map(str::trim)
        .map(str::to_owned)
        .collect();
    (addresses.len() >= 2).then_some((addresses, database))
}

/// Prefix of the databases the tests make on PostgreSQL (CI drops them after a run).
pub const TEST_DATABASE_PREFIX: &str = "tenantry_test_";

/// Creates an empty PostgreSQL database for one test, through the server `admin_url`
/// names, and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sea_orm::ConnectionTrait as _;
    let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(admin_url)
        .await
        .expect("the PostgreSQL server answers");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("a test database can be created");
    admin.close().await.ok();
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a database URL has a path");
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// A user and a key acting as them.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub key: String,
}

/// The status and JSON body of a response (`null` for an empty body).
pub async fn parse(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got: {text}"))
    };
    (status, body)
}

/// Asserts that `body` is a problem with `status` whose `errors` name `field`.
pub fn assert_problem_names(body: &Value, status: StatusCode, field: &str) {
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("an errors list: {body}"));
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["message"].is_string()),
        "expected an error naming {field}: {body}"
    );
}

/// A small PNG image (its signature and header chunk), as bytes.
pub fn png_bytes() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    bytes.extend_from_slice(b"tenantry test image");
    bytes
}

/// A data URL of `bytes` declared as `content_type`.
pub fn data_url(content_type: &str, bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: actix_web::http::header::HeaderMap,
    pub body: String,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

/// How a [`Receiver`] answers a request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Waits this long before answering 200.
    Hang(std::time::Duration),
}

/// A webhook receiver on a free loopback port: it keeps every request, and answers each
/// with the next of its scripted answers (200 once they run out).
#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Answer>>>,
}

impl Receiver {
    pub fn start() -> Self {
        Self::listening(TcpListener::bind("127.0.0.1:0").expect("a free port"))
    }

    /// A receiver on `port` of loopback.
    pub fn start_on(port: u16) -> Self {
        Self::listening(TcpListener::bind(("127.0.0.1", port)).expect("the port is free"))
    }

    fn listening(listener: TcpListener) -> Self {
        use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
        let received: std::sync::Arc<std::sync::Mutex<Vec<Received>>> = Default::default();
        let script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Answer>>> =
            Default::default();
        let (kept, answers) = (received.clone(), script.clone());
        let port = listener.local_addr().expect("an address").port();
        let server = HttpServer::new(move || {
            let (kept, answers) = (kept.clone(), answers.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: String| {
                let (kept, answers) = (kept.clone(), answers.clone());
                async move {
                    let answer = answers.lock().unwrap().pop_front();
                    kept.lock().unwrap().push(Received {
                        headers: req.headers().clone(),
                        body,
                    });
                    match answer {
                        None => HttpResponse::Ok().body("thanks"),
                        Some(Answer::Status(status)) => HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(status).expect("a status"),
                        )
                        .body("scripted answer"),
                        Some(Answer::Hang(wait)) => {
                            tokio::time::sleep(wait).await;
                            HttpResponse::Ok().finish()
                        }
                    }
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the receiver listens")
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            received,
            script,
        }
    }

    /// Answers the next requests so, in turn.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }

    /// What it has received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to `within`) until `done` holds of what it received; answers it.
    pub async fn wait_for(
        &self,
        within: std::time::Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver did not get what was awaited within {within:?}; it got {} requests: {:#?}",
                received.len(),
                received.iter().map(|r| r.body.clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}
