//! One canonical event into the store: contact resolution, then the write
//! its kind needs.

use crate::channels::{
    BookingStatus, BookingUpdate, CallUpdate, CanonicalEvent, IncomingMessage, PaymentUpdate,
};
use crate::identity::{Identity, Named};
use crate::model::{Booking, Call, Channel, EventDetail, Payment};
use crate::store::{ObjectReport, Resolved, Store, StoreError, rank};

/// A record whose writes keep meeting a merge re-resolves its contact this
/// often; after that SQS redelivers it later.
const MERGE_RETRIES: usize = 4;

/// Every step is idempotent, so a redelivered record converges to the same state.
pub async fn apply(store: &Store, tenant: &str, event: &CanonicalEvent) -> Result<(), StoreError> {
    let mut attempt = 1;
    loop {
        match apply_once(store, tenant, event).await {
            // The contact it resolved to was merged meanwhile (the write was
            // refused, nothing landed there): the identities moved with the
            // merge, so resolving again finds the surviving contact.
            Err(StoreError::Merged(_)) if attempt < MERGE_RETRIES => attempt += 1,
            outcome => return outcome,
        }
    }
}

async fn apply_once(store: &Store, tenant: &str, event: &CanonicalEvent) -> Result<(), StoreError> {
    match event {
        CanonicalEvent::Message(message) => {
            let sender = message
                .message
                .thread
                .as_ref()
                .and_then(|t| t.sender_authentication);
            let named = Named::all(
                message.provider,
                &message.customer,
                &message.linked_identities,
                sender,
            );
            let Resolved { contact, via } = store
                .resolve_named(
                    tenant,
                    &named,
                    message.customer_name.as_deref(),
                    message.occurred_at,
                )
                .await?;
            if via == message.customer {
                store.record_message(tenant, &contact, message).await?;
            } else {
                // Recorded as arriving through the identity that placed it.
                let placed = IncomingMessage {
                    customer: via,
                    ..message.clone()
                };
                store.record_message(tenant, &contact, &placed).await?;
            }
            store
                .touch_contact(tenant, &contact, message.occurred_at)
                .await
        }
        CanonicalEvent::Status(status) => store.apply_status(tenant, status).await,
        CanonicalEvent::Deletion(deletion) => store.apply_deletion(tenant, deletion).await,
        CanonicalEvent::Call(call) => apply_call(store, tenant, call).await,
        CanonicalEvent::Booking(booking) => apply_booking(store, tenant, booking).await,
        CanonicalEvent::Payment(payment) => apply_payment(store, tenant, payment).await,
    }
}

async fn apply_call(store: &Store, tenant: &str, call: &CallUpdate) -> Result<(), StoreError> {
    // A final report carries the duration, so it also tells when the call began.
    let began = match (call.status.is_final(), call.duration_secs) {
        (true, Some(secs)) => call.at - chrono::Duration::seconds(i64::from(secs)),
        _ => call.at,
    };
    // A contact the call creates was first active when the call began, as
    // if its first report had come first.
    let named = Named::all(call.provider, &call.customer, &[], None);
    let Resolved { contact, via } = store.resolve_named(tenant, &named, None, began).await?;
    let report = ObjectReport {
        provider: call.provider,
        object_id: &call.call_id,
        contact: &contact,
        via: &via,
        channel: Some(Channel::Phone),
        instant: began,
        rank: rank(&[
            i64::from(call.status.is_final()),
            call.sequence.map(i64::from).unwrap_or(0),
            call.status as i64,
            call.at.timestamp_millis(),
        ]),
        detail: EventDetail::Call(Call {
            direction: call.direction,
            status: call.status.as_str().to_string(),
            duration_secs: call.duration_secs,
            recording_url: call.recording_url.clone(),
        }),
    };
    store.upsert_object_event(tenant, report).await?;
    store.touch_contact(tenant, &contact, began).await
}

async fn apply_booking(
    store: &Store,
    tenant: &str,
    booking: &BookingUpdate,
) -> Result<(), StoreError> {
    let named = Named::all(
        booking.provider,
        &booking.customer,
        &booking.linked_identities,
        None,
    );
    let Resolved { contact, via } = store
        .resolve_named(tenant, &named, booking.customer_name.as_deref(), booking.at)
        .await?;
    // A reschedule is a new, live booking; the one it replaces is retired.
    let status = match (booking.status, &booking.replaces_booking_id) {
        (BookingStatus::Rescheduled, Some(_)) => BookingStatus::Created,
        (status, _) => status,
    };
    store
        .upsert_object_event(
            tenant,
            booking_report(
                booking,
                &contact,
                &via,
                &booking.booking_id,
                status,
                booking.replaces_booking_id.clone(),
            ),
        )
        .await?;
    if let Some(old) = &booking.replaces_booking_id {
        let mut retired = booking_report(
            booking,
            &contact,
            &via,
            old,
            BookingStatus::Rescheduled,
            None,
        );
        if let EventDetail::Booking(b) = &mut retired.detail {
            // The new slot belongs to the new booking.
            b.starts_at = None;
            b.ends_at = None;
        }
        store.upsert_object_event(tenant, retired).await?;
    }
    store.touch_contact(tenant, &contact, booking.at).await
}

fn booking_report<'a>(
    booking: &'a BookingUpdate,
    contact: &'a str,
    via: &'a Identity,
    id: &'a str,
    status: BookingStatus,
    replaces: Option<String>,
) -> ObjectReport<'a> {
    ObjectReport {
        provider: booking.provider,
        object_id: id,
        contact,
        via,
        channel: None,
        instant: booking.at,
        rank: rank(&[status as i64, booking.at.timestamp_millis()]),
        detail: EventDetail::Booking(Booking {
            booking_id: id.to_string(),
            status: status.as_str().to_string(),
            service: booking.service.clone(),
            starts_at: booking.starts_at,
            ends_at: booking.ends_at,
            replaces_booking_id: replaces,
        }),
    }
}

async fn apply_payment(
    store: &Store,
    tenant: &str,
    payment: &PaymentUpdate,
) -> Result<(), StoreError> {
    let Some(customer) = &payment.customer else {
        // Nobody to put it on: kept in the dead-letter queue for a person to
        // look at rather than dropped.
        return Err(StoreError::Unattributable(payment.payment_id.clone()));
    };
    let named = Named::all(payment.provider, customer, &payment.linked_identities, None);
    let Resolved { contact, via } = store
        .resolve_named(tenant, &named, payment.customer_name.as_deref(), payment.at)
        .await?;
    let report = ObjectReport {
        provider: payment.provider,
        object_id: &payment.payment_id,
        contact: &contact,
        via: &via,
        channel: None,
        instant: payment.at,
        rank: rank(&[payment.status as i64, payment.at.timestamp_millis()]),
        detail: EventDetail::Payment(Payment {
            payment_id: payment.payment_id.clone(),
            status: payment.status.as_str().to_string(),
            amount_minor: payment.amount_minor,
            currency: payment.currency.clone(),
            refunded_minor: payment.refunded_minor,
            description: payment.description.clone(),
        }),
    };
    store.upsert_object_event(tenant, report).await?;
    store.touch_contact(tenant, &contact, payment.at).await
}
