//! `GET /directory` (RFC 8555 §7.1.1).

use super::{paths, Engine, Response};
use crate::ca::Issuer;
use crate::nonce::Nonces;
use crate::sa::Store;
use crate::va::Va;
use crate::wire::{Directory, DirectoryMeta};

impl<S: Store, N: Nonces, V: Va, I: Issuer> Engine<'_, S, N, V, I> {
    /// The directory object, with absolute URLs from the configured base.
    pub fn directory_object(&self) -> Directory {
        let c = self.config;
        Directory {
            new_nonce: c.url(paths::NEW_NONCE),
            new_account: c.url(paths::NEW_ACCOUNT),
            new_order: c.url(paths::NEW_ORDER),
            new_authz: Some(c.url(paths::NEW_AUTHZ)),
            revoke_cert: c.url(paths::REVOKE_CERT),
            key_change: c.url(paths::KEY_CHANGE),
            renewal_info: Some(c.url(paths::RENEWAL_INFO)),
            meta: Some(DirectoryMeta {
                terms_of_service: c.terms_of_service.clone(),
                website: c.website.clone(),
                caa_identities: c.caa_identities.clone(),
                external_account_required: c.eab.required,
                profiles: c.profile_descriptions(),
            }),
        }
    }

    pub(super) fn directory(&self) -> Response {
        Response::json(200, &self.directory_object())
    }
}
