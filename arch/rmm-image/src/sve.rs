//! The Normal world's SVE state while a realm owns the FP/SIMD registers (`crate::fp`; SMCCC
//! 1.3 and 1.4, required by RMM spec B1.1). Writing a V register may zero the Z register's
//! bits above 128 up to the longest vector length, so with FEAT_SVE the RMM saves Z0-Z31,
//! P0-P15 and FFR, not V0-V31; with FEAT_SME in streaming mode (PSTATE.SM = 1) it saves the
//! streaming Z0-Z31 and P0-P15, then leaves streaming mode so that the realm runs without it,
//! and enters it again before restoring. ZA and ZT0 are not touched: realms cannot reach them
//! (CPTR_EL2.TSM) and SMSTOP SM keeps them. FFR in streaming mode, usable only where EL3
//! enables FEAT_SME_FA64 (the test firmware does not), is not saved: it comes back zero.
//!
//! The state is saved at the longest vector lengths this CPU gives EL2: the RMM cannot know
//! the host's ZCR_EL2 or SMCR_EL2 (EL3 may switch them per world, as the test firmware does,
//! or not, as TF-A does). The RMM asks for the lengths probed at boot, saves, restores, and
//! writes the value it found back, so that an EL3 that does not switch them leaves the host
//! its own; where EL3 does switch them, the value found is the RMM's own, set at boot to the
//! longest, so writing it back shortens nothing.
//!
//! From EL3 the RMM expects SVE and SME untrapped at R-EL2 (CPTR_EL3.EZ, CPTR_EL3.ESM) when
//! the ID registers report them, and ZCR_EL3/SMCR_EL3 lengths for the Realm world no shorter
//! than the Normal world's.

use crate::boot_cell::BootCell;
use crate::fp::{set_cptr, CPTR_TFP, CPTR_TRAP_ALL, CPTR_TSM, CPTR_TZ};
use alloc::alloc::{alloc_zeroed, Layout};
use rmm_arch::{read_sysreg, write_sysreg};

/// ZCR_EL2.LEN and SMCR_EL2.LEN.
const LEN: u64 = 0xf;
/// Header of a save area (words): what is saved, the ZCR_EL2 or SMCR_EL2 found, FPSR, FPCR.
const KIND: usize = 0;
const CTL: usize = 1;
const FPSR: usize = 2;
const FPCR: usize = 3;
/// Bytes before Z0 in a save area.
const HEADER: usize = 64;
/// [`KIND`] values.
const NONE: u64 = 0;
const SVE: u64 = 1;
const STREAMING: u64 = 2;

/// What the CPUs implement and where the per-CPU save areas are.
struct Vectors {
    /// CPTR_EL2 with FP/SIMD, SVE and SME untrapped where implemented.
    cptr_open: u64,
    /// ZCR_EL2.LEN (FEAT_SVE) and SMCR_EL2.LEN (FEAT_SME) giving the longest lengths.
    zcr_len: Option<u64>,
    smcr_len: Option<u64>,
    /// Bytes of the longest vector an area holds.
    vl: usize,
    areas: u64,
    stride: usize,
    cpus: usize,
}

static VECTORS: BootCell<Option<Vectors>> = BootCell::new(None);

unsafe extern "C" {
    fn rmm_sve_save(to: u64, ffr: u64);
    fn rmm_sve_restore(from: u64, ffr: u64);
}

