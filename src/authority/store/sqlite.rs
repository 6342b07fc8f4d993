//! [`SqliteStore`]: the state of a single-node authority in one SQLite database file (the
//! default, `--state FILE`), or in a SQLite database in memory (`--state memory`: lost on restart,
//! for demonstrations only; the authority warns).
//!
//! SQLite through `rusqlite` with the bundled library: the most widely deployed embedded database,
//! whose transactions survive a killed process and a power cut (write-ahead log, `synchronous =
//! FULL`: a commit returns only once it is on disk), with a file format that has been stable since
//! 2004 and that an operator can inspect with the `sqlite3` shell. Every decision is one
//! `BEGIN IMMEDIATE` transaction, so two processes opening the same file (replicas on one host)
//! never both spend a kiosk's last face or both anchor one seq.
//!
//! Tables: `deployments` (id, registration summary JSON, issued, revoked), `materials` (deployment,
//! handle → material JSON), `revoked_kiosks` (deployment, kiosk), `disclosures` (in insertion
//! order), `nonces` (kiosk, nonce → expiry), `counters` (key → count, expiry or NULL for a counter
//! that never resets), `anchors` (kiosk, seq → signed head JSON: the append-only history),
//! `sealed_galleries` (deployment → sealed gallery, ciphertext) and `sealed_state` (key → value,
//! expiry or NULL: sealed custody's per-kiosk state). Expired nonces, counters and sealed state are
//! pruned every [`PRUNE_EVERY`] nonces.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{Applied, DeploymentState, DocumentRefused, StateStore, StoreError, StoreFuture, NONCE_TTL_S};
use crate::authority::anchor::{admit_to_history, AnchorError, SignedHead};
use crate::authority::budget::Charge;
use crate::authority::disclosure::Disclosure;
use crate::authority::registration::{Document, Material, Registration};

/// How long a transaction waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Expired nonces and counters are deleted once per this many nonces recorded.
pub const PRUNE_EVERY: u64 = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deployments (
  id BLOB PRIMARY KEY, registration TEXT, issued INTEGER, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS materials (
  deployment BLOB NOT NULL, handle BLOB NOT NULL, material TEXT NOT NULL, PRIMARY KEY (deployment, handle));
CREATE TABLE IF NOT EXISTS revoked_kiosks (
  deployment BLOB NOT NULL, kiosk BLOB NOT NULL, PRIMARY KEY (deployment, kiosk));
CREATE TABLE IF NOT EXISTS disclosures (
  id INTEGER PRIMARY KEY AUTOINCREMENT, deployment BLOB NOT NULL, entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS disclosures_by_deployment ON disclosures (deployment, id);
CREATE TABLE IF NOT EXISTS nonces (
  kiosk BLOB NOT NULL, nonce BLOB NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (kiosk, nonce));
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires INTEGER);
CREATE TABLE IF NOT EXISTS anchors (
  kiosk TEXT NOT NULL, seq INTEGER NOT NULL, signed TEXT NOT NULL, PRIMARY KEY (kiosk, seq));
CREATE TABLE IF NOT EXISTS sealed_galleries (deployment BLOB PRIMARY KEY, gallery BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sealed_state (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires INTEGER);
";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError(format!("SQLite: {e}"))
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("a stored {what} does not parse: {e}"))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(format!("cannot serialise state: {e}")))
}

pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    nonces_recorded: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (and its tables) on first use.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let connection = Connection::open(path)
            .map_err(|e| StoreError(format!("cannot open the state database {}: {e}", path.display())))?;
        // The write-ahead log answers "wal" (an in-memory database answers "memory").
        let mode: String = connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if mode != "wal" {
            return Err(StoreError(format!("{}: SQLite refused write-ahead logging ({mode})", path.display())));
        }
        SqliteStore::with(connection)
    }

    /// A database in this process's memory: lost on restart.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::with(Connection::open_in_memory()?)
    }

    fn with(connection: Connection) -> Result<SqliteStore, StoreError> {
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteStore { connection: Arc::new(Mutex::new(connection)), nonces_recorded: Arc::new(AtomicU64::new(0)) })
    }

    /// Runs `work` on the connection off the async workers (a commit waits for the disk).
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let connection = self.connection.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&mut connection.lock().unwrap_or_else(|e| e.into_inner())))
                .await
                .map_err(|e| StoreError(format!("the state database task failed: {e}")))?
        })
    }
}

