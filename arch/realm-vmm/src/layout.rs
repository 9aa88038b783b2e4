//! The realm guest's IPA space and interrupts: QEMU `virt`'s layout, which every arm64 Linux
//! kernel knows, in the Protected half of a 40-bit IPA space. Devices sit at low IPAs that stay
//! RIPAS EMPTY, so Linux reaches them through the Unprotected alias (`UNPROTECTED_BIT` set;
//! `../shared/reference/linux-realm.md`), where every access is an emulatable Data Abort.

/// IPA width of the realm.
pub const IPA_WIDTH: u32 = 40;
/// The Unprotected alias: the top IPA bit.
pub const UNPROTECTED_BIT: u64 = 1 << (IPA_WIDTH - 1);

/// GICv3 distributor, 64 KiB.
pub const GICD_BASE: u64 = 0x0800_0000;
pub const GICD_SIZE: u64 = 0x1_0000;
/// GICv3 redistributors: one 128 KiB frame pair (RD, SGI) per vCPU.
pub const GICR_BASE: u64 = 0x080a_0000;
pub const GICR_STRIDE: u64 = 0x2_0000;
/// Most vCPUs the redistributor region holds (up to the UART).
pub const MAX_VCPUS: usize = ((PL011_BASE - GICR_BASE) / GICR_STRIDE) as usize;
/// The PL011 UART, 4 KiB.
pub const PL011_BASE: u64 = 0x0900_0000;
pub const PL011_SIZE: u64 = 0x1000;
/// Guest RAM starts here.
pub const RAM_BASE: u64 = 0x4000_0000;

/// Interrupt IDs (GICv3): SGIs 0-15, PPIs 16-31, SPIs from 32.
pub const SPI_BASE: u32 = 32;
/// The PL011's SPI (QEMU `virt`: SPI 1).
pub const PL011_INTID: u32 = SPI_BASE + 1;
/// The EL1 virtual and physical timers' PPIs (the device tree's "arm,armv8-timer" order:
/// secure phys 29, non-secure phys 30, virt 27, hyp 26).
pub const VTIMER_INTID: u32 = 27;
pub const PTIMER_INTID: u32 = 30;
/// The PMU's overflow interrupt (QEMU `virt`: PPI 7), for a realm with a PMU (A8.1).
pub const PMU_INTID: u32 = 23;
/// SPIs the distributor implements (GICD_TYPER.ITLinesNumber = SPI_COUNT / 32).
pub const SPI_COUNT: u32 = 64;
