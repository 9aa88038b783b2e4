//! The console: an ARM PL011 UART as the guest's `arm,pl011` driver and `earlycon=pl011` use it.
//!
//! Source: ARM PrimeCell UART (PL011) Technical Reference Manual, DDI 0183 (registers, chapter
//! 3; interrupts, section 2.8), and Linux `drivers/tty/serial/amba-pl011.c` for what the
//! driver relies on. The model transmits instantly: every byte written to UARTDR goes straight
//! to the VMM's console, so the transmit FIFO is always empty (UARTFR.TXFE 1, TXFF and BUSY 0)
//! and Linux's driver, which writes while TXFF is clear, sends a whole buffer in one go. It
//! transmits whatever UARTCR says (as QEMU does), since `earlycon` writes before anyone sets
//! UARTEN. Receive has a 16-entry FIFO (the depth Linux infers from the revision in
//! UARTPeriphID2, as QEMU has); the VMM feeds it with [`Pl011::push_rx`].
//!
//! Interrupts (UARTRIS bits, level sensitive; the SPI is asserted while UARTMIS is non-zero):
//! - TXRIS: the TRM sets it when written data leaves the FIFO and the FIFO falls to its trigger
//!   level, not at reset; here on every UARTDR write (the byte leaves at once). UARTICR clears it.
//! - RXRIS: the receive FIFO reaches its UARTIFLS level (1 byte with FIFOs off); cleared when
//!   reads take it below the level, or by UARTICR.
//! - RTRIS: the receive timeout. With no time in the model, data is idle as soon as it
//!   arrives: set by every received byte, cleared when the FIFO is read empty or by UARTICR.
//!
//! No errors are ever received (UARTRSR and the error bits of UARTDR read 0), there is no DMA
//! (UARTDMACR RAZ/WI), and the modem inputs read as a connected terminal (CTS, DSR, DCD).

/// Register offsets (TRM table 3-1).
pub mod reg {
    pub const DR: u64 = 0x000;
    pub const RSR_ECR: u64 = 0x004;
    pub const FR: u64 = 0x018;
    pub const ILPR: u64 = 0x020;
    pub const IBRD: u64 = 0x024;
    pub const FBRD: u64 = 0x028;
    pub const LCR_H: u64 = 0x02c;
    pub const CR: u64 = 0x030;
    pub const IFLS: u64 = 0x034;
    pub const IMSC: u64 = 0x038;
    pub const RIS: u64 = 0x03c;
    pub const MIS: u64 = 0x040;
    pub const ICR: u64 = 0x044;
    pub const DMACR: u64 = 0x048;
    /// UARTPeriphID0-3 at 0xFE0-0xFEC, UARTPCellID0-3 at 0xFF0-0xFFC.
    pub const PERIPH_ID0: u64 = 0xfe0;
}

/// UARTFR bits.
pub mod fr {
    pub const CTS: u32 = 1 << 0;
    pub const DSR: u32 = 1 << 1;
    pub const DCD: u32 = 1 << 2;
    pub const BUSY: u32 = 1 << 3;
    pub const RXFE: u32 = 1 << 4;
    pub const TXFF: u32 = 1 << 5;
    pub const RXFF: u32 = 1 << 6;
    pub const TXFE: u32 = 1 << 7;
}

/// Interrupt bits of UARTIMSC, UARTRIS, UARTMIS and UARTICR.
pub mod int {
    pub const RX: u32 = 1 << 4;
    pub const TX: u32 = 1 << 5;
    pub const RT: u32 = 1 << 6;
    /// Every interrupt (modem, RX, TX, timeout, framing, parity, break, overrun).
    pub const ALL: u32 = 0x7ff;
}

/// UARTLCR_H.FEN: FIFOs enabled.
const LCR_H_FEN: u32 = 1 << 4;
/// UARTCR bits: UARTEN, LBE (loopback), TXE, RXE.
const CR_UARTEN: u32 = 1 << 0;
const CR_LBE: u32 = 1 << 7;
const CR_RXE: u32 = 1 << 9;
/// Reset values (TRM table 3-1): UARTCR TXE and RXE, UARTIFLS half-way levels.
const CR_RESET: u32 = 0x300;
const IFLS_RESET: u32 = 0x12;

