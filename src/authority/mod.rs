//! The authority service (DESIGN §5): what `veilwatch authority` answers, as an axum [`Router`]
//! built from a [`ServiceConfig`]. The binary puts it on the network (listener, TLS, connection
//! and concurrency caps, deadlines); the later steps of the service (kiosk credentials, budgets,
//! registration, disclosure, a shared state store) add layers and handlers here.
//!
//! - [`service`]: the routes (`/v1/evaluate`, `/v1/key-check`, `/v1/anchor`, `/metrics`), CORS
//!   and the rate cap.
//! - [`evaluator`]: the VOPRF evaluation under each deployment's key, derived from the master
//!   secret.
//! - [`anchor`]: signed audit-chain heads, verified and kept latest per kiosk.
//! - [`credential`]: the kiosk credential every `/v1/*` call carries (signing side; headers).
//!
//! [`Router`]: axum::Router
//! [`ServiceConfig`]: service::ServiceConfig

pub mod anchor;
pub mod credential;
pub mod evaluator;
pub mod service;
