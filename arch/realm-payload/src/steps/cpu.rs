//! The realm's CPU as an unmodified guest finds it: SMCCC discovery, IPIs, the ID registers,
//! and the GIC state the host sees at an exit.

use crate::psci;
use crate::report::{host_call, step};
use crate::smc::{smc, NUM_REGS};
use rmm_arch::realm_report::{Step, GIC_PMR, ID_REGS_PER_CALL, IMM_ID_REGS, SGI_WRITES};
use rmm_arch::sysreg::{read_id_space, ID_SPACE_SIZE};
use rmm_arch::{isb, read_sysreg, write_sysreg};

/// SMCCC_VERSION.
const SMCCC_VERSION: u64 = 0x8000_0000;
/// SMCCC_ARCH_FEATURES.
const SMCCC_ARCH_FEATURES: u64 = 0x8000_0001;
/// SMCCC_ARCH_SOC_ID.
const SMCCC_ARCH_SOC_ID: u64 = 0x8000_0002;
/// SMCCC_ARCH_WORKAROUND_1.
const SMCCC_ARCH_WORKAROUND_1: u64 = 0x8000_8000;
/// SMCCC's NOT_SUPPORTED.
const NOT_SUPPORTED: u64 = -1i64 as u64;

/// SMCCC_VERSION is at least 1.2 (RMM spec B1.1) and PSCI_FEATURES reports it: the discovery
/// Linux makes before it uses RSI. The host checks the exact version.
pub fn smccc_version() {
    let version = smc_call(SMCCC_VERSION, 0);
    let features = psci::features(SMCCC_VERSION);
    let ok = (0x1_0002..0x2_0000).contains(&version) && features == psci::SUCCESS;
    step(Step::SmcccVersion, ok, [version, features as u64, 0, 0]);
}

/// SMCCC_ARCH_FEATURES answers truthfully: SMCCC_VERSION is there, no workaround or SoC ID.
pub fn smccc_arch_features() {
    let [version, workaround, soc_id] = [SMCCC_VERSION, SMCCC_ARCH_WORKAROUND_1, SMCCC_ARCH_SOC_ID]
        .map(|fid| smc_call(SMCCC_ARCH_FEATURES, fid));
    let ok = version == 0 && workaround == NOT_SUPPORTED && soc_id == NOT_SUPPORTED;
    step(
        Step::SmcccArchFeatures,
        ok,
        [version, workaround, soc_id, 0],
    );
}

/// SMCs of no interface the RMM implements (TRNG, vendor hypervisor service, SiP, OEM, a
/// standard secure service, SMC32 and SMC64) return NOT_SUPPORTED and change no other register.
pub fn smccc_unknown() {
    const FIDS: [u64; 6] = [
        0x8400_0050, // TRNG_VERSION
        0x8600_FF01, // VENDOR_HYP_CALL_UID
        0xC200_0000, // SiP
        0xC300_0000, // OEM
        0xC400_0040, // a standard service function beyond PSCI and RSI
        0x8000_0003, // an Arm architecture function not implemented
    ];
    let mut bad = (0, 0);
    for fid in FIDS {
        let mut regs: [u64; NUM_REGS] = core::array::from_fn(|i| 0x5a5a_0000_0000_0000 | i as u64);
        regs[0] = fid;
        let out = smc(regs);
        if out[0] != NOT_SUPPORTED || out[1..] != regs[1..] {
            bad = (fid, out[0]);
            break;
        }
    }
    step(
        Step::SmcccUnknown,
        bad.0 == 0,
        [FIDS.len() as u64, bad.0, bad.1, 0],
    );
}

/// `fid(arg)`'s x0.
fn smc_call(fid: u64, arg: u64) -> u64 {
    crate::smc::call(fid, &[arg])[0]
}

/// Writes each SGI register once; every write is forwarded to the host and the realm
/// resumes after it.
pub fn sgi_writes() {
    let [sgi1r, asgi1r, sgi0r] = SGI_WRITES;
    // SAFETY: the SGI generation registers of the virtual CPU interface (HCR_EL2.IMO, FMO):
    // the writes trap to the RMM, which hands them to the host; no memory effect.
    unsafe {
        write_sysreg!("s3_0_c12_c11_5", sgi1r); // ICC_SGI1R_EL1
        write_sysreg!("s3_0_c12_c11_6", asgi1r); // ICC_ASGI1R_EL1
        write_sysreg!("s3_0_c12_c11_7", sgi0r); // ICC_SGI0R_EL1
    }
    isb!();
    step(Step::SgiWrite, true, [sgi1r, asgi1r, sgi0r, 0]);
}

