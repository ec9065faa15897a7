//! Certificate inspection for clients: what a renewal tool shows and what ARI
//! (RFC 9773) and revocation need, from `edge_acme_core::ca::cert::inspect`.

use const_oid::ObjectIdentifier;
use der::{Decode, Tag, Tagged};
use edge_acme_core::ca::cert::{cert_id, inspect, pem_to_ders};
use edge_acme_core::time::rfc3339;
use edge_acme_core::Problem;
use serde_json::{json, Value};
use x509_cert::name::Name;

/// The summary of the first certificate in a PEM bundle; a bundle without a readable
/// `CERTIFICATE` block is `malformed`.
pub fn summary_of_pem(pem: &str) -> Result<Value, Problem> {
    let ders = pem_to_ders(pem);
    let first = ders.first().ok_or_else(|| Problem::malformed("no PEM CERTIFICATE block found"))?;
    let mut v = summary(first)?;
    v["chainLength"] = json!(ders.len());
    Ok(v)
}

/// `{ names, dnsNames, ipAddresses, serial, notBefore, notAfter, issuer, ariCertId, isCa }`.
/// `serial` is lowercase hex, the dates are RFC 3339 (UTC), `issuer` is the RFC 4514
/// string of the issuer name and `ariCertId` the RFC 9773 `aki.serial` identifier.
pub fn summary(der: &[u8]) -> Result<Value, Problem> {
    let s = inspect(der)?;
    let issuer = Name::from_der(&s.issuer_der).map(|n| rfc4514(&n)).unwrap_or_default();
    let names: Vec<&String> = s.dns_names.iter().chain(s.ip_addrs.iter()).collect();
    let ari = if s.aki_key_id.is_some() { Value::String(cert_id(&s).encode()) } else { Value::Null };
    Ok(json!({
        "names": names,
        "dnsNames": s.dns_names,
        "ipAddresses": s.ip_addrs,
        "serial": s.serial_hex,
        "notBefore": rfc3339(s.not_before),
        "notAfter": rfc3339(s.not_after),
        "issuer": issuer,
        "ariCertId": ari,
        "isCa": s.is_ca,
    }))
}

/// Short names for the attribute types CA names use (RFC 4514 §3 plus DC and email).
const SHORT_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
];

fn attribute_name(oid: &ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    SHORT_NAMES.iter().find(|(o, _)| *o == dotted).map_or(dotted, |(_, n)| (*n).to_string())
}

/// The RFC 4514 string of a name: RDNs last to first, `+` inside a multi-valued RDN,
/// string values escaped and anything else as `#` and hex DER.
///
/// Written here rather than with x509-cert's `Display`, whose OID name database
/// costs about 29 KB of gzipped wasm for the same output on real CA names.
pub fn rfc4514(name: &Name) -> String {
    let rdns: Vec<_> = name.iter_rdn().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            out.push_str(&attribute_name(&atv.oid));
            out.push('=');
            let text = match atv.value.tag() {
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
                    core::str::from_utf8(atv.value.value()).ok()
                }
                _ => None,
            };
            match text {
                Some(t) => escape_value(t, &mut out),
                None => {
                    out.push('#');
                    let der = der::Encode::to_der(&atv.value).unwrap_or_default();
                    for b in der {
                        out.push_str(&format!("{b:02X}"));
                    }
                }
            }
        }
    }
    out
}

fn escape_value(v: &str, out: &mut String) {
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::str::FromStr;

    #[test]
    fn names_render_in_rfc4514_order_with_escapes() {
        let name = Name::from_str("CN=Test CA\\, Inc.,O=edge-acme,C=DE").unwrap();
        assert_eq!(rfc4514(&name), "CN=Test CA\\, Inc.,O=edge-acme,C=DE");
        assert_eq!(rfc4514(&name), name.to_string());
    }
}
