//! [`MemoryStore`]: the state of a single-node authority, in the process, behind one mutex (every
//! step is a few map operations; nothing awaits while it is held). Lost on restart: a single node
//! that must keep budgets across restarts runs with `--state redis://…` instead.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{Applied, DeploymentState, DocumentRefused, StateStore, StoreError, StoreFuture, NONCE_TTL_S};
use crate::authority::anchor::{AnchorError, SignedHead};
use crate::authority::budget::Charge;
use crate::authority::disclosure::Disclosure;
use crate::authority::registration::{Document, Material};

#[derive(Default)]
struct Deployment {
    state: DeploymentState,
    materials: HashMap<[u8; 16], Material>,
    disclosures: Vec<Disclosure>,
}

/// A map whose entries expire, pruned when it has doubled since the last pruning.
struct Expiring<K, V> {
    entries: HashMap<K, (V, Option<i64>)>,
    prune_at: usize,
}

impl<K: std::hash::Hash + Eq, V> Default for Expiring<K, V> {
    fn default() -> Self {
        Expiring { entries: HashMap::new(), prune_at: 1024 }
    }
}

impl<K: std::hash::Hash + Eq, V> Expiring<K, V> {
    fn live(&mut self, key: &K, now: i64) -> Option<&mut V> {
        match self.entries.get_mut(key) {
            Some((value, expiry)) if expiry.map_or(true, |e| e > now) => Some(value),
            _ => None,
        }
    }

    fn insert(&mut self, key: K, value: V, expiry: Option<i64>, now: i64) {
        if self.entries.len() >= self.prune_at {
            self.entries.retain(|_, (_, e)| e.map_or(true, |e| e > now));
            self.prune_at = (self.entries.len() * 2).max(1024);
        }
        self.entries.insert(key, (value, expiry));
    }
}

#[derive(Default)]
struct State {
    deployments: HashMap<[u8; 16], Deployment>,
    nonces: Expiring<([u8; 32], [u8; 16]), ()>,
    counters: Expiring<String, u64>,
    anchors: HashMap<String, SignedHead>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn apply_now(&self, document: &Document) -> Result<Applied, DocumentRefused> {
        let mut state = self.lock();
        let deployment = state.deployments.entry(document.deployment().0).or_default();
        match document {
            Document::RegisterDeployment(registration) => {
                if deployment.state.revoked {
                    return Err(DocumentRefused::DeploymentRevoked);
                }
                if let Some(stored) = &deployment.state.registration {
                    if stored.issued == registration.issued && *stored == registration.summary() {
                        return Ok(Applied::Unchanged);
                    }
                    if stored.issued >= registration.issued {
                        return Err(DocumentRefused::NotNewer { stored: stored.issued, offered: registration.issued });
                    }
                }
                deployment.state.registration = Some(registration.summary());
                deployment.materials = registration.materials.iter().map(|m| (m.handle.0, m.clone())).collect();
                Ok(Applied::Changed)
            }
            Document::RevokeDeployment(_) if deployment.state.revoked => Ok(Applied::Unchanged),
            Document::RevokeDeployment(_) => {
                deployment.state.revoked = true;
                deployment.materials.clear();
                Ok(Applied::Changed)
            }
            Document::RevokeKiosk(revocation) => {
                if deployment.state.revoked_kiosks.contains(&revocation.kiosk_key.0) {
                    return Ok(Applied::Unchanged);
                }
                deployment.state.revoked_kiosks.push(revocation.kiosk_key.0);
                Ok(Applied::Changed)
            }
        }
    }

    fn charge_now(&self, charges: &[Charge], now: i64) -> Option<Charge> {
        let mut state = self.lock();
        for charge in charges {
            let used = state.counters.live(&charge.key, now).map_or(0, |c| *c);
            if used >= charge.limit {
                return Some(charge.clone());
            }
        }
        for charge in charges {
            match state.counters.live(&charge.key, now) {
                Some(count) => *count += 1,
                None => state.counters.insert(charge.key.clone(), 1, charge.window_end, now),
            }
        }
        None
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok::<T, StoreError>(value)))
}

