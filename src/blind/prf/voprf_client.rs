//! The device's side of `voprf-ristretto255-sha512`: PRF inputs blinded into uniformly random
//! group elements ([`BlindedBatch`]), the authority's answer verified against the deployment's
//! public key (RFC 9497 VerifyProof, its ComputeComposites as two multiscalar multiplications)
//! before a single output is unblinded, and [`VoprfClientPrf`], the same round trip through a
//! synchronous [`OprfTransport`] (the CLI's HTTP client). The inputs and blinding states are
//! wiped on drop; an answer of the wrong length, with malformed elements, or whose proof fails is
//! an error, never a silent non-match.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
use rand_core::OsRng;
use sha2::Digest as _;
use voprf::{Group, Proof, Ristretto255, VoprfClient};
use zeroize::{Zeroize, Zeroizing};

use super::{Prf, PrfSuite, ELEMENT_BYTES, PROOF_BYTES, PUBLIC_KEY_BYTES};
use crate::blind::BlindError;

/// A deployment public key as the header carries it: a valid, non-identity ristretto255 element.
pub fn check_public_key(bytes: &[u8; PUBLIC_KEY_BYTES]) -> bool {
    Ristretto255::deserialize_elem(bytes).is_ok()
}

/// Which of the authority's endpoints a batch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityEndpoint {
    /// `POST /v1/evaluate`: one face, exactly L elements.
    Evaluate,
    /// `POST /v1/key-check`: the watchlist's key-check input, exactly 1 element.
    KeyCheck,
}

impl AuthorityEndpoint {
    pub fn path(self) -> &'static str {
        match self {
            AuthorityEndpoint::Evaluate => "/v1/evaluate",
            AuthorityEndpoint::KeyCheck => "/v1/key-check",
        }
    }
}

/// Carries a batch of blinded elements for a deployment to the authority and brings back its
/// answer (elements and proof, unverified: [`BlindedBatch::finish`] verifies it).
pub trait OprfTransport {
    fn send(&self, endpoint: AuthorityEndpoint, deployment: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError>;
}

impl<T: OprfTransport + ?Sized> OprfTransport for Box<T> {
    fn send(&self, endpoint: AuthorityEndpoint, deployment: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        (**self).send(endpoint, deployment, blinded)
    }
}

/// The device side of `voprf-ristretto255-sha512` for one deployment: blinds, asks the
/// authority through `transport`, verifies the proof against `public_key` (the watchlist
/// header's) and unblinds.
pub struct VoprfClientPrf<T: OprfTransport> {
    pub transport: T,
    pub deployment: [u8; 16],
    pub public_key: [u8; PUBLIC_KEY_BYTES],
}

impl<T: OprfTransport> VoprfClientPrf<T> {
    fn round_trip(
        &self,
        endpoint: AuthorityEndpoint,
        inputs: Vec<Vec<u8>>,
    ) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        let batch = BlindedBatch::blind(inputs)?;
        let answer = self.transport.send(endpoint, &self.deployment, batch.request())?;
        batch.finish(&answer, &self.public_key)
    }
}

impl<T: OprfTransport> Prf for VoprfClientPrf<T> {
    fn suite(&self) -> PrfSuite {
        PrfSuite::VoprfRistretto255Sha512
    }

    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        self.round_trip(AuthorityEndpoint::Evaluate, inputs.to_vec())
    }

    fn evaluate_key_check(&self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, BlindError> {
        let mut outputs = self.round_trip(AuthorityEndpoint::KeyCheck, vec![input.to_vec()])?;
        outputs.pop().ok_or_else(|| BlindError::AuthorityAnswer("no output for the key check".into()))
    }

    fn bound_watchlist(&self) -> Option<[u8; 16]> {
        Some(self.deployment)
    }

    fn public_key(&self) -> Option<[u8; PUBLIC_KEY_BYTES]> {
        Some(self.public_key)
    }
}

