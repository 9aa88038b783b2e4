//! The realm VMM's devices and layout: what a Linux realm guest finds in its IPA space, and
//! the models the VMM emulates it with. Pure logic, `no_std`, tested on the host; the VMM image
//! (NS-EL2, `arch/realm-vmm/src/main.rs`, to come) drives them from REC exits.
//!
//! - [`layout`]: the guest's memory map and interrupt numbers.
//! - [`config`]: what `scripts/run --linux` tells the VMM.
//! - [`mmio`]: a REC exit due to an emulatable Data Abort, decoded into an access.
//! - [`vgic`]: the GICv3 distributor and redistributors, and the list registers of each vCPU.
//! - [`pl011`]: the console UART.
//! - [`dtb`]: the device tree the guest boots with.
#![cfg_attr(not(test), no_std)]

pub mod config;
pub mod dtb;
pub mod layout;
pub mod mmio;
pub mod pl011;
pub mod vgic;
