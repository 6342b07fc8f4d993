//! The one kiosk fixture of the tests that start an authority: a kiosk (its key, made in-process or
//! with `veilwatch kiosk-key new`, and the requests it signs), the deployment it serves — either a
//! registration made in-process (`TestDeployment`: no watchlist, for the protocol's tests) or a
//! watchlist enrolled and registered through the CLI as an issuer does it (`EnrolledDeployment`) —
//! blinded elements as a kiosk sends them, and an authority started for them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use curve25519_dalek::{RistrettoPoint, Scalar};
use ed25519_dalek::SigningKey;
use veilwatch::authority::credential::RequestSigner;
use veilwatch::authority::registration::{
    Budgets, Document, HexBytes, Registration, DEFAULT_DEPLOYMENT_DISCLOSURES_PER_DAY,
    DEFAULT_DEPLOYMENT_DISCLOSURES_PER_HOUR, DEFAULT_DISCLOSURES_PER_HOUR,
};

use super::http::now;
use super::process::{veilwatch, Server};

/// The deployment the tests' requests name (`Veilwatch-Deployment`, 32 hex): every evaluation is
/// under that deployment's key, derived from the authority's master secret.
pub const DEPLOYMENT: (&str, &str) = ("Veilwatch-Deployment", "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1");
/// Bytes of the batched proof that ends every evaluation answer.
pub const PROOF: usize = 64;

/// A kiosk: the Ed25519 key it signs its authority requests with.
#[derive(Clone)]
pub struct Kiosk {
    pub key: SigningKey,
    /// The key file, for a kiosk made with `veilwatch kiosk-key new`.
    pub file: Option<PathBuf>,
}

impl Kiosk {
    /// A kiosk with a fresh key made in-process.
    pub fn generate() -> Kiosk {
        Kiosk { key: SigningKey::generate(&mut rand_core::OsRng), file: None }
    }

    /// A kiosk whose key an operator made: `veilwatch kiosk-key new --out DIR/NAME.kiosk.key`
    /// (which must print the public key).
    pub fn from_cli(dir: &Path, name: &str) -> Kiosk {
        let file = dir.join(format!("{name}.kiosk.key"));
        let printed = veilwatch(&["kiosk-key", "new", "--out", file.to_str().unwrap()]);
        let secret: [u8; 32] =
            veilwatch::hex::from_hex(std::fs::read_to_string(&file).unwrap().trim()).unwrap().try_into().unwrap();
        let kiosk = Kiosk { key: SigningKey::from_bytes(&secret), file: Some(file) };
        assert_eq!(printed.trim(), kiosk.public_hex(), "kiosk-key new prints the public key");
        kiosk
    }

    /// The public key, 64 hex (what a registration lists).
    pub fn public_hex(&self) -> String {
        veilwatch::hex::hex(self.key.verifying_key().as_bytes())
    }

    /// What signs this kiosk's requests for `deployment`.
    pub fn signer(&self, deployment: &[u8; 16]) -> RequestSigner {
        RequestSigner::new(self.key.clone(), deployment)
    }
}