/// PRF inputs blinded for the authority, for a round trip the caller carries out itself (the
/// browser's asynchronous `fetch`): [`BlindedBatch::request`] is the body to send (random group
/// elements, G1 lets them leave), [`BlindedBatch::finish`] verifies the answer's proof and
/// unblinds it. The inputs and the blinding states are wiped when the batch is dropped.
pub struct BlindedBatch {
    inputs: Zeroizing<Vec<Vec<u8>>>,
    states: Vec<VoprfClient<Ristretto255>>,
    request: Vec<u8>,
}

impl BlindedBatch {
    pub fn blind(inputs: Vec<Vec<u8>>) -> Result<BlindedBatch, BlindError> {
        let inputs = Zeroizing::new(inputs);
        let mut states = Vec::with_capacity(inputs.len());
        let mut request = Vec::with_capacity(inputs.len() * ELEMENT_BYTES);
        for x in inputs.iter() {
            let blind = VoprfClient::<Ristretto255>::blind(x, &mut OsRng)
                .map_err(|_| BlindError::Authority("VOPRF input rejected".into()))?;
            request.extend_from_slice(&blind.message.serialize());
            states.push(blind.state);
        }
        Ok(BlindedBatch { inputs, states, request })
    }

    /// The request body: the blinded elements, `ELEMENT_BYTES` each, concatenated.
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// How many elements the request carries.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The PRF outputs, from the authority's `answer` to [`BlindedBatch::request`] (the evaluated
    /// elements, then the proof), once the proof verifies under `public_key`, the deployment's key
    /// from the signed watchlist header. An answer of the wrong length is `AuthorityAnswer`; one
    /// whose elements or proof do not decode, or whose proof fails (a tampered element or proof,
    /// another deployment's or another authority's key) is `AuthorityUnverified`.
    pub fn finish(
        &self,
        answer: &[u8],
        public_key: &[u8; PUBLIC_KEY_BYTES],
    ) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        let expected = self.states.len() * ELEMENT_BYTES + PROOF_BYTES;
        if answer.len() != expected {
            return Err(BlindError::AuthorityAnswer(format!(
                "{} bytes for {} elements and a proof (expected {expected})",
                answer.len(),
                self.states.len(),
            )));
        }
        let (elements, proof) = answer.split_at(self.states.len() * ELEMENT_BYTES);
        let unverified = |what: &str| BlindError::AuthorityUnverified(what.to_owned());
        Proof::<Ristretto255>::deserialize(proof).map_err(|_| unverified("the proof does not decode"))?;
        let public_key = Ristretto255::deserialize_elem(public_key)
            .map_err(|_| unverified("the deployment's public key is not a valid group element"))?;
        let blinded = points(&self.request).ok_or_else(|| unverified("the request does not decode"))?;
        let evaluated = points(elements).ok_or_else(|| unverified("an answer element is not a valid group element"))?;
        let proof: &[u8; PROOF_BYTES] = proof.try_into().expect("split at PROOF_BYTES from the end");
        if !verify_batch_proof(&public_key, (&self.request, &blinded), (elements, &evaluated), proof) {
            return Err(unverified("the proof does not verify under the deployment's public key"));
        }
        // Verified: unblind each element and hash it with its input (RFC 9497 §3.3.2 Finalize:
        // Hash(I2OSP(len(input), 2) || input || I2OSP(len(unblinded), 2) || unblinded ||
        // "Finalize"); the test against the crate's `batch_finalize` checks it).
        self.states
            .iter()
            .zip(self.inputs.iter())
            .zip(&evaluated)
            .map(|((state, input), element)| {
                let input_len = u16::try_from(input.len()).map_err(|_| unverified("a PRF input is too long"))?;
                let serialized = Zeroizing::new(state.serialize());
                let mut blind = Zeroizing::new([0u8; 32]);
                blind.copy_from_slice(&serialized[..32]);
                let blind = Zeroizing::new(
                    Option::<Scalar>::from(Scalar::from_canonical_bytes(*blind))
                        .ok_or_else(|| unverified("a blinding state does not decode"))?,
                );
                let inverse = Zeroizing::new(blind.invert());
                let unblinded = Zeroizing::new((element * *inverse).compress().to_bytes());
                let mut output = Zeroizing::new(sha2::digest::generic_array::GenericArray::default());
                <sha2::Sha512 as sha2::Digest>::new()
                    .chain_update(input_len.to_be_bytes())
                    .chain_update(input)
                    .chain_update((ELEMENT_BYTES as u16).to_be_bytes())
                    .chain_update(&unblinded[..])
                    .chain_update(b"Finalize")
                    .finalize_into(&mut output);
                Ok(Zeroizing::new(output.to_vec()))
            })
            .collect()
    }
}

