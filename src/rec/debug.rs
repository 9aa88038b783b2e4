//! Self-hosted debug for realms (RMM spec A3.1.4): the realm has the breakpoints and
//! watchpoints the host gave it (`num_bps`, `num_wps`), and the host keeps its own.
//!
//! The debug registers are not banked between worlds, so while a realm runs every access it
//! makes to them traps to the RMM (MDCR_EL2.TDA and TDOSA), which emulates it against the REC's
//! copy ([`WORDS`] words, kept by the platform) and decodes it here:
//!
//! - `DBGBVR<n>_EL1`, `DBGBCR<n>_EL1`, `DBGWVR<n>_EL1`, `DBGWCR<n>_EL1` for `n` below the realm's
//!   count: the REC's copy; at or above it, UNDEFINED (the realm's ID_AA64DFR0_EL1 says there
//!   is no such register).
//! - MDSCR_EL1: the realm's own, switched with its EL1 registers.
//! - OSLAR_EL1 (write) and OSLSR_EL1 (read): the realm's OS lock, OSLM = 0b10.
//! - OSDLR_EL1, DBGPRCR_EL1: stored, no effect. DBGCLAIMSET/CLR_EL1: 8 claim tags, stored.
//!   DBGAUTHSTATUS_EL1: the processor's. The Debug Communication Channel registers read as
//!   zero and ignore writes (the realm has no external debugger).
//!
//! The realm's breakpoints and watchpoints are in the physical registers only while the realm
//! runs with MDSCR_EL1.MDE set ([`live`]): only then can they fire. A realm that does not debug
//! costs the round trip one test of a word. Breakpoint `n` of a realm with `b` breakpoints is
//! physical breakpoint `n + B - b` of a processor with `B` ([`physical_bp`]), so that the
//! realm's context-aware breakpoints (the highest-numbered, ID_AA64DFR0_EL1.CTX_CMPs) are the
//! processor's; a control register's linked breakpoint number (LBN) is moved the same way.

use super::esr;

/// Words of a REC's debug state: BVR, BCR, WVR, WCR (16 each), then the OS lock, OSDLR_EL1,
/// DBGPRCR_EL1 and the claim tags.
pub const WORDS: usize = 68;
/// First word of each array.
pub const BVR: usize = 0;
/// See [`BVR`].
pub const BCR: usize = 16;
/// See [`BVR`].
pub const WVR: usize = 32;
/// See [`BVR`].
pub const WCR: usize = 48;
/// The word of the OS lock (OSLAR_EL1.OSLK as the realm last wrote it).
pub const OSLK: usize = 64;
const OSDLR: usize = 65;
const PRCR: usize = 66;
const CLAIM: usize = 67;

/// MDSCR_EL1.MDE: breakpoint, watchpoint and vector catch debug exceptions enabled.
pub const MDSCR_MDE: u64 = 1 << 15;
/// DBGBCR/DBGWCR.LBN (19:16): the linked breakpoint.
const LBN_SHIFT: u32 = 16;
const LBN_MASK: u64 = 0xf << LBN_SHIFT;

/// A debug system register a realm accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    /// `DBGBVR<n>_EL1`.
    Bvr(usize),
    /// `DBGBCR<n>_EL1`.
    Bcr(usize),
    /// `DBGWVR<n>_EL1`.
    Wvr(usize),
    /// `DBGWCR<n>_EL1`.
    Wcr(usize),
    /// MDSCR_EL1.
    Mdscr,
    /// OSLAR_EL1 (write-only).
    Oslar,
    /// OSLSR_EL1 (read-only).
    Oslsr,
    /// OSDLR_EL1.
    Osdlr,
    /// DBGPRCR_EL1.
    Dbgprcr,
    /// DBGCLAIMSET_EL1.
    ClaimSet,
    /// DBGCLAIMCLR_EL1.
    ClaimClr,
    /// DBGAUTHSTATUS_EL1 (read-only).
    AuthStatus,
    /// MDCCINT_EL1, MDCCSR_EL0, OSDTRRX/TX_EL1, OSECCR_EL1, DBGDTR*_EL0.
    Dcc,
}

