//! The QEMU test firmware's instruction accounting, for the REC enter/exit measurements
//! (`scripts/perf`): SiP calls (SMC64, OEN 2) the Normal world makes to EL3. Test firmware only;
//! TF-A knows none of them.
//!
//! Under `qemu -icount shift=0` one instruction takes one nanosecond of virtual time and the
//! generic timer runs at 1 GHz, so a CNTPCT_EL0 delta counts instructions. On every exception
//! it takes from a lower EL, the firmware reads the counter first thing in its handler and
//! again just before returning, and keeps per CPU:
//!
//! - `el3`: instructions in its handlers (both worlds' SMCs, the EL2 register switch included),
//!   outside [`PERF_NULL`];
//! - `realm`: instructions from each return to the Realm world to the next exception from it
//!   (the RMM, what it runs at R-EL1 and EL3's own exception entry and return code for R-EL2);
//! - `null`: instructions in [`PERF_NULL`]'s handler;
//! - `null_calls`: the number of [`PERF_NULL`] calls.
//!
//! The host subtracts what the realm reports of its own time, and the cost of EL3's exception
//! entry and return code (one [`PERF_NULL`] round trip less its handler), from `realm` to get the
//! RMM's share.

/// Zeroes this CPU's counters. Returns x0 = 0.
pub const PERF_RESET: u64 = 0xC200_FF00;
/// Reads this CPU's counters: x0 = 0, x1 = `el3`, x2 = `realm`, x3 = `null`, x4 =
/// `null_calls`.
pub const PERF_READ: u64 = 0xC200_FF01;
/// Does nothing. Returns x0 = 0.
pub const PERF_NULL: u64 = 0xC200_FF02;

/// The fw_cfg file that selects the test host's mode, and its value for the perf mode.
pub const TEST_HOST_MODE_FILE: &[u8] = b"opt/rmm/test-host";
/// See [`TEST_HOST_MODE_FILE`].
pub const TEST_HOST_MODE_PERF: &[u8] = b"perf";
