//! The stranger cohort: embeddings of people on no watchlist, one quality-gated face each, against
//! which `enroll --stranger-cohort` measures every template ([`super::per_entry`]). The issuer
//! builds it once (`veilwatch cohort`) from a folder of stranger photos on their own machine and
//! keeps it there: these are embeddings of real people, so the file is written mode 0600 and never
//! belongs in the repository.
//!
//! A cohort is only meaningful for the pipeline that embedded it: a cohort made with another model,
//! other quality gates or another pipeline version would put cosines on another scale. The file
//! names the model and carries a digest of everything its embeddings depend on; reading it for
//! another pipeline is an error, never a silently wrong estimate.
//!
//! File format (integers big-endian):
//!
//! ```text
//! magic       8 bytes   "VWCOHORT"
//! version     u8        1
//! model id    u8 length (1..=64), then that many bytes of UTF-8 (e.g. "sface-2021dec-int8bq")
//! pipeline    32 bytes  SHA-256 of the pipeline key (model id, pipeline version, quality gates, flip
//!                       augmentation: [`pipeline_key`]) and both models' pinned SHA-256 digests
//! dimension   u16       EMBEDDING_DIM (128)
//! strangers   u32       1..=MAX_STRANGERS
//! embeddings  strangers × dimension × f32 (IEEE 754, big-endian), each of unit length
//! checksum    32 bytes  SHA-256 of every byte above (a damaged file is refused, not half read)
//! ```

use sha2::{Digest, Sha256};

use super::dataset::Identity;
use super::embedding_cache::{pipeline_key, EmbeddingCache};
use super::protocol::{embed_identities, EvalError, EvalProgress};
use crate::pipeline::models::spec;
use crate::pipeline::{Engine, ModelKind};
use crate::template::{Embedding, EMBEDDING_DIM};

pub const MAGIC: &[u8; 8] = b"VWCOHORT";
pub const VERSION: u8 = 1;
/// Most strangers a cohort holds (a 100 MB file); more adds time, not much precision.
pub const MAX_STRANGERS: u32 = 200_000;
const MAX_MODEL_ID: usize = 64;

/// Which pipeline embedded a cohort: the model's id (for people) and a digest of everything the
/// embeddings depend on (for the check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineIdentity {
    pub model_id: String,
    pub digest: [u8; 32],
}

impl PipelineIdentity {
    /// The identity of `engine`'s still-photo pipeline.
    pub fn of(engine: &Engine) -> PipelineIdentity {
        let mut h = Sha256::new();
        h.update(pipeline_key(engine).as_bytes());
        for kind in [ModelKind::Detector, ModelKind::Recognizer] {
            h.update(b"\n");
            h.update(spec(kind).sha256.as_bytes());
        }
        PipelineIdentity { model_id: engine.model_id().to_owned(), digest: h.finalize().into() }
    }
}

/// Why a cohort file was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum CohortError {
    /// Not a cohort at all (another file given by mistake).
    #[error("this is not a Veilwatch stranger cohort; build one with `veilwatch cohort --fillers DIR --out FILE`")]
    NotACohort,
    /// Written by a newer (or older, unsupported) veilwatch.
    #[error("stranger cohort format version {0} is not supported (this veilwatch reads version {VERSION}); build it again with this veilwatch")]
    UnsupportedVersion(u8),
    /// Truncated, bit-flipped or otherwise altered after it was written.
    #[error("the stranger cohort is damaged ({0}); build it again with `veilwatch cohort`")]
    Corrupt(String),
    /// More strangers than a cohort may hold (checked before anything is allocated).
    #[error("the stranger cohort claims {0} strangers, more than the {MAX_STRANGERS} a cohort may hold")]
    TooLarge(u32),
    /// Embedded by another model: its cosines are not on this model's scale.
    #[error("the stranger cohort was built with the model `{file}`, but this veilwatch embeds with `{this}`; build it again with this veilwatch")]
    OtherModel { file: String, this: String },
    /// The same model, but other quality gates, pipeline version or model files.
    #[error("the stranger cohort was built with `{0}` but another pipeline (quality gates, model files or pipeline version differ); build it again with this veilwatch")]
    OtherPipeline(String),
    /// No stranger passed: a cohort of none estimates nothing.
    #[error("the stranger cohort holds no strangers")]
    Empty,
}

/// Strangers' embeddings from one pipeline; at least one.
pub struct Cohort {
    pipeline: PipelineIdentity,
    strangers: Vec<Embedding>,
}

