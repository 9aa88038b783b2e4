//! Builds the payload's realm (layout: `rmm_arch::realm_report`) and computes its RIM as the
//! RMM must (spec A7.1.1, with the core's `rmm::measurement`), and tears it down again.

use crate::granule::Granule;
use crate::params::{RealmFeatures, RealmParams, RecParams, HASH_SHA_256};
use crate::pool::Pool;
use crate::report::{fail, rmi, Outcome, Why};
use crate::rmi::{self as call, MEASURE_CONTENT};
use ns_el2::rec_run::rec_mpidr;
use rmm::measurement::{
    rim_extend_data, rim_extend_rec, rim_extend_ripas, rim_init, HashAlgorithm,
    MeasuredRealmParams, MeasuredRecParams, Measurement,
};
use rmm_arch::realm_report::{
    IPA_WIDTH, MAX_RECS, RAM_TOP, RIPAS_TEST_TOP, SHARED_OFFSET, SHARED_PAGES, UNPROTECTED_BASE,
};
use rmm_arch::GRANULE_SIZE;

/// Starting level and number of starting-level RTTs for IPA width 40.
const RTT_LEVEL_START: i64 = 1;
const RTT_NUM_START: u64 = 2;
/// RmiRealmParams.num_bps and num_wps: 4 breakpoints and 3 watchpoints (QEMU `max` has 6
/// and 4), so that the realm's ID registers show the realm's counts, not the processor's.
pub const NUM_BPS: u64 = 3;
pub const NUM_WPS: u64 = 2;
/// The VMID of this realm (unless the scenario gives another).
const VMID: u64 = 2;
/// The hash algorithm (RMI and RSI encoding) and the one the RIM is computed with.
pub const HASH_ALGO: u64 = HASH_SHA_256;
pub const RHA: HashAlgorithm = HashAlgorithm::Sha256;
/// RmiRecCreateFlags.runnable.
const RUNNABLE: u64 = 1;
/// The level-2 and level-3 RTTs: under IPA 0 and under the Unprotected base.
const RTTS: [(u64, u64); 4] = [(0, 2), (0, 3), (UNPROTECTED_BASE, 2), (UNPROTECTED_BASE, 3)];
/// An RMI_RTT_MAP_UNPROTECTED descriptor's attributes: MemAttr[2:0] = 0b110 (Normal
/// Write-Back, with FWB) in bits 4:2, S2AP read-write in bits 7:6.
const NS_DESC_ATTRS: u64 = 0b110 << 2 | 0b11 << 6;
/// Most granules delegated: RD, roots, RTTs, DATA, and per REC the REC and 16 aux granules.
const MAX_DELEGATED: usize = 1 + 2 + RTTS.len() + (RAM_TOP / GRANULE_SIZE) as usize + 17 * 8;

/// The realm, as far as it was built.
pub struct PayloadRealm {
    pub rd: Granule,
    /// The first of the RTT_NUM_START starting-level RTTs.
    roots: Granule,
    pub recs: [u64; MAX_RECS as usize],
    pub runs: [Option<Granule>; MAX_RECS as usize],
    pub rec_count: usize,
    pub shared: [Option<Granule>; SHARED_PAGES as usize],
    /// The RIM the RMM should have computed.
    pub rim: Measurement,
    realm_created: bool,
    /// The SVE and PMU it is created with, and its VMID.
    pub features: RealmFeatures,
    pub vmid: u64,
    rtts_created: usize,
    data_top: u64,
    delegated: [u64; MAX_DELEGATED],
    num_delegated: usize,
}

impl PayloadRealm {
    fn delegate(&mut self, g: Granule) -> Outcome {
        rmi!(
            format_args!("GRANULE_DELEGATE({:#x})", g.pa()),
            call::granule_delegate(g.pa())
        );
        if self.num_delegated == MAX_DELEGATED {
            fail!("more than {} granules delegated", MAX_DELEGATED);
        }
        self.delegated[self.num_delegated] = g.pa();
        self.num_delegated += 1;
        Ok(())
    }

    fn delegate_new(&mut self, pool: &mut Pool) -> Result<Granule, Why> {
        let g = pool.alloc();
        self.delegate(g)?;
        Ok(g)
    }
}

/// The entry registers of REC 0 (x0..x7): `realm_report`'s mode, IPA width, hash, REC count.
pub fn rec0_gprs(mode: u64, recs: usize) -> [u64; 8] {
    [mode, IPA_WIDTH, HASH_ALGO, recs as u64, 0, 0, 0, 0]
}

