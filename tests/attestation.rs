//! The CCA attestation token (spec A7.2): decoded with ciborium, every claim checked, both
//! signatures verified, and interrupted / resumed signing compared with one-shot signing.

mod common;

use ciborium::Value;
use common::claims::Inputs;
use p384::ecdsa::signature::hazmat::PrehashSigner;
use p384::ecdsa::signature::{Signer, Verifier};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use rmm::attestation::{
    self, AttestationIdentity, AttestationOp, ByteStore, CopyError, GranuleBytes, IdentityError,
    Progress, RealmAttestationKey, StateError, TokenSigner, MAX_POINT_OPS_PER_STEP, OP_STATE_SIZE,
    SIGN_STEPS, TOKEN_BUFFER_SIZE,
};
use rmm::host::attest::{self as test_attest, TEST_RAK};
use rmm::measurement::HashAlgorithm;
use rmm::platform::GranuleMemory;
use rmm::sync::MemoryWord;
use sha2::{Digest, Sha256, Sha384};

fn identity() -> AttestationIdentity {
    test_attest::test_identity()
}

fn decode(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).expect("valid CBOR")
}

fn map_get(map: &Value, key: i128) -> &Value {
    let Value::Map(entries) = map else {
        panic!("not a map: {map:?}")
    };
    let found: Vec<_> = entries
        .iter()
        .filter(|(k, _)| k.as_integer().map(i128::from) == Some(key))
        .collect();
    assert_eq!(found.len(), 1, "key {key} once in {map:?}");
    &found[0].1
}

fn bytes(v: &Value) -> &[u8] {
    v.as_bytes().unwrap_or_else(|| panic!("not bytes: {v:?}"))
}

fn text(v: &Value) -> &str {
    v.as_text().unwrap_or_else(|| panic!("not text: {v:?}"))
}

/// The CBOR encoding of the COSE Sig_structure for a Sign1 (RFC 9052 §4.4).
fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let v = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.to_vec()),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).unwrap();
    out
}

/// A decoded COSE_Sign1_Tagged: (protected bytes, payload bytes, signature).
fn sign1(token: &[u8]) -> (Vec<u8>, Vec<u8>, Signature) {
    let Value::Tag(18, inner) = decode(token) else {
        panic!("not tag 18")
    };
    let Value::Array(items) = *inner else {
        panic!("not an array")
    };
    assert_eq!(items.len(), 4);
    let protected = bytes(&items[0]).to_vec();
    assert_eq!(
        decode(&protected),
        Value::Map(vec![(
            Value::Integer(1.into()),
            Value::Integer((-35).into())
        )]),
        "protected header {{1: -35}} (ES384)"
    );
    assert_eq!(items[1], Value::Map(vec![]));
    let signature = Signature::from_slice(bytes(&items[3])).expect("r || s, 96 bytes");
    (protected, bytes(&items[2]).to_vec(), signature)
}

/// The (platform, realm) tokens of a CCA token, checking the collection's shape.
fn split(token: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let Value::Tag(399, collection) = decode(token) else {
        panic!("not tag 399")
    };
    let Value::Map(entries) = &*collection else {
        panic!("collection is not a map")
    };
    assert_eq!(entries.len(), 2);
    (
        bytes(map_get(&collection, 44234)).to_vec(),
        bytes(map_get(&collection, 44241)).to_vec(),
    )
}

fn rak_from_claim(claim: &[u8]) -> VerifyingKey {
    let key = decode(claim);
    assert_eq!(map_get(&key, 1), &Value::Integer(2.into()), "kty EC2");
    assert_eq!(map_get(&key, -1), &Value::Integer(2.into()), "crv P-384");
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(bytes(map_get(&key, -2)));
    sec1.extend_from_slice(bytes(map_get(&key, -3)));
    assert_eq!(sec1.len(), 97);
    VerifyingKey::from_sec1_bytes(&sec1).expect("a P-384 point")
}

