//! The device tree the guest boots with: QEMU `virt`'s devices as [`crate::layout`] places
//! them, reduced to what Linux needs to reach a shell (`../shared/reference/linux-realm.md`).
//!
//! Sources: Devicetree Specification v0.4 (chapter 3: root, `/chosen`, `/memory`, `/cpus`;
//! chapter 2: `reg`, `interrupts`, `phandle`); Linux's bindings: `arm/cpus.yaml` (`reg` is the
//! MPIDR's affinity fields), `arm/psci.yaml`, `timer/arm,arch_timer.yaml`, `arm/pmu.yaml`,
//! `interrupt-controller/arm,gic-v3.yaml` (three cells: type 0 SPI / 1 PPI, number, flags 4 for
//! level-high; GICv3 has no CPU mask, so the flags are QEMU's `4`, not GICv2's `0xf04`),
//! `serial/arm,pl011.yaml`, `clock/fixed-clock.yaml`, `chosen.yaml` (initrd, stdout-path).

use crate::layout::{
    GICD_BASE, GICD_SIZE, GICR_BASE, GICR_STRIDE, MAX_VCPUS, PL011_BASE, PL011_INTID, PL011_SIZE,
    PMU_INTID, PTIMER_INTID, RAM_BASE, SPI_BASE, VTIMER_INTID,
};
use core::fmt::Write;
use rmm_arch::fdt::Writer;

/// What the guest's tree describes.
#[derive(Clone, Copy, Debug)]
pub struct GuestConfig<'a> {
    /// The MPIDR of each vCPU (REC), in vCPU order; vCPU 0 boots.
    pub vcpus: &'a [u64],
    /// Bytes of RAM from [`RAM_BASE`].
    pub ram_size: u64,
    /// The initramfs's `[start, end)` IPAs, if any.
    pub initrd: Option<(u64, u64)>,
    /// The kernel command line.
    pub bootargs: &'a str,
    /// The realm has a PMU (its overflow interrupt is [`PMU_INTID`]).
    pub pmu: bool,
}

/// Why no tree was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// No vCPUs, or more than the redistributor region holds ([`MAX_VCPUS`]).
    VcpuCount,
    /// No RAM.
    NoRam,
    /// An initrd that ends before it starts.
    Initrd,
    /// The tree does not fit the buffer.
    TooSmall,
}

/// Phandles of the GIC and the UART's clock.
const GIC_PHANDLE: u32 = 1;
const CLOCK_PHANDLE: u32 = 2;
/// GIC `interrupts` cells: SPI and PPI types, level-high flags.
const SPI: u32 = 0;
const PPI: u32 = 1;
const LEVEL_HIGH: u32 = 4;
/// The secure EL1 and EL2 physical timers' PPIs (QEMU `virt`; the guest uses neither).
const SECURE_PTIMER_INTID: u32 = 29;
const HYP_TIMER_INTID: u32 = 26;
/// The PL011's clock (QEMU `virt`'s `apb-pclk`).
const UART_CLOCK_HZ: u32 = 24_000_000;
/// Bits of MPIDR_EL1 that are affinity fields: Aff3 (39:32), Aff2-Aff0 (23:0).
const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

