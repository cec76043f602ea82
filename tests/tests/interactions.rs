//! Calls, email, payments and bookings: each provider from webhook to
//! timeline item, wrong signatures, stale timestamps and malformed bodies
//! (none of which queue anything), and what a booking or a checkout says
//! about the customer: filed under the email it names, its phone a claim
//! for staff to confirm (a duplicate suggestion), never a silent link.

use chrono::Utc;
use integration_tests::{APP_SECRET, HOST, TestStack, fixture};
use shared::model::Provider;

async fn assert_rejected(stack: &TestStack, reply: integration_tests::Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(stack.queue_depth("IngestQueue").await, 0, "nothing queued");
}

fn items(timeline: &serde_json::Value) -> Vec<serde_json::Value> {
    timeline["items"].as_array().cloned().unwrap_or_default()
}

/// The one contact an email or phone number finds.
async fn found_by(stack: &TestStack, q: &str) -> String {
    let found = stack
        .get(&format!("/contacts?q={q}"), &stack.token("salon", "admin"))
        .await
        .json();
    let list = items(&found);
    assert_eq!(list.len(), 1, "q={q}: {found}");
    list[0]["contact_id"].as_str().unwrap().to_string()
}

/// The contacts suggested as `contact`'s duplicates.
async fn suggested(stack: &TestStack, contact: &str) -> Vec<String> {
    let found = stack
        .get(
            &format!("/contacts/{contact}/duplicates"),
            &stack.token("salon", "admin"),
        )
        .await
        .json();
    items(&found)
        .iter()
        .map(|s| s["contact"]["contact_id"].as_str().unwrap().to_string())
        .collect()
}

fn call_report(sid: &str, status: &str, sequence: u32, extra: &str) -> Vec<u8> {
    format!(
        "CallSid={sid}&CallStatus={status}&SequenceNumber={sequence}&Direction=inbound&From=%2B447700900123&To=%2B447700900200&Timestamp=Sat%2C+24+Oct+2026+12%3A4{sequence}%3A00+%2B0000{extra}"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_call_converges_to_its_final_state_whatever_the_order() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::TwilioVoice).await;
    for body in [
        call_report(
            "CA1",
            "completed",
            3,
            "&CallDuration=47&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Frec%2FRE1",
        ),
        call_report("CA1", "ringing", 1, ""),
        call_report("CA1", "in-progress", 2, ""),
        call_report("CA1", "ringing", 1, ""),
    ] {
        assert_eq!(stack.post_voice(&connection, &body).await.status, 200);
    }
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let calls = items(&stack.timeline("salon", &contact, "").await);
    assert_eq!(calls.len(), 1, "one event per call: {calls:?}");
    let call = &calls[0];
    assert_eq!(call["type"], "call");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["duration_secs"], 47);
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["recording_url"], "https://api.twilio.com/rec/RE1");
    // It sits where the call began (the ringing report), not where it ended.
    assert_eq!(call["occurred_at"], "2026-10-24T12:41:00Z");
}

#[tokio::test]
async fn voice_fixtures_and_rejections() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::TwilioVoice).await;
    for name in ["no_answer_outbound.form", "completed.form"] {
        let reply = stack
            .post_voice(&connection, &fixture(&format!("twilio_voice/{name}")))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let calls = items(&stack.timeline("salon", &contact, "").await);
    let statuses: Vec<_> = calls
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "no-answer"]);

    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::TwilioVoice).await;
    let reply = stack
        .request(
            "POST",
            &format!("/webhooks/voice/{connection}"),
            &[("host", HOST), ("x-twilio-signature", "AAAA")],
            &fixture("twilio_voice/completed.form"),
        )
        .await;
    assert_rejected(&stack, reply, 401).await;
    let reply = stack
        .post_voice(
            &connection,
            b"CallSid=CA9&CallStatus=teleported&Direction=inbound&From=%2B447700900123",
        )
        .await;
    assert_eq!(reply.json()["field"], "CallStatus");
    assert_rejected(&stack, reply, 400).await;
}

