//! Issue item 12, the demo story, end to end through the real signed
//! webhooks: Maya asks about balayage on Instagram and the AI answers; she
//! asks on WhatsApp to book for Saturday; the Cal.com booking (her phone and
//! her email) is confirmed on WhatsApp; an SMS reminds her; the appointment
//! is completed; she emails to rebook. Until staff merge them she is three
//! contacts: Instagram; her WhatsApp number; and the booking's email. The
//! phone the booking form carries is only what was typed, so it is not
//! linked to the email: the two are suggested to staff as duplicates, and
//! staff merge them. After the merges, one timeline, one set of metrics and
//! one journey tell the whole story in event-time order.
//!
//! Deliveries are posted out of event-time order and some are delivered
//! twice: the order on the timeline comes from the providers' event times.
//!
//! Two steps are not (only) webhooks, because the providers do not report
//! them:
//! * The AI's Instagram reply. The Instagram adapter marks every echo as a
//!   human's (`author: human`, no user): Meta's echo does not say who wrote
//!   it, and the adapter reads no `app_id`/metadata. So the AI's sender
//!   records its reply with `POST /contacts/{id}/messages` (author `ai`, the
//!   reply's `mid`), and Meta's signed echo of it, delivered twice, is then
//!   recognised as the same message.
//! * The SMS reminder. Twilio Messaging webhooks carry inbound messages and
//!   status callbacks, never an outbound message, so the reminder is
//!   recorded with `POST /contacts/{id}/messages` (its MessageSid); Twilio's
//!   signed `delivered` callback, posted before the reminder is recorded,
//!   sets its status.
//!
//! "Appointment completed" is not an event of its own: the implementation
//! keeps one timeline event per booking (README, "Calls, bookings and
//! payments"), at the instant it was booked and showing its latest state, so
//! Cal.com's `MEETING_ENDED` turns the booking event's status to `completed`.

use chrono::{DateTime, SecondsFormat, Utc};
use integration_tests::{APP_SECRET, Reply, TestStack, whatsapp_echo, whatsapp_text};
use serde_json::{Value, json};
use shared::model::Provider;

const TENANT: &str = "salon";
const ADMIN_USER: &str = "salon-admin";

// Who is who.
const IGSID: &str = "1203956471823346";
const IG_BUSINESS: &str = "17841405822304914";
const WA_ID: &str = "447700900123";
const PHONE: &str = "+447700900123";
const EMAIL: &str = "maya.lopez@example.com";

// Event times (UTC), strictly increasing in story order.
/// 1. Instagram DM from Maya (Tuesday).
const IG_QUESTION_AT: &str = "2026-10-20T17:02:11Z";
/// 2. The AI's Instagram reply, 90 s later.
const AI_REPLY_AT: &str = "2026-10-20T17:03:41Z";
/// 3. WhatsApp, a week later: a greeting, then the question (one run of two
///    inbound messages).
const WA_HELLO_AT: &str = "2026-10-27T08:12:30Z";
const WA_QUESTION_AT: &str = "2026-10-27T08:14:01Z";
/// 4. Cal.com booking made (its `createdAt`) ...
const BOOKED_AT: &str = "2026-10-27T08:20:41Z";
/// ... and confirmed on WhatsApp by staff (a Business-app echo).
const WA_CONFIRMATION_AT: &str = "2026-10-27T08:21:10Z";
/// 5. SMS reminder, the evening before.
const SMS_REMINDER_AT: &str = "2026-10-30T17:00:00Z";
/// The appointment: Saturday 31 October, 10:00-12:30 (London is on GMT).
const APPOINTMENT_START: &str = "2026-10-31T10:00:00Z";
/// 6. Completed: Cal.com fires MEETING_ENDED at the booking's end time.
const APPOINTMENT_END: &str = "2026-10-31T12:30:00Z";
/// 7. Email asking to rebook (Monday).
const EMAIL_AT: &str = "2026-11-02T09:15:30Z";
const EMAIL_DATE_HEADER: &str = "Mon, 2 Nov 2026 09:15:30 +0000";