fn check_token(token: &[u8], inputs: &Inputs, algo: HashAlgorithm) {
    let (platform, realm) = split(token);
    assert_eq!(platform, identity().platform_token());

    let (protected, payload, signature) = sign1(&realm);
    let claims = decode(&payload);
    let Value::Map(entries) = &claims else {
        panic!("claims are not a map")
    };
    assert_eq!(entries.len(), 8);
    let n = algo.digest_len();
    assert_eq!(bytes(map_get(&claims, 10)), inputs.challenge);
    assert_eq!(text(map_get(&claims, 265)), "tag:arm.com,2023:realm#1.0.0");
    assert_eq!(bytes(map_get(&claims, 44235)), inputs.rpv);
    assert_eq!(bytes(map_get(&claims, 44238)), &inputs.rim.as_bytes()[..n]);
    let Value::Array(rems) = map_get(&claims, 44239) else {
        panic!("REMs are not an array")
    };
    assert_eq!(rems.len(), 4);
    for (got, want) in rems.iter().zip(&inputs.rems) {
        assert_eq!(bytes(got), &want.as_bytes()[..n]);
    }
    let name = match algo {
        HashAlgorithm::Sha256 => "sha-256",
        HashAlgorithm::Sha512 => "sha-512",
    };
    assert_eq!(text(map_get(&claims, 44236)), name);
    assert_eq!(text(map_get(&claims, 44240)), "sha-256");

    // The realm token verifies with the key it carries, and that key is the RAK.
    let rak_claim = bytes(map_get(&claims, 44237));
    let rak = rak_from_claim(rak_claim);
    let to_sign = sig_structure(&protected, &payload);
    rak.verify(&to_sign, &signature)
        .expect("realm token signature");
    let expected_rak = SigningKey::from_slice(&TEST_RAK).unwrap();
    assert_eq!(&rak, expected_rak.verifying_key());
    // Deterministic ECDSA: the very signature p384 itself gives.
    let direct: Signature = expected_rak.sign(&to_sign);
    assert_eq!(direct, signature);

    // The platform token verifies with the IAK and binds the RAK: challenge = SHA-256(claim).
    let (p_protected, p_payload, p_signature) = sign1(&platform);
    test_attest::platform_verifying_key()
        .verify(&sig_structure(&p_protected, &p_payload), &p_signature)
        .expect("platform token signature");
    let p_claims = decode(&p_payload);
    assert_eq!(
        bytes(map_get(&p_claims, 10)),
        Sha256::digest(rak_claim).as_slice()
    );
}

#[test]
fn token_claims_and_signatures_sha256() {
    let inputs = Inputs::new(1);
    let token = attestation::token(&identity(), &inputs.claims(HashAlgorithm::Sha256)).unwrap();
    check_token(&token, &inputs, HashAlgorithm::Sha256);
}

#[test]
fn token_claims_and_signatures_sha512() {
    let inputs = Inputs::new(2);
    let token = attestation::token(&identity(), &inputs.claims(HashAlgorithm::Sha512)).unwrap();
    check_token(&token, &inputs, HashAlgorithm::Sha512);
}

#[test]
fn platform_token_has_every_cca_platform_claim() {
    let (_, _, _) = sign1(identity().platform_token());
    let (_, payload, _) = sign1(identity().platform_token());
    let claims = decode(&payload);
    assert_eq!(
        text(map_get(&claims, 265)),
        "tag:arm.com,2023:cca_platform#1.0.0"
    );
    assert_eq!(bytes(map_get(&claims, 10)).len(), 32);
    assert_eq!(bytes(map_get(&claims, 2396)).len(), 32);
    let instance = bytes(map_get(&claims, 256));
    assert_eq!((instance.len(), instance[0]), (33, 0x01));
    assert!(!bytes(map_get(&claims, 2401)).is_empty());
    assert_eq!(map_get(&claims, 2395), &Value::Integer(0x3000.into()));
    let Value::Array(components) = map_get(&claims, 2399) else {
        panic!("sw components")
    };
    assert!(!components.is_empty());
    for c in components {
        assert_eq!(bytes(map_get(c, 2)).len(), 32);
        assert_eq!(bytes(map_get(c, 5)).len(), 32);
    }
    assert!(text(map_get(&claims, 2400)).starts_with("https://"));
    assert_eq!(text(map_get(&claims, 2402)), "sha-256");
}

fn granule() -> Box<GranuleMemory> {
    Box::new(core::array::from_fn(|_| MemoryWord::new(0)))
}

/// Scratch bytes copied to a fresh granule: the state as another CPU would find it.
fn move_to_new_granule(scratch: &GranuleMemory) -> Box<GranuleMemory> {
    let copy = granule();
    for (to, from) in copy.iter().zip(scratch.iter()) {
        to.store(
            from.load(rmm::sync::Ordering::Relaxed),
            rmm::sync::Ordering::Relaxed,
        );
    }
    copy
}

