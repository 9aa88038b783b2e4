//! RSI_ATTESTATION_TOKEN_INIT (spec B5.3.2) and RSI_ATTESTATION_TOKEN_CONTINUE (B5.3.1): the
//! realm obtains a CCA attestation token (A7.2), built and signed by [`crate::attestation`].
//!
//! The operation lives in the REC's auxiliary granules (the module doc of
//! [`crate::attestation`]): aux\[1\] holds the saved [`AttestationOp`] (rec.attest_state is
//! ATTEST_IN_PROGRESS while one is saved there), aux\[2..4\] the token. Signing stops when a
//! physical interrupt is pending ([`Platform::interrupt_pending`]): the REC exits due to IRQ
//! and CONTINUE returns RSI_INCOMPLETE on the next entry (A7.2.2), on whatever CPU that is.

use super::{
    answer, memory_fault, with_rd, RSI_ERROR_INPUT, RSI_ERROR_STATE, RSI_ERROR_UNKNOWN,
    RSI_INCOMPLETE, RSI_SUCCESS,
};
use crate::attestation::{
    challenge_from_words, AttestationOp, CopyError, GranuleBytes, Progress, RealmClaims,
    TOKEN_BUFFER_SIZE,
};
use crate::measurement::{HashAlgorithm, Measurement};
use crate::platform::{GranuleMemory, Platform, RealmMemory, Stage2Fault};
use crate::rec::{ExitKind, Handled, Rec, Stage2, VcpuContext};
use crate::rmi::params::{RecExit, RecExitReason};
use crate::GRANULE_SIZE;

/// The REC's attestation scratch granule and its two token granules.
fn aux_granules<'p, P: Platform>(platform: &'p P, rec: Rec<'_>) -> Option<[&'p GranuleMemory; 3]> {
    let mut aux = rec.aux().skip(1);
    let mut next = || aux.next().map(|pa| platform.granule(pa));
    Some([next()?, next()?, next()?])
}

/// RSI_ATTESTATION_TOKEN_INIT: x1..x8 challenge. Starts a token generation, ending any in
/// progress (A7.2.2); returns x1, an upper bound of the token's size (B5.3.2.3 `state`,
/// `challenge`). No failure conditions: a token that cannot be made (no attestation identity,
/// or too large) fails the next CONTINUE with RSI_ERROR_UNKNOWN.
pub fn init<P: Platform>(vcpu: &mut VcpuContext, stage2: &Stage2<'_, P>, rec: Rec<'_>) -> Handled {
    let rmm = stage2.rmm();
    let Some([scratch, token_0, token_1]) = aux_granules(rmm.platform(), rec) else {
        rec.set_attest_failed(true);
        return answer(vcpu, &[RSI_SUCCESS, TOKEN_BUFFER_SIZE as u64]);
    };
    let (scratch, token) = (&[scratch], [token_0, token_1]);
    let (mut scratch, mut token) = (GranuleBytes::new(scratch), GranuleBytes::new(&token));
    let mut words = [0u64; 8];
    words.copy_from_slice(&vcpu.gprs[1..9]);
    let challenge = challenge_from_words(&words);
    let started = rmm.attestation().and_then(|identity| {
        with_rd(stage2, |rd| {
            let hash_algo = HashAlgorithm::from_rmi(rd.config().hash_algo)?;
            let m = |i| Measurement::from_bytes(rd.measurement(i));
            let claims = RealmClaims {
                challenge: &challenge,
                personalization: &rd.rpv(),
                rim: &m(0),
                rems: &[m(1), m(2), m(3), m(4)],
                hash_algo,
            };
            AttestationOp::init(&mut token, identity, &claims).ok()
        })?
    });
    let saved = started.and_then(|op| op.save(&mut scratch).ok().map(|()| op.token_len()));
    rec.set_attest_failed(saved.is_none());
    if saved.is_none() {
        // Wipes an older operation: it is terminated (A7.2.2).
        let _ = AttestationOp::clear(&mut scratch);
    }
    let size = saved.unwrap_or(TOKEN_BUFFER_SIZE);
    answer(vcpu, &[RSI_SUCCESS, size as u64])
}

