//! The realm: built from the kernel Image, the initramfs and the device tree (RMM spec D1.2
//! realm creation flow), its RIM computed as the RMM must (A7.1.1), and torn down again with
//! every granule undelegated.
//!
//! Guest RAM is `[RAM_BASE, RAM_BASE + ram)`: RIPAS RAM (RMI_RTT_INIT_RIPAS on level-2 entries,
//! before any level-3 RTT exists, so the RIM has one RIPAS descriptor per 2 MiB). The kernel
//! at `RAM_BASE`, the initramfs and the device tree are measured DATA granules; the rest of RAM
//! gets a DATA granule (unknown content: zero) when the guest first touches a page (a REC exit
//! due to a Data Abort at a Protected IPA, `vcpu`), so a guest pays only for what it uses. One
//! REC per vCPU, REC 0 runnable at the kernel's entry with x0 = the device tree (Linux arm64
//! boot protocol), the others started by PSCI CPU_ON.

use super::pool::{self, PoolError};
use super::say;
use ns_el2::granule::Granule;
use ns_el2::rmi::{self, RmiError};
use realm_vmm::layout::{IPA_WIDTH, MAX_VCPUS, RAM_BASE, UNPROTECTED_BIT};
use rmm::measurement::{
    rim_extend_data, rim_extend_rec, rim_extend_ripas, rim_init, HashAlgorithm, Measurement,
};
use rmm::rmi::params::{
    RealmFlags, RealmParams, RecCreateFlags, RecMpidr, RecParams, REALM_PARAMS_SIZE,
    REC_PARAMS_SIZE,
};
use rmm::spinlock::SpinLock;
use rmm_arch::GRANULE_SIZE;

/// The hash algorithm of the realm's measurements.
pub const RHA: HashAlgorithm = HashAlgorithm::Sha256;
/// RmiDataFlags.measure: measure the content.
const MEASURE_CONTENT: u64 = 1;
/// Starting level and number of starting-level RTTs for a 40-bit IPA space.
const RTT_LEVEL_START: i64 = 1;
const RTT_NUM_START: u64 = 2;
/// The realm's VMID.
const VMID: u16 = 1;
/// Bytes one level-2 and one level-1 RTT entry map.
const L2_SIZE: u64 = 1 << 21;
const L1_SIZE: u64 = 1 << 30;
/// Most RTTs the VMM creates: the level-2 and level-3 tables of up to 16 GiB of RAM and of
/// the Unprotected pages it maps.
const MAX_RTTS: usize = 16 * (1 + 512) + 64;

/// Why the realm could not be built or torn down.
#[derive(Clone, Copy, Debug)]
pub enum RealmError {
    /// An RMI command failed: which, and its return code.
    Rmi(&'static str, RmiError),
    /// The pool ran out or a delegation failed.
    Pool(PoolError),
    /// The guest does not fit its RAM.
    TooBig(&'static str),
    /// RMI_RTT_SET_RIPAS made no progress.
    Stuck,
}

impl core::fmt::Display for RealmError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            RealmError::Rmi(what, e) => write!(f, "RMI_{what} failed: {e}"),
            RealmError::Pool(e) => write!(f, "{e}"),
            RealmError::TooBig(what) => write!(f, "{what} does not fit"),
            RealmError::Stuck => f.write_str("RMI_RTT_SET_RIPAS made no progress"),
        }
    }
}

impl From<PoolError> for RealmError {
    fn from(e: PoolError) -> Self {
        RealmError::Pool(e)
    }
}

/// `Err(RealmError::Rmi(what, e))` for a failed command.
fn rmi_ok<T>(what: &'static str, r: Result<T, RmiError>) -> Result<T, RealmError> {
    r.map_err(|e| RealmError::Rmi(what, e))
}

/// An image in host memory to put at a guest IPA, measured.
#[derive(Clone, Copy)]
pub struct Blob {
    /// Host PA (granule aligned) and size in bytes.
    pub host: (u64, u64),
    /// Guest IPA (granule aligned).
    pub ipa: u64,
}

/// What the realm is given: SVE at the longest vector length, the PMU with every counter and
/// every breakpoint and watchpoint, where RMI_FEATURES offers them (RmiFeatureRegister0
/// SVE_EN/SVE_VL, PMU_EN/PMU_NUM_CTRS, NUM_BPS, NUM_WPS; A3.1.3 to A3.1.5): the guest then
/// finds them in its ID registers, and the PMU in its device tree.
#[derive(Clone, Copy)]
pub struct Features {
    /// SVE_VL, if SVE is offered.
    pub sve_vl: Option<u8>,
    /// PMU_NUM_CTRS, if a PMU with counters is offered.
    pub pmu_counters: Option<u8>,
    /// NUM_BPS and NUM_WPS.
    pub bps: u8,
    pub wps: u8,
}

