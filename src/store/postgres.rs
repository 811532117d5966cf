//! The handoff record on PostgreSQL, for a team: several servers (and CLI runs) share one
//! database. The only code that speaks to PostgreSQL (tokio-postgres).
//!
//! - **Same bytes as the file store**: a record's or claim event's row keeps the JSON the
//!   file store would write (`body`), so ids, hashes and JSON are the same in both and a
//!   copy between them is byte for byte.
//! - **Dense numbers**: `append` takes a per-story transaction-scoped advisory lock, reads
//!   the story's highest `n` and inserts `n + 1` in the same transaction: writers of one
//!   story queue, others do not wait. Acknowledged means committed (`COMMIT` returned).
//! - **First writer wins claims**: a claim event is inserted `ON CONFLICT DO NOTHING` on
//!   (story, n).
//! - **Append-only in the database**: triggers refuse UPDATE, DELETE and TRUNCATE on both
//!   tables, whoever asks (psql included).
//! - **Versioned schema**: [`MIGRATIONS`] are applied in order under an advisory lock, each
//!   recorded in `storypack_schema`; a database of a newer version is refused.
//! - **Announcements**: every write notifies channel `storypack` in its transaction (sent on
//!   commit); [`HandoffStore::subscribe`] listens on a connection of its own, reconnecting.
//! - **Faults**: a connection that fails is dropped; the next request connects again, with
//!   backoff ([`CONNECT_ATTEMPTS`]), and fails with a clear error while the database is down.
//!   A write is never retried blindly after it was sent (it may have committed).
//!
//! The trait is synchronous (the CLI and the server's blocking pool call it), so the store
//! owns a small tokio runtime and waits for its futures on a std channel: callable from any
//! thread, an async worker included, without nesting runtimes.

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use crate::handoff::store::{
    EntryKind, Put, RawEntry, Slot, StoreChange, check_story_id, sort_records, to_json,
};
use crate::handoff::{ClaimEvent, HandoffRecord, HandoffStore, StoreError};

pub use super::migrations::MIGRATIONS;

/// The NOTIFY channel.
const CHANNEL: &str = "storypack";
/// Advisory lock keys: (namespace, key) pairs; the namespace is storypack's.
const LOCK_NAMESPACE: i32 = 0x5350_4b00; // "SPK\0"
const MIGRATION_LOCK: i32 = 0;
/// Connection attempts per request before it fails, and the first pause between them
/// (doubled each time): about 1.5 s in all, so a request fails promptly while the
/// database is down and the next one tries again.
pub const CONNECT_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Idle connections kept for reuse.
const POOL_SIZE: usize = 16;

pub struct PostgresStore {
    config: Config,
    errors: Errors,
    runtime: Option<tokio::runtime::Runtime>,
    idle: Arc<Mutex<Vec<Client>>>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // A runtime cannot be dropped from async code; this one may be (the server's last
        // snapshot), so it is let go without waiting.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Makes the store's errors: naming the database without its password, and scrubbing the
/// password from any message that might echo it.
#[derive(Clone)]
struct Errors {
    /// `postgres://user@host:port/db`.
    describe: String,
    password: Option<String>,
}

impl Errors {
    fn msg(&self, message: impl std::fmt::Display) -> StoreError {
        let mut message = message.to_string();
        if let Some(p) = &self.password {
            message = message.replace(p.as_str(), "***");
        }
        StoreError::Database {
            store: self.describe.clone(),
            message,
        }
    }

    fn db(&self, what: &str, e: tokio_postgres::Error) -> StoreError {
        // The server's own message (a refused statement) is the useful part.
        let detail = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => crate::error::chain(&e),
        };
        self.msg(format!("{what}: {detail}"))
    }
}

