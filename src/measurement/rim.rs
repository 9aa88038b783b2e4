//! The Realm Initial Measurement: initialization and extension (spec A7.1.1).

use super::algorithm::Hasher;
use super::{
    HashAlgorithm, MeasuredRealmParams, MeasuredRecParams, Measurement, MeasurementDescriptorData,
    MeasurementDescriptorRec, MeasurementDescriptorRipas, MeasurementError, GRANULE_BYTES,
};

/// RmiDataFlags.measure (B4.4.2 bit 0): RMI_MEASURE_CONTENT when set.
pub const RMI_DATA_FLAGS_MEASURE: u64 = 1;

fn hash(algo: HashAlgorithm, bytes: &[u8]) -> Measurement {
    let mut h = Hasher::new(algo);
    h.update(bytes);
    h.finalize()
}

/// Spec B3.48 RimInit: the initial RIM of a realm created with `params` (B4.3.9.4).
///
/// The RHA is `params.hash_algo`, which RMI_REALM_CREATE also stores as the realm's
/// hash_algo (B4.3.9.3), so it is not passed separately.
pub fn rim_init(params: &MeasuredRealmParams) -> Measurement {
    params.hash()
}

/// Spec B3.44 RimExtendData: extends `rim` for a DATA granule created at `ipa` with the
/// Host's `flags` (RmiDataFlags) and contents `data` (B4.3.1.4).
///
/// `data` is hashed only if flags.measure (bit 0) is RMI_MEASURE_CONTENT; otherwise the
/// descriptor's content is zero. The descriptor records `flags` exactly as given.
pub fn rim_extend_data(
    algo: HashAlgorithm,
    rim: &mut Measurement,
    ipa: u64,
    flags: u64,
    data: &[u8; GRANULE_BYTES],
) {
    let content = if flags & RMI_DATA_FLAGS_MEASURE != 0 {
        hash(algo, data)
    } else {
        Measurement::ZERO
    };
    let desc = MeasurementDescriptorData {
        rim: rim.truncated(algo),
        ipa,
        flags,
        content,
    };
    *rim = hash(algo, &desc.to_bytes());
}

/// Spec B3.45 RimExtendRec: extends `rim` for a REC created with `params` (B4.3.12.4).
///
/// RMI_REC_CREATE calls this only for a runnable REC ([`MeasuredRecParams::is_runnable`],
/// B4.3.12.3 `rim`); this function extends unconditionally.
pub fn rim_extend_rec(algo: HashAlgorithm, rim: &mut Measurement, params: &MeasuredRecParams) {
    let desc = MeasurementDescriptorRec {
        rim: rim.truncated(algo),
        content: params.hash(algo),
    };
    *rim = hash(algo, &desc.to_bytes());
}

/// Size of the IPA range mapped by one RTT entry at `level` (B3.68 RttLevelSize, 4 KiB
/// granules): 4 KiB at level 3, x512 per level up; levels -1 (LPA2) to 3.
pub fn rtt_level_size(level: i64) -> Option<u64> {
    match level {
        -1 => Some(1 << 48),
        0 => Some(1 << 39),
        1 => Some(1 << 30),
        2 => Some(1 << 21),
        3 => Some(1 << 12),
        _ => None,
    }
}

/// Spec B3.47 RimExtendRipasForEntry: extends `rim` for the RTT entry at `level` that maps
/// `ipa`, in an RMI_RTT_INIT_RIPAS whose top is `top` (B4.3.18.4 step 2).
///
/// The descriptor's base is `ipa` and its top is Min(ipa + entry size, `top`). Fails, leaving
/// `rim` unchanged, only for a level outside -1..=3.
pub fn rim_extend_ripas_for_entry(
    algo: HashAlgorithm,
    rim: &mut Measurement,
    ipa: u64,
    level: i64,
    top: u64,
) -> Result<(), MeasurementError> {
    let size = rtt_level_size(level).ok_or(MeasurementError::InvalidRttLevel)?;
    let desc = MeasurementDescriptorRipas {
        rim: rim.truncated(algo),
        base: ipa,
        top: ipa.saturating_add(size).min(top),
    };
    *rim = hash(algo, &desc.to_bytes());
    Ok(())
}

/// Spec B3.46 RimExtendRipas: extends `rim` once per RTT entry at `level` in [`base`, `top`),
/// entry by entry from `base` (B4.3.18.4).
///
/// RMI_RTT_INIT_RIPAS passes its base, walk_top and walk.level, so the range lies in one RTT
/// (at most 512 entries). Fails, leaving `rim` unchanged, only for a level outside -1..=3.
pub fn rim_extend_ripas(
    algo: HashAlgorithm,
    rim: &mut Measurement,
    base: u64,
    top: u64,
    level: i64,
) -> Result<(), MeasurementError> {
    let size = rtt_level_size(level).ok_or(MeasurementError::InvalidRttLevel)?;
    let mut addr = base;
    while addr < top {
        rim_extend_ripas_for_entry(algo, rim, addr, level, top)?;
        addr = match addr.checked_add(size) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(())
}
