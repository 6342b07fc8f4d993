//! The oracle-dump attack of issue 9 (DESIGN §1 T2/T3, §3.1), re-run against a real
//! `veilwatch authority` on loopback serving an authority-custody watchlist of 30 real people
//! (LFW photos, enrolled by the CLI, with names and reference photos held at the authority).
//!
//! The attacker holds the watchlist file and evaluates chosen codes instead of faces: all C = 256
//! codes of table 0, then of table 1, …, L elements per request, pooling bucket shares across
//! requests and opening each record once m shares of it are pooled ([`dump`]).
//!
//! - T2, no kiosk credential: every request is refused (401), nothing is evaluated, 0 records open.
//! - T3, registered kiosks: records open only after ⌈m·C/L⌉ requests; a kiosk's day budget and the
//!   deployment's total budget stop the requests (429); what opens is record handles only, and
//!   the disclosure cap (10 per kiosk per hour) stops bulk release of names and photos.
//!
//! The figures are printed one per line (`ATTACK <name>: <value>`) for the README's threat-model
//! table: `cargo test --release --features cli --locked --test attacks -- --nocapture`.

#[path = "../common/mod.rs"]
mod common;
mod dump;
mod sealed;
mod sealed_malicious;

use std::time::Instant;

use common::http::{agent, signed_post, signed_post_with};
use common::kiosk::{authority, EnrolledDeployment, Kiosk, DEFAULT_CAPS};
use dump::Dump;
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner};
use veilwatch::authority::registration::Budgets;
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::material::{DisclosureBody, MaterialKeys};
use veilwatch::hex::hex;

const PEOPLE: usize = 30;
const EVALUATE: &str = "/v1/evaluate";
const DISCLOSE: &str = "/v1/disclose";
/// The registered budgets: a kiosk's day budget below the dump's ⌈m·C/L⌉, a deployment total
/// above it (so that two kiosks pooling their answers do open records), the default disclosure cap.
const BUDGETS: Budgets = Budgets { faces_per_minute: 30, faces_per_day: 10, faces_total: 18, ..DEFAULT_CAPS };

/// The README's example budgets (60 faces a minute, 5 000 a day), the ones a deployment would
/// really set: what one stolen kiosk credential yields there.
const EXAMPLE: Budgets = Budgets { faces_per_minute: 60, faces_per_day: 5000, faces_total: 1_000_000, ..DEFAULT_CAPS };

fn figure(name: &str, value: impl std::fmt::Display) {
    println!("ATTACK {name}: {value}");
}

