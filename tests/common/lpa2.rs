//! A machine with FEAT_LPA2 and 52-bit PAs ([`rmm::host::LPA2_CPU`], QEMU `-cpu max`'s) whose
//! DRAM includes PAs only LPA2 can use, and realms on it (`rmi_lpa2.rs`, `rmi_lpa2_rtt.rs`).

use super::*;
use rmm::granule::GranuleState;
use rmm::host::{Config, Machine, LPA2_CPU};
use rmm::platform::CpuFeatures;
use rmm::rmi::params::RealmFlags;

/// DRAM below 4 GiB, at 2^48 (bits 49:48 of an LPA2 descriptor address) and at PAs with bits
/// 51:48 all set (bits 51:50 in descriptor bits 9:8).
pub const LOW: (u64, u64) = (0x8000_0000, 512 * GRANULE);
pub const AT_2_48: (u64, u64) = (1 << 48, 64 * GRANULE);
pub const TOP_BANK: (u64, u64) = (0xf_ffff_fff0_0000, 64 * GRANULE);
/// The last Protected page of a 52-bit IPA space, the first Unprotected IPA, the last page.
pub const TOP_PROTECTED: u64 = (1 << 51) - GRANULE;
pub const UNPROTECTED: u64 = 1 << 51;
pub const TOP_IPA: u64 = (1 << 52) - GRANULE;
/// RMI_RTT_READ_ENTRY's walk level -1, sign-extended; RMI_ERROR_RTT at level -1 (index 0xff).
pub const LEVEL_M1: u64 = -1i64 as u64;
pub const ERROR_RTT_M1: u64 = error_rtt(0xff);
pub const UNASSIGNED: u64 = 0;
pub const ASSIGNED: u64 = 1;
pub const TABLE: u64 = 2;
pub const RAM: u64 = 1;

/// `pa` as the address field of an LPA2 descriptor: bits 49:12 in place, 51:50 in 9:8.
pub fn lpa2_desc(pa: u64) -> u64 {
    (pa & 0x0003_ffff_ffff_f000) | ((pa >> 50) & 3) << 8
}

/// A machine with `cpu` and the three banks, and granules handed out from each.
pub struct World {
    pub m: Machine,
    next: [u64; 3],
    vmid: u64,
    /// Where the next realm's starting-level RTTs go: blocks of 16 granules at the start of
    /// LOW, the next one taken once a realm is created.
    pub roots: u64,
}

#[derive(Clone, Copy)]
pub enum Bank {
    Low = 0,
    At248 = 1,
    Top = 2,
}

impl World {
    pub fn with(cpu: CpuFeatures) -> World {
        let banks = [LOW, AT_2_48, TOP_BANK];
        World {
            m: Machine::with_cpu(
                Config {
                    cpus: 2,
                    dram: banks.to_vec(),
                },
                cpu,
            ),
            // Low granules after 16 blocks of starting-level RTTs.
            next: [LOW.0 + 256 * GRANULE, AT_2_48.0, TOP_BANK.0],
            vmid: 1,
            roots: LOW.0,
        }
    }

    pub fn new() -> World {
        Self::with(LPA2_CPU)
    }

    /// The next granule of `bank`, left UNDELEGATED.
    pub fn ns_in(&mut self, bank: Bank) -> u64 {
        let pa = self.next[bank as usize];
        self.next[bank as usize] += GRANULE;
        pa
    }

    pub fn ns(&mut self) -> u64 {
        self.ns_in(Bank::Low)
    }

    /// The next granule of `bank`, delegated.
    pub fn del_in(&mut self, bank: Bank) -> u64 {
        let pa = self.ns_in(bank);
        assert_eq!(delegate(&self.m, pa), SUCCESS, "{pa:#x}");
        pa
    }

    pub fn del(&mut self) -> u64 {
        self.del_in(Bank::Low)
    }

    /// REALM_CREATE with (s2sz, rtt_level_start, rtt_num_start) and flags.lpa2 = `lpa2`, the
    /// starting-level RTTs delegated here: (x0, rd).
    pub fn try_realm(&mut self, lpa2: bool, (s2sz, level, num): (u8, i64, u32)) -> (u64, u64) {
        let (params, rd) = (self.ns(), self.del());
        assert!(
            self.roots < LOW.0 + 256 * GRANULE,
            "out of starting-level RTTs"
        );
        for i in 0..u64::from(num).min(16) {
            let root = self.roots + i * GRANULE;
            if self.m.granule_state(root) != Some(GranuleState::Delegated) {
                assert_eq!(delegate(&self.m, root), SUCCESS);
            }
        }
        let mut p = realm_params(self.roots);
        p.flags = RealmFlags::from_bits(if lpa2 { RealmFlags::LPA2 } else { 0 });
        (p.s2sz, p.rtt_level_start, p.rtt_num_start) = (s2sz, level, num);
        p.vmid = self.vmid as u16;
        self.vmid += 1;
        write_realm_params(&self.m, params, &p);
        let x0 = rmi(&self.m, RMI_REALM_CREATE, &[rd, params])[0];
        if x0 == SUCCESS {
            self.roots += 16 * GRANULE;
        }
        (x0, rd)
    }

    pub fn realm(&mut self, lpa2: bool, shape: (u8, i64, u32)) -> u64 {
        let (x0, rd) = self.try_realm(lpa2, shape);
        assert_eq!(x0, SUCCESS, "REALM_CREATE {shape:?} lpa2 {lpa2}");
        rd
    }

    /// A realm with LPA2 and a 52-bit IPA space from level -1.
    pub fn realm52(&mut self) -> u64 {
        self.realm(true, (52, -1, 1))
    }

    /// RTT_CREATE for `ipa` at each of `levels` (granules from `bank`), each aligned to its
    /// parent's entries; returns the RTTs.
    pub fn rtts(&mut self, rd: u64, ipa: u64, levels: &[i64], bank: Bank) -> Vec<u64> {
        let mut rtts = vec![];
        for &level in levels {
            let rtt = self.del_in(bank);
            let ipa = ipa & !((1u64 << (12 + 9 * (4 - level))) - 1);
            let x0 = rmi(&self.m, RMI_RTT_CREATE, &[rd, rtt, ipa, level as u64])[0];
            assert_eq!(x0, SUCCESS, "RTT_CREATE {ipa:#x} level {level}");
            rtts.push(rtt);
        }
        rtts
    }

    pub fn read(&self, rd: u64, ipa: u64, level: i64) -> [u64; 5] {
        read_entry(&self.m, rd, ipa, level as u64)
    }

    pub fn state(&self, pa: u64) -> Option<GranuleState> {
        self.m.granule_state(pa)
    }
}
