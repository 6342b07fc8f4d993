//! The audit log (G7): configuration, counts per minute, alerts, reviews and every start of the
//! kiosk, as JSON lines chained by SHA-256 over their exact bytes, bound to the kiosk's Ed25519 key,
//! and made tamper-evident beyond the device by *signed heads* (anchors) that the kiosk keeps beside
//! the log and sends to the authority. It never holds an image, a crop, an embedding or a code: only
//! counts, ids and the words of the people who reviewed alerts (a rejected alert keeps no entry id).
//!
//! # Line format (`veilwatch-audit-v1`)
//!
//! ```text
//! {"seq":N,"time":"YYYY-MM-DDTHH:MM:SSZ","kind":K,"data":{…},"hash":"<64 hex>"}\n
//! ```
//! Each line is one JSON object whose last member is `"hash"`. Its hash covers the line's exact
//! bytes up to (not including) the suffix `,"hash":"<64 hex>"}`:
//! `hash_n = SHA-256(hash_{n-1} || bytes of line n before ,"hash":…)`, with `hash_0` = 32 zero
//! bytes and hashes as raw 32 bytes inside the SHA-256, lowercase hex in the line. Verifying reads
//! the bytes as written; nothing is re-serialised. `seq` counts lines from 1.
//!
//! Line 1 is always `kind: "start"` with `data.kiosk_key` (64 hex, or `null` while the kiosk has no
//! key yet) and `data.format: "veilwatch-audit-v1"`. A log started without a key is bound later by
//! one `kiosk-key` line (`data.kiosk_key`); a log is bound to at most one key, so a log (or its
//! lines) cannot be moved to another kiosk. A restored log continues with a `resume` line, or a
//! `restart` line carrying why the engine had to be restarted.
//!
//! # Signed head (anchor)
//!
//! `{"kioskKey":"<64 hex>","seq":N,"head":"<64 hex>","time":"…Z","signature":"<128 hex>"}`, where
//! `head` is `hash_seq` and the signature is Ed25519 by the kiosk key over the UTF-8 bytes of
//! `"VEILWATCH-AUDIT-HEAD-V1\n" + kioskKey + "\n" + seq + "\n" + head + "\n" + time`
//! ([`SignedHead::message`]). The authority's `/v1/anchor` keeps every head, append-only per kiosk
//! (one hash per `seq`). Against a set
//! of anchors, [`verify_log`] detects a rewritten log (another hash at an anchored `seq`) and a
//! truncated one (fewer lines than an anchored `seq`).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::hex::{from_hex, hex};
use crate::time::{format_utc, parse_utc};

/// The `format` of a log's `start` line.
pub const FORMAT: &str = "veilwatch-audit-v1";

/// The domain-separation prefix of a signed head's message.
pub const HEAD_CONTEXT: &str = "VEILWATCH-AUDIT-HEAD-V1";

/// `,"hash":"` + 64 hex + `"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum AuditError {
    #[error("audit line {line} is not a line of the audit format: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("audit line {line} does not follow line {}: a line was removed, reordered or inserted", line - 1)]
    BrokenChain { line: usize },
    #[error("audit line {line} was altered: its bytes do not give the hash it carries")]
    Altered { line: usize },
    #[error("the audit log does not begin with a start line binding it to its kiosk")]
    NoStart,
    #[error("audit line {line} binds the log to a second kiosk key; a log belongs to one kiosk")]
    Rebound { line: usize },
    #[error("the audit log belongs to kiosk key {log}, not to {expected}: it was moved from another kiosk")]
    ForeignLog { log: String, expected: String },
    #[error("the audit log names no kiosk key, so its anchors cannot be checked")]
    Unbound,
    #[error("anchor {index} is signed for kiosk key {anchor}, not for this log's kiosk key {log}")]
    ForeignAnchor { index: usize, anchor: String, log: String },
    #[error("anchor {index} (seq {seq}) does not carry a valid signature of the kiosk key")]
    BadAnchorSignature { index: usize, seq: u64 },
    #[error(
        "the audit log was truncated: it has {lines} lines, but the kiosk signed its head at line {seq} on {time}"
    )]
    Truncated { lines: usize, seq: u64, time: String },
    #[error("the audit log was rewritten: line {seq} is not the line the kiosk signed on {time} (hash {found}, anchor {anchored})")]
    Rewritten { seq: u64, time: String, found: String, anchored: String },
    #[error("anchor {index} is not a signed audit head: {reason}")]
    BadAnchor { index: usize, reason: String },
    #[error("the kiosk key must be 64 hex digits of an Ed25519 public key")]
    BadKey,
}

