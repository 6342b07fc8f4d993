//! The two PRF suites that turn LSH codes into bucket tags and keys, and the derivations from a
//! PRF output (DESIGN §3):
//!
//! - `hmac-sha256-local`: HMAC-SHA256 under a key shipped with the deployment (offline demos). Weaker:
//!   whoever holds the key can enumerate all 2d codes of every table.
//! - `oprf-ristretto255-sha512`: RFC 9497 OPRF mode (the `voprf` crate). The key stays with the
//!   authority; the device sends blinded elements (uniformly random group elements) and unblinds the
//!   answers, so the authority learns nothing about the codes, and can rate-limit queries.
//!
//! Guarantees: the PRF input binds the watchlist id, table and code; outputs and derived keys are
//! wiped on drop; an authority that answers with the wrong number or malformed elements is an error,
//! never a silent non-match.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::OsRng;
use sha2::Sha256;
use voprf::{BlindedElement, EvaluationElement, OprfClient, OprfServer, Ristretto255};
use zeroize::{Zeroize, Zeroizing};

use super::BlindError;

pub const DOMAIN: &[u8] = b"veilwatch/blind-lsh/v1";
/// Bytes of one serialised ristretto255 element on the wire, each way.
pub const ELEMENT_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfSuite {
    HmacSha256Local,
    OprfRistretto255Sha512,
}

impl PrfSuite {
    pub fn id(self) -> u8 {
        match self {
            PrfSuite::HmacSha256Local => 1,
            PrfSuite::OprfRistretto255Sha512 => 2,
        }
    }

    pub fn from_id(id: u8) -> Option<PrfSuite> {
        match id {
            1 => Some(PrfSuite::HmacSha256Local),
            2 => Some(PrfSuite::OprfRistretto255Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PrfSuite::HmacSha256Local => "hmac-sha256-local",
            PrfSuite::OprfRistretto255Sha512 => "oprf-ristretto255-sha512",
        }
    }
}

/// `DOMAIN || watchlist_id || u16_be(table) || u16_be(code)`.
pub fn code_input(watchlist_id: &[u8; 16], table: u16, code: u16) -> Vec<u8> {
    let mut x = Vec::with_capacity(DOMAIN.len() + 20);
    x.extend_from_slice(DOMAIN);
    x.extend_from_slice(watchlist_id);
    x.extend_from_slice(&table.to_be_bytes());
    x.extend_from_slice(&code.to_be_bytes());
    x
}

/// The PRF input whose output the header records, so a wrong key or a foreign authority is
/// recognised at load time instead of silently matching nothing.
pub fn key_check_input(watchlist_id: &[u8; 16]) -> Vec<u8> {
    let mut x = Vec::with_capacity(DOMAIN.len() + 26);
    x.extend_from_slice(DOMAIN);
    x.extend_from_slice(b"/key-check");
    x.extend_from_slice(watchlist_id);
    x
}

/// Bytes of a bucket tag. 64 bits keep a false tag match among the ~2^20 buckets of a 10 240-entry
/// file below 2^-30 per probe (and a false match only fails to open), at half DESIGN's 16 bytes:
/// the directory is a per-bucket overhead.
pub const TAG_BYTES: usize = 8;

/// What a PRF output is turned into.
pub struct Derived {
    pub tag: [u8; TAG_BYTES],
    pub bucket_key: Zeroizing<[u8; 32]>,
}

/// The tag and key of bucket `slot` of the (table, code) whose PRF output is `output`: a code's
/// items fill buckets 0, 1, … of k items each (the file format's spec says why). The key check
/// is slot 0's tag of its own PRF output.
pub fn derive(output: &[u8], slot: u16) -> Derived {
    let hk = Hkdf::<Sha256>::new(None, output);
    let mut tag = [0u8; TAG_BYTES];
    let mut bucket_key = Zeroizing::new([0u8; 32]);
    let info = |label: &[u8]| [label, &slot.to_be_bytes()].concat();
    hk.expand(&info(b"veilwatch/blind-lsh/v2/tag"), &mut tag).expect("8 bytes is a valid HKDF length");
    hk.expand(&info(b"veilwatch/blind-lsh/v2/bucket"), &mut bucket_key[..]).expect("32 bytes is a valid HKDF length");
    Derived { tag, bucket_key }
}

/// A PRF the matcher or the issuer can evaluate on a batch of inputs.
pub trait Prf {
    fn suite(&self) -> PrfSuite;
    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError>;
}

/// `hmac-sha256-local`.
pub struct LocalHmac {
    key: Zeroizing<[u8; 32]>,
}

impl LocalHmac {
    pub fn new(key: [u8; 32]) -> LocalHmac {
        LocalHmac { key: Zeroizing::new(key) }
    }
}

impl Prf for LocalHmac {
    fn suite(&self) -> PrfSuite {
        PrfSuite::HmacSha256Local
    }

    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        Ok(inputs
            .iter()
            .map(|x| {
                let mut mac = Hmac::<Sha256>::new_from_slice(&self.key[..]).expect("HMAC takes any key length");
                mac.update(x);
                Zeroizing::new(mac.finalize().into_bytes().to_vec())
            })
            .collect())
    }
}

