//! The issuer's and operator's commands end to end, as a person would run them: keygen, enroll
//! from photo folders, inspect, identify with the local key and through `veilwatch authority` on
//! loopback (behind a recording proxy, to see what crosses the wire), and the failures an operator
//! must be told about: authority down, authority answering garbage, foreign issuer.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::process::{bin, free_port, run, succeeded, Process};
use serde_json::Value;

const PEOPLE: [&str; 4] = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez"];
/// Each person's probe, in `PEOPLE`'s order: not enrolled (photos 2-6 are) and passing the gates.
const PROBES: [&str; 4] =
    ["Colin_Powell_0001.jpg", "Tony_Blair_0007.jpg", "Laura_Bush_0001.jpg", "Hugo_Chavez_0001.jpg"];
/// A photo of an enrolled person whose face fails the quality gates (too turned or blurred).
const GATED_OUT: &str = "Tony_Blair_0001.jpg";

/// `veilwatch --models MODELS ARGS…`, run to its end.
fn veilwatch(args: &[&str]) -> Output {
    let models = common::models_dir().unwrap();
    run(&[&["--models", models.to_str().unwrap()], args].concat())
}

/// Reads one HTTP request: headers, then the body its Content-Length announces.
fn read_request(client: &mut TcpStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = client.read(&mut buf).unwrap();
        if n == 0 {
            return request;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while request.len() < end + 4 + len {
                let n = client.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            return request;
        }
    }
}

/// Forwards each connection to `target` and records the request bytes.
fn recording_proxy(target: u16) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let record = log.clone();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let request = read_request(&mut client);
            let mut upstream = TcpStream::connect(("127.0.0.1", target)).unwrap();
            upstream.write_all(&request).unwrap();
            let mut response = Vec::new();
            upstream.read_to_end(&mut response).unwrap();
            client.write_all(&response).unwrap();
            record.lock().unwrap().push(request);
        }
    });
    (port, log)
}

fn dataset(root: &Path, scratch: &Path) -> PathBuf {
    // Enrol from photos 2..=6 of each person (links into the shared data, nothing copied).
    let dir = scratch.join("enrol");
    for name in PEOPLE {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        for k in 2..=6 {
            let file = format!("{name}_{k:04}.jpg");
            std::os::unix::fs::symlink(root.join(name).join(&file), dir.join(name).join(&file)).unwrap();
        }
    }
    dir
}

