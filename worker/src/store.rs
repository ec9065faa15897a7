//! `StoreObject`: a SQLite-backed Durable Object and the typed call protocol the
//! Worker uses to reach it (JSON over a stub `fetch`).
//!
//! Every operation runs to completion without an `.await` between its SQL
//! statements, inside `transactionSync`, so it is atomic with respect to every
//! other request to the same object and all-or-nothing on failure.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{
    durable_object, Date, DurableObject, Env, Error, Method, ObjectNamespace, Request, RequestInit, Response, Result,
    SqlStorage, State,
};

use crate::sql::{as_i64, as_string, first_value, transaction_sync};

/// Binding name in wrangler.toml.
pub const BINDING: &str = "STORE";

/// One call into a `StoreObject`. Serialized as `{"op": "...", ...}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StoreOp {
    /// Counted use: succeeds while fewer than `limit` uses were recorded.
    QuotaUse {
        key: String,
        limit: i64,
    },
    QuotaGet {
        key: String,
    },
    /// Takes one use back (never below 0).
    QuotaDown {
        key: String,
    },
    /// Writes `value` over the record `name` (as `Put` would), then fails inside the
    /// same transaction: proves rollback (development route only).
    WriteThenFail {
        name: String,
        value: String,
    },
    /// Schedules the object's alarm `delay_ms` from now.
    AlarmSet {
        delay_ms: i64,
    },
    AlarmStatus,
    /// The engine's storage: read one record.
    Get {
        name: String,
    },
    /// The engine's storage: conditional write (`version` None: only if absent).
    Put {
        name: String,
        value: String,
        version: Option<i64>,
    },
    /// The engine's storage: delete if the version matches.
    Delete {
        name: String,
        version: i64,
    },
    /// Records a signed nonce as spent (and forgets those past `max_age`); `ok` only
    /// for the first spend of `id`.
    NonceSpend {
        id: String,
        issued: i64,
        now: i64,
        max_age: i64,
    },
    /// Jobs for issuers behind the front end (crate::backends).
    Job {
        call: crate::backends::JobOp,
    },
}