impl Features {
    /// What RMI_FEATURES offers.
    pub fn offered() -> Result<Self, RealmError> {
        let f = rmi_ok("RMI_FEATURES", rmi::features(0))?;
        let pmu_counters = ((f >> 27) & 0x1f) as u8;
        Ok(Self {
            sve_vl: ((f >> 9) & 1 != 0).then_some(((f >> 10) & 0xf) as u8),
            pmu_counters: ((f >> 26) & 1 != 0 && pmu_counters != 0).then_some(pmu_counters),
            bps: ((f >> 14) & 0x3f) as u8,
            wps: ((f >> 20) & 0x3f) as u8,
        })
    }
}

/// What the guest boots with.
pub struct Guest {
    /// What the realm is given.
    pub features: Features,
    /// Guest RAM in bytes from [`RAM_BASE`].
    pub ram: u64,
    /// The kernel (at `RAM_BASE`), the initramfs and the device tree.
    pub blobs: [Option<Blob>; 3],
    /// vCPUs.
    pub vcpus: usize,
}

/// The built realm.
pub struct Realm {
    pub rd: u64,
    pub recs: [u64; MAX_VCPUS],
    /// Each REC's RmiRecRun page (Normal world).
    pub runs: [Granule; MAX_VCPUS],
    pub vcpus: usize,
    pub ram: u64,
    /// The RIM the RMM must have computed.
    pub rim: Measurement,
    roots: u64,
    aux: [[u64; 16]; MAX_VCPUS],
    aux_count: usize,
}

/// The RTTs the VMM created, in order: IPA and level. Behind [`MEMORY`].
pub struct Tables {
    rtts: [(u64, u8); MAX_RTTS],
    count: usize,
}

/// Serialises every change of the realm's memory (RTTs, DATA granules on first touch,
/// Unprotected mappings, RIPAS changes): the vCPUs make them from their own CPUs, and two that
/// create the same RTT or populate the same page at once must not both try.
static MEMORY: SpinLock<Tables> = SpinLock::new(Tables {
    rtts: [(0, 0); MAX_RTTS],
    count: 0,
});

/// RmiRttEntryState values (B4.4.23): ASSIGNED, TABLE.
const RTT_STATE_ASSIGNED: u64 = 1;
const RTT_STATE_TABLE: u64 = 2;

/// The MPIDR (RmiRecMpidr encoding) of vCPU `i`: Aff0 0..15, then Aff1.
pub fn mpidr(i: usize) -> u64 {
    ns_el2::rec_run::rec_mpidr(i)
}

impl Realm {
    /// The vCPU whose REC has MPIDR `mpidr`, if any.
    pub fn vcpu_of(&self, mpidr: u64) -> Option<usize> {
        (0..self.vcpus).find(|&i| self::mpidr(i) == mpidr & 0xff_ffff)
    }

    /// Creates the RTT at `level` covering `ipa` unless it exists.
    fn ensure_rtt(&self, tables: &mut Tables, ipa: u64, level: u8) -> Result<(), RealmError> {
        let size = if level == 2 { L1_SIZE } else { L2_SIZE };
        let base = ipa & !(size - 1);
        let walk = rmi_ok(
            "RTT_READ_ENTRY",
            rmi::rtt_read_entry(self.rd, base, u64::from(level - 1)),
        )?;
        // The walk reached level - 1, and that entry is a table already (RTT state TABLE).
        if walk[0] == u64::from(level - 1) && walk[1] == RTT_STATE_TABLE {
            return Ok(());
        }
        let slot = tables
            .rtts
            .get_mut(tables.count)
            .ok_or(RealmError::TooBig("RTTs"))?;
        let rtt = pool::delegated()?;
        if let Err(e) = rmi::rtt_create(self.rd, rtt, base, level.into()) {
            let _ = pool::undelegate(rtt);
            return Err(RealmError::Rmi("RTT_CREATE", e));
        }
        *slot = (base, level);
        tables.count += 1;
        Ok(())
    }

