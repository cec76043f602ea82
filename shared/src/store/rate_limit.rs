//! Fixed-window request counters in the table, for webhooks anyone can post
//! to (the chat widget's key is public). Each ingest instance sees the same
//! counters, which an in-memory limiter per Lambda instance would not.
//!
//! One conditional `UpdateItem` per counter and request: it adds one unless
//! the window's count has reached the limit, in which case the condition
//! fails and the request is refused. Counter items expire (TTL on
//! `expires_at`) a minute after their window.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};

use super::{Store, StoreError, s};
use crate::identity::Identity;
use crate::keys;

/// At most `max_requests` per `window`, counted in fixed windows aligned to
/// the Unix epoch (a burst may straddle two windows: up to twice the limit
/// within one window's length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max_requests: u32,
    pub window: TimeDelta,
}

impl RateLimit {
    /// The start of the window `at` falls in.
    pub fn window_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.window.num_milliseconds().max(1);
        let start = at.timestamp_millis().div_euclid(length) * length;
        DateTime::from_timestamp_millis(start).unwrap_or(at)
    }
}

/// What one counter limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope<'a> {
    /// Everything posted to one connection (one website).
    Connection { connection: &'a str },
    /// What one visitor posts to one connection.
    Visitor {
        connection: &'a str,
        visitor: &'a Identity,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the limit until the window ends, this long from now.
    Limited {
        retry_after: TimeDelta,
    },
}

/// Counter items outlive their window by this much before TTL removes them.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::minutes(1);

impl Store {
    /// Counts one request against `scope`'s window at `now`, or refuses it
    /// when the window is full (a refused request is not counted).
    #[tracing::instrument(skip(self, scope), fields(limit = limit.max_requests))]
    pub async fn admit(
        &self,
        tenant: &str,
        scope: &RateScope<'_>,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let start = limit.window_start(now);
        let end = start + limit.window;
        let (pk, sk) = keys::rate_window_key(tenant, scope, start);
        let counted = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET expires_at = :expires ADD #count :one")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(limit.max_requests))
            .expression_attribute_values(":expires", n((end + EXPIRY_MARGIN).timestamp()))
            .send()
            .await;
        match counted {
            Ok(_) => Ok(Admission::Admitted),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Admission::Limited {
                    retry_after: end - now,
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_are_aligned_to_the_minute() {
        let limit = RateLimit {
            max_requests: 20,
            window: TimeDelta::minutes(1),
        };
        let at = Utc.with_ymd_and_hms(2026, 10, 20, 17, 4, 59).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 10, 20, 17, 4, 0).unwrap();
        assert_eq!(limit.window_start(at), start);
        assert_eq!(limit.window_start(start), start);
        assert_eq!(
            limit.window_start(start - TimeDelta::milliseconds(1)),
            start - TimeDelta::minutes(1)
        );
    }
}