impl StateStore for MemoryStore {
    fn apply<'a>(&'a self, document: &'a Document) -> StoreFuture<'a, Result<Applied, DocumentRefused>> {
        ready(self.apply_now(document))
    }

    fn deployment<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<DeploymentState>> {
        ready(self.lock().deployments.get(deployment).map(|d| d.state.clone()))
    }

    fn first_use_of_nonce<'a>(&'a self, kiosk: &'a [u8; 32], nonce: &'a [u8; 16], now: i64) -> StoreFuture<'a, bool> {
        let mut state = self.lock();
        let key = (*kiosk, *nonce);
        let first = state.nonces.live(&key, now).is_none();
        if first {
            state.nonces.insert(key, (), Some(now + NONCE_TTL_S as i64), now);
        }
        ready(first)
    }

    fn charge<'a>(&'a self, charges: &'a [Charge], now: i64) -> StoreFuture<'a, Option<Charge>> {
        ready(self.charge_now(charges, now))
    }

    fn material<'a>(&'a self, deployment: &'a [u8; 16], handle: &'a [u8; 16]) -> StoreFuture<'a, Option<Material>> {
        ready(self.lock().deployments.get(deployment).and_then(|d| d.materials.get(handle).cloned()))
    }

    fn log_disclosure<'a>(&'a self, disclosure: &'a Disclosure) -> StoreFuture<'a, ()> {
        self.lock().deployments.entry(disclosure.deployment.0).or_default().disclosures.push(disclosure.clone());
        ready(())
    }

    fn disclosures<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Vec<Disclosure>> {
        ready(self.lock().deployments.get(deployment).map(|d| d.disclosures.clone()).unwrap_or_default())
    }

    fn record_anchor(&self, head: SignedHead) -> StoreFuture<'_, Result<(), AnchorError>> {
        let mut state = self.lock();
        if let Some(stored) = state.anchors.get(&head.kiosk_key) {
            if head.seq < stored.seq {
                return ready(Err(AnchorError::Backwards { stored: stored.seq, offered: head.seq }));
            }
        }
        state.anchors.insert(head.kiosk_key.clone(), head);
        ready(Ok(()))
    }

    fn latest_anchor<'a>(&'a self, kiosk_hex: &'a str) -> StoreFuture<'a, Option<SignedHead>> {
        ready(self.lock().anchors.get(kiosk_hex).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::budget;
    use crate::authority::registration::{
        Base64Bytes, Budgets, DeploymentRevocation, HexBytes, KioskRevocation, Registration,
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
            budgets: Budgets { faces_per_minute: 2, faces_per_day: 3, faces_total: 100, disclosures_per_hour: 1 },
            kiosk_keys: vec![HexBytes([5; 32])],
            materials: vec![Material {
                handle: HexBytes([issued as u8; 16]),
                verifier: HexBytes([0; 32]),
                sealed: Base64Bytes(vec![1]),
            }],
        }
    }

    #[test]
    fn registrations_replace_older_ones_and_revocations_are_final() {
        let store = MemoryStore::default();
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
        let store = MemoryStore::default();
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
    fn nonces_are_single_use_within_their_window() {
        let store = MemoryStore::default();
        assert!(block(store.first_use_of_nonce(&[1; 32], &[2; 16], 1000)));
        assert!(!block(store.first_use_of_nonce(&[1; 32], &[2; 16], 1000 + NONCE_TTL_S as i64 - 1)));
        assert!(block(store.first_use_of_nonce(&[3; 32], &[2; 16], 1001)), "per kiosk");
        assert!(block(store.first_use_of_nonce(&[1; 32], &[2; 16], 1000 + NONCE_TTL_S as i64)));
    }

    #[test]
    fn anchors_never_go_backwards() {
        let store = MemoryStore::default();
        let key = SigningKey::from_bytes(&[9; 32]);
        let head = |seq| SignedHead::sign(&key, seq, [0xab; 32], 1_796_176_200);
        block(store.record_anchor(head(10))).unwrap();
        assert_eq!(block(store.record_anchor(head(9))), Err(AnchorError::Backwards { stored: 10, offered: 9 }));
        block(store.record_anchor(head(11))).unwrap();
        assert_eq!(block(store.latest_anchor(&head(1).kiosk_key)).unwrap().seq, 11);
    }
}
