//! Per-contact metrics. Message counts come from counters kept exact in the
//! write transaction; response times are computed from the message history.
//!
//! Engagement score (0-100), three parts:
//! - volume, 40 points: inbound messages / 20, capped at 1;
//! - recency, 40 points: 1 when the last contact is at most 7 days old,
//!   falling linearly to 0 at 90 days;
//! - breadth, 20 points: channels used / 3, capped at 1.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::{Direction, EventDetail, TimelineEvent};
use crate::store::MetricCounters;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub messages_in: i64,
    pub messages_out: i64,
    pub messages_total: i64,
    pub by_channel: Vec<(String, i64)>,
    pub last_contact_at: Option<DateTime<Utc>>,
    pub preferred_channel: Option<String>,
    /// From an inbound message to the business's next reply on any channel.
    pub response_time: ResponseTime,
    pub engagement_score: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ResponseTime {
    pub replies: usize,
    pub median_seconds: Option<f64>,
    pub mean_seconds: Option<f64>,
}

/// Reply delays: for each run of inbound messages, the time from its first
/// message to the next outbound one. `messages` is in time order.
pub fn response_time(messages: &[TimelineEvent]) -> ResponseTime {
    let mut samples = Vec::new();
    let mut waiting_since: Option<DateTime<Utc>> = None;
    for event in messages {
        let EventDetail::Message(message) = &event.detail else {
            continue;
        };
        match message.direction {
            Direction::Inbound => {
                waiting_since.get_or_insert(event.occurred_at);
            }
            Direction::Outbound => {
                if let Some(since) = waiting_since.take() {
                    samples.push((event.occurred_at - since).num_milliseconds() as f64 / 1000.0);
                }
            }
        }
    }
    if samples.is_empty() {
        return ResponseTime::default();
    }
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    ResponseTime {
        replies: n,
        median_seconds: Some(median),
        mean_seconds: Some(samples.iter().sum::<f64>() / n as f64),
    }
}

pub fn metrics(
    counters: &MetricCounters,
    last_contact_at: Option<DateTime<Utc>>,
    response_time: ResponseTime,
    now: DateTime<Utc>,
) -> Metrics {
    let count = |name: &str| counters.get(name).copied().unwrap_or(0);
    let mut by_channel: Vec<(String, i64)> = counters
        .iter()
        .filter_map(|(name, n)| Some((name.strip_prefix("channel_")?.to_string(), *n)))
        .filter(|(_, n)| *n > 0)
        .collect();
    // Most used first; the name breaks ties so the answer is stable.
    by_channel.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let messages_in = count("messages_in");
    let volume = (messages_in as f64 / 20.0).min(1.0);
    let recency = last_contact_at.map_or(0.0, |at| {
        let age = (now - at).max(Duration::zero());
        if age <= Duration::days(7) {
            1.0
        } else {
            (1.0 - (age - Duration::days(7)).num_seconds() as f64
                / Duration::days(83).num_seconds() as f64)
                .max(0.0)
        }
    });
    let breadth = (by_channel.len() as f64 / 3.0).min(1.0);
    let score = (40.0 * volume + 40.0 * recency + 20.0 * breadth).round();
    Metrics {
        messages_in,
        messages_out: count("messages_out"),
        messages_total: messages_in + count("messages_out"),
        preferred_channel: by_channel.first().map(|(c, _)| c.clone()),
        by_channel,
        last_contact_at,
        response_time,
        engagement_score: score.clamp(0.0, 100.0) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, Message};
    use chrono::TimeZone;

    fn message(minute: i64, direction: Direction) -> TimelineEvent {
        TimelineEvent {
            event_id: format!("e{minute}"),
            contact_id: "c".into(),
            occurred_at: Utc.with_ymd_and_hms(2026, 10, 21, 8, 0, 0).unwrap()
                + Duration::minutes(minute),
            recorded_at: Utc::now(),
            channel: None,
            provider: None,
            provider_ref: None,
            detail: EventDetail::Message(Message {
                direction,
                author: Author::Customer,
                body: None,
                attachments: vec![],
                status: None,
                status_at: None,
                status_error: None,
                deleted: false,
                source: None,
                thread: None,
            }),
        }
    }

    #[test]
    fn reply_delay_counts_from_the_first_unanswered_message() {
        use Direction::*;
        let history = [
            message(0, Inbound),
            message(1, Inbound),
            message(4, Outbound), // 4 min after the first of two
            message(5, Outbound), // no waiting message: no sample
            message(10, Inbound),
            message(20, Outbound), // 10 min
            message(30, Inbound),  // unanswered
        ];
        let rt = response_time(&history);
        assert_eq!(rt.replies, 2);
        assert_eq!(rt.median_seconds, Some(420.0));
        assert_eq!(rt.mean_seconds, Some(420.0));
    }

    #[test]
    fn engagement_score_follows_the_documented_formula() {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let counters: MetricCounters = [
            ("messages_in".to_string(), 10),
            ("messages_out".to_string(), 4),
            ("channel_whatsapp".to_string(), 9),
            ("channel_sms".to_string(), 5),
        ]
        .into_iter()
        .collect();
        let m = metrics(
            &counters,
            Some(now - Duration::days(2)),
            ResponseTime::default(),
            now,
        );
        // 40 * 0.5 + 40 * 1 + 20 * (2/3) = 73.3
        assert_eq!(m.engagement_score, 73);
        assert_eq!(m.preferred_channel.as_deref(), Some("whatsapp"));
        assert_eq!(m.messages_total, 14);
        let stale = metrics(
            &counters,
            Some(now - Duration::days(200)),
            ResponseTime::default(),
            now,
        );
        assert_eq!(stale.engagement_score, 33);
    }
}
