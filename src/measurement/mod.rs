//! Realm measurements: the RIM and the REMs (spec A7.1).
//!
//! A realm holds five 512-bit [`Measurement`]s (C1.16 `measurements[5]`): index 0 is the Realm
//! Initial Measurement (RIM), 1..=4 the Realm Extensible Measurements (REMs). Each is a
//! rolling hash with the realm's [`HashAlgorithm`] (the RHA, chosen at RMI_REALM_CREATE).
//!
//! | spec function                  | here                           | layout hashed           |
//! |--------------------------------|--------------------------------|-------------------------|
//! | B3.48 RimInit                  | [`rim_init`]                   | [`MeasuredRealmParams`] |
//! | B3.44 RimExtendData            | [`rim_extend_data`]            | C1.11 descriptor        |
//! | B3.45 RimExtendRec             | [`rim_extend_rec`]             | C1.12 descriptor        |
//! | B3.46 RimExtendRipas           | [`rim_extend_ripas`]           | C1.13 descriptor each   |
//! | B3.47 RimExtendRipasForEntry   | [`rim_extend_ripas_for_entry`] | C1.13 descriptor        |
//! | B3.42 RemExtend                | [`rem_extend`]                 | old REM, padded value   |
//!
//! Callers hand over plain field values; every byte layout lives in this module. Hashing uses
//! sha2's portable code: no FP/SIMD registers are touched.

mod algorithm;
mod descriptor;
mod rem;
mod rim;
#[cfg(all(test, not(loom)))]
mod tests;
mod value;

pub use algorithm::HashAlgorithm;
pub use descriptor::{
    MeasuredRealmParams, MeasuredRecParams, MeasurementDescriptorData, MeasurementDescriptorRec,
    MeasurementDescriptorRipas, DESCRIPTOR_SIZE, PARAMS_SIZE,
};
pub use rem::rem_extend;
pub use rim::{
    rim_extend_data, rim_extend_rec, rim_extend_ripas, rim_extend_ripas_for_entry, rim_init,
    rtt_level_size, RMI_DATA_FLAGS_MEASURE,
};
pub use value::Measurement;

/// Size of a measurement value in bytes (C1.17: 512 bits).
pub const MEASUREMENT_SIZE: usize = 64;
/// Number of measurements per realm: the RIM and four REMs (C1.16).
pub const NUM_MEASUREMENTS: usize = 5;
/// Index of the RIM in a realm's measurements (B5.3.8).
pub const RIM_INDEX: usize = 0;

/// Size of a DATA granule's contents, hashed by [`rim_extend_data`].
pub const GRANULE_BYTES: usize = crate::GRANULE_SIZE as usize;

/// Why a measurement could not be extended; the measurement is then unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeasurementError {
    /// An RTT level outside -1..=3.
    InvalidRttLevel,
    /// A REM extension of more than 64 bytes (B5.3.7.2 `size_bound`).
    InvalidSize,
}
