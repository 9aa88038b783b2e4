//! Measurement tests: expected values built by hand from the spec layouts.

use super::*;
use sha2::{Digest, Sha256, Sha512};

const SHA256: HashAlgorithm = HashAlgorithm::Sha256;
const SHA512: HashAlgorithm = HashAlgorithm::Sha512;

/// Hash with sha2 directly, zero padded to 64 bytes.
fn sha(algo: HashAlgorithm, bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    match algo {
        HashAlgorithm::Sha256 => out[..32].copy_from_slice(&Sha256::digest(bytes)),
        HashAlgorithm::Sha512 => out.copy_from_slice(&Sha512::digest(bytes)),
    }
    out
}

fn put(buf: &mut [u8], offset: usize, bytes: &[u8]) {
    buf[offset..offset + bytes.len()].copy_from_slice(bytes);
}

fn put64(buf: &mut [u8], offset: usize, value: u64) {
    put(buf, offset, &value.to_le_bytes());
}

/// A 64-byte value from hex, zero padded.
fn from_hex(hex: &str) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let text = core::str::from_utf8(pair).unwrap();
        out[i] = u8::from_str_radix(text, 16).unwrap();
    }
    out
}

fn realm_params(hash_algo: HashAlgorithm) -> MeasuredRealmParams {
    MeasuredRealmParams {
        flags: 0b110,
        s2sz: 48,
        sve_vl: 3,
        num_bps: 5,
        num_wps: 3,
        pmu_num_ctrs: 8,
        hash_algo,
    }
}

fn rec_params() -> MeasuredRecParams {
    let mut gprs = [0u64; 8];
    for (i, gpr) in gprs.iter_mut().enumerate() {
        *gpr = 0x100 + i as u64;
    }
    MeasuredRecParams {
        flags: 1,
        pc: 0x8000_0000,
        gprs,
    }
}

fn page() -> [u8; GRANULE_BYTES] {
    let mut data = [0u8; GRANULE_BYTES];
    for (i, byte) in data.iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    data
}

/// A non-trivial starting RIM for `algo` (zero past the digest).
fn some_rim(algo: HashAlgorithm) -> Measurement {
    Measurement::from_bytes(sha(algo, b"some rim"))
}

#[test]
fn hash_algorithm_decoding() {
    assert_eq!(HashAlgorithm::from_rmi(0), Some(SHA256));
    assert_eq!(HashAlgorithm::from_rmi(1), Some(SHA512));
    for reserved in [2u8, 3, 0x7f, 0x80, 0xff] {
        assert_eq!(HashAlgorithm::from_rmi(reserved), None);
    }
    assert_eq!((SHA256.to_rmi(), SHA512.to_rmi()), (0, 1));
    assert_eq!((SHA256.to_rsi(), SHA512.to_rsi()), (0, 1));
    assert_eq!((SHA256.digest_len(), SHA512.digest_len()), (32, 64));
}

#[test]
fn measurement_words_are_little_endian() {
    let mut bytes = [0u8; 64];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = i as u8;
    }
    let m = Measurement::from_bytes(bytes);
    let words = m.to_words();
    assert_eq!(words[0], 0x0706_0504_0302_0100);
    assert_eq!(words[7], 0x3f3e_3d3c_3b3a_3938);
    assert_eq!(Measurement::from_words(words), m);
    assert_eq!(m.digest(SHA256), &bytes[..32]);
    assert_eq!(m.digest(SHA512), &bytes[..]);
    assert_eq!(Measurement::default(), Measurement::ZERO);
}

/// B4.3.9.4: the seven attributes at their B4.4.12 offsets, in a zeroed 4 KiB image.
fn expected_rim_init(params: &MeasuredRealmParams) -> [u8; 64] {
    let mut image = [0u8; 4096];
    put64(&mut image, 0x00, params.flags);
    image[0x08] = params.s2sz;
    image[0x10] = params.sve_vl;
    image[0x18] = params.num_bps;
    image[0x20] = params.num_wps;
    image[0x28] = params.pmu_num_ctrs;
    image[0x30] = params.hash_algo.to_rmi();
    sha(params.hash_algo, &image)
}

