//! `/v1/anchor`: a kiosk's signed audit-chain head (DESIGN §5), verified here and appended to the
//! kiosk's anchor history in the state store ([`super::store::StateStore::record_anchor`]).
//!
//! A head is `{"kioskKey":"<64 hex>","seq":N,"head":"<64 hex>","time":"YYYY-MM-DDTHH:MM:SSZ",
//! "signature":"<128 hex>"}`; the signature is Ed25519 (`verify_strict`) by the kiosk key over the
//! UTF-8 bytes of `"VEILWATCH-AUDIT-HEAD-V1\n" + kioskKey + "\n" + seq + "\n" + head + "\n" + time`.
//! The history is append-only, one head per `seq`: a head at a `seq` already anchored with another
//! hash is refused ([`AnchorError::Conflict`], 409 `anchor_conflict`) — that is what a thief of the
//! unlocked kiosk who rewrote the log, recomputed the chain and signed a new head would send — and a
//! head below the latest anchored `seq` that was never anchored is refused as going backwards. The
//! same head again (a retry) changes nothing. Every anchored head stays, so an auditor who checks
//! an exported log against the whole history (`veilwatch audit verify --anchors`) finds a rewrite
//! below any of them, even when the thief kept going and anchored later heads of the forged chain.
//!
//! The head is [`governance::audit::SignedHead`](crate::governance::audit::SignedHead), the very
//! type the kiosk signs and `veilwatch audit verify --anchors` checks.

pub use crate::governance::audit::SignedHead;

/// The largest head document accepted (a head is ~330 bytes).
pub const MAX_HEAD_BYTES: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnchorError {
    #[error("the audit head is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("the signature does not verify against kioskKey over this head")]
    BadSignature,
    #[error("the kiosk's audit chain went backwards: seq {offered} is below the anchored seq {stored}")]
    Backwards { stored: u64, offered: u64 },
    #[error(
        "seq {seq} is anchored with head {anchored}, not {offered}: the kiosk's audit log was rewritten after it \
         was anchored (the anchored head stays)"
    )]
    Conflict { seq: u64, anchored: String, offered: String },
}

/// Where `head` may go in a kiosk's history, given the head already anchored at its `seq` (if
/// any) and the latest anchored `seq` (if any): `Ok(true)` to append it, `Ok(false)` if it is
/// already there. The one rule every store applies.
pub fn admit_to_history(
    head: &SignedHead,
    at_seq: Option<&SignedHead>,
    latest: Option<u64>,
) -> Result<bool, AnchorError> {
    if let Some(anchored) = at_seq {
        if anchored.head == head.head {
            return Ok(false);
        }
        return Err(AnchorError::Conflict {
            seq: head.seq,
            anchored: anchored.head.clone(),
            offered: head.head.clone(),
        });
    }
    match latest {
        Some(stored) if stored > head.seq => Err(AnchorError::Backwards { stored, offered: head.seq }),
        _ => Ok(true),
    }
}

/// Parses a head document and verifies its signature; only a verified head comes back.
pub fn verified_head(body: &[u8]) -> Result<SignedHead, AnchorError> {
    if body.len() > MAX_HEAD_BYTES {
        return Err(AnchorError::Malformed(format!("{} bytes, at most {MAX_HEAD_BYTES}", body.len())));
    }
    let text = std::str::from_utf8(body).map_err(|_| AnchorError::Malformed("not UTF-8".into()))?;
    let head = SignedHead::parse(text).map_err(AnchorError::Malformed)?;
    if !head.verify() {
        return Err(AnchorError::BadSignature);
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn signed(key: &SigningKey, seq: u64) -> SignedHead {
        SignedHead::sign(key, seq, [0xab; 32], 1_796_176_200)
    }

    #[test]
    fn a_signed_head_verifies_and_any_change_to_it_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let head = signed(&key, 5);
        assert_eq!(verified_head(head.to_json().as_bytes()), Ok(head.clone()));
        for tampered in [
            SignedHead { seq: 6, ..head.clone() },
            SignedHead { head: "cd".repeat(32), ..head.clone() },
            SignedHead { time: "2026-12-02T01:50:01Z".into(), ..head.clone() },
            SignedHead {
                kiosk_key: crate::hex(SigningKey::from_bytes(&[8; 32]).verifying_key().as_bytes()),
                ..head.clone()
            },
        ] {
            assert_eq!(verified_head(tampered.to_json().as_bytes()), Err(AnchorError::BadSignature));
        }
        let upper = SignedHead { kiosk_key: head.kiosk_key.to_uppercase(), ..head.clone() };
        assert!(matches!(verified_head(upper.to_json().as_bytes()), Err(AnchorError::Malformed(_))));
    }
}