/// `postgres://user@host:port/db` from a parsed config: what messages and logs show.
fn describe(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

type Work<T> = std::pin::Pin<Box<dyn Future<Output = (Client, Result<T, StoreError>)> + Send>>;

impl PostgresStore {
    /// Connects (once, to check the database and migrate it) and returns the store.
    /// Errors name the database without its password.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config = Config::from_str(url).map_err(|_| StoreError::Database {
            store: "--store".into(),
            // The parser's message may quote the URL: say only what was wrong.
            message: "not a valid postgres:// URL (postgres://user:password@host:port/db)".into(),
        })?;
        config
            .application_name("storypack")
            .connect_timeout(Duration::from_secs(5));
        let errors = Errors {
            describe: describe(&config),
            password: config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .filter(|p| !p.is_empty()),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("storypack-pg")
            .enable_all()
            .build()
            .map_err(|e| errors.msg(format!("cannot start the database client: {e}")))?;
        let store = PostgresStore {
            config,
            errors,
            runtime: Some(runtime),
            idle: Arc::new(Mutex::new(Vec::new())),
        };
        store.migrate()?;
        tracing::info!(store = %store.errors.describe, "PostgreSQL store ready");
        Ok(store)
    }

    /// The schema version of this build.
    pub fn schema_version() -> i32 {
        MIGRATIONS.len() as i32
    }

    /// An idle connection, or a new one (with backoff while the database is unreachable).
    async fn checkout(
        config: &Config,
        idle: &Mutex<Vec<Client>>,
        errors: &Errors,
    ) -> Result<Client, StoreError> {
        loop {
            let client = crate::sync::lock(idle).pop();
            match client {
                Some(c) if !c.is_closed() => return Ok(c),
                Some(_) => continue,
                None => break,
            }
        }
        let mut pause = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=CONNECT_ATTEMPTS {
            match config.connect(NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!(error = %e, "database connection ended");
                        }
                    });
                    return Ok(client);
                }
                Err(e) => {
                    last = match e.as_db_error() {
                        Some(db) => db.message().to_string(),
                        None => crate::error::chain(&e),
                    };
                    tracing::debug!(attempt, error = %errors.msg(&last), "cannot connect");
                    if attempt < CONNECT_ATTEMPTS {
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
            }
        }
        Err(errors.msg(format!(
            "the database is unreachable ({CONNECT_ATTEMPTS} attempts): {last}"
        )))
    }

    /// Starts `work` on a pooled connection on the store's runtime; its result arrives on
    /// the receiver. A connection that failed is not pooled again.
    fn spawn<T, W>(&self, work: W) -> std::sync::mpsc::Receiver<Result<T, StoreError>>
    where
        T: Send + 'static,
        W: FnOnce(Client, Errors) -> Work<T> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let Some(rt) = &self.runtime else {
            let _ = tx.send(Err(self.errors.msg("the store is closed")));
            return rx;
        };
        let (config, idle, errors) = (self.config.clone(), self.idle.clone(), self.errors.clone());
        rt.spawn(async move {
            let result = match Self::checkout(&config, &idle, &errors).await {
                Err(e) => Err(e),
                Ok(client) => {
                    let (client, result) = work(client, errors).await;
                    if !client.is_closed() {
                        let mut pool = crate::sync::lock(&idle);
                        if pool.len() < POOL_SIZE {
                            pool.push(client);
                        }
                    }
                    result
                }
            };
            let _ = tx.send(result);
        });
        rx
    }

    /// Runs `work` on a pooled connection and waits for it on this thread (any thread: the
    /// future runs on the store's own runtime).
    fn with_client<T, W>(&self, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(Client, Errors) -> Work<T> + Send + 'static,
    {
        self.spawn(work)
            .recv()
            .map_err(|_| self.errors.msg("the database client stopped"))?
    }

    /// Applies the migrations this database lacks; refuses one newer than this build.
    fn migrate(&self) -> Result<(), StoreError> {
        let known = Self::schema_version();
        self.with_client(move |mut client, err| {
            Box::pin(async move {
                let result = async {
                    let tx = client
                        .transaction()
                        .await
                        .map_err(|e| err.db("cannot migrate", e))?;
                    tx.execute(
                        "SELECT pg_advisory_xact_lock($1, $2)",
                        &[&LOCK_NAMESPACE, &MIGRATION_LOCK],
                    )
                    .await
                    .map_err(|e| err.db("cannot lock the schema", e))?;
                    tx.batch_execute(
                        "CREATE TABLE IF NOT EXISTS storypack_schema (
                            version    integer     PRIMARY KEY,
                            applied_at timestamptz NOT NULL DEFAULT now())",
                    )
                    .await
                    .map_err(|e| err.db("cannot create storypack_schema", e))?;
                    let row = tx
                        .query_one(
                            "SELECT coalesce(max(version), 0) FROM storypack_schema",
                            &[],
                        )
                        .await
                        .map_err(|e| err.db("cannot read the schema version", e))?;
                    let current: i32 = row.get(0);
                    if current > known {
                        return Err(err.msg(format!(
                            "the database's schema is version {current}, newer than this \
                             storypack's ({known}): upgrade storypack"
                        )));
                    }
                    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                        let version = i as i32 + 1;
                        tx.batch_execute(sql)
                            .await
                            .map_err(|e| err.db(&format!("migration {version} failed"), e))?;
                        tx.execute(
                            "INSERT INTO storypack_schema (version) VALUES ($1)",
                            &[&version],
                        )
                        .await
                        .map_err(|e| err.db("cannot record the schema version", e))?;
                        tracing::info!(version, "database schema migrated");
                    }
                    tx.commit().await.map_err(|e| err.db("cannot migrate", e))
                }
                .await;
                (client, result)
            })
        })
    }

    /// (story id, slot, body) of the rows `sql` lists.
    fn rows(
        &self,
        sql: &'static str,
        story_id: Option<&str>,
    ) -> Result<Vec<(String, Slot, String)>, StoreError> {
        if let Some(s) = story_id {
            check_story_id(s)?;
        }
        let story = story_id.map(str::to_string);
        self.with_client(move |client, err| {
            Box::pin(async move {
                let result = client
                    .query(sql, &[&story])
                    .await
                    .map(|rows| {
                        rows.iter()
                            .map(|r| {
                                let (n, writer): (i64, &str) = (r.get(1), r.get(2));
                                let slot =
                                    Slot::new(n as u64, Some(writer).filter(|w| !w.is_empty()));
                                (r.get(0), slot, r.get(3))
                            })
                            .collect::<Vec<_>>()
                    })
                    .map_err(|e| err.db("cannot read", e));
                (client, result)
            })
        })
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        story_id: &str,
        slot: &Slot,
        body: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
            path: format!("{} {table} {story_id}/{slot}", self.errors.describe),
            message: e.to_string(),
        })
    }
}