    /// Creates the level-2 and level-3 RTTs over `ipa` unless they exist.
    fn ensure_rtts(&self, tables: &mut Tables, ipa: u64) -> Result<(), RealmError> {
        self.ensure_rtt(tables, ipa, 2)?;
        self.ensure_rtt(tables, ipa, 3)
    }

    /// Gives the Protected page at `ipa` a DATA granule (unknown content) unless it has one:
    /// the guest's first touch of RAM.
    pub fn populate(&self, ipa: u64) -> Result<(), RealmError> {
        let ipa = ipa & !(GRANULE_SIZE - 1);
        let mut tables = MEMORY.lock();
        self.ensure_rtts(&mut tables, ipa)?;
        let [level, state, ..] = rmi_ok("RTT_READ_ENTRY", rmi::rtt_read_entry(self.rd, ipa, 3))?;
        if level == 3 && state == RTT_STATE_ASSIGNED {
            return Ok(()); // another vCPU touched it first
        }
        let data = pool::delegated()?;
        rmi::data_create_unknown(self.rd, data, ipa).map_err(|e| {
            let _ = pool::undelegate(data);
            RealmError::Rmi("DATA_CREATE_UNKNOWN", e)
        })
    }

    /// Maps a new Normal-world page at the Unprotected IPA `ipa` unless one is mapped: the
    /// guest's first touch of shared memory.
    pub fn map_unprotected(&self, ipa: u64) -> Result<(), RealmError> {
        let ipa = ipa & !(GRANULE_SIZE - 1);
        let mut tables = MEMORY.lock();
        self.ensure_rtts(&mut tables, ipa)?;
        let [level, state, ..] = rmi_ok("RTT_READ_ENTRY", rmi::rtt_read_entry(self.rd, ipa, 3))?;
        if level == 3 && state == RTT_STATE_ASSIGNED {
            return Ok(()); // ASSIGNED_NS already
        }
        let page = pool::take_zeroed()?;
        // MemAttr Normal Write-Back (0b110 in bits 4:2, with FWB), S2AP read-write (bits 7:6).
        let desc = page.pa() | 0b110 << 2 | 0b11 << 6;
        rmi_ok(
            "RTT_MAP_UNPROTECTED",
            rmi::rtt_map_unprotected(self.rd, ipa, 3, desc),
        )
    }

    /// RMI_RTT_SET_RIPAS over `[base, top)` for the REC of vCPU `vcpu`, creating the RTTs a
    /// range needs: whether the whole range was done.
    pub fn set_ripas(&self, vcpu: usize, mut base: u64, top: u64) -> Result<(), RealmError> {
        let mut tables = MEMORY.lock();
        while base < top {
            match rmi::rtt_set_ripas(self.rd, self.recs[vcpu], base, top) {
                Ok(out) if out > base => base = out,
                Ok(_) => return Err(RealmError::Stuck),
                // RMI_ERROR_RTT: the walk stopped above level 3.
                Err(e) if e.status() == 4 => self.ensure_rtts(&mut tables, base)?,
                Err(e) => return Err(RealmError::Rmi("RTT_SET_RIPAS", e)),
            }
        }
        Ok(())
    }
}

/// Builds the realm for `guest`; prints what it does.
pub fn build(guest: &Guest) -> Result<&'static mut Realm, RealmError> {
    let realm = realm_storage();
    realm.vcpus = guest.vcpus;
    realm.ram = guest.ram;
    create_rd(realm, guest.features)?;
    let ram_top = RAM_BASE + guest.ram;
    // Level-2 RTTs over RAM, RIPAS RAM on their 2 MiB entries, then the level-3 RTTs.
    let mut tables = MEMORY.lock();
    let mut ipa = RAM_BASE;
    while ipa < ram_top {
        realm.ensure_rtt(&mut tables, ipa, 2)?;
        ipa += L1_SIZE;
    }
    let mut base = RAM_BASE;
    while base < ram_top {
        let top = rmi_ok(
            "RTT_INIT_RIPAS",
            rmi::rtt_init_ripas(realm.rd, base, ram_top),
        )?;
        let _ = rim_extend_ripas(RHA, &mut realm.rim, base, top, 2);
        base = top;
    }
    let mut ipa = RAM_BASE;
    while ipa < ram_top {
        realm.ensure_rtt(&mut tables, ipa, 3)?;
        ipa += L2_SIZE;
    }
    drop(tables);
    say!("RAM {:#x}..{:#x}: RTTs and RIPAS RAM", RAM_BASE, ram_top);
    fill_ram(realm, guest)?;
    create_recs(realm, guest)?;
    rmi_ok("REALM_ACTIVATE", rmi::realm_activate(realm.rd))?;
    Ok(realm)
}