#[tokio::test]
async fn postmark_email_reaches_the_timeline() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Postmark).await;
    let reply = stack
        .post_postmark(&connection, APP_SECRET, &fixture("postmark/inbound.json"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let email = &items(&stack.timeline("salon", &contact, "").await)[0];
    assert_eq!(email["channel"], "email");
    assert!(
        email["body"].as_str().unwrap().contains("Can I rebook?"),
        "{email}"
    );
    let profile = stack
        .get(
            &format!("/contacts/{contact}"),
            &stack.token("salon", "admin"),
        )
        .await
        .json();
    assert_eq!(profile["identities"][0]["value"], "maya.lopez@example.com");

    let reply = stack
        .post_postmark(&connection, "guess", &fixture("postmark/inbound.json"))
        .await;
    stack.drain().await;
    assert_eq!(reply.status, 401);
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Postmark).await;
    let reply = stack
        .post_postmark(&connection, APP_SECRET, b"{\"Subject\":\"hi\"}")
        .await;
    assert_rejected(&stack, reply, 400).await;
}

#[tokio::test]
async fn payments_converge_per_payment_intent_under_the_payers_email() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let stripe = stack.connection("salon", Provider::Stripe).await;
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let maya = stack.only_contact("salon").await;
    let now = Utc::now().timestamp();
    // Either order, twice over: one payment.
    for name in [
        "checkout_session_completed.json",
        "payment_intent_succeeded.json",
        "checkout_session_completed.json",
        "charge_refunded.json",
    ] {
        let reply = stack
            .post_stripe(&stripe, &fixture(&format!("stripe/{name}")), now)
            .await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
    }
    stack.drain().await;
    // The payer's email and phone are what was typed at checkout: the
    // payments are filed under the email, and Maya's phone (proven by
    // WhatsApp) is not linked to it; staff are asked instead.
    let payer = found_by(&stack, "maya.lopez%40example.com").await;
    assert_ne!(payer, maya);
    assert_eq!(found_by(&stack, "%2B447700900123").await, maya);
    assert_eq!(suggested(&stack, &payer).await, std::slice::from_ref(&maya));
    let payments: Vec<_> = items(&stack.timeline("salon", &payer, "").await)
        .into_iter()
        .filter(|e| e["type"] == "payment")
        .collect();
    assert_eq!(payments.len(), 2, "{payments:?}");
    let deposit = payments
        .iter()
        .find(|p| p["payment_id"] == "pi_3n8Eg6eOAhESDnbAKur0PAE0")
        .unwrap();
    assert_eq!(deposit["status"], "succeeded");
    assert_eq!(deposit["amount_minor"], 5000);
    assert_eq!(deposit["currency"], "gbp");
    let refunded = payments
        .iter()
        .find(|p| p["payment_id"] == "pi_3YPjt2tPWUbj9zdYmgEdwmmu")
        .unwrap();
    assert_eq!(refunded["status"], "refunded");
    let profile = stack
        .get(&format!("/contacts/{maya}"), &stack.token("salon", "admin"))
        .await
        .json();
    let identities = profile["identities"].to_string();
    assert!(
        !identities.contains("maya.lopez@example.com"),
        "nothing typed at checkout is added to Maya: {identities}"
    );
}

