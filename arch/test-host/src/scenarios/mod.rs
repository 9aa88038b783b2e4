//! The RMI scenarios, in the order `primary_main` runs them.

pub mod delegate;
pub mod lpa2;
pub mod realm;
mod realm_enter;
mod realm_psci;
pub mod sve;
pub mod version;
