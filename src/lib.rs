//! The Realm Management Monitor core (Arm CCA, RMM specification 1.0-REL0).
//!
//! This crate holds everything the RMM decides: the granule table, the RMI commands and their
//! dispatch. It contains no architecture code: whatever touches hardware (EL3 calls, memory
//! mappings, system registers) sits behind the [`Platform`] trait, implemented by `arch/` for
//! aarch64 and by `host` (feature `host`) for a simulated machine on the build host.
//!
//! Every atomic comes from [`sync`], so that the same source builds with loom's atomics under
//! `--cfg loom` for the models in `loom-tests/`.
//!
//! # Panic-free by lint
//!
//! No input from the host or a realm may panic the RMM: on hardware a panic halts the CPU.
//! Every module that handles such input is declared through `panic_free!` (below), which
//! denies unchecked arithmetic, indexing and slicing, `unwrap`, `expect`, `panic!`,
//! `unreachable!`, `todo!` and `unimplemented!` in it and all its children (outside tests):
//! arithmetic on an input is checked (an error with the spec's code) or wraps where the
//! architecture wraps, saying so; arithmetic bounded by the RMM's own invariants may
//! saturate, with the bound in a comment; lookups use `get` with an error path, iterators,
//! fixed-size arrays or `split_*`. `debug_assert!` stays for the RMM's own invariants (off in
//! the images). Covered: [`attestation`], [`granule`], [`measurement`], [`memory`], `monitor`,
//! [`percpu`], [`psci`], [`realm`], [`rec`], [`rmi`], [`rsi`], [`rtt`], [`smccc`], `trace`.
//! Not covered: [`platform`] (the trait and its types), [`spinlock`] and [`sync`] (primitives
//! that see no input), the host platform and the audit (test machinery).
//!
//! An operation that provably cannot fail and that the compiler cannot see through gets
//! `#[allow(clippy::...)]` on the smallest item, with a comment saying why it cannot fail (or
//! why halting is right). Seven, kept so: the decode of a granule word's state and of an RTT
//! entry (memory only the RMM writes: a bad value is a corrupt table), an RTT entry's word
//! (every index is 9 bits or below the table's entries), the RMI command table (checked at
//! compile time), REC_CREATE's REC guard, and the CPU index in `Rmm::handle_rmi` and
//! `Rmm::cpu` (the platform's own). `clippy.toml` exempts P-384's modular point and scalar
//! arithmetic.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "host")]
extern crate std;

/// Declares modules panic-free by lint (see the crate documentation).
macro_rules! panic_free {
    ($($(#[$attr:meta])* $vis:vis mod $name:ident;)+) => {$(
        $(#[$attr])*
        #[cfg_attr(not(test), deny(
            clippy::arithmetic_side_effects,
            clippy::indexing_slicing,
            clippy::unwrap_used,
            clippy::expect_used,
            clippy::panic,
            clippy::unreachable,
            clippy::todo,
            clippy::unimplemented,
        ))]
        $vis mod $name;
    )+};
}

#[cfg(all(feature = "audit", not(loom)))]
pub mod audit;
#[cfg(feature = "host")]
pub mod host;
pub mod platform;
pub mod spinlock;
pub mod sync;

// Every path that handles host or realm input.
panic_free! {
    pub mod attestation;
    pub mod granule;
    pub mod measurement;
    pub mod memory;
    mod monitor;
    pub mod percpu;
    pub mod psci;
    pub mod realm;
    pub mod rec;
    pub mod rmi;
    pub mod rsi;
    pub mod rtt;
    pub mod smccc;
    mod trace;
}

pub use monitor::Rmm;
pub use platform::Platform;

/// Size of a granule: the unit of physical memory the RMM tracks (spec A2.2).
pub const GRANULE_SIZE: u64 = 4096;
/// log2 of [`GRANULE_SIZE`].
pub const GRANULE_SHIFT: u32 = 12;
