//! The token verifier (`rmm::attestation::verify_realm_token`, spec A7.2.3) against tokens the
//! RMM core itself produces on the host platform, whole and corrupted.

mod common;

use common::claims::Inputs;
use p384::ecdsa::SigningKey;
use rmm::attestation::{
    self, verify_realm_token, AttestationIdentity, RealmAttestationKey, VerifyError,
};
use rmm::host::attest::{test_identity, TEST_RAK};
use rmm::measurement::HashAlgorithm;

/// The token the RMM makes for `inputs`.
fn token(inputs: &Inputs, identity: &AttestationIdentity, hash_algo: HashAlgorithm) -> Vec<u8> {
    attestation::token(identity, &inputs.claims(hash_algo)).unwrap()
}

/// Where `needle` starts in `haystack` (once).
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    let at: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "{} bytes once in the token", needle.len());
    at[0]
}

#[test]
fn tokens_of_the_rmm_verify_with_every_claim() {
    for (seed, algo) in [(1, HashAlgorithm::Sha256), (2, HashAlgorithm::Sha512)] {
        let inputs = Inputs::new(seed);
        let identity = test_identity();
        let token = token(&inputs, &identity, algo);
        let claims = verify_realm_token(&token, &inputs.challenge).expect("valid token");
        let n = algo.digest_len();
        assert_eq!(claims.challenge, &inputs.challenge);
        assert_eq!(claims.hash_algo, algo);
        assert_eq!(claims.rim, &inputs.rim.as_bytes()[..n]);
        for (got, want) in claims.rems.iter().zip(&inputs.rems) {
            assert_eq!(*got, &want.as_bytes()[..n]);
        }
        assert_eq!(claims.personalization, inputs.rpv);
        assert_eq!(claims.profile, Some("tag:arm.com,2023:realm#1.0.0"));
        assert_eq!(claims.rak_claim, identity.key().public_key_claim());
        let rak = SigningKey::from_slice(&TEST_RAK).unwrap();
        assert_eq!(
            claims.rak_public[..],
            rak.verifying_key().to_sec1_point(false).as_bytes()[..]
        );
        assert_eq!(claims.platform_token, identity.platform_token());
        assert_eq!(claims.rak_hash_algo, "sha-256");
        assert!(claims.platform_binds_rak());
        assert!(claims.realm_token_len < token.len());
    }
}

#[test]
fn another_challenge_is_refused() {
    let inputs = Inputs::new(3);
    let token = token(&inputs, &test_identity(), HashAlgorithm::Sha256);
    let mut other = inputs.challenge;
    other[63] ^= 0x80;
    assert_eq!(
        verify_realm_token(&token, &other).unwrap_err(),
        VerifyError::ChallengeMismatch
    );
}

#[test]
fn corrupted_signature_challenge_or_rim_fails_the_signature() {
    let inputs = Inputs::new(4);
    let token = token(&inputs, &test_identity(), HashAlgorithm::Sha256);
    let signature = token.len() - 96;
    let challenge = find(&token, &inputs.challenge);
    let rim = find(&token, &inputs.rim.as_bytes()[..32]);
    for (what, at) in [
        ("signature r", signature),
        ("signature s", token.len() - 1),
        ("challenge claim", challenge + 5),
        ("RIM claim", rim + 31),
    ] {
        let mut bad = token.clone();
        bad[at] ^= 0x01;
        // The token's own challenge, patched the same way: only the signature can tell.
        let mut expected = inputs.challenge;
        if (challenge..challenge + 64).contains(&at) {
            expected[at - challenge] ^= 0x01;
        }
        assert_eq!(
            verify_realm_token(&bad, &expected).unwrap_err(),
            VerifyError::BadSignature,
            "{what}"
        );
    }
}

#[test]
fn damaged_tokens_are_errors_not_panics() {
    let inputs = Inputs::new(5);
    let token = token(&inputs, &test_identity(), HashAlgorithm::Sha512);
    let check = |bytes: &[u8]| verify_realm_token(bytes, &inputs.challenge).map(|_| ());
    assert!(check(&[]).is_err());
    assert!(matches!(
        check(&token[..token.len() - 1]),
        Err(VerifyError::Malformed(_))
    ));
    let mut longer = token.clone();
    longer.push(0);
    assert!(matches!(check(&longer), Err(VerifyError::Malformed(_))));
    // Every prefix, and a bit flipped at every 13th byte of the realm token (each is a P-384
    // verification at most): never accepted.
    for len in 0..token.len() {
        assert!(check(&token[..len]).is_err(), "prefix of {len} bytes");
    }
    let realm = token.len()
        - verify_realm_token(&token, &inputs.challenge)
            .unwrap()
            .realm_token_len;
    for at in (realm..token.len()).step_by(13) {
        let mut bad = token.clone();
        bad[at] ^= 0x10;
        assert!(check(&bad).is_err(), "bit 4 of byte {at} flipped");
    }
    // Deep nesting is refused, not followed.
    let deep = [vec![0x81u8; 10_000], vec![0]].concat();
    assert!(matches!(check(&deep), Err(VerifyError::Malformed(_))));
}

#[test]
fn a_rak_the_platform_token_does_not_bind_is_reported() {
    let inputs = Inputs::new(6);
    let key = RealmAttestationKey::from_scalar_bytes(&[0x42; 48]).unwrap();
    let rogue = AttestationIdentity::new(key, test_identity().platform_token().to_vec()).unwrap();
    let token = token(&inputs, &rogue, HashAlgorithm::Sha256);
    let claims = verify_realm_token(&token, &inputs.challenge).expect("self-consistent token");
    assert!(!claims.platform_binds_rak());
}
