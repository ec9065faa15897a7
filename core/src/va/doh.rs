//! DNS messages for hosts that resolve over DNS-over-HTTPS (RFC 8484).
//!
//! The Worker has no resolver of its own: it sends [`query`] to a DoH resolver (POST
//! with `Content-Type: application/dns-message`, or GET through [`get_url`]) and hands
//! the answer to [`parse_txt`] or [`parse_caa`]. Keeping the wire format here lets it be
//! tested natively and shared by every host.
//!
//! Answers are read like a stub resolver reads them: RCODE NXDOMAIN is
//! [`TransportError::NxDomain`], any other non-zero RCODE (SERVFAIL, REFUSED, ...) or a
//! truncated or malformed message is [`TransportError::Dns`], NOERROR without matching
//! records is an empty list. CNAMEs in the answer section are followed from the question
//! name to the end of the chain (at most 20 steps), and only records owned by that final
//! name count, so a stray record elsewhere in the message is never taken as an answer.
//!
//! ## Why the `domain` crate
//! The wire format comes from NLnet Labs' `domain` 0.12 (`default-features = false,
//! features = ["alloc"]`), which builds for both `wasm32v1-none` and
//! `wasm32-unknown-unknown`. The three candidates were measured in a `no_std` cdylib
//! doing exactly this module's work (build a query, parse TXT and CAA answers with CNAME
//! following; `opt-level = "z"`, LTO, wasm32-unknown-unknown), growth over an empty
//! baseline:
//!
//! | crate                                   | raw      | gzip -9 |
//! |-----------------------------------------|----------|---------|
//! | `domain` 0.12.3 (`alloc`)               | +18.2 KB | +8.2 KB |
//! | `simple-dns` 0.13.0 (`alloc`)           | +72.6 KB | +22.9 KB |
//! | `hickory-proto` 0.26.3 (no default)     | +94.1 KB | +34.1 KB |
//!
//! All three build `no_std`; `domain` is generic over the octets type and only the
//! record types parsed here are compiled in, where the others carry a parser for every
//! record type. It also provides the CNAME walk (`Message::canonical_name`). It declares
//! Rust 1.87 as its minimum, below what `sha2` 0.11 already requires of this crate.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::str::FromStr;

use domain::base::iana::{Class, Rcode, Rtype};
use domain::base::{Message, MessageBuilder, Name, ParseRecordData, ToName};
use domain::rdata::{Caa, Txt};

use super::{CaaRecord, TransportError};

/// The media type of DNS messages over HTTPS (RFC 8484 §6).
pub const CONTENT_TYPE: &str = "application/dns-message";

/// The record types the validation authority asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// TXT (dns-01).
    Txt,
    /// CAA (RFC 8659).
    Caa,
}

impl RecordType {
    fn rtype(self) -> Rtype {
        match self {
            RecordType::Txt => Rtype::TXT,
            RecordType::Caa => Rtype::CAA,
        }
    }
}

/// A recursive query (RD set, class IN, one question, no EDNS) for `name` and `qtype`.
///
/// RFC 8484 §4.1 asks for `id` 0, which keeps GET requests cacheable. Fails only for a
/// name that is not a valid domain name (an empty label, a label over 63 octets).
pub fn query(name: &str, qtype: RecordType, id: u16) -> Result<Vec<u8>, TransportError> {
    let qname: Name<Vec<u8>> =
        Name::from_str(name).map_err(|e| TransportError::Dns(format!("cannot query {name:?}: {e}")))?;
    let mut msg = MessageBuilder::new_vec();
    msg.header_mut().set_id(id);
    msg.header_mut().set_rd(true);
    let mut question = msg.question();
    question
        .push((qname, qtype.rtype(), Class::IN))
        .map_err(|e| TransportError::Dns(format!("cannot query {name:?}: {e}")))?;
    Ok(question.finish())
}

