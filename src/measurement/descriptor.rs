//! Byte layouts hashed into the RIM: measurement descriptors and measured parameters.
//!
//! All multi-byte fields are little-endian; every byte not named here is zero ("Unused bits
//! ... MBZ", C1.11-C1.13; "zero-filled", B4.3.9.4 / B4.3.12.4).

use super::algorithm::StructHasher;
use super::{HashAlgorithm, Measurement, MEASUREMENT_SIZE};

/// Size of every measurement descriptor (C1.11-C1.13: 256 bytes).
pub const DESCRIPTOR_SIZE: usize = 0x100;

// Offsets shared by the three descriptors (C1.11-C1.13).
const DESC_TYPE: usize = 0x0;
const DESC_LEN: usize = 0x8;
const DESC_RIM: usize = 0x10;
// The first field after `rim` (0x10 + 64).
const DESC_BODY: usize = 0x50;

/// A descriptor with the common header: desc_type (Bits8 at 0x0), len (UInt64 at 0x8, the
/// descriptor length 0x100) and rim (512 bits at 0x10).
fn header(desc_type: u8, rim: &Measurement) -> [u8; DESCRIPTOR_SIZE] {
    let mut bytes = [0u8; DESCRIPTOR_SIZE];
    bytes[DESC_TYPE] = desc_type;
    put(
        &mut bytes,
        DESC_LEN,
        &(DESCRIPTOR_SIZE as u64).to_le_bytes(),
    );
    put(&mut bytes, DESC_RIM, rim.as_bytes());
    bytes
}

/// Writes `field` at the constant `offset`, within the descriptor (the tests' known RIMs say so).
fn put(bytes: &mut [u8; DESCRIPTOR_SIZE], offset: usize, field: &[u8]) {
    let end = offset.checked_add(field.len());
    let dst = end.and_then(|end| bytes.get_mut(offset..end));
    debug_assert!(dst.is_some(), "write past the end of a descriptor");
    if let Some(dst) = dst {
        dst.copy_from_slice(field);
    }
}

/// Spec C1.11 RmmMeasurementDescriptorData: the contribution of a DATA granule (B4.3.1.4).
///
/// | offset | field     | value                                          |
/// |--------|-----------|------------------------------------------------|
/// | 0x00   | desc_type | 0x0                                            |
/// | 0x08   | len       | 0x100                                          |
/// | 0x10   | rim       | current RIM (64 bytes)                         |
/// | 0x50   | ipa       | IPA of the DATA granule                        |
/// | 0x58   | flags     | RmiDataFlags as given by the Host              |
/// | 0x60   | content   | hash of the granule, or zero if not measured   |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasurementDescriptorData {
    /// Current RIM value.
    pub rim: Measurement,
    /// IPA at which the DATA granule is mapped.
    pub ipa: u64,
    /// Flags provided by the Host.
    pub flags: u64,
    /// Hash of the granule contents, or zero.
    pub content: Measurement,
}

impl MeasurementDescriptorData {
    /// desc_type value (C1.11).
    pub const DESC_TYPE: u8 = 0x0;

    /// The 256-byte encoding.
    pub fn to_bytes(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut bytes = header(Self::DESC_TYPE, &self.rim);
        put(&mut bytes, DESC_BODY, &self.ipa.to_le_bytes());
        put(&mut bytes, 0x58, &self.flags.to_le_bytes());
        put(&mut bytes, 0x60, self.content.as_bytes());
        bytes
    }
}

/// Spec C1.12 RmmMeasurementDescriptorRec: the contribution of a runnable REC (B4.3.12.4).
///
/// | offset | field     | value                                          |
/// |--------|-----------|------------------------------------------------|
/// | 0x00   | desc_type | 0x1                                            |
/// | 0x08   | len       | 0x100                                          |
/// | 0x10   | rim       | current RIM (64 bytes)                         |
/// | 0x50   | content   | hash of the measured RmiRecParams (64 bytes)   |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasurementDescriptorRec {
    /// Current RIM value.
    pub rim: Measurement,
    /// Hash of the 4 KiB measured REC parameters ([`MeasuredRecParams::hash`]).
    pub content: Measurement,
}

impl MeasurementDescriptorRec {
    /// desc_type value (C1.12).
    pub const DESC_TYPE: u8 = 0x1;

    /// The 256-byte encoding.
    pub fn to_bytes(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut bytes = header(Self::DESC_TYPE, &self.rim);
        put(&mut bytes, DESC_BODY, self.content.as_bytes());
        bytes
    }
}

/// Spec C1.13 RmmMeasurementDescriptorRipas: the contribution of one RTT entry's RIPAS
/// change (B4.3.18.4).
///
/// | offset | field     | value                                          |
/// |--------|-----------|------------------------------------------------|
/// | 0x00   | desc_type | 0x2                                            |
/// | 0x08   | len       | 0x100                                          |
/// | 0x10   | rim       | current RIM (64 bytes)                         |
/// | 0x50   | base      | IPA of the RTT entry                           |
/// | 0x58   | top       | Min(entry IPA + entry size, command top)       |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasurementDescriptorRipas {
    /// Current RIM value.
    pub rim: Measurement,
    /// Base IPA of the RIPAS change.
    pub base: u64,
    /// Top IPA of the RIPAS change.
    pub top: u64,
}