/// The holder of the OPRF key: the issuer at enrolment (direct evaluation) and the authority
/// (evaluation of blinded elements).
pub struct OprfKey {
    server: OprfServer<Ristretto255>,
}

impl OprfKey {
    pub fn generate() -> OprfKey {
        OprfKey { server: OprfServer::new(&mut OsRng).expect("OsRng yields a key") }
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<OprfKey, BlindError> {
        OprfServer::new_with_key(bytes)
            .map(|server| OprfKey { server })
            .map_err(|_| BlindError::KeyFile("the OPRF key is not a valid ristretto255 scalar".into()))
    }

    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.server.serialize().to_vec())
    }

    /// Evaluates blinded elements (`ELEMENT_BYTES` each, concatenated) for a client. The result
    /// has the same layout. Malformed elements are refused as a whole.
    pub fn evaluate_blinded(&self, body: &[u8]) -> Result<Vec<u8>, BlindError> {
        if body.is_empty() || body.len() % ELEMENT_BYTES != 0 {
            return Err(BlindError::Authority(format!("request of {} bytes is not a list of elements", body.len())));
        }
        let mut out = Vec::with_capacity(body.len());
        for chunk in body.chunks_exact(ELEMENT_BYTES) {
            let blinded = BlindedElement::<Ristretto255>::deserialize(chunk)
                .map_err(|_| BlindError::Authority("a request element is not a valid group element".into()))?;
            out.extend_from_slice(&self.server.blind_evaluate(&blinded).serialize());
        }
        Ok(out)
    }
}

impl Prf for OprfKey {
    fn suite(&self) -> PrfSuite {
        PrfSuite::OprfRistretto255Sha512
    }

    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        inputs
            .iter()
            .map(|x| {
                self.server
                    .evaluate(x)
                    .map(|o| Zeroizing::new(o.to_vec()))
                    .map_err(|_| BlindError::Authority("OPRF input rejected".into()))
            })
            .collect()
    }
}

/// Carries a batch of blinded elements to the authority and brings back its answer.
pub trait OprfTransport {
    fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError>;
}

/// The device side of `oprf-ristretto255-sha512`.
pub struct OprfClientPrf<T: OprfTransport> {
    pub transport: T,
}

impl<T: OprfTransport> Prf for OprfClientPrf<T> {
    fn suite(&self) -> PrfSuite {
        PrfSuite::OprfRistretto255Sha512
    }

    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        let batch = BlindedBatch::blind(inputs.to_vec())?;
        let response = self.transport.evaluate(batch.request())?;
        batch.finish(&response)
    }
}

/// PRF inputs blinded for the authority, for a round trip the caller carries out itself (the
/// browser's asynchronous `fetch`): [`BlindedBatch::request`] is the body to send (random group
/// elements, G1 lets them leave), [`BlindedBatch::finish`] unblinds the answer. The inputs and the
/// blinding scalars are wiped when the batch is dropped.
pub struct BlindedBatch {
    inputs: Zeroizing<Vec<Vec<u8>>>,
    states: Vec<OprfClient<Ristretto255>>,
    request: Vec<u8>,
}

impl BlindedBatch {
    pub fn blind(inputs: Vec<Vec<u8>>) -> Result<BlindedBatch, BlindError> {
        let inputs = Zeroizing::new(inputs);
        let mut states = Vec::with_capacity(inputs.len());
        let mut request = Vec::with_capacity(inputs.len() * ELEMENT_BYTES);
        for x in inputs.iter() {
            let blind = OprfClient::<Ristretto255>::blind(x, &mut OsRng)
                .map_err(|_| BlindError::Authority("OPRF input rejected".into()))?;
            request.extend_from_slice(&blind.message.serialize());
            states.push(blind.state);
        }
        Ok(BlindedBatch { inputs, states, request })
    }