/// INIT, then CONTINUE with an interrupt after every signing step and the state saved to and
/// reloaded from a fresh scratch granule each time, then copied out `chunk` bytes per call
/// into "granules" of 4096 bytes. Returns the token and the number of signing calls.
fn interrupted_token(inputs: &Inputs, algo: HashAlgorithm, chunk: usize) -> (Vec<u8>, usize) {
    let identity = identity();
    let (t0, t1) = (granule(), granule());
    let token_granules = [&*t0, &*t1];
    let mut token = GranuleBytes::new(&token_granules);
    let mut scratch = granule();

    let op = AttestationOp::init(&mut token, &identity, &inputs.claims(algo)).unwrap();
    let size = op.token_len();
    op.save(&mut GranuleBytes::new(&[&*scratch])).unwrap();

    let mut out = vec![0u8; size.div_ceil(4096) * 4096];
    let (mut granule_at, mut offset, mut calls) = (0usize, 0usize, 0usize);
    loop {
        scratch = move_to_new_granule(&scratch);
        let mut op = AttestationOp::load(&GranuleBytes::new(&[&*scratch]))
            .unwrap()
            .expect("an operation in progress");
        let mut checks = 0;
        let progress = op.sign(&mut token, &identity, || {
            checks += 1;
            true
        });
        if progress.unwrap() == Progress::Pending {
            calls += 1;
            assert_eq!(checks, 1, "one step per call when always interrupted");
            assert!(op.signer().last_step_ops() <= MAX_POINT_OPS_PER_STEP);
            op.save(&mut GranuleBytes::new(&[&*scratch])).unwrap();
            continue;
        }
        let size_now = chunk.min(4096 - offset);
        let dst = granule_at + offset;
        let len = op
            .copy_out(&token, size_now, |off, bytes| {
                out[dst + off..dst + off + bytes.len()].copy_from_slice(bytes);
                Ok::<(), ()>(())
            })
            .unwrap();
        offset += len;
        if op.is_complete() {
            AttestationOp::clear(&mut GranuleBytes::new(&[&*scratch])).unwrap();
            assert!(AttestationOp::load(&GranuleBytes::new(&[&*scratch]))
                .unwrap()
                .is_none());
            break;
        }
        op.save(&mut GranuleBytes::new(&[&*scratch])).unwrap();
        if offset == 4096 {
            granule_at += 4096;
            offset = 0;
        }
    }
    out.truncate(size);
    (out, calls + 1)
}

#[test]
fn interrupted_and_resumed_elsewhere_gives_the_same_token() {
    let inputs = Inputs::new(3);
    for (algo, chunk) in [(HashAlgorithm::Sha256, 4096), (HashAlgorithm::Sha512, 100)] {
        let whole = attestation::token(&identity(), &inputs.claims(algo)).unwrap();
        let (token, signing_calls) = interrupted_token(&inputs, algo, chunk);
        assert_eq!(token, whole);
        assert_eq!(signing_calls, SIGN_STEPS);
        check_token(&token, &inputs, algo);
    }
}

#[test]
fn signer_steps_are_bounded_and_match_p384() {
    let key = RealmAttestationKey::from_scalar_bytes(&TEST_RAK).unwrap();
    let reference = SigningKey::from_slice(&TEST_RAK).unwrap();
    for seed in 0..3u8 {
        let digest: [u8; 48] = Sha384::digest([seed; 10]).into();
        let mut signer = TokenSigner::new(&key, &digest);
        let mut steps = 0;
        while signer.step(&key) == Progress::Pending {
            steps += 1;
            assert!(signer.last_step_ops() <= MAX_POINT_OPS_PER_STEP);
            assert!(steps < SIGN_STEPS);
        }
        assert_eq!(steps + 1, SIGN_STEPS);
        let want: Signature = reference.sign_prehash(&digest).unwrap();
        assert_eq!(
            signer.signature().unwrap(),
            &<[u8; 96]>::from(want.to_bytes())
        );
        assert_eq!(signer.step(&key), Progress::Done);
    }
}