/// The GET form of a DoH request (RFC 8484 §4.1): `resolver` (e.g.
/// `https://cloudflare-dns.com/dns-query`) with `?dns=` and the base64url message.
pub fn get_url(resolver: &str, query: &[u8]) -> String {
    let sep = if resolver.contains('?') { '&' } else { '?' };
    format!("{resolver}{sep}dns={}", crate::b64::encode(query))
}

/// The TXT values of a response, each record's character-strings concatenated.
/// Bytes that are not UTF-8 are replaced (U+FFFD): such a value can never match.
pub fn parse_txt(resp: &[u8]) -> Result<Vec<String>, TransportError> {
    answers::<Txt<_>, _>(resp, |txt| {
        let text: Vec<u8> = txt.text();
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// The CAA records of a response.
pub fn parse_caa(resp: &[u8]) -> Result<Vec<CaaRecord>, TransportError> {
    answers::<Caa<_>, _>(resp, |caa| CaaRecord {
        flags: caa.flags().bits(),
        tag: caa.tag().to_string(),
        value: String::from_utf8_lossy(caa.value()).into_owned(),
    })
}

/// Checks the header, walks the CNAME chain and maps every answer record of type `D`
/// owned by the chain's last name through `f`.
fn answers<'a, D, T>(resp: &'a [u8], f: impl Fn(&D) -> T) -> Result<Vec<T>, TransportError>
where
    D: ParseRecordData<'a, [u8]>,
{
    let malformed = |why: &dyn core::fmt::Display| TransportError::Dns(format!("malformed DNS response: {why}"));
    let msg = Message::from_slice(resp).map_err(|e| malformed(&e))?;
    let header = msg.header();
    if !header.qr() {
        return Err(malformed(&"the message is a query, not a response"));
    }
    match header.rcode() {
        Rcode::NOERROR => {}
        Rcode::NXDOMAIN => return Err(TransportError::NxDomain),
        rcode => return Err(TransportError::Dns(format!("the resolver answered {rcode}"))),
    }
    if header.tc() {
        return Err(TransportError::Dns("the response is truncated".into()));
    }
    let question = msg.sole_question().map_err(|e| malformed(&e))?;
    let owner = msg
        .canonical_name()
        .ok_or_else(|| TransportError::Dns(format!("the CNAME chain from {} is too long", question.qname())))?;
    let mut out = Vec::new();
    for record in msg.answer().map_err(|e| malformed(&e))?.limit_to::<D>() {
        let record = record.map_err(|e| malformed(&e))?;
        if record.owner().name_eq(&owner) {
            out.push(f(record.data()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use domain::base::Ttl;
    use domain::rdata::caa::{CaaFlags, CaaTag};
    use domain::rdata::Cname;

    fn hex(s: &str) -> Vec<u8> {
        let s = s.trim();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn name(s: &str) -> Name<Vec<u8>> {
        Name::from_str(s).unwrap()
    }

    /// A response to a query for `qname`/`qtype`, built with `domain`'s own builder:
    /// `answers` pushes the answer section.
    fn respond(
        qname: &str,
        qtype: Rtype,
        rcode: Rcode,
        answers: impl FnOnce(&mut domain::base::message_builder::AnswerBuilder<Vec<u8>>),
    ) -> Vec<u8> {
        let mut msg = MessageBuilder::new_vec();
        msg.header_mut().set_id(0);
        msg.header_mut().set_qr(true);
        msg.header_mut().set_rd(true);
        msg.header_mut().set_ra(true);
        msg.header_mut().set_rcode(rcode);
        let mut q = msg.question();
        q.push((name(qname), qtype, Class::IN)).unwrap();
        let mut a = q.answer();
        answers(&mut a);
        a.finish()
    }

    fn txt(s: &[u8]) -> Txt<Vec<u8>> {
        Txt::build_from_slice(s).unwrap()
    }

    fn caa(flags: u8, tag: &str, value: &str) -> Caa<Vec<u8>> {
        Caa::new(CaaFlags::new(flags), CaaTag::from_octets(tag.as_bytes().to_vec()).unwrap(), value.as_bytes().to_vec())
    }

    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort();
        v
    }

    fn ttl() -> Ttl {
        Ttl::from_secs(60)
    }

    #[test]
    fn queries_match_dnspython_byte_for_byte() {
        assert_eq!(
            query("_acme-challenge.example.com", RecordType::Txt, 0).unwrap(),
            hex(include_str!("testdata/doh/query_txt_id0.hex"))
        );
        assert_eq!(
            query("www.Example.org.", RecordType::Caa, 0x1234).unwrap(),
            hex(include_str!("testdata/doh/query_caa_id4660.hex"))
        );
    }

    #[test]
    fn queries_spell_out_the_header_and_question() {
        let q = query("a.example", RecordType::Caa, 0xabcd).unwrap();
        #[rustfmt::skip]
        let expected = [
            0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, // id, RD, QDCOUNT 1
            1, b'a', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
            0x01, 0x01, 0, 1, // CAA (257), IN
        ];
        assert_eq!(q, expected);
    }

    #[test]
    fn invalid_names_are_refused() {
        let long = "a".repeat(64);
        assert!(matches!(query(&format!("{long}.example"), RecordType::Txt, 0), Err(TransportError::Dns(_))));
        assert!(query("a..example", RecordType::Txt, 0).is_err());
    }

    #[test]
    fn get_url_is_base64url_without_padding() {
        let q = hex(include_str!("testdata/doh/query_txt_id0.hex"));
        let url = get_url("https://dns.example/dns-query", &q);
        assert_eq!(
            url,
            "https://dns.example/dns-query?dns=AAABAAABAAAAAAAAD19hY21lLWNoYWxsZW5nZQdleGFtcGxlA2NvbQAAEAAB"
        );
        assert!(get_url("https://dns.example/q?ct", &q).starts_with("https://dns.example/q?ct&dns="));
    }

    #[test]
    fn txt_values_concatenate_character_strings() {
        let resp = respond("_acme-challenge.example.com", Rtype::TXT, Rcode::NOERROR, |a| {
            a.push((name("_acme-challenge.example.com"), Class::IN, ttl(), txt(b"first"))).unwrap();
            a.push((name("_acme-challenge.example.com"), Class::IN, ttl(), txt(&[b'x'; 300]))).unwrap();
        });
        let values = parse_txt(&resp).unwrap();
        assert_eq!(values, vec![String::from("first"), "x".repeat(300)]);
    }

    #[test]
    fn txt_cname_chain_is_followed_and_other_owners_ignored() {
        let resp = respond("_acme-challenge.Example.com", Rtype::TXT, Rcode::NOERROR, |a| {
            a.push((name("_acme-challenge.example.com"), Class::IN, ttl(), Cname::new(name("alias.example.net"))))
                .unwrap();
            a.push((name("unrelated.example.net"), Class::IN, ttl(), txt(b"not me"))).unwrap();
            a.push((name("ALIAS.example.net"), Class::IN, ttl(), txt(b"me"))).unwrap();
        });
        assert_eq!(parse_txt(&resp).unwrap(), ["me"]);
    }

    #[test]
    fn cname_loops_are_dns_errors() {
        let resp = respond("a.example", Rtype::TXT, Rcode::NOERROR, |a| {
            a.push((name("a.example"), Class::IN, ttl(), Cname::new(name("b.example")))).unwrap();
            a.push((name("b.example"), Class::IN, ttl(), Cname::new(name("a.example")))).unwrap();
        });
        assert!(matches!(parse_txt(&resp), Err(TransportError::Dns(_))));
    }

    #[test]
    fn rcodes_map_to_transport_errors() {
        let nx = respond("x.example", Rtype::TXT, Rcode::NXDOMAIN, |_| {});
        assert_eq!(parse_txt(&nx), Err(TransportError::NxDomain));
        let sf = respond("x.example", Rtype::CAA, Rcode::SERVFAIL, |_| {});
        match parse_caa(&sf) {
            Err(TransportError::Dns(why)) => assert!(why.contains("SERVFAIL"), "{why}"),
            other => panic!("{other:?}"),
        }
        let refused = respond("x.example", Rtype::CAA, Rcode::REFUSED, |_| {});
        assert!(matches!(parse_caa(&refused), Err(TransportError::Dns(_))));
        let empty = respond("x.example", Rtype::CAA, Rcode::NOERROR, |_| {});
        assert_eq!(parse_caa(&empty), Ok(vec![]));
    }

    #[test]
    fn queries_truncation_and_garbage_are_refused() {
        let q = query("x.example", RecordType::Txt, 0).unwrap();
        assert!(matches!(parse_txt(&q), Err(TransportError::Dns(_))));
        let mut tc = respond("x.example", Rtype::TXT, Rcode::NOERROR, |_| {});
        tc[2] |= 0x02;
        assert!(matches!(parse_txt(&tc), Err(TransportError::Dns(_))));
        assert!(matches!(parse_txt(&[0, 1, 2]), Err(TransportError::Dns(_))));
        let mut cut = respond("x.example", Rtype::TXT, Rcode::NOERROR, |a| {
            a.push((name("x.example"), Class::IN, ttl(), txt(b"hello"))).unwrap();
        });
        cut.truncate(cut.len() - 3);
        assert!(matches!(parse_txt(&cut), Err(TransportError::Dns(_))));
    }

    #[test]
    fn caa_records_keep_flags_tag_and_value() {
        let resp = respond("example.com", Rtype::CAA, Rcode::NOERROR, |a| {
            a.push((name("example.com"), Class::IN, ttl(), caa(0, "issue", "ca.test; accounturi=https://a/1")))
                .unwrap();
            a.push((name("example.com"), Class::IN, ttl(), caa(128, "tbs", "x"))).unwrap();
        });
        assert_eq!(
            parse_caa(&resp).unwrap(),
            [CaaRecord::new(0, "issue", "ca.test; accounturi=https://a/1"), CaaRecord::new(128, "tbs", "x")]
        );
    }

    #[test]
    fn dnspython_txt_through_a_cname_chain() {
        let values = parse_txt(&hex(include_str!("testdata/doh/txt_cname_chain.hex"))).unwrap();
        assert_eq!(
            sorted(values),
            ["LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo", "fWnXqL9tM2nV1JZ2j3k5oS8fYpC0bq4lH7e6Rrt1uXw"]
        );
    }

    #[test]
    fn dnspython_long_txt_value() {
        let values = parse_txt(&hex(include_str!("testdata/doh/txt_long.hex"))).unwrap();
        assert_eq!(values, [format!("{}{}", "a".repeat(255), "b".repeat(45))]);
    }

    #[test]
    fn dnspython_negative_answers() {
        assert_eq!(parse_txt(&hex(include_str!("testdata/doh/txt_nxdomain.hex"))), Err(TransportError::NxDomain));
        assert_eq!(parse_caa(&hex(include_str!("testdata/doh/caa_nodata.hex"))), Ok(vec![]));
        assert!(matches!(parse_caa(&hex(include_str!("testdata/doh/caa_servfail.hex"))), Err(TransportError::Dns(_))));
    }

    #[test]
    fn dnspython_caa_through_a_cname() {
        let records = parse_caa(&hex(include_str!("testdata/doh/caa_cname.hex"))).unwrap();
        let mut got: Vec<(u8, String, String)> = records.into_iter().map(|r| (r.flags, r.tag, r.value)).collect();
        got.sort();
        let want: Vec<(u8, String, String)> = vec![
            (0, "iodef".into(), "mailto:security@example.net".into()),
            (0, "issue".into(), "ca.test; accounturi=https://acme.test/acct/1; validationmethods=dns-01".into()),
            (0, "issuewild".into(), ";".into()),
            (128, "tbs".into(), "Unknown".into()),
        ];
        assert_eq!(got, want);
    }
}