// What was said.
const IG_QUESTION: &str = "Do you do balayage?";
const AI_REPLY: &str = "Hi! Yes 😊 Balayage for shoulder-length hair starts at £180 (about 2.5 h). Easiest way to book is WhatsApp: +44 7700 900100";
const WA_HELLO: &str = "Hi! It's Maya from Instagram 👋";
const WA_QUESTION: &str = "Can I book for Saturday?";
const WA_CONFIRMATION: &str = "You're booked: balayage, Saturday 31 Oct at 10:00. See you then!";
const SMS_REMINDER: &str =
    "Reminder: your balayage at Lumière Hair Studio is tomorrow at 10:00. Reply C to confirm.";
const EMAIL_SUBJECT: &str = "Re: See you Saturday";
const EMAIL_TEXT: &str = "Thanks! Can I rebook?";

// Provider ids.
const IG_QUESTION_MID: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjseed-question";
const AI_REPLY_MID: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjseed-ai-reply";
const WA_HELLO_ID: &str = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUseedHello";
const WA_QUESTION_ID: &str = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUseedQuestion";
const WA_CONFIRMATION_ID: &str = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSseedConfirm";
const BOOKING_UID: &str = "sEEdJ0urneyBa1ayage31Oct";
const SERVICE: &str = "balayage-shoulder-length";
const SMS_SID: &str = "SM7c1f3a9e2b4d4e6f8a0b1c2d3e4f5a6b";
const EMAIL_MESSAGE_ID: &str = "CAM-seed-rebook-1@mail.example.com";

fn at(iso: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(iso)
        .expect("RFC 3339 instant")
        .with_timezone(&Utc)
}

/// An instant the API returned.
fn instant(value: &Value) -> DateTime<Utc> {
    at(value
        .as_str()
        .unwrap_or_else(|| panic!("not an instant: {value}")))
}

fn millis(iso: &str) -> String {
    at(iso).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn items(listing: &Value) -> &[Value] {
    listing["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("no items: {listing}"))
}

fn contact_ids(listing: &Value) -> Vec<&str> {
    items(listing)
        .iter()
        .map(|c| c["contact_id"].as_str().expect("contact id"))
        .collect()
}

/// `kind:value` of each identity, sorted.
fn identities(list: &Value) -> Vec<String> {
    let mut found: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("no identities: {list}"))
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["kind"].as_str().unwrap_or("?"),
                i["value"].as_str().unwrap_or("?")
            )
        })
        .collect();
    found.sort();
    found
}

// ---- signed webhook bodies -------------------------------------------------

struct Connections {
    whatsapp: String,
    instagram: String,
    sms: String,
    postmark: String,
    calcom: String,
}

impl Connections {
    async fn open(stack: &TestStack) -> Self {
        Self {
            whatsapp: stack.connection(TENANT, Provider::Whatsapp).await,
            instagram: stack.connection(TENANT, Provider::Instagram).await,
            sms: stack.connection(TENANT, Provider::TwilioSms).await,
            postmark: stack.connection(TENANT, Provider::Postmark).await,
            calcom: stack.connection(TENANT, Provider::Calcom).await,
        }
    }
}

fn instagram(sender: &str, recipient: &str, sent_at: &str, message: Value) -> Vec<u8> {
    let ms = at(sent_at).timestamp_millis();
    serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{
            "time": ms + 400,
            "id": IG_BUSINESS,
            "messaging": [{
                "sender": { "id": sender },
                "recipient": { "id": recipient },
                "timestamp": ms,
                "message": message
            }]
        }]
    }))
    .expect("json")
}

/// 1. Maya's DM.
fn ig_question() -> Vec<u8> {
    instagram(
        IGSID,
        IG_BUSINESS,
        IG_QUESTION_AT,
        json!({ "mid": IG_QUESTION_MID, "text": IG_QUESTION }),
    )
}

/// 2. Meta's echo of the reply the AI sent through the Graph API.
fn ig_ai_reply_echo() -> Vec<u8> {
    instagram(
        IG_BUSINESS,
        IGSID,
        AI_REPLY_AT,
        json!({ "mid": AI_REPLY_MID, "text": AI_REPLY, "is_echo": true, "app_id": 1_234_567_890_u64 }),
    )
}