/// An issuer key folder from `veilwatch keygen` (the authority gets its `authority/` folder).
pub fn keygen(scratch: &Path) -> PathBuf {
    let keys = scratch.join("keys");
    veilwatch(&["keygen", "--out", keys.to_str().unwrap()]);
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

/// The disclosure caps `veilwatch registration deployment` sets by default, for a test that
/// chooses only the face budgets (it must set all three: these are 0 here):
/// `Budgets { faces_per_minute: 6, faces_per_day: 1000, faces_total: 1000, ..DEFAULT_CAPS }`.
pub const DEFAULT_CAPS: Budgets = Budgets {
    faces_per_minute: 0,
    faces_per_day: 0,
    faces_total: 0,
    disclosures_per_hour: DEFAULT_DISCLOSURES_PER_HOUR,
    deployment_disclosures_per_hour: DEFAULT_DEPLOYMENT_DISCLOSURES_PER_HOUR,
    deployment_disclosures_per_day: DEFAULT_DEPLOYMENT_DISCLOSURES_PER_DAY,
};

/// A deployment registered in-process: a random id, L tables, valid from an hour ago for a day,
/// one kiosk and the given budgets (no watchlist: the authority needs none to serve it).
pub struct TestDeployment {
    pub kiosk: Kiosk,
    pub registration: Registration,
}

impl TestDeployment {
    pub fn new(tables: u16, budgets: Budgets) -> TestDeployment {
        let mut id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        let kiosk = Kiosk::generate();
        let registration = Registration {
            deployment: HexBytes(id),
            issued: now(),
            not_before: now() - 3600,
            not_after: now() + 86_400,
            tables,
            budgets,
            kiosk_keys: vec![HexBytes(kiosk.key.verifying_key().to_bytes())],
            materials: Vec::new(),
            sealed_gallery: None,
            custody: None,
        };
        TestDeployment { kiosk, registration }
    }

    pub fn id(&self) -> [u8; 16] {
        self.registration.deployment.0
    }

    /// What signs the deployment's kiosk's requests.
    pub fn signer(&self) -> RequestSigner {
        self.kiosk.signer(&self.id())
    }

    /// Another kiosk of this deployment (added to the registration; `document` then lists both).
    pub fn add_kiosk(&mut self) -> Kiosk {
        let kiosk = Kiosk::generate();
        self.registration.kiosk_keys.push(HexBytes(kiosk.key.verifying_key().to_bytes()));
        kiosk
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

/// An issuer's deployment, made through the CLI as an issuer makes one: key folder, an
/// authority-custody watchlist with its reviewer materials; its kiosks are registered with
/// [`EnrolledDeployment::registration`].
pub struct EnrolledDeployment {
    pub keys: PathBuf,
    pub watchlist: PathBuf,
    pub materials: PathBuf,
    pub issuer_public: PathBuf,
    /// The watchlist id, 32 hex (the deployment id).
    pub id_hex: String,
    pub id: [u8; 16],
    pub tables: usize,
}

impl EnrolledDeployment {
    /// `veilwatch keygen`, then `veilwatch enroll --custody authority` of the person folders in
    /// `dataset` (`per_identity` photos each at most), in `dir`.
    pub fn enrol(dir: &Path, dataset: &Path, per_identity: usize) -> EnrolledDeployment {
        let keys = keygen(dir);
        let watchlist = dir.join("watchlist.vwl");
        veilwatch(&[
            "enroll",
            dataset.to_str().unwrap(),
            "--keys",
            keys.to_str().unwrap(),
            "--out",
            watchlist.to_str().unwrap(),
            "--custody",
            "authority",
            "--per-identity",
            &per_identity.to_string(),
        ]);
        let bytes = std::fs::read(&watchlist).unwrap();
        let issuer_public = keys.join("public/issuer.pub");
        let issuer = read_public_key(&issuer_public);
        let parsed = veilwatch::blind::format::Watchlist::parse(bytes, &issuer).unwrap();
        let id = parsed.header.watchlist_id;
        let mut materials = watchlist.clone().into_os_string();
        materials.push(".materials.json");
        EnrolledDeployment {
            keys,
            watchlist,
            materials: PathBuf::from(materials),
            issuer_public,
            id_hex: veilwatch::hex::hex(&id),
            id,
            tables: parsed.header.tables as usize,
        }
    }

    /// `veilwatch registration deployment` for `kiosks` with `budgets`, written to `out`.
    pub fn registration(&self, kiosks: &[&Kiosk], budgets: Budgets, out: &Path) -> PathBuf {
        let mut args: Vec<String> = [
            "registration",
            "deployment",
            "--keys",
            self.keys.to_str().unwrap(),
            "--watchlist",
            self.watchlist.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        if self.materials.exists() {
            args.extend(["--materials".into(), self.materials.to_str().unwrap().into()]);
        }
        for kiosk in kiosks {
            args.extend(["--kiosk-key".into(), kiosk.public_hex()]);
        }
        let Budgets {
            faces_per_minute,
            faces_per_day,
            faces_total,
            disclosures_per_hour,
            deployment_disclosures_per_hour,
            deployment_disclosures_per_day,
        } = budgets;
        for (flag, value) in [
            ("--faces-per-minute", faces_per_minute as u64),
            ("--faces-per-day", faces_per_day as u64),
            ("--faces-total", faces_total),
            ("--disclosures-per-hour", disclosures_per_hour as u64),
            ("--deployment-disclosures-per-hour", deployment_disclosures_per_hour as u64),
            ("--deployment-disclosures-per-day", deployment_disclosures_per_day as u64),
        ] {
            args.extend([flag.into(), value.to_string()]);
        }
        args.extend(["--out".into(), out.to_str().unwrap().into()]);
        veilwatch(&args.iter().map(String::as_str).collect::<Vec<_>>());
        out.to_owned()
    }
}

/// The Ed25519 public key in a hex file (`keys/public/issuer.pub`).
pub fn read_public_key(path: &Path) -> ed25519_dalek::VerifyingKey {
    let text = std::fs::read_to_string(path).unwrap();
    let bytes: [u8; 32] = veilwatch::hex::from_hex(text.trim()).unwrap().try_into().unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap()
}

/// One `veilwatch authority --keys KEYS/authority EXTRA…` (KEYS: the issuer's folder from keygen)
/// on a free loopback port, its admin listener on another, with its stdout and stderr in a log in
/// `dir`, once it accepts connections.
pub fn authority(keys: &Path, extra: &[&str], dir: &Path) -> Server {
    let authority_keys = keys.join("authority");
    let mut args = vec!["authority", "--keys", authority_keys.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_logged(&args, dir)
}

/// [`authority`] started with `deployment`'s registration (`--register`).
pub fn authority_for(keys: &Path, deployment: &TestDeployment, dir: &Path, extra: &[&str]) -> Server {
    let document =
        deployment.document(keys, dir, &format!("registration-{}.txt", deployment.registration.deployment.to_hex()));
    let mut args = vec!["--register", document.to_str().unwrap()];
    args.extend_from_slice(extra);
    authority(keys, &args, dir)
}