#[tokio::test]
async fn stripe_rejects_stale_forged_and_malformed_events() {
    let stack = TestStack::new().await;
    let stripe = stack.connection("salon", Provider::Stripe).await;
    let body = fixture("stripe/payment_intent_succeeded.json");
    let stale = stack
        .post_stripe(&stripe, &body, Utc::now().timestamp() - 301)
        .await;
    assert_rejected(&stack, stale, 401).await;
    let forged = stack
        .request(
            "POST",
            &format!("/webhooks/stripe/{stripe}"),
            &[(
                "stripe-signature",
                &format!("t={},v1=00", Utc::now().timestamp()),
            )],
            &body,
        )
        .await;
    assert_rejected(&stack, forged, 401).await;
    let malformed = stack
        .post_stripe(&stripe, br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_1"}}}"#, Utc::now().timestamp())
        .await;
    assert_eq!(malformed.json()["field"], "data.object.amount");
    assert_rejected(&stack, malformed, 400).await;
}

#[tokio::test]
async fn a_booking_lives_as_one_event_on_its_attendees_contact() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let calcom = stack.connection("salon", Provider::Calcom).await;
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let maya = stack.only_contact("salon").await;
    // The meeting ends before we hear of the reschedule that created it, and
    // the cancel of another booking arrives with no create at all.
    for name in [
        "meeting_ended_wrapped.json",
        "booking_cancelled.json",
        "booking_created.json",
        "booking_rescheduled.json",
        "booking_created.json",
    ] {
        let reply = stack
            .post_calcom(&calcom, &fixture(&format!("calcom/{name}")))
            .await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
    }
    stack.drain().await;
    // Booked with an email and Maya's phone: filed under the email; the
    // phone is a claim, suggested rather than linked.
    let attendee = found_by(&stack, "maya.lopez%40example.com").await;
    assert_ne!(attendee, maya);
    assert_eq!(
        suggested(&stack, &maya).await,
        std::slice::from_ref(&attendee)
    );
    let bookings: Vec<_> = items(&stack.timeline("salon", &attendee, "").await)
        .into_iter()
        .filter(|e| e["type"] == "booking")
        .collect();
    let by_id = |id: &str| {
        bookings
            .iter()
            .find(|b| b["booking_id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from {bookings:?}"))
            .clone()
    };
    assert_eq!(bookings.len(), 3, "{bookings:?}");
    assert_eq!(by_id("m7QKx2VbT9sLw4RzH1cYpA")["status"], "rescheduled");
    assert_eq!(by_id("Hq3WnB7tY1cXs9LrK2vDpE")["status"], "cancelled");
    let live = by_id("Zr4vN8pQw2KdY6tB3sHjLm");
    assert_eq!(live["status"], "completed");
    assert_eq!(live["service"], "balayage-shoulder-length");
    assert_eq!(live["replaces_booking_id"], "m7QKx2VbT9sLw4RzH1cYpA");
}

#[tokio::test]
async fn calcom_rejects_bad_signatures_and_malformed_bodies() {
    let stack = TestStack::new().await;
    let calcom = stack.connection("salon", Provider::Calcom).await;
    let body = fixture("calcom/booking_created.json");
    for signature in ["no-secret-provided", "sha256=abc", ""] {
        let reply = stack
            .request(
                "POST",
                &format!("/webhooks/calcom/{calcom}"),
                &[("x-cal-signature-256", signature)],
                &body,
            )
            .await;
        assert_rejected(&stack, reply, 401).await;
    }
    let reply = stack
        .post_calcom(&calcom, br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-10-21T08:20:41Z","payload":{"attendees":[]}}"#)
        .await;
    assert_rejected(&stack, reply, 400).await;
}

#[tokio::test]
async fn a_payment_with_nobody_to_put_it_on_is_dead_lettered_not_dropped() {
    let stack = TestStack::new().await;
    let stripe = stack.connection("salon", Provider::Stripe).await;
    let body = br#"{"id":"evt_9","type":"payment_intent.succeeded","created":1792571043,"data":{"object":{"id":"pi_9","amount":100,"amount_received":100,"currency":"gbp"}}}"#;
    assert_eq!(
        stack
            .post_stripe(&stripe, body, Utc::now().timestamp())
            .await
            .status,
        200
    );
    stack.drain().await;
    assert_eq!(stack.queue_depth("IngestDeadLetterQueue").await, 1);
}

#[tokio::test]
async fn two_known_contacts_are_never_merged_by_a_booking() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let postmark = stack.connection("salon", Provider::Postmark).await;
    let calcom = stack.connection("salon", Provider::Calcom).await;
    // Maya's phone (WhatsApp) and her email (Postmark) start as two contacts.
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack
        .post_postmark(&postmark, APP_SECRET, &fixture("postmark/inbound.json"))
        .await;
    stack.drain().await;
    // The booking carries both: it goes to the email's contact and links
    // nothing that another known contact already holds.
    stack
        .post_calcom(&calcom, &fixture("calcom/booking_created.json"))
        .await;
    stack.drain().await;
    let admin = stack.token("salon", "admin");
    let ids = stack.contact_ids("salon").await;
    assert_eq!(ids.len(), 2, "suggested, not merged");
    // Each is suggested as the other's duplicate, with the reasons.
    for (me, other) in [(&ids[0], &ids[1]), (&ids[1], &ids[0])] {
        let suggestions = stack
            .get(&format!("/contacts/{me}/duplicates"), &admin)
            .await
            .json();
        let items = suggestions["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{suggestions}");
        assert_eq!(&items[0]["contact"]["contact_id"], other.as_str());
        let reasons = items[0]["reasons"].to_string();
        assert!(reasons.contains("phone +447700900123"), "{reasons}");
        assert!(reasons.contains("same name"), "{reasons}");
    }
}