/// RSI_ATTESTATION_TOKEN_CONTINUE: x1 addr, x2 offset, x3 size. Signs the token (stopping for
/// a pending interrupt), then copies the next at most `size` bytes of it to IPA
/// `addr + offset`; returns x1 len, the bytes copied. RSI_INCOMPLETE while bytes remain,
/// RSI_SUCCESS with the last ones, which ends the operation (B5.3.1.3 `incomplete`,
/// `complete`).
///
/// Failure conditions, unordered: `addr_align`, `addr_bound`, `offset_bound`, `size_overflow`,
/// `size_bound` (RSI_ERROR_INPUT), `state` (no operation in progress: RSI_ERROR_STATE),
/// `unknown` (the token could not be made, or its saved state is not valid:
/// RSI_ERROR_UNKNOWN, and the operation ends). A buffer with no valid mapping: module
/// [`super`] doc, after the bytes copied so far are reported with RSI_INCOMPLETE.
pub fn continue_token<P: Platform>(
    vcpu: &mut VcpuContext,
    stage2: &Stage2<'_, P>,
    rec: Rec<'_>,
    out: &mut RecExit,
) -> Handled {
    let [addr, offset, size] = [vcpu.gprs[1], vcpu.gprs[2], vcpu.gprs[3]];
    if !addr.is_multiple_of(GRANULE_SIZE) {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // addr_align
    }
    if !stage2.is_protected(addr) {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // addr_bound
    }
    if offset >= GRANULE_SIZE {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // offset_bound
    }
    let Some(end) = offset.checked_add(size) else {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // size_overflow
    };
    if end > GRANULE_SIZE {
        return answer(vcpu, &[RSI_ERROR_INPUT, 0]); // size_bound
    }
    let rmm = stage2.rmm();
    let Some([scratch, token_0, token_1]) = aux_granules(rmm.platform(), rec) else {
        return unknown(vcpu, rec, None);
    };
    let (scratch, token) = (&[scratch], [token_0, token_1]);
    let (mut scratch, mut token) = (GranuleBytes::new(scratch), GranuleBytes::new(&token));
    if rec.attest_failed() {
        return unknown(vcpu, rec, Some(&mut scratch)); // unknown
    }
    let mut op = match AttestationOp::load(&scratch) {
        Ok(Some(op)) => op,
        Ok(None) => return answer(vcpu, &[RSI_ERROR_STATE, 0]), // state
        Err(_) => return unknown(vcpu, rec, Some(&mut scratch)), // unknown
    };
    let Some(identity) = rmm.attestation() else {
        return unknown(vcpu, rec, Some(&mut scratch)); // unknown
    };
    let cpu = stage2.cpu();
    match op.sign(&mut token, identity, || {
        rmm.platform().interrupt_pending(cpu)
    }) {
        Ok(Progress::Done) => {}
        Ok(Progress::Pending) => {
            // A7.2.2: a REC exit due to IRQ; the realm finds RSI_INCOMPLETE on its return.
            if op.save(&mut scratch).is_err() {
                return unknown(vcpu, rec, Some(&mut scratch));
            }
            *out = RecExit::new(RecExitReason::Irq);
            answer(vcpu, &[RSI_INCOMPLETE, 0]);
            return Handled::Exit(ExitKind::Plain);
        }
        Err(_) => return unknown(vcpu, rec, Some(&mut scratch)), // unknown
    }
    // In the granule at the Protected IPA `addr` (`addr_bound`, `size_bound`): nothing here
    // wraps or saturates, and an address that did would fault.
    let buffer = addr.saturating_add(offset);
    let mut written = 0;
    let copied = op.copy_out(&token, size as usize, |at, bytes| {
        let ipa = buffer.checked_add(at as u64).ok_or(Stage2Fault { ipa: buffer })?;
        stage2.write(ipa, bytes)?;
        written = at.saturating_add(bytes.len());
        Ok::<(), Stage2Fault>(())
    });
    let len = match copied {
        Ok(len) => len,
        Err(CopyError::Sink(fault)) => {
            // The cursor stands after the last chunk written.
            if op.save(&mut scratch).is_err() {
                return unknown(vcpu, rec, Some(&mut scratch));
            }
            if written > 0 {
                return answer(vcpu, &[RSI_INCOMPLETE, written as u64]);
            }
            let handled = memory_fault(vcpu, stage2, out, fault.ipa);
            if handled == Handled::Resume {
                vcpu.gprs[1] = 0; // RSI_ERROR_INPUT: len 0
            }
            return handled;
        }
        Err(CopyError::Store) => return unknown(vcpu, rec, Some(&mut scratch)),
    };
    if op.is_complete() {
        // B5.3.1.3 `complete`: no operation in progress any more.
        let _ = AttestationOp::clear(&mut scratch);
        return answer(vcpu, &[RSI_SUCCESS, len as u64]);
    }
    if op.save(&mut scratch).is_err() {
        return unknown(vcpu, rec, Some(&mut scratch));
    }
    answer(vcpu, &[RSI_INCOMPLETE, len as u64])
}

/// Ends the operation in progress and fails with RSI_ERROR_UNKNOWN (B5.3.1.2 `unknown`).
fn unknown(
    vcpu: &mut VcpuContext,
    rec: Rec<'_>,
    scratch: Option<&mut GranuleBytes<'_>>,
) -> Handled {
    rec.set_attest_failed(false);
    if let Some(scratch) = scratch {
        let _ = AttestationOp::clear(scratch);
    }
    answer(vcpu, &[RSI_ERROR_UNKNOWN, 0])
}