/// Creates the realm with `payload` at IPA 0 and `recs` RECs (REC 0 runnable, entered with
/// `mode`), the shared granules mapped, and activates it. `realm` keeps what was built, also
/// on failure.
pub fn build(
    realm: &mut PayloadRealm,
    pool: &mut Pool,
    payload: &[u8],
    recs: usize,
    mode: u64,
) -> Outcome {
    create_rd(realm, pool)?;
    for (ipa, level) in RTTS {
        let rtt = realm.delegate_new(pool)?;
        rmi!(
            format_args!("RTT_CREATE({:#x}, level {})", ipa, level),
            call::rtt_create(realm.rd.pa(), rtt.pa(), ipa, level)
        );
        realm.rtts_created += 1;
    }
    init_ripas(realm)?;
    load(realm, pool, payload)?;
    create_recs(realm, pool, recs, mode)?;
    map_shared(realm, pool)?;
    rmi!("REALM_ACTIVATE", call::realm_activate(realm.rd.pa()));
    Ok(())
}

/// A realm with nothing built yet, its RD and roots taken from `pool`.
pub fn empty(pool: &mut Pool) -> PayloadRealm {
    let roots = pool.alloc_aligned(RTT_NUM_START);
    PayloadRealm {
        rd: pool.alloc(),
        roots,
        recs: [0; MAX_RECS as usize],
        runs: [None; MAX_RECS as usize],
        rec_count: 0,
        shared: [None; SHARED_PAGES as usize],
        rim: Measurement::ZERO,
        realm_created: false,
        features: RealmFeatures::default(),
        vmid: VMID,
        rtts_created: 0,
        data_top: 0,
        delegated: [0; MAX_DELEGATED],
        num_delegated: 0,
    }
}

fn create_rd(realm: &mut PayloadRealm, pool: &mut Pool) -> Outcome {
    let roots = realm.roots;
    realm.delegate(realm.rd)?;
    for i in 0..RTT_NUM_START {
        let Some(rtt) = crate::pool::granule(roots.pa() + i * GRANULE_SIZE) else {
            fail!("starting-level RTT outside the pool");
        };
        realm.delegate(rtt)?;
    }
    let params = pool.alloc();
    RealmParams {
        lpa2: false,
        features: realm.features,
        s2sz: IPA_WIDTH,
        num_bps: NUM_BPS,
        num_wps: NUM_WPS,
        hash_algo: HASH_ALGO,
        vmid: realm.vmid,
        rtt_base: roots.pa(),
        rtt_level_start: RTT_LEVEL_START,
        rtt_num_start: RTT_NUM_START,
    }
    .write(params);
    rmi!(
        "REALM_CREATE",
        call::realm_create(realm.rd.pa(), params.pa())
    );
    realm.realm_created = true;
    let f = realm.features;
    realm.rim = rim_init(&MeasuredRealmParams {
        flags: f.flags(),
        s2sz: IPA_WIDTH as u8,
        sve_vl: f.sve_vl.unwrap_or(0),
        num_bps: NUM_BPS as u8,
        num_wps: NUM_WPS as u8,
        pmu_num_ctrs: f.pmu_num_ctrs.unwrap_or(0),
        hash_algo: RHA,
    });
    Ok(())
}

/// RIPAS RAM over [0, RIPAS_TEST_TOP), one level-3 RTT (so the RIM is extended per page).
fn init_ripas(realm: &mut PayloadRealm) -> Outcome {
    let mut base = 0;
    while base < RIPAS_TEST_TOP {
        let top = rmi!(
            format_args!("RTT_INIT_RIPAS({:#x}, {:#x})", base, RIPAS_TEST_TOP),
            call::rtt_init_ripas(realm.rd.pa(), base, RIPAS_TEST_TOP)
        );
        if top <= base || top > RIPAS_TEST_TOP {
            fail!("RTT_INIT_RIPAS from {:#x} returned top {:#x}", base, top);
        }
        if rim_extend_ripas(RHA, &mut realm.rim, base, top, 3).is_err() {
            fail!("rim_extend_ripas refused level 3");
        }
        base = top;
    }
    Ok(())
}

/// DATA_CREATE (measured) of each page of `payload`, then DATA_CREATE_UNKNOWN up to RAM_TOP.
fn load(realm: &mut PayloadRealm, pool: &mut Pool, payload: &[u8]) -> Outcome {
    if payload.is_empty() || payload.len() as u64 > RAM_TOP {
        fail!(
            "payload of {} bytes (RAM_TOP {:#x})",
            payload.len(),
            RAM_TOP
        );
    }
    let src = pool.alloc();
    let mut page = [0u8; GRANULE_SIZE as usize];
    for (n, chunk) in payload.chunks(GRANULE_SIZE as usize).enumerate() {
        let ipa = n as u64 * GRANULE_SIZE;
        page.fill(0);
        page[..chunk.len()].copy_from_slice(chunk);
        for (i, word) in page.chunks_exact(8).enumerate() {
            src.write_u64(
                8 * i,
                u64::from_le_bytes(word.try_into().unwrap_or_default()),
            );
        }
        let data = realm.delegate_new(pool)?;
        rmi!(
            format_args!("DATA_CREATE({:#x})", ipa),
            call::data_create(realm.rd.pa(), data.pa(), ipa, src.pa(), MEASURE_CONTENT)
        );
        realm.data_top = ipa + GRANULE_SIZE;
        rim_extend_data(RHA, &mut realm.rim, ipa, MEASURE_CONTENT, &page);
    }
    while realm.data_top < RAM_TOP {
        let ipa = realm.data_top;
        let data = realm.delegate_new(pool)?;
        rmi!(
            format_args!("DATA_CREATE_UNKNOWN({:#x})", ipa),
            call::data_create_unknown(realm.rd.pa(), data.pa(), ipa)
        );
        realm.data_top = ipa + GRANULE_SIZE;
    }
    Ok(())
}

