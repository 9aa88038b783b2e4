//! Memory maps of the platforms the images are built for. The RMM itself learns DRAM and its
//! console from the boot manifest; these constants place the images and tell the QEMU test
//! firmware what the machine looks like.

/// QEMU `virt` with `secure=on,virtualization=on,gic-version=3` (QEMU 10), as the project's
/// own EL3 firmware lays it out. The RMM image and shared buffer sit where TF-A's qemu port
/// puts them, so TF-RMM's `qemu_virt` build boots in the same place.
pub mod qemu {
    /// Secure flash: the EL3 firmware (`-bios`), Root PAS.
    pub const FLASH_BASE: u64 = 0x0000_0000;
    /// Size of the secure flash.
    pub const FLASH_SIZE: u64 = 0x0400_0000;
    /// Secure RAM: EL3 data, stacks and the granule protection tables, Root PAS.
    pub const SECURE_RAM_BASE: u64 = 0x0e00_0000;
    /// Size of the secure RAM.
    pub const SECURE_RAM_SIZE: u64 = 0x0100_0000;
    /// GICv3 distributor.
    pub const GICD_BASE: u64 = 0x0800_0000;
    /// First GICv3 redistributor frame (RD + SGI, 0x20000 apart).
    pub const GICR_BASE: u64 = 0x080a_0000;
    /// Stride between redistributor frames.
    pub const GICR_STRIDE: u64 = 0x2_0000;
    /// The Non-secure PL011 (UART0): console of every world.
    pub const UART0_BASE: u64 = 0x0900_0000;
    /// fw_cfg MMIO interface.
    pub const FW_CFG_BASE: u64 = 0x0902_0000;
    /// Start of DRAM (QEMU places its device tree here).
    pub const DRAM_BASE: u64 = 0x4000_0000;
    /// DRAM size our EL3 assumes when QEMU's device tree has no memory node (`scripts/run`'s
    /// default `--mem 1G`).
    pub const DRAM_SIZE: u64 = 0x4000_0000;
    /// The RMM image: loaded here, Realm PAS (TF-A qemu: REALM_DRAM_BASE).
    pub const RMM_BASE: u64 = 0x4010_0000;
    /// Size of the RMM's region, image and runtime data (64 MiB less the shared buffer): its
    /// heap holds the granule table (1 MiB per GiB of DRAM) and about 75 KiB per CPU (37 MiB
    /// for QEMU `virt`'s 512), `rmm-image/src/cpus.rs`. TF-A's qemu port gives 24 MiB
    /// ([`TFA_RMM_SIZE`]): the RMM image ends its heap at the shared buffer it is passed
    /// (`rmm-image/src/heap.rs`), and a TF-RMM image (`scripts/run --rmm`) uses less.
    pub const RMM_SIZE: u64 = 0x03ff_f000;
    /// The RMM-EL3 shared buffer (boot manifest, attestation calls), Realm PAS.
    pub const SHARED_BUF_BASE: u64 = RMM_BASE + RMM_SIZE;
    /// Size of the RMM's region in TF-A's qemu port (24 MiB less the shared buffer), which
    /// the test firmware's `tf-a-layout` quirk reproduces.
    pub const TFA_RMM_SIZE: u64 = 0x017f_f000;
    /// TF-A's qemu port's shared buffer, right after its RMM region.
    pub const TFA_SHARED_BUF_BASE: u64 = RMM_BASE + TFA_RMM_SIZE;
    /// Default load and entry address of the Normal-world payload (the test host).
    pub const NS_PAYLOAD_BASE: u64 = 0x6000_0000;
}

/// Arm FVP Base RevC-2xAEMvA with TF-A `ENABLE_RMM=1` (build only: FVP cannot run here).
pub mod fvp {
    /// The RMM image: TF-A's ARM_REALM_BASE.
    pub const RMM_BASE: u64 = 0xfdc0_0000;
    /// Size of the RMM's region (TF-RMM `fvp` RMM_MAX_SIZE).
    pub const RMM_SIZE: u64 = 0x0180_0000;
    /// The RMM-EL3 shared buffer TF-A passes.
    pub const SHARED_BUF_BASE: u64 = 0xffbf_f000;
    /// PL011 UART3, the RMM's console on FVP.
    pub const UART3_BASE: u64 = 0x1c0c_0000;
}
