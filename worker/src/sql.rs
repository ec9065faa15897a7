//! Helpers for Durable Object SQLite storage (`ctx.storage.sql`).
//!
//! `SqlStorage::exec` is synchronous. Rust code that runs a sequence of `exec`
//! calls without an `.await` in between cannot be interleaved with another
//! event of the same object, but a failure half-way would still leave the
//! earlier statements applied. [`transaction_sync`] binds
//! `ctx.storage.transactionSync(fn)` (not wrapped by workers-rs 0.8.7): every
//! statement inside commits together or, if the closure fails, not at all.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::worker_sys::DurableObjectStorage;
use worker::{Error, Result, SqlCursor, SqlStorage, SqlStorageValue, Storage};

#[wasm_bindgen]
extern "C" {
    /// `DurableObjectStorage`, viewed through the one method bound here.
    type SyncStorage;

    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync_raw(
        this: &SyncStorage,
        f: &mut dyn FnMut() -> std::result::Result<JsValue, JsValue>,
    ) -> std::result::Result<JsValue, JsValue>;
}

/// Runs `f` inside `storage.transactionSync()`. If `f` returns `Err`, the
/// transaction is rolled back and the error is returned unchanged.
pub fn transaction_sync<T>(storage: &Storage, f: impl FnOnce(&SqlStorage) -> Result<T>) -> Result<T> {
    let sql = storage.sql();
    let mut f = Some(f);
    let mut outcome: Option<Result<T>> = None;
    let mut body = || -> std::result::Result<JsValue, JsValue> {
        let f = f.take().ok_or_else(|| JsValue::from_str("transaction body ran twice"))?;
        match f(&sql) {
            Ok(value) => {
                outcome = Some(Ok(value));
                Ok(JsValue::UNDEFINED)
            }
            Err(err) => {
                let js = JsValue::from_str(&err.to_string());
                outcome = Some(Err(err));
                // Throwing makes transactionSync roll back.
                Err(js)
            }
        }
    };
    let raw: &DurableObjectStorage = storage.as_raw();
    let thrown = raw.unchecked_ref::<SyncStorage>().transaction_sync_raw(&mut body).err();
    match (outcome, thrown) {
        // The body's own error (it was rethrown to roll back).
        (Some(Err(err)), _) => Err(err),
        (Some(Ok(value)), None) => Ok(value),
        // The body succeeded but the commit failed, or the body never ran.
        (_, Some(js)) => Err(Error::from(js)),
        (None, None) => Err(Error::RustError("transactionSync did not run its body".into())),
    }
}

/// First column of the first row, if any (for `RETURNING x` / `SELECT x`).
/// Reads the cursor to the end so the statement always runs to completion.
pub fn first_value(cursor: SqlCursor) -> Result<Option<SqlStorageValue>> {
    let mut rows = cursor.raw();
    let first = rows.next().transpose()?;
    for rest in rows {
        rest?;
    }
    Ok(first.and_then(|row| row.into_iter().next()))
}

pub fn as_i64(value: Option<SqlStorageValue>) -> Option<i64> {
    match value {
        Some(SqlStorageValue::Integer(i)) => Some(i),
        Some(SqlStorageValue::Float(f)) => Some(f as i64),
        _ => None,
    }
}

pub fn as_string(value: Option<SqlStorageValue>) -> Option<String> {
    match value {
        Some(SqlStorageValue::String(s)) => Some(s),
        _ => None,
    }
}