fn n_of(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt {
        path: String::new(),
        message: format!("number {n} is out of range"),
    })
}

const LIST_RECORDS: &str = "SELECT story_id, n, writer, body FROM storypack_handoffs \
     WHERE $1::text IS NULL OR story_id = $1 ORDER BY story_id, n, writer";
const LIST_CLAIMS: &str = "SELECT story_id, n, writer, body FROM storypack_claims \
     WHERE $1::text IS NULL OR story_id = $1 ORDER BY story_id, n, writer";

/// A slot's writer as stored: '' for none.
fn writer_of(slot: &Slot) -> String {
    slot.writer.clone().unwrap_or_default()
}

/// What `append` inserts, built on the caller's thread from the number the database gave.
struct Built {
    id: String,
    received_at: String,
    hash: String,
    body: String,
}

impl HandoffStore for PostgresStore {
    fn append(
        &self,
        story_id: &str,
        make: &dyn Fn(u64) -> HandoffRecord,
    ) -> Result<HandoffRecord, StoreError> {
        check_story_id(story_id)?;
        // One transaction: lock the story, read its highest n, then (on this thread: `make`
        // is not Send) build record n + 1, insert it, announce it, commit. The lock holds
        // until the commit, so numbers stay dense whoever writes.
        let story = story_id.to_string();
        let (n_tx, n_rx) = std::sync::mpsc::sync_channel::<i64>(1);
        let (built_tx, built_rx) = tokio::sync::oneshot::channel::<Built>();
        let done = self.spawn(move |mut client, err| {
            Box::pin(async move {
                let result = async {
                    let tx = client
                        .transaction()
                        .await
                        .map_err(|e| err.db("cannot record", e))?;
                    tx.execute(
                        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                        &[&LOCK_NAMESPACE, &story],
                    )
                    .await
                    .map_err(|e| err.db("cannot lock the story", e))?;
                    let row = tx
                        .query_one(
                            "SELECT coalesce(max(n), 0) FROM storypack_handoffs \
                             WHERE story_id = $1",
                            &[&story],
                        )
                        .await
                        .map_err(|e| err.db("cannot number the record", e))?;
                    let n: i64 = row.get::<_, i64>(0) + 1;
                    let _ = n_tx.send(n);
                    let built = built_rx
                        .await
                        .map_err(|_| err.msg("the record was not built"))?;
                    tx.execute(
                        "INSERT INTO storypack_handoffs \
                         (story_id, n, id, received_at, hash, body) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            &story,
                            &n,
                            &built.id,
                            &built.received_at,
                            &built.hash,
                            &built.body,
                        ],
                    )
                    .await
                    .map_err(|e| err.db("cannot record", e))?;
                    tx.execute(
                        "SELECT pg_notify($1, $2)",
                        &[&CHANNEL, &format!("h {story} {n}")],
                    )
                    .await
                    .map_err(|e| err.db("cannot announce the record", e))?;
                    tx.commit()
                        .await
                        .map_err(|e| err.db("cannot commit the record", e))
                }
                .await;
                (client, result)
            })
        });
        let stopped = || self.errors.msg("the database client stopped");
        let Ok(n) = n_rx.recv() else {
            // Failed before numbering: the task's error says why.
            return Err(done
                .recv()
                .map_err(|_| stopped())?
                .err()
                .unwrap_or_else(stopped));
        };
        let record = make(n as u64);
        let bytes = to_json(&record, std::path::Path::new(&self.errors.describe))?;
        let body =
            String::from_utf8(bytes).map_err(|_| self.errors.msg("a record is not UTF-8"))?;
        let _ = built_tx.send(Built {
            id: record.id.clone(),
            received_at: record.received_at.clone(),
            hash: record.hash.clone(),
            body,
        });
        done.recv().map_err(|_| stopped())??;
        Ok(record)
    }

    fn list(&self, story_id: Option<&str>) -> Result<Vec<HandoffRecord>, StoreError> {
        let mut out = Vec::new();
        for (s, slot, body) in self.rows(LIST_RECORDS, story_id)? {
            out.push(self.parse::<HandoffRecord>("storypack_handoffs", &s, &slot, &body)?);
        }
        // Newest last, as the file store lists them.
        sort_records(&mut out);
        Ok(out)
    }

    fn get(&self, story_id: &str, slot: &Slot) -> Result<Option<HandoffRecord>, StoreError> {
        check_story_id(story_id)?;
        let (story, n, writer) = (story_id.to_string(), n_of(slot.n)?, writer_of(slot));
        let body = self.with_client(move |client, err| {
            Box::pin(async move {
                let result = client
                    .query_opt(
                        "SELECT body FROM storypack_handoffs \
                         WHERE story_id = $1 AND n = $2 AND writer = $3",
                        &[&story, &n, &writer],
                    )
                    .await
                    .map(|row| row.map(|r| r.get::<_, String>(0)))
                    .map_err(|e| err.db("cannot read", e));
                (client, result)
            })
        })?;
        body.map(|b| self.parse("storypack_handoffs", story_id, slot, &b))
            .transpose()
    }

    fn append_claim(&self, event: &ClaimEvent) -> Result<bool, StoreError> {
        check_story_id(&event.story_id)?;
        let bytes = to_json(event, std::path::Path::new(&self.errors.describe))?;
        let body = String::from_utf8(bytes).map_err(|_| self.errors.msg("a claim is not UTF-8"))?;
        let (story, n, writer) = (
            event.story_id.clone(),
            n_of(event.n)?,
            writer_of(&event.slot()),
        );
        self.with_client(move |mut client, err| {
            Box::pin(async move {
                let result = async {
                    let tx = client
                        .transaction()
                        .await
                        .map_err(|e| err.db("cannot record the claim", e))?;
                    let inserted = tx
                        .execute(
                            "INSERT INTO storypack_claims (story_id, n, writer, body) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (story_id, n, writer) \
                             DO NOTHING",
                            &[&story, &n, &writer, &body],
                        )
                        .await
                        .map_err(|e| err.db("cannot record the claim", e))?;
                    if inserted == 1 {
                        tx.execute(
                            "SELECT pg_notify($1, $2)",
                            &[&CHANNEL, &format!("c {story} {n}")],
                        )
                        .await
                        .map_err(|e| err.db("cannot announce the claim", e))?;
                    }
                    tx.commit()
                        .await
                        .map_err(|e| err.db("cannot commit the claim", e))?;
                    Ok(inserted == 1)
                }
                .await;
                (client, result)
            })
        })
    }

    fn claim_events(&self, story_id: Option<&str>) -> Result<Vec<ClaimEvent>, StoreError> {
        self.rows(LIST_CLAIMS, story_id)?
            .into_iter()
            .map(|(s, slot, body)| self.parse("storypack_claims", &s, &slot, &body))
            .collect()
    }

    fn raw_entries(&self) -> Result<Vec<RawEntry>, StoreError> {
        let mut out = Vec::new();
        for (kind, sql) in [
            (EntryKind::Record, LIST_RECORDS),
            (EntryKind::Claim, LIST_CLAIMS),
        ] {
            for (story_id, slot, body) in self.rows(sql, None)? {
                out.push(RawEntry {
                    kind,
                    story_id,
                    slot,
                    bytes: body.into_bytes(),
                });
            }
        }
        Ok(out)
    }

    fn put_raw(&self, entry: &RawEntry) -> Result<Put, StoreError> {
        check_story_id(&entry.story_id)?;
        let (story, n, kind) = (entry.story_id.clone(), n_of(entry.slot.n)?, entry.kind);
        let writer = writer_of(&entry.slot);
        let corrupt = |message: String| StoreError::Corrupt {
            path: format!("{story}/{}", entry.slot),
            message,
        };
        let body =
            String::from_utf8(entry.bytes.clone()).map_err(|_| corrupt("not UTF-8".into()))?;
        // A record keeps its id, time and hash in columns too: read them from its JSON.
        let columns = match kind {
            EntryKind::Record => {
                let r: HandoffRecord =
                    serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
                Some((r.id, r.received_at, r.hash))
            }
            EntryKind::Claim => None,
        };
        self.with_client(move |client, err| {
            Box::pin(async move {
                let result = async {
                    let inserted = match &columns {
                        Some((id, at, hash)) => {
                            client
                                .execute(
                                    "INSERT INTO storypack_handoffs \
                                     (story_id, n, writer, id, received_at, hash, body) \
                                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                                     ON CONFLICT DO NOTHING",
                                    &[&story, &n, &writer, id, at, hash, &body],
                                )
                                .await
                        }
                        None => {
                            client
                                .execute(
                                    "INSERT INTO storypack_claims (story_id, n, writer, body) \
                                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                    &[&story, &n, &writer, &body],
                                )
                                .await
                        }
                    }
                    .map_err(|e| err.db("cannot copy", e))?;
                    if inserted == 1 {
                        return Ok(Put::Written);
                    }
                    let sql = match kind {
                        EntryKind::Record => {
                            "SELECT body FROM storypack_handoffs \
                             WHERE story_id = $1 AND n = $2 AND writer = $3"
                        }
                        EntryKind::Claim => {
                            "SELECT body FROM storypack_claims \
                             WHERE story_id = $1 AND n = $2 AND writer = $3"
                        }
                    };
                    let there: Option<String> = client
                        .query_opt(sql, &[&story, &n, &writer])
                        .await
                        .map_err(|e| err.db("cannot read", e))?
                        .map(|r| r.get(0));
                    Ok(if there.as_deref() == Some(body.as_str()) {
                        Put::Same
                    } else {
                        Put::Differs
                    })
                }
                .await;
                (client, result)
            })
        })
    }

    fn subscribe(&self, on_change: Box<dyn Fn(StoreChange) + Send + Sync>) -> bool {
        let Some(rt) = &self.runtime else {
            return false;
        };
        rt.spawn(listen(self.config.clone(), self.errors.clone(), on_change));
        true
    }

    fn describe(&self) -> String {
        self.errors.describe.clone()
    }
}