/// One line as its JSON reads (the hash is checked against the bytes, not against this).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineFields {
    seq: u64,
    time: String,
    kind: String,
    data: Value,
    #[allow(dead_code)]
    hash: String,
}

fn chain(prev: &[u8; 32], unsigned: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(unsigned);
    hasher.finalize().into()
}

fn parse_key(text: &str) -> Result<[u8; 32], AuditError> {
    let bytes: [u8; 32] = from_hex(text).and_then(|b| b.try_into().ok()).ok_or(AuditError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| AuditError::BadKey)?;
    Ok(bytes)
}

/// Parses a kiosk public key given as 64 hex digits.
pub fn kiosk_key_from_hex(text: &str) -> Result<[u8; 32], AuditError> {
    parse_key(text.trim())
}

/// What a chain walk learns of a log.
#[derive(Debug, Default)]
struct Walk {
    /// `hash_n` of every line, `heads[n - 1]`.
    heads: Vec<[u8; 32]>,
    /// The key the log is bound to, if any line named one.
    kiosk_key: Option<[u8; 32]>,
}

/// Walks the chain over the exact bytes of each line of `text`.
fn walk(text: &str) -> Result<Walk, AuditError> {
    let mut walk = Walk::default();
    let mut prev = [0u8; 32];
    for (i, raw) in text.split_terminator('\n').enumerate() {
        let line = i + 1;
        let malformed = |reason: &str| AuditError::Malformed { line, reason: reason.to_owned() };
        let fields: LineFields = serde_json::from_str(raw).map_err(|e| malformed(&e.to_string()))?;
        // Bytes, not str: the split may fall inside a character of a line that does not end
        // with the hash.
        let (unsigned, suffix) = raw.as_bytes().split_at(raw.len().saturating_sub(HASH_SUFFIX_LEN));
        let written = suffix
            .strip_prefix(b",\"hash\":\"")
            .and_then(|s| s.strip_suffix(b"\"}"))
            .filter(|h| h.len() == 64 && h.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
            .ok_or_else(|| malformed("the line must end with ,\"hash\":\"<64 lowercase hex>\"}"))?;
        if fields.seq != line as u64 {
            return Err(AuditError::BrokenChain { line });
        }
        let hash = chain(&prev, unsigned);
        if hex(&hash).as_bytes() != written {
            return Err(AuditError::Altered { line });
        }
        let named_key = match fields.data.get("kiosk_key") {
            Some(Value::String(k)) => Some(parse_key(k).map_err(|_| malformed("kiosk_key is not a kiosk public key"))?),
            _ => None,
        };
        match (line, fields.kind.as_str()) {
            (1, "start") => {
                if fields.data.get("format").and_then(Value::as_str) != Some(FORMAT) {
                    return Err(malformed("the start line names another format"));
                }
                walk.kiosk_key = named_key;
            }
            (1, _) => return Err(AuditError::NoStart),
            (_, "start") => return Err(AuditError::BrokenChain { line }),
            (_, "kiosk-key") => {
                if walk.kiosk_key.is_some() {
                    return Err(AuditError::Rebound { line });
                }
                walk.kiosk_key = Some(named_key.ok_or_else(|| malformed("a kiosk-key line needs data.kiosk_key"))?);
            }
            _ => {}
        }
        if parse_utc(&fields.time).is_none() {
            return Err(malformed("time is not YYYY-MM-DDTHH:MM:SSZ"));
        }
        walk.heads.push(hash);
        prev = hash;
    }
    if walk.heads.is_empty() {
        return Err(AuditError::NoStart);
    }
    Ok(walk)
}

/// The log as the kiosk writes it; [`AuditLog::restore`] continues a stored one.
#[derive(Default)]
pub struct AuditLog {
    text: String,
    len: u64,
    last: [u8; 32],
    kiosk_key: Option<[u8; 32]>,
    /// The key a fresh log's start line names (set before the first line is written).
    pending_key: Option<[u8; 32]>,
}

/// How a kiosk comes back to a stored log.
#[derive(Debug, Clone, PartialEq)]
pub enum Reopening {
    /// A new page or Worker (e.g. a reload).
    Resume,
    /// The engine was restarted after it failed; the reason goes in the log.
    Restart(String),
}

impl AuditLog {
    /// An empty log whose start line (written with the first entry) names `kiosk_key`.
    pub fn new(kiosk_key: Option<[u8; 32]>) -> AuditLog {
        AuditLog { pending_key: kiosk_key, ..AuditLog::default() }
    }

    /// Continues a stored log: verifies its chain, checks it belongs to `kiosk_key` (binding it if
    /// it had no key yet) and appends a `resume` or `restart` line. A broken or foreign stored log
    /// is an error, never silently replaced.
    pub fn restore(
        text: &str,
        kiosk_key: Option<[u8; 32]>,
        how: Reopening,
        now_unix: i64,
    ) -> Result<AuditLog, AuditError> {
        let walk = walk(text)?;
        if let (Some(log), Some(expected)) = (walk.kiosk_key, kiosk_key) {
            if log != expected {
                return Err(AuditError::ForeignLog { log: hex(&log), expected: hex(&expected) });
            }
        }
        let mut text = text.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let mut log = AuditLog {
            text,
            len: walk.heads.len() as u64,
            last: *walk.heads.last().expect("walk refuses an empty log"),
            kiosk_key: walk.kiosk_key,
            pending_key: None,
        };
        if let (None, Some(key)) = (log.kiosk_key, kiosk_key) {
            log.bind_key(key, now_unix)?;
        }
        match how {
            Reopening::Resume => log.append(now_unix, "resume", json!({})),
            Reopening::Restart(reason) => log.append(now_unix, "restart", json!({"reason": reason})),
        }
        Ok(log)
    }

    /// Binds a log that has no kiosk key yet to `key` with a `kiosk-key` line.
    pub fn bind_key(&mut self, key: [u8; 32], now_unix: i64) -> Result<(), AuditError> {
        match self.kiosk_key.or(self.pending_key) {
            Some(bound) if bound == key => Ok(()),
            Some(bound) => Err(AuditError::ForeignLog { log: hex(&bound), expected: hex(&key) }),
            None if self.len == 0 => {
                self.pending_key = Some(key);
                Ok(())
            }
            None => {
                self.write(now_unix, "kiosk-key", &json!({"kiosk_key": hex(&key)}));
                self.kiosk_key = Some(key);
                Ok(())
            }
        }
    }

    /// Appends an entry of `kind` with `data` (counts, ids, decisions — never biometrics).
    pub fn append(&mut self, now_unix: i64, kind: &str, data: Value) {
        if self.len == 0 {
            let key = self.pending_key.take();
            self.write(now_unix, "start", &json!({"format": FORMAT, "kiosk_key": key.map(|k| hex(&k))}));
            self.kiosk_key = key;
        }
        self.write(now_unix, kind, &data);
    }

    fn write(&mut self, now_unix: i64, kind: &str, data: &Value) {
        let unsigned = format!(
            "{{\"seq\":{},\"time\":\"{}\",\"kind\":{},\"data\":{}",
            self.len + 1,
            format_utc(now_unix),
            Value::String(kind.to_owned()),
            data
        );
        let hash = chain(&self.last, unsigned.as_bytes());
        self.text.push_str(&unsigned);
        self.text.push_str(&format!(",\"hash\":\"{}\"}}\n", hex(&hash)));
        self.len += 1;
        self.last = hash;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The kiosk key the log is bound to.
    pub fn kiosk_key(&self) -> Option<[u8; 32]> {
        self.kiosk_key
    }

    /// The current head: the last line's `seq` and hash, for signing; `None` while empty.
    pub fn head(&self) -> Option<(u64, [u8; 32])> {
        (self.len > 0).then_some((self.len, self.last))
    }

    /// The log as JSON lines, ready to export.
    pub fn export(&self) -> &str {
        &self.text
    }

    /// The lines after line `seq` (to persist what is new).
    pub fn lines_after(&self, seq: u64) -> String {
        self.text.split_inclusive('\n').skip(usize::try_from(seq).unwrap_or(usize::MAX)).collect()
    }
}

/// A chain head signed by the kiosk key (see the module doc for the JSON and the message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedHead {
    pub kiosk_key: String,
    pub seq: u64,
    pub head: String,
    pub time: String,
    pub signature: String,
}

impl SignedHead {
    /// Parses the JSON of a signed head, checking every field's shape (not yet the signature).
    pub fn parse(text: &str) -> Result<SignedHead, String> {
        let head: SignedHead = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let lower_hex =
            |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !lower_hex(&head.kiosk_key, 64) || !lower_hex(&head.head, 64) || !lower_hex(&head.signature, 128) {
            return Err("kioskKey and head must be 64, signature 128 lowercase hex digits".into());
        }
        if head.seq == 0 {
            return Err("seq counts lines from 1".into());
        }
        if head.time.len() != 20 || parse_utc(&head.time).is_none() {
            return Err("time must be YYYY-MM-DDTHH:MM:SSZ".into());
        }
        Ok(head)
    }

    /// The bytes the kiosk signs.
    pub fn message(&self) -> Vec<u8> {
        format!("{HEAD_CONTEXT}\n{}\n{}\n{}\n{}", self.kiosk_key, self.seq, self.head, self.time).into_bytes()
    }

    /// Whether the signature is the kiosk key's over [`SignedHead::message`].
    pub fn verify(&self) -> bool {
        let Ok(key) = parse_key(&self.kiosk_key) else { return false };
        let Ok(key) = VerifyingKey::from_bytes(&key) else { return false };
        let Some(signature) = from_hex(&self.signature).and_then(|s| <[u8; 64]>::try_from(s).ok()) else {
            return false;
        };
        key.verify_strict(&self.message(), &Signature::from_bytes(&signature)).is_ok()
    }

    /// Signs `seq`/`head` at `now_unix` (native kiosks and tests; the browser signs with WebCrypto).
    pub fn sign(key: &SigningKey, seq: u64, head: [u8; 32], now_unix: i64) -> SignedHead {
        let mut signed = SignedHead {
            kiosk_key: hex(key.verifying_key().as_bytes()),
            seq,
            head: hex(&head),
            time: format_utc(now_unix),
            signature: String::new(),
        };
        signed.signature = hex(&key.sign(&signed.message()).to_bytes());
        signed
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a signed head serialises")
    }
}

/// Parses a file of signed heads: one JSON object a line (blank lines ignored), or a single
/// object however it is laid out (the authority's admin listener answers `GET /v1/anchor/<kioskKey>` one a line).
pub fn parse_anchors(text: &str) -> Result<Vec<SignedHead>, AuditError> {
    if let Ok(one) = SignedHead::parse(text.trim()) {
        return Ok(vec![one]);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| SignedHead::parse(l).map_err(|reason| AuditError::BadAnchor { index: i + 1, reason }))
        .collect()
}

/// What [`verify_log`] found.
#[derive(Debug, PartialEq)]
pub struct Verified {
    pub entries: usize,
    /// The key the log is bound to (hex), if any.
    pub kiosk_key: Option<String>,
    /// The anchors checked, and the highest anchored `seq` (0 without anchors).
    pub anchors: usize,
    pub anchored_seq: u64,
}

/// Checks an exported log: its chain over the exact bytes, its start line, that it belongs to
/// `expected_key` (if given), and against each anchor: signed by the log's kiosk key, and the log
/// has line `seq` with exactly that hash.
pub fn verify_log(text: &str, expected_key: Option<[u8; 32]>, anchors: &[SignedHead]) -> Result<Verified, AuditError> {
    let walk = walk(text)?;
    if let (Some(log), Some(expected)) = (walk.kiosk_key, expected_key) {
        if log != expected {
            return Err(AuditError::ForeignLog { log: hex(&log), expected: hex(&expected) });
        }
    }
    if expected_key.is_some() && walk.kiosk_key.is_none() {
        return Err(AuditError::Unbound);
    }
    let mut anchored_seq = 0;
    if !anchors.is_empty() {
        let key = hex(&walk.kiosk_key.ok_or(AuditError::Unbound)?);
        for (i, anchor) in anchors.iter().enumerate() {
            let index = i + 1;
            if anchor.kiosk_key != key {
                return Err(AuditError::ForeignAnchor { index, anchor: anchor.kiosk_key.clone(), log: key });
            }
            if !anchor.verify() {
                return Err(AuditError::BadAnchorSignature { index, seq: anchor.seq });
            }
        }
        // The latest anchor decides truncation; every anchor must match the line it names.
        let latest = anchors.iter().max_by_key(|a| a.seq).expect("anchors is not empty");
        let line_of =
            |seq: u64| usize::try_from(seq).ok().and_then(|s| s.checked_sub(1)).and_then(|i| walk.heads.get(i));
        if line_of(latest.seq).is_none() {
            return Err(AuditError::Truncated { lines: walk.heads.len(), seq: latest.seq, time: latest.time.clone() });
        }
        for (i, anchor) in anchors.iter().enumerate() {
            let Some(line) = line_of(anchor.seq) else {
                return Err(AuditError::BadAnchor { index: i + 1, reason: "seq counts lines from 1".into() });
            };
            let found = hex(line);
            if found != anchor.head {
                return Err(AuditError::Rewritten {
                    seq: anchor.seq,
                    time: anchor.time.clone(),
                    found,
                    anchored: anchor.head.clone(),
                });
            }
        }
        anchored_seq = latest.seq;
    }
    Ok(Verified {
        entries: walk.heads.len(),
        kiosk_key: walk.kiosk_key.map(|k| hex(&k)),
        anchors: anchors.len(),
        anchored_seq,
    })
}

/// Checks a whole exported log's chain; returns the number of lines.
pub fn verify(text: &str) -> Result<usize, AuditError> {
    verify_log(text, None, &[]).map(|v| v.entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn public(k: &SigningKey) -> [u8; 32] {
        k.verifying_key().to_bytes()
    }

    fn sample(k: &SigningKey) -> AuditLog {
        let mut log = AuditLog::new(Some(public(k)));
        log.append(T0, "config", json!({"entries": 3, "custody": "hmac-sha256-local"}));
        log.append(T0 + 60, "counts", json!({"faces": 12, "retained": 0}));
        log.append(T0 + 61, "alert", json!({"alert": 1, "collisions": 77, "status": "pending review"}));
        log.append(
            T0 + 90,
            "review",
            json!({"alert": 1, "decision": "confirmed", "reference_id": "REF-000002", "reviewer": "A. Reviewer"}),
        );
        log
    }

    fn anchor(k: &SigningKey, log: &AuditLog) -> SignedHead {
        let (seq, head) = log.head().unwrap();
        SignedHead::sign(k, seq, head, T0 + 100)
    }

    #[test]
    fn an_untouched_log_verifies_and_starts_with_its_kiosk_key() {
        let k = key(1);
        let log = sample(&k);
        assert_eq!(verify(log.export()), Ok(5));
        let first = log.export().lines().next().unwrap();
        assert!(first.starts_with("{\"seq\":1,\"time\":\"2027-01-15T08:00:00Z\",\"kind\":\"start\""), "{first}");
        assert!(first.contains(&hex(&public(&k))));
        let verified = verify_log(log.export(), Some(public(&k)), &[anchor(&k, &log)]).unwrap();
        assert_eq!(verified.anchored_seq, 5);
    }

    #[test]
    fn the_hash_covers_the_exact_bytes_of_each_line() {
        let log = sample(&key(1));
        let text = log.export();
        // Any changed byte before the hash: here a space that a re-serialiser would drop.
        let spaced = text.replacen("\"faces\":12", "\"faces\": 12", 1);
        assert_eq!(verify(&spaced), Err(AuditError::Altered { line: 3 }));
        assert_eq!(
            verify(&text.replace('\n', "\r\n")),
            Err(AuditError::Malformed {
                line: 1,
                reason: "the line must end with ,\"hash\":\"<64 lowercase hex>\"}".into()
            })
        );
        let reordered = text.replacen("{\"faces\":12,\"retained\":0}", "{\"retained\":0,\"faces\":12}", 1);
        assert_eq!(verify(&reordered), Err(AuditError::Altered { line: 3 }));
        for (i, _) in text.char_indices().filter(|&(_, c)| c != '\n') {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] ^= 0x01;
            let Ok(changed) = String::from_utf8(bytes) else { continue };
            assert!(verify(&changed).is_err(), "a change at byte {i} went unnoticed");
        }
    }

    #[test]
    fn edits_removals_and_reorderings_are_caught() {
        let log = sample(&key(1));
        let lines: Vec<&str> = log.export().lines().collect();
        let edited = log.export().replace("\"faces\":12", "\"faces\":2");
        assert_eq!(verify(&edited), Err(AuditError::Altered { line: 3 }));
        let removed = [lines[0], lines[1], lines[3], lines[4]].join("\n");
        assert_eq!(verify(&removed), Err(AuditError::BrokenChain { line: 3 }));
        let swapped = [lines[0], lines[2], lines[1], lines[3]].join("\n");
        assert!(matches!(verify(&swapped), Err(AuditError::BrokenChain { .. })));
        assert!(matches!(verify("not json"), Err(AuditError::Malformed { line: 1, .. })));
        // The hash first and multi-byte text last: refused, not a panic on a character boundary.
        let hash_first = format!(
            "{{\"hash\":\"00\",\"seq\":1,\"time\":\"2027-01-15T08:00:00Z\",\"kind\":\"start\",\"data\":\"{}\"}}",
            "é".repeat(60)
        );
        assert!(matches!(verify(&hash_first), Err(AuditError::Malformed { line: 1, .. })));
        assert_eq!(verify(""), Err(AuditError::NoStart));
        assert_eq!(verify(&lines[1..].join("\n")), Err(AuditError::BrokenChain { line: 1 }));
    }

    #[test]
    fn a_rewritten_log_with_a_recomputed_chain_is_caught_by_the_anchor() {
        let k = key(1);
        let log = sample(&k);
        let anchors = [anchor(&k, &log)];
        // The attacker rewrites the review and recomputes every hash: the chain alone verifies.
        let mut forged = AuditLog::new(Some(public(&k)));
        forged.append(T0, "config", json!({"entries": 3, "custody": "hmac-sha256-local"}));
        forged.append(T0 + 60, "counts", json!({"faces": 12, "retained": 0}));
        forged.append(T0 + 61, "alert", json!({"alert": 1, "collisions": 77, "status": "pending review"}));
        forged.append(T0 + 90, "review", json!({"alert": 1, "decision": "rejected", "reviewer": "A. Reviewer"}));
        assert_eq!(verify(forged.export()), Ok(5));
        let err = verify_log(forged.export(), None, &anchors).unwrap_err();
        assert!(matches!(err, AuditError::Rewritten { seq: 5, .. }), "{err}");
        assert!(err.to_string().contains("rewritten: line 5"));
    }

    #[test]
    fn a_truncated_log_is_caught_by_the_anchor() {
        let k = key(1);
        let log = sample(&k);
        let anchors = [anchor(&k, &log)];
        let cut: String = log.export().split_inclusive('\n').take(3).collect();
        assert_eq!(verify(&cut), Ok(3), "a cut log is a valid chain on its own");
        let err = verify_log(&cut, None, &anchors).unwrap_err();
        assert!(matches!(err, AuditError::Truncated { lines: 3, seq: 5, .. }), "{err}");
        assert!(err.to_string().contains("truncated"));
    }

    #[test]
    fn anchors_signed_by_another_key_or_altered_are_refused() {
        let (k, other) = (key(1), key(2));
        let log = sample(&k);
        let (seq, head) = log.head().unwrap();
        let foreign = SignedHead::sign(&other, seq, head, T0 + 100);
        assert!(foreign.verify());
        assert!(matches!(
            verify_log(log.export(), None, std::slice::from_ref(&foreign)),
            Err(AuditError::ForeignAnchor { index: 1, .. })
        ));
        // Another key's signature under this kiosk's key name.
        let relabelled = SignedHead { kiosk_key: hex(&public(&k)), ..foreign };
        assert!(!relabelled.verify());
        assert_eq!(
            verify_log(log.export(), None, &[relabelled]),
            Err(AuditError::BadAnchorSignature { index: 1, seq: 5 })
        );
        let mut moved = anchor(&k, &log);
        moved.time = format_utc(T0 + 200);
        assert!(!moved.verify(), "the time is signed");
    }

    #[test]
    fn a_transplanted_log_is_refused() {
        let (k, other) = (key(1), key(2));
        let log = sample(&k);
        let err = verify_log(log.export(), Some(public(&other)), &[]).unwrap_err();
        assert!(matches!(err, AuditError::ForeignLog { .. }));
        // Restoring it on another kiosk is refused too, and a second binding is refused.
        assert!(matches!(
            AuditLog::restore(log.export(), Some(public(&other)), Reopening::Resume, T0),
            Err(AuditError::ForeignLog { .. })
        ));
        let mut unbound = AuditLog::new(None);
        unbound.append(T0, "counts", json!({"faces": 1}));
        unbound.bind_key(public(&k), T0 + 1).unwrap();
        assert!(matches!(unbound.bind_key(public(&other), T0 + 2), Err(AuditError::ForeignLog { .. })));
        let mut text = unbound.export().to_owned();
        // Forge a second kiosk-key line with a valid chain: the verifier refuses the rebinding.
        let mut forged = AuditLog::restore(&text, None, Reopening::Resume, T0 + 3).unwrap();
        forged.write(T0 + 4, "kiosk-key", &json!({"kiosk_key": hex(&public(&other))}));
        text = forged.export().to_owned();
        assert_eq!(verify(&text), Err(AuditError::Rebound { line: 5 }));
    }

    #[test]
    fn a_restored_log_continues_its_chain_with_a_resume_or_restart_line() {
        let k = key(1);
        let log = sample(&k);
        let mut resumed = AuditLog::restore(log.export(), Some(public(&k)), Reopening::Resume, T0 + 300).unwrap();
        resumed.append(T0 + 360, "counts", json!({"faces": 3}));
        let mut restarted =
            AuditLog::restore(resumed.export(), Some(public(&k)), Reopening::Restart("unreachable".into()), T0 + 400)
                .unwrap();
        restarted.append(T0 + 420, "counts", json!({"faces": 1}));
        let text = restarted.export();
        assert!(text.starts_with(log.export()), "nothing before the restore changes");
        assert_eq!(verify(text), Ok(9));
        assert!(text.contains("\"kind\":\"resume\""));
        assert!(text.contains("\"kind\":\"restart\",\"data\":{\"reason\":\"unreachable\"}"));
        assert_eq!(restarted.lines_after(7).lines().count(), 2);
        // An old anchor still matches the continued log.
        assert!(verify_log(text, Some(public(&k)), &[anchor(&k, &log)]).is_ok());
        // A broken stored log is reported, not restarted.
        let broken = log.export().replace("\"faces\":12", "\"faces\":13");
        assert_eq!(
            AuditLog::restore(&broken, Some(public(&k)), Reopening::Resume, T0).err(),
            Some(AuditError::Altered { line: 3 })
        );
    }

    #[test]
    fn a_log_started_without_a_key_is_bound_once() {
        let k = key(1);
        let mut log = AuditLog::new(None);
        log.append(T0, "counts", json!({"faces": 1}));
        let restored = AuditLog::restore(log.export(), Some(public(&k)), Reopening::Resume, T0 + 5).unwrap();
        assert_eq!(restored.kiosk_key(), Some(public(&k)));
        assert!(restored.export().contains("\"kind\":\"kiosk-key\""));
        assert!(verify_log(restored.export(), Some(public(&k)), &[anchor(&k, &restored)]).is_ok());
    }

    #[test]
    fn signed_heads_round_trip_and_bad_shapes_are_refused() {
        let k = key(1);
        let signed = anchor(&k, &sample(&k));
        let json = signed.to_json();
        assert!(json.starts_with("{\"kioskKey\":\""));
        assert_eq!(SignedHead::parse(&json).unwrap(), signed);
        assert!(String::from_utf8(signed.message()).unwrap().starts_with("VEILWATCH-AUDIT-HEAD-V1\n"));
        assert!(SignedHead::parse(&json.replace("\"seq\":5", "\"seq\":0")).is_err());
        assert!(SignedHead::parse(&json.replace('}', ",\"extra\":1}")).is_err());
        assert!(matches!(parse_anchors(&format!("{json}\n\nnot json\n")), Err(AuditError::BadAnchor { index: 2, .. })));
        let pretty = serde_json::to_string_pretty(&signed).unwrap();
        assert_eq!(parse_anchors(&pretty).unwrap(), vec![signed.clone()]);
        assert_eq!(parse_anchors(&format!("{json}\n\n{json}\n")).unwrap().len(), 2);
    }
}