fn apply_now(connection: &mut Connection, document: &Document) -> Result<Result<Applied, DocumentRefused>, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = document.deployment().0;
    transaction.execute("INSERT OR IGNORE INTO deployments (id) VALUES (?1)", params![&id[..]])?;
    let (stored, issued, revoked): (Option<String>, Option<i64>, bool) = transaction.query_row(
        "SELECT registration, issued, revoked FROM deployments WHERE id = ?1",
        params![&id[..]],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    let outcome = match document {
        Document::RegisterDeployment(_) if revoked => Err(DocumentRefused::DeploymentRevoked),
        Document::RegisterDeployment(registration) => {
            let summary = registration.summary();
            let stored = stored.map(|s| serde_json::from_str::<Registration>(&s)).transpose();
            match (stored.map_err(|e| corrupt("registration", e))?, issued) {
                (Some(stored), Some(issued)) if issued == registration.issued && stored == summary => {
                    Ok(Applied::Unchanged)
                }
                (Some(_), Some(issued)) if issued >= registration.issued => {
                    Err(DocumentRefused::NotNewer { stored: issued, offered: registration.issued })
                }
                _ => {
                    transaction.execute(
                        "UPDATE deployments SET registration = ?2, issued = ?3 WHERE id = ?1",
                        params![&id[..], json(&summary)?, registration.issued],
                    )?;
                    transaction.execute("DELETE FROM materials WHERE deployment = ?1", params![&id[..]])?;
                    let mut insert = transaction.prepare(
                        "INSERT OR REPLACE INTO materials (deployment, handle, material) VALUES (?1, ?2, ?3)",
                    )?;
                    for material in &registration.materials {
                        insert.execute(params![&id[..], &material.handle.0[..], json(material)?])?;
                    }
                    transaction.execute("DELETE FROM sealed_galleries WHERE deployment = ?1", params![&id[..]])?;
                    if let Some(gallery) = &registration.sealed_gallery {
                        transaction.execute(
                            "INSERT INTO sealed_galleries (deployment, gallery) VALUES (?1, ?2)",
                            params![&id[..], &gallery.0],
                        )?;
                    }
                    Ok(Applied::Changed)
                }
            }
        }
        Document::RevokeDeployment(_) if revoked => Ok(Applied::Unchanged),
        Document::RevokeDeployment(_) => {
            transaction.execute("UPDATE deployments SET revoked = 1 WHERE id = ?1", params![&id[..]])?;
            transaction.execute("DELETE FROM materials WHERE deployment = ?1", params![&id[..]])?;
            transaction.execute("DELETE FROM sealed_galleries WHERE deployment = ?1", params![&id[..]])?;
            Ok(Applied::Changed)
        }
        Document::RevokeKiosk(revocation) => {
            let added = transaction.execute(
                "INSERT OR IGNORE INTO revoked_kiosks (deployment, kiosk) VALUES (?1, ?2)",
                params![&id[..], &revocation.kiosk_key.0[..]],
            )?;
            Ok(if added == 1 { Applied::Changed } else { Applied::Unchanged })
        }
    };
    transaction.commit()?;
    Ok(outcome)
}

