//! The authority's VOPRF evaluation (RFC 9497 mode 0x01): one [`MasterSecret`], and per
//! deployment the key pair DeriveKeyPair(master secret, info = deployment id), derived on first
//! use and kept (at most [`CACHED_DEPLOYMENTS`] of them). An answer is the evaluated elements
//! followed by one batched DLEQ proof, which the kiosk verifies against the deployment public key
//! in the signed watchlist header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::blind::prf::{DeploymentKey, MasterSecret, ELEMENT_BYTES};
use crate::blind::BlindError;

/// Derived deployment keys kept in memory; beyond that the cache starts again (a derivation is
/// one hash-to-scalar and one scalar multiplication).
pub const CACHED_DEPLOYMENTS: usize = 1024;

/// The master secret and the deployment keys derived from it so far.
pub struct DeploymentEvaluator {
    master: MasterSecret,
    keys: Mutex<HashMap<[u8; 16], Arc<DeploymentKey>>>,
}

impl DeploymentEvaluator {
    pub fn new(master: MasterSecret) -> DeploymentEvaluator {
        DeploymentEvaluator { master, keys: Mutex::new(HashMap::new()) }
    }

    /// The key pair of `deployment` (derived once, then cached).
    pub fn key(&self, deployment: &[u8; 16]) -> Result<Arc<DeploymentKey>, BlindError> {
        let mut keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = keys.get(deployment) {
            return Ok(Arc::clone(key));
        }
        if keys.len() >= CACHED_DEPLOYMENTS {
            keys.clear();
        }
        let key = Arc::new(DeploymentKey::derive(&self.master, deployment)?);
        keys.insert(*deployment, Arc::clone(&key));
        Ok(key)
    }

    /// `body` (blinded elements, 32 bytes each) evaluated under `deployment`'s key: the
    /// evaluated elements, then the batched proof.
    pub fn evaluate_for_deployment(&self, deployment: &[u8; 16], body: &[u8]) -> Result<Vec<u8>, BlindError> {
        self.key(deployment)?.evaluate_blinded(body)
    }

    /// The key check: exactly one element, answered like [`Self::evaluate_for_deployment`].
    pub fn key_check_for_deployment(&self, deployment: &[u8; 16], body: &[u8]) -> Result<Vec<u8>, BlindError> {
        if body.len() != ELEMENT_BYTES {
            return Err(BlindError::Authority(format!(
                "a key check carries exactly one element ({ELEMENT_BYTES} bytes), not {} bytes",
                body.len()
            )));
        }
        self.evaluate_for_deployment(deployment, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blind::prf::{BlindedBatch, Prf};

    #[test]
    fn each_deployment_is_answered_under_its_own_key_with_a_proof_the_kiosk_verifies() {
        let master = [8; 32];
        let evaluator = DeploymentEvaluator::new(MasterSecret::from_bytes(&master).unwrap());
        let (a, b) = ([1; 16], [2; 16]);
        let issuer_key = DeploymentKey::derive(&MasterSecret::from_bytes(&master).unwrap(), &a).unwrap();
        let inputs = vec![b"one".to_vec(), b"two".to_vec()];
        let batch = BlindedBatch::blind(inputs.clone()).unwrap();
        let answer = evaluator.evaluate_for_deployment(&a, batch.request()).unwrap();
        let outputs = batch.finish(&answer, &issuer_key.public_key()).unwrap();
        assert_eq!(
            *outputs[1],
            *issuer_key.evaluate(&inputs).unwrap()[1],
            "the issuer's enrolment key is the authority's"
        );
        assert_eq!(evaluator.key(&a).unwrap().public_key(), issuer_key.public_key(), "cached, not re-drawn");

        let answer_for_b = evaluator.evaluate_for_deployment(&b, batch.request()).unwrap();
        assert!(matches!(
            batch.finish(&answer_for_b, &issuer_key.public_key()),
            Err(BlindError::AuthorityUnverified(_))
        ));

        assert!(evaluator.key_check_for_deployment(&a, batch.request()).is_err(), "two elements are not a key check");
        assert!(evaluator.key_check_for_deployment(&a, &batch.request()[..ELEMENT_BYTES]).is_ok());
    }
}
