//! The hash-chained audit log (G7): configuration, counts per minute, alerts and reviews, as JSON
//! lines, each carrying the SHA-256 of the previous one, so that a removed, reordered or edited line
//! breaks the chain. It never holds an image, a crop, an embedding or a code: only counts, ids and
//! the words of the people who reviewed alerts.
//!
//! Line: `{"data":{…},"hash":H,"kind":K,"prev":P,"seq":N,"time":T}` (keys sorted), where
//! `H = SHA-256(P_bytes || serialisation of the line without "hash")` and the first `P` is 64 zeros.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::hex::hex;
use crate::time::format_utc;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Error, PartialEq)]
pub enum AuditError {
    #[error("audit line {line} is not valid JSON of the audit format: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("audit line {line} does not follow line {}: the chain is broken (a line was removed, reordered or inserted)", line - 1)]
    BrokenChain { line: usize },
    #[error("audit line {line} was altered: its hash does not match its content")]
    Altered { line: usize },
}

pub struct AuditLog {
    lines: Vec<String>,
    last: String,
}

impl Default for AuditLog {
    fn default() -> Self {
        AuditLog { lines: Vec::new(), last: GENESIS.to_owned() }
    }
}

fn line_hash(prev: &str, unsigned: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(serde_json::to_vec(unsigned).expect("JSON values serialise"));
    hex(&hasher.finalize())
}

impl AuditLog {
    /// Appends an entry of `kind` with `data` (counts, ids, decisions — never biometrics).
    pub fn append(&mut self, now_unix: i64, kind: &str, data: Value) {
        let mut line = json!({
            "seq": self.lines.len() as u64 + 1,
            "time": format_utc(now_unix),
            "kind": kind,
            "data": data,
            "prev": self.last,
        });
        let hash = line_hash(&self.last, &line);
        line["hash"] = Value::String(hash.clone());
        self.lines.push(serde_json::to_string(&line).expect("JSON values serialise"));
        self.last = hash;
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The log as JSON lines, ready to export.
    pub fn export(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// Checks a whole exported log; returns the number of entries.
pub fn verify(text: &str) -> Result<usize, AuditError> {
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let malformed = |reason: &str| AuditError::Malformed { line, reason: reason.to_owned() };
        let mut value: Value = serde_json::from_str(raw).map_err(|e| malformed(&e.to_string()))?;
        let object = value.as_object_mut().ok_or_else(|| malformed("not an object"))?;
        let hash = match object.remove("hash") {
            Some(Value::String(h)) => h,
            _ => return Err(malformed("no hash")),
        };
        if object.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(AuditError::BrokenChain { line });
        }
        if object.get("seq").and_then(Value::as_u64) != Some(line as u64) {
            return Err(AuditError::BrokenChain { line });
        }
        if line_hash(&prev, &value) != hash {
            return Err(AuditError::Altered { line });
        }
        prev = hash;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        let mut log = AuditLog::default();
        log.append(1_800_000_000, "config", json!({"entries": 3, "custody": "hmac-sha256-local"}));
        log.append(1_800_000_060, "counts", json!({"faces": 12, "retained": 0}));
        log.append(1_800_000_061, "alert", json!({"alert": 1, "reference_id": "REF-000002", "collisions": 77}));
        log.append(1_800_000_090, "review", json!({"alert": 1, "decision": "confirmed", "reviewer": "A. Reviewer"}));
        log.export()
    }

    #[test]
    fn an_untouched_log_verifies() {
        assert_eq!(verify(&sample()), Ok(4));
    }

    #[test]
    fn edits_removals_and_reorderings_are_caught() {
        let log = sample();
        let lines: Vec<&str> = log.lines().collect();
        let edited = log.replace("\"faces\":12", "\"faces\":2");
        assert_eq!(verify(&edited), Err(AuditError::Altered { line: 2 }));
        let removed = [lines[0], lines[2], lines[3]].join("\n");
        assert_eq!(verify(&removed), Err(AuditError::BrokenChain { line: 2 }));
        let swapped = [lines[0], lines[2], lines[1], lines[3]].join("\n");
        assert!(matches!(verify(&swapped), Err(AuditError::BrokenChain { .. })));
        assert!(matches!(verify("not json"), Err(AuditError::Malformed { line: 1, .. })));
    }
}
