//! Orders, authorizations and domain claims: creation, and the status rules of
//! RFC 8555 §7.1.6.
//!
//! An order's status is derived from its authorizations while it is `pending`; it is
//! stored only when it changes, and always through compare-and-set, so that exactly one
//! request can move an order from `ready` to `processing`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::config::Config;
use crate::host::{random_bytes, random_id, Rng};
use crate::policy::{claim_covers, OrderIdentifier};
use crate::problem::Problem;
use crate::sa::records::{
    AuthzRecord, ChallengeRecord, Claim, ClaimScope, ClaimsRecord, OrderRecord, OrdersIndexRecord,
};
use crate::sa::{self, Change, Store};
use crate::wire::{AuthorizationStatus, ChallengeStatus, ChallengeType, IdentifierType, OrderStatus};

/// Loads a tenant's claims.
pub async fn claims<S: Store>(store: &S, tenant: &str) -> Result<Vec<Claim>, Problem> {
    Ok(sa::get_json::<S, ClaimsRecord>(store, &ClaimsRecord::key(tenant))
        .await?
        .map(|(r, _)| r.claims)
        .unwrap_or_default())
}

/// Adds a claim to a tenant, replacing an older claim for the same name and scope and
/// dropping expired ones.
pub async fn add_claim<S: Store>(store: &S, tenant: &str, claim: Claim, now: u64) -> Result<(), Problem> {
    let key = ClaimsRecord::key(tenant);
    let merge = |mut rec: ClaimsRecord| {
        rec.claims.retain(|c| c.expires > now && !(c.name == claim.name && c.scope == claim.scope));
        rec.claims.push(claim.clone());
        rec
    };
    for _ in 0..8 {
        if sa::update_json(store, &key, |rec: ClaimsRecord| Ok(Change::Write(merge(rec), ()))).await?.is_some() {
            return Ok(());
        }
        if sa::create_json(store, &key, &merge(ClaimsRecord::default())).await?.is_ok() {
            return Ok(());
        }
    }
    Err(Problem::server_internal("could not record the domain claim; try again"))
}

/// Removes every claim of a tenant for which `drop` holds; returns how many went.
async fn remove_claims<S: Store>(store: &S, tenant: &str, drop: impl Fn(&Claim) -> bool) -> Result<usize, Problem> {
    let removed = sa::update_json(store, &ClaimsRecord::key(tenant), |mut rec: ClaimsRecord| {
        let before = rec.claims.len();
        rec.claims.retain(|c| !drop(c));
        let removed = before - rec.claims.len();
        Ok(if removed > 0 { Change::Write(rec, removed) } else { Change::Keep(0) })
    })
    .await?;
    Ok(removed.unwrap_or(0))
}

/// Removes a tenant's claims for `name` (any scope); true if one was removed.
pub async fn remove_claim<S: Store>(store: &S, tenant: &str, name: &str) -> Result<bool, Problem> {
    Ok(remove_claims(store, tenant, |c| c.name == name).await? > 0)
}

/// Forgets the tenant's validation claims (not operator claims) that cover `id`, alive
/// or not: the client deactivated a valid authorization for it (RFC 8555 §7.5.2), so
/// the next order for the name validates again. Returns how many were removed.
pub async fn forget_validations_covering<S: Store>(
    store: &S,
    tenant: &str,
    id: &OrderIdentifier,
) -> Result<usize, Problem> {
    remove_claims(store, tenant, |c| c.method != "operator" && claim_covers(c, id, 0)).await
}

/// The claim a successful challenge creates: dns-01 covers the subtree, http-01 (and
/// IP addresses) exactly the validated name.
pub fn claim_for_validation(
    name: &str,
    kind: &IdentifierType,
    method: &ChallengeType,
    now: u64,
    lifetime: u64,
) -> Claim {
    let scope = match (kind, method) {
        (IdentifierType::Dns, ChallengeType::Dns01) => ClaimScope::Subtree,
        _ => ClaimScope::Exact,
    };
    let method = match method {
        ChallengeType::Dns01 => "dns-01",
        _ => "http-01",
    };
    Claim { name: name.into(), scope, method: method.into(), created_at: now, expires: now.saturating_add(lifetime) }
}