#[test]
fn rim_init_sha256_and_sha512() {
    for algo in [SHA256, SHA512] {
        let params = realm_params(algo);
        let rim = rim_init(&params);
        assert_eq!(rim.as_bytes(), &expected_rim_init(&params));
    }
    // Each field lands at its own offset: moving a value between fields changes the RIM.
    let a = realm_params(SHA256);
    let b = MeasuredRealmParams {
        num_bps: a.num_wps,
        num_wps: a.num_bps,
        ..a
    };
    assert_ne!(rim_init(&a), rim_init(&b));
    assert_eq!(rim_init(&b).as_bytes(), &expected_rim_init(&b));
}

#[test]
fn rim_init_sha256_upper_bytes_zero() {
    let rim = rim_init(&realm_params(SHA256));
    assert!(rim.as_bytes()[32..].iter().all(|&b| b == 0));
    assert!(rim.as_bytes()[..32].iter().any(|&b| b != 0));
}

/// C1.11 built by hand.
fn expected_data(
    algo: HashAlgorithm,
    rim: &Measurement,
    ipa: u64,
    flags: u64,
    content: [u8; 64],
) -> [u8; 64] {
    let mut desc = [0u8; 256];
    desc[0] = 0;
    put64(&mut desc, 0x08, 0x100);
    put(&mut desc, 0x10, rim.as_bytes());
    put64(&mut desc, 0x50, ipa);
    put64(&mut desc, 0x58, flags);
    put(&mut desc, 0x60, &content);
    sha(algo, &desc)
}

#[test]
fn data_measured_sha256() {
    let data = page();
    let old = some_rim(SHA256);
    let mut rim = old;
    rim_extend_data(SHA256, &mut rim, 0x4000_1000, 1, &data);
    let content = sha(SHA256, &data);
    assert_eq!(
        rim.as_bytes(),
        &expected_data(SHA256, &old, 0x4000_1000, 1, content)
    );
}

#[test]
fn data_unmeasured_sha512() {
    let data = page();
    let old = some_rim(SHA512);
    let mut rim = old;
    rim_extend_data(SHA512, &mut rim, 0x2000, 0, &data);
    assert_eq!(
        rim.as_bytes(),
        &expected_data(SHA512, &old, 0x2000, 0, [0; 64])
    );
    // Unmeasured: the contents do not matter.
    let mut other = old;
    rim_extend_data(SHA512, &mut other, 0x2000, 0, &[0xaa; GRANULE_BYTES]);
    assert_eq!(other, rim);
}

#[test]
fn data_measured_sha512_and_flags_recorded_as_given() {
    let data = page();
    let old = some_rim(SHA512);
    let mut rim = old;
    rim_extend_data(SHA512, &mut rim, 0x3000, 1, &data);
    let content = sha(SHA512, &data);
    assert_eq!(
        rim.as_bytes(),
        &expected_data(SHA512, &old, 0x3000, 1, content)
    );
    // measure is bit 0 only; the descriptor keeps the Host's flags word as given.
    let mut odd = old;
    rim_extend_data(SHA512, &mut odd, 0x3000, 0b11, &data);
    assert_eq!(
        odd.as_bytes(),
        &expected_data(SHA512, &old, 0x3000, 0b11, content)
    );
    let mut not_measured = old;
    rim_extend_data(SHA512, &mut not_measured, 0x3000, 0b10, &data);
    assert_eq!(
        not_measured.as_bytes(),
        &expected_data(SHA512, &old, 0x3000, 0b10, [0; 64])
    );
}

/// C1.12 built by hand, content = hash of the B4.4.19 image with flags, pc, gprs only.
fn expected_rec(algo: HashAlgorithm, rim: &Measurement, params: &MeasuredRecParams) -> [u8; 64] {
    let mut image = [0u8; 4096];
    put64(&mut image, 0x000, params.flags);
    put64(&mut image, 0x200, params.pc);
    for (i, gpr) in params.gprs.iter().enumerate() {
        put64(&mut image, 0x300 + 8 * i, *gpr);
    }
    let mut desc = [0u8; 256];
    desc[0] = 1;
    put64(&mut desc, 0x08, 0x100);
    put(&mut desc, 0x10, rim.as_bytes());
    put(&mut desc, 0x50, &sha(algo, &image));
    sha(algo, &desc)
}