#[test]
fn the_oracle_dump_needs_a_kiosk_is_stopped_by_budgets_and_yields_handles_not_identities() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(dataset) = common::cluster::lfw_people(scratch.path(), PEOPLE) else { return };
    let deployment = EnrolledDeployment::enrol(scratch.path(), &dataset, 1);
    let (k1, k2) = (Kiosk::from_cli(scratch.path(), "kiosk-1"), Kiosk::from_cli(scratch.path(), "kiosk-2"));
    let registration = deployment.registration(&[&k1, &k2], BUDGETS, &scratch.path().join("registration.vwr"));
    let authority = authority(&deployment.keys, &["--register", registration.to_str().unwrap()], scratch.path());
    let url = authority.url("");
    let origin = AuthorityOrigin::of_url(&url).unwrap();
    let agent = agent();

    let issuer = common::kiosk::read_public_key(&deployment.issuer_public);
    let file = std::fs::read(&deployment.watchlist).unwrap();
    let mut dump = Dump::new(Watchlist::parse(file, &issuer).unwrap());
    let header = dump.watchlist.header.clone();
    let (l, m, c) = (header.tables as usize, header.threshold as usize, header.code_space as usize);
    let needed = (m * c).div_ceil(l);
    let enrolled: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&deployment.materials).unwrap()).unwrap();
    figure(
        "watchlist",
        format!("{} people enrolled (size class {}), L = {l}, m = {m}, C = {c}", enrolled.len(), header.entries),
    );
    figure("requests needed in theory (ceil(m*C/L))", needed);

    // T2: the file and the network, no credential. The attacker sends what would open every
    // record: unsigned, signed by a key it made itself, and with a kiosk's headers replayed on
    // another body. Every request is refused; nothing comes back to pool.
    let started = Instant::now();
    let stranger = RequestSigner::new(SigningKey::generate(&mut OsRng), &deployment.id);
    let mut refused = 0;
    let mut sent = 0;
    for i in 0..needed + 2 {
        let query = dump.next_query(l).unwrap();
        let body = query.body();
        let answers = [
            signed_post_with(&agent, &url, EVALUATE, body, Vec::new()),
            signed_post(&agent, &url, EVALUATE, body, &stranger),
            signed_post_with(
                &agent,
                &url,
                EVALUATE,
                body,
                k1.signer(&deployment.id).headers(&origin, "POST", EVALUATE, b"another body", common::http::now()),
            ),
        ];
        // Unsigned, a stranger's key, a kiosk's headers over another body: each is refused with the
        // one token a stranger gets (the reasons are in the authority's log and metrics only).
        for answer in &answers {
            sent += 1;
            assert_eq!((answer.status, answer.refusal()), (401, "unauthorised"), "request {i}: {}", answer.text());
            refused += 1;
            if answer.status == 200 {
                dump.absorb(&query, &answer.body);
            }
        }
    }
    assert_eq!(dump.elements_answered, 0);
    assert!(dump.opened.is_empty());
    figure("T2 requests sent without a valid credential", sent);
    figure("T2 requests refused (401)", refused);
    figure("T2 records opened", dump.opened.len());

    // T3: a registered kiosk. The dump starts again from table 0, and runs until the authority
    // stops answering.
    let mut dump = Dump::new(dump.watchlist);
    let mut answered = 0usize;
    let mut first_open_at = None;
    let mut all_open_at = None;
    let mut run = |kiosk: &Kiosk, dump: &mut Dump| -> (usize, common::http::Answer) {
        let mut by_this_kiosk = 0;
        loop {
            let query = dump.next_query(l).expect("the budget stops the dump before it runs out of codes");
            let answer = signed_post(&agent, &url, EVALUATE, query.body(), &kiosk.signer(&deployment.id));
            if answer.status != 200 {
                return (by_this_kiosk, answer);
            }
            answered += 1;
            by_this_kiosk += 1;
            if dump.absorb(&query, &answer.body) > 0 && first_open_at.is_none() {
                first_open_at = Some(answered);
            }
            if all_open_at.is_none() && dump.opened.len() == enrolled.len() {
                all_open_at = Some(answered);
            }
        }
    };
    let (by_k1, stop_k1) = run(&k1, &mut dump);
    assert_eq!(by_k1 as u64, BUDGETS.faces_per_day as u64, "one kiosk gets exactly its day budget");
    assert_eq!((stop_k1.status, stop_k1.refusal()), (429, "budget_day"), "{}", stop_k1.text());
    let retry: u64 = stop_k1.header("retry-after").expect("a day budget refusal says when to retry").parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    figure("T3 one kiosk: requests answered before its day budget refused it (429 budget_day)", by_k1);
    figure("T3 one kiosk: records opened within its day budget", dump.opened.len());
    assert!(dump.opened.is_empty(), "{by_k1} requests < ceil(m*C/L) = {needed}: nothing opens");

    let (by_k2, stop_k2) = run(&k2, &mut dump);
    assert_eq!((by_k1 + by_k2) as u64, BUDGETS.faces_total, "the deployment's total budget holds across kiosks");
    assert_eq!((stop_k2.status, stop_k2.refusal()), (429, "budget_total"), "{}", stop_k2.text());
    let elapsed = started.elapsed().as_secs_f64();
    let first = first_open_at.expect("two kiosks pooling 18 answers open records");
    assert!(first >= needed, "records opened after {first} requests, fewer than ceil(m*C/L) = {needed}");
    assert_eq!(dump.opened.len(), enrolled.len(), "every real entry opens; no dummy does");
    figure("T3 two kiosks pooled: requests answered before the deployment total refused (429 budget_total)", answered);
    figure("T3 requests (of L elements) answered when the first record opened", first);
    figure("T3 requests answered when every record had opened", all_open_at.unwrap());
    figure("T3 records opened", format!("{} of {} enrolled", dump.opened.len(), enrolled.len()));
    figure("T3 attack wall-clock (s, incl. T2 part)", format!("{elapsed:.1}"));

    // What opened is a handle per record (16 random bytes): no name, no photo. The names and
    // photos are at the authority, released one disclosure at a time, capped per kiosk per hour.
    let people: Vec<String> = std::fs::read_dir(&dataset)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().replace('_', " "))
        .collect();
    let mut disclosed = Vec::new();
    let mut capped = 0;
    for opened in dump.opened.values() {
        let keys = MaterialKeys::derive(&opened.record_key);
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        let body = DisclosureBody::encode(&keys, &deployment.id_hex, &k1.public_hex(), &hex(&nonce), &opened.handle);
        let headers =
            k1.signer(&deployment.id).headers_with_nonce(&origin, "POST", DISCLOSE, &body, common::http::now(), &nonce);
        let answer = signed_post_with(&agent, &url, DISCLOSE, &body, headers);
        match (answer.status, answer.refusal()) {
            (200, _) => {
                let material = keys.open(&answer.body, &deployment.id, &opened.handle).expect("the material opens");
                assert!(people.contains(&material.label), "a disclosure is a real name: {}", material.label);
                disclosed.push(material.label);
            }
            (429, "disclosure_cap") => capped += 1,
            other => panic!("disclosure of {}: {other:?} {}", hex(&opened.handle), answer.text()),
        }
    }
    assert_eq!(disclosed.len() as u64, BUDGETS.disclosures_per_hour as u64, "the cap releases exactly its allowance");
    assert_eq!(disclosed.len() + capped, dump.opened.len());
    figure("T3 what an opened record holds", "a 16-byte handle (no name, no photo)");
    figure(
        "T3 materials disclosed (names, photos) before the cap refused (429 disclosure_cap), one kiosk, one hour",
        format!("{} of {} records opened", disclosed.len(), dump.opened.len()),
    );
    figure("T3 disclosures refused by the cap", capped);
}

