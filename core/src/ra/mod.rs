//! Registration authority: the rules for changing state. Accounts and their keys
//! ([`account`]) and External Account Binding credentials ([`eab`]). Handlers in
//! [`crate::wfe`] call these after authenticating; these functions check policy and
//! write through the storage authority, atomically.

pub mod account;
pub mod eab;
pub mod order;
