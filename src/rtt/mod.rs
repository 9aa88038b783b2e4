//! Realm Translation Tables: stage-2 tables in the Armv8 descriptor format (spec A5.5).
//!
//! Pure functions on descriptors and addresses, and the walker that reads and writes RTT
//! memory ([`walk`](self::lock_table): its module documentation is the concurrency design).
//!
//! - [`Level`], [`RttConfig`]: per-level address arithmetic and a realm's stage-2 shape
//!   (IPA width, starting level, concatenated starting-level RTTs, descriptor format; B3.55
//!   RttConfigIsValid).
//! - [`RttFormat`]: the descriptor format, without LPA2 or with it (A3.1.2).
//! - [`RttEntry`]: one descriptor, with the bit layout of every entry state (A5.5.4), the
//!   host descriptor check for RMI_RTT_MAP_UNPROTECTED (B3.56) and the RMI_RTT_READ_ENTRY
//!   outputs (B4.3.20).
//! - [`RttEntryState`], [`Ripas`], [`Hipas`]: the states and their RMI encodings.
//! - [`rtt_fold`], [`unfold_entry`], [`rtt_is_live`]: whole-RTT logic (A5.5.6 to A5.5.8).
//!
//! Scope: 4 KiB granules, HCR_EL2.FWB = 1; levels 0 to 3 and IPA widths 32 to 48 bits, and with
//! LPA2 levels -1 to 3, IPA widths up to 52 bits and output addresses up to 2^52.

mod config;
mod entry;
mod format;
mod geometry;
mod state;
mod table;
mod walk;

#[cfg(all(test, not(loom)))]
mod entry_layout_tests;
#[cfg(all(test, not(loom)))]
mod entry_tests;

pub use config::{
    rtt_config_is_valid, RttConfig, RttConfigError, MAX_IPA_WIDTH, MAX_IPA_WIDTH_LPA2,
    MAX_START_RTTS, MIN_IPA_WIDTH, MIN_PA_WIDTH_FOR_LEVEL0_START,
};
pub use entry::{
    desc_is_valid_for_unprotected, unprotected_desc_addr, ReadEntry, RttEntry, UnknownDescriptor,
};
pub use format::RttFormat;
pub use geometry::{
    addr_is_rtt_level_aligned, Level, LEVEL_MINUS_1_STRIDE, RTT_ENTRIES, RTT_STRIDE,
};
pub use state::{Hipas, Ripas, RmiRttEntryState, RttEntryState};
pub use table::{
    rtt_all_entries_contiguous, rtt_all_entries_ripas, rtt_all_entries_state, rtt_fold,
    rtt_is_homogeneous, rtt_is_live, unfold_entry,
};
pub use walk::{lock_table, read_entry, write_entry, LockedTable, RttTree, WalkResult};