fn wa_hello() -> Vec<u8> {
    whatsapp_text(WA_HELLO_ID, WA_ID, at(WA_HELLO_AT).timestamp(), WA_HELLO)
}

fn wa_question() -> Vec<u8> {
    whatsapp_text(
        WA_QUESTION_ID,
        WA_ID,
        at(WA_QUESTION_AT).timestamp(),
        WA_QUESTION,
    )
}

fn wa_confirmation() -> Vec<u8> {
    whatsapp_echo(
        WA_CONFIRMATION_ID,
        WA_ID,
        at(WA_CONFIRMATION_AT).timestamp(),
        WA_CONFIRMATION,
    )
}

/// A Cal.com trigger about the booking; the attendee carries both the phone
/// and the email, which links them. `MEETING_ENDED` (newer builds' wrapped
/// shape) has no `createdAt`: it fires at the booking's end time.
fn calcom(trigger: &str, created_at: Option<&str>) -> Vec<u8> {
    let mut body = json!({
        "triggerEvent": trigger,
        "payload": {
            "type": SERVICE,
            "title": "Balayage (shoulder length) between Chloé Martin and Maya López",
            "startTime": APPOINTMENT_START,
            "endTime": APPOINTMENT_END,
            "organizer": { "name": "Chloé Martin", "email": "chloe@lumierehair.example", "timeZone": "Europe/London" },
            "attendees": [{
                "email": EMAIL,
                "name": "Maya López",
                "timeZone": "Europe/London",
                "phoneNumber": PHONE
            }],
            "uid": BOOKING_UID,
            "bookingId": 4901,
            "eventTitle": "Balayage (shoulder length)",
            "length": 150,
            "status": "ACCEPTED"
        }
    });
    if let Some(created_at) = created_at {
        body["createdAt"] = json!(created_at);
    }
    serde_json::to_vec(&body).expect("json")
}

fn booking_created() -> Vec<u8> {
    calcom("BOOKING_CREATED", Some(BOOKED_AT))
}

fn meeting_ended() -> Vec<u8> {
    calcom("MEETING_ENDED", None)
}

/// Twilio's status callback for the reminder.
fn sms_delivered() -> Vec<u8> {
    format!(
        "SmsSid={SMS_SID}&SmsStatus=delivered&MessageStatus=delivered&To=%2B447700900123\
         &MessageSid={SMS_SID}&AccountSid=AC9af211329b2fc82e5efe906062c73008\
         &From=%2B447700900200&ApiVersion=2010-04-01"
    )
    .into_bytes()
}

/// 7. Postmark's inbound webhook for Maya's email.
fn rebooking_email() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "FromName": "Maya López",
        "MessageStream": "inbound",
        "From": EMAIL,
        "FromFull": { "Email": EMAIL, "Name": "Maya López", "MailboxHash": "" },
        "To": "\"Lumiere Hair Studio\" <hello@lumierehair.example>",
        "Subject": EMAIL_SUBJECT,
        "MessageID": "3f0b6c1e-5a2d-4c8e-9b7f-1d2e3f4a5b6c",
        "Date": EMAIL_DATE_HEADER,
        "TextBody": EMAIL_TEXT,
        "Headers": [{ "Name": "Message-ID", "Value": format!("<{EMAIL_MESSAGE_ID}>") }],
        "Attachments": []
    }))
    .expect("json")
}

/// The body the timeline shows for the email (Postmark adapter: the subject
/// becomes the first line).
fn email_body() -> String {
    format!("Subject: {EMAIL_SUBJECT}\n\n{EMAIL_TEXT}")
}

fn accepted(reply: Reply) {
    assert_eq!(reply.status, 200, "webhook not accepted: {reply:?}");
}

// ---- the API, as staff ------------------------------------------------------

async fn admin_get(stack: &TestStack, path: &str) -> Value {
    let reply = stack.get(path, &stack.token(TENANT, "admin")).await;
    assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
    reply.json()
}

