//! `veilwatch authority` over its wire, as a kiosk or an attacker sees it: signed evaluation over
//! HTTPS (rustls, a self-signed certificate the client trusts), CORS only for the configured kiosk
//! origins (with the credential headers allowed and the refusal headers exposed), `/v1/anchor`
//! (signed requests carrying signed audit heads: verified, kept in each kiosk's history, a chain going
//! backwards refused, only a kiosk's own head), refusals with reasons, and `/metrics` in the
//! Prometheus text format on the admin listener only.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use common::http::{call, header, refusal, signed};
use common::kiosk::{authority_for, generous, keygen, TestDeployment, PROOF};
use common::process::{raw, scratch, Server};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use veilwatch::blind::DEFAULT_TABLES;

#[test]
fn the_authority_evaluates_over_https_with_its_certificate_and_refuses_plain_http_there() {
    let scratch = scratch("tls");
    let keys = keygen(&scratch);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (scratch.join("cert.pem"), scratch.join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
    let deployment = TestDeployment::new(DEFAULT_TABLES, generous());
    let server = authority_for(
        &keys,
        &deployment,
        &scratch,
        &["--tls-cert", cert_pem.to_str().unwrap(), "--tls-key", key_pem.to_str().unwrap()],
    );
    let signer = deployment.signer();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let agent = ureq::AgentBuilder::new().tls_config(Arc::new(tls)).timeout(Duration::from_secs(20)).build();
    let url = format!("https://localhost:{}/v1/evaluate", server.addr.port());
    let face = deployment.face(1);
    let answer = |agent: &ureq::Agent| {
        let mut request = agent.post(&url).set("Content-Type", "application/octet-stream");
        for (name, value) in signer.headers(&server.origin, "POST", "/v1/evaluate", &face, common::http::now()) {
            request = request.set(name, &value);
        }
        let response = request.send_bytes(&face).unwrap();
        assert_eq!(response.status(), 200);
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        body
    };
    let first = answer(&agent);
    assert_eq!(first.len(), face.len() + PROOF, "the elements, then the proof");
    assert_ne!(first[..face.len()], face[..], "the elements come back evaluated");
    assert_eq!(
        answer(&agent)[..face.len()],
        first[..face.len()],
        "the same elements evaluate to the same elements under one key"
    );
    // A client that does not trust the certificate is refused by its own TLS, and plain HTTP on
    // the TLS port gets no HTTP answer.
    let untrusting = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
    assert!(untrusting.post(&url).send_bytes(&face).is_err());
    let plain = raw(server.addr, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", Duration::from_secs(5));
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn a_browser_page_may_call_the_authority_only_from_a_configured_kiosk_origin() {
    let scratch = scratch("cors");
    let keys = keygen(&scratch);
    let kiosk = "http://127.0.0.1:8080";
    let deployment = TestDeployment::new(DEFAULT_TABLES, generous());
    let open = authority_for(&keys, &deployment, &scratch, &[]);
    let restricted = authority_for(&keys, &deployment, &scratch, &["--allow-origin", kiosk]);
    let credential_headers =
        "content-type,veilwatch-kiosk,veilwatch-deployment,veilwatch-timestamp,veilwatch-nonce,veilwatch-signature";
    let preflight = |server: &Server, origin: &str| {
        call(
            "OPTIONS",
            &server.url("/v1/evaluate"),
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", credential_headers),
            ],
            &[],
        )
    };
    let (_, headers, _) = preflight(&restricted, kiosk);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(kiosk));
    assert!(header(&headers, "access-control-allow-methods").unwrap_or("").contains("POST"));
    let allowed = header(&headers, "access-control-allow-headers").unwrap_or("").to_ascii_lowercase();
    for name in credential_headers.split(',') {
        assert!(allowed.contains(name), "{name} must be allowed: {allowed}");
    }
    let (_, headers, _) = preflight(&restricted, "http://evil.example");
    assert_eq!(header(&headers, "access-control-allow-origin"), None, "another origin gets no CORS grant");
    let face = deployment.face(2);
    let credential =
        deployment.signer().headers(&restricted.origin, "POST", "/v1/evaluate", &face, common::http::now());
    let mut with_origin: Vec<(&str, &str)> = credential.iter().map(|(n, v)| (*n, v.as_str())).collect();
    with_origin.push(("Origin", kiosk));
    let (status, headers, _) = call("POST", &restricted.url("/v1/evaluate"), &with_origin, &face);
    assert_eq!((status, header(&headers, "access-control-allow-origin")), (200, Some(kiosk)));
    // A refusal the page must be able to read: its reason token and Retry-After are exposed.
    let (status, headers, _) = call("POST", &restricted.url("/v1/evaluate"), &[("Origin", kiosk)], &face);
    assert_eq!(status, 401);
    let exposed = header(&headers, "access-control-expose-headers").unwrap_or("").to_ascii_lowercase();
    assert!(exposed.contains("veilwatch-refusal") && exposed.contains("retry-after"), "{exposed}");
    // No --allow-origin: no CORS headers for anyone (the old server answered `*`).
    let (_, headers, _) = preflight(&open, kiosk);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let (_, headers, _) = call("POST", &open.url("/v1/evaluate"), &[("Origin", kiosk)], &face);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    // A bad origin on the command line is refused up front.
    let bad = std::process::Command::new(common::process::bin())
        .args(["authority", "--keys", keys.join("authority").to_str().unwrap(), "--allow-origin", "*"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an origin"));
    std::fs::remove_dir_all(&scratch).ok();
}

fn signed_head(key: &SigningKey, seq: u64, head: &str) -> Value {
    let kiosk_key = veilwatch::hex(key.verifying_key().as_bytes());
    let time = "2026-12-02T02:00:00Z";
    let text = format!("VEILWATCH-AUDIT-HEAD-V1\n{kiosk_key}\n{seq}\n{head}\n{time}");
    let signature = veilwatch::hex(&key.sign(text.as_bytes()).to_bytes());
    json!({ "kioskKey": kiosk_key, "seq": seq, "head": head, "time": time, "signature": signature })
}

#[test]
fn the_authority_anchors_signed_audit_heads_and_refuses_forged_or_backward_ones() {
    let scratch = scratch("anchor");
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(DEFAULT_TABLES, generous());
    let server = authority_for(&keys, &deployment, &scratch, &[]);
    let kiosk = deployment.kiosk.key.clone();
    let kiosk_hex = veilwatch::hex(kiosk.verifying_key().as_bytes());
    let signer = deployment.signer();
    let post = |head: &Value| signed(&server, &signer, "/v1/anchor", head.to_string().as_bytes());
    let get = || call("GET", &server.admin_url(&format!("/v1/anchor/{kiosk_hex}")), &[], &[]);
    // The history answers one head a line; the latest is the last.
    let latest = || {
        let (_, _, body) = get();
        serde_json::from_str::<Value>(String::from_utf8(body).unwrap().lines().last().unwrap()).unwrap()
    };

    assert_eq!(get().0, 404, "nothing anchored yet");
    let h7 = signed_head(&kiosk, 7, &"11".repeat(32));
    assert_eq!(post(&h7).0, 204);
    let (status, _, body) = get();
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), h7, "the stored head comes back as signed");
    let h9 = signed_head(&kiosk, 9, &"22".repeat(32));
    assert_eq!(post(&h9).0, 204);
    assert_eq!(latest(), h9);

    // The chain going backwards: refused, and the latest head stays.
    let (status, _, body) = post(&signed_head(&kiosk, 8, &"33".repeat(32)));
    assert_eq!(status, 409);
    assert!(String::from_utf8_lossy(&body).contains("the kiosk's audit chain went backwards"));
    assert_eq!(latest(), h9);
    assert!(server.log_text().contains("went backwards"), "the refusal is logged: {}", server.log_text());

    // Forgeries: a head re-signed by another key under this kiosk's name, a changed seq, junk.
    let mut forged = signed_head(&SigningKey::from_bytes(&[43; 32]), 20, &"44".repeat(32));
    forged["kioskKey"] = json!(kiosk_hex);
    let mut bumped = h9.clone();
    bumped["seq"] = json!(100);
    for (bad, reason) in [
        (forged.to_string(), "signature does not verify"),
        (bumped.to_string(), "signature does not verify"),
        ("{\"kioskKey\":\"zz\"}".to_owned(), "not valid JSON of the expected shape"),
        ("not json".to_owned(), "not valid JSON"),
    ] {
        let (status, _, body) = signed(&server, &signer, "/v1/anchor", bad.as_bytes());
        assert_eq!(status, 400, "{bad}");
        assert!(String::from_utf8_lossy(&body).contains(reason), "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(latest(), h9, "no forgery replaced the head");
    // Unsigned, or another kiosk's head under this kiosk's credential: refused.
    let other = signed_head(&SigningKey::from_bytes(&[44; 32]), 30, &"55".repeat(32));
    let unsigned = call("POST", &server.url("/v1/anchor"), &[], h9.to_string().as_bytes());
    assert_eq!(refusal(&unsigned), (401, "unauthorised".into()));
    assert_eq!(refusal(&post(&other)), (403, "anchor_kiosk_mismatch".into()));
    assert_eq!(latest(), h9);
    // An oversized head document is refused before it is parsed.
    // (Only the head is sent: a server that refuses early closes before reading a body.)
    let answer = raw(
        server.addr,
        b"POST /v1/anchor HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn refusals_carry_a_reason_and_metrics_count_requests_refusals_and_evaluations() {
    let scratch = scratch("metrics");
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(DEFAULT_TABLES, generous());
    let server = authority_for(&keys, &deployment, &scratch, &[]);
    let signer = deployment.signer();
    let face = deployment.face(3);
    assert_eq!(signed(&server, &signer, "/v1/evaluate", &face).0, 200);
    let (status, _, body) = signed(&server, &signer, "/v1/evaluate", &vec![0xEE; face.len()]);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("not a valid group element"));
    let answer = signed(&server, &signer, "/v1/evaluate", &[1; 33]);
    assert_eq!(refusal(&answer), (400, "wrong_element_count".into()));
    assert!(String::from_utf8_lossy(&answer.2).contains("exactly 1024 blinded elements"));
    assert_eq!(refusal(&call("POST", &server.url("/v1/evaluate"), &[], &face)), (401, "unauthorised".into()));
    let (status, _, body) = call("GET", &server.url("/v1/evaluate"), &[], &[]);
    assert_eq!(status, 405, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = call("GET", &server.url("/admin"), &[], &[]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("POST /v1/evaluate"));
    let answer = raw(
        server.addr,
        format!("POST /v1/evaluate HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", 4097 * 32).as_bytes(),
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "more than 4 096 elements: {answer}");

    // Per-kiosk counts and the issuer's documents are on the admin listener only.
    assert_eq!(refusal(&call("GET", &server.url("/metrics"), &[], &[])), (404, "not_found".into()));
    assert_eq!(refusal(&call("POST", &server.url("/issuer/documents"), &[], b"")), (404, "not_found".into()));
    let (status, headers, body) = call("GET", &server.admin_url("/metrics"), &[], &[]);
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").unwrap().starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    let value = |series: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("veilwatch_authority_elements_evaluated_total"), DEFAULT_TABLES as f64);
    assert_eq!(value("veilwatch_authority_requests_total{endpoint=\"evaluate\"}"), 4.0);
    assert_eq!(
        value(&format!(
            "veilwatch_authority_faces_total{{deployment=\"{}\",kiosk=\"{}\"}}",
            veilwatch::hex(&deployment.id()),
            signer.kiosk_hex()
        )),
        1.0
    );
    assert_eq!(value("veilwatch_authority_refusals_total{reason=\"bad_elements\"}"), 1.0);
    assert_eq!(value("veilwatch_authority_refusals_total{reason=\"wrong_element_count\"}"), 1.0);
    assert_eq!(value("veilwatch_authority_refusals_total{reason=\"unsigned\"}"), 1.0);
    assert_eq!(value("veilwatch_authority_refusals_total{reason=\"not_found\"}"), 3.0);
    assert_eq!(value("veilwatch_authority_refusals_total{reason=\"method\"}"), 1.0);
    // The log: one line per request with method, path, status and latency, and no element.
    let log = server.log_text();
    let evaluate_lines: Vec<&str> =
        log.lines().filter(|l| l.contains("path=/v1/evaluate") && l.contains("status=")).collect();
    assert_eq!(evaluate_lines.len(), 6, "{log}");
    assert!(evaluate_lines.iter().all(|l| l.contains("method=") && l.contains("latency=")), "{log}");
    let first_element = veilwatch::hex(&face[..32]);
    assert!(!log.contains(&first_element) && !log.contains(&first_element[..16]), "an element reached the log");
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn each_deployment_is_answered_under_its_own_derived_key_and_the_proof_verifies() {
    use veilwatch::blind::prf::{BlindedBatch, DeploymentKey, MasterSecret, Prf};
    let scratch = scratch("deployments");
    let keys = keygen(&scratch);
    // Two deployments of two tables each, registered at one authority.
    let (ours, theirs) = (TestDeployment::new(2, generous()), TestDeployment::new(2, generous()));
    let theirs_document = theirs.document(&keys, &scratch, "theirs.txt");
    let server = authority_for(&keys, &ours, &scratch, &["--register", theirs_document.to_str().unwrap()]);
    let master_hex = std::fs::read_to_string(keys.join("authority/authority-master.key")).unwrap();
    let master = MasterSecret::from_bytes(&veilwatch::hex::from_hex(master_hex.trim()).unwrap()).unwrap();
    let key_of = |deployment: &TestDeployment| DeploymentKey::derive(&master, &deployment.id()).unwrap();
    let inputs = vec![b"table 0 code 5".to_vec(), b"table 1 code 9".to_vec()];
    let batch = BlindedBatch::blind(inputs.clone()).unwrap();

    // The answer verifies under the key the issuer derives for the deployment, and unblinds to
    // the issuer's own (direct) evaluation; under another deployment's key it does not verify.
    let (status, _, answer) = signed(&server, &ours.signer(), "/v1/evaluate", batch.request());
    assert_eq!((status, answer.len()), (200, 2 * 32 + PROOF));
    let outputs = batch.finish(&answer, &key_of(&ours).public_key()).unwrap();
    assert_eq!(*outputs[1], *key_of(&ours).evaluate(&inputs).unwrap()[1]);
    let (status, _, foreign) = signed(&server, &theirs.signer(), "/v1/evaluate", batch.request());
    assert_eq!(status, 200);
    assert!(batch.finish(&foreign, &key_of(&ours).public_key()).is_err(), "another deployment's answer");
    assert!(batch.finish(&foreign, &key_of(&theirs).public_key()).is_ok());

    // The key check: exactly one element, answered and proven the same way.
    let check = BlindedBatch::blind(vec![b"key check".to_vec()]).unwrap();
    let (status, _, answer) = signed(&server, &ours.signer(), "/v1/key-check", check.request());
    assert_eq!((status, answer.len()), (200, 32 + PROOF));
    assert!(check.finish(&answer, &key_of(&ours).public_key()).is_ok());
    let two = signed(&server, &ours.signer(), "/v1/key-check", batch.request());
    assert_eq!(refusal(&two), (400, "wrong_element_count".into()), "two elements are no key check");
    std::fs::remove_dir_all(&scratch).ok();
}