/// A trapped MRS or MSR of a debug register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The register.
    pub reg: Reg,
    /// MSR (true) or MRS.
    pub write: bool,
    /// The transfer register Rt (31: XZR).
    pub rt: usize,
}

/// The debug register access `esr` describes (a trapped MSR or MRS, EC 0x18, with op0 2), or
/// None for any other exception.
pub fn decode(esr: u64) -> Option<Access> {
    if esr::ec(esr) != esr::EC_SYSREG {
        return None;
    }
    let iss = esr & 0x1ff_ffff;
    let field = |lsb: u32, mask: u64| ((iss >> lsb) & mask) as usize;
    let (op0, op2, op1, crn, rt, crm) = (
        field(20, 0b11),
        field(17, 0b111),
        field(14, 0b111),
        field(10, 0xf),
        field(5, 0x1f),
        field(1, 0xf),
    );
    if op0 != 2 {
        return None;
    }
    let reg = match (op1, crn, crm, op2) {
        (0, 0, n, 4) => Reg::Bvr(n),
        (0, 0, n, 5) => Reg::Bcr(n),
        (0, 0, n, 6) => Reg::Wvr(n),
        (0, 0, n, 7) => Reg::Wcr(n),
        (0, 0, 2, 2) => Reg::Mdscr,
        (0, 0, 2, 0) | (0, 0, 0, 2) | (0, 0, 3, 2) | (0, 0, 6, 2) => Reg::Dcc,
        (3, 0, 1, 0) | (3, 0, 4, 0) | (3, 0, 5, 0) => Reg::Dcc,
        (0, 1, 0, 4) => Reg::Oslar,
        (0, 1, 1, 4) => Reg::Oslsr,
        (0, 1, 3, 4) => Reg::Osdlr,
        (0, 1, 4, 4) => Reg::Dbgprcr,
        (0, 7, 8, 6) => Reg::ClaimSet,
        (0, 7, 9, 6) => Reg::ClaimClr,
        (0, 7, 14, 6) => Reg::AuthStatus,
        _ => return None,
    };
    Some(Access {
        reg,
        write: iss & 1 == 0,
        rt,
    })
}

/// What the platform does for an access ([`emulate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The realm's Rt gets this value.
    Read(u64),
    /// The REC's copy changed at word `slot`; a breakpoint or watchpoint register goes to the
    /// hardware too while the realm's are loaded.
    Stored(usize),
    /// Rt gets MDSCR_EL1 (read) or MDSCR_EL1 gets Rt (write): the hardware register is the
    /// realm's while it runs.
    Mdscr,
    /// Rt gets the processor's DBGAUTHSTATUS_EL1.
    AuthStatus,
    /// The access is UNDEFINED for the realm.
    Undefined,
}

/// Emulates `access` against `state`, the REC's copy, for a realm with `bps` breakpoints and
/// `wps` watchpoints (counts, not minus one); `value` is Rt for a write.
pub fn emulate(
    state: &mut [u64; WORDS],
    access: Access,
    value: u64,
    bps: usize,
    wps: usize,
) -> Effect {
    let (slot, limit) = match access.reg {
        Reg::Bvr(n) => (BVR.checked_add(n), n < bps),
        Reg::Bcr(n) => (BCR.checked_add(n), n < bps),
        Reg::Wvr(n) => (WVR.checked_add(n), n < wps),
        Reg::Wcr(n) => (WCR.checked_add(n), n < wps),
        Reg::Mdscr => return Effect::Mdscr,
        Reg::Dcc => {
            return if access.write {
                Effect::Stored(WORDS)
            } else {
                Effect::Read(0)
            }
        }
        Reg::Oslar if access.write => (Some(OSLK), true),
        Reg::Oslsr if !access.write => return Effect::Read(1 << 3 | (state[OSLK] & 1) << 1),
        Reg::Osdlr => (Some(OSDLR), true),
        Reg::Dbgprcr => (Some(PRCR), true),
        Reg::ClaimSet | Reg::ClaimClr => (Some(CLAIM), true),
        Reg::AuthStatus if !access.write => return Effect::AuthStatus,
        Reg::Oslar | Reg::Oslsr | Reg::AuthStatus => return Effect::Undefined,
    };
    // Past the realm's count, or (counts above 16, which REALM_CREATE refuses) past the copy.
    let Some((slot, word)) = slot
        .filter(|_| limit)
        .and_then(|slot| Some((slot, state.get_mut(slot)?)))
    else {
        return Effect::Undefined;
    };
    if !access.write {
        return Effect::Read(match access.reg {
            Reg::ClaimSet => 0xff,
            _ => *word,
        });
    }
    *word = match access.reg {
        Reg::Oslar => value & 1,
        Reg::Osdlr => value & 1,
        Reg::Dbgprcr => value & 1,
        Reg::ClaimSet => *word | (value & 0xff),
        Reg::ClaimClr => *word & !value,
        _ => value,
    };
    Effect::Stored(slot)
}

