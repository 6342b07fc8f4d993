//! A deployment and its kiosk made in-process for the authority's tests: an issuer key folder,
//! a registration signed by its issuer for one fresh kiosk key, blinded elements as a kiosk sends
//! them, and an authority started with that registration.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use curve25519_dalek::{RistrettoPoint, Scalar};
use ed25519_dalek::SigningKey;
use veilwatch::authority::credential::RequestSigner;
use veilwatch::authority::registration::{Budgets, Document, HexBytes, Registration};

use super::http::now;
use super::process::{bin, Server};

/// The deployment the tests' requests name (`Veilwatch-Deployment`, 32 hex): every evaluation is
/// under that deployment's key, derived from the authority's master secret.
pub const DEPLOYMENT: (&str, &str) = ("Veilwatch-Deployment", "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1");
/// Bytes of the batched proof that ends every evaluation answer.
pub const PROOF: usize = 64;

/// An issuer key folder from `veilwatch keygen` (the authority gets its `authority/` folder).
pub fn keygen(scratch: &Path) -> PathBuf {
    let keys = scratch.join("keys");
    let out = Command::new(bin()).args(["keygen", "--out", keys.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    keys
}

/// `n` valid blinded elements (distinct ristretto255 points), as a kiosk's request body.
pub fn elements(n: usize, seed: u64) -> Vec<u8> {
    (0..n as u64)
        .flat_map(|i| RistrettoPoint::mul_base(&Scalar::from(seed * 1_000_000 + i + 1)).compress().to_bytes())
        .collect()
}
/// The issuer's signing key of a key folder (what `veilwatch registration` signs with).
pub fn issuer_key(keys: &Path) -> SigningKey {
    let text = std::fs::read_to_string(keys.join("secret/issuer.key")).unwrap();
    SigningKey::from_bytes(&veilwatch::from_hex(text.trim()).unwrap().try_into().unwrap())
}

/// Budgets that do not get in a test's way.
pub fn generous() -> Budgets {
    Budgets {
        faces_per_minute: 100_000,
        faces_per_day: 1_000_000,
        faces_total: 10_000_000,
        disclosures_per_hour: 10,
        deployment_disclosures_per_hour: 100,
        deployment_disclosures_per_day: 1000,
    }
}

/// A deployment for the tests: a random id, L tables, valid from an hour ago for a day, one
/// kiosk (a fresh key) and the given budgets.
pub struct TestDeployment {
    pub kiosk: SigningKey,
    pub registration: Registration,
}

impl TestDeployment {
    pub fn new(tables: u16, budgets: Budgets) -> TestDeployment {
        let mut id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        let kiosk = SigningKey::generate(&mut rand_core::OsRng);
        let registration = Registration {
            deployment: HexBytes(id),
            issued: now(),
            not_before: now() - 3600,
            not_after: now() + 86_400,
            tables,
            budgets,
            kiosk_keys: vec![HexBytes(kiosk.verifying_key().to_bytes())],
            materials: Vec::new(),
        };
        TestDeployment { kiosk, registration }
    }

    pub fn id(&self) -> [u8; 16] {
        self.registration.deployment.0
    }

    pub fn signer(&self) -> RequestSigner {
        RequestSigner::new(self.kiosk.clone(), &self.id())
    }

    /// The registration, signed by the key folder's issuer, written to `scratch/NAME`.
    pub fn document(&self, keys: &Path, scratch: &Path, name: &str) -> PathBuf {
        let path = scratch.join(name);
        let text = Document::RegisterDeployment(self.registration.clone()).sign(&issuer_key(keys));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// One face of this deployment: L valid blinded elements.
    pub fn face(&self, seed: u64) -> Vec<u8> {
        elements(self.registration.tables as usize, seed)
    }
}

/// `veilwatch authority --keys KEYS/authority --register DOC ARGS…` for one deployment.
pub fn authority_for(keys: &Path, deployment: &TestDeployment, scratch: &Path, extra: &[&str]) -> Server {
    let document = deployment.document(
        keys,
        scratch,
        &format!("registration-{}.txt", deployment.registration.deployment.to_hex()),
    );
    let authority_keys = keys.join("authority");
    let mut args =
        vec!["authority", "--keys", authority_keys.to_str().unwrap(), "--register", document.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args, scratch)
}
