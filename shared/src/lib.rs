//! Everything the Lambda functions share: the canonical timeline model, the
//! single-table layout, channel adapters, the DynamoDB repository and the
//! request handlers themselves (functions and the local gateway call the very
//! same handlers).

pub mod api;
pub mod aws;
pub mod channels;
pub mod config;
pub mod delivery;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod identity;
pub mod ingest;
pub mod journey;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod signature;
pub mod sns_certificates;
pub mod store;
pub mod telemetry;
pub mod text;