/// RFC 9497 contextString of VOPRF mode with ristretto255-SHA512.
const VOPRF_CONTEXT: &[u8] = b"OPRFV1-\x01-ristretto255-SHA512";

/// The group elements of concatenated 32-byte encodings (the identity refused, as the `voprf`
/// crate refuses it); `None` if one does not decode.
fn points(bytes: &[u8]) -> Option<Vec<RistrettoPoint>> {
    bytes
        .chunks_exact(ELEMENT_BYTES)
        .map(|chunk| {
            let compressed = CompressedRistretto::from_slice(chunk).ok()?;
            compressed.decompress().filter(|p| *p != RistrettoPoint::identity())
        })
        .collect()
}

/// RFC 9497 §2.2.2 VerifyProof(A = G, B = `public_key`, C = blinded, D = evaluated, proof) for a
/// batch, with ComputeComposites (§2.2.2) as two multiscalar multiplications instead of 2·n
/// separate ones (the weights and the elements are public, so variable time is fine). Hashing is
/// the `voprf` crate's HashToScalar; the RFC's test vectors and the crate's own verifier check it
/// (tests below). Each of C and D comes as its encodings and its points.
fn verify_batch_proof(
    public_key: &RistrettoPoint,
    (blinded_bytes, blinded): (&[u8], &[RistrettoPoint]),
    (evaluated_bytes, evaluated): (&[u8], &[RistrettoPoint]),
    proof: &[u8; PROOF_BYTES],
) -> bool {
    use sha2::{Digest, Sha512};
    // Non-empty lists of at most 2^16 (RFC 9497), n encodings and n points each. The points must
    // be the ones decoded from these very encodings (the hash covers the bytes, the equation the
    // points); both callers decode them in `finish` just before.
    let n = blinded.len();
    if n == 0
        || n != evaluated.len()
        || u16::try_from(n).is_err()
        || blinded_bytes.len() != n * ELEMENT_BYTES
        || evaluated_bytes.len() != n * ELEMENT_BYTES
    {
        return false;
    }
    let (Some(c), Some(s)) = (
        Option::<Scalar>::from(Scalar::from_canonical_bytes(proof[..32].try_into().expect("32 bytes"))),
        Option::<Scalar>::from(Scalar::from_canonical_bytes(proof[32..].try_into().expect("32 bytes"))),
    ) else {
        return false;
    };
    let element_len = (ELEMENT_BYTES as u16).to_be_bytes();
    let pk_bytes = public_key.compress().to_bytes();
    let seed_dst = [b"Seed-".as_slice(), VOPRF_CONTEXT].concat();
    let seed = Sha512::new()
        .chain_update(element_len)
        .chain_update(pk_bytes)
        .chain_update((seed_dst.len() as u16).to_be_bytes())
        .chain_update(&seed_dst)
        .finalize();
    let seed_len = (seed.len() as u16).to_be_bytes();
    let scalar_dst: [&[u8]; 2] = [b"HashToScalar-", VOPRF_CONTEXT];
    let mut weights = Vec::with_capacity(n);
    for (i, (ci, di)) in
        blinded_bytes.chunks_exact(ELEMENT_BYTES).zip(evaluated_bytes.chunks_exact(ELEMENT_BYTES)).enumerate()
    {
        let index = (i as u16).to_be_bytes();
        let input: [&[u8]; 8] = [&seed_len, &seed, &index, &element_len, ci, &element_len, di, b"Composite"];
        match Ristretto255::hash_to_scalar::<Sha512>(&input, &scalar_dst) {
            Ok(weight) => weights.push(weight),
            Err(_) => return false,
        }
    }
    let m = RistrettoPoint::vartime_multiscalar_mul(&weights, blinded);
    let z = RistrettoPoint::vartime_multiscalar_mul(&weights, evaluated);
    let t2 = RistrettoPoint::vartime_multiscalar_mul([s, c], [Ristretto255::base_elem(), *public_key]);
    let t3 = RistrettoPoint::vartime_multiscalar_mul([s, c], [m, z]);
    let [a0, a1, a2, a3] = [m, z, t2, t3].map(|p| p.compress().to_bytes());
    let transcript: [&[u8]; 11] = [
        &element_len,
        &pk_bytes,
        &element_len,
        &a0,
        &element_len,
        &a1,
        &element_len,
        &a2,
        &element_len,
        &a3,
        b"Challenge",
    ];
    match Ristretto255::hash_to_scalar::<Sha512>(&transcript, &scalar_dst) {
        Ok(expected) => expected == c,
        Err(_) => false,
    }
}