async fn admin_post(stack: &TestStack, path: &str, body: Value) -> Reply {
    let auth = format!("Bearer {}", stack.token(TENANT, "admin"));
    stack
        .request(
            "POST",
            path,
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
        .await
}

/// Records a message the business sent (as the AI's sender does).
async fn record_sent(stack: &TestStack, contact: &str, message: Value) -> Value {
    let reply = admin_post(stack, &format!("/contacts/{contact}/messages"), message).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.json()
}

/// The one contact `q` (an email or phone number) finds.
async fn found_by(stack: &TestStack, q: &str) -> String {
    let found = admin_get(stack, &format!("/contacts?q={q}")).await;
    let ids = contact_ids(&found);
    assert_eq!(ids.len(), 1, "q={q}: {found}");
    ids[0].to_string()
}

/// One line per timeline item: type, channel, direction, author, instant.
fn row(item: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    format!(
        "{} {} {} {} {}",
        text(&item["type"]),
        text(&item["channel"]),
        text(&item["direction"]),
        text(&item["author"]["kind"]),
        instant(&item["occurred_at"]).to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

fn expected_row(kind: &str, channel: &str, direction: &str, author: &str, iso: &str) -> String {
    format!("{kind} {channel} {direction} {author} {}", millis(iso))
}

/// The story's events after the merge, oldest first (the merge event, at
/// merge time, comes after them).
fn expected_story() -> Vec<String> {
    vec![
        expected_row(
            "message",
            "instagram",
            "inbound",
            "customer",
            IG_QUESTION_AT,
        ),
        expected_row("message", "instagram", "outbound", "ai", AI_REPLY_AT),
        expected_row("message", "whatsapp", "inbound", "customer", WA_HELLO_AT),
        expected_row("message", "whatsapp", "inbound", "customer", WA_QUESTION_AT),
        expected_row("booking", "-", "-", "-", BOOKED_AT),
        expected_row(
            "message",
            "whatsapp",
            "outbound",
            "human",
            WA_CONFIRMATION_AT,
        ),
        expected_row("message", "sms", "outbound", "ai", SMS_REMINDER_AT),
        expected_row("message", "email", "inbound", "customer", EMAIL_AT),
    ]
}

fn bodies(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|m| m["body"].as_str().unwrap_or("<no body>"))
        .collect()
}

fn assert_question(found: &Value, iso: &str, channel: &str, text: &str) {
    assert_eq!(instant(&found["at"]), at(iso), "{found}");
    assert_eq!(found["channel"], channel, "{found}");
    assert_eq!(found["text"], text, "{found}");
}

// ---- the test ---------------------------------------------------------------

// Each step is its own async fn: in debug builds a poll frame reserves room
// for every future it awaits, and the merge request alone runs about 1 MiB
// deep, so one long test body would overflow the test thread's 2 MiB stack.
#[tokio::test]
async fn the_demo_story_is_one_ordered_timeline_with_metrics_and_journey_after_the_merge() {
    let stack = TestStack::new().await;
    let hooks = Connections::open(&stack).await;
    deliver_first_round(&stack, &hooks).await;
    let whatsapp_contact = booking_suggested_as_the_phones_duplicate(&stack).await;
    let (booker, instagram_contact) =
        two_contacts_before_the_merge(&stack, &whatsapp_contact).await;
    deliver_second_round(&stack, &hooks, &booker, &instagram_contact).await;
    assert_timelines_before_the_merge(&stack, &booker, &instagram_contact).await;
    let (merge_requested, merge_answered) = merge(&stack, &booker, &instagram_contact).await;
    assert_contacts_after_merge(&stack, &booker, &instagram_contact).await;
    assert_timeline(
        &stack,
        &booker,
        &instagram_contact,
        merge_requested,
        merge_answered,
    )
    .await;
    assert_metrics(&stack, &booker).await;
    assert_journey(&stack, &booker).await;
    assert_messages_view(&stack, &booker).await;
}

/// Out of event-time order: the appointment's end first, the staff
/// confirmation before the question it answers, the first Instagram DM
/// after WhatsApp; then three redeliveries.
async fn deliver_first_round(stack: &TestStack, hooks: &Connections) {
    accepted(stack.post_calcom(&hooks.calcom, &meeting_ended()).await);
    accepted(stack.post_whatsapp(&hooks.whatsapp, &wa_question()).await);
    accepted(
        stack
            .post_whatsapp(&hooks.whatsapp, &wa_confirmation())
            .await,
    );
    accepted(stack.post_instagram(&hooks.instagram, &ig_question()).await);
    accepted(stack.post_whatsapp(&hooks.whatsapp, &wa_hello()).await);
    accepted(stack.post_calcom(&hooks.calcom, &booking_created()).await);
    accepted(stack.post_whatsapp(&hooks.whatsapp, &wa_question()).await);
    accepted(stack.post_instagram(&hooks.instagram, &ig_question()).await);
    accepted(stack.post_calcom(&hooks.calcom, &booking_created()).await);
    assert_eq!(stack.drain().await, 9);
}

/// The booking's email and Maya's WhatsApp number are two contacts (the
/// booking's phone is a claim: it is not linked), suggested to each other
/// as duplicates. Returns the WhatsApp contact.
async fn booking_suggested_as_the_phones_duplicate(stack: &TestStack) -> String {
    let booker = found_by(stack, "maya.lopez%40example.com").await;
    let whatsapp_contact = found_by(stack, "%2B44%207700%20900123").await;
    assert_ne!(booker, whatsapp_contact);
    assert_eq!(contact_ids(&admin_get(stack, "/contacts").await).len(), 3);
    let suggested = admin_get(stack, &format!("/contacts/{booker}/duplicates")).await;
    assert!(
        items(&suggested)
            .iter()
            .any(|s| s["contact"]["contact_id"] == whatsapp_contact.as_str()
                && s["reasons"].to_string().contains(PHONE)),
        "{suggested}"
    );
    whatsapp_contact
}

/// Staff accept the suggestion: the WhatsApp contact joins the booker, who
/// then holds Maya's phone and email; Instagram knows her only by her
/// Instagram id. Returns (booker, Instagram contact).
async fn two_contacts_before_the_merge(
    stack: &TestStack,
    whatsapp_contact: &str,
) -> (String, String) {
    let booker = found_by(stack, "maya.lopez%40example.com").await;
    let merged = admin_post(
        stack,
        &format!("/contacts/{booker}/merge"),
        json!({ "contact_id": whatsapp_contact }),
    )
    .await;
    assert_eq!(merged.status, 200, "{merged:?}");
    assert_eq!(found_by(stack, "%2B44%207700%20900123").await, booker);
    let listed = admin_get(stack, "/contacts").await;
    let ids = contact_ids(&listed);
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&booker.as_str()), "{listed}");
    let instagram_contact = ids
        .iter()
        .find(|id| **id != booker)
        .expect("the Instagram contact")
        .to_string();
    let booker_profile = admin_get(stack, &format!("/contacts/{booker}")).await;
    assert_eq!(
        identities(&booker_profile["identities"]),
        [format!("email:{EMAIL}"), format!("phone:{PHONE}")]
    );
    let instagram_profile = admin_get(stack, &format!("/contacts/{instagram_contact}")).await;
    assert_eq!(
        identities(&instagram_profile["identities"]),
        [format!("instagram_id:{IGSID}")]
    );
    (booker, instagram_contact)
}

