//! Writes the fuzz targets' seed inputs: valid files, signed with the keys the targets verify
//! against (fuzz/fuzz_targets/), so that the fuzzer starts from inputs that reach every check.
//!
//! `cargo run --release --example write_fuzz_seeds -- fuzz/seeds` writes
//! - `watchlist_parser/small.vwl`: a small synthetic watchlist (3 entries padded to the class of 64,
//!   L = 8, m = 8, records without photo), issuer key `[7; 32]`, local custody;
//! - `watchlist_parser/authority.vwl`: the same under authority custody (suite 3, its header
//!   carrying the deployment public key derived from master secret `[3; 32]` and id `[4; 16]`);
//! - `profile_parser/profile.vwp` and `profile_parser/cosigned.vwp`: a deployment profile (authority
//!   custody, for `authority.vwl`) signed by issuer key `[1; 32]`, alone and co-signed by overseer
//!   key `[2; 32]`.
//!
//! Each seed is parsed back under the target's keys before it is written.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use veilwatch::blind::enroll::{build, Enrolment, WatchlistParams};
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::prf::{DeploymentKey, LocalHmac, MasterSecret, Prf};
use veilwatch::blind::record::EntryRecord;
use veilwatch::governance::profile::{cosign, Profile, SignedProfile};
use veilwatch::{Embedding, EMBEDDING_DIM};

/// Any fixed time: the parsers do not look at the clock.
const NOW: i64 = 1_800_000_000;

/// The keys fuzz/fuzz_targets/ verify against.
fn watchlist_issuer() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn profile_issuer() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn profile_overseer() -> SigningKey {
    SigningKey::from_bytes(&[2; 32])
}

fn small_watchlist(prf: &dyn Prf) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let entries = (0..3)
        .map(|i| {
            let values: Vec<f32> = (0..EMBEDDING_DIM).map(|_| rng.next_u32() as f32 / u32::MAX as f32 - 0.5).collect();
            let record = EntryRecord::new(
                format!("REF-{i:03}"),
                format!("Person {i}"),
                "test".into(),
                "synthetic".into(),
                NOW,
                None,
            );
            Enrolment { template: Embedding::from_values(&values).expect("random values"), record }
        })
        .collect();
    let params = WatchlistParams {
        model_id: "synthetic-unit-vectors".into(),
        tables: 8,
        threshold: 8,
        valid_from: NOW - 3600,
        valid_until: NOW + 3600,
    };
    build(entries, &params, prf, &watchlist_issuer()).expect("valid parameters")
}

/// A profile for `watchlist`, from the issuer's JSON template (every field, the optional ones too,
/// so the fuzzer starts from a profile that exercises them).
fn profile(watchlist: &[u8], deployment_key: &str) -> Profile {
    let template = r#"{"purpose": "Demonstration of on-device matching", "legalBasis": "Consent of every enrolled volunteer",
        "operator": "Veilwatch test operator", "location": "Test bench",
        "validFrom": "2026-11-01T00:00:00Z", "validUntil": "2026-12-01T00:00:00Z",
        "threshold": 8, "thresholdFloor": 8, "targetFpir": "1/6000",
        "custody": {"kind": "authority", "url": "http://127.0.0.1:8787", "authorityPublicKey": "KEY"}, "queryRatePerMinute": 60,
        "kioskKeys": ["8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"],
        "notice": "Faces that do not match are deleted at once.", "contact": "rights@example.org",
        "requiresOverseer": false}"#;
    Profile::from_template(template.replace("KEY", deployment_key).as_bytes(), watchlist).expect("a valid template")
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("seed paths have a folder"))
        .unwrap_or_else(|e| panic!("cannot create the folder of {}: {e}", path.display()));
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
}

fn main() {
    let seeds = PathBuf::from(std::env::args_os().nth(1).unwrap_or_else(|| "fuzz/seeds".into()));
    let local = small_watchlist(&LocalHmac::new([1; 32]));
    let deployment = DeploymentKey::derive(&MasterSecret::from_bytes(&[3; 32]).expect("32 bytes"), &[4; 16])
        .expect("a deployment key");
    let authority = small_watchlist(&deployment);
    for (name, watchlist) in [("small.vwl", &local), ("authority.vwl", &authority)] {
        Watchlist::parse(watchlist.clone(), &watchlist_issuer().verifying_key()).expect("the seed watchlist parses");
        write(&seeds.join("watchlist_parser").join(name), watchlist);
    }

    let deployment_key = veilwatch::hex::hex(&deployment.public_key());
    let signed = profile(&authority, &deployment_key).sign(&profile_issuer()).expect("a valid profile");
    let cosigned = cosign(&signed, &profile_overseer()).expect("a signed profile");
    let (issuer, overseer) = (profile_issuer().verifying_key(), profile_overseer().verifying_key());
    SignedProfile::parse(signed.as_bytes(), &issuer, None).expect("the signed seed parses");
    SignedProfile::parse(cosigned.as_bytes(), &issuer, Some(&overseer)).expect("the co-signed seed parses");
    write(&seeds.join("profile_parser/profile.vwp"), signed.as_bytes());
    write(&seeds.join("profile_parser/cosigned.vwp"), cosigned.as_bytes());
}