/// REC 0 runnable at PC 0 with the entry registers; RECs 1.. not runnable (PSCI_CPU_ON starts
/// them). Only REC 0 is measured.
fn create_recs(realm: &mut PayloadRealm, pool: &mut Pool, recs: usize, mode: u64) -> Outcome {
    let aux_count = rmi!("REC_AUX_COUNT", call::rec_aux_count(realm.rd.pa())) as usize;
    if aux_count > 16 {
        fail!("REC_AUX_COUNT = {}, more than 16", aux_count);
    }
    for index in 0..recs {
        let mut aux = [0u64; 16];
        for slot in aux.iter_mut().take(aux_count) {
            *slot = realm.delegate_new(pool)?.pa();
        }
        let rec = realm.delegate_new(pool)?;
        let params = pool.alloc();
        let (flags, gprs) = match index {
            0 => (RUNNABLE, rec0_gprs(mode, recs)),
            _ => (0, [0; 8]),
        };
        RecParams {
            runnable: flags & RUNNABLE != 0,
            mpidr: rec_mpidr(index),
            pc: 0,
            gprs,
            aux: &aux[..aux_count],
        }
        .write(params);
        rmi!(
            format_args!("REC_CREATE(index {})", index),
            call::rec_create(realm.rd.pa(), rec.pa(), params.pa())
        );
        if flags & RUNNABLE != 0 {
            let measured = MeasuredRecParams { flags, pc: 0, gprs };
            rim_extend_rec(RHA, &mut realm.rim, &measured);
        }
        realm.recs[index] = rec.pa();
        realm.runs[index] = Some(pool.alloc());
        realm.rec_count = index + 1;
    }
    Ok(())
}

/// Normal-world granules at UNPROTECTED_BASE + SHARED_OFFSET.., mapped read-write.
fn map_shared(realm: &mut PayloadRealm, pool: &mut Pool) -> Outcome {
    for (i, slot) in realm.shared.iter_mut().enumerate() {
        let page = pool.alloc();
        let ipa = UNPROTECTED_BASE + SHARED_OFFSET + i as u64 * GRANULE_SIZE;
        rmi!(
            format_args!("RTT_MAP_UNPROTECTED({:#x})", ipa),
            call::rtt_map_unprotected(realm.rd.pa(), ipa, 3, page.pa() | NS_DESC_ATTRS)
        );
        *slot = Some(page);
    }
    Ok(())
}

/// Destroys whatever `build` created and undelegates every granule it delegated; the first
/// failure is returned, but every step is tried.
pub fn teardown(realm: &mut PayloadRealm) -> Outcome {
    let rd = realm.rd.pa();
    let mut first: Option<Why> = None;
    let mut note = |result: Result<(), crate::rmi::RmiError>, what: core::fmt::Arguments| {
        if let (Err(e), None) = (result, &first) {
            first = Some(Why::new(format_args!("{}: {}", what, e)));
        }
    };
    for &rec in realm.recs.iter().filter(|&&pa| pa != 0) {
        note(
            call::rec_destroy(rec),
            format_args!("REC_DESTROY({:#x})", rec),
        );
    }
    for (i, page) in realm.shared.iter().enumerate() {
        if page.is_some() {
            let ipa = UNPROTECTED_BASE + SHARED_OFFSET + i as u64 * GRANULE_SIZE;
            let result = call::rtt_unmap_unprotected(rd, ipa, 3).map(drop);
            note(result, format_args!("RTT_UNMAP_UNPROTECTED({:#x})", ipa));
        }
    }
    for ipa in (0..realm.data_top).step_by(GRANULE_SIZE as usize) {
        let result = call::data_destroy(rd, ipa).map(drop);
        note(result, format_args!("DATA_DESTROY({:#x})", ipa));
    }
    for &(ipa, level) in RTTS[..realm.rtts_created].iter().rev() {
        let result = call::rtt_destroy(rd, ipa, level).map(drop);
        note(
            result,
            format_args!("RTT_DESTROY({:#x}, level {})", ipa, level),
        );
    }
    if realm.realm_created {
        note(call::realm_destroy(rd), format_args!("REALM_DESTROY"));
    }
    for &pa in realm.delegated[..realm.num_delegated].iter().rev() {
        let result = call::granule_undelegate(pa);
        note(result, format_args!("GRANULE_UNDELEGATE({:#x})", pa));
    }
    match first {
        None => Ok(()),
        Some(why) => Err(why),
    }
}
