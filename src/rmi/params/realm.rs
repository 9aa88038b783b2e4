//! RmiRealmParams (spec B4.4.12): the parameters of RMI_REALM_CREATE.

use super::{read_le, read_u16, read_u32, read_u64, read_u8, write_le, ParamsError};
use crate::measurement::{HashAlgorithm, MeasuredRealmParams};
use crate::{GRANULE_SHIFT, GRANULE_SIZE};

/// Size of RmiRealmParams in bytes (B4.4.12).
pub const REALM_PARAMS_SIZE: usize = 0x1000;

// Byte offsets (B4.4.12; identical in TF-RMM, reference notes 4.1). The UInt8 fields sit at the
// start of 8-byte slots; the rest of each slot is SBZ.
const FLAGS: usize = 0x0;
const S2SZ: usize = 0x8;
const SVE_VL: usize = 0x10;
const NUM_BPS: usize = 0x18;
const NUM_WPS: usize = 0x20;
const PMU_NUM_CTRS: usize = 0x28;
const HASH_ALGO: usize = 0x30;
const RPV: usize = 0x400;
const RPV_SIZE: usize = 64;
const VMID: usize = 0x800;
const RTT_BASE: usize = 0x808;
const RTT_LEVEL_START: usize = 0x810;
const RTT_NUM_START: usize = 0x818;
const _: () = assert!(RPV + RPV_SIZE <= VMID && RTT_NUM_START + 4 <= REALM_PARAMS_SIZE);

/// Flags of RMI_REALM_CREATE (RmiRealmFlags, B4.4.11): lpa2 bit 0, sve bit 1, pmu bit 2, the
/// rest SBZ. Holds the raw word: reserved bits are ignored but measured (B4.3.9.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RealmFlags(u64);

impl RealmFlags {
    /// lpa2: LPA2 enabled.
    pub const LPA2: u64 = 1 << 0;
    /// sve: SVE enabled.
    pub const SVE: u64 = 1 << 1;
    /// pmu: PMU enabled.
    pub const PMU: u64 = 1 << 2;
    const DEFINED: u64 = Self::LPA2 | Self::SVE | Self::PMU;

    /// The flags with raw value `bits`.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw value, reserved bits included.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether LPA2 is enabled.
    pub const fn lpa2(self) -> bool {
        self.0 & Self::LPA2 != 0
    }

    /// Whether SVE is enabled.
    pub const fn sve(self) -> bool {
        self.0 & Self::SVE != 0
    }

    /// Whether the PMU is enabled.
    pub const fn pmu(self) -> bool {
        self.0 & Self::PMU != 0
    }

    /// The reserved (SBZ) bits, 63:3.
    pub const fn reserved(self) -> u64 {
        self.0 & !Self::DEFINED
    }
}

/// The parameters of a realm, as provided by the host to RMI_REALM_CREATE (RmiRealmParams,
/// B4.4.12; 4096 bytes).
///
/// | Offset | Field | Spec type |
/// |---|---|---|
/// | 0x000 | flags | RmiRealmFlags (64 bits) |
/// | 0x008 | s2sz | UInt8 |
/// | 0x010 | sve_vl | UInt8 |
/// | 0x018 | num_bps | UInt8 |
/// | 0x020 | num_wps | UInt8 |
/// | 0x028 | pmu_num_ctrs | UInt8 |
/// | 0x030 | hash_algo | RmiHashAlgorithm (8 bits) |
/// | 0x400 | rpv | Bits512 |
/// | 0x800 | vmid | Bits16 |
/// | 0x808 | rtt_base | Address |
/// | 0x810 | rtt_level_start | Int64 |
/// | 0x818 | rtt_num_start | UInt32 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmParams {
    /// Flags (RmiRealmFlags).
    pub flags: RealmFlags,
    /// Requested IPA width in bits: the IPA space is 2^s2sz bytes.
    pub s2sz: u8,
    /// Requested SVE vector length: (sve_vl + 1) * 128 bits, like ZCR_ELx.LEN.
    pub sve_vl: u8,
    /// Number of breakpoints minus one; never 0 after [`RealmParams::parse`].
    pub num_bps: u8,
    /// Number of watchpoints minus one; never 0 after [`RealmParams::parse`].
    pub num_wps: u8,
    /// Requested number of PMU counters.
    pub pmu_num_ctrs: u8,
    /// Algorithm of the realm's measurements.
    pub hash_algo: HashAlgorithm,
    /// Realm Personalization Value.
    pub rpv: [u8; RPV_SIZE],
    /// Virtual Machine Identifier.
    pub vmid: u16,
    /// PA of the first starting-level RTT.
    pub rtt_base: u64,
    /// Starting level of the RTT (signed: -1 with LPA2).
    pub rtt_level_start: i64,
    /// Number of starting-level RTTs, at consecutive granules from `rtt_base`.
    pub rtt_num_start: u32,
}

