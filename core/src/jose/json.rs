//! JSON parsing that refuses duplicate member names.
//!
//! `serde_json::Value` silently keeps the last of two equal member names, so
//! `{"alg":"ES256","alg":"none"}` would read as `none` here and possibly as `ES256`
//! elsewhere. This visitor builds the same `Value` but fails on the second occurrence,
//! at every nesting level, comparing names after unescaping (so `"a"` and `"\u0061"`
//! collide too). serde_json still does all the lexing, its recursion limit still
//! applies, and trailing non-whitespace after the value is still an error.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses one JSON text, refusing duplicate member names anywhere in it.
pub fn from_slice_strict(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0).map_err(|e| e.to_string())
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate member name {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_same_values_as_serde_json() {
        let text = br#"{"a":[1,-2,3.5,true,null,"x"],"b":{"c":{}},"d":18446744073709551615}"#;
        assert_eq!(from_slice_strict(text).unwrap(), serde_json::from_slice::<Value>(text).unwrap());
        assert_eq!(from_slice_strict(b" [] ").unwrap(), json!([]));
    }

    #[test]
    fn duplicate_member_names_are_refused_at_every_level() {
        assert!(from_slice_strict(br#"{"a":1,"a":2}"#).unwrap_err().contains("duplicate"));
        assert!(from_slice_strict(br#"{"x":{"a":1,"a":1}}"#).is_err());
        assert!(from_slice_strict(br#"[{"k":[{"a":1,"b":2,"a":3}]}]"#).is_err());
    }

    #[test]
    fn escaped_duplicate_names_collide_after_unescaping() {
        assert!(from_slice_strict(br#"{"alg":"ES256","\u0061lg":"none"}"#).is_err());
    }

    #[test]
    fn trailing_data_and_invalid_json_are_refused() {
        assert!(from_slice_strict(br#"{"a":1} x"#).is_err());
        assert!(from_slice_strict(br#"{"a":1}{"a":1}"#).is_err());
        assert!(from_slice_strict(b"").is_err());
        assert!(from_slice_strict(b"{'a':1}").is_err());
        assert!(from_slice_strict(b"\"\xff\"").is_err());
    }

    #[test]
    fn deep_nesting_hits_the_recursion_limit_instead_of_the_stack() {
        let mut deep = alloc::vec![b'['; 10_000];
        deep.extend(alloc::vec![b']'; 10_000]);
        assert!(from_slice_strict(&deep).is_err());
    }
}
