//! RFC 8555 §6.7 problem documents.
//!
//! Every error the engine can produce is a [`Problem`]: an ACME error type, an HTTP
//! status and a human-readable detail. Constructors are named after the error type
//! (`Problem::malformed`, `Problem::bad_nonce`, ...) so that a handler cannot pair a
//! type with the wrong status by accident.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

use crate::wire::Identifier;

/// The `urn:ietf:params:acme:error:` namespace prefix.
pub const ACME_ERROR_NS: &str = "urn:ietf:params:acme:error:";

/// The error types of RFC 8555 §6.7, plus those registered by later RFCs and drafts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// The request specified an account that does not exist.
    AccountDoesNotExist,
    /// The request specified a certificate to be revoked that has already been revoked.
    AlreadyRevoked,
    /// The CSR is unacceptable (e.g., due to a short key).
    BadCsr,
    /// The client sent an unacceptable anti-replay nonce.
    BadNonce,
    /// The JWS was signed by a public key the server does not support.
    BadPublicKey,
    /// The revocation reason provided is not allowed by the server.
    BadRevocationReason,
    /// The JWS was signed with an algorithm the server does not support.
    BadSignatureAlgorithm,
    /// CAA records forbid the CA from issuing a certificate.
    Caa,
    /// Specific error conditions are indicated in the "subproblems" array.
    Compound,
    /// The server could not connect to the validation target.
    Connection,
    /// There was a problem with a DNS query during identifier validation.
    Dns,
    /// The request must include a value for the "externalAccountBinding" field.
    ExternalAccountRequired,
    /// Response received didn't match the challenge's requirements.
    IncorrectResponse,
    /// A contact URL for an account was invalid.
    InvalidContact,
    /// The request message was malformed.
    Malformed,
    /// The request attempted to finalize an order that is not ready to be finalized.
    OrderNotReady,
    /// The request exceeds a rate limit.
    RateLimited,
    /// The server will not issue certificates for the identifier.
    RejectedIdentifier,
    /// The server experienced an internal error.
    ServerInternal,
    /// The server received a TLS error during validation.
    Tls,
    /// The client lacks sufficient authorization.
    Unauthorized,
    /// A contact URL for an account used an unsupported protocol scheme.
    UnsupportedContact,
    /// An identifier is of an unsupported type.
    UnsupportedIdentifier,
    /// Visit the "instance" URL and take actions specified there.
    UserActionRequired,
    /// RFC 9773: the certificate named in `replaces` was already replaced.
    AlreadyReplaced,
    /// ACME profiles draft: the requested profile is not offered.
    InvalidProfile,
    /// HTTP-level errors outside the ACME namespace (404, 405), typed `about:blank`.
    NotFound,
    /// `about:blank` with 405; the response must carry an `Allow` header.
    MethodNotAllowed,
}

impl ProblemType {
    /// Every type, for exhaustive tests and documentation.
    pub const ALL: [ProblemType; 28] = [
        Self::AccountDoesNotExist,
        Self::AlreadyRevoked,
        Self::BadCsr,
        Self::BadNonce,
        Self::BadPublicKey,
        Self::BadRevocationReason,
        Self::BadSignatureAlgorithm,
        Self::Caa,
        Self::Compound,
        Self::Connection,
        Self::Dns,
        Self::ExternalAccountRequired,
        Self::IncorrectResponse,
        Self::InvalidContact,
        Self::Malformed,
        Self::OrderNotReady,
        Self::RateLimited,
        Self::RejectedIdentifier,
        Self::ServerInternal,
        Self::Tls,
        Self::Unauthorized,
        Self::UnsupportedContact,
        Self::UnsupportedIdentifier,
        Self::UserActionRequired,
        Self::AlreadyReplaced,
        Self::InvalidProfile,
        Self::NotFound,
        Self::MethodNotAllowed,
    ];

