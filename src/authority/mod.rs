//! The authority service (DESIGN §5, protocol B–G): what `veilwatch authority` answers, as an axum
//! [`Router`] built from a [`ServiceConfig`]. The binary puts it on the network (listener, TLS,
//! connection and concurrency caps, deadlines).
//!
//! - [`service`]: the routes, the admission every `/v1/*` call goes through, refusals, CORS;
//!   `service::sealed`: sealed custody's routes (seeds, keys, one face's masked answer, claims).
//! - [`credential`]: the kiosk credential every `/v1/*` call carries (signing and verifying).
//! - [`evaluator`]: the VOPRF evaluation under each deployment's key, derived from the master
//!   secret.
//! - [`registration`]: the issuer's signed registration and revocation documents.
//! - [`budget`]: faces per minute, day and total; disclosure and key-check caps (fixed windows).
//! - [`disclosure`]: the proof of a record key and the sealed reviewer material.
//! - [`anchor`]: signed audit-chain heads, verified.
//! - [`store`]: the state (memory for one node, Redis for replicas); fails closed.
//!
//! [`Router`]: axum::Router
//! [`ServiceConfig`]: service::ServiceConfig

pub mod anchor;
pub mod budget;
pub mod credential;
pub mod disclosure;
pub mod evaluator;
pub mod registration;
pub mod service;
pub mod store;
