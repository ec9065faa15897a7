//! Errors as JavaScript sees them: an `Error` whose `type` is the RFC 8555 problem type
//! URI (`urn:ietf:params:acme:error:malformed`...), with `status` and `detail` beside it,
//! so callers branch on the same field a server's problem document carries.

use edge_acme_core::Problem;
use wasm_bindgen::JsValue;

/// Result of an export that may throw.
pub type JsResult<T> = Result<T, JsValue>;

/// The JS `Error` for a problem. `name` is `AcmeError`; the message is the detail.
pub fn to_js(p: Problem) -> JsValue {
    let err = js_sys::Error::new(&p.detail);
    err.set_name("AcmeError");
    crate::set(&err, "type", &JsValue::from_str(&p.kind.uri()));
    crate::set(&err, "detail", &JsValue::from_str(&p.detail));
    crate::set(&err, "status", &JsValue::from(p.status));
    err.into()
}