/// What [`create_order`] needs to know.
pub struct NewOrder<'a> {
    /// The account.
    pub account: &'a str,
    /// The account's tenant (whose claims apply).
    pub tenant: &'a str,
    /// Checked identifiers.
    pub identifiers: Vec<OrderIdentifier>,
    /// Requested validity.
    pub not_before: Option<u64>,
    /// Requested validity.
    pub not_after: Option<u64>,
    /// The profile name.
    pub profile: String,
    /// The certificate being replaced.
    pub replaces: Option<String>,
}

fn new_authz(
    config: &Config,
    rng: &dyn Rng,
    account: &str,
    id: &OrderIdentifier,
    now: u64,
    claim: Option<&Claim>,
) -> AuthzRecord {
    let (status, expires, challenges) = match claim {
        Some(c) => {
            // Already authorized by a live claim: one valid challenge records how.
            let kind = if c.method == "http-01" { ChallengeType::Http01 } else { ChallengeType::Dns01 };
            let ch =
                ChallengeRecord { kind, status: ChallengeStatus::Valid, validated: Some(c.created_at), error: None };
            (AuthorizationStatus::Valid, c.expires, alloc::vec![ch])
        }
        None => {
            let chs = id
                .challenge_types()
                .into_iter()
                .map(|kind| ChallengeRecord { kind, status: ChallengeStatus::Pending, validated: None, error: None })
                .collect();
            (AuthorizationStatus::Pending, now + config.order_lifetime_secs, chs)
        }
    };
    AuthzRecord {
        id: random_id(rng),
        account: account.into(),
        identifier: id.base.clone(),
        wildcard: id.wildcard,
        status,
        expires,
        token: crate::keyauth::new_token(&random_bytes::<32>(rng)),
        challenges,
    }
}

/// Creates an order and its authorizations; names covered by a live claim of the
/// tenant get authorizations that are already valid.
pub async fn create_order<S: Store>(
    store: &S,
    config: &Config,
    rng: &dyn Rng,
    now: u64,
    req: NewOrder<'_>,
) -> Result<OrderRecord, Problem> {
    let tenant_claims = claims(store, req.tenant).await?;
    let mut authz_ids = Vec::new();
    let mut all_valid = true;
    for id in &req.identifiers {
        let claim = tenant_claims.iter().filter(|c| claim_covers(c, id, now)).max_by_key(|c| c.expires);
        let authz = new_authz(config, rng, req.account, id, now, claim);
        all_valid &= authz.status == AuthorizationStatus::Valid;
        if sa::create_json(store, &AuthzRecord::key(req.account, &authz.id), &authz).await?.is_err() {
            return Err(Problem::server_internal("authorization id collision; try again"));
        }
        authz_ids.push(authz.id);
    }
    let order = OrderRecord {
        id: random_id(rng),
        account: req.account.into(),
        status: if all_valid { OrderStatus::Ready } else { OrderStatus::Pending },
        identifiers: req.identifiers.iter().map(|i| i.requested.clone()).collect(),
        authz_ids,
        expires: now + config.order_lifetime_secs,
        not_before: req.not_before,
        not_after: req.not_after,
        profile: req.profile,
        replaces: req.replaces,
        error: None,
        certificate: None,
        issuance: None,
        created_at: now,
    };
    if sa::create_json(store, &OrderRecord::key(req.account, &order.id), &order).await?.is_err() {
        return Err(Problem::server_internal("order id collision; try again"));
    }
    append_order_index(store, req.account, &order.id).await?;
    Ok(order)
}

/// Creates a single authorization (newAuthz pre-authorization), valid at once if a
/// live claim covers the name.
pub async fn create_authz<S: Store>(
    store: &S,
    config: &Config,
    rng: &dyn Rng,
    now: u64,
    account: &str,
    tenant: &str,
    id: &OrderIdentifier,
) -> Result<AuthzRecord, Problem> {
    let tenant_claims = claims(store, tenant).await?;
    let claim = tenant_claims.iter().filter(|c| claim_covers(c, id, now)).max_by_key(|c| c.expires);
    let authz = new_authz(config, rng, account, id, now, claim);
    if sa::create_json(store, &AuthzRecord::key(account, &authz.id), &authz).await?.is_err() {
        return Err(Problem::server_internal("authorization id collision; try again"));
    }
    Ok(authz)
}

