//! RMI_FEATURES (spec B4.3.4) and feature register 0 (RmiFeatureRegister0, B4.4.6).

use super::{Outputs, RmiError};
use crate::platform::{CpuFeatures, Platform};
use crate::rtt::{MAX_IPA_WIDTH, MAX_IPA_WIDTH_LPA2};
use crate::Rmm;

/// Order of the maximum number of RECs per realm: up to 2^15 - 1, the field's largest value.
pub const MAX_RECS_ORDER: u64 = 15;

/// The widest realm IPA space the RMM supports with 4 KiB granules: 48 bits without LPA2, 52
/// with it (A3.1.2).
const MAX_IPA_BITS: u8 = MAX_IPA_WIDTH as u8;
const MAX_IPA_BITS_LPA2: u8 = MAX_IPA_WIDTH_LPA2 as u8;

/// Feature register 0 for a processor with `cpu`'s features.
///
/// Fields: S2SZ 7:0 (the PA width, up to 48 bits, or 52 with LPA2), LPA2 8 (the processor has
/// FEAT_LPA2 at both stages: A3.1.2), SVE_EN 9 and SVE_VL 13:10 (0: not supported),
/// NUM_BPS 19:14 and NUM_WPS 25:20 (count minus one), PMU_EN 26 and PMU_NUM_CTRS 31:27
/// (0: not supported), HASH_SHA_256 32, HASH_SHA_512 33, GICV3_NUM_LRS 37:34 (count minus one),
/// MAX_RECS_ORDER 41:38.
pub fn feature_register_0(cpu: &CpuFeatures) -> u64 {
    let minus_one = |count: u8, bits: u32| u64::from(count.saturating_sub(1)) & !(u64::MAX << bits);
    let s2sz = match cpu.lpa2 {
        true => cpu.pa_bits.min(MAX_IPA_BITS_LPA2),
        false => cpu.pa_bits.min(MAX_IPA_BITS),
    };
    u64::from(s2sz)
        | u64::from(cpu.lpa2) << 8
        | minus_one(cpu.breakpoints, 6) << 14
        | minus_one(cpu.watchpoints, 6) << 20
        | cpu
            .sve_vl
            .map_or(0, |vl| 1 << 9 | (u64::from(vl) & 0xf) << 10)
        | cpu
            .pmu_counters
            .map_or(0, |n| 1 << 26 | (u64::from(n) & 0x1f) << 27)
        | 1 << 32
        | 1 << 33
        | minus_one(cpu.gic_list_registers, 4) << 34
        | MAX_RECS_ORDER << 38
}

/// RMI_FEATURES: x1 = feature register `index`; zero for any index but 0. No failure conditions.
pub(super) fn features<P: Platform>(
    rmm: &Rmm<P>,
    index: u64,
    out: &mut Outputs,
) -> Result<(), RmiError> {
    out[0] = match index {
        0 => feature_register_0(&rmm.platform().cpu_features()),
        _ => 0,
    };
    Ok(())
}