    /// The short name after the `urn:ietf:params:acme:error:` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Self::AccountDoesNotExist => "accountDoesNotExist",
            Self::AlreadyRevoked => "alreadyRevoked",
            Self::BadCsr => "badCSR",
            Self::BadNonce => "badNonce",
            Self::BadPublicKey => "badPublicKey",
            Self::BadRevocationReason => "badRevocationReason",
            Self::BadSignatureAlgorithm => "badSignatureAlgorithm",
            Self::Caa => "caa",
            Self::Compound => "compound",
            Self::Connection => "connection",
            Self::Dns => "dns",
            Self::ExternalAccountRequired => "externalAccountRequired",
            Self::IncorrectResponse => "incorrectResponse",
            Self::InvalidContact => "invalidContact",
            Self::Malformed => "malformed",
            Self::OrderNotReady => "orderNotReady",
            Self::RateLimited => "rateLimited",
            Self::RejectedIdentifier => "rejectedIdentifier",
            Self::ServerInternal => "serverInternal",
            Self::Tls => "tls",
            Self::Unauthorized => "unauthorized",
            Self::UnsupportedContact => "unsupportedContact",
            Self::UnsupportedIdentifier => "unsupportedIdentifier",
            Self::UserActionRequired => "userActionRequired",
            Self::AlreadyReplaced => "alreadyReplaced",
            Self::InvalidProfile => "invalidProfile",
            Self::NotFound => "notFound",
            Self::MethodNotAllowed => "methodNotAllowed",
        }
    }

    /// The full `type` URI as it appears in a problem document.
    pub fn uri(self) -> String {
        match self {
            Self::NotFound | Self::MethodNotAllowed => "about:blank".into(),
            _ => alloc::format!("{ACME_ERROR_NS}{}", self.name()),
        }
    }

    /// Parses a `type` URI; unknown URIs give `None`.
    pub fn from_uri(uri: &str) -> Option<Self> {
        let name = uri.strip_prefix(ACME_ERROR_NS)?;
        Self::ALL.into_iter().find(|t| t.name() == name && !matches!(t, Self::NotFound | Self::MethodNotAllowed))
    }

    /// The HTTP status this type is served with by default.
    pub fn default_status(self) -> u16 {
        match self {
            Self::Unauthorized | Self::UserActionRequired => 403,
            Self::OrderNotReady => 403,
            Self::AlreadyReplaced => 409,
            Self::RateLimited => 429,
            Self::ServerInternal => 500,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            _ => 400,
        }
    }
}

impl fmt::Display for ProblemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ProblemType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.uri())
    }
}

impl<'de> Deserialize<'de> for ProblemType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_uri(&s).ok_or_else(|| serde::de::Error::custom("unknown ACME problem type"))
    }
}

/// One entry of a problem document's `subproblems` array (RFC 8555 §6.7.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subproblem {
    /// The error type of this subproblem.
    #[serde(rename = "type")]
    pub kind: ProblemType,
    /// Human-readable explanation.
    pub detail: String,
    /// The identifier this subproblem is about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identifier: Option<Identifier>,
}

/// An RFC 7807 problem document as ACME uses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The error type.
    #[serde(rename = "type")]
    pub kind: ProblemType,
    /// Human-readable explanation; never contains secrets.
    pub detail: String,
    /// The HTTP status code the problem is served with.
    pub status: u16,
    /// Per-identifier errors (RFC 8555 §6.7.1).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub subproblems: Vec<Subproblem>,
    /// For `badSignatureAlgorithm`: the algorithms the server accepts (RFC 8555 §6.2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub algorithms: Option<Vec<String>>,
    /// The identifier a validation error is about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identifier: Option<Identifier>,
    /// For `userActionRequired`: the URL the user must visit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub instance: Option<String>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $fn:ident => $ty:ident;)*) => {
        impl Problem {
            $(
                $(#[$doc])*
                pub fn $fn(detail: impl Into<String>) -> Self {
                    Self::new(ProblemType::$ty, detail)
                }
            )*
        }
    };
}

