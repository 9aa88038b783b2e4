//! LPA2 and a 52-bit realm (RMM spec A3.1.2). Where the processor has FEAT_LPA2 with 4 KiB
//! granules at both stages and 52-bit PAs (QEMU `-cpu max`), RMI_FEATURES must offer LPA2 and
//! S2SZ 52, and a realm created with flags.lpa2, s2sz 52 and one level -1 starting RTT runs
//! with VTCR_EL2.DS and SL2: its program (at IPA 0) reads a DATA page at the last Protected
//! page (2^51 - 4 KiB: level -1 entry 7, then entries 511 all the way down), answers in a
//! Non-secure page mapped at the last page of the IPA space (2^52 - 8 KiB, bit 51 set), stores
//! to an unmapped IPA next to it (an emulatable Data Abort: level-3 translation fault) and to
//! one whose level -1 entry is UNASSIGNED_NS (a fault at level -1), and asks RSI_REALM_CONFIG
//! for its IPA width with the DATA page as the buffer (the RMM's own walk from level -1). The
//! host checks each exit's IPA (bit 51 in HPFAR), value and fault status, the page the realm
//! wrote, RTT_READ_ENTRY at level -1, and tears everything down.

use crate::console::println;
use crate::granule::Granule;
use crate::params::{write_rec_enter, RealmParams, RecExit, RecParams, ENTER_EMUL_MMIO, EXIT_SYNC};
use crate::pool::Pool;
use crate::realm_code::copy_code;
use crate::report::{check, fail, rmi, Outcome, Why};
use crate::rmi::{self as call, MEASURE_CONTENT};
use ns_el2::rec_run::rec_mpidr;
use rmm_arch::GRANULE_SIZE;

const S2SZ: u64 = 52;
/// The program's page, the last Protected page, the Non-secure page, and the two stores'
/// targets: next to the Non-secure page, and the first page of level -1 entry 8.
const CODE_IPA: u64 = 0;
const DATA_IPA: u64 = (1 << 51) - GRANULE_SIZE;
const SHARED_IPA: u64 = (1 << 52) - 2 * GRANULE_SIZE;
const MMIO_IPA: u64 = (1 << 52) - GRANULE_SIZE;
const MMIO_LM1_IPA: u64 = (1 << 51) + GRANULE_SIZE;
/// The word the host leaves in the shared page, and the DATA page's first word.
const HOST_WORD: u64 = 0x4c50_4132_686f_7374;
const DATA_WORD: u64 = 0x4c50_4132_6461_7461;
/// VMID of the realm (the others are destroyed by now).
const VMID: u64 = 5;
/// RMI_RTT_MAP_UNPROTECTED attributes: MemAttr[2:0] 0b110 (Normal WB), S2AP read-write.
const NS_ATTRS: u64 = 0b110 << 2 | 0b11 << 6;
/// ESR_EL2: EC Data Abort from a lower EL, ISV, WnR, DFSC.
const EC_DABT_LOWER: u64 = 0x24;
const ESR_ISV: u64 = 1 << 24;
const ESR_WNR: u64 = 1 << 6;
const DFSC_TRANSLATION_L3: u64 = 0x07;
const DFSC_TRANSLATION_LM1: u64 = 0x2b;
/// RMI_RTT_READ_ENTRY: RMI_UNASSIGNED, RMI_ASSIGNED, RMI_TABLE; walk level -1, sign-extended.
const UNASSIGNED: u64 = 0;
const ASSIGNED: u64 = 1;
const TABLE: u64 = 2;
const LEVEL_M1: u64 = -1i64 as u64;
/// The RTTs the realm needs below its root: levels 0 to 3 over each of these IPAs.
const RTT_PATHS: [u64; 3] = [CODE_IPA, DATA_IPA, SHARED_IPA];
const RTTS: usize = 4 * RTT_PATHS.len();
/// Granules delegated: RD, root, the RTTs, two DATA pages, REC and up to 16 aux.
const MAX_DELEGATED: usize = 2 + RTTS + 2 + 17;

