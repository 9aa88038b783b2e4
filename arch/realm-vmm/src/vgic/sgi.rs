//! SGIs: a write to ICC_SGI1R_EL1 (12.2.22), which reaches the VMM as a REC exit.

use super::Vgic;

/// ICC_SGI1R_EL1 fields.
const TARGET_LIST: u64 = 0xffff;
const AFF1_SHIFT: u32 = 16;
const INTID_SHIFT: u32 = 24;
const AFF2_SHIFT: u32 = 32;
/// Interrupt_Routing_Mode: 1 = every PE but the sender.
const IRM: u64 = 1 << 40;
const RS_SHIFT: u32 = 44;
const AFF3_SHIFT: u32 = 48;

impl Vgic {
    /// `from` wrote `value` to ICC_SGI1R_EL1: makes SGI `value[27:24]` pending on each target —
    /// with IRM == 1 every vCPU but `from`; otherwise the vCPUs whose affinity is
    /// `Aff3.Aff2.Aff1.Aff0` with Aff0 = RS * 16 + n for each bit n of TargetList. Returns the
    /// targets (bit `i`: vCPU `i`), for the VMM to kick. An SGI is pended whatever the group
    /// its target gives it (as KVM does for ICC_SGI1R_EL1); whether it is delivered then
    /// depends on its enable, group and priority.
    pub fn sgi(&mut self, from: usize, value: u64) -> u64 {
        assert!(from < self.nr_vcpus);
        let all = u64::MAX >> (64 - self.nr_vcpus);
        let targets = if value & IRM != 0 {
            all & !(1 << from)
        } else {
            let field = |shift: u32| value >> shift & 0xff;
            let cluster =
                field(AFF3_SHIFT) << 32 | field(AFF2_SHIFT) << 16 | field(AFF1_SHIFT) << 8;
            let rs = (value >> RS_SHIFT & 0xf) << 4;
            let mut targets = 0;
            let mut list = value & TARGET_LIST;
            while list != 0 {
                let n = u64::from(list.trailing_zeros());
                list &= list - 1;
                if let Some(v) = self.vcpu_of(cluster | rs | n) {
                    targets |= 1 << v;
                }
            }
            targets
        };
        let intid = (value >> INTID_SHIFT & 0xf) as u32;
        for v in (0..self.nr_vcpus).filter(|v| targets & 1 << v != 0) {
            self.cpus[v].private.latch |= 1 << intid;
        }
        targets
    }
}