impl Drop for BlindedBatch {
    fn drop(&mut self) {
        self.request.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use voprf::EvaluationElement;

    use super::*;
    use crate::blind::prf::{code_input, DeploymentKey, InProcessAuthority, MasterSecret};
    use voprf::VoprfServer;

    fn key(seed: u8, deployment: u8) -> DeploymentKey {
        DeploymentKey::derive(&MasterSecret::from_bytes(&[seed; 32]).unwrap(), &[deployment; 16]).unwrap()
    }

    fn client(key: &DeploymentKey) -> VoprfClientPrf<InProcessAuthority<'_>> {
        VoprfClientPrf {
            transport: InProcessAuthority(key),
            deployment: *key.deployment(),
            public_key: key.public_key(),
        }
    }

    #[test]
    fn the_voprf_client_and_direct_evaluation_agree() {
        let key = key(1, 1);
        let inputs = vec![code_input(&[1; 16], 0, 5), code_input(&[1; 16], 1, 5)];
        let via_client = client(&key).evaluate(&inputs).unwrap();
        let direct = key.evaluate(&inputs).unwrap();
        assert_eq!(
            via_client.iter().map(|v| v.to_vec()).collect::<Vec<_>>(),
            direct.iter().map(|v| v.to_vec()).collect::<Vec<_>>()
        );
        assert_ne!(*direct[0], *direct[1]);
        assert_eq!(*client(&key).evaluate_key_check(&inputs[0]).unwrap(), *direct[0]);
    }
    #[test]
    fn two_queries_of_the_same_input_look_unrelated_on_the_wire() {
        struct Recorder<'a>(&'a DeploymentKey, std::cell::RefCell<Vec<Vec<u8>>>);
        impl OprfTransport for Recorder<'_> {
            fn send(&self, _: AuthorityEndpoint, _: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
                self.1.borrow_mut().push(blinded.to_vec());
                self.0.evaluate_blinded(blinded)
            }
        }
        let key = key(3, 3);
        let client = VoprfClientPrf {
            transport: Recorder(&key, Default::default()),
            deployment: [3; 16],
            public_key: key.public_key(),
        };
        let input = vec![code_input(&[9; 16], 3, 77)];
        let (a, b) = (client.evaluate(&input).unwrap(), client.evaluate(&input).unwrap());
        assert_eq!(*a[0], *b[0], "same PRF output");
        let wire = client.transport.1.borrow();
        assert_ne!(wire[0], wire[1], "different blinded elements");
        assert!(!wire[0].windows(input[0].len()).any(|w| w == &input[0][..]), "the input is not on the wire");
    }

    /// An authority whose answers pass through `tamper` on their way back.
    struct Tampering<'a, F: Fn(&mut Vec<u8>)>(&'a DeploymentKey, F);
    impl<F: Fn(&mut Vec<u8>)> OprfTransport for Tampering<'_, F> {
        fn send(&self, _: AuthorityEndpoint, _: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
            let mut answer = self.0.evaluate_blinded(blinded)?;
            (self.1)(&mut answer);
            Ok(answer)
        }
    }

    fn evaluate_through(
        key: &DeploymentKey,
        public_key: [u8; 32],
        tamper: impl Fn(&mut Vec<u8>),
    ) -> Result<(), BlindError> {
        let client = VoprfClientPrf { transport: Tampering(key, tamper), deployment: *key.deployment(), public_key };
        client.evaluate(&[b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]).map(drop)
    }

    #[test]
    fn a_tampered_or_foreign_answer_fails_verification() {
        let (right, foreign) = (key(4, 4), key(5, 4));
        assert!(evaluate_through(&right, right.public_key(), |_| ()).is_ok(), "the untouched answer verifies");
        // A valid group element in place of the second one: the proof no longer covers it.
        let swapped = |a: &mut Vec<u8>| {
            let first: Vec<u8> = a[..ELEMENT_BYTES].to_vec();
            a[ELEMENT_BYTES..2 * ELEMENT_BYTES].copy_from_slice(&first);
        };
        // The first two evaluated elements exchanged: each is valid, but the proof binds each to its
        // index (the composite weights hash the index).
        let exchanged = |a: &mut Vec<u8>| {
            let first: Vec<u8> = a[..ELEMENT_BYTES].to_vec();
            a.copy_within(ELEMENT_BYTES..2 * ELEMENT_BYTES, 0);
            a[ELEMENT_BYTES..2 * ELEMENT_BYTES].copy_from_slice(&first);
        };
        // The identity (32 zero bytes) as an answer element.
        let identity = |a: &mut Vec<u8>| a[..ELEMENT_BYTES].fill(0);
        let flipped_element = |a: &mut Vec<u8>| a[40] ^= 1;
        let flipped_proof = |a: &mut Vec<u8>| {
            let at = a.len() - PROOF_BYTES + 3;
            a[at] ^= 1;
        };
        let refused = [
            evaluate_through(&right, right.public_key(), swapped),
            evaluate_through(&right, right.public_key(), exchanged),
            evaluate_through(&right, right.public_key(), identity),
            evaluate_through(&right, right.public_key(), flipped_element),
            evaluate_through(&right, right.public_key(), flipped_proof),
            // Another deployment's (another master secret's) key answers: its proof is for its own key.
            evaluate_through(&foreign, right.public_key(), |_| ()),
        ];
        for (i, result) in refused.into_iter().enumerate() {
            match result {
                Err(BlindError::AuthorityUnverified(_)) => {}
                other => panic!("case {i}: {other:?}"),
            }
        }
        let error = evaluate_through(&right, right.public_key(), flipped_proof).unwrap_err().to_string();
        assert!(error.contains("failed verification; matching is paused"), "{error}");
    }

    #[test]
    fn an_answer_of_the_wrong_length_is_an_error() {
        let key = key(6, 6);
        let short = evaluate_through(&key, key.public_key(), |a| a.truncate(a.len() - 1));
        assert!(matches!(short, Err(BlindError::AuthorityAnswer(_))), "{short:?}");
        let no_proof = evaluate_through(&key, key.public_key(), |a| a.truncate(3 * ELEMENT_BYTES));
        assert!(matches!(no_proof, Err(BlindError::AuthorityAnswer(_))), "{no_proof:?}");
        let garbage = evaluate_through(&key, key.public_key(), |a| a.fill(0xFF));
        assert!(matches!(garbage, Err(BlindError::AuthorityUnverified(_))), "{garbage:?}");
    }

    /// Our verification and unblinding against the `voprf` crate's own (`batch_finalize`), on
    /// honest answers and on answers with one element or the proof changed: the same verdicts, and
    /// the same outputs when both accept.
    #[test]
    fn the_multiscalar_verifier_agrees_with_the_crates_verifier() {
        let key = key(9, 9);
        let pk = Ristretto255::deserialize_elem(&key.public_key()).unwrap();
        // 1 024 is a face (L): past curve25519-dalek's switch from Straus to Pippenger at 190 points.
        for size in [1usize, 2, 7, 64, 1024] {
            let inputs: Vec<Vec<u8>> = (0..size as u16).map(|i| code_input(&[9; 16], i, i * 3)).collect();
            let batch = BlindedBatch::blind(inputs.clone()).unwrap();
            let honest = key.evaluate_blinded(batch.request()).unwrap();
            let other_element = key.evaluate_blinded(&batch.request()[..ELEMENT_BYTES]).unwrap();
            let mut swapped = honest.clone();
            swapped[(size - 1) * ELEMENT_BYTES..size * ELEMENT_BYTES].copy_from_slice(&other_element[..ELEMENT_BYTES]);
            let mut bad_proof = honest.clone();
            let last = bad_proof.len() - 1;
            bad_proof[last] ^= 0x01; // s stays canonical: the equation, not the decoding, refuses it
            for (case, answer) in [("honest", &honest), ("swapped", &swapped), ("bad proof", &bad_proof)] {
                let (elements, proof) = answer.split_at(size * ELEMENT_BYTES);
                let messages: Vec<_> = elements
                    .chunks_exact(ELEMENT_BYTES)
                    .map(|e| EvaluationElement::<Ristretto255>::deserialize(e).unwrap())
                    .collect();
                let theirs = Proof::<Ristretto255>::deserialize(proof).ok().and_then(|proof| {
                    VoprfClient::batch_finalize(&inputs, &batch.states, &messages, &proof, pk)
                        .ok()
                        .map(|outputs| outputs.map(|o| o.unwrap().to_vec()).collect::<Vec<_>>())
                });
                let ours = batch
                    .finish(answer, &key.public_key())
                    .ok()
                    .map(|o| o.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
                // A one-element batch whose element is swapped for itself is the honest answer.
                let expect_ok = case == "honest" || (case == "swapped" && size == 1);
                assert_eq!(ours.is_some(), expect_ok, "size {size}, {case}");
                assert_eq!(ours, theirs, "size {size}, {case}");
            }
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Yields one scalar (the first 32 of the 64 bytes `Scalar::random` reads, the rest zero), so
    /// that the proof's random scalar is the test vector's.
    struct FixedScalar([u8; 32]);
    impl rand_core::RngCore for FixedScalar {
        fn next_u32(&mut self) -> u32 {
            unimplemented!("only fill_bytes is used")
        }
        fn next_u64(&mut self) -> u64 {
            unimplemented!("only fill_bytes is used")
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
            dest[..32].copy_from_slice(&self.0);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for FixedScalar {}

    /// RFC 9497 Appendix A.1.2 (ristretto255-SHA512, VOPRF mode): DeriveKeyPair from seed and
    /// info, test vectors 1 and 2 (batch size 1) and 3 (batch size 2), each with its proof.
    #[test]
    fn rfc9497_voprf_test_vectors() {
        let seed = hex("a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3");
        let server = VoprfServer::<Ristretto255>::new_from_seed(&seed, &hex("74657374206b6579")).unwrap();
        let serialized = server.serialize().to_vec();
        assert_eq!(
            serialized[..32],
            hex("e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909")[..],
            "skSm"
        );
        let pk = hex("c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e");
        assert_eq!(serialized[32..], pk[..], "pkSm");
        // Our derivation is this one, with the master secret as seed and the watchlist id as info.
        let ours = DeploymentKey::derive(&MasterSecret::from_bytes(&seed).unwrap(), &[7; 16]).unwrap();
        let theirs = VoprfServer::<Ristretto255>::new_from_seed(&seed, &[7; 16]).unwrap();
        assert_eq!(ours.public_key()[..], theirs.serialize()[32..]);

        let blind_1 = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706";
        let blind_2 = "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e";
        let output_00 = "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c";
        let output_5a = "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6";
        // (inputs, blinds, blinded elements, evaluated elements, proof, proof random scalar, outputs)
        type Vector<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a [&'a str], &'a str, &'a str, &'a [&'a str]);
        let vectors: [Vector; 3] = [
            (&["00"], &[blind_1], &["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"],
             &["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"],
             "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
             blind_2, &[output_00]),
            (&["5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"], &[blind_1], &["cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"],
             &["60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"],
             "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
             blind_2, &[output_5a]),
            (&["00", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"], &[blind_1, blind_2],
             &["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945", "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654"],
             &["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e", "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a"],
             "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
             "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c", &[output_00, output_5a]),
        ];
        let pk_elem = Ristretto255::deserialize_elem(&pk).unwrap();
        for (n, (inputs, blinds, blinded, evaluated, proof, proof_scalar, outputs)) in vectors.into_iter().enumerate() {
            let inputs: Vec<Vec<u8>> = inputs.iter().map(|i| hex(i)).collect();
            let (mut states, mut messages) = (Vec::new(), Vec::new());
            for ((input, blind), expected) in inputs.iter().zip(blinds).zip(blinded) {
                let blind = Ristretto255::deserialize_scalar(&hex(blind)).unwrap();
                let result = VoprfClient::<Ristretto255>::deterministic_blind_unchecked(input, blind).unwrap();
                assert_eq!(result.message.serialize().to_vec(), hex(expected), "vector {n}: blinded element");
                states.push(result.state);
                messages.push(result.message);
            }
            let mut rng = FixedScalar(hex(proof_scalar).try_into().unwrap());
            let answer = server.batch_blind_evaluate(&mut rng, &messages).unwrap();
            let answered: Vec<Vec<u8>> = answer.messages.iter().map(|m| m.serialize().to_vec()).collect();
            assert_eq!(
                answered,
                evaluated.iter().map(|e| hex(e)).collect::<Vec<_>>(),
                "vector {n}: evaluated elements"
            );
            assert_eq!(answer.proof.serialize().to_vec(), hex(proof), "vector {n}: proof");
            // Our multiscalar verifier accepts the vector's proof, and not a changed one.
            let request: Vec<u8> = blinded.iter().flat_map(|b| hex(b)).collect();
            let response: Vec<u8> = evaluated.iter().flat_map(|e| hex(e)).collect();
            let (c_points, d_points) = (points(&request).unwrap(), points(&response).unwrap());
            let proof_bytes: [u8; PROOF_BYTES] = hex(proof).try_into().unwrap();
            assert!(
                verify_batch_proof(&pk_elem, (&request, &c_points), (&response, &d_points), &proof_bytes),
                "vector {n}"
            );
            for flip in [0, 31, 32, 63] {
                let mut changed = proof_bytes;
                changed[flip] ^= 1;
                assert!(
                    !verify_batch_proof(&pk_elem, (&request, &c_points), (&response, &d_points), &changed),
                    "vector {n}, byte {flip}"
                );
            }
            let finalized =
                VoprfClient::batch_finalize(&inputs, &states, &answer.messages, &answer.proof, pk_elem).unwrap();
            let finalized: Vec<Vec<u8>> = finalized.map(|o| o.unwrap().to_vec()).collect();
            assert_eq!(finalized, outputs.iter().map(|o| hex(o)).collect::<Vec<_>>(), "vector {n}: outputs");
            for (input, output) in inputs.iter().zip(outputs) {
                assert_eq!(server.evaluate(input).unwrap().to_vec(), hex(output), "vector {n}: direct evaluation");
            }
        }
    }
}