impl RealmParams {
    /// Decodes RmiRealmParams (B3.50 RmiRealmParamsIsValid: RMI_REALM_CREATE `params_valid`).
    ///
    /// Fails on a reserved encoding: `hash_algo` not an RmiHashAlgorithm value, or `num_bps` /
    /// `num_wps` zero ("the value 0 is reserved", B4.4.12). Range checks against what the RMM
    /// supports are the separate `params_supp` condition, [`Self::realm_params_supported`]; RTT
    /// geometry is `rtt_num_level` (RttConfigIsValid, B3.55), done by the RTT code. SBZ bytes are
    /// ignored.
    pub fn parse(bytes: &[u8; REALM_PARAMS_SIZE]) -> Result<Self, ParamsError> {
        let num_bps = read_u8(bytes, NUM_BPS);
        if num_bps == 0 {
            return Err(ParamsError::NumBps);
        }
        let num_wps = read_u8(bytes, NUM_WPS);
        if num_wps == 0 {
            return Err(ParamsError::NumWps);
        }
        let hash = read_u8(bytes, HASH_ALGO);
        let hash_algo = HashAlgorithm::from_rmi(hash).ok_or(ParamsError::HashAlgorithm(hash))?;
        Ok(Self {
            flags: RealmFlags(read_u64(bytes, FLAGS)),
            s2sz: read_u8(bytes, S2SZ),
            sve_vl: read_u8(bytes, SVE_VL),
            num_bps,
            num_wps,
            pmu_num_ctrs: read_u8(bytes, PMU_NUM_CTRS),
            hash_algo,
            rpv: read_le(bytes, RPV),
            vmid: read_u16(bytes, VMID),
            rtt_base: read_u64(bytes, RTT_BASE),
            rtt_level_start: i64::from_le_bytes(read_le(bytes, RTT_LEVEL_START)),
            rtt_num_start: read_u32(bytes, RTT_NUM_START),
        })
    }

    /// B3.34 RealmParamsSupported: whether the RMM supports these parameters, given its feature
    /// register 0 (RmiFeatureRegister0, B4.4.6, as RMI_FEATURES reports it: B3.21 ImplFeatures).
    /// False is RMI_REALM_CREATE `params_supp`.
    ///
    /// Following A3.1: the hash algorithm must be supported; LPA2 requested only if supported;
    /// `s2sz <= S2SZ`, and at most 48 without LPA2; `num_bps`, `num_wps` at most the number
    /// available; with SVE enabled, SVE supported and `sve_vl <= SVE_VL` (A3.1.3: a longer
    /// vector fails, where the architecture would truncate); with the PMU enabled, PMU supported
    /// and `1 <= pmu_num_ctrs <= PMU_NUM_CTRS` (A3.1.5). `sve_vl` and `pmu_num_ctrs` are not
    /// checked when their feature is disabled (as TF-RMM). The smallest IPA width and the RTT
    /// geometry are `rtt_num_level` (B3.55 RttConfigIsValid), checked by the RTT code.
    pub fn realm_params_supported(&self, feat_reg0: u64) -> bool {
        let field = |lsb: u32, width: u32| (feat_reg0 >> lsb) & !(u64::MAX << width);
        let bit = |lsb: u32| field(lsb, 1) != 0;
        let hash = match self.hash_algo {
            HashAlgorithm::Sha256 => bit(32),
            HashAlgorithm::Sha512 => bit(33),
        };
        let lpa2 = !self.flags.lpa2() || bit(8);
        let max_ipa = if self.flags.lpa2() {
            field(0, 8)
        } else {
            field(0, 8).min(crate::rtt::MAX_IPA_WIDTH.into())
        };
        let s2sz = u64::from(self.s2sz) <= max_ipa;
        let debug =
            u64::from(self.num_bps) <= field(14, 6) && u64::from(self.num_wps) <= field(20, 6);
        let sve = !self.flags.sve() || (bit(9) && u64::from(self.sve_vl) <= field(10, 4));
        // A PMU with no event counter would need MDCR_EL2.HPMN = 0, CONSTRAINED UNPREDICTABLE
        // without FEAT_HPMN0 (which the RMM does not rely on): refused, as TF-RMM does.
        let pmu = !self.flags.pmu()
            || (bit(26) && self.pmu_num_ctrs != 0 && u64::from(self.pmu_num_ctrs) <= field(27, 5));
        hash && lpa2 && s2sz && debug && sve && pmu
    }

