//! `/v1/anchor`: a kiosk's signed audit-chain head (DESIGN §5), verified and kept, latest per kiosk.
//!
//! A head is `{"kioskKey":"<64 hex>","seq":N,"head":"<64 hex>","time":"YYYY-MM-DDTHH:MM:SSZ",
//! "signature":"<128 hex>"}`; the signature is Ed25519 (`verify_strict`) by the kiosk key over the
//! UTF-8 bytes of `"VEILWATCH-AUDIT-HEAD-V1\n" + kioskKey + "\n" + seq + "\n" + head + "\n" + time`.
//! Holding the latest head lets anyone who later sees the kiosk's exported log check that it was
//! not cut or rewritten below that point; a head whose sequence number goes backwards is refused.
//!
//! [`SignedHead::parse`] is self-contained on purpose: the kiosk side builds the same type in
//! `governance::audit`, and the two become one when both land.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::hex::from_hex;
use crate::time::parse_utc;

/// The domain separator of the signed text.
pub const HEAD_DOMAIN: &str = "VEILWATCH-AUDIT-HEAD-V1";
/// The largest head document accepted (a head is ~330 bytes).
pub const MAX_HEAD_BYTES: usize = 2048;

/// A verified, signed audit-chain head, as the kiosk sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedHead {
    pub kiosk_key: String,
    pub seq: u64,
    pub head: String,
    pub time: String,
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnchorError {
    #[error("the audit head is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("{field} must be {expected}")]
    Field { field: &'static str, expected: &'static str },
    #[error("kioskKey is not an Ed25519 public key")]
    BadKey,
    #[error("the signature does not verify against kioskKey over this head")]
    BadSignature,
    #[error("the kiosk's audit chain went backwards: seq {offered} is below the anchored seq {stored}")]
    Backwards { stored: u64, offered: u64 },
}

/// Lowercase hex of exactly `bytes` bytes (the signed text uses the string as sent, so only one
/// spelling of a key or hash is accepted).
fn lower_hex<const N: usize>(text: &str, field: &'static str, expected: &'static str) -> Result<[u8; N], AnchorError> {
    let bad = || AnchorError::Field { field, expected };
    if text.len() != 2 * N || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    from_hex(text).and_then(|v| v.try_into().ok()).ok_or_else(bad)
}

impl SignedHead {
    /// The exact bytes the kiosk signs.
    pub fn signed_text(&self) -> String {
        format!("{HEAD_DOMAIN}\n{}\n{}\n{}\n{}", self.kiosk_key, self.seq, self.head, self.time)
    }

    /// Parses a head document and verifies its signature; only a verified head comes back.
    pub fn parse(body: &[u8]) -> Result<SignedHead, AnchorError> {
        if body.len() > MAX_HEAD_BYTES {
            return Err(AnchorError::Malformed(format!("{} bytes, at most {MAX_HEAD_BYTES}", body.len())));
        }
        let head: SignedHead = serde_json::from_slice(body).map_err(|e| AnchorError::Malformed(e.to_string()))?;
        let key = lower_hex::<32>(&head.kiosk_key, "kioskKey", "64 lowercase hex digits")?;
        lower_hex::<32>(&head.head, "head", "64 lowercase hex digits")?;
        let signature = lower_hex::<64>(&head.signature, "signature", "128 lowercase hex digits")?;
        if head.time.len() != 20 || parse_utc(&head.time).is_none() {
            return Err(AnchorError::Field { field: "time", expected: "a UTC time YYYY-MM-DDTHH:MM:SSZ" });
        }
        let key = VerifyingKey::from_bytes(&key).map_err(|_| AnchorError::BadKey)?;
        key.verify_strict(head.signed_text().as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| AnchorError::BadSignature)?;
        Ok(head)
    }
}

/// The latest verified head of each kiosk key, in memory (a single node's store; the shared
/// store for replicas comes with the authority's state store).
#[derive(Default)]
pub struct AnchorStore {
    latest: Mutex<HashMap<String, SignedHead>>,
}

impl AnchorStore {
    /// Keeps `head` as its kiosk's latest unless it goes backwards. The same seq again (a retry,
    /// or a head re-sent after a restart) replaces the stored one.
    pub fn record(&self, head: SignedHead) -> Result<(), AnchorError> {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stored) = latest.get(&head.kiosk_key) {
            if head.seq < stored.seq {
                return Err(AnchorError::Backwards { stored: stored.seq, offered: head.seq });
            }
        }
        latest.insert(head.kiosk_key.clone(), head);
        Ok(())
    }

    /// The stored head of a kiosk key (lowercase hex), if any.
    pub fn latest(&self, kiosk_key: &str) -> Option<SignedHead> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).get(kiosk_key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(key: &SigningKey, seq: u64) -> SignedHead {
        let mut head = SignedHead {
            kiosk_key: crate::hex(key.verifying_key().as_bytes()),
            seq,
            head: "ab".repeat(32),
            time: "2026-12-02T01:50:00Z".into(),
            signature: String::new(),
        };
        head.signature = crate::hex(&key.sign(head.signed_text().as_bytes()).to_bytes());
        head
    }

    #[test]
    fn a_signed_head_verifies_and_any_change_to_it_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let head = signed(&key, 5);
        assert_eq!(SignedHead::parse(&serde_json::to_vec(&head).unwrap()), Ok(head.clone()));
        for tampered in [
            SignedHead { seq: 6, ..head.clone() },
            SignedHead { head: "cd".repeat(32), ..head.clone() },
            SignedHead { time: "2026-12-02T01:50:01Z".into(), ..head.clone() },
            SignedHead {
                kiosk_key: crate::hex(SigningKey::from_bytes(&[8; 32]).verifying_key().as_bytes()),
                ..head.clone()
            },
        ] {
            assert_eq!(SignedHead::parse(&serde_json::to_vec(&tampered).unwrap()), Err(AnchorError::BadSignature));
        }
        let upper = SignedHead { kiosk_key: head.kiosk_key.to_uppercase(), ..head.clone() };
        assert!(matches!(
            SignedHead::parse(&serde_json::to_vec(&upper).unwrap()),
            Err(AnchorError::Field { field: "kioskKey", .. })
        ));
    }

    #[test]
    fn the_store_refuses_a_chain_going_backwards() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let store = AnchorStore::default();
        store.record(signed(&key, 10)).unwrap();
        assert_eq!(store.record(signed(&key, 9)), Err(AnchorError::Backwards { stored: 10, offered: 9 }));
        store.record(signed(&key, 11)).unwrap();
        assert_eq!(store.latest(&signed(&key, 0).kiosk_key).unwrap().seq, 11);
    }
}