#[test]
fn at_the_readme_example_budgets_one_stolen_kiosk_opens_every_handle_in_its_first_minute() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(dataset) = common::cluster::lfw_people(scratch.path(), PEOPLE) else { return };
    let deployment = EnrolledDeployment::enrol(scratch.path(), &dataset, 1);
    let kiosk = Kiosk::from_cli(scratch.path(), "kiosk");
    let registration = deployment.registration(&[&kiosk], EXAMPLE, &scratch.path().join("example.vwr"));
    let authority = authority(&deployment.keys, &["--register", registration.to_str().unwrap()], scratch.path());
    let (url, agent) = (authority.url(""), agent());
    let issuer = common::kiosk::read_public_key(&deployment.issuer_public);
    let mut dump = Dump::new(Watchlist::parse(std::fs::read(&deployment.watchlist).unwrap(), &issuer).unwrap());
    let header = dump.watchlist.header.clone();
    let (l, c) = (header.tables as usize, header.code_space as usize);
    let every_code = (l * c).div_ceil(l);
    let enrolled = PEOPLE;

    // One kiosk's credential, the dump from table 0, until the authority refuses; started at the
    // top of a minute, so that the minute's 60 are all in one window. The run takes a few seconds
    // alone, but this binary's sealed attacks share the cores with it (they once pushed a start
    // at second 20 over the minute's end, and the next minute's budget answered more).
    let second = common::http::now() % 60;
    if second > 1 {
        std::thread::sleep(std::time::Duration::from_secs(61 - second as u64));
    }
    let minute = common::http::now() / 60;
    let started = Instant::now();
    let (mut answered, mut all_handles_at) = (0usize, None);
    let (refused, unanswered) = loop {
        let query = dump.next_query(l).expect("the minute's budget stops the dump first");
        let answer = signed_post(&agent, &url, EVALUATE, query.body(), &kiosk.signer(&deployment.id));
        if answer.status != 200 {
            break (answer, query);
        }
        answered += 1;
        dump.absorb(&query, &answer.body);
        if all_handles_at.is_none() && dump.opened.len() == enrolled {
            all_handles_at = Some((answered, started.elapsed()));
        }
    };
    assert_eq!(
        common::http::now() / 60,
        minute,
        "the dump ran past its minute: this machine is too busy to measure it"
    );
    let (handles_at, handles_took) = all_handles_at.expect("every handle opens within the minute's 60 faces");
    assert_eq!((refused.status, refused.refusal()), (429, "budget_minute"), "{}", refused.text());
    assert_eq!(answered as u64, EXAMPLE.faces_per_minute as u64, "the minute's budget, not the day's, stops it");
    assert!(handles_at < answered, "every handle opened before the minute's budget was spent");
    figure("T3 at the README's example budgets (60/min, 5 000/day): requests until every handle opened", handles_at);
    figure(
        "T3 at the README's example budgets: seconds until every handle opened",
        format!("{:.1}", handles_took.as_secs_f64()),
    );
    figure("T3 at the README's example budgets: requests answered before 429 budget_minute", answered);

    // Every entry's whole code vector needs every code of every table: C·L/L requests. The
    // minute's budget only spreads them over minutes (the day's 5 000 does not stop them): the
    // rest of the dump runs here under a registration whose minute budget is the day's, which
    // changes the waiting, not what is answered.
    let lifted = Budgets { faces_per_minute: EXAMPLE.faces_per_day, ..EXAMPLE };
    // (A newer registration must be issued at a later second than the one in force.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let newer = deployment.registration(&[&kiosk], lifted, &scratch.path().join("lifted.vwr"));
    common::http::send_document(&authority.admin_url(""), &newer);
    // The refused request's codes first: nothing was answered for them.
    let mut refused_query = Some(unanswered);
    while let Some(query) = refused_query.take().or_else(|| dump.next_query(l)) {
        let answer = signed_post(&agent, &url, EVALUATE, query.body(), &kiosk.signer(&deployment.id));
        assert_eq!(answer.status, 200, "{}", answer.text());
        answered += 1;
        dump.absorb(&query, &answer.body);
    }
    assert_eq!(answered, every_code);
    assert!((answered as u64) < EXAMPLE.faces_per_day as u64, "within one day's budget");
    assert_eq!(dump.complete_code_vectors(), enrolled, "every entry's code in every table");
    let minutes = every_code as f64 / EXAMPLE.faces_per_minute as f64;
    figure(
        "T3 at the README's example budgets: requests until every entry's code vector (every table) is known",
        every_code,
    );
    figure(
        "T3 at the README's example budgets: minutes of the 60/min budget those requests take",
        format!("{minutes:.1} ({} min {} s)", (minutes * 60.0) as u64 / 60, (minutes * 60.0) as u64 % 60),
    );
}
