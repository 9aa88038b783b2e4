//! Realms: the realm descriptor and what the RMM keeps per realm (spec A2.1).

mod rd;
mod vmid;

pub use rd::{Rd, RealmConfig, RealmFeatures, RealmState, MEASUREMENT_COUNT};
pub use vmid::VmidSet;
