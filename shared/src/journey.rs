//! A contact's journey, derived from the timeline: how they found the
//! business, what they asked before booking, what preceded the first
//! booking, how their appointments and payments went, and whether they came
//! back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Booking, Channel, Direction, EventDetail, TimelineEvent, TouchSource};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Journey {
    pub awareness: Option<Awareness>,
    pub consideration: Consideration,
    pub decision: Option<Decision>,
    pub experience: Experience,
    pub loyalty: Loyalty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Awareness {
    pub first_touch_at: DateTime<Utc>,
    pub channel: Option<Channel>,
    pub source: Option<TouchSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Consideration {
    /// Inbound messages before the first booking that ask something.
    pub questions: Vec<Question>,
    /// Services the contact booked or asked about before deciding.
    pub services_explored: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    pub at: DateTime<Utc>,
    pub channel: Option<Channel>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub first_booking_at: DateTime<Utc>,
    pub service: Option<String>,
    /// Interactions before the first booking, and on which channels.
    pub touchpoints: usize,
    pub channels: Vec<Channel>,
    pub seconds_to_book: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Experience {
    pub appointments_completed: usize,
    pub no_shows: usize,
    pub cancellations: usize,
    /// Net paid per currency, in minor units (refunds subtracted).
    pub paid_minor: BTreeMap<String, i64>,
    /// What the contact wrote after an appointment.
    pub feedback: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Loyalty {
    /// Live bookings after the first (reschedules replace, they don't add).
    pub repeat_bookings: usize,
    /// Messages after an appointment that ask to book again.
    pub rebooking_requests: Vec<Question>,
    pub referral_sources: Vec<TouchSource>,
}

fn question(event: &TimelineEvent, text: &str) -> Question {
    Question {
        at: event.occurred_at,
        channel: event.channel,
        text: text.to_string(),
    }
}

/// Builds the journey from the whole timeline, oldest first.
pub fn journey(events: &[TimelineEvent]) -> Journey {
    let mut journey = Journey::default();
    // The first booking made, whatever became of it later.
    let first_booking = events.iter().find_map(|e| match &e.detail {
        EventDetail::Booking(b) => Some((e, b)),
        _ => None,
    });
    if let Some(first) = events.first() {
        journey.awareness = Some(Awareness {
            first_touch_at: first.occurred_at,
            channel: first.channel,
            source: events.iter().find_map(|e| match &e.detail {
                EventDetail::Message(m) => m.source.clone(),
                _ => None,
            }),
        });
    }
    let booked_at = first_booking.map(|(e, _)| e.occurred_at);
    let before_booking = |e: &TimelineEvent| booked_at.is_none_or(|at| e.occurred_at < at);
    let mut explored = BTreeSet::new();
    // Feedback is what comes after the appointment itself ended, not after
    // the booking was made.
    let first_completion = events
        .iter()
        .filter_map(|e| match &e.detail {
            EventDetail::Booking(b) if b.status == "completed" => {
                Some(b.ends_at.or(b.starts_at).unwrap_or(e.occurred_at))
            }
            _ => None,
        })
        .min();
    let mut live_bookings = BTreeSet::new();
    for event in events {
        match &event.detail {
            EventDetail::Message(m) if m.direction == Direction::Inbound && !m.deleted => {
                let text = m.body.as_deref().unwrap_or_default();
                if before_booking(event) && text.contains('?') {
                    journey.consideration.questions.push(question(event, text));
                }
                if let Some(done) = first_completion
                    && event.occurred_at > done
                {
                    journey.experience.feedback.push(question(event, text));
                    let folded = crate::text::fold(text);
                    if folded.contains("book") || folded.contains("again") {
                        journey
                            .loyalty
                            .rebooking_requests
                            .push(question(event, text));
                    }
                }
                if let Some(source) = &m.source
                    && source.kind.contains("referral")
                {
                    journey.loyalty.referral_sources.push(source.clone());
                }
            }
            EventDetail::Booking(booking) => {
                count_booking(&mut journey.experience, booking);
                if let Some(service) = &booking.service
                    && before_booking(event)
                {
                    explored.insert(service.clone());
                }
                if matches!(booking.status.as_str(), "created" | "completed") {
                    live_bookings.insert(booking.booking_id.clone());
                }
            }
            EventDetail::Payment(payment) => {
                let net = match payment.status.as_str() {
                    "succeeded" => payment.amount_minor,
                    "partially_refunded" | "refunded" => {
                        payment.amount_minor
                            - payment.refunded_minor.unwrap_or(payment.amount_minor)
                    }
                    _ => 0,
                };
                *journey
                    .experience
                    .paid_minor
                    .entry(payment.currency.clone())
                    .or_default() += net;
            }
            _ => {}
        }
    }
    if let Some((booking_event, booking)) = first_booking {
        if let Some(service) = &booking.service {
            explored.insert(service.clone());
        }
        let earlier: Vec<&TimelineEvent> = events
            .iter()
            .filter(|e| e.occurred_at < booking_event.occurred_at)
            .collect();
        let mut channels = Vec::new();
        for channel in earlier.iter().filter_map(|e| e.channel) {
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        journey.decision = Some(Decision {
            first_booking_at: booking_event.occurred_at,
            service: booking.service.clone(),
            touchpoints: earlier.len(),
            channels,
            seconds_to_book: events
                .first()
                .map(|first| (booking_event.occurred_at - first.occurred_at).num_seconds())
                .unwrap_or_default(),
        });
    }
    journey.consideration.services_explored = explored.into_iter().collect();
    journey.loyalty.repeat_bookings = live_bookings.len().saturating_sub(1);
    journey
}

fn count_booking(experience: &mut Experience, booking: &Booking) {
    match booking.status.as_str() {
        "completed" => experience.appointments_completed += 1,
        "no_show" => experience.no_shows += 1,
        "cancelled" => experience.cancellations += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Message;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, day, hour, 0, 0).unwrap()
    }

    fn event(occurred_at: DateTime<Utc>, detail: EventDetail) -> TimelineEvent {
        TimelineEvent {
            event_id: occurred_at.timestamp().to_string(),
            contact_id: "c".into(),
            occurred_at,
            recorded_at: occurred_at,
            channel: Some(Channel::Whatsapp),
            provider: None,
            provider_ref: None,
            detail,
        }
    }

    fn inbound(occurred_at: DateTime<Utc>, text: &str) -> TimelineEvent {
        event(
            occurred_at,
            EventDetail::Message(Message::inbound(Some(text.into()), vec![])),
        )
    }

    #[test]
    fn feedback_and_rebooking_count_from_the_end_of_the_appointment() {
        let booking = event(
            at(20, 9),
            EventDetail::Booking(Booking {
                booking_id: "b1".into(),
                status: "completed".into(),
                service: Some("Balayage".into()),
                starts_at: Some(at(31, 10)),
                ends_at: Some(at(31, 12)),
                replaces_booking_id: None,
            }),
        );
        let events = [
            inbound(at(19, 9), "Do you do balayage?"),
            booking,
            inbound(
                at(30, 17),
                "See you tomorrow! Can I book my sister in again?",
            ),
            inbound(at(31, 18), "Thanks! Can I rebook?"),
        ];
        let journey = journey(&events);
        assert_eq!(journey.experience.appointments_completed, 1);
        let texts = |qs: &[Question]| qs.iter().map(|q| q.text.clone()).collect::<Vec<_>>();
        assert_eq!(
            texts(&journey.experience.feedback),
            ["Thanks! Can I rebook?"]
        );
        assert_eq!(
            texts(&journey.loyalty.rebooking_requests),
            ["Thanks! Can I rebook?"]
        );
        assert_eq!(
            texts(&journey.consideration.questions),
            ["Do you do balayage?"]
        );
    }
}
