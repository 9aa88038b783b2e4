//! A polled PL011 UART driver: the console of the RMM, the QEMU test firmware and the NS-EL2
//! programs (the realm VMM also reads from it). 32-bit MMIO accesses only (QEMU splits 64-bit
//! ones and rejects the halves).

use core::fmt;

const DR: usize = 0x00;
const FR: usize = 0x18;
const IBRD: usize = 0x24;
const FBRD: usize = 0x28;
const LCR_H: usize = 0x2c;
const CR: usize = 0x30;
const FR_TXFF: u32 = 1 << 5;
const FR_RXFE: u32 = 1 << 4;
const FR_BUSY: u32 = 1 << 3;
const LCR_H_WLEN8_FEN: u32 = (0b11 << 5) | (1 << 4);
const CR_UARTEN_TXE_RXE: u32 = 0x301;

/// A PL011 at a fixed address (mapped as Device memory, or reached with the MMU off).
#[derive(Clone, Copy, Debug)]
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// The UART whose registers start at `base`.
    ///
    /// # Safety
    /// `base` must be the address of a PL011's registers, accessible as Device memory for as
    /// long as the returned value is used, and no other code may program it concurrently.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: `new`'s contract: `base + offset` is a PL011 register.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: `base + offset` is a PL011 register.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    /// Programs 8N1 with FIFOs at `baud` from a `clock_hz` reference clock (0 for either keeps
    /// the divisor, as QEMU ignores it) and enables the transmitter.
    pub fn init(&self, clock_hz: u64, baud: u64) {
        self.write_reg(CR, 0);
        if clock_hz != 0 && baud != 0 {
            // Divisor in 1/64ths: clock / (16 * baud), rounded.
            let div64 = (clock_hz * 4 + baud / 2) / baud;
            self.write_reg(IBRD, (div64 >> 6) as u32);
            self.write_reg(FBRD, (div64 & 0x3f) as u32);
        }
        self.write_reg(LCR_H, LCR_H_WLEN8_FEN);
        self.write_reg(CR, CR_UARTEN_TXE_RXE);
    }

    /// Sends one byte, waiting for room in the FIFO.
    pub fn putc(&self, byte: u8) {
        while self.read_reg(FR) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.write_reg(DR, byte.into());
    }

    /// A received byte, if the receive FIFO holds one.
    pub fn try_getc(&self) -> Option<u8> {
        (self.read_reg(FR) & FR_RXFE == 0).then(|| self.read_reg(DR) as u8)
    }

    /// Waits until every queued byte has left.
    pub fn flush(&self) {
        while self.read_reg(FR) & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
    }
}

impl fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.putc(b'\r');
            }
            self.putc(b);
        }
        Ok(())
    }
}