/// LISTENs on a connection of its own for as long as the store lives, reconnecting with
/// backoff; after each (re)connect it says [`StoreChange::Resync`], since announcements
/// sent while it was away are lost.
async fn listen(config: Config, errors: Errors, on_change: Box<dyn Fn(StoreChange) + Send + Sync>) {
    let describe = errors.describe.clone();
    let mut pause = FIRST_BACKOFF;
    loop {
        match config.connect(NoTls).await {
            Err(e) => {
                tracing::debug!(error = %errors.db("cannot listen", e), "not listening yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Ok((client, mut connection)) => {
                pause = FIRST_BACKOFF;
                let mut listening = false;
                let listen = client.batch_execute("LISTEN storypack");
                tokio::pin!(listen);
                loop {
                    tokio::select! {
                        r = &mut listen, if !listening => match r {
                            Ok(()) => {
                                listening = true;
                                tracing::debug!(store = %describe, "listening for other servers' writes");
                                on_change(StoreChange::Resync);
                            }
                            Err(e) => {
                                tracing::warn!(store = %describe, error = %crate::error::chain(&e), "LISTEN failed");
                                break;
                            }
                        },
                        message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                if let Some(change) = parse_payload(n.payload()) {
                                    on_change(change);
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!(store = %describe, error = %crate::error::chain(&e), "the listening connection failed; reconnecting");
                                break;
                            }
                            None => break,
                        },
                    }
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// `h <story> <n>` (a record) or `c <story> <n>` (a claim event).
fn parse_payload(payload: &str) -> Option<StoreChange> {
    let mut parts = payload.split(' ');
    let (kind, story_id, n) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
    check_story_id(story_id).ok()?;
    let story_id = story_id.to_string();
    match kind {
        "h" => Some(StoreChange::Record { story_id, n }),
        "c" => Some(StoreChange::Claim { story_id, n }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_never_holds_the_password() {
        let c = Config::from_str("postgres://team:s3cret@db.example:6543/plans").unwrap();
        assert_eq!(describe(&c), "postgres://team@db.example:6543/plans");
        let c = Config::from_str("host=/run/pg user=u password=s3cret dbname=d").unwrap();
        assert!(!describe(&c).contains("s3cret"));
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let Err(e) = PostgresStore::connect("postgres://u:s3cret@host:notaport/db") else {
            panic!("a bad port connects");
        };
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn payloads_parse_and_strays_are_ignored() {
        assert_eq!(
            parse_payload("h S-1 3"),
            Some(StoreChange::Record {
                story_id: "S-1".into(),
                n: 3
            })
        );
        assert_eq!(
            parse_payload("c S-1 2"),
            Some(StoreChange::Claim {
                story_id: "S-1".into(),
                n: 2
            })
        );
        assert_eq!(parse_payload("h ../x 1"), None);
        assert_eq!(parse_payload("x S-1 1"), None);
        assert_eq!(parse_payload("h S-1"), None);
    }
}
