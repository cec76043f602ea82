//! The local stack: everything `make dev` and the integration tests use to
//! run the real handlers against the emulators as Lambda would.
//!
//! - `template`: reads template.yaml, the single source of truth for the
//!   table, queues, bucket, routes and event sources.
//! - `provision`: creates those resources in DynamoDB Local and moto.
//! - `gateway`: HTTP API (payload 2.0) events from plain HTTP requests, JWT
//!   check with the dev key, dispatch to the function a route belongs to.
//! - `poller`: SQS event-source mapping (receive, invoke, delete successes).
//! - `seed`: the demo tenant.
//! - `calls`, `iam`: every AWS call a function makes, recorded and checked
//!   against its policy in the template.
//! - `intrinsics`: `Ref`, `GetAtt` and `Sub` as the template uses them.

pub mod calls;
pub mod clients;
pub mod gateway;
pub mod iam;
pub mod intrinsics;
pub mod poller;
pub mod provision;
pub mod seed;
pub mod template;
pub mod tokens;
pub mod webhooks;

use std::path::PathBuf;

/// The repository root (devtools lives in infra/devtools).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