/// The one realm this VMM runs.
fn realm_storage() -> &'static mut Realm {
    static mut REALM: Realm = Realm {
        rd: 0,
        recs: [0; MAX_VCPUS],
        runs: [Granule::at(0); MAX_VCPUS],
        vcpus: 0,
        ram: 0,
        rim: Measurement::ZERO,
        roots: 0,
        aux: [[0; 16]; MAX_VCPUS],
        aux_count: 0,
    };
    // SAFETY: called once, by CPU 0 from `build`, before any other CPU runs; the reference is
    // the only one made.
    unsafe { &mut *core::ptr::addr_of_mut!(REALM) }
}

fn create_rd(realm: &mut Realm, features: Features) -> Result<(), RealmError> {
    realm.rd = pool::delegated()?;
    let roots = pool::take(RTT_NUM_START, RTT_NUM_START)?;
    for i in 0..RTT_NUM_START {
        pool::delegate(Granule::at(roots.pa() + i * GRANULE_SIZE))?;
    }
    realm.roots = roots.pa();
    let (sve, pmu) = (features.sve_vl.is_some(), features.pmu_counters.is_some());
    let flags = if sve { RealmFlags::SVE } else { 0 } | if pmu { RealmFlags::PMU } else { 0 };
    let params = RealmParams {
        flags: RealmFlags::from_bits(flags),
        s2sz: IPA_WIDTH as u8,
        sve_vl: features.sve_vl.unwrap_or(0),
        num_bps: features.bps,
        num_wps: features.wps,
        pmu_num_ctrs: features.pmu_counters.unwrap_or(0),
        hash_algo: RHA,
        rpv: [0; 64],
        vmid: VMID,
        rtt_base: roots.pa(),
        rtt_level_start: RTT_LEVEL_START,
        rtt_num_start: RTT_NUM_START as u32,
    };
    let mut bytes = [0u8; REALM_PARAMS_SIZE];
    params.write_to(&mut bytes);
    let page = pool::take_zeroed()?;
    page.write_bytes(0, &bytes);
    rmi_ok("REALM_CREATE", rmi::realm_create(realm.rd, page.pa()))?;
    realm.rim = rim_init(&params.measured());
    Ok(())
}

/// The blobs' pages: measured DATA granules.
fn fill_ram(realm: &mut Realm, guest: &Guest) -> Result<(), RealmError> {
    let ram_top = RAM_BASE + guest.ram;
    let mut blobs = guest.blobs;
    blobs.sort_unstable_by_key(|b| b.map_or(u64::MAX, |b| b.ipa));
    let mut ipa = RAM_BASE;
    let bounce = pool::take_zeroed()?;
    let mut measured = 0u64;
    for blob in blobs.iter().flatten() {
        let top = blob.ipa + blob.host.1.next_multiple_of(GRANULE_SIZE);
        if blob.ipa < ipa || top > ram_top {
            return Err(RealmError::TooBig("an image"));
        }
        for offset in (0..blob.host.1).step_by(GRANULE_SIZE as usize) {
            let len = (blob.host.1 - offset).min(GRANULE_SIZE);
            // The last page of a blob goes through a zeroed copy: the RIM covers only its bytes.
            let src = if len == GRANULE_SIZE {
                Granule::at(blob.host.0 + offset)
            } else {
                bounce.fill(0);
                bounce.copy_from(blob.host.0 + offset, len);
                bounce
            };
            let data = pool::delegated()?;
            let at = blob.ipa + offset;
            rmi_ok(
                "DATA_CREATE",
                rmi::data_create(realm.rd, data, at, src.pa(), MEASURE_CONTENT),
            )?;
            rim_extend_data(RHA, &mut realm.rim, at, MEASURE_CONTENT, &src.bytes());
            measured += 1;
        }
        ipa = top;
    }
    say!(
        "DATA: {} pages measured; the other {} on first touch",
        measured,
        guest.ram / GRANULE_SIZE - measured
    );
    Ok(())
}