/// Writes the guest's device tree into `out`; returns its size.
pub fn write(config: &GuestConfig, out: &mut [u8]) -> Result<usize, DtbError> {
    let vcpus = config.vcpus.len();
    if vcpus == 0 || vcpus > MAX_VCPUS {
        return Err(DtbError::VcpuCount);
    }
    if config.ram_size == 0 {
        return Err(DtbError::NoRam);
    }
    if matches!(config.initrd, Some((start, end)) if end < start) {
        return Err(DtbError::Initrd);
    }
    let mut name = Name {
        buf: [0; 32],
        len: 0,
    };
    let mut w = Writer::new(out);
    w.begin_node("");
    w.prop_u32s("#address-cells", &[2]);
    w.prop_u32s("#size-cells", &[2]);
    w.prop_str("compatible", "linux,dummy-virt");
    w.prop_str("model", "Arm CCA realm (rmm realm-vmm)");
    w.prop_u32s("interrupt-parent", &[GIC_PHANDLE]);

    w.begin_node("chosen");
    w.prop_str("bootargs", config.bootargs);
    if let Some((start, end)) = config.initrd {
        w.prop_u64s("linux,initrd-start", &[start]);
        w.prop_u64s("linux,initrd-end", &[end]);
    }
    w.prop_str("stdout-path", name.unit("/pl011", PL011_BASE));
    w.end_node();

    w.begin_node(name.unit("memory", RAM_BASE));
    w.prop_str("device_type", "memory");
    w.prop_u64s("reg", &[RAM_BASE, config.ram_size]);
    w.end_node();

    w.begin_node("cpus");
    w.prop_u32s("#address-cells", &[2]);
    w.prop_u32s("#size-cells", &[0]);
    for &mpidr in config.vcpus {
        let mpidr = mpidr & MPIDR_AFFINITY;
        w.begin_node(name.unit("cpu", mpidr));
        w.prop_str("device_type", "cpu");
        w.prop_str("compatible", "arm,armv8");
        w.prop_u64s("reg", &[mpidr]);
        w.prop_str("enable-method", "psci");
        w.end_node();
    }
    w.end_node();

    w.begin_node("psci");
    w.prop_strs("compatible", &["arm,psci-1.0", "arm,psci-0.2"]);
    w.prop_str("method", "smc");
    w.end_node();

    // The arch timer's PPIs in the binding's order: secure phys, non-secure phys, virt, hyp.
    let mut timer = [0u32; 12];
    let ppis = [
        SECURE_PTIMER_INTID,
        PTIMER_INTID,
        VTIMER_INTID,
        HYP_TIMER_INTID,
    ];
    for (cells, intid) in timer.chunks_exact_mut(3).zip(ppis) {
        cells.copy_from_slice(&[PPI, intid - 16, LEVEL_HIGH]);
    }
    w.begin_node("timer");
    w.prop_str("compatible", "arm,armv8-timer");
    w.prop_u32s("interrupts", &timer);
    w.prop("always-on", &[]);
    w.end_node();

    if config.pmu {
        w.begin_node("pmu");
        w.prop_str("compatible", "arm,armv8-pmuv3");
        w.prop_u32s("interrupts", &[PPI, PMU_INTID - 16, LEVEL_HIGH]);
        w.end_node();
    }

    w.begin_node(name.unit("intc", GICD_BASE));
    w.prop_str("compatible", "arm,gic-v3");
    w.prop_u32s("#interrupt-cells", &[3]);
    // No children (no ITS); dtc's interrupt_provider check wants it said.
    w.prop_u32s("#address-cells", &[0]);
    w.prop("interrupt-controller", &[]);
    w.prop_u32s("#redistributor-regions", &[1]);
    let gicr_size = vcpus as u64 * GICR_STRIDE;
    w.prop_u64s("reg", &[GICD_BASE, GICD_SIZE, GICR_BASE, gicr_size]);
    w.prop_u32s("phandle", &[GIC_PHANDLE]);
    w.end_node();

    w.begin_node("apb-pclk");
    w.prop_str("compatible", "fixed-clock");
    w.prop_u32s("#clock-cells", &[0]);
    w.prop_u32s("clock-frequency", &[UART_CLOCK_HZ]);
    w.prop_str("clock-output-names", "clk24mhz");
    w.prop_u32s("phandle", &[CLOCK_PHANDLE]);
    w.end_node();

    w.begin_node(name.unit("pl011", PL011_BASE));
    w.prop_strs("compatible", &["arm,pl011", "arm,primecell"]);
    w.prop_u64s("reg", &[PL011_BASE, PL011_SIZE]);
    w.prop_u32s("interrupts", &[SPI, PL011_INTID - SPI_BASE, LEVEL_HIGH]);
    w.prop_u32s("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE]);
    w.prop_strs("clock-names", &["uartclk", "apb_pclk"]);
    w.end_node();

    w.end_node();
    w.finish().ok_or(DtbError::TooSmall)
}

/// A node name or path with a unit address, formatted without allocating.
struct Name {
    buf: [u8; 32],
    len: usize,
}

impl Name {
    /// `"{prefix}@{address:x}"`.
    fn unit(&mut self, prefix: &str, address: u64) -> &str {
        self.len = 0;
        // Cannot fail: the longest name ("memory" or "/pl011", '@', 16 digits) fits.
        let _ = write!(self, "{prefix}@{address:x}");
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for Name {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let dst = self
            .buf
            .get_mut(self.len..self.len + s.len())
            .ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmm_arch::fdt::{Fdt, Token};

    const BOOTARGS: &str = "console=ttyAMA0 earlycon=pl011,mmio32,0x8009000000 rdinit=/bin/sh";

    fn config(vcpus: &[u64]) -> GuestConfig<'_> {
        GuestConfig {
            vcpus,
            ram_size: 0x2000_0000,
            initrd: Some((0x4800_0000, 0x4823_4567)),
            bootargs: BOOTARGS,
            pmu: false,
        }
    }

    /// The tree as dtc would print it: nodes, and properties as strings or 32-bit cells.
    fn dump(fdt: &Fdt) -> String {
        let mut s = String::new();
        let ok = fdt.tokens(|depth, token| {
            let indent = "  ".repeat(depth as usize - 1);
            match token {
                Token::Begin(name) => {
                    let name = if name.is_empty() { b"/" } else { name };
                    s += &format!("{indent}{} {{\n", String::from_utf8_lossy(name));
                }
                Token::End => s += &format!("{indent}}};\n"),
                Token::Prop { name, value } => {
                    let name = String::from_utf8_lossy(name);
                    s += &format!("{indent}  {name}");
                    let text = value.split_last().filter(|(&nul, strs)| {
                        nul == 0
                            && !strs.is_empty()
                            && strs.split(|&c| c == 0).all(|p| {
                                !p.is_empty()
                                    && p.iter().all(|c| c.is_ascii_graphic() || *c == b' ')
                            })
                    });
                    if let Some((_, strs)) = text {
                        let strs: Vec<_> = strs
                            .split(|&c| c == 0)
                            .map(|p| format!("\"{}\"", String::from_utf8_lossy(p)))
                            .collect();
                        s += &format!(" = {}", strs.join(", "));
                    } else if !value.is_empty() {
                        assert_eq!(value.len() % 4, 0, "{name}: not cells");
                        let cells: Vec<_> = value
                            .chunks(4)
                            .map(|c| format!("{:#x}", u32::from_be_bytes(c.try_into().unwrap())))
                            .collect();
                        s += &format!(" = <{}>", cells.join(" "));
                    }
                    s += ";\n";
                }
            }
            Some(())
        });
        assert!(ok, "the walk reached END");
        s
    }

    #[test]
    fn every_node_and_property_of_a_two_vcpu_guest() {
        let mut buf = [0u8; 4096];
        let size = write(&config(&[0x8000_0000, 0x8000_0001]), &mut buf).unwrap();
        let fdt = Fdt::new(&buf[..size]).unwrap();
        assert_eq!(fdt.size(), size);
        let expected = r#"/ {
  #address-cells = <0x2>;
  #size-cells = <0x2>;
  compatible = "linux,dummy-virt";
  model = "Arm CCA realm (rmm realm-vmm)";
  interrupt-parent = <0x1>;
  chosen {
    bootargs = "console=ttyAMA0 earlycon=pl011,mmio32,0x8009000000 rdinit=/bin/sh";
    linux,initrd-start = <0x0 0x48000000>;
    linux,initrd-end = <0x0 0x48234567>;
    stdout-path = "/pl011@9000000";
  };
  memory@40000000 {
    device_type = "memory";
    reg = <0x0 0x40000000 0x0 0x20000000>;
  };
  cpus {
    #address-cells = <0x2>;
    #size-cells = <0x0>;
    cpu@0 {
      device_type = "cpu";
      compatible = "arm,armv8";
      reg = <0x0 0x0>;
      enable-method = "psci";
    };
    cpu@1 {
      device_type = "cpu";
      compatible = "arm,armv8";
      reg = <0x0 0x1>;
      enable-method = "psci";
    };
  };
  psci {
    compatible = "arm,psci-1.0", "arm,psci-0.2";
    method = "smc";
  };
  timer {
    compatible = "arm,armv8-timer";
    interrupts = <0x1 0xd 0x4 0x1 0xe 0x4 0x1 0xb 0x4 0x1 0xa 0x4>;
    always-on;
  };
  intc@8000000 {
    compatible = "arm,gic-v3";
    #interrupt-cells = <0x3>;
    #address-cells = <0x0>;
    interrupt-controller;
    #redistributor-regions = <0x1>;
    reg = <0x0 0x8000000 0x0 0x10000 0x0 0x80a0000 0x0 0x40000>;
    phandle = <0x1>;
  };
  apb-pclk {
    compatible = "fixed-clock";
    #clock-cells = <0x0>;
    clock-frequency = <0x16e3600>;
    clock-output-names = "clk24mhz";
    phandle = <0x2>;
  };
  pl011@9000000 {
    compatible = "arm,pl011", "arm,primecell";
    reg = <0x0 0x9000000 0x0 0x1000>;
    interrupts = <0x0 0x1 0x4>;
    clocks = <0x2 0x2>;
    clock-names = "uartclk", "apb_pclk";
  };
};
"#;
        assert_eq!(dump(&fdt), expected);
        // What the reader's own helpers and Linux's early boot find.
        assert_eq!(fdt.memory(), Some((RAM_BASE, 0x2000_0000)));
        let mut mpidrs = [0u64; 4];
        assert_eq!(fdt.cpus(&mut mpidrs), Some(2));
        assert_eq!(
            mpidrs[..2],
            [0, 1],
            "the MPIDR's RES1 bit 31 is not an affinity"
        );
        assert_eq!(
            fdt.property("/chosen", "stdout-path"),
            Some(&b"/pl011@9000000\0"[..])
        );
        assert_eq!(
            fdt.property("/cpus/cpu@1", "reg"),
            Some(&[0, 0, 0, 0, 0, 0, 0, 1][..])
        );
        assert_eq!(fdt.property("/cpus/cpu@2", "reg"), None);
        assert_eq!(
            fdt.property("/cpus", "enable-method"),
            None,
            "a child's only"
        );
        assert_eq!(fdt.property("/", "#size-cells"), Some(&[0, 0, 0, 2][..]));
    }

    #[test]
    fn golden_one_vcpu_tree() {
        // testdata/guest-1cpu.dts is `dtc -I dtb -O dts` of this blob. After an intended
        // change, rewrite it with REALM_VMM_BLESS=1 and check it with dtc again.
        let mut buf = [0u8; 4096];
        let size = write(&config(&[0]), &mut buf).unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/guest-1cpu.dtb");
        if std::env::var_os("REALM_VMM_BLESS").is_some() {
            std::fs::write(path, &buf[..size]).unwrap();
            return;
        }
        let golden = include_bytes!("../testdata/guest-1cpu.dtb");
        assert_eq!(size, golden.len());
        assert!(buf[..size] == golden[..], "differs from {path}");
    }

    #[test]
    fn mpidrs_name_the_cpu_nodes() {
        // Aff1 (a second cluster) and Aff3; MT (bit 24) and U (bit 30) are not affinity.
        let vcpus = [0, 0x100, 0x1_0000_0000 | 1 << 24 | 1 << 30];
        let mut buf = [0u8; 4096];
        let size = write(&config(&vcpus), &mut buf).unwrap();
        let fdt = Fdt::new(&buf[..size]).unwrap();
        let mut mpidrs = [0u64; 4];
        assert_eq!(fdt.cpus(&mut mpidrs), Some(3));
        assert_eq!(mpidrs[..3], [0, 0x100, 0x1_0000_0000]);
        assert!(fdt.property("/cpus/cpu@100", "reg").is_some());
        assert!(fdt.property("/cpus/cpu@100000000", "reg").is_some());
        let reg = fdt.property("/intc@8000000", "reg").unwrap();
        assert_eq!(reg[24..], (3 * GICR_STRIDE).to_be_bytes(), "GICR: 3 frames");
    }

    #[test]
    fn without_an_initrd_chosen_has_no_initrd_properties() {
        let mut buf = [0u8; 4096];
        let c = GuestConfig {
            initrd: None,
            ..config(&[0])
        };
        let size = write(&c, &mut buf).unwrap();
        let fdt = Fdt::new(&buf[..size]).unwrap();
        assert_eq!(fdt.property("/chosen", "linux,initrd-start"), None);
        assert!(fdt.property("/chosen", "bootargs").is_some());
    }

    #[test]
    fn a_realm_with_a_pmu_has_its_node_and_ppi() {
        let mut buf = vec![0u8; 8192];
        let without = write(&config(&[0]), &mut buf).unwrap();
        assert_eq!(
            Fdt::new(&buf[..without])
                .unwrap()
                .property("/pmu", "compatible"),
            None
        );
        let c = GuestConfig {
            pmu: true,
            ..config(&[0])
        };
        let size = write(&c, &mut buf).unwrap();
        let fdt = Fdt::new(&buf[..size]).unwrap();
        assert_eq!(
            fdt.property("/pmu", "compatible"),
            Some(&b"arm,armv8-pmuv3\0"[..])
        );
        // PPI 7 (INTID 23), level-high.
        let cells: Vec<u8> = [1u32, 7, 4].iter().flat_map(|c| c.to_be_bytes()).collect();
        assert_eq!(fdt.property("/pmu", "interrupts"), Some(&cells[..]));
    }

    #[test]
    fn refuses_bad_configs_and_small_buffers() {
        let mut buf = [0u8; 4096];
        assert_eq!(write(&config(&[]), &mut buf), Err(DtbError::VcpuCount));
        let many = [0u64; MAX_VCPUS + 1];
        assert_eq!(write(&config(&many), &mut buf), Err(DtbError::VcpuCount));
        let mut big = vec![0u8; 16 << 10];
        assert!(write(&config(&many[..MAX_VCPUS]), &mut big).is_ok());
        let c = GuestConfig {
            ram_size: 0,
            ..config(&[0])
        };
        assert_eq!(write(&c, &mut buf), Err(DtbError::NoRam));
        let c = GuestConfig {
            initrd: Some((2, 1)),
            ..config(&[0])
        };
        assert_eq!(write(&c, &mut buf), Err(DtbError::Initrd));
        let size = write(&config(&[0]), &mut buf).unwrap();
        let mut small = vec![0u8; size - 1];
        assert_eq!(write(&config(&[0]), &mut small), Err(DtbError::TooSmall));
        let mut exact = vec![0u8; size];
        assert_eq!(write(&config(&[0]), &mut exact), Ok(size));
    }
}