#[test]
fn keygen_enroll_inspect_identify_locally_and_through_the_authority() {
    let (Some(root), Some(_)) = (common::lfw_images(), common::models_dir()) else { return };
    let scratch = std::env::temp_dir().join(format!("veilwatch-cli-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let keys = scratch.join("keys");
    let public = succeeded(veilwatch(&["keygen", "--out", keys.to_str().unwrap()])).trim().to_owned();
    assert_eq!(public.len(), 64);
    assert!(!veilwatch(&["keygen", "--out", keys.to_str().unwrap()]).status.success(), "keys are never overwritten");

    let enrol = dataset(&root, &scratch);
    let local = scratch.join("local.vwl");
    let oprf = scratch.join("oprf.vwl");
    for (out, custody) in [(&local, "local"), (&oprf, "authority")] {
        succeeded(veilwatch(&[
            "enroll",
            enrol.to_str().unwrap(),
            "--keys",
            keys.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--custody",
            custody,
            "--valid-until",
            "2099-01-01",
        ]));
    }

    // Authority custody: the file holds handles; the names and photos go, sealed, to
    // FILE.materials.json (0600), one per person, for the authority's registration.
    let materials_path = scratch.join("oprf.vwl.materials.json");
    let materials: Vec<Value> = serde_json::from_slice(&std::fs::read(&materials_path).unwrap()).unwrap();
    assert_eq!(materials.len(), PEOPLE.len());
    assert!(materials
        .iter()
        .all(|m| m["handle"].as_str().unwrap().len() == 32 && m["verifier"].as_str().unwrap().len() == 64));
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&materials_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!scratch.join("local.vwl.materials.json").exists(), "local custody keeps its records in the file");
    let raw = [std::fs::read(&oprf).unwrap(), std::fs::read(&materials_path).unwrap()].concat();
    for name in PEOPLE {
        let label = name.replace('_', " ");
        assert!(!raw.windows(label.len()).any(|w| w == label.as_bytes()), "{label} is in neither file in the clear");
    }

    // The threshold chosen for a false-alert rate per passer-by, from the shipped calibration.
    let by_target = scratch.join("target.vwl");
    let chosen = veilwatch(&[
        "enroll",
        enrol.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
        "--out",
        by_target.to_str().unwrap(),
        "--target-fpir",
        "1/6000",
    ]);
    assert!(chosen.status.success(), "{}", String::from_utf8_lossy(&chosen.stderr));
    // Four people, five photos each (every one shows a face): four 5-photo templates.
    let expected = veilwatch::calibration::shipped::calibration().threshold_for_recipes(
        &[5; 4],
        veilwatch::blind::DEFAULT_TABLES,
        1.0 / 6000.0,
    );
    let target_inspect: Value =
        serde_json::from_str(&succeeded(veilwatch(&["inspect", by_target.to_str().unwrap(), "--issuer", &public])))
            .unwrap();
    assert_eq!(target_inspect["threshold"].as_u64(), expected.map(u64::from), "{target_inspect}");
    let said = String::from_utf8_lossy(&chosen.stderr);
    assert!(said.contains("false alerts per 1 000") && said.contains("95% interval"), "{said}");
    assert!(said.contains("5-photo templates against"), "the calibration it comes from is named: {said}");
    let refused = veilwatch(&[
        "enroll",
        enrol.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
        "--out",
        scratch.join("bad.vwl").to_str().unwrap(),
        "--target-fpir",
        "one in six thousand",
    ]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("is not a rate"));

    let inspect: Value =
        serde_json::from_str(&succeeded(veilwatch(&["inspect", local.to_str().unwrap(), "--issuer", &public])))
            .unwrap();
    // Four people: the file shows their size class and nothing that gives the count.
    assert_eq!(inspect["entry_size_class"], 64);
    assert!(inspect.get("entries").is_none(), "{inspect}");
    assert_eq!(inspect["record_class"], "photo up to 8 KiB (9 216 bytes)");
    assert_eq!(inspect["tables"], veilwatch::blind::DEFAULT_TABLES);
    assert_eq!(inspect["prf_suite"], "hmac-sha256-local");
    assert!(inspect.get("authority_public_key").is_none(), "local custody has no deployment key");
    let authority_inspect: Value =
        serde_json::from_str(&succeeded(veilwatch(&["inspect", oprf.to_str().unwrap(), "--issuer", &public]))).unwrap();
    assert_eq!(authority_inspect["prf_suite"], "voprf-ristretto255-sha512");
    let deployment_id = authority_inspect["deployment_id"].as_str().unwrap().to_owned();
    assert_eq!(deployment_id.len(), 32);
    assert_eq!(authority_inspect["authority_public_key"].as_str().unwrap().len(), 64, "{authority_inspect}");
    let text = inspect.to_string();
    for name in PEOPLE {
        assert!(!text.contains(name) && !text.contains(&name.replace('_', " ")), "inspect must not show identities");
    }
    let raw = std::fs::read(&local).unwrap();
    for name in PEOPLE {
        assert!(
            !raw.windows(name.len() - 2).any(|w| w == &name.as_bytes()[2..]),
            "the file must not hold {name} in the clear"
        );
    }

    // One photo each that was not enrolled and that passes the kiosk's quality gates (identify
    // matches only those, as the kiosk does).
    let probes: Vec<String> =
        PROBES.iter().map(|p| root.join(&p[..p.len() - 9]).join(p).display().to_string()).collect();
    let stranger = root.join("Aaron_Sorkin/Aaron_Sorkin_0001.jpg").display().to_string();
    let identify = |extra: &[&str], watchlist: &Path| -> Value {
        let mut args = vec!["identify", watchlist.to_str().unwrap(), "--issuer", &public, "--json"];
        args.extend_from_slice(extra);
        args.extend(probes.iter().map(String::as_str));
        args.push(&stranger);
        serde_json::from_str(&succeeded(veilwatch(&args))).unwrap()
    };
    let check = |result: &Value| {
        for (i, name) in PEOPLE.iter().enumerate() {
            let alerts: Vec<&Value> =
                result[i]["faces"].as_array().unwrap().iter().flat_map(|f| f["alerts"].as_array().unwrap()).collect();
            assert_eq!(alerts.len(), 1, "{name}");
            assert_eq!(alerts[0]["record"]["label"], name.replace('_', " "));
            assert!(alerts[0]["collisions"].as_u64().unwrap() >= veilwatch::blind::DEFAULT_THRESHOLD as u64);
            assert!(alerts[0]["implied_cosine"].as_f64().unwrap() > 0.3);
        }
        let stranger_alerts: usize = result[PEOPLE.len()]["faces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["alerts"].as_array().unwrap().len())
            .sum();
        assert_eq!(stranger_alerts, 0);
    };
    let prf_key = keys.join("secret/prf-local.key");
    check(&identify(&["--prf-key", prf_key.to_str().unwrap()], &local));
    // A face that fails the gates is listed, with why, and not matched, even though it is an
    // enrolled person's: a poor photo's generic embedding would collide with everyone.
    let gated = root.join("Tony_Blair").join(GATED_OUT).display().to_string();
    let gated_out: Value = serde_json::from_str(&succeeded(veilwatch(&[
        "identify",
        local.to_str().unwrap(),
        "--issuer",
        &public,
        "--json",
        "--prf-key",
        prf_key.to_str().unwrap(),
        &gated,
    ])))
    .unwrap();
    let faces = gated_out[0]["faces"].as_array().unwrap();
    assert!(!faces.is_empty(), "{gated_out}");
    for face in faces {
        assert_eq!(face["matched"], false, "{face}");
        assert!(face["alerts"].as_array().unwrap().is_empty(), "{face}");
        assert!(!face["quality"]["rejections"].as_array().unwrap().is_empty(), "{face}");
    }

    // Authority custody: a kiosk key, the deployment registered for it (id, L and window from the
    // watchlist, and its sealed reviewer materials), the authority started with that registration, reached through a proxy that
    // records every request body.
    let kiosk = common::kiosk::Kiosk::from_cli(&scratch, "kiosk");
    let (kiosk_key, kiosk_public) = (kiosk.file.clone().expect("a key file"), kiosk.public_hex());
    let registration = scratch.join("registration.txt");
    let deployment = succeeded(veilwatch(&[
        "registration",
        "deployment",
        "--keys",
        keys.to_str().unwrap(),
        "--watchlist",
        oprf.to_str().unwrap(),
        "--materials",
        materials_path.to_str().unwrap(),
        "--kiosk-key",
        &kiosk_public,
        "--faces-per-minute",
        "600",
        "--faces-per-day",
        "10000",
        "--faces-total",
        "100000",
        "--out",
        registration.to_str().unwrap(),
    ]));
    let registered = std::fs::read_to_string(&registration).unwrap();
    let oprf_inspect: Value =
        serde_json::from_str(&succeeded(veilwatch(&["inspect", oprf.to_str().unwrap(), "--issuer", &public]))).unwrap();
    assert!(registered.contains(&format!("\"deployment\":\"{}\"", deployment.trim())), "{registered}");
    assert!(registered.contains(&format!("\"tables\":{}", oprf_inspect["tables"])), "{registered}");
    assert!(registered.contains(&kiosk_public));
    let port = free_port();
    // The kiosk reaches the authority through a recording proxy, whose origin it signs for.
    let (proxy, log) = recording_proxy(port);
    let url = format!("http://127.0.0.1:{proxy}");
    let mut authority = Process::spawn(
        "veilwatch authority",
        Command::new(bin())
            .args([
                "authority",
                "--keys",
                keys.join("authority").to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--public-origin", &url])
            .args(["--admin-listen", "127.0.0.1:0"])
            .args(["--register", registration.to_str().unwrap()]),
        scratch.join("authority.log"),
    );
    authority.wait_for_port(port, Duration::from_secs(5));
    let signed_by_kiosk = ["--authority", url.as_str(), "--kiosk-key", kiosk_key.to_str().unwrap()];
    // The labels come from the materials the authority disclosed, opened here.
    let runs = [identify(&signed_by_kiosk, &oprf), identify(&signed_by_kiosk, &oprf)];
    runs.iter().for_each(check);
    let faces: usize =
        runs.iter().flat_map(|r| r.as_array().unwrap()).map(|img| img["faces"].as_array().unwrap().len()).sum();
    let requests = log.lock().unwrap().clone();
    let path_of = |r: &Vec<u8>| {
        String::from_utf8_lossy(&r[..r.iter().position(|&b| b == b'\r').unwrap()]).split(' ').nth(1).unwrap().to_owned()
    };
    let count = |path: &str| requests.iter().filter(|r| path_of(r) == path).count();
    // Each run: one key check at load, one batch per face, one disclosure per alert.
    assert_eq!((count("/v1/key-check"), count("/v1/evaluate"), count("/v1/disclose")), (2, faces, 2 * PEOPLE.len()));
    assert_eq!(requests.len(), 2 + faces + 2 * PEOPLE.len());
    for request in &requests {
        let head = String::from_utf8_lossy(&request[..request.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
            .to_ascii_lowercase();
        assert!(
            head.contains(&format!("veilwatch-kiosk: {kiosk_public}")) && head.contains("veilwatch-signature: "),
            "every request is signed"
        );
    }
    let bodies: Vec<&[u8]> = requests
        .iter()
        .filter(|r| path_of(r) != "/v1/disclose")
        .map(|r| &r[r.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..])
        .collect();
    let named = format!("veilwatch-deployment: {deployment_id}");
    assert!(
        requests.iter().all(|r| String::from_utf8_lossy(r).to_ascii_lowercase().contains(&named)),
        "every request names the deployment"
    );
    let batches: Vec<&&[u8]> =
        bodies.iter().filter(|b| b.len() == 32 * veilwatch::blind::DEFAULT_TABLES as usize).collect();
    assert_eq!(batches.len(), faces, "one batch of L elements per face");
    // The same faces were queried twice: no element repeats across the two runs.
    let mut elements: Vec<&[u8]> = batches.iter().flat_map(|b| b.chunks(32)).collect();
    let total = elements.len();
    elements.sort();
    elements.dedup();
    assert_eq!(elements.len(), total, "blinded elements never repeat, even for the same face");
    // The body holds no PRF input (domain string) and nothing but 32-byte elements.
    for body in &bodies {
        assert!(!body.windows(22).any(|w| w == b"veilwatch/blind-lsh/v1"));
        assert_eq!(body.len() % 32, 0);
    }

    // A local key against an authority watchlist and vice versa: refused with the suite named.
    let wrong = veilwatch(&[
        "identify",
        oprf.to_str().unwrap(),
        "--issuer",
        &public,
        "--prf-key",
        prf_key.to_str().unwrap(),
        &stranger,
    ]);
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("voprf-ristretto255-sha512"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // An authority with another master secret (another key folder, trusting the same issuer, the
    // same deployment registered): its answers carry proofs under another key, which the CLI refuses.
    let other_keys = scratch.join("other-keys");
    succeeded(veilwatch(&["keygen", "--out", other_keys.to_str().unwrap()]));
    std::fs::copy(keys.join("public/issuer.pub"), other_keys.join("authority/issuer.pub")).unwrap();
    let other_port = free_port();
    let mut other = Process::spawn(
        "the other veilwatch authority",
        Command::new(bin())
            .args(["authority", "--keys", other_keys.join("authority").to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{other_port}"), "--admin-listen", "127.0.0.1:0"])
            .args(["--register", registration.to_str().unwrap()]),
        scratch.join("other-authority.log"),
    );
    other.wait_for_port(other_port, Duration::from_secs(5));
    let foreign_authority = veilwatch(&[
        "identify",
        oprf.to_str().unwrap(),
        "--issuer",
        &public,
        "--authority",
        &format!("http://127.0.0.1:{other_port}"),
        "--kiosk-key",
        kiosk_key.to_str().unwrap(),
        &stranger,
    ]);
    assert!(!foreign_authority.status.success());
    assert!(
        String::from_utf8_lossy(&foreign_authority.stderr).contains("failed verification"),
        "{}",
        String::from_utf8_lossy(&foreign_authority.stderr)
    );

    // Authority down.
    let down = veilwatch(&[
        "identify",
        oprf.to_str().unwrap(),
        "--issuer",
        &public,
        "--authority",
        &format!("http://127.0.0.1:{}", free_port()),
        "--kiosk-key",
        kiosk_key.to_str().unwrap(),
        &stranger,
    ]);
    assert!(!down.status.success());
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot reach the authority"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );

    // An authority answering garbage.
    let garbage = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in garbage.incoming().flatten() {
            read_request(&mut s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n");
            let _ = s.write_all(&[0xEE; 64]);
        }
    });
    let bad = veilwatch(&[
        "identify",
        oprf.to_str().unwrap(),
        "--issuer",
        &public,
        "--authority",
        &format!("http://127.0.0.1:{garbage_port}"),
        "--kiosk-key",
        kiosk_key.to_str().unwrap(),
        &stranger,
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("garbage"), "{}", String::from_utf8_lossy(&bad.stderr));

    // A foreign issuer key.
    let foreign = veilwatch(&["inspect", local.to_str().unwrap(), "--issuer", &"ab".repeat(32)]);
    assert!(!foreign.status.success());
    std::fs::remove_dir_all(&scratch).ok();
}
