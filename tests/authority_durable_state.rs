//! The single-node authority's state survives its process: with the default state (a SQLite file
//! in the key folder, created on first start), a kiosk revoked before `kill -9` is still refused
//! after the restart, a kiosk's day budget and the deployment's total are where they were, and
//! the disclosure log and its hourly cap are as they were. `--state memory` says at start that
//! it forgets all of that.

mod common;

use common::http::{call, now, refusal, signed};
use common::kiosk::{authority_for, issuer_key, keygen, TestDeployment};
use common::process::{bin, scratch, Server};
use veilwatch::authority::credential::RequestSigner;
use veilwatch::authority::registration::{Base64Bytes, Budgets, Document, HexBytes, KioskRevocation, Material};
use veilwatch::authority::store::{SqliteStore, StateStore};
use veilwatch::blind::material::{random_handle, MaterialKeys};
use veilwatch::blind::record::{self, EntryRecord};

const L: u16 = 16;

/// `POST /v1/disclose` of `handle`, proven with `keys` and bound to the request's own nonce.
fn disclose(
    server: &Server,
    signer: &RequestSigner,
    id: &[u8; 16],
    handle: &[u8; 16],
    keys: &MaterialKeys,
) -> (u16, String) {
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let proof = keys.proof(&veilwatch::hex(id), signer.kiosk_hex(), &veilwatch::hex(&nonce), handle);
    let body = format!("{{\"handle\":\"{}\",\"proof\":\"{}\"}}", veilwatch::hex(handle), veilwatch::hex(&proof));
    let headers = signer.headers_with_nonce(&server.origin, "POST", "/v1/disclose", body.as_bytes(), now(), &nonce);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    refusal(&call("POST", &server.url("/v1/disclose"), &headers, body.as_bytes()))
}

/// Kills the authority with SIGKILL (no chance to flush anything) and waits for it.
fn kill_9(mut server: Server) {
    let status = server.process.kill().expect("the authority was running");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
}

#[test]
fn a_revocation_the_budgets_and_the_disclosure_log_survive_kill_9() {
    let scratch = scratch("durable-state");
    let keys = keygen(&scratch);
    let mut deployment = TestDeployment::new(
        L,
        Budgets {
            faces_per_minute: 100,
            faces_per_day: 2,
            faces_total: 4,
            disclosures_per_hour: 1,
            ..common::kiosk::generous()
        },
    );
    let id = deployment.id();
    let (revoked, third) = (deployment.add_kiosk(), deployment.add_kiosk());
    let revoked_public = revoked.key.verifying_key().to_bytes();
    let entry = EntryRecord::new("ref-1".into(), "Jane Example".into(), "c".into(), "s".into(), now(), None);
    let material_keys = MaterialKeys::derive(&record::random_record_key());
    let handle = random_handle();
    let sealed = material_keys.seal(&entry, record::class_of(&entry).unwrap(), &id, &handle).unwrap();
    deployment.registration.materials = vec![Material {
        handle: HexBytes(handle),
        verifier: HexBytes(material_keys.verifier()),
        sealed: Base64Bytes(sealed),
    }];
    let (kiosk, revoked, third) = (deployment.signer(), revoked.signer(&id), third.signer(&id));

    let server = authority_for(&keys, &deployment, &scratch, &[]);
    let state = keys.join("authority/state.sqlite3");
    assert!(state.is_file(), "the default state is a database file in the authority's key folder");
    assert_eq!(signed(&server, &kiosk, "/v1/evaluate", &deployment.face(1)).0, 200);
    assert_eq!(signed(&server, &kiosk, "/v1/evaluate", &deployment.face(2)).0, 200);
    assert_eq!(signed(&server, &revoked, "/v1/evaluate", &deployment.face(3)).0, 200, "not yet revoked");
    let revocation = Document::RevokeKiosk(KioskRevocation {
        deployment: HexBytes(id),
        kiosk_key: HexBytes(revoked_public),
        issued: now(),
    })
    .sign(&issuer_key(&keys));
    assert_eq!(call("POST", &server.admin_url("/issuer/documents"), &[], revocation.as_bytes()).0, 204);
    assert_eq!(signed(&server, &revoked, "/v1/evaluate", &deployment.face(4)).0, 401);
    assert_eq!(disclose(&server, &kiosk, &id, &handle, &material_keys), (200, String::new()));
    kill_9(server);

    // Restarted with the same flags: the registration document is applied again (unchanged), and
    // everything since comes from the database.
    let server = authority_for(&keys, &deployment, &scratch, &[]);
    assert_eq!(signed(&server, &revoked, "/v1/evaluate", &deployment.face(5)).0, 401, "still revoked");
    assert_eq!(
        refusal(&signed(&server, &kiosk, "/v1/evaluate", &deployment.face(6))),
        (429, "budget_day".into()),
        "the kiosk's 2 faces of the day were spent before the restart"
    );
    assert_eq!(signed(&server, &third, "/v1/evaluate", &deployment.face(7)).0, 200, "the total's fourth face");
    assert_eq!(
        refusal(&signed(&server, &third, "/v1/evaluate", &deployment.face(8))),
        (429, "budget_total".into()),
        "4 faces in total: 3 before the restart (one by the kiosk revoked since), 1 after it"
    );
    assert_eq!(
        disclose(&server, &kiosk, &id, &handle, &material_keys),
        (429, "disclosure_cap".into()),
        "the hour's one disclosure was made before the restart"
    );
    kill_9(server);

    let log = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
        let store = SqliteStore::open(&state).unwrap();
        store.disclosures(&id).await.unwrap()
    });
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].kiosk.to_hex().as_str(), log[0].handle.0), (kiosk.kiosk_hex(), handle));
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn state_in_memory_only_is_asked_for_and_warned_about() {
    let scratch = scratch("memory-state");
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(L, common::kiosk::generous());
    let server = authority_for(&keys, &deployment, &scratch, &["--state", "memory"]);
    assert_eq!(signed(&server, &deployment.signer(), "/v1/evaluate", &deployment.face(1)).0, 200);
    assert!(server.log_text().contains("WARNING: --state memory"), "{}", server.log_text());
    assert!(!keys.join("authority/state.sqlite3").exists(), "no file with --state memory");
    let foreign = std::process::Command::new(bin())
        .args(["authority", "--keys", keys.join("authority").to_str().unwrap(), "--state", "postgres://db/"])
        .output()
        .unwrap();
    assert!(!foreign.status.success());
    assert!(String::from_utf8_lossy(&foreign.stderr).contains("expected a database file"));
    std::fs::remove_dir_all(&scratch).ok();
}