extern "C" {
    static lpa2_code_start: u8;
    static lpa2_code_end: u8;
}

core::arch::global_asm!(
    r#"
    .section .rodata.lpa2_code, "a"
    .balign 8
    .global lpa2_code_start
    .global lpa2_code_end
lpa2_code_start:
    // x0 = SHARED_IPA, x1 = MMIO_IPA, x2 = DATA_IPA, x3 = MMIO_LM1_IPA
    mov     x19, x0
    mov     x20, x1
    mov     x21, x2
    mov     x22, x3
    ldr     x4, [x19]               // the host's word, through the Unprotected half
    ldr     x5, [x21]               // the DATA page's word, at the last Protected page
    eor     x6, x4, x5
    str     x6, [x19, #8]           // the answer, in the Non-secure page
    str     x4, [x20]               // exit 1: level-3 translation fault
    str     x5, [x22]               // exit 2: translation fault at level -1
    movz    x0, #0x0196
    movk    x0, #0xc400, lsl #16    // RSI_REALM_CONFIG(DATA_IPA)
    mov     x1, x21
    smc     #0
    ldr     x7, [x21]               // ipa_width
    orr     x7, x7, x0, lsl #32     // the RSI status in bits 63:32
    str     x7, [x20]               // exit 3
1:  wfe
    b       1b
lpa2_code_end:
"#
);

/// What the scenario built, for the teardown.
struct Realm {
    rd: Granule,
    root: Granule,
    created: bool,
    rtts: [Option<Granule>; RTTS],
    data: [Option<Granule>; 2],
    rec: Option<Granule>,
    mapped: bool,
    delegated: [u64; MAX_DELEGATED],
    num_delegated: usize,
}

impl Realm {
    fn delegate_new(&mut self, pool: &mut Pool) -> Result<Granule, Why> {
        let g = pool.alloc();
        rmi!(
            format_args!("GRANULE_DELEGATE({:#x})", g.pa()),
            call::granule_delegate(g.pa())
        );
        if self.num_delegated == MAX_DELEGATED {
            fail!("more than {} granules delegated", MAX_DELEGATED);
        }
        self.delegated[self.num_delegated] = g.pa();
        self.num_delegated += 1;
        Ok(g)
    }
}

/// Runs the scenario if the processor has FEAT_LPA2 and 52-bit PAs; checks RMI_FEATURES
/// either way.
pub fn run(pool: &mut Pool) {
    let cpu_lpa2 = processor_has_lpa2_and_52_bit_pas();
    if !check(format_args!("lpa2/rmi_features"), features(cpu_lpa2)) || !cpu_lpa2 {
        if !cpu_lpa2 {
            println!("test-host: no FEAT_LPA2 with 52-bit PAs: the 52-bit realm is skipped");
        }
        return;
    }
    let mut realm = Realm {
        rd: pool.alloc(),
        root: pool.alloc(),
        created: false,
        rtts: [None; RTTS],
        data: [None; 2],
        rec: None,
        mapped: false,
        delegated: [0; MAX_DELEGATED],
        num_delegated: 0,
    };
    let shared = pool.alloc();
    let built = check(
        format_args!("lpa2/realm_52_bit_create"),
        build(&mut realm, pool, shared),
    );
    if built {
        check(
            format_args!("lpa2/rtt_read_entry_level_minus_1"),
            read_entries(&realm, shared),
        );
        check(
            format_args!("lpa2/realm_52_bit_protected_and_unprotected"),
            enter(&realm, pool, shared),
        );
    }
    check(
        format_args!("lpa2/realm_52_bit_destroy"),
        teardown(&mut realm),
    );
}

/// ID_AA64MMFR0_EL1: PARange 52 bits, TGran4 = 0b0001 (stage 1, 52-bit), TGran4_2 = 0b0011 or
/// 0b0000 (stage 2, as TGran4 says).
fn processor_has_lpa2_and_52_bit_pas() -> bool {
    let mmfr0 = rmm_arch::read_sysreg!("id_aa64mmfr0_el1");
    let (parange, tgran4, tgran4_2) = (mmfr0 & 0xf, (mmfr0 >> 28) & 0xf, (mmfr0 >> 40) & 0xf);
    parange == 6 && tgran4 == 1 && matches!(tgran4_2, 0 | 3)
}

/// RMI_FEATURES(0): LPA2 and S2SZ 52 with FEAT_LPA2 and 52-bit PAs; otherwise at most 48 bits.
fn features(cpu_lpa2: bool) -> Outcome {
    let reg0 = rmi!("RMI_FEATURES(0)", call::features(0));
    let (s2sz, lpa2) = (reg0 & 0xff, (reg0 >> 8) & 1);
    println!(
        "test-host: processor FEAT_LPA2 with 52-bit PAs: {}; RMI_FEATURES S2SZ={} LPA2={}",
        cpu_lpa2, s2sz, lpa2
    );
    match cpu_lpa2 {
        true if (s2sz, lpa2) != (S2SZ, 1) => {
            fail!("S2SZ {} LPA2 {}, expected 52 and 1", s2sz, lpa2)
        }
        false if s2sz > 48 => fail!("S2SZ {} above 48 without FEAT_LPA2", s2sz),
        _ => Ok(()),
    }
}

/// The realm: REALM_CREATE (lpa2, s2sz 52, level -1), RTTs, the program and DATA page
/// (measured), the Non-secure page mapped, one REC, activated.
fn build(realm: &mut Realm, pool: &mut Pool, shared: Granule) -> Outcome {
    for g in [realm.rd, realm.root] {
        rmi!(
            format_args!("GRANULE_DELEGATE({:#x})", g.pa()),
            call::granule_delegate(g.pa())
        );
        realm.delegated[realm.num_delegated] = g.pa();
        realm.num_delegated += 1;
    }
    let params = pool.alloc();
    RealmParams {
        lpa2: true,
        features: Default::default(),
        s2sz: S2SZ,
        num_bps: 1,
        num_wps: 1,
        hash_algo: crate::params::HASH_SHA_256,
        vmid: VMID,
        rtt_base: realm.root.pa(),
        rtt_level_start: -1,
        rtt_num_start: 1,
    }
    .write(params);
    rmi!(
        "REALM_CREATE(lpa2, s2sz 52, level -1)",
        call::realm_create(realm.rd.pa(), params.pa())
    );
    realm.created = true;
    let rd = realm.rd.pa();
    for (p, &ipa) in RTT_PATHS.iter().enumerate() {
        for level in 0..4u64 {
            let rtt = realm.delegate_new(pool)?;
            // Aligned to the parent's entries (level - 1).
            let at = ipa & !((1u64 << (12 + 9 * (4 - level))) - 1);
            rmi!(
                format_args!("RTT_CREATE({:#x}, level {})", at, level),
                call::rtt_create(rd, rtt.pa(), at, level)
            );
            realm.rtts[4 * p + level as usize] = Some(rtt);
        }
    }
    let src = pool.alloc();
    for (slot, ipa) in [(0, CODE_IPA), (1, DATA_IPA)] {
        rmi!(
            format_args!("RTT_INIT_RIPAS({:#x})", ipa),
            call::rtt_init_ripas(rd, ipa, ipa + GRANULE_SIZE)
        );
        src.fill(0);
        if ipa == CODE_IPA {
            // SAFETY: the labels of the program above, in one section of this image.
            unsafe {
                copy_code(
                    core::ptr::addr_of!(lpa2_code_start),
                    core::ptr::addr_of!(lpa2_code_end),
                    src,
                )
            };
        } else {
            src.write_u64(0, DATA_WORD);
        }
        let data = realm.delegate_new(pool)?;
        rmi!(
            format_args!("DATA_CREATE({:#x})", ipa),
            call::data_create(rd, data.pa(), ipa, src.pa(), MEASURE_CONTENT)
        );
        realm.data[slot] = Some(data);
    }
    shared.fill(0);
    shared.write_u64(0, HOST_WORD);
    rmi!(
        "RTT_MAP_UNPROTECTED",
        call::rtt_map_unprotected(rd, SHARED_IPA, 3, shared.pa() | NS_ATTRS)
    );
    realm.mapped = true;
    let aux_count = rmi!("REC_AUX_COUNT", call::rec_aux_count(rd)) as usize;
    if aux_count > 16 {
        fail!("REC_AUX_COUNT = {}", aux_count);
    }
    let mut aux = [0u64; 16];
    for slot in aux.iter_mut().take(aux_count) {
        *slot = realm.delegate_new(pool)?.pa();
    }
    let rec = realm.delegate_new(pool)?;
    let rec_params = pool.alloc();
    RecParams {
        runnable: true,
        mpidr: rec_mpidr(0),
        pc: CODE_IPA,
        gprs: [SHARED_IPA, MMIO_IPA, DATA_IPA, MMIO_LM1_IPA, 0, 0, 0, 0],
        aux: &aux[..aux_count],
    }
    .write(rec_params);
    rmi!(
        "REC_CREATE",
        call::rec_create(rd, rec.pa(), rec_params.pa())
    );
    realm.rec = Some(rec);
    rmi!("REALM_ACTIVATE", call::realm_activate(rd));
    println!(
        "test-host: 52-bit realm RD={:#x}: level -1 root {:#x}, {} RTTs, DATA at IPAs {:#x} and {:#x}, Non-secure page {:#x} at IPA {:#x}",
        rd,
        realm.root.pa(),
        RTTS,
        CODE_IPA,
        DATA_IPA,
        shared.pa(),
        SHARED_IPA
    );
    Ok(())
}

/// RTT_READ_ENTRY: the level -1 entries (TABLE for IPA 0, UNASSIGNED for 2^51), and the
/// leaves of the DATA page and the Non-secure page.
fn read_entries(realm: &Realm, shared: Granule) -> Outcome {
    let rd = realm.rd.pa();
    let level0 = realm.rtts[0].map_or(0, |g| g.pa());
    let data = realm.data[1].map_or(0, |g| g.pa());
    let expected: [(u64, u64, [u64; 4]); 4] = [
        (0, LEVEL_M1, [LEVEL_M1, TABLE, level0, 0]),
        (1 << 51, LEVEL_M1, [LEVEL_M1, UNASSIGNED, 0, 0]),
        (DATA_IPA, 3, [3, ASSIGNED, data, 1]),
        (SHARED_IPA, 3, [3, ASSIGNED, shared.pa() | NS_ATTRS, 0]),
    ];
    for (ipa, level, want) in expected {
        let got = rmi!(
            format_args!("RTT_READ_ENTRY({:#x}, {})", ipa, level as i64),
            call::rtt_read_entry(rd, ipa, level)
        );
        if got != want {
            fail!(
                "RTT_READ_ENTRY({:#x}, {}) = {:#x?}, expected {:#x?}",
                ipa,
                level as i64,
                got,
                want
            );
        }
    }
    Ok(())
}

/// Enters the REC three times: two stores and the RSI_REALM_CONFIG result, each an
/// emulatable Data Abort at a 52-bit IPA.
fn enter(realm: &Realm, pool: &mut Pool, shared: Granule) -> Outcome {
    let Some(rec) = realm.rec else {
        fail!("no REC");
    };
    let run = pool.alloc();
    let exits = [
        (MMIO_IPA, DFSC_TRANSLATION_L3, HOST_WORD),
        (MMIO_LM1_IPA, DFSC_TRANSLATION_LM1, DATA_WORD),
        (MMIO_IPA, DFSC_TRANSLATION_L3, S2SZ),
    ];
    let mut flags = 0;
    for (n, (ipa, dfsc, value)) in exits.into_iter().enumerate() {
        write_rec_enter(run, flags, &[]);
        rmi!(
            format_args!("REC_ENTER #{}", n + 1),
            call::rec_enter(rec.pa(), run.pa())
        );
        let exit = RecExit::read(run);
        let want_esr = EC_DABT_LOWER << 26 | ESR_ISV | ESR_WNR;
        if exit.exit_reason != EXIT_SYNC
            || exit.esr & want_esr != want_esr
            || exit.esr & 0x3f != dfsc
        {
            fail!(
                "exit {}: reason {} ESR {:#x}, expected SYNC, EC 0x24 with ISV, WnR and DFSC {:#x}",
                n + 1,
                exit.exit_reason,
                exit.esr,
                dfsc
            );
        }
        if exit.fault_ipa() != ipa || exit.gpr0 != value {
            fail!(
                "exit {}: IPA {:#x} (HPFAR {:#x}) value {:#x}, expected {:#x} and {:#x}",
                n + 1,
                exit.fault_ipa(),
                exit.hpfar,
                exit.gpr0,
                ipa,
                value
            );
        }
        if n == 0 && shared.read_u64(8) != HOST_WORD ^ DATA_WORD {
            fail!(
                "the realm wrote {:#x} in the Non-secure page, expected {:#x}",
                shared.read_u64(8),
                HOST_WORD ^ DATA_WORD
            );
        }
        flags = ENTER_EMUL_MMIO;
    }
    println!(
        "test-host: the 52-bit realm read {:#x} at IPA {:#x} and {:#x} at IPA {:#x}, wrote {:#x} there, faulted at {:#x} (DFSC 0x07) and {:#x} (DFSC 0x2b), RSI_REALM_CONFIG ipa_width {}",
        HOST_WORD,
        SHARED_IPA,
        DATA_WORD,
        DATA_IPA,
        HOST_WORD ^ DATA_WORD,
        MMIO_IPA,
        MMIO_LM1_IPA,
        S2SZ
    );
    Ok(())
}

/// Destroys what `build` created and undelegates every granule; the DATA pages must come back
/// wiped.
fn teardown(realm: &mut Realm) -> Outcome {
    let rd = realm.rd.pa();
    let mut first: Option<Why> = None;
    let mut note = |what: &str, r: Result<(), crate::rmi::RmiError>| {
        if let (Err(e), None) = (r, &first) {
            first = Some(Why::new(format_args!("{}: {}", what, e)));
        }
    };
    if let Some(rec) = realm.rec.take() {
        note("REC_DESTROY", call::rec_destroy(rec.pa()));
    }
    if realm.mapped {
        note(
            "RTT_UNMAP_UNPROTECTED",
            call::rtt_unmap_unprotected(rd, SHARED_IPA, 3).map(|_| ()),
        );
    }
    for (slot, ipa) in [(0, CODE_IPA), (1, DATA_IPA)] {
        if realm.data[slot].is_some() {
            note("DATA_DESTROY", call::data_destroy(rd, ipa).map(|_| ()));
        }
    }
    for (p, &ipa) in RTT_PATHS.iter().enumerate() {
        for level in (0..4u64).rev() {
            if realm.rtts[4 * p + level as usize].is_some() {
                let at = ipa & !((1u64 << (12 + 9 * (4 - level))) - 1);
                note("RTT_DESTROY", call::rtt_destroy(rd, at, level).map(|_| ()));
            }
        }
    }
    if realm.created {
        note("REALM_DESTROY", call::realm_destroy(rd));
    }
    for &pa in realm.delegated[..realm.num_delegated].iter().rev() {
        note("GRANULE_UNDELEGATE", call::granule_undelegate(pa));
    }
    for data in realm.data.iter().flatten() {
        if first.is_none() && data.find_not(0).is_some() {
            first = Some(Why::new(format_args!("DATA {:#x} not wiped", data.pa())));
        }
    }
    match first {
        None => Ok(()),
        Some(why) => Err(why),
    }
}
