//! The authority's side of `voprf-ristretto255-sha512` (RFC 9497 VOPRF mode): the
//! [`MasterSecret`], each deployment's [`DeploymentKey`] derived from it (the issuer evaluates
//! directly with it at enrolment; the authority answers blinded elements with it, with a batched
//! DLEQ proof), and [`InProcessAuthority`], the same answers without a network. Secrets are wiped
//! on drop and never printed.

use rand_core::{OsRng, RngCore};
use voprf::{BlindedElement, Group, Ristretto255, VoprfServer};
use zeroize::Zeroizing;

use super::voprf_client::{AuthorityEndpoint, OprfTransport};
use super::{Prf, PrfSuite, ELEMENT_BYTES, MASTER_SECRET_BYTES, PROOF_BYTES, PUBLIC_KEY_BYTES};
use crate::blind::BlindError;

/// The authority's master secret: 32 random bytes from which every deployment's key pair is
/// derived ([`DeploymentKey::derive`]). Wiped on drop; never printed.
pub struct MasterSecret(Zeroizing<[u8; MASTER_SECRET_BYTES]>);

impl MasterSecret {
    pub fn generate() -> MasterSecret {
        let mut bytes = Zeroizing::new([0u8; MASTER_SECRET_BYTES]);
        OsRng.fill_bytes(&mut bytes[..]);
        MasterSecret(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<MasterSecret, BlindError> {
        let bytes: [u8; MASTER_SECRET_BYTES] = bytes.try_into().map_err(|_| {
            BlindError::KeyFile(format!(
                "the authority master secret must be {MASTER_SECRET_BYTES} bytes, not {}",
                bytes.len()
            ))
        })?;
        Ok(MasterSecret(Zeroizing::new(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8; MASTER_SECRET_BYTES] {
        &self.0
    }
}

impl std::fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterSecret(..)")
    }
}

/// One deployment's VOPRF key pair: RFC 9497 DeriveKeyPair(master secret, info = watchlist id).
/// The issuer evaluates directly with it at enrolment; the authority answers a deployment's
/// blinded elements with it, with a proof. The secret scalar is wiped on drop.
pub struct DeploymentKey {
    server: VoprfServer<Ristretto255>,
    deployment: [u8; 16],
    public_key: [u8; PUBLIC_KEY_BYTES],
}

impl DeploymentKey {
    pub fn derive(master: &MasterSecret, deployment: &[u8; 16]) -> Result<DeploymentKey, BlindError> {
        let server = VoprfServer::<Ristretto255>::new_from_seed(master.as_bytes(), deployment).map_err(|_| {
            BlindError::KeyFile("the deployment key could not be derived from the master secret".into())
        })?;
        let public_key = Ristretto255::serialize_elem(server.get_public_key()).into();
        Ok(DeploymentKey { server, deployment: *deployment, public_key })
    }

    /// The deployment (watchlist id) the key was derived for.
    pub fn deployment(&self) -> &[u8; 16] {
        &self.deployment
    }

    pub fn public_key(&self) -> [u8; PUBLIC_KEY_BYTES] {
        self.public_key
    }

    /// Evaluates blinded elements (`ELEMENT_BYTES` each, concatenated) for a client: the answer
    /// is the evaluated elements in the same order followed by one batched DLEQ proof
    /// (`PROOF_BYTES`). Malformed elements are refused as a whole.
    pub fn evaluate_blinded(&self, body: &[u8]) -> Result<Vec<u8>, BlindError> {
        if body.is_empty() || !body.len().is_multiple_of(ELEMENT_BYTES) {
            return Err(BlindError::Authority(format!("request of {} bytes is not a list of elements", body.len())));
        }
        let blinded = body
            .chunks_exact(ELEMENT_BYTES)
            .map(BlindedElement::<Ristretto255>::deserialize)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| BlindError::Authority("a request element is not a valid group element".into()))?;
        let evaluated = self
            .server
            .batch_blind_evaluate(&mut OsRng, &blinded)
            .map_err(|_| BlindError::Authority(format!("a batch of {} elements cannot be evaluated", blinded.len())))?;
        let mut out = Vec::with_capacity(body.len() + PROOF_BYTES);
        for element in &evaluated.messages {
            out.extend_from_slice(&element.serialize());
        }
        out.extend_from_slice(&evaluated.proof.serialize());
        Ok(out)
    }
}

impl Prf for DeploymentKey {
    fn suite(&self) -> PrfSuite {
        PrfSuite::VoprfRistretto255Sha512
    }

    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        inputs
            .iter()
            .map(|x| {
                self.server
                    .evaluate(x)
                    .map(|o| Zeroizing::new(o.to_vec()))
                    .map_err(|_| BlindError::Authority("VOPRF input rejected".into()))
            })
            .collect()
    }

    fn bound_watchlist(&self) -> Option<[u8; 16]> {
        Some(self.deployment)
    }

    fn public_key(&self) -> Option<[u8; PUBLIC_KEY_BYTES]> {
        Some(self.public_key)
    }
}

/// An in-process authority for one deployment, for the issuer's own checks and for tests of the
/// client side: it answers both endpoints as the service does (1 element for the key check).
pub struct InProcessAuthority<'a>(pub &'a DeploymentKey);

impl OprfTransport for InProcessAuthority<'_> {
    fn send(&self, endpoint: AuthorityEndpoint, deployment: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        if deployment != self.0.deployment() {
            return Err(BlindError::Authority("the authority holds no key for this deployment".into()));
        }
        if endpoint == AuthorityEndpoint::KeyCheck && blinded.len() != ELEMENT_BYTES {
            return Err(BlindError::Authority("a key check carries exactly one element".into()));
        }
        self.0.evaluate_blinded(blinded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blind::prf::check_public_key;

    fn key(seed: u8, deployment: u8) -> DeploymentKey {
        DeploymentKey::derive(&MasterSecret::from_bytes(&[seed; 32]).unwrap(), &[deployment; 16]).unwrap()
    }

    #[test]
    fn each_deployment_has_its_own_key_derived_from_the_master_secret() {
        let (a, again, other_list, other_master) = (key(1, 1), key(1, 1), key(1, 2), key(2, 1));
        assert_eq!(a.public_key(), again.public_key(), "derivation is deterministic");
        assert_ne!(a.public_key(), other_list.public_key());
        assert_ne!(a.public_key(), other_master.public_key());
        let input = vec![b"x".to_vec()];
        assert_ne!(*a.evaluate(&input).unwrap()[0], *other_list.evaluate(&input).unwrap()[0]);
        assert!(check_public_key(&a.public_key()) && !check_public_key(&[0; 32]) && !check_public_key(&[0xFF; 32]));
    }
}