/// One REC per vCPU with its auxiliary granules and its RmiRecRun page.
fn create_recs(realm: &mut Realm, guest: &Guest) -> Result<(), RealmError> {
    let kernel = guest.blobs[0].map_or(RAM_BASE, |b| b.ipa);
    let dtb = guest.blobs[2].map_or(0, |b| b.ipa);
    realm.aux_count = rmi_ok("REC_AUX_COUNT", rmi::rec_aux_count(realm.rd))? as usize;
    for i in 0..guest.vcpus {
        let rec = pool::delegated()?;
        let mut aux = [0u64; 16];
        for slot in aux.iter_mut().take(realm.aux_count) {
            *slot = pool::delegated()?;
        }
        let mut gprs = [0u64; 8];
        gprs[0] = dtb;
        let params = RecParams {
            flags: RecCreateFlags::from_bits(u64::from(i == 0) * RecCreateFlags::RUNNABLE),
            mpidr: RecMpidr::from_bits(mpidr(i)),
            pc: kernel,
            gprs,
            num_aux: realm.aux_count as u64,
            aux,
        };
        let mut bytes = [0u8; REC_PARAMS_SIZE];
        params.write_to(&mut bytes);
        let page = pool::take_zeroed()?;
        page.write_bytes(0, &bytes);
        rmi_ok("REC_CREATE", rmi::rec_create(realm.rd, rec, page.pa()))?;
        if i == 0 {
            // B4.3.12.3 `rim`: only runnable RECs extend the RIM.
            rim_extend_rec(RHA, &mut realm.rim, &params.measured());
        }
        realm.recs[i] = rec;
        realm.aux[i] = aux;
        realm.runs[i] = pool::take_zeroed()?;
    }
    Ok(())
}

/// Destroys everything and undelegates every granule; errors are reported and skipped so that
/// as much as possible goes back.
pub fn teardown(realm: &mut Realm) -> u32 {
    let mut errors = 0;
    let mut check = |what: &'static str, r: Result<(), RealmError>| {
        if let Err(e) = r {
            errors += 1;
            if errors <= 8 {
                say!("teardown: {}: {}", what, e);
            }
        }
    };
    for i in 0..realm.vcpus {
        check(
            "REC_DESTROY",
            rmi_ok("REC_DESTROY", rmi::rec_destroy(realm.recs[i])),
        );
        check(
            "undelegate REC",
            pool::undelegate(realm.recs[i]).map_err(Into::into),
        );
        for &aux in realm.aux[i].iter().take(realm.aux_count) {
            check("undelegate aux", pool::undelegate(aux).map_err(Into::into));
        }
    }
    // Every DATA granule, found by its RTT entry (on-demand ones included), and every
    // Unprotected mapping.
    for ipa in (RAM_BASE..RAM_BASE + realm.ram).step_by(GRANULE_SIZE as usize) {
        check("DATA", destroy_page(realm.rd, ipa));
    }
    let tables = MEMORY.lock();
    for &(ipa, level) in tables.rtts[..tables.count].iter().rev() {
        if level == 3 && ipa & UNPROTECTED_BIT != 0 {
            for page in (ipa..ipa + L2_SIZE).step_by(GRANULE_SIZE as usize) {
                let _ = rmi::rtt_unmap_unprotected(realm.rd, page, 3);
            }
        }
        let destroyed = rmi_ok("RTT_DESTROY", rmi::rtt_destroy(realm.rd, ipa, level.into()));
        check(
            "RTT_DESTROY",
            destroyed.and_then(|(rtt, _)| pool::undelegate(rtt).map_err(Into::into)),
        );
    }
    check(
        "REALM_DESTROY",
        rmi_ok("REALM_DESTROY", rmi::realm_destroy(realm.rd)),
    );
    check(
        "undelegate RD",
        pool::undelegate(realm.rd).map_err(Into::into),
    );
    for i in 0..RTT_NUM_START {
        let root = realm.roots + i * GRANULE_SIZE;
        check(
            "undelegate root RTT",
            pool::undelegate(root).map_err(Into::into),
        );
    }
    errors
}

/// DATA_DESTROY and undelegate of the page at `ipa` if it holds one.
fn destroy_page(rd: u64, ipa: u64) -> Result<(), RealmError> {
    let [level, state, ..] = rmi_ok("RTT_READ_ENTRY", rmi::rtt_read_entry(rd, ipa, 3))?;
    if level != 3 || state != RTT_STATE_ASSIGNED {
        return Ok(());
    }
    let (data, _) = rmi_ok("DATA_DESTROY", rmi::data_destroy(rd, ipa))?;
    Ok(pool::undelegate(data)?)
}