impl MeasurementDescriptorRipas {
    /// desc_type value (C1.13).
    pub const DESC_TYPE: u8 = 0x2;

    /// The 256-byte encoding.
    pub fn to_bytes(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut bytes = header(Self::DESC_TYPE, &self.rim);
        put(&mut bytes, DESC_BODY, &self.base.to_le_bytes());
        put(&mut bytes, 0x58, &self.top.to_le_bytes());
        bytes
    }
}

/// Size of the RmiRealmParams and RmiRecParams images that are hashed (B4.4.12, B4.4.19).
pub const PARAMS_SIZE: usize = 0x1000;

/// The RmiRealmParams attributes that form the initial RIM (B4.3.9.4), placed in an otherwise
/// zero 4 KiB RmiRealmParams image (B4.4.12) before hashing:
///
/// | offset | field        | width                       |
/// |--------|--------------|-----------------------------|
/// | 0x00   | flags        | 8 bytes (RmiRealmFlags)     |
/// | 0x08   | s2sz         | 1 byte (UInt8)              |
/// | 0x10   | sve_vl       | 1 byte (UInt8)              |
/// | 0x18   | num_bps      | 1 byte (UInt8)              |
/// | 0x20   | num_wps      | 1 byte (UInt8)              |
/// | 0x28   | pmu_num_ctrs | 1 byte (UInt8)              |
/// | 0x30   | hash_algo    | 1 byte (RmiHashAlgorithm)   |
///
/// rpv (0x400), vmid (0x800), rtt_base (0x808), rtt_level_start (0x810) and rtt_num_start
/// (0x818) are not measured: they are zero in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasuredRealmParams {
    /// flags (RmiRealmFlags, B4.4.11), as given by the Host.
    pub flags: u64,
    /// s2sz: requested IPA width.
    pub s2sz: u8,
    /// sve_vl: requested SVE vector length.
    pub sve_vl: u8,
    /// num_bps: number of breakpoints, minus one.
    pub num_bps: u8,
    /// num_wps: number of watchpoints, minus one.
    pub num_wps: u8,
    /// pmu_num_ctrs: requested number of PMU counters.
    pub pmu_num_ctrs: u8,
    /// hash_algo: measured as its RmiHashAlgorithm encoding, and also the RHA of the hash.
    pub hash_algo: HashAlgorithm,
}

impl MeasuredRealmParams {
    /// Hash of the 4 KiB measured image with the RHA `hash_algo` (B4.3.9.4 step 3).
    pub fn hash(&self) -> Measurement {
        let mut h = StructHasher::new(self.hash_algo);
        h.field(0x00, &self.flags.to_le_bytes());
        h.field(0x08, &[self.s2sz]);
        h.field(0x10, &[self.sve_vl]);
        h.field(0x18, &[self.num_bps]);
        h.field(0x20, &[self.num_wps]);
        h.field(0x28, &[self.pmu_num_ctrs]);
        h.field(0x30, &[self.hash_algo.to_rmi()]);
        h.finish(PARAMS_SIZE)
    }
}

/// The RmiRecParams attributes measured for a runnable REC (B4.3.12.4), placed in an
/// otherwise zero 4 KiB RmiRecParams image (B4.4.19) before hashing:
///
/// | offset      | field   | width                          |
/// |-------------|---------|--------------------------------|
/// | 0x000       | flags   | 8 bytes (RmiRecCreateFlags)    |
/// | 0x200       | pc      | 8 bytes                        |
/// | 0x300-0x33f | gprs    | 8 x 8 bytes (x0..x7)           |
///
/// mpidr (0x100), num_aux (0x800) and aux[] (0x808) are not measured: they are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasuredRecParams {
    /// flags (RmiRecCreateFlags, B4.4.13), as given by the Host.
    pub flags: u64,
    /// Program counter.
    pub pc: u64,
    /// x0..x7.
    pub gprs: [u64; 8],
}

impl MeasuredRecParams {
    /// Whether flags.runnable == RMI_RUNNABLE (B4.4.13 bit 0): only then is the RIM extended.
    pub const fn is_runnable(&self) -> bool {
        self.flags & 1 != 0
    }

    /// Hash of the 4 KiB measured image (B4.3.12.4 step 3).
    pub fn hash(&self, algo: HashAlgorithm) -> Measurement {
        let mut h = StructHasher::new(algo);
        h.field(0x000, &self.flags.to_le_bytes());
        h.field(0x200, &self.pc.to_le_bytes());
        for (gpr, offset) in self.gprs.iter().zip((0x300..).step_by(8)) {
            h.field(offset, &gpr.to_le_bytes());
        }
        h.finish(PARAMS_SIZE)
    }
}

// The descriptor fields end where the spec tables say (C1.11-C1.13).
const _: () = assert!(DESC_RIM + MEASUREMENT_SIZE == DESC_BODY);
const _: () = assert!(0x60 + MEASUREMENT_SIZE <= DESCRIPTOR_SIZE);
