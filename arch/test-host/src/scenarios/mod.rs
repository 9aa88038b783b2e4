//! The RMI scenarios, in the order `primary_main` runs them.

pub mod delegate;
pub mod realm;
pub mod sve;
pub mod version;