/// Twilio's receipt for the reminder comes before the reminder is recorded
/// (it is parked until then); the AI's Instagram reply is recorded, then
/// Meta's echo of it arrives twice; Postmark delivers the email twice.
async fn deliver_second_round(
    stack: &TestStack,
    hooks: &Connections,
    booker: &str,
    instagram_contact: &str,
) {
    accepted(stack.post_sms(&hooks.sms, "", &sms_delivered()).await);
    assert_eq!(stack.drain().await, 1);
    let reminder = record_sent(
        stack,
        booker,
        json!({
            "channel": "sms", "author": "ai", "body": SMS_REMINDER,
            "provider_message_id": SMS_SID, "sent_at": SMS_REMINDER_AT
        }),
    )
    .await;
    assert_eq!(reminder["status"], "delivered", "{reminder}");
    record_sent(
        stack,
        instagram_contact,
        json!({
            "channel": "instagram", "author": "ai", "body": AI_REPLY,
            "provider_message_id": AI_REPLY_MID, "sent_at": AI_REPLY_AT
        }),
    )
    .await;
    accepted(
        stack
            .post_instagram(&hooks.instagram, &ig_ai_reply_echo())
            .await,
    );
    accepted(
        stack
            .post_instagram(&hooks.instagram, &ig_ai_reply_echo())
            .await,
    );
    let email = rebooking_email();
    accepted(
        stack
            .post_postmark(&hooks.postmark, APP_SECRET, &email)
            .await,
    );
    accepted(
        stack
            .post_postmark(&hooks.postmark, APP_SECRET, &email)
            .await,
    );
    assert_eq!(stack.drain().await, 4);
}