/// Reply to `Get`, `Put`, `Delete` and `NonceSpend`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KvReply {
    /// For Put/Delete/Nonce ops: whether it happened.
    pub ok: bool,
    /// The current value (after a successful Put: the new one).
    pub value: Option<String>,
    /// The current version (0: absent).
    pub version: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct QuotaReply {
    pub ok: bool,
    pub used: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AlarmReply {
    /// Pending alarm, ms since the epoch.
    pub scheduled_at: Option<i64>,
    pub fired: i64,
    pub last_fired_at: Option<i64>,
}

/// Sends `op` to the object named `name` and decodes its JSON reply.
pub async fn call<R: DeserializeOwned>(ns: &ObjectNamespace, name: &str, op: &StoreOp) -> Result<R> {
    let stub = ns.get_by_name(name)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&serde_json::to_string(op)?)));
    // The URL only has to parse; the object sees it, nothing resolves it.
    let req = Request::new_with_init("https://store.internal/call", &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        let body = resp.text().await.unwrap_or_default();
        return Err(Error::RustError(format!("store {name}: {} {body}", resp.status_code())));
    }
    resp.json().await
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS quota (key TEXT PRIMARY KEY, used INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS alarm_log (id INTEGER PRIMARY KEY, fired_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spent_nonces (id TEXT PRIMARY KEY, issued INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS spent_nonces_issued ON spent_nonces (issued)",
    crate::backends::SCHEMA,
];

#[durable_object]
pub struct StoreObject {
    state: State,
    /// The Worker's bindings and settings (jobs for back ends read them in alarms).
    env: Env,
    /// Schema setup error, reported on every call instead of panicking in `new`.
    schema_error: Option<String>,
}

impl DurableObject for StoreObject {
    fn new(state: State, env: Env) -> Self {
        // SQL is synchronous, so the schema is in place before the first event
        // without blockConcurrencyWhile.
        let schema_error = transaction_sync(&state.storage(), |sql| {
            for stmt in SCHEMA {
                sql.exec(stmt, None)?;
            }
            Ok(())
        })
        .err()
        .map(|e| e.to_string());
        Self { state, env, schema_error }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if let Some(err) = &self.schema_error {
            return Response::error(format!("schema: {err}"), 500);
        }
        let op: StoreOp = match req.json().await {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad call: {e}"), 400),
        };
        match self.handle(op).await {
            Ok(resp) => Ok(resp),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        // A jobs object's alarm drives its jobs; the log below is for the dev routes.
        if crate::backends::run_alarm(&self.state, &self.env).await? {
            return Response::ok("jobs run");
        }
        let now = Date::now().as_millis() as i64;
        transaction_sync(&self.state.storage(), |sql| {
            sql.exec("INSERT INTO alarm_log (fired_at) VALUES (?)", vec![now.into()])?;
            Ok(())
        })?;
        Response::ok("alarm handled")
    }
}

impl StoreObject {
    async fn handle(&self, op: StoreOp) -> Result<Response> {
        let storage = self.state.storage();
        match op {
            StoreOp::QuotaUse { key, limit } => {
                let reply = transaction_sync(&storage, |sql| quota_use(sql, &key, limit))?;
                Response::from_json(&reply)
            }
            StoreOp::QuotaDown { key } => {
                storage
                    .sql()
                    .exec("UPDATE quota SET used = max(used - 1, 0) WHERE key = ?", vec![key.as_str().into()])?;
                Response::from_json(&QuotaReply { ok: true, used: quota_used(&storage.sql(), &key)? })
            }
            StoreOp::QuotaGet { key } => {
                let used = quota_used(&storage.sql(), &key)?;
                Response::from_json(&QuotaReply { ok: true, used })
            }
            StoreOp::WriteThenFail { name, value } => {
                let result = transaction_sync(&storage, |sql| {
                    let (current, version) = kv_read(sql, &name)?;
                    kv_put(sql, &name, &value, current.map(|_| version))?;
                    Err::<(), _>(Error::RustError("deliberate failure after write".into()))
                });
                let (value, version) = kv_read(&storage.sql(), &name)?;
                Response::from_json(&KvReply { ok: result.is_ok(), value, version })
            }
            StoreOp::AlarmSet { delay_ms } => {
                storage.set_alarm(delay_ms).await?;
                Response::from_json(&self.alarm_status().await?)
            }
            StoreOp::AlarmStatus => Response::from_json(&self.alarm_status().await?),
            StoreOp::Get { name } => {
                let (value, version) = kv_read(&storage.sql(), &name)?;
                Response::from_json(&KvReply { ok: true, value, version })
            }
            StoreOp::Put { name, value, version } => {
                let reply = transaction_sync(&storage, |sql| kv_put(sql, &name, &value, version))?;
                Response::from_json(&reply)
            }
            StoreOp::Delete { name, version } => {
                let reply = transaction_sync(&storage, |sql| {
                    let (current, v) = kv_read(sql, &name)?;
                    if current.is_none() || v != version {
                        return Ok(KvReply { ok: false, value: current, version: v });
                    }
                    sql.exec("DELETE FROM kv WHERE name = ?", vec![name.as_str().into()])?;
                    Ok(KvReply { ok: true, value: None, version: 0 })
                })?;
                Response::from_json(&reply)
            }
            StoreOp::Job { call } => crate::backends::handle_op(&self.state, call).await,
            StoreOp::NonceSpend { id, issued, now, max_age } => {
                // Both statements run without an await between them: one caller gets the row.
                let ok = transaction_sync(&storage, |sql| {
                    sql.exec("DELETE FROM spent_nonces WHERE issued < ?", vec![(now - max_age).into()])?;
                    let cursor = sql.exec(
                        "INSERT INTO spent_nonces (id, issued) VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING issued",
                        vec![id.as_str().into(), issued.into()],
                    )?;
                    Ok(as_i64(first_value(cursor)?).is_some())
                })?;
                Response::from_json(&KvReply { ok, value: None, version: 0 })
            }
        }
    }

    async fn alarm_status(&self) -> Result<AlarmReply> {
        let storage = self.state.storage();
        let scheduled_at = storage.get_alarm().await?;
        let sql = storage.sql();
        let fired = as_i64(first_value(sql.exec("SELECT count(*) FROM alarm_log", None)?)?).unwrap_or(0);
        let last_fired_at = as_i64(first_value(sql.exec("SELECT max(fired_at) FROM alarm_log", None)?)?);
        Ok(AlarmReply { scheduled_at, fired, last_fired_at })
    }
}

fn quota_used(sql: &SqlStorage, key: &str) -> Result<i64> {
    let cursor = sql.exec("SELECT used FROM quota WHERE key = ?", vec![key.into()])?;
    Ok(as_i64(first_value(cursor)?).unwrap_or(0))
}

/// One statement does check-and-increment: the upsert's `WHERE` refuses the
/// update at the limit, and then `RETURNING` yields no row.
fn quota_use(sql: &SqlStorage, key: &str, limit: i64) -> Result<QuotaReply> {
    if limit < 1 {
        return Ok(QuotaReply { ok: false, used: quota_used(sql, key)? });
    }
    let cursor = sql.exec(
        "INSERT INTO quota (key, used) VALUES (?, 1) \
         ON CONFLICT (key) DO UPDATE SET used = used + 1 WHERE used < ? \
         RETURNING used",
        vec![key.into(), limit.into()],
    )?;
    match as_i64(first_value(cursor)?) {
        Some(used) => Ok(QuotaReply { ok: true, used }),
        None => Ok(QuotaReply { ok: false, used: quota_used(sql, key)? }),
    }
}

fn kv_read(sql: &SqlStorage, name: &str) -> Result<(Option<String>, i64)> {
    let cursor = sql.exec("SELECT value, version FROM kv WHERE name = ?", vec![name.into()])?;
    let mut rows = cursor.raw();
    let row = rows.next().transpose()?;
    for rest in rows {
        rest?;
    }
    let mut row = row.unwrap_or_default().into_iter();
    Ok((as_string(row.next()), as_i64(row.next()).unwrap_or(0)))
}

/// The engine's compare-and-set: write iff the current version is `expect`
/// (`None`: the record must be absent).
fn kv_put(sql: &SqlStorage, name: &str, value: &str, expect: Option<i64>) -> Result<KvReply> {
    let (current, version) = kv_read(sql, name)?;
    let matches = match expect {
        None => current.is_none(),
        Some(v) => current.is_some() && v == version,
    };
    if !matches {
        return Ok(KvReply { ok: false, value: current, version });
    }
    let version = version + 1;
    sql.exec(
        "INSERT INTO kv (name, value, version) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, version = excluded.version",
        vec![name.into(), value.into(), version.into()],
    )?;
    Ok(KvReply { ok: true, value: Some(value.to_owned()), version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_wire_format() {
        let op = StoreOp::QuotaUse { key: "eab".into(), limit: 3 };
        assert_eq!(serde_json::to_string(&op).unwrap(), r#"{"op":"quota_use","key":"eab","limit":3}"#);
        let op: StoreOp = serde_json::from_str(r#"{"op":"put","name":"k","value":"v","version":null}"#).unwrap();
        assert!(matches!(op, StoreOp::Put { version: None, .. }));
        let op: StoreOp = serde_json::from_str(r#"{"op":"alarm_status"}"#).unwrap();
        assert!(matches!(op, StoreOp::AlarmStatus));
    }
}