constructors! {
    /// `accountDoesNotExist`.
    account_does_not_exist => AccountDoesNotExist;
    /// `alreadyRevoked`.
    already_revoked => AlreadyRevoked;
    /// `badCSR`.
    bad_csr => BadCsr;
    /// `badNonce`.
    bad_nonce => BadNonce;
    /// `badPublicKey`.
    bad_public_key => BadPublicKey;
    /// `badRevocationReason`.
    bad_revocation_reason => BadRevocationReason;
    /// `caa`.
    caa => Caa;
    /// `connection`.
    connection => Connection;
    /// `dns`.
    dns => Dns;
    /// `externalAccountRequired`.
    external_account_required => ExternalAccountRequired;
    /// `incorrectResponse`.
    incorrect_response => IncorrectResponse;
    /// `invalidContact`.
    invalid_contact => InvalidContact;
    /// `malformed`.
    malformed => Malformed;
    /// `orderNotReady`.
    order_not_ready => OrderNotReady;
    /// `rateLimited` (the response should carry `Retry-After`).
    rate_limited => RateLimited;
    /// `rejectedIdentifier`.
    rejected_identifier => RejectedIdentifier;
    /// `serverInternal`.
    server_internal => ServerInternal;
    /// `tls`.
    tls => Tls;
    /// `unauthorized`.
    unauthorized => Unauthorized;
    /// `unsupportedContact`.
    unsupported_contact => UnsupportedContact;
    /// `unsupportedIdentifier`.
    unsupported_identifier => UnsupportedIdentifier;
    /// `userActionRequired`.
    user_action_required => UserActionRequired;
    /// `alreadyReplaced` (RFC 9773).
    already_replaced => AlreadyReplaced;
    /// `invalidProfile` (ACME profiles draft).
    invalid_profile => InvalidProfile;
    /// 404 `about:blank`.
    not_found => NotFound;
    /// 405 `about:blank`.
    method_not_allowed => MethodNotAllowed;
}

impl Problem {
    /// A problem of `kind` with its default status.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            detail: detail.into(),
            status: kind.default_status(),
            subproblems: Vec::new(),
            algorithms: None,
            identifier: None,
            instance: None,
        }
    }

    /// `badSignatureAlgorithm` listing the accepted algorithms.
    pub fn bad_signature_algorithm(detail: impl Into<String>, supported: &[&str]) -> Self {
        let mut p = Self::new(ProblemType::BadSignatureAlgorithm, detail);
        p.algorithms = Some(supported.iter().map(|s| s.to_string()).collect());
        p
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Attaches the identifier the problem is about.
    pub fn with_identifier(mut self, id: Identifier) -> Self {
        self.identifier = Some(id);
        self
    }

    /// Adds subproblems.
    pub fn with_subproblems(mut self, subs: Vec<Subproblem>) -> Self {
        self.subproblems = subs;
        self
    }

    /// The JSON body, as served with `Content-Type: application/problem+json`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.status, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acme_type_round_trips_through_its_uri() {
        for t in ProblemType::ALL {
            if matches!(t, ProblemType::NotFound | ProblemType::MethodNotAllowed) {
                assert_eq!(t.uri(), "about:blank");
                continue;
            }
            assert_eq!(ProblemType::from_uri(&t.uri()), Some(t));
        }
    }

    #[test]
    fn bad_signature_algorithm_lists_algorithms() {
        let p = Problem::bad_signature_algorithm("no", &["ES256", "RS256"]);
        let v: serde_json::Value = serde_json::from_slice(&p.to_json()).unwrap();
        assert_eq!(v["type"], "urn:ietf:params:acme:error:badSignatureAlgorithm");
        assert_eq!(v["algorithms"][1], "RS256");
        assert_eq!(v["status"], 400);
    }
}