#[test]
fn corrupt_saved_state_is_refused_without_panicking() {
    let inputs = Inputs::new(4);
    let mut token = vec![0u8; TOKEN_BUFFER_SIZE];
    let op = AttestationOp::init(
        &mut token[..],
        &identity(),
        &inputs.claims(HashAlgorithm::Sha256),
    )
    .unwrap();
    let mut scratch = vec![0u8; OP_STATE_SIZE];
    assert!(AttestationOp::load(&scratch[..]).unwrap().is_none());
    op.save(&mut scratch[..]).unwrap();
    assert!(AttestationOp::load(&scratch[..]).unwrap().is_some());
    // Every single-byte corruption either loads (and is then a valid state) or is refused.
    for i in 0..OP_STATE_SIZE {
        let mut bad = scratch.clone();
        bad[i] ^= 0x5A;
        let _ = AttestationOp::load(&bad[..]);
    }
    // The accumulator is the identity at first; a non-point there is refused.
    let mut bad = scratch.clone();
    bad[24 + 8 + 96] = 4;
    bad[24 + 8 + 96 + 1] = 1;
    assert!(matches!(AttestationOp::load(&bad[..]), Err(StateError)));
    // A store too small to hold a state.
    assert!(AttestationOp::load(&scratch[..10]).is_err());
}

#[test]
fn copy_out_stops_at_a_refusing_sink_and_resumes() {
    let inputs = Inputs::new(5);
    let identity = identity();
    let whole = attestation::token(&identity, &inputs.claims(HashAlgorithm::Sha256)).unwrap();
    let mut token = vec![0u8; TOKEN_BUFFER_SIZE];
    let mut op = AttestationOp::init(
        &mut token[..],
        &identity,
        &inputs.claims(HashAlgorithm::Sha256),
    )
    .unwrap();
    assert_eq!(
        op.copy_out(&token[..], 4096, |_, _| Ok::<(), ()>(())),
        Ok(0)
    );
    assert_eq!(
        op.sign(&mut token[..], &identity, || false),
        Ok(Progress::Done)
    );
    let mut out = Vec::new();
    let mut calls = 0;
    let r = op.copy_out(&token[..], 1000, |_, b| {
        calls += 1;
        if calls == 3 {
            return Err("fault");
        }
        out.extend_from_slice(b);
        Ok(())
    });
    assert_eq!(r, Err(CopyError::Sink("fault")));
    assert_eq!(out.len(), 512);
    while !op.is_complete() {
        op.copy_out(&token[..], 4096, |_, b| {
            out.extend_from_slice(b);
            Ok::<(), ()>(())
        })
        .unwrap();
    }
    assert_eq!(out, whole);
}

#[test]
fn token_that_does_not_fit_is_an_error() {
    let inputs = Inputs::new(6);
    let mut small = vec![0u8; 512];
    assert!(AttestationOp::init(
        &mut small[..],
        &identity(),
        &inputs.claims(HashAlgorithm::Sha256)
    )
    .is_err());
    assert!(small.capacity() >= 512);
}

#[test]
fn identity_inputs_are_checked() {
    assert!(matches!(
        RealmAttestationKey::from_scalar_bytes(&[0u8; 48]),
        Err(IdentityError::InvalidKey)
    ));
    assert!(matches!(
        RealmAttestationKey::from_scalar_bytes(&[1u8; 47]),
        Err(IdentityError::InvalidKey)
    ));
    assert!(matches!(
        RealmAttestationKey::from_scalar_bytes(&[0xFF; 48]),
        Err(IdentityError::InvalidKey)
    ));
    let token = identity().platform_token().to_vec();
    assert!(matches!(
        AttestationIdentity::from_el3(&TEST_RAK, vec![0xA0]),
        Err(IdentityError::InvalidPlatformToken)
    ));
    assert!(matches!(
        AttestationIdentity::from_el3(&TEST_RAK, vec![0xD2; 8000]),
        Err(IdentityError::InvalidPlatformToken)
    ));
    let id = AttestationIdentity::from_el3(&TEST_RAK, token.clone()).unwrap();
    assert_eq!(id.platform_token(), &token[..]);
    assert_eq!(
        id.key().platform_challenge().as_slice(),
        Sha256::digest(id.key().public_key_claim()).as_slice()
    );
}

#[test]
fn every_host_machine_has_the_test_identity() {
    let m = rmm::host::Machine::new(rmm::host::Config::default());
    let installed = m.rmm().attestation().expect("installed by Machine::new");
    assert_eq!(installed.platform_token(), identity().platform_token());
    assert!(m.rmm().set_attestation(identity()).is_err(), "write once");
}

#[test]
fn challenge_words_are_little_endian_doublewords() {
    let words = [1u64, 2, 3, 4, 5, 6, 7, 0x0807_0605_0403_0201];
    let bytes = attestation::challenge_from_words(&words);
    assert_eq!(bytes[0..8], 1u64.to_le_bytes());
    assert_eq!(bytes[56..64], [1, 2, 3, 4, 5, 6, 7, 8]);
    let _ = ByteStore::capacity(&bytes[..]);
}
