//! The CCA platform attestation token: a hand-encoded CBOR claim set in a COSE_Sign1
//! envelope signed with ES384 (ECDSA P-384 over SHA-384).
//!
//! Claims (CCA platform profile, Arm DEN0137 RMM spec A7.2.3 / IETF draft-ffm-rats-cca-token,
//! keys as in veraison/ccatoken `platform/claims_v1.go` and its test vector
//! `CcaPlatformClaimsMandatoryOnly.diag`): profile 265 (tstr), challenge 10 (bstr), implementation
//! ID 2396 (bstr 32), instance ID 256 (bstr 33, UEID type 0x01), platform config 2401 (bstr),
//! security lifecycle 2395 (uint), boot seed 2397 (bstr 32), software components 2399 (array
//! of maps {1 type tstr, 2 measurement bstr, 4 version tstr, 5 signer ID bstr, 6 hash
//! algorithm tstr}), verification service 2400 (tstr), hash algorithm 2402 (tstr).
//! Note: veraison's decoder treats 2397 as not part of the legacy "http://arm.com/CCA-SSD/1.0.0"
//! profile; TF-M's example CCA token carries it, and so do we.
//!
//! COSE_Sign1 (RFC 9052 §4.2, §4.4): tag 18, [protected bstr {1: -35}, unprotected {},
//! payload bstr, signature bstr (r || s, 96 bytes)], signed over
//! ["Signature1", protected, h'', payload].
//!
//! EVERYTHING HERE IS TEST-ONLY: fixed identities and a fixed, public signing key.

/// A bounded CBOR encoder (RFC 8949) into a byte slice.
pub struct Cbor<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Cbor<'a> {
    /// An encoder writing from the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// The encoded bytes, or `None` if `buf` was too small.
    pub fn finish(self) -> Option<usize> {
        (!self.overflow).then_some(self.len)
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
        self
    }

    fn head(&mut self, major: u8, v: u64) -> &mut Self {
        let m = major << 5;
        if v < 24 {
            self.raw(&[m | v as u8])
        } else if v <= 0xff {
            self.raw(&[m | 24, v as u8])
        } else if v <= 0xffff {
            self.raw(&[m | 25]).raw(&(v as u16).to_be_bytes())
        } else if v <= 0xffff_ffff {
            self.raw(&[m | 26]).raw(&(v as u32).to_be_bytes())
        } else {
            self.raw(&[m | 27]).raw(&v.to_be_bytes())
        }
    }

    /// An unsigned integer.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(0, v)
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64).raw(b)
    }

    /// A text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64).raw(s.as_bytes())
    }

    /// An array header of `n` items.
    pub fn array(&mut self, n: u64) -> &mut Self {
        self.head(4, n)
    }

    /// A map header of `n` pairs.
    pub fn map(&mut self, n: u64) -> &mut Self {
        self.head(5, n)
    }

    /// A tag.
    pub fn tag(&mut self, t: u64) -> &mut Self {
        self.head(6, t)
    }
}

/// CCA platform profile (the name TF-A's and TF-M's CCA tokens use).
pub const PROFILE: &str = "http://arm.com/CCA-SSD/1.0.0";
/// Security lifecycle: "secured" (0x3000).
pub const LIFECYCLE: u64 = 0x3000;

const IMPLEMENTATION_ID: [u8; 32] = *b"rmm-qemu-el3 TEST-ONLY impl id. ";
const INSTANCE_ID: [u8; 33] = {
    let mut id = [0x5a; 33];
    id[0] = 0x01; // UEID type: RAND
    id
};
const PLATFORM_CONFIG: [u8; 4] = *b"TEST";
const BOOT_SEED: [u8; 32] = *b"TEST-ONLY boot seed, not random.";
const SIGNER_ID: [u8; 32] = *b"TEST-ONLY signer id (no signer).";
/// Software components: (type, measurement, version).
const COMPONENTS: [(&str, [u8; 32], &str); 2] = [
    ("TEST-ONLY-EL3", [0x11; 32], "0.1.0"),
    ("TEST-ONLY-RMM-LOADER", [0x22; 32], "0.1.0"),
];
const VERIFICATION_SERVICE: &str =
    "TEST-ONLY platform (rmm-qemu-el3): no verification service, fixed public key";

/// The protected header: {1 (alg): -35 (ES384)}; -35 is major type 1, argument 34 (0x38 0x22).
pub const PROTECTED: [u8; 4] = [0xa1, 0x01, 0x38, 0x22];

/// Encodes the platform claim set for `challenge` into `out`.
pub fn claims(challenge: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut c = Cbor::new(out);
    c.map(10);
    c.uint(265).text(PROFILE);
    c.uint(10).bytes(challenge);
    c.uint(2396).bytes(&IMPLEMENTATION_ID);
    c.uint(256).bytes(&INSTANCE_ID);
    c.uint(2401).bytes(&PLATFORM_CONFIG);
    c.uint(2395).uint(LIFECYCLE);
    c.uint(2397).bytes(&BOOT_SEED);
    c.uint(2399).array(COMPONENTS.len() as u64);
    for (kind, measurement, version) in COMPONENTS {
        c.map(5);
        c.uint(1).text(kind);
        c.uint(2).bytes(&measurement);
        c.uint(4).text(version);
        c.uint(5).bytes(&SIGNER_ID);
        c.uint(6).text("sha-256");
    }
    c.uint(2400).text(VERIFICATION_SERVICE);
    c.uint(2402).text("sha-256");
    c.finish()
}

/// The COSE Sig_structure ["Signature1", protected, h'', payload] for `payload`.
pub fn sig_structure(payload: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut c = Cbor::new(out);
    c.array(4)
        .text("Signature1")
        .bytes(&PROTECTED)
        .bytes(&[])
        .bytes(payload);
    c.finish()
}

/// The tagged COSE_Sign1 of `payload` with `signature` (r || s).
pub fn cose_sign1(payload: &[u8], signature: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut c = Cbor::new(out);
    c.tag(18)
        .array(4)
        .bytes(&PROTECTED)
        .map(0)
        .bytes(payload)
        .bytes(signature);
    c.finish()
}