/// Whether the realm's breakpoints and watchpoints must be in the hardware while it runs:
/// its MDSCR_EL1 enables debug exceptions (MDE) and its OS lock is clear.
pub fn live(mdscr: u64, state: &[u64; WORDS]) -> bool {
    live_with(mdscr, state[OSLK])
}

/// [`live`], from MDSCR_EL1 and the [`OSLK`] word alone.
pub fn live_with(mdscr: u64, oslk: u64) -> bool {
    mdscr & MDSCR_MDE != 0 && oslk & 1 == 0
}

/// The processor's breakpoint for the realm's breakpoint `n`, of `bps` the realm has and
/// `phys` the processor has: the realm's are the processor's highest-numbered ones.
pub const fn physical_bp(n: usize, bps: usize, phys: usize) -> usize {
    n.saturating_add(phys.saturating_sub(bps))
}

/// A realm's DBGBCR or DBGWCR value as the hardware gets it: LBN names the processor's
/// breakpoint ([`physical_bp`]).
pub fn physical_ctrl(value: u64, bps: usize, phys: usize) -> u64 {
    let lbn = ((value & LBN_MASK) >> LBN_SHIFT) as usize;
    let moved = physical_bp(lbn, bps, phys).min(15) as u64;
    (value & !LBN_MASK) | moved << LBN_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ESR_EL2 of a trapped MRS (`read`) or MSR of S2_<op1>_C<crn>_C<crm>_<op2> with Rt `rt`.
    fn esr(op1: u64, crn: u64, crm: u64, op2: u64, rt: u64, read: bool) -> u64 {
        esr::EC_SYSREG << 26
            | esr::IL
            | 2 << 20
            | op2 << 17
            | op1 << 14
            | crn << 10
            | rt << 5
            | crm << 1
            | u64::from(read)
    }

    #[test]
    fn decodes_the_debug_registers() {
        let at = |op1, crn, crm, op2| decode(esr(op1, crn, crm, op2, 3, true)).map(|a| a.reg);
        assert_eq!(at(0, 0, 5, 4), Some(Reg::Bvr(5)));
        assert_eq!(at(0, 0, 15, 5), Some(Reg::Bcr(15)));
        assert_eq!(at(0, 0, 1, 6), Some(Reg::Wvr(1)));
        assert_eq!(at(0, 0, 0, 7), Some(Reg::Wcr(0)));
        assert_eq!(at(0, 0, 2, 2), Some(Reg::Mdscr));
        assert_eq!(at(0, 1, 0, 4), Some(Reg::Oslar));
        assert_eq!(at(0, 1, 1, 4), Some(Reg::Oslsr));
        assert_eq!(at(0, 7, 14, 6), Some(Reg::AuthStatus));
        assert_eq!(at(3, 0, 1, 0), Some(Reg::Dcc));
        let write = decode(esr(0, 0, 2, 4, 7, false)).unwrap();
        assert_eq!((write.write, write.rt), (true, 7));
        // op0 3 (an ID register) and other classes are not debug registers.
        assert_eq!(
            decode(esr(0, 0, 2, 4, 7, false) & !(3 << 20) | 3 << 20),
            None
        );
        assert_eq!(decode(0x07 << 26), None);
    }

    #[test]
    fn counts_are_the_realms() {
        let mut s = [0u64; WORDS];
        let w = |reg| Access {
            reg,
            write: true,
            rt: 0,
        };
        let r = |reg| Access {
            reg,
            write: false,
            rt: 0,
        };
        assert_eq!(
            emulate(&mut s, w(Reg::Bcr(1)), 0x1e7, 2, 2),
            Effect::Stored(BCR + 1)
        );
        assert_eq!(s[BCR + 1], 0x1e7);
        assert_eq!(
            emulate(&mut s, r(Reg::Bcr(1)), 0, 2, 2),
            Effect::Read(0x1e7)
        );
        assert_eq!(emulate(&mut s, w(Reg::Bcr(2)), 1, 2, 2), Effect::Undefined);
        assert_eq!(emulate(&mut s, r(Reg::Wvr(3)), 0, 2, 3), Effect::Undefined);
        assert_eq!(
            emulate(&mut s, w(Reg::Wvr(2)), 0x40, 2, 3),
            Effect::Stored(WVR + 2)
        );
        assert_eq!(s[BCR + 2], 0, "nothing stored past the count");
    }

    #[test]
    fn os_lock_claims_and_dcc() {
        let mut s = [0u64; WORDS];
        let w = |reg| Access {
            reg,
            write: true,
            rt: 0,
        };
        let r = |reg| Access {
            reg,
            write: false,
            rt: 0,
        };
        assert_eq!(
            emulate(&mut s, r(Reg::Oslsr), 0, 2, 2),
            Effect::Read(0b1000)
        );
        emulate(&mut s, w(Reg::Oslar), 1, 2, 2);
        assert_eq!(
            emulate(&mut s, r(Reg::Oslsr), 0, 2, 2),
            Effect::Read(0b1010)
        );
        assert!(
            !live(MDSCR_MDE, &s),
            "the OS lock holds debug exceptions off"
        );
        emulate(&mut s, w(Reg::Oslar), 0, 2, 2);
        assert!(live(MDSCR_MDE, &s) && !live(0, &s));
        assert_eq!(emulate(&mut s, r(Reg::Oslar), 0, 2, 2), Effect::Undefined);
        assert_eq!(emulate(&mut s, w(Reg::Oslsr), 0, 2, 2), Effect::Undefined);
        emulate(&mut s, w(Reg::ClaimSet), 0x1_05, 2, 2);
        emulate(&mut s, w(Reg::ClaimClr), 0x01, 2, 2);
        assert_eq!(
            emulate(&mut s, r(Reg::ClaimClr), 0, 2, 2),
            Effect::Read(0x04)
        );
        assert_eq!(
            emulate(&mut s, r(Reg::ClaimSet), 0, 2, 2),
            Effect::Read(0xff)
        );
        assert_eq!(emulate(&mut s, r(Reg::Dcc), 0, 2, 2), Effect::Read(0));
        assert_eq!(emulate(&mut s, w(Reg::Dcc), 5, 2, 2), Effect::Stored(WORDS));
        assert_eq!(emulate(&mut s, r(Reg::Mdscr), 0, 2, 2), Effect::Mdscr);
    }

    #[test]
    fn realm_breakpoints_are_the_highest_numbered() {
        // 6 physical breakpoints, the top 2 context-aware; a realm with 2 gets those.
        assert_eq!(physical_bp(0, 2, 6), 4);
        assert_eq!(physical_bp(1, 2, 6), 5);
        assert_eq!(physical_bp(3, 6, 6), 3);
        // A watchpoint linked to the realm's breakpoint 1 links to the processor's 5.
        let wcr = 0x1f7 | 1 << 16 | 1 << 20;
        assert_eq!(physical_ctrl(wcr, 2, 6), 0x1f7 | 5 << 16 | 1 << 20);
    }
}