/// Still two contacts, newest activity first (the email, then the AI's
/// Instagram reply), each with its part of the story.
async fn assert_timelines_before_the_merge(
    stack: &TestStack,
    booker: &str,
    instagram_contact: &str,
) {
    let listed = admin_get(stack, "/contacts").await;
    assert_eq!(contact_ids(&listed), [booker, instagram_contact]);
    assert_eq!(
        instant(&items(&listed)[0]["last_activity_at"]),
        at(EMAIL_AT)
    );
    assert_eq!(
        instant(&items(&listed)[1]["last_activity_at"]),
        at(AI_REPLY_AT)
    );
    let instagram_only = stack
        .timeline(TENANT, instagram_contact, "?order=oldest")
        .await;
    assert_eq!(
        items(&instagram_only).iter().map(row).collect::<Vec<_>>(),
        expected_story()[..2],
        "the AI's reply and its two echoes are one message"
    );
    let booker_only = stack.timeline(TENANT, booker, "?order=oldest").await;
    assert_eq!(
        items(&booker_only)
            .iter()
            .filter(|e| e["type"] != "identity_link")
            .map(row)
            .collect::<Vec<_>>(),
        expected_story()[2..]
    );
}

/// Staff (admin) merge the Instagram contact into the booker; returns when
/// the request was made and answered.
async fn merge(
    stack: &TestStack,
    booker: &str,
    instagram_contact: &str,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let requested = Utc::now();
    let merged = admin_post(
        stack,
        &format!("/contacts/{booker}/merge"),
        json!({ "contact_id": instagram_contact }),
    )
    .await;
    let answered = Utc::now();
    assert_eq!(merged.status, 200, "{merged:?}");
    let merged = merged.json();
    assert_eq!(
        identities(&merged["contact"]["identities"]),
        [
            format!("email:{EMAIL}"),
            format!("instagram_id:{IGSID}"),
            format!("phone:{PHONE}")
        ]
    );
    assert_eq!(merged["change"]["type"], "identity_link");
    assert_eq!(merged["change"]["other_contact_id"], instagram_contact);
    (requested, answered)
}

/// One contact left; the merged-away id answers 404 everywhere.
async fn assert_contacts_after_merge(stack: &TestStack, booker: &str, gone: &str) {
    let listed = admin_get(stack, "/contacts").await;
    assert_eq!(contact_ids(&listed), [booker]);
    assert_eq!(
        instant(&items(&listed)[0]["last_activity_at"]),
        at(EMAIL_AT)
    );
    let token = stack.token(TENANT, "admin");
    for suffix in ["", "/timeline", "/messages", "/metrics", "/journey"] {
        let path = format!("/contacts/{gone}{suffix}");
        let reply = stack.get(&path, &token).await;
        assert_eq!(reply.status, 404, "GET {path}: {reply:?}");
    }
}