    /// RMI_REALM_CREATE `alias`: `AddrInRange(rd, rtt_base, (rtt_num_start - 1) * GRANULE_SIZE)`,
    /// i.e. `rd` is one of the starting-level RTTs (B3.1 AddrInRange: `base <= addr <= base +
    /// size`). False when `rtt_num_start` is 0 (negative size).
    pub fn rd_aliases_rtts(&self, rd: u64) -> bool {
        let Some(last) = self.rtt_num_start.checked_sub(1) else {
            return false;
        };
        // Below 2^44: `last` is a u32.
        let size = u64::from(last) << GRANULE_SHIFT;
        rd.checked_sub(self.rtt_base).is_some_and(|offset| offset <= size)
    }

    /// Negation of RMI_REALM_CREATE `rtt_align`: `AddrIsAligned(rtt_base, rtt_num_start *
    /// GRANULE_SIZE)` (B3.2). False when `rtt_num_start` is 0.
    pub fn rtt_base_aligned(&self) -> bool {
        let size = u64::from(self.rtt_num_start) * GRANULE_SIZE;
        size != 0 && self.rtt_base.is_multiple_of(size)
    }

    /// The measured Realm parameters of B4.3.9.4, input of B3.48 RimInit: flags, s2sz, sve_vl,
    /// num_bps, num_wps, pmu_num_ctrs and hash_algo. `flags` is copied whole, reserved bits
    /// included (as TF-RMM).
    pub fn measured(&self) -> MeasuredRealmParams {
        MeasuredRealmParams {
            flags: self.flags.bits(),
            s2sz: self.s2sz,
            sve_vl: self.sve_vl,
            num_bps: self.num_bps,
            num_wps: self.num_wps,
            pmu_num_ctrs: self.pmu_num_ctrs,
            hash_algo: self.hash_algo,
        }
    }