// At x0 for the current vector length VL: Z0..Z31 (32 VL), P0..P15 (16 VL/8), then FFR (VL/8)
// when x1 != 0 (it travels through P0, so it is saved after P0 and restored before it).
core::arch::global_asm!(
    r#"
    .arch_extension sve
    .section .text.sve, "ax"
    .global rmm_sve_save
rmm_sve_save:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    str     z\n, [x0, #\n, mul vl]
    .endr
    addvl   x0, x0, #16
    addvl   x0, x0, #16
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str     p\n, [x0, #\n, mul vl]
    .endr
    cbz     x1, 1f
    rdffr   p0.b
    str     p0, [x0, #16, mul vl]
1:  ret

    .global rmm_sve_restore
rmm_sve_restore:
    mov     x2, x0
    addvl   x0, x0, #16
    addvl   x0, x0, #16
    cbz     x1, 1f
    ldr     p0, [x0, #16, mul vl]
    wrffr   p0.b
1:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ldr     p\n, [x0, #\n, mul vl]
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ldr     z\n, [x2, #\n, mul vl]
    .endr
    ret
"#
);

/// Bytes of a save area for vectors of `vl` bytes.
const fn area_bytes(vl: usize) -> usize {
    HEADER + 32 * vl + 17 * (vl / 8)
}

/// FEAT_SVE and FEAT_SME.
fn implemented() -> (bool, bool) {
    let sve = (read_sysreg!("id_aa64pfr0_el1") >> 32) & 0xf != 0;
    let sme = (read_sysreg!("id_aa64pfr1_el1") >> 24) & 0xf != 0;
    (sve, sme)
}

/// CPTR_EL2 with FP/SIMD untrapped, and SVE and SME where implemented.
pub fn cptr_open() -> u64 {
    VECTORS
        .get()
        .as_ref()
        .map_or(CPTR_TRAP_ALL & !CPTR_TFP, |v| v.cptr_open)
}

/// Sets this CPU's ZCR_EL2.LEN and SMCR_EL2.LEN (the RMM's own where EL3 switches them per
/// world) to `len` (where implemented) and returns the resulting vector lengths in bytes.
/// Traps must be open.
fn set_lengths(zcr_len: Option<u64>, smcr_len: Option<u64>) -> (usize, usize) {
    let (mut vl, mut svl) = (0u64, 0u64);
    // SAFETY: vector lengths at EL2 and below, with SVE/SME untrapped; the RMM holds no
    // vector state at boot; RDVL and RDSVL only read.
    unsafe {
        if let Some(len) = zcr_len {
            write_sysreg!("s3_4_c1_c2_0", len);
            core::arch::asm!("isb", options(nostack));
            core::arch::asm!(
                ".arch_extension sve",
                "rdvl {}, #1",
                out(reg) vl,
                options(nomem, nostack)
            );
        }
        if let Some(len) = smcr_len {
            let smcr = read_sysreg!("s3_4_c1_c2_6");
            write_sysreg!("s3_4_c1_c2_6", (smcr & !LEN) | len);
            core::arch::asm!("isb", options(nostack));
            core::arch::asm!(
                ".arch_extension sme",
                "rdsvl {}, #1",
                out(reg) svl,
                options(nomem, nostack)
            );
        }
    }
    (vl as usize, svl as usize)
}

/// What [`probe`] finds.
struct Probe {
    open: u64,
    sve: bool,
    sme: bool,
    /// Vector and streaming vector lengths in bytes (0: not implemented).
    vl: usize,
    svl: usize,
    stride: usize,
}

/// Finds the longest vector lengths and the save area each CPU needs for them; `None` without
/// SVE and SME, Err for lengths the RMM does not handle.
fn probe() -> Result<Option<Probe>, ()> {
    let (sve, sme) = implemented();
    if !sve && !sme {
        return Ok(None);
    }
    let open = CPTR_TRAP_ALL
        & !CPTR_TFP
        & !if sve { CPTR_TZ } else { 0 }
        & !if sme { CPTR_TSM } else { 0 };
    set_cptr(open);
    let (vl, svl) = set_lengths(sve.then_some(LEN), sme.then_some(LEN));
    set_cptr(CPTR_TRAP_ALL);
    let longest = vl.max(svl);
    if !(16..=256).contains(&longest) {
        return Err(());
    }
    Ok(Some(Probe {
        open,
        sve,
        sme,
        vl,
        svl,
        stride: area_bytes(longest).next_multiple_of(64),
    }))
}

/// Bytes of heap [`init`] takes per CPU (0 without SVE and SME), or Err as [`init`].
pub fn bytes_per_cpu() -> Result<usize, ()> {
    Ok(probe()?.map_or(0, |p| p.stride))
}

/// Cold boot, CPU 0: finds the longest vector lengths and allocates `cpus` save areas. Returns
/// the non-streaming and streaming lengths in bits (0: not implemented), or Err if the heap
/// is too small.
pub fn init(cpus: usize) -> Result<(usize, usize), ()> {
    let Some(Probe {
        open,
        sve,
        sme,
        vl,
        svl,
        stride,
    }) = probe()?
    else {
        return Ok((0, 0));
    };
    let len = |bytes: usize| (bytes as u64 / 16).saturating_sub(1);
    let layout = stride
        .checked_mul(cpus.max(1))
        .and_then(|size| Layout::from_size_align(size, 64).ok())
        .ok_or(())?;
    // SAFETY: the layout has a non-zero size.
    let areas = unsafe { alloc_zeroed(layout) };
    if areas.is_null() {
        return Err(());
    }
    // SAFETY: CPU 0 at cold boot, before any reader (BootCell's contract).
    unsafe {
        *VECTORS.get_mut() = Some(Vectors {
            cptr_open: open,
            zcr_len: sve.then(|| len(vl)),
            smcr_len: sme.then(|| len(svl)),
            vl: vl.max(svl),
            areas: areas as u64,
            stride,
            cpus,
        });
    }
    init_cpu()?;
    Ok((vl * 8, svl * 8))
}

/// Every CPU at boot (after [`init`] on CPU 0): sets its ZCR_EL2/SMCR_EL2 lengths to those
/// probed; Err if its vectors are then longer than a save area holds.
pub fn init_cpu() -> Result<(), ()> {
    let Some(v) = VECTORS.get() else {
        return Ok(());
    };
    set_cptr(cptr_open());
    let (vl, svl) = set_lengths(v.zcr_len, v.smcr_len);
    set_cptr(CPTR_TRAP_ALL);
    if vl.max(svl) > v.vl {
        return Err(());
    }
    Ok(())
}

fn area(cpu: usize) -> Option<u64> {
    let v = VECTORS.get().as_ref()?;
    (cpu < v.cpus).then(|| v.areas + (cpu * v.stride) as u64)
}

fn word(area: u64, n: usize) -> *mut u64 {
    (area + 8 * n as u64) as *mut u64
}

/// Saves the Normal world's SVE or streaming SVE state, FPSR and FPCR on CPU `cpu` and
/// leaves streaming mode; false (nothing done) where only V0-V31 need saving. SVE and SME
/// must be untrapped ([`cptr_open`]).
///
/// # Safety
/// CPU `cpu` is this CPU, between a REC's first FP trap and [`restore_ns`].
pub unsafe fn save_ns(cpu: usize) -> bool {
    let (Some(v), Some(area)) = (VECTORS.get().as_ref(), area(cpu)) else {
        return false;
    };
    let streaming = v.smcr_len.is_some() && read_sysreg!("s3_3_c4_c2_2") & 1 != 0;
    let (kind, len) = match (streaming, v.zcr_len, v.smcr_len) {
        (true, _, Some(len)) => (STREAMING, len),
        (false, Some(len), _) => (SVE, len),
        _ => return false,
    };
    // SAFETY: the area is this CPU's (`cpu`, the caller) and holds a header and vectors of
    // `v.vl` bytes; the lengths set below are at most that (`init_cpu`). The control register
    // is written back by `restore_ns`; SVE/SME are untrapped (caller).
    unsafe {
        let found = match kind {
            STREAMING => read_sysreg!("s3_4_c1_c2_6"),
            _ => read_sysreg!("s3_4_c1_c2_0"),
        };
        match kind {
            STREAMING => write_sysreg!("s3_4_c1_c2_6", (found & !LEN) | len),
            _ => write_sysreg!("s3_4_c1_c2_0", (found & !LEN) | len),
        }
        core::arch::asm!("isb", options(nostack));
        *word(area, KIND) = kind;
        *word(area, CTL) = found;
        *word(area, FPSR) = read_sysreg!("s3_3_c4_c4_1");
        *word(area, FPCR) = read_sysreg!("s3_3_c4_c4_0");
        rmm_sve_save(area + HEADER as u64, u64::from(kind == SVE));
        if kind == STREAMING {
            core::arch::asm!(".arch_extension sme", "smstop sm", options(nomem, nostack));
        }
    }
    true
}

/// Restores what [`save_ns`] saved on CPU `cpu` (streaming mode included); false if it saved
/// nothing. SVE and SME must be untrapped.
///
/// # Safety
/// As [`save_ns`], which ran earlier in this REC run.
pub unsafe fn restore_ns(cpu: usize) -> bool {
    let Some(area) = area(cpu) else {
        return false;
    };
    // SAFETY: as in `save_ns`; the lengths are still those the state was saved at.
    unsafe {
        let kind = *word(area, KIND);
        if kind == NONE {
            return false;
        }
        if kind == STREAMING {
            core::arch::asm!(".arch_extension sme", "smstart sm", options(nomem, nostack));
        }
        rmm_sve_restore(area + HEADER as u64, u64::from(kind == SVE));
        write_sysreg!("s3_3_c4_c4_1", *word(area, FPSR));
        write_sysreg!("s3_3_c4_c4_0", *word(area, FPCR));
        match kind {
            STREAMING => write_sysreg!("s3_4_c1_c2_6", *word(area, CTL)),
            _ => write_sysreg!("s3_4_c1_c2_0", *word(area, CTL)),
        }
        core::arch::asm!("isb", options(nostack));
        *word(area, KIND) = NONE;
    }
    true
}

// A realm's SVE state (RMM spec A3.1.3) at its own vector length VL (ZCR_EL2.LEN = sve_vl while
// it is loaded): Z0..Z15 at x0, Z16..Z31 at x1 (16 VL each, one aux granule each at VL = 256
// bytes), P0..P15 at x2 (16 VL/8), then FFR.
core::arch::global_asm!(
    r#"
    .arch_extension sve
    .section .text.sve, "ax"
    .global rmm_sve_realm_save
rmm_sve_realm_save:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str     z\n, [x0, #\n, mul vl]
    .endr
    .irp n, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    str     z\n, [x1]
    addvl   x1, x1, #1
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    str     p\n, [x2, #\n, mul vl]
    .endr
    rdffr   p0.b
    str     p0, [x2, #16, mul vl]
    ret

    .global rmm_sve_realm_restore
rmm_sve_realm_restore:
    ldr     p0, [x2, #16, mul vl]
    wrffr   p0.b
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ldr     p\n, [x2, #\n, mul vl]
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    ldr     z\n, [x0, #\n, mul vl]
    .endr
    .irp n, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ldr     z\n, [x1]
    addvl   x1, x1, #1
    .endr
    ret
"#
);

unsafe extern "C" {
    fn rmm_sve_realm_save(z_lo: u64, z_hi: u64, p: u64);
    fn rmm_sve_realm_restore(z_lo: u64, z_hi: u64, p: u64);
}

/// The longest vector length a realm can get, as ZCR_EL2.LEN (RmiFeatureRegister0.SVE_VL):
/// the longest non-streaming one the CPUs gave at boot. None without FEAT_SVE.
pub fn realm_max_len() -> Option<u8> {
    VECTORS.get().as_ref()?.zcr_len.map(|len| len as u8)
}

/// Where a REC of an SVE realm keeps its vector state: aux\[0\] starts with FPSR, FPCR,
/// ZCR_EL1 and a word that is non-zero once the state was saved, then P0-P15 and FFR at byte
/// [`HEADER`]; aux\[4\] holds Z0-Z15, aux\[5\] Z16-Z31 (`rmm::rec::SVE_AUX_COUNT`).
#[derive(Clone, Copy)]
pub struct RealmSve {
    /// The aux granules: control and predicates, Z0-Z15, Z16-Z31.
    pub aux: [u64; 3],
    /// The realm's vector length, as ZCR_EL2.LEN.
    pub len: u8,
}

/// Words of aux\[0\] of an SVE realm's REC.
const R_FPSR: usize = 0;
const R_FPCR: usize = 1;
const R_ZCR: usize = 2;
const R_SAVED: usize = 3;
/// The Normal world's ZCR_EL1, in this CPU's save area, while a realm has the registers.
const NS_ZCR_EL1: usize = 4;
const _: () = assert!(NS_ZCR_EL1 * 8 < HEADER);

/// Gives the SVE registers to an SVE realm on CPU `cpu`: saves the Normal world's (as
/// [`save_ns`], and its ZCR_EL1), sets ZCR_EL2.LEN to the realm's length and loads the REC's
/// Z, P, FFR, FPSR, FPCR and ZCR_EL1 (zeros, and ZCR_EL1 = the realm's length, the first
/// time). Leaves FP/SIMD and SVE untrapped, SME trapped.
///
/// # Safety
/// `realm.aux` are the aux granules of the REC this CPU has claimed (identity-mapped, Realm
/// PAS); no realm state is loaded on this CPU.
pub unsafe fn switch_to_realm(cpu: usize, realm: RealmSve) -> bool {
    let (Some(v), Some(area)) = (VECTORS.get().as_ref(), area(cpu)) else {
        return false;
    };
    if v.zcr_len.is_none() {
        return false;
    }
    set_cptr(v.cptr_open);
    let [ctl, z_lo, z_hi] = realm.aux;
    // SAFETY: the area is this CPU's and the aux granules the claimed REC's (caller); the
    // realm's length is at most the longest (RMI_FEATURES, checked by REALM_CREATE), so 16 of
    // its vectors fit a granule; SVE is untrapped.
    unsafe {
        save_ns(cpu);
        *word(area, NS_ZCR_EL1) = read_sysreg!("s3_0_c1_c2_0");
        write_sysreg!("s3_4_c1_c2_0", u64::from(realm.len));
        core::arch::asm!("isb", options(nostack));
        rmm_sve_realm_restore(z_lo, z_hi, ctl + HEADER as u64);
        let saved = *word(ctl, R_SAVED) != 0;
        write_sysreg!("s3_3_c4_c4_1", *word(ctl, R_FPSR));
        write_sysreg!("s3_3_c4_c4_0", *word(ctl, R_FPCR));
        let zcr = if saved {
            *word(ctl, R_ZCR)
        } else {
            u64::from(realm.len)
        };
        write_sysreg!("s3_0_c1_c2_0", zcr);
    }
    set_cptr(CPTR_TRAP_ALL & !CPTR_TFP & !CPTR_TZ);
    true
}

/// Takes the SVE registers back from the realm: saves its state to the REC's aux granules and
/// restores the Normal world's ([`restore_ns`], ZCR_EL1). Leaves everything trapped.
///
/// # Safety
/// As [`switch_to_realm`], which returned true earlier in this REC run.
pub unsafe fn switch_to_ns(cpu: usize, realm: RealmSve) {
    let (Some(v), Some(area)) = (VECTORS.get().as_ref(), area(cpu)) else {
        return;
    };
    set_cptr(v.cptr_open);
    let [ctl, z_lo, z_hi] = realm.aux;
    // SAFETY: as in `switch_to_realm`; ZCR_EL2.LEN is still the realm's, so the state is saved
    // at its length, then set back to the longest for `restore_ns`.
    unsafe {
        rmm_sve_realm_save(z_lo, z_hi, ctl + HEADER as u64);
        *word(ctl, R_FPSR) = read_sysreg!("s3_3_c4_c4_1");
        *word(ctl, R_FPCR) = read_sysreg!("s3_3_c4_c4_0");
        *word(ctl, R_ZCR) = read_sysreg!("s3_0_c1_c2_0");
        *word(ctl, R_SAVED) = 1;
        write_sysreg!("s3_0_c1_c2_0", *word(area, NS_ZCR_EL1));
        write_sysreg!("s3_4_c1_c2_0", v.zcr_len.unwrap_or(LEN));
        core::arch::asm!("isb", options(nostack));
        restore_ns(cpu);
    }
    set_cptr(CPTR_TRAP_ALL);
}