#[test]
fn rec_extension() {
    let params = rec_params();
    assert!(params.is_runnable());
    assert!(!MeasuredRecParams { flags: 0, ..params }.is_runnable());
    for algo in [SHA256, SHA512] {
        let old = some_rim(algo);
        let mut rim = old;
        rim_extend_rec(algo, &mut rim, &params);
        assert_eq!(rim.as_bytes(), &expected_rec(algo, &old, &params));
    }
    // gprs[7] is measured (last slot, 0x338).
    let mut changed = params;
    changed.gprs[7] ^= 1;
    let (mut a, mut b) = (some_rim(SHA256), some_rim(SHA256));
    rim_extend_rec(SHA256, &mut a, &params);
    rim_extend_rec(SHA256, &mut b, &changed);
    assert_ne!(a, b);
}

/// C1.13 built by hand.
fn expected_ripas(algo: HashAlgorithm, rim: &Measurement, base: u64, top: u64) -> Measurement {
    let mut desc = [0u8; 256];
    desc[0] = 2;
    put64(&mut desc, 0x08, 0x100);
    put(&mut desc, 0x10, rim.as_bytes());
    put64(&mut desc, 0x50, base);
    put64(&mut desc, 0x58, top);
    Measurement::from_bytes(sha(algo, &desc))
}

#[test]
fn ripas_one_extension_per_entry() {
    for algo in [SHA256, SHA512] {
        let old = some_rim(algo);
        let mut rim = old;
        rim_extend_ripas(algo, &mut rim, 0x10_0000, 0x10_3000, 3).unwrap();
        let mut expected = old;
        for base in [0x10_0000u64, 0x10_1000, 0x10_2000] {
            expected = expected_ripas(algo, &expected, base, base + 0x1000);
        }
        assert_eq!(rim, expected);
    }
}

#[test]
fn ripas_block_entries_and_top_clamp() {
    // Two level-2 (2 MiB) entries.
    let old = some_rim(SHA256);
    let mut rim = old;
    rim_extend_ripas(SHA256, &mut rim, 0x20_0000, 0x60_0000, 2).unwrap();
    let first = expected_ripas(SHA256, &old, 0x20_0000, 0x40_0000);
    assert_eq!(rim, expected_ripas(SHA256, &first, 0x40_0000, 0x60_0000));
    // top = Min(ipa + size, top) for a single entry.
    let mut rim = old;
    rim_extend_ripas_for_entry(SHA256, &mut rim, 0x20_0000, 2, 0x30_0000).unwrap();
    assert_eq!(rim, expected_ripas(SHA256, &old, 0x20_0000, 0x30_0000));
    // An empty range does not extend.
    let mut rim = old;
    rim_extend_ripas(SHA256, &mut rim, 0x5000, 0x5000, 3).unwrap();
    assert_eq!(rim, old);
}

#[test]
fn ripas_invalid_level() {
    let old = some_rim(SHA512);
    let mut rim = old;
    for level in [-2i64, 4, i64::MIN, i64::MAX] {
        let err = rim_extend_ripas(SHA512, &mut rim, 0, 0x1000, level);
        assert_eq!(err, Err(MeasurementError::InvalidRttLevel));
        let err = rim_extend_ripas_for_entry(SHA512, &mut rim, 0, level, 0x1000);
        assert_eq!(err, Err(MeasurementError::InvalidRttLevel));
    }
    assert_eq!(rim, old);
    assert_eq!(rtt_level_size(3), Some(0x1000));
    assert_eq!(rtt_level_size(2), Some(0x20_0000));
    assert_eq!(rtt_level_size(1), Some(0x4000_0000));
    assert_eq!(rtt_level_size(0), Some(1 << 39));
    assert_eq!(rtt_level_size(-1), Some(1 << 48));
}

#[test]
fn ripas_near_top_of_address_space() {
    let mut rim = some_rim(SHA256);
    let base = u64::MAX - 0xfff;
    rim_extend_ripas(SHA256, &mut rim, base, u64::MAX, 3).unwrap();
    assert_eq!(
        rim,
        expected_ripas(SHA256, &some_rim(SHA256), base, u64::MAX)
    );
}

#[test]
fn rem_extend_sha256_partial_value() {
    let mut bytes = [0u8; 64];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = 0xc0 | i as u8;
    }
    let value = Measurement::from_bytes(bytes);
    let old = some_rim(SHA256);
    let mut rem = old;
    rem_extend(SHA256, &mut rem, &value, 20).unwrap();
    let mut input = [0u8; 128];
    put(&mut input, 0, old.as_bytes());
    put(&mut input, 64, &bytes[..20]);
    assert_eq!(rem.as_bytes(), &sha(SHA256, &input));
}

