//! A deployment is served on its custody's routes only, as recorded when it was registered, and
//! the record survives a restart on the same state file: a sealed-custody deployment's kiosk is
//! refused (409 `wrong_custody`) on `/v1/evaluate`, `/v1/key-check` and `/v1/disclose`, which
//! would otherwise evaluate blinded elements under a VOPRF key the deployment never uses; a
//! VOPRF deployment's kiosk is refused on every `/v1/sealed/*` route (which would otherwise store
//! its BFV keys and seeds); `/v1/anchor` serves both.
//!
//! `cargo test --release --features cli --locked --test authority_custody`

mod common;

use common::http::{refusal, signed};
use common::kiosk::{authority, generous, keygen, TestDeployment};
use common::process::{scratch, Server};
use veilwatch::authority::credential::RequestSigner;
use veilwatch::authority::registration::SealedGalleryBytes;
use veilwatch::sealed::protocol::{CLAIM_PATH, KEYS_PATH, MATCH_PATH, PROVE_PATH, SEED_PATH};

const L: u16 = 4;

/// What each deployment's kiosk gets on each route of the other custody, and on its own.
fn check_routes(server: &Server, voprf: &TestDeployment, sealed: &TestDeployment) {
    let (voprf_kiosk, sealed_kiosk): (RequestSigner, RequestSigner) = (voprf.signer(), sealed.signer());
    let wrong = (409, "wrong_custody".to_owned());
    for (path, body) in [
        ("/v1/evaluate", sealed.face(1)),
        ("/v1/key-check", sealed.face(2)[..32].to_vec()),
        ("/v1/disclose", br#"{"handle":"00","proof":"00"}"#.to_vec()),
    ] {
        let answer = signed(server, &sealed_kiosk, path, &body);
        assert_eq!(refusal(&answer), wrong, "a sealed deployment on {path}: {}", String::from_utf8_lossy(&answer.2));
        assert!(String::from_utf8_lossy(&answer.2).contains("registered for bfv-sealed custody"));
    }
    for path in [SEED_PATH, KEYS_PATH, MATCH_PATH, CLAIM_PATH, PROVE_PATH] {
        let body: &[u8] = if path == SEED_PATH { &[] } else { &[0; 40] };
        let answer = signed(server, &voprf_kiosk, path, body);
        assert_eq!(refusal(&answer), wrong, "a VOPRF deployment on {path}: {}", String::from_utf8_lossy(&answer.2));
        assert!(String::from_utf8_lossy(&answer.2).contains("registered for voprf custody"));
    }
    // Each on its own routes.
    assert_eq!(signed(server, &voprf_kiosk, "/v1/evaluate", &voprf.face(3)).0, 200);
    let seed = signed(server, &sealed_kiosk, SEED_PATH, &[]);
    assert_eq!((seed.0, seed.2.len()), (200, 48), "a sealed deployment gets its seed");
}

#[test]
fn each_deployment_is_served_on_its_custodys_routes_only_and_that_survives_a_restart() {
    let scratch = scratch("custody-routes");
    let keys = keygen(&scratch);
    let voprf = TestDeployment::new(L, generous());
    let mut sealed = TestDeployment::new(1, generous());
    // The routes are decided by the custody recorded at registration: a gallery that does not
    // open here is enough to make the deployment a sealed one (no match is asked of it).
    sealed.registration.sealed_gallery = Some(SealedGalleryBytes(vec![7; 64]));
    let documents = [voprf.document(&keys, &scratch, "voprf.txt"), sealed.document(&keys, &scratch, "sealed.txt")];
    let state = scratch.join("state.sqlite3");
    let args = |register: bool| {
        let mut args: Vec<String> = vec!["--state".into(), state.to_str().unwrap().into()];
        if register {
            for document in &documents {
                args.extend(["--register".into(), document.to_str().unwrap().into()]);
            }
        }
        args
    };
    let start = |register: bool| {
        let args = args(register);
        authority(&keys, &args.iter().map(String::as_str).collect::<Vec<_>>(), &scratch)
    };

    let server = start(true);
    check_routes(&server, &voprf, &sealed);
    drop(server);
    // Restarted on the same state file without the documents: the custody comes from the store.
    let server = start(false);
    check_routes(&server, &voprf, &sealed);
    drop(server);
    std::fs::remove_dir_all(&scratch).ok();
}
