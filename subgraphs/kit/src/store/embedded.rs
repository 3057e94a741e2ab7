//! The embedded backend: SQLite (bundled, JSON1) in WAL mode.
//!
//! SQLite is chosen because several processes can open one file at once safely (replicas of a
//! subgraph share it in the process-level topology tests), it is durable with
//! `synchronous=FULL` (an acknowledged write survives a crash or power loss), and it is one of the
//! best-tested embedded engines there is. Each collection is a table of `(id, doc JSON)`; indexes
//! are expression indexes on `json_extract`, so unique indexes are enforced by SQLite itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params_from_iter, Connection, TransactionBehavior};
use serde_json::Value;

use super::filter::check_name;
use super::{Backend, Doc, Filter, FindOptions, IndexSpec, Order, StoreError, StoreResult, Update};

const POOL_SIZE: usize = 8;

/// SQLite-backed document store.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Tables already created by this handle, so `CREATE TABLE IF NOT EXISTS` runs once each.
    tables: Mutex<std::collections::HashSet<String>>,
}

impl EmbeddedStore {
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| backend(format!("{}: {e}", dir.display())))?;
        }
        let store = Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                tables: Mutex::new(Default::default()),
            }),
        };
        // Open one connection now so a bad path fails at start, not on the first request.
        let conn = store.connect()?;
        store.inner.idle.lock().push(conn);
        Ok(store)
    }

    fn connect(&self) -> StoreResult<Connection> {
        open_wal(&self.inner.path, Duration::from_secs(10)).map_err(sql)
    }

    /// Runs `f` on a pooled connection in the blocking thread pool.
    async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Inner) -> StoreResult<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = this.inner.idle.lock().pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => this.connect()?,
            };
            let result = f(&mut conn, &this.inner);
            let mut idle = this.inner.idle.lock();
            if idle.len() < POOL_SIZE {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| backend(format!("storage task failed: {e}")))?
    }
}

impl Inner {
    fn ensure_table(&self, conn: &Connection, collection: &str) -> StoreResult<String> {
        let table = table_name(collection)?;
        if self.tables.lock().contains(&table) {
            return Ok(table);
        }
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL)"
        ))
        .map_err(sql)?;
        self.tables.lock().insert(table.clone());
        Ok(table)
    }
}

