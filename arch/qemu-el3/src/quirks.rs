//! Ways this test firmware can behave like other RME firmware, so that the test host is tested
//! against them (fw_cfg `opt/rmm/el3-quirks`, a comma-separated list; `scripts/run
//! --el3-quirks`). Each one is something TF-A's `qemu` platform does, or a firmware may do:
//!
//! | quirk | effect |
//! |---|---|
//! | `gic-grp1ns-off` | the distributor's Group 1 Non-secure enable is left off (TF-A leaves it to the Normal world) |
//! | `dtb-not-in-x0` | the Normal world is entered with x0 = 0 instead of the device tree's address |
//! | `no-dtb` | as `dtb-not-in-x0`, and the device tree QEMU placed at the start of DRAM is erased |
//! | `no-perf-sip` | the perf SiP calls (`rmm_arch::perf`) are unknown functions, as in TF-A |
//! | `legacy-console-checksum` | the boot manifest's console checksum covers only base, map_pages, clk_in_hz and baud_rate, as TF-A up to v2.12 computes it |
//! | `tf-a-layout` | the RMM's region is TF-A's: 24 MiB less 4 KiB at `RMM_BASE`, the shared buffer right after it (`rmm::shared_buf`) |

use crate::println;
use core::sync::atomic::{AtomicU32, Ordering};

/// The fw_cfg file naming the quirks.
const FILE: &[u8] = b"opt/rmm/el3-quirks";

/// One quirk.
#[derive(Clone, Copy)]
pub enum Quirk {
    GicGrp1NsOff = 1 << 0,
    DtbNotInX0 = 1 << 1,
    NoDtb = 1 << 2,
    NoPerfSip = 1 << 3,
    LegacyConsoleChecksum = 1 << 4,
    TfaLayout = 1 << 5,
}

const NAMES: [(&[u8], Quirk); 6] = [
    (b"gic-grp1ns-off", Quirk::GicGrp1NsOff),
    (b"dtb-not-in-x0", Quirk::DtbNotInX0),
    (b"no-dtb", Quirk::NoDtb),
    (b"no-perf-sip", Quirk::NoPerfSip),
    (b"legacy-console-checksum", Quirk::LegacyConsoleChecksum),
    (b"tf-a-layout", Quirk::TfaLayout),
];

/// The quirks in force, as a set of [`Quirk`] bits. Written once by the primary before it
/// opens the pen (whose Release store publishes it); Relaxed everywhere.
static ACTIVE: AtomicU32 = AtomicU32::new(0);

/// Reads the quirks from fw_cfg and says which are in force. Primary CPU, at boot. An unknown
/// name stops the boot: a test that asked for a behaviour must get it.
pub fn init() {
    let mut buf = [0u8; 128];
    let Some(n) = rmm_arch::fwcfg::read_file(FILE, &mut buf) else {
        return;
    };
    let mut active = 0;
    for word in rmm_arch::fwcfg::words(&buf[..n]) {
        match NAMES.iter().find(|(name, _)| *name == word) {
            Some(&(name, quirk)) => {
                active |= quirk as u32;
                println!(
                    "EL3: quirk {} (fw_cfg opt/rmm/el3-quirks)",
                    core::str::from_utf8(name).unwrap_or("?")
                );
            }
            None => {
                println!(
                    "EL3: unknown quirk {:?} in fw_cfg opt/rmm/el3-quirks",
                    core::str::from_utf8(word).unwrap_or("?")
                );
                crate::exit(crate::fatal::EXIT_FATAL);
            }
        }
    }
    ACTIVE.store(active, Ordering::Relaxed);
}

/// Whether `quirk` is in force.
pub fn on(quirk: Quirk) -> bool {
    ACTIVE.load(Ordering::Relaxed) & quirk as u32 != 0
}

/// Erases the device tree at `pa` (its magic word), for [`Quirk::NoDtb`]: written through
/// EL3's Non-secure mapping of DRAM and cleaned to the point of coherency, where the Normal
/// world, which starts with its MMU off, reads it.
pub fn erase_device_tree(pa: u64) {
    // SAFETY: `pa` is the start of DRAM, mapped Normal RW in the Non-secure PAS (mmu.rs);
    // nothing else runs in the Normal world yet. The cache maintenance changes no data.
    unsafe {
        core::ptr::write_volatile(pa as *mut u32, 0);
        core::arch::asm!("dc civac, {}", "dsb sy", in(reg) pa, options(nostack));
    }
}