    /// The request body: the blinded elements, `ELEMENT_BYTES` each, concatenated.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// The PRF outputs, from the authority's answer to [`BlindedBatch::request`].
    pub fn finish(&self, response: &[u8]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        if response.len() != self.inputs.len() * ELEMENT_BYTES {
            return Err(BlindError::AuthorityAnswer(format!(
                "{} bytes for {} elements (expected {})",
                response.len(),
                self.inputs.len(),
                self.inputs.len() * ELEMENT_BYTES
            )));
        }
        self.states
            .iter()
            .zip(self.inputs.iter())
            .zip(response.chunks_exact(ELEMENT_BYTES))
            .map(|((state, x), element)| {
                let element = EvaluationElement::<Ristretto255>::deserialize(element).map_err(|_| {
                    BlindError::AuthorityAnswer("an answer element is not a valid group element".into())
                })?;
                state
                    .finalize(x, &element)
                    .map(|o| Zeroizing::new(o.to_vec()))
                    .map_err(|_| BlindError::AuthorityAnswer("an answer element could not be unblinded".into()))
            })
            .collect()
    }
}

impl Drop for BlindedBatch {
    fn drop(&mut self) {
        self.request.zeroize();
    }
}

/// An in-process authority, for the issuer's own checks and for tests of the client side.
pub struct InProcessAuthority<'a>(pub &'a OprfKey);

impl OprfTransport for InProcessAuthority<'_> {
    fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        self.0.evaluate_blinded(blinded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oprf_client_and_direct_evaluation_agree() {
        let key = OprfKey::generate();
        let client = OprfClientPrf { transport: InProcessAuthority(&key) };
        let inputs = vec![code_input(&[1; 16], 0, 5), code_input(&[1; 16], 1, 5)];
        let via_client = client.evaluate(&inputs).unwrap();
        let direct = key.evaluate(&inputs).unwrap();
        assert_eq!(
            via_client.iter().map(|v| v.to_vec()).collect::<Vec<_>>(),
            direct.iter().map(|v| v.to_vec()).collect::<Vec<_>>()
        );
        assert_ne!(*direct[0], *direct[1]);
    }

    #[test]
    fn two_queries_of_the_same_input_look_unrelated_on_the_wire() {
        struct Recorder<'a>(&'a OprfKey, std::cell::RefCell<Vec<Vec<u8>>>);
        impl OprfTransport for Recorder<'_> {
            fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
                self.1.borrow_mut().push(blinded.to_vec());
                self.0.evaluate_blinded(blinded)
            }
        }
        let key = OprfKey::generate();
        let client = OprfClientPrf { transport: Recorder(&key, Default::default()) };
        let input = vec![code_input(&[9; 16], 3, 77)];
        let (a, b) = (client.evaluate(&input).unwrap(), client.evaluate(&input).unwrap());
        assert_eq!(*a[0], *b[0], "same PRF output");
        let wire = client.transport.1.borrow();
        assert_ne!(wire[0], wire[1], "different blinded elements");
        assert!(!wire[0].windows(input[0].len()).any(|w| w == &input[0][..]), "the input is not on the wire");
    }

    #[test]
    fn a_garbage_answer_is_an_error() {
        struct Garbage;
        impl OprfTransport for Garbage {
            fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
                Ok(vec![0xFF; blinded.len()])
            }
        }
        let client = OprfClientPrf { transport: Garbage };
        assert!(matches!(client.evaluate(&[b"x".to_vec()]), Err(BlindError::AuthorityAnswer(_))));
        struct Short;
        impl OprfTransport for Short {
            fn evaluate(&self, _: &[u8]) -> Result<Vec<u8>, BlindError> {
                Ok(vec![0; 5])
            }
        }
        assert!(matches!(
            OprfClientPrf { transport: Short }.evaluate(&[b"x".to_vec()]),
            Err(BlindError::AuthorityAnswer(_))
        ));
    }

    /// RFC 9497 Appendix A.1.1 (ristretto255-SHA512, OPRF mode), test vectors 1 and 2.
    #[test]
    fn rfc9497_oprf_test_vectors() {
        use voprf::Group;
        let hex = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let seed = hex("a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3");
        let server = OprfServer::<Ristretto255>::new_from_seed(&seed, &hex("74657374206b6579")).unwrap();
        assert_eq!(
            server.serialize().to_vec(),
            hex("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e")
        );
        let blind = <Ristretto255 as Group>::deserialize_scalar(&hex(
            "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        ))
        .unwrap();
        let vectors = [
            ("00", "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c", "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e", "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6"),
            ("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418", "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25", "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73"),
        ];
        for (input, blinded, evaluated, output) in vectors {
            let input = hex(input);
            let result = OprfClient::<Ristretto255>::deterministic_blind_unchecked(&input, blind).unwrap();
            assert_eq!(result.message.serialize().to_vec(), hex(blinded));
            let evaluation = server.blind_evaluate(&result.message);
            assert_eq!(evaluation.serialize().to_vec(), hex(evaluated));
            assert_eq!(result.state.finalize(&input, &evaluation).unwrap().to_vec(), hex(output));
            assert_eq!(server.evaluate(&input).unwrap().to_vec(), hex(output));
        }
    }
}