#[async_trait]
impl Backend for EmbeddedStore {
    fn name(&self) -> &'static str {
        "embedded"
    }

    async fn ensure_indexes(&self, indexes: &[IndexSpec]) -> StoreResult<()> {
        let indexes = indexes.to_vec();
        self.with_conn(move |conn, inner| {
            for index in &indexes {
                let table = inner.ensure_table(conn, index.collection)?;
                let columns = index
                    .fields
                    .iter()
                    .map(|(field, order)| {
                        Ok(format!("{} {}", field_expr(field)?, order_sql(*order)))
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                let unique = if index.unique { "UNIQUE " } else { "" };
                conn.execute_batch(&format!(
                    "CREATE {unique}INDEX IF NOT EXISTS {} ON {table} ({})",
                    index.name(),
                    columns.join(", ")
                ))
                .map_err(sql)?;
            }
            Ok(())
        })
        .await
    }

    async fn insert(&self, collection: &str, doc: Doc) -> StoreResult<()> {
        let collection = collection.to_owned();
        self.with_conn(move |conn, inner| {
            let table = inner.ensure_table(conn, &collection)?;
            let id = doc
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| backend("document without a string id".into()))?
                .to_owned();
            let json = serde_json::to_string(&doc).map_err(|e| backend(e.to_string()))?;
            conn.execute(
                &format!("INSERT INTO {table} (id, doc) VALUES (?1, ?2)"),
                rusqlite::params![id, json],
            )
            .map_err(|e| duplicate_or_sql(e, &collection))?;
            Ok(())
        })
        .await
    }

    async fn find(
        &self,
        collection: &str,
        filter: &Filter,
        opts: &FindOptions,
    ) -> StoreResult<Vec<Doc>> {
        let (collection, filter, opts) = (collection.to_owned(), filter.clone(), opts.clone());
        self.with_conn(move |conn, inner| {
            let table = inner.ensure_table(conn, &collection)?;
            let mut params = Vec::new();
            let mut sql_text = format!(
                "SELECT doc FROM {table} WHERE {}",
                where_sql(&filter, &mut params)?
            );
            if !opts.sort.is_empty() {
                let order = opts
                    .sort
                    .iter()
                    .map(|(f, o)| Ok(format!("{} {}", field_expr(f)?, order_sql(*o))))
                    .collect::<StoreResult<Vec<_>>>()?;
                sql_text.push_str(&format!(" ORDER BY {}", order.join(", ")));
            }
            if let Some(limit) = opts.limit {
                sql_text.push_str(&format!(" LIMIT {limit}"));
            }
            let mut stmt = conn.prepare_cached(&sql_text).map_err(sql)?;
            let rows = stmt
                .query_map(params_from_iter(params.iter()), |row| {
                    row.get::<_, String>(0)
                })
                .map_err(sql)?;
            rows.map(|row| parse_doc(&row.map_err(sql)?)).collect()
        })
        .await
    }

    async fn count(&self, collection: &str, filter: &Filter) -> StoreResult<u64> {
        let (collection, filter) = (collection.to_owned(), filter.clone());
        self.with_conn(move |conn, inner| {
            let table = inner.ensure_table(conn, &collection)?;
            let mut params = Vec::new();
            let where_clause = where_sql(&filter, &mut params)?;
            let count: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {where_clause}"),
                    params_from_iter(params.iter()),
                    |row| row.get(0),
                )
                .map_err(sql)?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    async fn update_one(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
    ) -> StoreResult<Option<Doc>> {
        let docs = self.update(collection, filter, update, Some(1)).await?;
        Ok(docs.into_iter().next())
    }

    async fn update_many(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
    ) -> StoreResult<u64> {
        Ok(self.update(collection, filter, update, None).await?.len() as u64)
    }

    async fn delete_many(&self, collection: &str, filter: &Filter) -> StoreResult<u64> {
        let (collection, filter) = (collection.to_owned(), filter.clone());
        self.with_conn(move |conn, inner| {
            let table = inner.ensure_table(conn, &collection)?;
            let mut params = Vec::new();
            let where_clause = where_sql(&filter, &mut params)?;
            let deleted = conn
                .execute(
                    &format!("DELETE FROM {table} WHERE {where_clause}"),
                    params_from_iter(params.iter()),
                )
                .map_err(sql)?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.with_conn(|conn, _| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(sql))
            .await
    }
}

impl EmbeddedStore {
    /// Read-modify-write under `BEGIN IMMEDIATE`, which takes SQLite's write lock up front, so a
    /// conditional update is atomic across threads and processes.
    async fn update(
        &self,
        collection: &str,
        filter: &Filter,
        update: &Update,
        limit: Option<u64>,
    ) -> StoreResult<Vec<Doc>> {
        let (collection, filter, update) = (collection.to_owned(), filter.clone(), update.clone());
        self.with_conn(move |conn, inner| {
            let table = inner.ensure_table(conn, &collection)?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql)?;
            let mut params = Vec::new();
            let mut select = format!(
                "SELECT doc FROM {table} WHERE {}",
                where_sql(&filter, &mut params)?
            );
            if let Some(limit) = limit {
                select.push_str(&format!(" LIMIT {limit}"));
            }
            let docs: Vec<String> = {
                let mut stmt = tx.prepare_cached(&select).map_err(sql)?;
                let rows = stmt
                    .query_map(params_from_iter(params.iter()), |row| row.get(0))
                    .map_err(sql)?;
                rows.collect::<Result<_, _>>().map_err(sql)?
            };
            let mut updated = Vec::with_capacity(docs.len());
            for text in docs {
                let mut doc = parse_doc(&text)?;
                update.apply(&mut doc)?;
                let id = doc
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let json = serde_json::to_string(&doc).map_err(|e| backend(e.to_string()))?;
                tx.execute(
                    &format!("UPDATE {table} SET doc = ?1 WHERE id = ?2"),
                    rusqlite::params![json, id],
                )
                .map_err(|e| duplicate_or_sql(e, &collection))?;
                updated.push(doc);
            }
            tx.commit().map_err(sql)?;
            Ok(updated)
        })
        .await
    }
}

/// Opens a SQLite file in WAL mode with `synchronous=FULL`, shared safely by processes.
///
/// Switching a fresh file to WAL needs a moment of exclusive access, and SQLite answers
/// `SQLITE_BUSY` at once (without the busy handler) when another process is doing the same, so
/// that step is retried until `busy` elapses.
pub(crate) fn open_wal(path: &Path, busy: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy)?;
    let deadline = std::time::Instant::now() + busy;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn table_name(collection: &str) -> StoreResult<String> {
    let name = check_name(collection)?;
    if name.contains('.') {
        return Err(StoreError::InvalidName(name.to_owned()));
    }
    Ok(format!("c_{name}"))
}

/// The SQL expression reading a (validated) field; `id` is the primary-key column.
fn field_expr(field: &str) -> StoreResult<String> {
    let field = check_name(field)?;
    Ok(if field == "id" {
        "id".to_owned()
    } else {
        format!("json_extract(doc, '$.{field}')")
    })
}

fn order_sql(order: Order) -> &'static str {
    match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

/// Compiles a filter to a WHERE clause, pushing bound parameters (values never enter SQL text).
fn where_sql(filter: &Filter, params: &mut Vec<rusqlite::types::Value>) -> StoreResult<String> {
    let compare = |field: &str, op: &str, value: &Value, params: &mut Vec<_>| {
        let expr = field_expr(field)?;
        if value.is_null() {
            return Ok(match op {
                "=" => format!("{expr} IS NULL"),
                "<>" => format!("{expr} IS NOT NULL"),
                _ => "0".to_owned(),
            });
        }
        params.push(sql_value(value));
        Ok(format!("{expr} {op} ?"))
    };
    Ok(match filter {
        Filter::All => "1".to_owned(),
        Filter::Eq(f, v) => compare(f, "=", v, params)?,
        Filter::Ne(f, v) => {
            // MongoDB's $ne also matches documents where the field is missing.
            let clause = compare(f, "<>", v, params)?;
            if v.is_null() {
                clause
            } else {
                format!("({clause} OR {} IS NULL)", field_expr(f)?)
            }
        }
        Filter::Gt(f, v) => compare(f, ">", v, params)?,
        Filter::Gte(f, v) => compare(f, ">=", v, params)?,
        Filter::Lt(f, v) => compare(f, "<", v, params)?,
        Filter::Lte(f, v) => compare(f, "<=", v, params)?,
        Filter::In(f, values) if values.is_empty() => {
            check_name(f)?;
            "0".to_owned()
        }
        Filter::In(f, values) => {
            let expr = field_expr(f)?;
            params.extend(values.iter().map(sql_value));
            format!("{expr} IN ({})", vec!["?"; values.len()].join(", "))
        }
        Filter::Contains(f, v) => {
            let field = check_name(f)?;
            params.push(sql_value(v));
            format!("EXISTS (SELECT 1 FROM json_each(doc, '$.{field}') WHERE value = ?)")
        }
        Filter::And(parts) | Filter::Or(parts) if parts.is_empty() => {
            if matches!(filter, Filter::And(_)) {
                "1"
            } else {
                "0"
            }
            .to_owned()
        }
        Filter::And(parts) | Filter::Or(parts) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let clauses = parts
                .iter()
                .map(|p| where_sql(p, params))
                .collect::<StoreResult<Vec<_>>>()?;
            format!("({})", clauses.join(joiner))
        }
    })
}

/// JSON value to the SQL value `json_extract` would produce for it.
fn sql_value(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => V::Integer(i),
            None => V::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

fn parse_doc(text: &str) -> StoreResult<Doc> {
    match serde_json::from_str(text) {
        Ok(Value::Object(doc)) => Ok(doc),
        Ok(_) => Err(backend("stored document is not an object".into())),
        Err(e) => Err(backend(format!("stored document is not JSON: {e}"))),
    }
}

fn duplicate_or_sql(e: rusqlite::Error, collection: &str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &e {
        if failure.code == rusqlite::ErrorCode::ConstraintViolation {
            let detail = message.clone().unwrap_or_default();
            let index = if detail.contains(".id") {
                format!("{collection}.id")
            } else {
                detail
            };
            return StoreError::Duplicate { index };
        }
    }
    sql(e)
}

fn sql(e: rusqlite::Error) -> StoreError {
    backend(e.to_string())
}

fn backend(message: String) -> StoreError {
    StoreError::Backend(message)
}