    /// Encodes every field as the host would write it, unused bytes zero (for hosts and tests).
    pub fn write_to(&self, out: &mut [u8; REALM_PARAMS_SIZE]) {
        out.fill(0);
        write_le(out, FLAGS, &self.flags.bits().to_le_bytes());
        write_le(out, S2SZ, &[self.s2sz]);
        write_le(out, SVE_VL, &[self.sve_vl]);
        write_le(out, NUM_BPS, &[self.num_bps]);
        write_le(out, NUM_WPS, &[self.num_wps]);
        write_le(out, PMU_NUM_CTRS, &[self.pmu_num_ctrs]);
        write_le(out, HASH_ALGO, &[self.hash_algo.to_rmi()]);
        write_le(out, RPV, &self.rpv);
        write_le(out, VMID, &self.vmid.to_le_bytes());
        write_le(out, RTT_BASE, &self.rtt_base.to_le_bytes());
        write_le(out, RTT_LEVEL_START, &self.rtt_level_start.to_le_bytes());
        write_le(out, RTT_NUM_START, &self.rtt_num_start.to_le_bytes());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn put(page: &mut [u8], offset: usize, bytes: &[u8]) {
        page[offset..offset + bytes.len()].copy_from_slice(bytes);
    }

    /// A valid page, every field set at its B4.4.12 offset (literal, not the module's constants).
    fn page() -> [u8; 4096] {
        let mut p = [0u8; 4096];
        put(&mut p, 0x0, &0b101u64.to_le_bytes()); // lpa2 + pmu
        p[0x8] = 48;
        p[0x10] = 3;
        p[0x18] = 5;
        p[0x20] = 6;
        p[0x28] = 7;
        p[0x30] = 1; // SHA-512
        for i in 0..64 {
            p[0x400 + i] = 0x40 + i as u8;
        }
        put(&mut p, 0x800, &0xBEEFu16.to_le_bytes());
        put(&mut p, 0x808, &0x8800_0000u64.to_le_bytes());
        put(&mut p, 0x810, &(-1i64).to_le_bytes());
        put(&mut p, 0x818, &2u32.to_le_bytes());
        p
    }

    fn params() -> RealmParams {
        RealmParams::parse(&page()).unwrap()
    }

    #[test]
    fn parse_reads_every_field_at_its_offset() {
        let p = params();
        assert_eq!(p.flags.bits(), 0b101);
        assert!(p.flags.lpa2() && !p.flags.sve() && p.flags.pmu());
        assert_eq!(p.flags.reserved(), 0);
        assert_eq!(p.s2sz, 48);
        assert_eq!(p.sve_vl, 3);
        assert_eq!(p.num_bps, 5);
        assert_eq!(p.num_wps, 6);
        assert_eq!(p.pmu_num_ctrs, 7);
        assert_eq!(p.hash_algo, HashAlgorithm::Sha512);
        assert_eq!(p.rpv, core::array::from_fn(|i| 0x40 + i as u8));
        assert_eq!(p.vmid, 0xBEEF);
        assert_eq!(p.rtt_base, 0x8800_0000);
        assert_eq!(p.rtt_level_start, -1);
        assert_eq!(p.rtt_num_start, 2);
    }

    #[test]
    fn sbz_bytes_are_ignored_but_flags_are_kept_raw() {
        // Every byte that is not part of a field is 0xff.
        let clean = page();
        let mut dirty = [0xffu8; 4096];
        put(&mut dirty, 0x0, &(0b101u64 | 1 << 63).to_le_bytes());
        for (offset, len) in [
            (0x8, 1),
            (0x10, 1),
            (0x18, 1),
            (0x20, 1),
            (0x28, 1),
            (0x30, 1),
        ] {
            put(&mut dirty, offset, &clean[offset..offset + len]);
        }
        put(&mut dirty, 0x400, &clean[0x400..0x440]);
        put(&mut dirty, 0x800, &clean[0x800..0x802]);
        put(&mut dirty, 0x808, &clean[0x808..0x81c]);
        let p = RealmParams::parse(&dirty).unwrap();
        assert_eq!(p.flags.reserved(), 1 << 63);
        assert_eq!(
            p,
            RealmParams {
                flags: RealmFlags::from_bits(0b101 | 1 << 63),
                ..params()
            }
        );
    }

    #[test]
    fn hash_algo_sha256_is_valid() {
        let mut p = page();
        p[0x30] = 0;
        assert_eq!(
            RealmParams::parse(&p).unwrap().hash_algo,
            HashAlgorithm::Sha256
        );
    }

    #[test]
    fn hash_algo_reserved_encoding_is_invalid() {
        for value in [2u8, 0x80, 0xff] {
            let mut p = page();
            p[0x30] = value;
            assert_eq!(
                RealmParams::parse(&p),
                Err(ParamsError::HashAlgorithm(value))
            );
        }
    }

    #[test]
    fn num_bps_zero_is_invalid() {
        let mut p = page();
        p[0x18] = 0;
        assert_eq!(RealmParams::parse(&p), Err(ParamsError::NumBps));
    }

    #[test]
    fn num_wps_zero_is_invalid() {
        let mut p = page();
        p[0x20] = 0;
        assert_eq!(RealmParams::parse(&p), Err(ParamsError::NumWps));
    }

    #[test]
    fn all_zero_page_is_invalid() {
        assert_eq!(RealmParams::parse(&[0; 4096]), Err(ParamsError::NumBps));
    }

    /// Feature register 0 (B4.4.6): S2SZ 48, LPA2, SVE (VL 3), 5 bps, 6 wps, PMU (7 counters),
    /// both hashes.
    const FEAT: u64 =
        48 | 1 << 8 | 1 << 9 | 3 << 10 | 5 << 14 | 6 << 20 | 1 << 26 | 7 << 27 | 1 << 32 | 1 << 33;

    #[test]
    fn params_at_the_limits_are_supported() {
        assert!(params().realm_params_supported(FEAT));
        let sve = RealmParams {
            flags: RealmFlags::from_bits(RealmFlags::SVE),
            ..params()
        };
        assert!(sve.realm_params_supported(FEAT));
    }

    #[test]
    fn params_beyond_the_limits_are_unsupported() {
        let p = params();
        let cases = [
            ("sha512", p, FEAT & !(1 << 33)),
            ("lpa2", p, FEAT & !(1 << 8)),
            ("s2sz max", RealmParams { s2sz: 49, ..p }, FEAT),
            ("num_bps", RealmParams { num_bps: 6, ..p }, FEAT),
            ("num_wps", RealmParams { num_wps: 7, ..p }, FEAT),
            ("pmu", p, FEAT & !(1 << 26)),
            (
                "pmu_num_ctrs",
                RealmParams {
                    pmu_num_ctrs: 8,
                    ..p
                },
                FEAT,
            ),
        ];
        for (what, params, feat) in cases {
            assert!(!params.realm_params_supported(feat), "{what}");
        }
        let sha256 = RealmParams {
            hash_algo: HashAlgorithm::Sha256,
            ..p
        };
        assert!(!sha256.realm_params_supported(FEAT & !(1 << 32)));
        assert!(sha256.realm_params_supported(FEAT & !(1 << 33)));
        let sve = RealmParams {
            flags: RealmFlags::from_bits(RealmFlags::SVE),
            ..p
        };
        assert!(!sve.realm_params_supported(FEAT & !(1 << 9)));
        assert!(!RealmParams { sve_vl: 4, ..sve }.realm_params_supported(FEAT));
    }

    #[test]
    fn ipa_width_above_48_needs_lpa2() {
        let feat = (FEAT & !0xff) | 52;
        let lpa2 = RealmParams {
            s2sz: 52,
            ..params()
        };
        assert!(lpa2.realm_params_supported(feat));
        let no_lpa2 = RealmParams {
            flags: RealmFlags::from_bits(0),
            ..lpa2
        };
        assert!(!no_lpa2.realm_params_supported(feat));
        assert!(RealmParams {
            s2sz: 48,
            ..no_lpa2
        }
        .realm_params_supported(feat));
    }

    #[test]
    fn disabled_features_ignore_their_values() {
        let p = RealmParams {
            flags: RealmFlags::from_bits(0),
            sve_vl: 0xff,
            pmu_num_ctrs: 0xff,
            ..params()
        };
        assert!(p.realm_params_supported(FEAT & !(1 << 9 | 1 << 26 | 1 << 8)));
    }

    #[test]
    fn alias_covers_every_starting_rtt() {
        let p = RealmParams {
            rtt_base: 0x10_0000,
            rtt_num_start: 2,
            ..params()
        };
        assert!(!p.rd_aliases_rtts(0x0f_f000));
        assert!(p.rd_aliases_rtts(0x10_0000));
        assert!(p.rd_aliases_rtts(0x10_1000));
        assert!(!p.rd_aliases_rtts(0x10_2000));
        let none = RealmParams {
            rtt_num_start: 0,
            ..p
        };
        assert!(!none.rd_aliases_rtts(0x10_0000));
        let top = RealmParams {
            rtt_base: !0xfff,
            rtt_num_start: u32::MAX,
            ..p
        };
        assert!(top.rd_aliases_rtts(u64::MAX));
    }

    #[test]
    fn rtt_base_alignment_is_to_the_whole_starting_level() {
        let p = |rtt_base, rtt_num_start| RealmParams {
            rtt_base,
            rtt_num_start,
            ..params()
        };
        assert!(p(0x10_0000, 1).rtt_base_aligned());
        assert!(p(0x10_1000, 1).rtt_base_aligned());
        assert!(!p(0x10_0800, 1).rtt_base_aligned());
        assert!(p(0x10_0000, 16).rtt_base_aligned());
        assert!(!p(0x10_1000, 16).rtt_base_aligned());
        assert!(!p(0x10_0000, 0).rtt_base_aligned());
        assert!(p(0, u32::MAX).rtt_base_aligned());
    }

    #[test]
    fn measured_params_are_the_b4_3_9_4_fields() {
        let p = RealmParams {
            flags: RealmFlags::from_bits(0b101 | 1 << 40),
            ..params()
        };
        assert_eq!(
            p.measured(),
            MeasuredRealmParams {
                flags: 0b101 | 1 << 40,
                s2sz: 48,
                sve_vl: 3,
                num_bps: 5,
                num_wps: 6,
                pmu_num_ctrs: 7,
                hash_algo: HashAlgorithm::Sha512,
            }
        );
    }

    #[test]
    fn write_to_is_the_inverse_of_parse() {
        let mut out = [0xaau8; 4096];
        params().write_to(&mut out);
        assert_eq!(out, page());
    }
}