/// UARTPeriphID0-3 and UARTPCellID0-3: part 0x011, designer 0x41 (ARM), revision 1; the
/// PrimeCell ID 0xb105f00d the AMBA bus matches.
const IDS: [u8; 8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Receive FIFO depth.
pub const FIFO_DEPTH: usize = 16;

/// A PL011 UART's state.
#[derive(Clone, Debug)]
pub struct Pl011 {
    rx: [u8; FIFO_DEPTH],
    /// Index of the oldest received byte, and how many there are.
    rx_head: usize,
    rx_len: usize,
    ilpr: u32,
    ibrd: u32,
    fbrd: u32,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
    /// The raw interrupt status (TX, RX, RT; the others never rise).
    ris: u32,
}

impl Default for Pl011 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pl011 {
    /// A UART in its reset state.
    pub const fn new() -> Self {
        Self {
            rx: [0; FIFO_DEPTH],
            rx_head: 0,
            rx_len: 0,
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: CR_RESET,
            ifls: IFLS_RESET,
            imsc: 0,
            ris: 0,
        }
    }

    /// A guest read of `size` bytes (1, 2, 4 or 8) at `offset` in the UART's 4 KiB: the
    /// register's bytes from `offset % 4`, zero-extended. Reading UARTDR's data byte takes it
    /// from the receive FIFO. Reserved offsets read as zero.
    pub fn read(&mut self, offset: u64, size: usize) -> u64 {
        let shift = (offset & 3) * 8;
        let value = u64::from(self.read_reg(offset & !3, shift == 0));
        (value >> shift) & mask(size)
    }

    /// A guest write of `size` bytes of `value` at `offset`; returns the byte to print, if
    /// it was a write to UARTDR. Writes not at a register's first byte, and to read-only or
    /// reserved offsets, are ignored.
    pub fn write(&mut self, offset: u64, size: usize, value: u64) -> Option<u8> {
        if offset & 3 != 0 {
            return None;
        }
        let value = (value & mask(size)) as u32;
        match offset {
            reg::DR => return self.transmit(value as u8),
            reg::ILPR => self.ilpr = value & 0xff,
            reg::IBRD => self.ibrd = value & 0xffff,
            reg::FBRD => self.fbrd = value & 0x3f,
            reg::LCR_H => self.lcr_h = value & 0xff,
            reg::CR => self.cr = value & 0xffff,
            reg::IFLS => self.ifls = value & 0x3f,
            reg::IMSC => self.imsc = value & int::ALL,
            reg::ICR => self.ris &= !value,
            // UARTECR clears the receive errors, of which there are none; the rest is RO or
            // RAZ/WI (UARTDMACR).
            _ => {}
        }
        None
    }

    /// A byte from the console for the guest: false if the receive FIFO is full or the
    /// receiver is off (UARTCR UARTEN and RXE), when the VMM keeps it and retries later.
    pub fn push_rx(&mut self, byte: u8) -> bool {
        self.cr & (CR_UARTEN | CR_RXE) == CR_UARTEN | CR_RXE && self.receive(byte)
    }

    /// The UART's interrupt output (UARTINTR): the level of its SPI.
    pub fn irq_level(&self) -> bool {
        self.ris & self.imsc != 0
    }

    /// Receives `byte` into the FIFO, raising RX at the trigger level and RT.
    fn receive(&mut self, byte: u8) -> bool {
        if self.rx_len >= self.capacity() {
            return false;
        }
        self.rx[(self.rx_head + self.rx_len) % FIFO_DEPTH] = byte;
        self.rx_len += 1;
        if self.rx_len >= self.rx_trigger() {
            self.ris |= int::RX;
        }
        self.ris |= int::RT;
        true
    }

    /// A write to UARTDR: sent at once (or, in loopback, received), and TXRIS rises.
    fn transmit(&mut self, byte: u8) -> Option<u8> {
        self.ris |= int::TX;
        if self.cr & CR_LBE != 0 {
            self.receive(byte);
            return None;
        }
        Some(byte)
    }

    /// The register at word offset `offset`; `pop` when the access reads UARTDR's data.
    fn read_reg(&mut self, offset: u64, pop: bool) -> u32 {
        match offset {
            reg::DR if pop => self.pop_rx().map_or(0, u32::from),
            reg::FR => self.flags(),
            reg::ILPR => self.ilpr,
            reg::IBRD => self.ibrd,
            reg::FBRD => self.fbrd,
            reg::LCR_H => self.lcr_h,
            reg::CR => self.cr,
            reg::IFLS => self.ifls,
            reg::IMSC => self.imsc,
            reg::RIS => self.ris,
            reg::MIS => self.ris & self.imsc,
            0xfe0..=0xffc => u32::from(IDS[((offset - reg::PERIPH_ID0) / 4) as usize]),
            // UARTDR above its data byte (error bits), UARTRSR, UARTICR (WO), UARTDMACR.
            _ => 0,
        }
    }

    /// The oldest received byte; RX falls below the trigger level, RT when empty.
    fn pop_rx(&mut self) -> Option<u8> {
        if self.rx_len == 0 {
            return None;
        }
        let byte = self.rx[self.rx_head];
        self.rx_head = (self.rx_head + 1) % FIFO_DEPTH;
        self.rx_len -= 1;
        if self.rx_len < self.rx_trigger() {
            self.ris &= !int::RX;
        }
        if self.rx_len == 0 {
            self.ris &= !int::RT;
        }
        Some(byte)
    }

    fn flags(&self) -> u32 {
        let mut flags = fr::TXFE | fr::CTS | fr::DSR | fr::DCD;
        if self.rx_len == 0 {
            flags |= fr::RXFE;
        }
        if self.rx_len >= self.capacity() {
            flags |= fr::RXFF;
        }
        flags
    }

    /// The receive FIFO's depth: one holding register with FIFOs off (UARTLCR_H.FEN 0).
    fn capacity(&self) -> usize {
        if self.lcr_h & LCR_H_FEN != 0 {
            FIFO_DEPTH
        } else {
            1
        }
    }

    /// The receive interrupt's FIFO level (UARTIFLS.RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8 full).
    fn rx_trigger(&self) -> usize {
        if self.lcr_h & LCR_H_FEN == 0 {
            return 1;
        }
        let eighths = match self.ifls >> 3 & 7 {
            0 => 1,
            1 => 2,
            3 => 6,
            4 => 7,
            _ => 4,
        };
        FIFO_DEPTH * eighths / 8
    }
}

/// The low `size` bytes.
const fn mask(size: usize) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1 << (8 * size)) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guest's 16-bit accesses (the driver's `readw`/`writew` for ARM's PL011).
    fn r(u: &mut Pl011, offset: u64) -> u32 {
        u.read(offset, 2) as u32
    }

    fn w(u: &mut Pl011, offset: u64, value: u32) -> Option<u8> {
        u.write(offset, 2, value.into())
    }

    /// `pl011_startup` and `pl011_set_termios` for 115200 8N1 from a 24 MHz clock.
    fn linux_startup(u: &mut Pl011) {
        // pl011_hwinit: clear errors and RX interrupts; save IMSC; unmask RX for NMI.
        assert_eq!(w(u, reg::ICR, 0x7f0), None);
        let im = r(u, reg::IMSC);
        w(u, reg::IMSC, int::RT | int::RX);
        // pl011_allocate_irq, then IFLS RX4_8 | TX4_8, CR UARTEN | RXE | TXE.
        w(u, reg::IMSC, im);
        w(u, reg::IFLS, 0x12);
        let cr = r(u, reg::CR) & 0xc00;
        w(u, reg::CR, cr | 0x301);
        r(u, reg::FR);
        // pl011_enable_interrupts: clear RX interrupts, drain, unmask RT and RX.
        w(u, reg::ICR, int::RT | int::RX);
        for _ in 0..32 {
            if r(u, reg::FR) & fr::RXFE != 0 {
                break;
            }
            r(u, reg::DR);
        }
        w(u, reg::IMSC, int::RT | int::RX);
        // set_termios: quot = 24e6 * 4 / 115200 = 833: FBRD 833 & 0x3f, IBRD 833 >> 6.
        w(u, reg::FBRD, 833 & 0x3f);
        w(u, reg::IBRD, 833 >> 6);
        w(u, reg::LCR_H, 0x70); // WLEN_8 | FEN
        let cr = r(u, reg::CR);
        w(u, reg::CR, cr);
    }

    /// `pl011_tx_chars`: up to `limit` bytes (from the IRQ: fifosize / 2), each after checking
    /// TXFF unless from the IRQ; then `pl011_stop_tx` when done. Returns what was printed and
    /// whether TX interrupts stay enabled.
    fn tx_chars(u: &mut Pl011, data: &mut &[u8], from_irq: bool, out: &mut Vec<u8>) -> bool {
        let mut count = 8;
        while let Some((&c, rest)) = data.split_first() {
            if from_irq {
                if count == 0 {
                    break;
                }
                count -= 1;
            } else if r(u, reg::FR) & fr::TXFF != 0 {
                break;
            }
            out.extend(w(u, reg::DR, c.into()));
            *data = rest;
        }
        if data.is_empty() {
            let im = r(u, reg::IMSC);
            w(u, reg::IMSC, im & !int::TX);
            return false;
        }
        true
    }

    #[test]
    fn primecell_ids_are_arm_pl011_r1() {
        let mut u = Pl011::new();
        let word =
            |u: &mut Pl011, at: u64| (0..4).fold(0, |id, i| id | u.read(at + 4 * i, 4) << (8 * i));
        assert_eq!(word(&mut u, 0xfe0), 0x0014_1011, "periph ID");
        assert_eq!(word(&mut u, 0xff0), 0xb105_f00d, "PrimeCell ID");
        // The AMBA bus reads them as 32-bit words; a byte read of one gives the same.
        assert_eq!(u.read(0xfe8, 1), 0x14);
    }

    #[test]
    fn reset_values() {
        let mut u = Pl011::new();
        assert_eq!(r(&mut u, reg::CR), 0x300);
        assert_eq!(r(&mut u, reg::IFLS), 0x12);
        assert_eq!(
            r(&mut u, reg::FR),
            fr::TXFE | fr::RXFE | fr::CTS | fr::DSR | fr::DCD
        );
        for offset in [reg::IMSC, reg::RIS, reg::MIS, reg::LCR_H, reg::DMACR, 0x100] {
            assert_eq!(r(&mut u, offset), 0, "offset {offset:#x}");
        }
        assert!(!u.irq_level());
    }

    #[test]
    fn earlycon_prints_before_the_uart_is_enabled() {
        // earlycon=pl011,mmio32: wait for !TXFF, writel the byte, wait for !BUSY.
        let mut u = Pl011::new();
        let mut out = Vec::new();
        for c in b"Booting Linux\n" {
            assert_eq!(u.read(reg::FR, 4) as u32 & fr::TXFF, 0);
            out.extend(u.write(reg::DR, 4, u64::from(*c)));
            assert_eq!(u.read(reg::FR, 4) as u32 & fr::BUSY, 0);
        }
        // earlycon=pl011 (mmio): writeb.
        out.extend(u.write(reg::DR, 1, 0x1_0041));
        assert_eq!(out, b"Booting Linux\nA");
        assert!(!u.irq_level(), "TXIM is masked");
    }

    #[test]
    fn linux_writes_a_string_without_needing_interrupts() {
        let mut u = Pl011::new();
        linux_startup(&mut u);
        assert_eq!(r(&mut u, reg::LCR_H), 0x70);
        assert_eq!((r(&mut u, reg::IBRD), r(&mut u, reg::FBRD)), (13, 1));
        assert_eq!(r(&mut u, reg::CR), 0x301);
        // pl011_start_tx_pio: the FIFO never fills, so all goes out and TX stops.
        let mut data: &[u8] = b"Welcome to Debian GNU/Linux!\r\n";
        let mut out = Vec::new();
        assert!(!tx_chars(&mut u, &mut data, false, &mut out));
        assert_eq!(out, b"Welcome to Debian GNU/Linux!\r\n");
        assert_eq!(r(&mut u, reg::IMSC), int::RT | int::RX);
        assert!(!u.irq_level());
        assert_ne!(r(&mut u, reg::RIS) & int::TX, 0, "TXRIS rose, masked");
    }

    #[test]
    fn tx_interrupts_drive_the_rest_of_a_buffer() {
        let mut u = Pl011::new();
        linux_startup(&mut u);
        // A tty flow-control stop leaves bytes behind with TXIM unmasked; TXRIS is still
        // high from the last write, so the interrupt fires and the handler sends 8 at a time.
        w(&mut u, reg::DR, b'>'.into());
        w(&mut u, reg::IMSC, int::RT | int::RX | int::TX);
        let mut data: &[u8] = b"0123456789abcdefghij";
        let mut out = Vec::new();
        let mut interrupts = 0;
        while u.irq_level() {
            interrupts += 1;
            // pl011_int: status = RIS & im; ICR all but TX, RT, RX; handle TXIS.
            let status = r(&mut u, reg::RIS) & r(&mut u, reg::IMSC);
            w(&mut u, reg::ICR, status & !(int::TX | int::RT | int::RX));
            assert_ne!(status & int::TX, 0);
            tx_chars(&mut u, &mut data, true, &mut out);
            assert!(interrupts < 10, "the interrupt does not go down");
        }
        assert_eq!(out, b"0123456789abcdefghij");
        assert_eq!(interrupts, 3, "8 + 8 + 4 bytes");
        assert_eq!(r(&mut u, reg::MIS), 0);
    }

    #[test]
    fn icr_clears_txris_and_the_next_write_raises_it() {
        let mut u = Pl011::new();
        linux_startup(&mut u);
        w(&mut u, reg::IMSC, int::TX);
        assert!(!u.irq_level(), "no TXRIS before the first byte leaves");
        assert_eq!(w(&mut u, reg::DR, b'x'.into()), Some(b'x'));
        assert!(u.irq_level());
        assert_eq!(r(&mut u, reg::MIS), int::TX);
        w(&mut u, reg::ICR, int::TX);
        assert!(!u.irq_level());
        w(&mut u, reg::DR, b'y'.into());
        assert!(u.irq_level());
    }

    #[test]
    fn received_bytes_raise_the_timeout_then_the_level_interrupt() {
        let mut u = Pl011::new();
        assert!(!u.push_rx(b'a'), "receiver off at reset (UARTEN 0)");
        linux_startup(&mut u);
        // One byte: below the half-full level, so a receive timeout.
        assert!(u.push_rx(b'a'));
        assert!(u.irq_level());
        assert_eq!(r(&mut u, reg::MIS), int::RT);
        assert_eq!(r(&mut u, reg::FR) & fr::RXFE, 0);
        // pl011_fifo_to_tty: read DR while !RXFE.
        assert_eq!(r(&mut u, reg::DR), u32::from(b'a'));
        assert_ne!(r(&mut u, reg::FR) & fr::RXFE, 0);
        assert!(!u.irq_level());
        // Eight bytes: the RX level (8 of 16) too; a read below the level clears RX only.
        for c in b"12345678" {
            assert!(u.push_rx(*c));
        }
        assert_eq!(r(&mut u, reg::MIS), int::RX | int::RT);
        assert_eq!(r(&mut u, reg::DR), u32::from(b'1'));
        assert_eq!(r(&mut u, reg::MIS), int::RT);
        // UARTICR clears RT with data left, as the hardware does; the data stays readable.
        w(&mut u, reg::ICR, int::RT);
        assert!(!u.irq_level());
        let mut got = Vec::new();
        while r(&mut u, reg::FR) & fr::RXFE == 0 {
            got.push(r(&mut u, reg::DR) as u8);
        }
        assert_eq!(got, b"2345678");
        // A read of an empty FIFO gives 0.
        assert_eq!(r(&mut u, reg::DR), 0);
    }

    #[test]
    fn a_full_fifo_refuses_bytes_until_read() {
        let mut u = Pl011::new();
        linux_startup(&mut u);
        for i in 0..FIFO_DEPTH {
            assert!(u.push_rx(i as u8));
        }
        assert!(!u.push_rx(0xff));
        assert_ne!(r(&mut u, reg::FR) & fr::RXFF, 0);
        assert_eq!(r(&mut u, reg::DR), 0);
        assert!(u.push_rx(0xff));
        for i in 1..FIFO_DEPTH {
            assert_eq!(r(&mut u, reg::DR), i as u32);
        }
        assert_eq!(r(&mut u, reg::DR), 0xff);
        // FIFOs off: a one-byte holding register, RX at every byte.
        w(&mut u, reg::LCR_H, 0x60);
        assert!(u.push_rx(b'z'));
        assert!(!u.push_rx(b'z'));
        assert_eq!(r(&mut u, reg::MIS), int::RX | int::RT);
    }

    #[test]
    fn loopback_sends_to_the_receiver() {
        let mut u = Pl011::new();
        linux_startup(&mut u);
        w(&mut u, reg::CR, 0x381);
        assert_eq!(w(&mut u, reg::DR, b'L'.into()), None);
        assert_eq!(r(&mut u, reg::DR), u32::from(b'L'));
    }

    #[test]
    fn sub_word_and_read_only_accesses() {
        let mut u = Pl011::new();
        u.write(reg::IBRD, 4, 0xdead_0013);
        assert_eq!(u.read(reg::IBRD, 4), 0x13, "UARTIBRD is 16 bits");
        assert_eq!(u.read(reg::IBRD + 1, 1), 0);
        u.write(reg::IMSC, 1, 0x1ff);
        assert_eq!(u.read(reg::IMSC, 4), 0xff);
        u.write(reg::IMSC + 1, 1, 0x7);
        assert_eq!(
            u.read(reg::IMSC, 4),
            0xff,
            "not a register's first byte: ignored"
        );
        assert_eq!(u.read(reg::IMSC, 8), 0xff);
        u.write(reg::RIS, 4, 0x7ff);
        u.write(reg::FR, 4, 0);
        u.write(reg::DMACR, 4, 7);
        assert_eq!(u.read(reg::RIS, 4), 0);
        assert_eq!(u.read(reg::DMACR, 4), 0);
        assert_ne!(u.read(reg::FR, 4), 0);
    }
}