async fn assert_timeline(
    stack: &TestStack,
    contact: &str,
    merged_away: &str,
    merge_requested: DateTime<Utc>,
    merge_answered: DateTime<Utc>,
) {
    let timeline = stack.timeline(TENANT, contact, "?order=oldest").await;
    let events = items(&timeline);
    assert_eq!(events.len(), 10, "{timeline}");
    let (story, merges) = events.split_at(8);
    assert_eq!(story.iter().map(row).collect::<Vec<_>>(), expected_story());

    // The merges are recorded when staff made them: after the whole story,
    // the WhatsApp contact's first.
    assert_eq!(merges[0]["type"], "identity_link", "{}", merges[0]);
    assert_eq!(
        identities(&merges[0]["identities"]),
        [format!("phone:{PHONE}")]
    );
    let merge = &merges[1];
    assert_eq!(merge["type"], "identity_link", "{merge}");
    assert_eq!(merge["action"], "merge");
    assert_eq!(merge["other_contact_id"], merged_away);
    assert_eq!(merge["by_user_id"], ADMIN_USER);
    assert_eq!(
        identities(&merge["identities"]),
        [format!("instagram_id:{IGSID}")]
    );
    let merged_at = instant(&merge["occurred_at"]);
    assert!(
        merge_requested - chrono::Duration::seconds(1) <= merged_at
            && merged_at <= merge_answered + chrono::Duration::seconds(1),
        "merge event at {merged_at}, requested {merge_requested}, answered {merge_answered}"
    );

    // What each event says.
    let messages: Vec<Value> = story
        .iter()
        .filter(|e| e["type"] == "message")
        .cloned()
        .collect();
    assert_eq!(
        bodies(&messages),
        [
            IG_QUESTION,
            AI_REPLY,
            WA_HELLO,
            WA_QUESTION,
            WA_CONFIRMATION,
            SMS_REMINDER,
            email_body().as_str()
        ]
    );
    let ai_reply = &story[1];
    assert_eq!(ai_reply["provider_ref"], AI_REPLY_MID);
    assert_eq!(ai_reply["status"], "sent");
    let confirmation = &story[5];
    assert_eq!(confirmation["provider_ref"], WA_CONFIRMATION_ID);
    assert!(
        confirmation["author"].get("user_id").is_none(),
        "the Business app does not say which staff member: {confirmation}"
    );
    let reminder = &story[6];
    assert_eq!(reminder["provider"], "twilio_sms");
    assert_eq!(reminder["provider_ref"], SMS_SID);
    assert_eq!(reminder["status"], "delivered");
    assert_eq!(story[7]["provider"], "postmark");

    // Booked at BOOKED_AT; MEETING_ENDED (delivered first) completed it.
    let booking = &story[4];
    assert_eq!(booking["provider"], "calcom");
    assert_eq!(booking["booking_id"], BOOKING_UID);
    assert_eq!(booking["status"], "completed");
    assert_eq!(booking["service"], SERVICE);
    assert_eq!(instant(&booking["starts_at"]), at(APPOINTMENT_START));
    assert_eq!(instant(&booking["ends_at"]), at(APPOINTMENT_END));

    // Newest first is the exact reverse.
    let newest_first = stack.timeline(TENANT, contact, "").await;
    let mut reversed: Vec<&Value> = events.iter().map(|e| &e["event_id"]).collect();
    reversed.reverse();
    assert_eq!(
        items(&newest_first)
            .iter()
            .map(|e| &e["event_id"])
            .collect::<Vec<_>>(),
        reversed
    );
}

/// Computed by hand from the story:
/// * in: Instagram DM, WhatsApp hello and question, email = 4;
///   out: AI reply, WhatsApp confirmation, SMS reminder = 3.
/// * whatsapp 3, instagram 2, email 1, sms 1: Maya uses WhatsApp most.
/// * reply delays: DM 17:02:11 -> AI reply 17:03:41 = 90 s; the WhatsApp run
///   starts 08:12:30 (hello), the confirmation is at 08:21:10 = 520 s. The
///   SMS reminder answers nothing (nobody was waiting) and the email is not
///   answered yet. Two replies: median = mean = (90 + 520) / 2 = 305 s.
/// * last contact: the email.
async fn assert_metrics(stack: &TestStack, contact: &str) {
    let metrics = admin_get(stack, &format!("/contacts/{contact}/metrics")).await;
    assert_eq!(metrics["messages_in"], 4, "{metrics}");
    assert_eq!(metrics["messages_out"], 3, "{metrics}");
    assert_eq!(metrics["messages_total"], 7, "{metrics}");
    assert_eq!(
        metrics["by_channel"],
        json!([["whatsapp", 3], ["instagram", 2], ["email", 1], ["sms", 1]]),
        "{metrics}"
    );
    assert_eq!(metrics["preferred_channel"], "whatsapp", "{metrics}");
    let response = &metrics["response_time"];
    assert_eq!(response["replies"], 2, "{metrics}");
    assert_eq!(
        response["median_seconds"].as_f64(),
        Some(305.0),
        "{metrics}"
    );
    assert_eq!(response["mean_seconds"].as_f64(), Some(305.0), "{metrics}");
    assert_eq!(
        instant(&metrics["last_contact_at"]),
        at(EMAIL_AT),
        "{metrics}"
    );
}

