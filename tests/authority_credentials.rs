//! Items 3–6 of issue 9 against a real `veilwatch authority` on loopback (in-memory state), as a
//! kiosk and as an attacker call it: every request without a valid credential of a registered,
//! unrevoked kiosk of a registered, unrevoked, current deployment is a 401 with its reason and
//! evaluates nothing; registrations and revocations (by file at start, by POST, made with the
//! CLI) take effect on the next request; budgets refuse with 429 and `Retry-After`; reviewer
//! material is released only on proof of the record key, capped and logged.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::http::{call, header, now, refusal, signed, signed_at};
use common::kiosk::{authority_for, generous, issuer_key, keygen, Kiosk, TestDeployment};
use common::process::{bin, scratch, Server};
use ed25519_dalek::SigningKey;
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner};
use veilwatch::authority::registration::{Base64Bytes, Budgets, DeploymentRevocation, Document, HexBytes, Material};
use veilwatch::blind::material::{random_handle, MaterialKeys};
use veilwatch::blind::record::{self, EntryRecord};

/// Tables of the test deployments (a real list has 1 024; the rules do not depend on it).
const L: u16 = 16;

fn metric(server: &Server, series: &str) -> f64 {
    let text = String::from_utf8(call("GET", &server.admin_url("/metrics"), &[], &[]).2).unwrap();
    text.lines().find(|l| l.starts_with(series)).map_or(0.0, |line| line.rsplit(' ').next().unwrap().parse().unwrap())
}

fn post_document(server: &Server, text: &str) -> (u16, String) {
    refusal(&call("POST", &server.admin_url("/issuer/documents"), &[], text.as_bytes()))
}