/// Sends the whole ID register space to the host, [`ID_REGS_PER_CALL`] registers a host
/// call, and checks the features this realm must not see.
pub fn id_registers() {
    let ids = read_id_space();
    for (chunk, first) in ids
        .chunks(ID_REGS_PER_CALL)
        .zip((0..).step_by(ID_REGS_PER_CALL))
    {
        let mut gprs = [0u64; 1 + ID_REGS_PER_CALL];
        gprs[0] = first as u64;
        gprs[1..=chunk.len()].copy_from_slice(chunk);
        host_call(IMM_ID_REGS, &gprs);
    }
    let field = |index: usize, lsb: u32| (ids[index] >> lsb) & 0xf;
    // ID_AA64PFR0_EL1 (index 24): AMU; PFR1 (25): MTE, SME; DFR0 (32): PMSVer, TraceBuffer.
    // SVE and PMUVer are there when the realm was created with them: the host checks those.
    let absent = [(24, 44), (25, 8), (25, 24), (32, 32), (32, 44)];
    let shown = absent
        .iter()
        .filter(|&&(i, lsb)| field(i, lsb) != 0)
        .count();
    step(
        Step::IdRegisters,
        shown == 0,
        [ID_SPACE_SIZE as u64, shown as u64, ids[24], ids[25]],
    );
}

/// Where ID_AA64ISAR2_EL1.MOPS says FEAT_MOPS exists, its copy and set instructions work.
pub fn mops() {
    let mops = (read_sysreg!("s3_0_c0_c6_2") >> 16) & 0xf;
    if mops == 0 {
        step(Step::Mops, true, [0, 0, 0, 0]);
        return;
    }
    let source: [u8; 64] = core::array::from_fn(|i| i as u8 ^ 0xa5);
    let mut copy = [0u8; 64];
    let mut filled = [0u8; 64];
    // SAFETY: the FEAT_MOPS sequences write `copy` from `source` and fill `filled`, 64 bytes
    // each, all within these local arrays; the registers they advance are operands.
    unsafe {
        core::arch::asm!(
            ".arch_extension mops",
            "cpyp [{dst}]!, [{src}]!, {n}!",
            "cpym [{dst}]!, [{src}]!, {n}!",
            "cpye [{dst}]!, [{src}]!, {n}!",
            "setp [{fill}]!, {m}!, {value}",
            "setm [{fill}]!, {m}!, {value}",
            "sete [{fill}]!, {m}!, {value}",
            dst = inout(reg) copy.as_mut_ptr() => _,
            src = inout(reg) source.as_ptr() => _,
            n = inout(reg) 64u64 => _,
            fill = inout(reg) filled.as_mut_ptr() => _,
            m = inout(reg) 64u64 => _,
            value = in(reg) 0x3cu64,
            options(nostack),
        );
    }
    let ok = copy == source && filled.iter().all(|&b| b == 0x3c);
    step(Step::Mops, ok, [mops, u64::from(ok), 0, 0]);
}

/// Sets a priority mask and Group 1 in the virtual CPU interface, for the host to find in the
/// exit's gicv3_vmcr; then makes one more exit, entered with ICH_HCR_EL2.UIE, whose
/// gicv3_misr the host checks. The priority mask is opened again afterwards.
pub fn gic_exit_state() {
    // SAFETY: the virtual CPU interface's priority mask and Group 1 enable only decide which
    // virtual interrupts are signalled; PSTATE.I stays masked.
    unsafe {
        write_sysreg!("s3_0_c4_c6_0", GIC_PMR); // ICC_PMR_EL1
        write_sysreg!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
    }
    isb!();
    let pmr = read_sysreg!("s3_0_c4_c6_0");
    step(Step::GicVmcr, pmr == GIC_PMR, [pmr, 0, 0, 0]);
    step(Step::GicMisr, true, [0, 0, 0, 0]);
    // SAFETY: as above.
    unsafe { write_sysreg!("s3_0_c4_c6_0", 0xff) };
    isb!();
}