fn deployment_now(connection: &mut Connection, id: [u8; 16]) -> Result<Option<DeploymentState>, StoreError> {
    let row: Option<(Option<String>, bool)> = connection
        .query_row("SELECT registration, revoked FROM deployments WHERE id = ?1", params![&id[..]], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let Some((registration, revoked)) = row else { return Ok(None) };
    let registration =
        registration.map(|s| serde_json::from_str(&s)).transpose().map_err(|e| corrupt("registration", e))?;
    let mut kiosks = connection.prepare("SELECT kiosk FROM revoked_kiosks WHERE deployment = ?1 ORDER BY rowid")?;
    let revoked_kiosks = kiosks
        .query_map(params![&id[..]], |row| row.get::<_, Vec<u8>>(0))?
        .map(|kiosk| {
            <[u8; 32]>::try_from(kiosk?).map_err(|k| corrupt("revoked kiosk key", format!("{} bytes", k.len())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(DeploymentState { registration, revoked, revoked_kiosks }))
}

fn first_use_now(
    connection: &mut Connection,
    kiosk: [u8; 32],
    nonce: [u8; 16],
    now: i64,
    prune: bool,
) -> Result<bool, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if prune {
        transaction.execute("DELETE FROM nonces WHERE expires <= ?1", params![now])?;
        transaction.execute("DELETE FROM counters WHERE expires IS NOT NULL AND expires <= ?1", params![now])?;
        transaction.execute("DELETE FROM sealed_state WHERE expires IS NOT NULL AND expires <= ?1", params![now])?;
    }
    let seen: Option<i64> = transaction
        .query_row(
            "SELECT expires FROM nonces WHERE kiosk = ?1 AND nonce = ?2",
            params![&kiosk[..], &nonce[..]],
            |row| row.get(0),
        )
        .optional()?;
    let first = seen.is_none_or(|expires| expires <= now);
    if first {
        transaction.execute(
            "INSERT OR REPLACE INTO nonces (kiosk, nonce, expires) VALUES (?1, ?2, ?3)",
            params![&kiosk[..], &nonce[..], now + NONCE_TTL_S as i64],
        )?;
    }
    transaction.commit()?;
    Ok(first)
}

fn charge_now(connection: &mut Connection, charges: &[Charge], now: i64) -> Result<Option<Charge>, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut live = Vec::with_capacity(charges.len());
    for charge in charges {
        let row: Option<(i64, Option<i64>)> = transaction
            .query_row("SELECT count, expires FROM counters WHERE key = ?1", params![charge.key], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let used = row.filter(|(_, expires)| expires.is_none_or(|e| e > now)).map(|(count, _)| count);
        if used.unwrap_or(0) as u64 >= charge.limit {
            return Ok(Some(charge.clone()));
        }
        live.push(used.is_some());
    }
    for (charge, live) in charges.iter().zip(live) {
        if live {
            transaction.execute("UPDATE counters SET count = count + 1 WHERE key = ?1", params![charge.key])?;
        } else {
            transaction.execute(
                "INSERT OR REPLACE INTO counters (key, count, expires) VALUES (?1, 1, ?2)",
                params![charge.key, charge.window_end],
            )?;
        }
    }
    transaction.commit()?;
    Ok(None)
}

fn record_anchor_now(connection: &mut Connection, head: SignedHead) -> Result<Result<(), AnchorError>, StoreError> {
    let Ok(seq) = i64::try_from(head.seq) else {
        return Ok(Err(AnchorError::Malformed(format!("seq {} is above 2^63 - 1", head.seq))));
    };
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let at_seq: Option<String> = transaction
        .query_row("SELECT signed FROM anchors WHERE kiosk = ?1 AND seq = ?2", params![head.kiosk_key, seq], |row| {
            row.get(0)
        })
        .optional()?;
    let at_seq = at_seq.map(|s| SignedHead::parse(&s).map_err(|e| corrupt("anchor", e))).transpose()?;
    let latest: Option<i64> =
        transaction
            .query_row("SELECT MAX(seq) FROM anchors WHERE kiosk = ?1", params![head.kiosk_key], |row| row.get(0))?;
    let outcome = match admit_to_history(&head, at_seq.as_ref(), latest.map(|l| l as u64)) {
        Ok(true) => {
            transaction.execute(
                "INSERT INTO anchors (kiosk, seq, signed) VALUES (?1, ?2, ?3)",
                params![head.kiosk_key, seq, head.to_json()],
            )?;
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(refused) => Err(refused),
    };
    transaction.commit()?;
    Ok(outcome)
}

impl StateStore for SqliteStore {
    fn apply<'a>(&'a self, document: &'a Document) -> StoreFuture<'a, Result<Applied, DocumentRefused>> {
        let document = document.clone();
        self.run(move |c| apply_now(c, &document))
    }

    fn deployment<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<DeploymentState>> {
        let id = *deployment;
        self.run(move |c| deployment_now(c, id))
    }

    fn first_use_of_nonce<'a>(&'a self, kiosk: &'a [u8; 32], nonce: &'a [u8; 16], now: i64) -> StoreFuture<'a, bool> {
        let (kiosk, nonce) = (*kiosk, *nonce);
        let prune = self.nonces_recorded.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1;
        self.run(move |c| first_use_now(c, kiosk, nonce, now, prune))
    }

    fn charge<'a>(&'a self, charges: &'a [Charge], now: i64) -> StoreFuture<'a, Option<Charge>> {
        let charges = charges.to_vec();
        self.run(move |c| charge_now(c, &charges, now))
    }

    fn material<'a>(&'a self, deployment: &'a [u8; 16], handle: &'a [u8; 16]) -> StoreFuture<'a, Option<Material>> {
        let (deployment, handle) = (*deployment, *handle);
        self.run(move |c| {
            let material: Option<String> = c
                .query_row(
                    "SELECT material FROM materials WHERE deployment = ?1 AND handle = ?2",
                    params![&deployment[..], &handle[..]],
                    |row| row.get(0),
                )
                .optional()?;
            material.map(|m| serde_json::from_str(&m).map_err(|e| corrupt("material", e))).transpose()
        })
    }

    fn log_disclosure<'a>(&'a self, disclosure: &'a Disclosure) -> StoreFuture<'a, ()> {
        let disclosure = disclosure.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO disclosures (deployment, entry) VALUES (?1, ?2)",
                params![&disclosure.deployment.0[..], json(&disclosure)?],
            )?;
            Ok(())
        })
    }

    fn disclosures<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Vec<Disclosure>> {
        let deployment = *deployment;
        self.run(move |c| {
            let mut entries = c.prepare("SELECT entry FROM disclosures WHERE deployment = ?1 ORDER BY id")?;
            let rows = entries.query_map(params![&deployment[..]], |row| row.get::<_, String>(0))?;
            rows.map(|entry| serde_json::from_str(&entry?).map_err(|e| corrupt("disclosure", e))).collect()
        })
    }

    fn record_anchor(&self, head: SignedHead) -> StoreFuture<'_, Result<(), AnchorError>> {
        self.run(move |c| record_anchor_now(c, head))
    }

    fn anchors<'a>(&'a self, kiosk_hex: &'a str, after: u64) -> StoreFuture<'a, Vec<SignedHead>> {
        let (kiosk, after) = (kiosk_hex.to_owned(), i64::try_from(after).unwrap_or(i64::MAX));
        self.run(move |c| {
            let mut heads = c.prepare("SELECT signed FROM anchors WHERE kiosk = ?1 AND seq > ?2 ORDER BY seq")?;
            let rows = heads.query_map(params![kiosk, after], |row| row.get::<_, String>(0))?;
            rows.map(|head| SignedHead::parse(&head?).map_err(|e| corrupt("anchor", e))).collect()
        })
    }

    fn sealed_gallery<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<Vec<u8>>> {
        let deployment = *deployment;
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT gallery FROM sealed_galleries WHERE deployment = ?1",
                params![&deployment[..]],
                |row| row.get(0),
            )
            .optional()?)
        })
    }

    fn put_sealed<'a>(&'a self, key: &'a str, value: &'a [u8], ttl_s: Option<u64>, now: i64) -> StoreFuture<'a, ()> {
        let (key, value, expires) = (key.to_owned(), value.to_vec(), ttl_s.map(|t| now + t as i64));
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO sealed_state (key, value, expires) VALUES (?1, ?2, ?3)",
                params![key, value, expires],
            )?;
            Ok(())
        })
    }

    fn get_sealed<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        let key = key.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT value FROM sealed_state WHERE key = ?1 AND (expires IS NULL OR expires > ?2)",
                params![key, now],
                |row| row.get(0),
            )
            .optional()?)
        })
    }

    fn take_sealed<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        let key = key.to_owned();
        self.run(move |c| {
            let transaction = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value: Option<Vec<u8>> = transaction
                .query_row(
                    "SELECT value FROM sealed_state WHERE key = ?1 AND (expires IS NULL OR expires > ?2)",
                    params![key, now],
                    |row| row.get(0),
                )
                .optional()?;
            transaction.execute("DELETE FROM sealed_state WHERE key = ?1", params![key])?;
            transaction.commit()?;
            Ok(value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::budget;
    use crate::authority::registration::{
        Base64Bytes, Budgets, DeploymentRevocation, HexBytes, KioskRevocation, RegisteredCustody, Registration,
    };
    use ed25519_dalek::SigningKey;

    fn block<T>(future: StoreFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future).unwrap()
    }

    fn registration(issued: i64) -> Registration {
        Registration {
            deployment: HexBytes([1; 16]),
            issued,
            not_before: 0,
            not_after: 10,
            tables: 4,
            budgets: Budgets {
                faces_per_minute: 2,
                faces_per_day: 3,
                faces_total: 100,
                disclosures_per_hour: 1,
                deployment_disclosures_per_hour: 1,
                deployment_disclosures_per_day: 1,
            },
            kiosk_keys: vec![HexBytes([5; 32])],
            materials: vec![Material {
                handle: HexBytes([issued as u8; 16]),
                verifier: HexBytes([0; 32]),
                sealed: Base64Bytes(vec![1]),
            }],
            sealed_gallery: None,
            custody: None,
        }
    }

    #[test]
    fn registrations_replace_older_ones_and_revocations_are_final() {
        let store = SqliteStore::in_memory().unwrap();
        let register = |issued| Document::RegisterDeployment(registration(issued));
        assert_eq!(block(store.apply(&register(5))), Ok(Applied::Changed));
        assert_eq!(block(store.apply(&register(5))), Ok(Applied::Unchanged));
        assert_eq!(block(store.apply(&register(4))), Err(DocumentRefused::NotNewer { stored: 5, offered: 4 }));
        assert_eq!(block(store.apply(&register(6))), Ok(Applied::Changed));
        assert!(block(store.material(&[1; 16], &[5; 16])).is_none(), "the older registration's materials are gone");
        assert!(block(store.material(&[1; 16], &[6; 16])).is_some());
        let revoke_kiosk = Document::RevokeKiosk(KioskRevocation {
            deployment: HexBytes([1; 16]),
            kiosk_key: HexBytes([5; 32]),
            issued: 7,
        });
        assert_eq!(block(store.apply(&revoke_kiosk)), Ok(Applied::Changed));
        assert_eq!(block(store.deployment(&[1; 16])).unwrap().revoked_kiosks, vec![[5; 32]]);
        let revoke = Document::RevokeDeployment(DeploymentRevocation { deployment: HexBytes([1; 16]), issued: 8 });
        assert_eq!(block(store.apply(&revoke)), Ok(Applied::Changed));
        assert_eq!(block(store.apply(&register(9))), Err(DocumentRefused::DeploymentRevoked));
        assert!(block(store.deployment(&[1; 16])).unwrap().revoked);
    }

    #[test]
    fn a_charge_counts_all_of_its_counters_or_none() {
        let store = SqliteStore::in_memory().unwrap();
        let budgets = registration(1).budgets;
        let now = 1_800_000_000 - 1_800_000_000 % 86_400 + 30;
        let charge = |kiosk: &str, now| block(store.charge(&budget::face(&budgets, "d", kiosk, now), now));
        assert_eq!(charge("a", now), None);
        assert_eq!(charge("a", now), None);
        assert_eq!(charge("a", now).unwrap().counter, budget::Counter::FacesPerMinute);
        // The refused charge counted nothing: the next minute has one face of the day left.
        assert_eq!(charge("a", now + 60), None);
        assert_eq!(charge("a", now + 61).unwrap().counter, budget::Counter::FacesPerDay);
        assert_eq!(charge("b", now + 61), None, "another kiosk has its own minute and day");
        assert_eq!(charge("a", now + 86_400), None, "a new UTC day");
    }

    #[test]
    fn a_request_stamped_ahead_cannot_be_replayed_while_its_timestamp_is_fresh() {
        use crate::authority::credential::MAX_SKEW_S;
        let store = SqliteStore::in_memory().unwrap();
        // Stamped MAX_SKEW_S ahead of the authority's clock, received at 1000: fresh until
        // 1000 + 2 × MAX_SKEW_S. At every second of that its nonce is still remembered.
        let (received, stamped) = (1000, 1000 + MAX_SKEW_S);
        assert!(block(store.first_use_of_nonce(&[1; 32], &[2; 16], received)));
        for replay in received..=stamped + MAX_SKEW_S {
            assert!((stamped - replay).abs() <= MAX_SKEW_S, "the timestamp is still fresh at {replay}");
            assert!(!block(store.first_use_of_nonce(&[1; 32], &[2; 16], replay)), "replayed at {replay}");
        }
    }

    #[test]
    fn nonces_are_single_use_within_their_window() {
        let store = SqliteStore::in_memory().unwrap();
        assert!(block(store.first_use_of_nonce(&[1; 32], &[2; 16], 1000)));
        assert!(!block(store.first_use_of_nonce(&[1; 32], &[2; 16], 1000 + NONCE_TTL_S as i64 - 1)));
        assert!(block(store.first_use_of_nonce(&[3; 32], &[2; 16], 1001)), "per kiosk");
        assert!(block(store.first_use_of_nonce(&[1; 32], &[2; 16], 1000 + NONCE_TTL_S as i64)));
    }

    #[test]
    fn the_anchor_history_is_append_only() {
        let store = SqliteStore::in_memory().unwrap();
        let key = SigningKey::from_bytes(&[9; 32]);
        let head = |seq, hash| SignedHead::sign(&key, seq, [hash; 32], 1_796_176_200);
        block(store.record_anchor(head(10, 0xab))).unwrap();
        assert_eq!(block(store.record_anchor(head(9, 0xab))), Err(AnchorError::Backwards { stored: 10, offered: 9 }));
        block(store.record_anchor(head(10, 0xab))).unwrap();
        assert!(matches!(block(store.record_anchor(head(10, 0xcd))), Err(AnchorError::Conflict { seq: 10, .. })));
        block(store.record_anchor(head(11, 0xcd))).unwrap();
        let kiosk = head(1, 0).kiosk_key;
        let seqs =
            |after| block(store.anchors(&kiosk, after)).iter().map(|h| (h.seq, h.head.clone())).collect::<Vec<_>>();
        assert_eq!(seqs(0), vec![(10, "ab".repeat(32)), (11, "cd".repeat(32))], "the first head at 10 stays");
        assert_eq!(seqs(10), vec![(11, "cd".repeat(32))]);
    }

    #[test]
    fn sealed_state_is_taken_once_and_expires_and_a_gallery_follows_its_registration() {
        let store = SqliteStore::in_memory().unwrap();
        block(store.put_sealed("seed:k", b"one", Some(10), 100));
        assert_eq!(block(store.get_sealed("seed:k", 109)), Some(b"one".to_vec()));
        assert_eq!(block(store.get_sealed("seed:k", 110)), None, "expired");
        assert_eq!(block(store.take_sealed("seed:k", 110)), None, "an expired value is not taken");
        block(store.put_sealed("seed:k", b"two", None, 100));
        assert_eq!(block(store.take_sealed("seed:k", i64::MAX)), Some(b"two".to_vec()));
        assert_eq!(block(store.take_sealed("seed:k", i64::MAX)), None, "taken once");

        let with_gallery = |issued: i64, gallery: Option<Vec<u8>>| {
            Document::RegisterDeployment(Registration {
                sealed_gallery: gallery.map(crate::authority::registration::SealedGalleryBytes),
                ..registration(issued)
            })
        };
        block(store.apply(&with_gallery(5, Some(vec![9; 40])))).unwrap();
        assert_eq!(block(store.sealed_gallery(&[1; 16])), Some(vec![9; 40]));
        let summary = block(store.deployment(&[1; 16])).unwrap().registration.unwrap();
        assert!(summary.sealed_gallery.is_none(), "requests read the summary, not the gallery");
        assert_eq!(summary.custody(), RegisteredCustody::BfvSealed, "the summary keeps the custody");
        block(store.apply(&with_gallery(6, None))).unwrap();
        let summary = block(store.deployment(&[1; 16])).unwrap().registration.unwrap();
        assert_eq!(summary.custody(), RegisteredCustody::Voprf);
        assert_eq!(block(store.sealed_gallery(&[1; 16])), None, "a newer registration replaces it");
        block(store.apply(&with_gallery(7, Some(vec![8; 4])))).unwrap();
        let revoke = Document::RevokeDeployment(DeploymentRevocation { deployment: HexBytes([1; 16]), issued: 8 });
        block(store.apply(&revoke)).unwrap();
        assert_eq!(block(store.sealed_gallery(&[1; 16])), None, "a revocation deletes it");
    }
}