impl Cohort {
    pub fn new(pipeline: PipelineIdentity, strangers: Vec<Embedding>) -> Result<Cohort, CohortError> {
        if strangers.is_empty() {
            return Err(CohortError::Empty);
        }
        if strangers.len() > MAX_STRANGERS as usize {
            return Err(CohortError::TooLarge(strangers.len() as u32));
        }
        if pipeline.model_id.is_empty() || pipeline.model_id.len() > MAX_MODEL_ID {
            return Err(CohortError::Corrupt(format!("a model id of {} bytes", pipeline.model_id.len())));
        }
        Ok(Cohort { pipeline, strangers })
    }

    pub fn strangers(&self) -> &[Embedding] {
        &self.strangers
    }

    pub fn pipeline(&self) -> &PipelineIdentity {
        &self.pipeline
    }
}

mod write {
    use super::*;

    impl Cohort {
        /// The file's bytes (the format in the module doc).
        pub fn to_bytes(&self) -> Vec<u8> {
            let id = self.pipeline.model_id.as_bytes();
            let mut out = Vec::with_capacity(80 + self.strangers.len() * EMBEDDING_DIM * 4);
            out.extend_from_slice(MAGIC);
            out.push(VERSION);
            out.push(id.len() as u8);
            out.extend_from_slice(id);
            out.extend_from_slice(&self.pipeline.digest);
            out.extend_from_slice(&(EMBEDDING_DIM as u16).to_be_bytes());
            out.extend_from_slice(&(self.strangers.len() as u32).to_be_bytes());
            for stranger in &self.strangers {
                for v in stranger.values() {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            let checksum = Sha256::digest(&out);
            out.extend_from_slice(&checksum);
            out
        }
    }
}

mod read {
    use super::*;

    /// A bounds-checked cursor: every read names what it reads, for the error.
    struct Reader<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], CohortError> {
            if n > self.bytes.len() - self.at {
                return Err(CohortError::Corrupt(format!("truncated in its {what}")));
            }
            let out = &self.bytes[self.at..self.at + n];
            self.at += n;
            Ok(out)
        }
        fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], CohortError> {
            Ok(self.take(N, what)?.try_into().expect("took N bytes"))
        }
    }

    impl Cohort {
        /// Parses a cohort file for the pipeline `expected`: the magic and version first, then the
        /// checksum over the whole file, then every length against its limit before anything is
        /// allocated, and the model and pipeline against `expected`.
        pub fn parse(bytes: &[u8], expected: &PipelineIdentity) -> Result<Cohort, CohortError> {
            if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
                return Err(CohortError::NotACohort);
            }
            let version = *bytes.get(MAGIC.len()).ok_or(CohortError::Corrupt("truncated in its version".into()))?;
            if version != VERSION {
                return Err(CohortError::UnsupportedVersion(version));
            }
            let Some(body_len) = bytes.len().checked_sub(32) else {
                return Err(CohortError::Corrupt("shorter than its checksum".into()));
            };
            let (body, checksum) = bytes.split_at(body_len);
            if body_len < MAGIC.len() + 1 || Sha256::digest(body).as_slice() != checksum {
                return Err(CohortError::Corrupt("its checksum does not match its contents".into()));
            }
            let mut r = Reader { bytes: body, at: MAGIC.len() + 1 };
            let id_len = r.take(1, "model id length")?[0] as usize;
            if id_len == 0 || id_len > MAX_MODEL_ID {
                return Err(CohortError::Corrupt(format!("a model id of {id_len} bytes")));
            }
            let model_id = std::str::from_utf8(r.take(id_len, "model id")?)
                .map_err(|_| CohortError::Corrupt("a model id that is not UTF-8".into()))?
                .to_owned();
            let digest = r.array::<32>("pipeline digest")?;
            let dimension = u16::from_be_bytes(r.array("dimension")?) as usize;
            let count = u32::from_be_bytes(r.array("stranger count")?);
            if model_id != expected.model_id {
                return Err(CohortError::OtherModel { file: model_id, this: expected.model_id.clone() });
            }
            if digest != expected.digest {
                return Err(CohortError::OtherPipeline(model_id));
            }
            if dimension != EMBEDDING_DIM {
                return Err(CohortError::Corrupt(format!("embeddings of {dimension} dimensions")));
            }
            if count > MAX_STRANGERS {
                return Err(CohortError::TooLarge(count));
            }
            let need = count as usize * EMBEDDING_DIM * 4;
            if body.len() - r.at != need {
                return Err(CohortError::Corrupt(format!(
                    "{} bytes of embeddings for {count} strangers, which take {need}",
                    body.len() - r.at
                )));
            }
            let mut strangers = Vec::with_capacity(count as usize);
            let mut values = zeroize::Zeroizing::new([0f32; EMBEDDING_DIM]);
            for i in 0..count as usize {
                for v in values.iter_mut() {
                    *v = f32::from_be_bytes(r.array("embeddings")?);
                }
                let embedding = Embedding::from_unit_values(&values[..])
                    .ok_or_else(|| CohortError::Corrupt(format!("stranger {} is not a unit vector", i + 1)))?;
                strangers.push(embedding);
            }
            Cohort::new(PipelineIdentity { model_id, digest }, strangers)
        }
    }
}