/// Per `shared/src/journey.rs`: first touch is the oldest event; questions
/// are inbound messages with a `?` before the first booking; touchpoints are
/// all events before the first booking; a rebooking request is an inbound
/// message after the first completed appointment that mentions booking.
async fn assert_journey(stack: &TestStack, contact: &str) {
    let journey = admin_get(stack, &format!("/contacts/{contact}/journey")).await;

    let awareness = &journey["awareness"];
    assert_eq!(awareness["channel"], "instagram", "{journey}");
    assert_eq!(instant(&awareness["first_touch_at"]), at(IG_QUESTION_AT));
    assert!(awareness["source"].is_null(), "{journey}");

    let questions = journey["consideration"]["questions"]
        .as_array()
        .expect("questions");
    assert_eq!(questions.len(), 2, "{journey}");
    assert_question(&questions[0], IG_QUESTION_AT, "instagram", IG_QUESTION);
    assert_question(&questions[1], WA_QUESTION_AT, "whatsapp", WA_QUESTION);
    assert_eq!(
        journey["consideration"]["services_explored"],
        json!([SERVICE])
    );

    // DM, AI reply, hello, question; 2026-10-20T17:02:11Z to
    // 2026-10-27T08:20:41Z = 6 d 15 h 18 min 30 s.
    let decision = &journey["decision"];
    assert_eq!(
        instant(&decision["first_booking_at"]),
        at(BOOKED_AT),
        "{journey}"
    );
    assert_eq!(decision["service"], SERVICE);
    assert_eq!(decision["touchpoints"], 4, "{journey}");
    assert_eq!(decision["channels"], json!(["instagram", "whatsapp"]));
    assert_eq!(
        decision["seconds_to_book"],
        6 * 86_400 + 15 * 3_600 + 18 * 60 + 30
    );

    let experience = &journey["experience"];
    assert_eq!(experience["appointments_completed"], 1, "{journey}");
    assert_eq!(experience["no_shows"], 0);
    assert_eq!(experience["cancellations"], 0);
    let feedback = experience["feedback"].as_array().expect("feedback");
    assert_eq!(feedback.len(), 1, "{journey}");
    assert_question(&feedback[0], EMAIL_AT, "email", &email_body());

    let loyalty = &journey["loyalty"];
    assert_eq!(loyalty["repeat_bookings"], 0, "{journey}");
    let requests = loyalty["rebooking_requests"]
        .as_array()
        .expect("rebooking requests");
    assert_eq!(requests.len(), 1, "{journey}");
    assert_question(&requests[0], EMAIL_AT, "email", &email_body());
}

/// Messages only, newest first, filtered by channel.
async fn assert_messages_view(stack: &TestStack, contact: &str) {
    let messages = format!("/contacts/{contact}/messages");

    let instagram = admin_get(stack, &format!("{messages}?channels=instagram")).await;
    assert_eq!(
        bodies(items(&instagram)),
        [AI_REPLY, IG_QUESTION],
        "{instagram}"
    );

    let email = admin_get(stack, &format!("{messages}?channels=email")).await;
    assert_eq!(bodies(items(&email)), [email_body().as_str()], "{email}");

    let all = admin_get(stack, &messages).await;
    assert!(items(&all).iter().all(|m| m["type"] == "message"), "{all}");
    assert_eq!(
        bodies(items(&all)),
        [
            email_body().as_str(),
            SMS_REMINDER,
            WA_CONFIRMATION,
            WA_QUESTION,
            WA_HELLO,
            AI_REPLY,
            IG_QUESTION
        ]
    );
    let channels: Vec<&str> = items(&all)
        .iter()
        .map(|m| m["channel"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        channels,
        [
            "email",
            "sms",
            "whatsapp",
            "whatsapp",
            "whatsapp",
            "instagram",
            "instagram"
        ]
    );
}