async fn append_order_index<S: Store>(store: &S, account: &str, order: &str) -> Result<(), Problem> {
    let key = OrdersIndexRecord::key(account);
    for _ in 0..8 {
        let add = |mut rec: OrdersIndexRecord| {
            rec.ids.push(order.into());
            rec
        };
        if sa::update_json(store, &key, |rec: OrdersIndexRecord| Ok(Change::Write(add(rec), ()))).await?.is_some() {
            return Ok(());
        }
        if sa::create_json(store, &key, &add(OrdersIndexRecord::default())).await?.is_ok() {
            return Ok(());
        }
    }
    Err(Problem::server_internal("could not index the order; try again"))
}

/// Reads an authorization, marking it expired when its time has passed.
pub async fn load_authz<S: Store>(
    store: &S,
    account: &str,
    id: &str,
    now: u64,
) -> Result<Option<AuthzRecord>, Problem> {
    Ok(sa::get_json::<S, AuthzRecord>(store, &AuthzRecord::key(account, id)).await?.map(|(mut a, _)| {
        if now >= a.expires && matches!(a.status, AuthorizationStatus::Pending | AuthorizationStatus::Valid) {
            a.status = AuthorizationStatus::Expired;
        }
        a
    }))
}

/// The status a pending order has given its authorizations (RFC 8555 §7.1.6).
pub fn derive_status(order: &OrderRecord, authzs: &[AuthzRecord], now: u64) -> OrderStatus {
    if order.status != OrderStatus::Pending && order.status != OrderStatus::Ready {
        return order.status;
    }
    if now >= order.expires {
        return OrderStatus::Invalid;
    }
    if authzs.iter().any(|a| !matches!(a.status, AuthorizationStatus::Pending | AuthorizationStatus::Valid)) {
        return OrderStatus::Invalid;
    }
    if authzs.iter().all(|a| a.status == AuthorizationStatus::Valid) {
        OrderStatus::Ready
    } else {
        OrderStatus::Pending
    }
}

/// Reads an order with its authorizations and brings a pending/ready order's stored
/// status up to date.
pub async fn load_order<S: Store>(
    store: &S,
    account: &str,
    id: &str,
    now: u64,
) -> Result<Option<(OrderRecord, Vec<AuthzRecord>)>, Problem> {
    let Some((mut order, _)) = sa::get_json::<S, OrderRecord>(store, &OrderRecord::key(account, id)).await? else {
        return Ok(None);
    };
    let mut authzs = Vec::with_capacity(order.authz_ids.len());
    for a in &order.authz_ids {
        let authz = load_authz(store, account, a, now)
            .await?
            .ok_or_else(|| Problem::server_internal("an order names a missing authorization"))?;
        authzs.push(authz);
    }
    let status = derive_status(&order, &authzs, now);
    if status != order.status {
        let updated = sa::update_json(store, &OrderRecord::key(account, id), |mut o: OrderRecord| {
            let s = derive_status(&o, &authzs, now);
            if s == o.status {
                return Ok(Change::Keep(o));
            }
            o.status = s;
            if s == OrderStatus::Invalid && o.error.is_none() {
                o.error = Some(Problem::unauthorized("an authorization of this order is no longer valid"));
            }
            Ok(Change::Write(o.clone(), o))
        })
        .await?;
        if let Some(o) = updated {
            order = o;
        }
    }
    Ok(Some((order, authzs)))
}

/// Atomically moves an order from `from` to the state `f` produces; `None` if the
/// order was not in `from` (someone else moved it first).
pub async fn transition<S, F>(
    store: &S,
    account: &str,
    id: &str,
    from: OrderStatus,
    mut f: F,
) -> Result<Option<OrderRecord>, Problem>
where
    S: Store,
    F: FnMut(&mut OrderRecord),
{
    let r = sa::update_json(store, &OrderRecord::key(account, id), |mut o: OrderRecord| {
        if o.status != from {
            return Ok(Change::Keep(None));
        }
        f(&mut o);
        Ok(Change::Write(o.clone(), Some(o)))
    })
    .await?;
    Ok(r.flatten())
}