fn veilwatch(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

#[test]
fn every_credential_refusal_is_a_401_with_its_reason_and_evaluates_nothing() {
    let scratch = scratch("credentials");
    let keys = keygen(&scratch);
    let mut main = TestDeployment::new(L, generous());
    let second_kiosk = main.add_kiosk();
    let mut expired = TestDeployment::new(L, generous());
    (expired.registration.not_before, expired.registration.not_after) = (now() - 7200, now() - 3600);
    let doomed = TestDeployment::new(L, generous());
    let expired_doc = expired.document(&keys, &scratch, "expired.txt");
    let doomed_doc = doomed.document(&keys, &scratch, "doomed.txt");
    let server = authority_for(
        &keys,
        &main,
        &scratch,
        &["--register", expired_doc.to_str().unwrap(), "--register", doomed_doc.to_str().unwrap()],
    );
    let face = main.face(1);
    let kiosk = main.signer();
    let mut served = 0;
    let mut ok = |answer: (u16, Vec<(String, String)>, Vec<u8>)| {
        assert_eq!(answer.0, 200, "{}", String::from_utf8_lossy(&answer.2));
        assert!(answer.2.len() >= face.len());
        served += 1;
    };
    ok(signed(&server, &kiosk, "/v1/evaluate", &face));

    // No credential at all: the acceptance line.
    let unsigned = call("POST", &server.url("/v1/evaluate"), &[], &face);
    // Until a registered kiosk's signature has verified, every refusal says only `unauthorised`
    // (the reason is in the log and the metrics): a stranger learns nothing of which deployments
    // and kiosks exist.
    assert_eq!(refusal(&unsigned), (401, "unauthorised".to_owned()));
    assert!(String::from_utf8_lossy(&unsigned.2).contains("not authorised"));
    // Malformed: an upper-case key (a second spelling of the signed bytes).
    let mut headers = kiosk.headers(&server.origin, "POST", "/v1/evaluate", &face, now());
    headers[0].1 = headers[0].1.to_uppercase();
    let as_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(refusal(&call("POST", &server.url("/v1/evaluate"), &as_refs, &face)), (401, "unauthorised".into()));
    // The clock: 121 s either way is stale, 100 s is not.
    for skew in [-121, 121] {
        let stale = signed_at(&server, &kiosk, "/v1/evaluate", &face, now() + skew);
        assert_eq!(refusal(&stale), (401, "stale".into()), "skew {skew}");
    }
    ok(signed_at(&server, &kiosk, "/v1/evaluate", &face, now() - 100));
    // Deployments: unknown, outside its window.
    let unknown = main.kiosk.signer(&[0x5a; 16]);
    assert_eq!(refusal(&signed(&server, &unknown, "/v1/evaluate", &face)), (401, "unauthorised".into()));
    assert_eq!(
        refusal(&signed(&server, &expired.signer(), "/v1/evaluate", &expired.face(1))),
        (401, "expired_deployment".into())
    );
    // A kiosk key nobody registered.
    let stranger = Kiosk::generate().signer(&main.id());
    assert_eq!(refusal(&signed(&server, &stranger, "/v1/evaluate", &face)), (401, "unauthorised".into()));
    // Bad signatures: the body changed after signing; a stranger's signature under the kiosk's name.
    let headers = kiosk.headers(&server.origin, "POST", "/v1/evaluate", &main.face(2), now());
    let as_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(refusal(&call("POST", &server.url("/v1/evaluate"), &as_refs, &face)), (401, "unauthorised".into()));
    let mut forged = stranger.headers(&server.origin, "POST", "/v1/evaluate", &face, now());
    forged[0].1 = kiosk.kiosk_hex().to_owned();
    let as_refs: Vec<(&str, &str)> = forged.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(refusal(&call("POST", &server.url("/v1/evaluate"), &as_refs, &face)), (401, "unauthorised".into()));
    // A replayed request: the very same bytes again.
    let headers = kiosk.headers_with_nonce(&server.origin, "POST", "/v1/evaluate", &face, now(), &[7; 16]);
    let as_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    ok(call("POST", &server.url("/v1/evaluate"), &as_refs, &face));
    assert_eq!(refusal(&call("POST", &server.url("/v1/evaluate"), &as_refs, &face)), (401, "replayed".into()));

    // Revoking a deployment by POST: effective on the next request, and final.
    ok(signed(&server, &doomed.signer(), "/v1/evaluate", &doomed.face(1)));
    let revoke =
        Document::RevokeDeployment(DeploymentRevocation { deployment: doomed.registration.deployment, issued: now() })
            .sign(&issuer_key(&keys));
    assert_eq!(post_document(&server, &revoke).0, 204);
    assert_eq!(
        refusal(&signed(&server, &doomed.signer(), "/v1/evaluate", &doomed.face(1))),
        (401, "revoked_deployment".into())
    );
    let mut again = doomed.registration.clone();
    again.issued += 10;
    let again = Document::RegisterDeployment(again).sign(&issuer_key(&keys));
    assert_eq!(post_document(&server, &again), (400, "revoked_deployment".into()));

    // Revoking a kiosk with the CLI: the other kiosk of the deployment goes on.
    let second = second_kiosk.signer(&main.id());
    ok(signed(&server, &second, "/v1/evaluate", &face));
    let revocation = scratch.join("revoke-kiosk.txt");
    let made = veilwatch(&[
        "registration",
        "revoke-kiosk",
        "--keys",
        keys.to_str().unwrap(),
        "--deployment",
        &main.registration.deployment.to_hex(),
        "--kiosk-key",
        second.kiosk_hex(),
        "--out",
        revocation.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let sent = veilwatch(&["registration", "send", "--authority", &server.admin_url(""), revocation.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert_eq!(refusal(&signed(&server, &second, "/v1/evaluate", &face)), (401, "revoked_kiosk".into()));
    ok(signed(&server, &kiosk, "/v1/evaluate", &face));

    // Nothing was evaluated for any refusal: exactly the served faces' elements.
    assert_eq!(metric(&server, "veilwatch_authority_elements_evaluated_total"), (served * L as usize) as f64);
    for reason in [
        "unsigned",
        "malformed_credential",
        "unknown_deployment",
        "expired_deployment",
        "unregistered_kiosk",
        "replayed",
        "revoked_deployment",
        "revoked_kiosk",
    ] {
        assert!(
            metric(&server, &format!("veilwatch_authority_refusals_total{{reason=\"{reason}\"}}")) >= 1.0,
            "{reason}"
        );
    }
    assert_eq!(metric(&server, "veilwatch_authority_refusals_total{reason=\"stale\"}"), 2.0);
    assert_eq!(metric(&server, "veilwatch_authority_refusals_total{reason=\"bad_signature\"}"), 2.0);
    // The log: per request kiosk, deployment, endpoint and outcome; never an element.
    let log = server.log_text();
    let refused_line =
        log.lines().find(|l| l.contains("reason=\"revoked_kiosk\"") || l.contains("reason=revoked_kiosk"));
    let refused_line = refused_line.unwrap_or_else(|| panic!("{log}"));
    assert!(refused_line.contains(second.kiosk_hex()) && refused_line.contains(&main.registration.deployment.to_hex()));
    assert!(refused_line.contains("endpoint") && refused_line.contains("outcome"), "{refused_line}");
    let element = veilwatch::hex(&face[..32]);
    assert!(!log.contains(&element[..16]), "an element reached the log");
    std::fs::remove_dir_all(&scratch).ok();
}

/// Issue 16 item 6: a signed request names the authority it is for. Production and staging serve
/// the same deployment (same master secret, same registration, same kiosk), each with its own
/// state and so its own nonces. A request production answered, replayed at staging, is refused
/// (401 `unauthorised`; `bad_signature` in staging's metrics) and evaluates nothing there, while
/// the kiosk's own request to staging is served. An authority behind a proxy (`--public-origin`)
/// refuses a request signed for its listen address, which is not the origin kiosks know.
#[test]
fn a_request_signed_for_one_authority_is_refused_by_another() {
    let scratch = scratch("authority-origin");
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(L, generous());
    let state = |name: &str| scratch.join(name).to_str().unwrap().to_owned();
    let (production_state, staging_state) = (state("production.sqlite3"), state("staging.sqlite3"));
    let production = authority_for(
        &keys,
        &deployment,
        &scratch,
        &["--state", &production_state, "--public-origin", "https://authority.example"],
    );
    let staging = authority_for(
        &keys,
        &deployment,
        &scratch,
        &["--state", &staging_state, "--public-origin", "https://staging.authority.example:8443"],
    );
    let (kiosk, face) = (deployment.signer(), deployment.face(1));
    let send = |server: &Server, headers: &[(&'static str, String)]| {
        let as_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        call("POST", &server.url("/v1/evaluate"), &as_refs, &face)
    };

    let for_production = kiosk.headers(&production.origin, "POST", "/v1/evaluate", &face, now());
    assert_eq!(send(&production, &for_production).0, 200);
    // The attacker replays production's request at staging (its own nonces never saw it).
    assert_eq!(refusal(&send(&staging, &for_production)), (401, "unauthorised".into()));
    assert_eq!(metric(&staging, "veilwatch_authority_refusals_total{reason=\"bad_signature\"}"), 1.0);
    assert_eq!(metric(&staging, "veilwatch_authority_elements_evaluated_total"), 0.0);
    // And the other way round, with a fresh request for staging.
    let for_staging = kiosk.headers(&staging.origin, "POST", "/v1/evaluate", &face, now());
    assert_eq!(refusal(&send(&production, &for_staging)), (401, "unauthorised".into()));
    assert_eq!(send(&staging, &for_staging).0, 200, "{}", staging.log_text());
    assert_eq!(metric(&staging, "veilwatch_authority_elements_evaluated_total"), L as f64);

    // Behind a proxy the origin kiosks know is not the listen address: a request signed for the
    // address the process listens on is for another authority.
    let listen_address = AuthorityOrigin::of_url(&production.url("")).unwrap();
    assert_ne!(listen_address, production.origin);
    let for_listen_address = kiosk.headers(&listen_address, "POST", "/v1/evaluate", &face, now());
    assert_eq!(refusal(&send(&production, &for_listen_address)), (401, "unauthorised".into()));
    assert_eq!(metric(&production, "veilwatch_authority_elements_evaluated_total"), L as f64);
}

#[test]
fn budgets_refuse_with_429_and_retry_after_and_count_only_whole_faces() {
    let scratch = scratch("budgets");
    let keys = keygen(&scratch);
    let per_minute = TestDeployment::new(L, Budgets { faces_per_minute: 3, ..generous() });
    let mut per_day = TestDeployment::new(L, Budgets { faces_per_minute: 100, faces_per_day: 2, ..generous() });
    let total = TestDeployment::new(L, Budgets { faces_total: 3, ..generous() });
    let other_kiosk = Kiosk::generate();
    let mut total = total;
    total.registration.kiosk_keys.push(HexBytes(other_kiosk.key.verifying_key().to_bytes()));
    per_day.registration.kiosk_keys.push(HexBytes(other_kiosk.key.verifying_key().to_bytes()));
    let day_doc = per_day.document(&keys, &scratch, "day.txt");
    let total_doc = total.document(&keys, &scratch, "total.txt");
    let server = authority_for(
        &keys,
        &per_minute,
        &scratch,
        &["--register", day_doc.to_str().unwrap(), "--register", total_doc.to_str().unwrap()],
    );
    // Not across a minute boundary.
    if now() % 60 > 50 {
        std::thread::sleep(std::time::Duration::from_secs((61 - now() % 60) as u64));
    }
    let kiosk = per_minute.signer();
    // A request is one face: exactly L elements, else 400, and a wrong one is not charged.
    for n in [L as usize - 1, L as usize + 1, 0] {
        let wrong = signed(&server, &kiosk, "/v1/evaluate", &common::kiosk::elements(n, 3));
        assert_eq!(refusal(&wrong), (400, "wrong_element_count".into()), "{n} elements");
    }
    for _ in 0..3 {
        assert_eq!(signed(&server, &kiosk, "/v1/evaluate", &per_minute.face(1)).0, 200);
    }
    let refused = signed(&server, &kiosk, "/v1/evaluate", &per_minute.face(1));
    let at = now();
    assert_eq!(refusal(&refused), (429, "budget_minute".into()));
    let wait: i64 = header(&refused.1, "retry-after").expect("Retry-After").parse().unwrap();
    assert!((wait - (60 - at % 60)).abs() <= 1, "Retry-After {wait} at second {}", at % 60);
    assert!(String::from_utf8_lossy(&refused.2).contains("3 faces per minute"));

    // Per UTC day, per kiosk: the other kiosk of the deployment still has its own.
    let day_kiosk = per_day.signer();
    for _ in 0..2 {
        assert_eq!(signed(&server, &day_kiosk, "/v1/evaluate", &per_day.face(1)).0, 200);
    }
    let refused = signed(&server, &day_kiosk, "/v1/evaluate", &per_day.face(1));
    let at = now();
    assert_eq!(refusal(&refused), (429, "budget_day".into()));
    let wait: i64 = header(&refused.1, "retry-after").unwrap().parse().unwrap();
    assert!((wait - (86_400 - at % 86_400)).abs() <= 1, "Retry-After {wait}: seconds to midnight UTC");
    let other = other_kiosk.signer(&per_day.id());
    assert_eq!(signed(&server, &other, "/v1/evaluate", &per_day.face(1)).0, 200);

    // The deployment's total, across its kiosks and its key checks (a key check evaluates a chosen
    // element, so it is charged like a face): refused without Retry-After (it never resets).
    assert_eq!(signed(&server, &total.signer(), "/v1/key-check", &common::kiosk::elements(1, 5)).0, 200);
    assert_eq!(signed(&server, &total.signer(), "/v1/evaluate", &total.face(1)).0, 200);
    let other = other_kiosk.signer(&total.id());
    assert_eq!(signed(&server, &other, "/v1/evaluate", &total.face(1)).0, 200);
    let refused = signed(&server, &total.signer(), "/v1/evaluate", &total.face(1));
    assert_eq!(refusal(&refused), (429, "budget_total".into()));
    assert_eq!(header(&refused.1, "retry-after"), None);
    assert_eq!(
        refusal(&signed(&server, &total.signer(), "/v1/key-check", &common::kiosk::elements(1, 5))),
        (429, "budget_total".into()),
        "no key check once the total is spent"
    );

    // Key checks: one element each, at most 30 per kiosk per hour.
    let check_kiosk = per_day.signer();
    assert_eq!(
        refusal(&signed(&server, &check_kiosk, "/v1/key-check", &common::kiosk::elements(2, 4))),
        (400, "wrong_element_count".into())
    );
    for i in 0..30 {
        let answer = signed(&server, &check_kiosk, "/v1/key-check", &common::kiosk::elements(1, 4));
        assert_eq!(answer.0, 200, "key check {i}: {}", String::from_utf8_lossy(&answer.2));
        assert!(answer.2.len() >= 32);
    }
    let refused = signed(&server, &check_kiosk, "/v1/key-check", &common::kiosk::elements(1, 4));
    assert_eq!(refusal(&refused), (429, "key_check_cap".into()));
    assert!(header(&refused.1, "retry-after").is_some());
    assert_eq!(metric(&server, "veilwatch_authority_refusals_total{reason=\"budget_minute\"}"), 1.0);
    std::fs::remove_dir_all(&scratch).ok();
}

/// One entry's reviewer material as enrolment makes it (protocol E), and the keys of its record
/// key (what a kiosk that rebuilt the record key holds).
fn material(deployment: &[u8; 16], entry: &EntryRecord) -> (MaterialKeys, Material) {
    let keys = MaterialKeys::derive(&record::random_record_key());
    let handle = random_handle();
    let sealed = keys.seal(entry, record::class_of(entry).unwrap(), deployment, &handle).unwrap();
    let material =
        Material { handle: HexBytes(handle), verifier: HexBytes(keys.verifier()), sealed: Base64Bytes(sealed) };
    (keys, material)
}

fn entry(reference_id: &str, label: &str) -> EntryRecord {
    EntryRecord::new(reference_id.into(), label.into(), "c".into(), "s".into(), now(), Some(&[0xFF, 0xD8, 7]))
}

/// `POST /v1/disclose` for `handle` with a proof made with `keys` over `proof_nonce`, sent with the
/// request nonce `nonce`. The body is written out by hand: it is the wire format under test.
fn disclose(
    server: &Server,
    signer: &RequestSigner,
    deployment: &[u8; 16],
    handle: &[u8; 16],
    keys: &MaterialKeys,
    (nonce, proof_nonce): ([u8; 16], [u8; 16]),
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let p = keys.proof(&veilwatch::hex(deployment), signer.kiosk_hex(), &veilwatch::hex(&proof_nonce), handle);
    let body = format!("{{\"handle\":\"{}\",\"proof\":\"{}\"}}", veilwatch::hex(handle), veilwatch::hex(&p));
    let headers = signer.headers_with_nonce(&server.origin, "POST", "/v1/disclose", body.as_bytes(), now(), &nonce);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    call("POST", &server.url("/v1/disclose"), &headers, body.as_bytes())
}

fn random_nonce() -> [u8; 16] {
    let mut nonce = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    nonce
}

#[test]
fn reviewer_material_is_released_on_proof_of_the_record_key_capped_and_logged() {
    let scratch = scratch("disclose");
    let keys = keygen(&scratch);
    let mut deployment =
        TestDeployment::new(L, Budgets { disclosures_per_hour: 2, deployment_disclosures_per_hour: 3, ..generous() });
    let second = deployment.add_kiosk();
    let id = deployment.id();
    let second = second.signer(&id);
    let (entry_a, entry_b) = (entry("ref-001", "Jane Example"), entry("ref-002", "John Example"));
    let (key_a, material_a) = material(&id, &entry_a);
    let (key_b, material_b) = material(&id, &entry_b);
    deployment.registration.materials = vec![material_a.clone(), material_b.clone()];
    let server = authority_for(&keys, &deployment, &scratch, &[]);
    let kiosk = deployment.signer();
    let (handle_a, handle_b) = (material_a.handle.0, material_b.handle.0);

    let n = random_nonce();
    let answer = disclose(&server, &kiosk, &id, &handle_a, &key_a, (n, n));
    assert_eq!(answer.0, 200, "{}", String::from_utf8_lossy(&answer.2));
    assert_eq!(answer.2, material_a.sealed.0, "the sealed material, as registered");
    assert_eq!(key_a.open(&answer.2, &id, &handle_a), Some(entry_a));
    // Without the record key: another entry's key, or a proof made for another request's nonce.
    let n = random_nonce();
    assert_eq!(refusal(&disclose(&server, &kiosk, &id, &handle_a, &key_b, (n, n))), (403, "bad_proof".into()));
    assert_eq!(
        refusal(&disclose(&server, &kiosk, &id, &handle_a, &key_a, (random_nonce(), random_nonce()))),
        (403, "bad_proof".into())
    );
    let n = random_nonce();
    assert_eq!(refusal(&disclose(&server, &kiosk, &id, &[9; 16], &key_a, (n, n))), (404, "unknown_handle".into()));
    // Without a credential: nothing.
    let unsigned = call("POST", &server.url("/v1/disclose"), &[], b"{}");
    assert_eq!(refusal(&unsigned), (401, "unauthorised".into()));

    // The cap: 2 per kiosk per hour; bad proofs did not spend it.
    let n = random_nonce();
    assert_eq!(disclose(&server, &kiosk, &id, &handle_b, &key_b, (n, n)).0, 200);
    let n = random_nonce();
    let capped = disclose(&server, &kiosk, &id, &handle_b, &key_b, (n, n));
    assert_eq!(refusal(&capped), (429, "disclosure_cap".into()));
    let wait: i64 = header(&capped.1, "retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait));
    // The deployment's cap over all its kiosks: 3 an hour, so another kiosk gets one, not two:
    // stolen credentials pooled release no more names than the deployment's cap.
    let n = random_nonce();
    assert_eq!(disclose(&server, &second, &id, &handle_a, &key_a, (n, n)).0, 200);
    let n = random_nonce();
    let capped = disclose(&server, &second, &id, &handle_b, &key_b, (n, n));
    assert_eq!(refusal(&capped), (429, "deployment_disclosure_cap".into()));
    assert!(String::from_utf8_lossy(&capped.2).contains("3 disclosures per hour, over all its kiosks"));

    // Each disclosure is logged with deployment, kiosk, handle and time, and counted.
    let log = server.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("disclosed reviewer material")).collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[0].contains(&veilwatch::hex(&handle_a)) && lines[1].contains(&veilwatch::hex(&handle_b)));
    assert!(lines[..2]
        .iter()
        .all(|l| l.contains(kiosk.kiosk_hex()) && l.contains(&veilwatch::hex(&id)) && l.contains("time=")));
    assert!(lines[2].contains(second.kiosk_hex()));
    assert_eq!(
        metric(
            &server,
            &format!(
                "veilwatch_authority_disclosures_total{{deployment=\"{}\",kiosk=\"{}\"}}",
                veilwatch::hex(&id),
                kiosk.kiosk_hex()
            )
        ),
        2.0
    );
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn the_issuer_endpoint_accepts_only_the_trusted_issuers_documents_and_only_newer_registrations() {
    let scratch = scratch("documents");
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(L, generous());
    let server = authority_for(&keys, &deployment, &scratch, &[]);
    let issuer = issuer_key(&keys);
    let same = Document::RegisterDeployment(deployment.registration.clone()).sign(&issuer);
    assert_eq!(post_document(&server, &same).0, 204, "the same registration again is a no-op");
    let mut older = deployment.registration.clone();
    older.issued -= 1;
    assert_eq!(
        post_document(&server, &Document::RegisterDeployment(older).sign(&issuer)),
        (400, "stale_document".into())
    );
    let foreign = Document::RegisterDeployment(deployment.registration.clone())
        .sign(&SigningKey::generate(&mut rand_core::OsRng));
    assert_eq!(post_document(&server, &foreign), (403, "foreign_issuer".into()));
    let tampered = same.replace("\"tables\":16", "\"tables\":17");
    assert_eq!(post_document(&server, &tampered), (403, "bad_issuer_signature".into()));
    assert_eq!(post_document(&server, "hello\n"), (400, "malformed_document".into()));

    // A newer registration with another kiosk: the old kiosk is no longer listed.
    let mut newer = deployment.registration.clone();
    newer.issued += 1;
    let replacement = Kiosk::generate();
    newer.kiosk_keys = vec![HexBytes(replacement.key.verifying_key().to_bytes())];
    assert_eq!(post_document(&server, &Document::RegisterDeployment(newer).sign(&issuer)).0, 204);
    assert_eq!(
        refusal(&signed(&server, &deployment.signer(), "/v1/evaluate", &deployment.face(1))),
        (401, "unauthorised".into())
    );
    let replacement = replacement.signer(&deployment.id());
    assert_eq!(signed(&server, &replacement, "/v1/evaluate", &deployment.face(1)).0, 200);

    // A bad --register file stops the start-up with the reason.
    let bad = scratch.join("bad.txt");
    std::fs::write(&bad, &tampered).unwrap();
    let refused = veilwatch(&[
        "authority",
        "--keys",
        keys.join("authority").to_str().unwrap(),
        "--register",
        bad.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("signature does not verify"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn kiosk_key_new_writes_a_private_key_file_once_and_prints_the_public_key() {
    let scratch = scratch("kiosk-key");
    let file = scratch.join("kiosk.key");
    let made = veilwatch(&["kiosk-key", "new", "--out", file.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let public = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let secret = std::fs::read_to_string(&file).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(secret.ends_with('\n') && secret.trim().len() == 64);
    let key = SigningKey::from_bytes(&veilwatch::from_hex(secret.trim()).unwrap().try_into().unwrap());
    assert_eq!(veilwatch::hex(key.verifying_key().as_bytes()), public, "the printed key is the file's public key");
    let again = veilwatch(&["kiosk-key", "new", "--out", file.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing key file is never replaced");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), secret);
    std::fs::remove_dir_all(&scratch).ok();
}