#[tokio::test]
async fn the_journey_tells_the_story_from_first_touch_to_rebooking() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let calcom = stack.connection("salon", Provider::Calcom).await;
    let stripe = stack.connection("salon", Provider::Stripe).await;
    let postmark = stack.connection("salon", Provider::Postmark).await;
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    for name in [
        "booking_created.json",
        "booking_rescheduled.json",
        "meeting_ended_wrapped.json",
    ] {
        stack
            .post_calcom(&calcom, &fixture(&format!("calcom/{name}")))
            .await;
    }
    stack
        .post_stripe(
            &stripe,
            &fixture("stripe/payment_intent_succeeded.json"),
            Utc::now().timestamp(),
        )
        .await;
    stack.drain().await;
    // Her email lands with the booking and the payment that name it.
    stack
        .post_postmark(&postmark, APP_SECRET, &fixture("postmark/inbound.json"))
        .await;
    stack.drain().await;
    // The booking's phone is Maya's WhatsApp number, but typed into a form:
    // staff confirm the suggestion and merge.
    let maya = found_by(&stack, "%2B447700900123").await;
    let by_email = found_by(&stack, "maya.lopez%40example.com").await;
    assert_eq!(
        suggested(&stack, &maya).await,
        std::slice::from_ref(&by_email)
    );
    let auth = format!("Bearer {}", stack.token("salon", "admin"));
    let merged = stack
        .request(
            "POST",
            &format!("/contacts/{maya}/merge"),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            serde_json::json!({ "contact_id": by_email })
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(merged.status, 200, "{merged:?}");
    assert_eq!(stack.only_contact("salon").await, maya);
    let journey = stack
        .get(
            &format!("/contacts/{maya}/journey"),
            &stack.token("salon", "agent"),
        )
        .await
        .json();
    assert_eq!(journey["awareness"]["channel"], "whatsapp");
    assert_eq!(
        journey["awareness"]["first_touch_at"],
        "2026-10-21T08:14:01Z"
    );
    let questions = journey["consideration"]["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 1);
    assert!(
        questions[0]["text"]
            .as_str()
            .unwrap()
            .contains("balayage for Saturday")
    );
    assert_eq!(journey["decision"]["touchpoints"], 1);
    assert_eq!(journey["decision"]["seconds_to_book"], 400);
    assert_eq!(journey["decision"]["service"], "balayage-shoulder-length");
    assert_eq!(journey["experience"]["appointments_completed"], 1);
    assert_eq!(journey["experience"]["paid_minor"]["gbp"], 5000);
    let rebook = journey["loyalty"]["rebooking_requests"].as_array().unwrap();
    assert_eq!(rebook.len(), 1, "{journey}");
    assert!(
        rebook[0]["text"]
            .as_str()
            .unwrap()
            .contains("Can I rebook?")
    );
    assert_eq!(journey["loyalty"]["repeat_bookings"], 0);
}
