#!/usr/bin/env python3
"""Writes the DNS wire-format fixtures that core/src/va/doh.rs tests against.

The bytes come from dnspython, an implementation independent of the Rust `domain`
crate that doh.rs uses, so the tests check our queries and our parsing against a
second encoder. The responses are shaped like what a public DoH resolver returns
(RD+RA set, an EDNS OPT record in the additional section, name compression, a CNAME
chain before the data, SOA in the authority section of negative answers).

Run from the repository root (needs `pip install dnspython`, tested with 2.9.2):

    .cache/venv/bin/python core/src/va/testdata/gen_doh_fixtures.py

Each fixture is one line of lowercase hex in core/src/va/testdata/doh/<name>.hex.
"""

import pathlib

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

OUT = pathlib.Path(__file__).resolve().parent / "doh"


def write(name: str, wire: bytes) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.hex").write_text(wire.hex() + "\n")


def query(qname: str, qtype: str, qid: int) -> dns.message.QueryMessage:
    # RD only, no EDNS: what doh.rs::query sends.
    q = dns.message.make_query(qname, qtype, use_edns=False)
    q.id = qid
    return q


def response(q: dns.message.QueryMessage, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    r = dns.message.make_response(q)
    r.flags |= dns.flags.RA
    r.set_rcode(rcode)
    # Resolvers answer with EDNS; the OPT record must not confuse the parser.
    r.use_edns(0, payload=1232)
    return r


def add(section, owner: str, ttl: int, rdtype: str, *texts: str) -> None:
    section.append(dns.rrset.from_text(owner, ttl, "IN", rdtype, *texts))


def soa(r: dns.message.Message, zone: str) -> None:
    add(r.authority, zone, 300, "SOA", f"ns1.{zone} hostmaster.{zone} 2026120401 7200 3600 1209600 300")


def main() -> None:
    # Queries, checked byte for byte against doh::query.
    write("query_txt_id0", query("_acme-challenge.example.com.", "TXT", 0).to_wire())
    write("query_caa_id4660", query("www.Example.org.", "CAA", 0x1234).to_wire())

    # dns-01 for a wildcard and its base name: two values, one split into two
    # character-strings; the challenge name delegated by CNAME (a common setup), so the
    # TXT records sit at the end of a two-step chain.
    q = query("_acme-challenge.example.com.", "TXT", 0xBEEF)
    r = response(q)
    add(r.answer, "_acme-challenge.example.com.", 300, "CNAME", "_acme-challenge.example.com.validation.example.net.")
    add(r.answer, "_acme-challenge.example.com.validation.example.net.", 300, "CNAME", "x1.acme-dns.example.org.")
    add(
        r.answer,
        "x1.acme-dns.example.org.",
        60,
        "TXT",
        '"LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo"',
        '"fWnXqL9tM2nV1JZ2" "j3k5oS8fYpC0bq4lH7e6Rrt1uXw"',
    )
    # A stray record for another owner must not be taken as an answer.
    add(r.additional, "unrelated.example.org.", 60, "TXT", '"not an answer"')
    write("txt_cname_chain", r.to_wire())

    # A TXT value longer than 255 bytes arrives as several character-strings.
    q = query("_acme-challenge.long.example.", "TXT", 7)
    r = response(q)
    long = "a" * 255 + "b" * 45
    add(r.answer, "_acme-challenge.long.example.", 60, "TXT", f'"{long[:255]}" "{long[255:]}"')
    write("txt_long", r.to_wire())

    # NXDOMAIN and NOERROR/NODATA, with the SOA a resolver adds.
    q = query("_acme-challenge.nowhere.example.", "TXT", 8)
    r = response(q, dns.rcode.NXDOMAIN)
    soa(r, "example.")
    write("txt_nxdomain", r.to_wire())
    q = query("example.com.", "CAA", 9)
    r = response(q)
    soa(r, "example.com.")
    write("caa_nodata", r.to_wire())

    # SERVFAIL (e.g. a DNSSEC failure at the resolver).
    q = query("broken.example.", "CAA", 10)
    write("caa_servfail", response(q, dns.rcode.SERVFAIL).to_wire())

    # CAA with every kind of property: issue with RFC 8657 parameters, issuewild
    # forbidding, iodef, and a critical unknown tag; reached through a CNAME.
    q = query("www.example.com.", "CAA", 11)
    r = response(q)
    add(r.answer, "www.example.com.", 300, "CNAME", "cdn.example.net.")
    add(
        r.answer,
        "cdn.example.net.",
        300,
        "CAA",
        '0 issue "ca.test; accounturi=https://acme.test/acct/1; validationmethods=dns-01"',
        '0 issuewild ";"',
        '0 iodef "mailto:security@example.net"',
        '128 tbs "Unknown"',
    )
    write("caa_cname", r.to_wire())


if __name__ == "__main__":
    main()
