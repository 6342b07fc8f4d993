//! The native authority's answer to a sealed-custody query made elsewhere — by the wasm kiosk in
//! tests/e2e/sealed_wasm.test.mjs and the device benchmarks — with the value every slot must
//! decrypt to. It is how a test shows, across the wasm/native boundary, that the kiosk's
//! encryption and the authority's evaluation agree (seed expansion, NTT, encoding): the kiosk
//! encrypts a probe it knows, this answers with `sealed::authority::answer` exactly as the service
//! does, and the kiosk must decrypt every slot to `expected`.
//!
//! Input (JSON file, the first argument): `keySeed`, `querySeed` (64 hex), `publicKey`,
//! `rotationKey`, `query` (base64 of what `/v1/sealed/keys` and `/v1/sealed/match` carry), `probe`
//! (the 128 quantised components the kiosk encrypted), `gallery` (rows of 128 quantised
//! components), `threshold` (cosine). No decoys: every slot's value is then determined by the
//! probe, the rows and the masks.
//!
//! Output (JSON on stdout): `answer` (base64 of the `/v1/sealed/match` answer body), `expected`
//! (per block, every slot's value r·x' + r', x' = 2(⟨q, T⟩ − τ) + 1; x' = 1 − 2τ for a dummy row),
//! `positives` (the [block, slot] of the positive slots, in the order the kiosk claims them) and
//! `opening` (base64 of the `/v1/sealed/claim` answer for them: their masks).
//!
//! `cargo build --release --features cli --locked --example sealed_answer`

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use veilwatch::sealed::authority::{answer, AnswerOptions, RegisteredKiosk, SealedGallery, SlotContent};
use veilwatch::sealed::kiosk::system_rng;
use veilwatch::sealed::protocol::{IssuedSeed, MatchAnswer, Opening};
use veilwatch::sealed::quantise::{threshold, Quantised};

fn seed(value: &Value, what: &str) -> [u8; 32] {
    veilwatch::hex::from_hex(value[what].as_str().unwrap_or_else(|| panic!("{what} is missing")))
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| panic!("{what} is 64 hex digits"))
}

fn bytes(value: &Value, what: &str) -> Vec<u8> {
    B64.decode(value[what].as_str().unwrap_or_else(|| panic!("{what} is missing"))).expect("base64")
}

fn quantised(value: &Value) -> Quantised {
    let components: Vec<i64> =
        value.as_array().expect("an array").iter().map(|c| c.as_i64().expect("an integer")).collect();
    Quantised::from_components(&components).expect("128 integers in [-63, 63]")
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: sealed_answer INPUT.json");
    let input: Value = serde_json::from_slice(&std::fs::read(&path).expect("the input file")).expect("JSON");
    let key_seed = seed(&input, "keySeed");
    let query_seed = seed(&input, "querySeed");
    let kiosk = RegisteredKiosk::register(&key_seed, &bytes(&input, "publicKey"), &bytes(&input, "rotationKey"))
        .expect("the kiosk's keys parse");
    let probe = quantised(&input["probe"]);
    let rows: Vec<Quantised> = input["gallery"].as_array().expect("gallery rows").iter().map(quantised).collect();
    let cosine = input["threshold"].as_f64().expect("a threshold") as f32;
    let tau = i128::from(threshold(cosine));
    let x_of = |content: SlotContent| match content {
        SlotContent::Row(row) => 2 * (i128::from(probe.dot(&rows[row])) - tau) + 1,
        SlotContent::Dummy => 1 - 2 * tau,
        SlotContent::Decoy => unreachable!("no decoys are drawn here"),
    };
    let gallery = SealedGallery::new(rows.clone());
    let options = AnswerOptions { threshold: cosine, decoy_probability: 0.0 };
    let (blocks, opening) =
        answer(&gallery, &kiosk, &query_seed, &bytes(&input, "query"), options, &mut system_rng()).expect("an answer");

    let mut positives = Vec::new();
    let mut masks = Vec::new();
    let expected: Vec<Vec<i64>> = opening
        .slots
        .iter()
        .enumerate()
        .map(|(b, block)| {
            block
                .iter()
                .enumerate()
                .map(|(s, slot)| {
                    let x = x_of(slot.content);
                    if x > 0 {
                        positives.push(json!([b, s]));
                        masks.push((slot.r, slot.r_prime));
                    }
                    i64::try_from(i128::from(slot.r) * x + i128::from(slot.r_prime)).expect("within ±t/2")
                })
                .collect()
        })
        .collect();
    let body = MatchAnswer { next: IssuedSeed { id: [0; 16], seed: [0; 32] }, blocks }.to_bytes();
    let out = json!({
        "answer": B64.encode(body),
        "expected": expected,
        "positives": positives,
        "opening": B64.encode(Opening { masks }.to_bytes()),
    });
    println!("{out}");
}