#[test]
fn rem_extend_sha512_full_and_empty() {
    let value = Measurement::from_bytes([0x5a; 64]);
    let old = some_rim(SHA512);
    let mut rem = old;
    rem_extend(SHA512, &mut rem, &value, 64).unwrap();
    let mut input = [0x5a; 128];
    put(&mut input, 0, old.as_bytes());
    assert_eq!(rem.as_bytes(), &sha(SHA512, &input));

    let mut rem = Measurement::ZERO;
    rem_extend(SHA512, &mut rem, &value, 0).unwrap();
    assert_eq!(rem.as_bytes(), &sha(SHA512, &[0u8; 128]));
}

#[test]
fn rem_extend_rejects_oversize() {
    let old = some_rim(SHA256);
    let mut rem = old;
    for size in [65u64, 4096, u64::MAX] {
        let err = rem_extend(SHA256, &mut rem, &Measurement::ZERO, size);
        assert_eq!(err, Err(MeasurementError::InvalidSize));
    }
    assert_eq!(rem, old);
}

#[test]
fn descriptor_encodings() {
    let rim = Measurement::from_bytes([0x11; 64]);
    let content = Measurement::from_bytes([0x22; 64]);
    let data = MeasurementDescriptorData {
        rim,
        ipa: 0x0102_0304_0506_0708,
        flags: 1,
        content,
    }
    .to_bytes();
    assert_eq!(data.len(), 0x100);
    assert_eq!(
        &data[..16],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(&data[0x10..0x50], &[0x11; 64]);
    assert_eq!(&data[0x50..0x58], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&data[0x58..0x60], &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&data[0x60..0xa0], &[0x22; 64]);
    assert!(data[0xa0..].iter().all(|&b| b == 0));

    let rec = MeasurementDescriptorRec { rim, content }.to_bytes();
    assert_eq!(rec[0], 1);
    assert_eq!(&rec[0x50..0x90], &[0x22; 64]);
    assert!(rec[0x90..].iter().all(|&b| b == 0));

    let ripas = MeasurementDescriptorRipas {
        rim,
        base: 0x1000,
        top: 0x2000,
    }
    .to_bytes();
    assert_eq!(ripas[0], 2);
    assert_eq!(&ripas[8..16], &[0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        &ripas[0x50..0x60],
        &[0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0]
    );
    assert!(ripas[0x60..].iter().all(|&b| b == 0));
}

/// A whole construction sequence, against digests computed outside Rust (Python hashlib)
/// from the same layouts: realm create, INIT_RIPAS of 3 pages, one measured DATA, one REC.
#[test]
fn construction_sequence_known_answers() {
    let cases = [
        (
            SHA256,
            "89f36c256950a0d316c551aae9a9eb32d04bf2f12bb3dff58d6c064c1beafb2a",
            "1e201a56128877046a9a33aaea4818ea5f5cd452ebed09954dd88ed2b6144782",
        ),
        (
            SHA512,
            "f9cbf9f695bbe1d45071ce349401ca0e641587f64cf5ca9fed430f245078fe1b\
             f838508204b30e8c7e7390999e52ac1be0732066143979d9207a580e95055a93",
            "c7e7b8dcb305ea5c8205a36b10511194f652a6fdc00a13fb42bada81e2ac1c20\
             919fc73d21aa4bb15b4fabc6f5af68f86c1d5e989af205f29e5e018bea846672",
        ),
    ];
    for (algo, init, last) in cases {
        let mut rim = rim_init(&realm_params(algo));
        assert_eq!(rim.as_bytes(), &from_hex(init));
        rim_extend_ripas(algo, &mut rim, 0, 0x3000, 3).unwrap();
        rim_extend_data(algo, &mut rim, 0x1000, 1, &page());
        rim_extend_rec(algo, &mut rim, &rec_params());
        assert_eq!(rim.as_bytes(), &from_hex(last));
    }
    let mut rem = Measurement::ZERO;
    let mut value = [0u8; 64];
    for (i, byte) in value.iter_mut().enumerate() {
        *byte = i as u8;
    }
    rem_extend(SHA256, &mut rem, &Measurement::from_bytes(value), 33).unwrap();
    assert_eq!(
        rem.as_bytes(),
        &from_hex("87dc235d61e9647aa5453c596567ae50ef38ab71bcfff4913dc37a6b1fd41093")
    );
}
