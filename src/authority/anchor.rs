//! `/v1/anchor`: a kiosk's signed audit-chain head (DESIGN §5), verified here and kept, latest per
//! kiosk, in the state store ([`super::store::StateStore::record_anchor`]).
//!
//! A head is `{"kioskKey":"<64 hex>","seq":N,"head":"<64 hex>","time":"YYYY-MM-DDTHH:MM:SSZ",
//! "signature":"<128 hex>"}`; the signature is Ed25519 (`verify_strict`) by the kiosk key over the
//! UTF-8 bytes of `"VEILWATCH-AUDIT-HEAD-V1\n" + kioskKey + "\n" + seq + "\n" + head + "\n" + time`.
//! Holding the latest head lets anyone who later sees the kiosk's exported log check that it was
//! not cut or rewritten below that point; a head whose sequence number goes backwards is refused.
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