/// How a cohort was gathered from a folder of stranger photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gathered {
    /// Folders (strangers) read.
    pub folders: usize,
    /// Their photos in which no face was found.
    pub without_face: usize,
    /// Their faces refused by the kiosk's quality gates.
    pub failed_gates: usize,
}

/// Why a cohort could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Cohort(#[from] CohortError),
}

/// A cohort from strangers in the layout of `eval --fillers` (one folder per stranger, its first
/// photo by file name; e.g. `utkface/images`, listed by [`list_identities`](super::dataset::list_identities)): each stranger's face
/// is the one the photo is about, embedded by `engine` exactly as enrolment and evaluation embed
/// still photos ([`embed_identities`], reading and filling `cache`), and kept only when it passes
/// the kiosk's quality gates, as a passer-by's face would have to.
pub fn gather(
    engine: &Engine,
    folders: &[Identity],
    cache: &EmbeddingCache,
    progress: &dyn EvalProgress,
) -> Result<(Cohort, Gathered), BuildError> {
    let (people, without_face) = embed_identities(engine, folders, cache, progress)?;
    let strangers: Vec<Embedding> = people.iter().filter_map(|p| p.probes().next().cloned()).collect();
    let failed_gates = people.iter().filter(|p| !p.faces.is_empty()).count() - strangers.len();
    let gathered = Gathered { folders: folders.len(), without_face, failed_gates };
    Ok((Cohort::new(PipelineIdentity::of(engine), strangers)?, gathered))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(model_id: &str, seed: u8) -> PipelineIdentity {
        PipelineIdentity { model_id: model_id.into(), digest: [seed; 32] }
    }

    fn cohort(n: usize) -> Cohort {
        let strangers = (0..n)
            .map(|i| {
                let values: Vec<f32> = (0..EMBEDDING_DIM).map(|d| ((i * 31 + d * 7) % 17) as f32 - 8.0).collect();
                Embedding::from_values(&values).unwrap()
            })
            .collect();
        Cohort::new(identity("model-a", 1), strangers).unwrap()
    }

    #[test]
    fn a_cohort_round_trips_byte_for_byte() {
        let c = cohort(5);
        let bytes = c.to_bytes();
        let back = Cohort::parse(&bytes, &identity("model-a", 1)).unwrap();
        assert_eq!(back.strangers().len(), 5);
        for (a, b) in back.strangers().iter().zip(c.strangers()) {
            assert_eq!(a.values(), b.values());
        }
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn another_model_or_pipeline_is_refused_by_name() {
        let bytes = cohort(2).to_bytes();
        assert_eq!(
            Cohort::parse(&bytes, &identity("model-b", 1)).err(),
            Some(CohortError::OtherModel { file: "model-a".into(), this: "model-b".into() })
        );
        assert_eq!(
            Cohort::parse(&bytes, &identity("model-a", 2)).err(),
            Some(CohortError::OtherPipeline("model-a".into()))
        );
        let message = Cohort::parse(&bytes, &identity("model-b", 1)).err().unwrap().to_string();
        assert!(message.contains("model-a") && message.contains("build it again"), "{message}");
    }

    #[test]
    fn any_changed_or_missing_byte_is_refused() {
        let bytes = cohort(3).to_bytes();
        let expected = identity("model-a", 1);
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x40;
            assert!(Cohort::parse(&altered, &expected).is_err(), "byte {i} changed");
        }
        for len in 0..bytes.len() {
            assert!(Cohort::parse(&bytes[..len], &expected).is_err(), "cut at {len}");
        }
        assert_eq!(Cohort::parse(b"{\"not\": \"a cohort\"}", &expected).err(), Some(CohortError::NotACohort));
        let mut future = bytes.clone();
        future[8] = 2;
        assert_eq!(Cohort::parse(&future, &expected).err(), Some(CohortError::UnsupportedVersion(2)));
    }

    #[test]
    fn a_huge_count_is_refused_before_allocating() {
        let mut bytes = cohort(1).to_bytes();
        bytes.truncate(bytes.len() - 32);
        let at = MAGIC.len() + 2 + "model-a".len() + 32 + 2;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let checksum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&checksum);
        assert_eq!(Cohort::parse(&bytes, &identity("model-a", 1)).err(), Some(CohortError::TooLarge(u32::MAX)));
        assert_eq!(Cohort::new(identity("model-a", 1), Vec::new()).err(), Some(CohortError::Empty));
    }
}
