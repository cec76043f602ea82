//! Self-asserted identities are not proof. What a provider delivered a
//! message from (a WhatsApp number, an email whose domain passed DMARC, the
//! chat widget's own visitor id) may link a contact; what someone typed (a
//! chat visitor's email or phone, a booking's attendee) joins only a new or
//! anonymous contact and is otherwise a duplicate suggestion for staff.

use integration_tests::fake_sns::{fake_sns, notification, now};
use integration_tests::{TestStack, fixture, whatsapp_text};
use serde_json::{Value, json};
use shared::model::Provider;

const MAYA_EMAIL: &str = "maya.lopez@example.com";
/// The WhatsApp fixture's sender.
const MAYA_PHONE: &str = "+447700900123";

async fn admin_get(stack: &TestStack, path: &str) -> Value {
    let reply = stack.get(path, &stack.token("salon", "admin")).await;
    assert_eq!(reply.status, 200, "{path}: {reply:?}");
    reply.json()
}

async fn identities(stack: &TestStack, contact: &str) -> Vec<String> {
    let mut held: Vec<String> =
        admin_get(stack, &format!("/contacts/{contact}")).await["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}:{}",
                    i["kind"].as_str().unwrap(),
                    i["value"].as_str().unwrap()
                )
            })
            .collect();
    held.sort();
    held
}

async fn holder(stack: &TestStack, q: &str) -> String {
    let found = admin_get(stack, &format!("/contacts?q={q}")).await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{q}: {found}");
    items[0]["contact_id"].as_str().unwrap().to_string()
}

/// (other contact, reasons) of each duplicate suggested for `contact`.
async fn suggestions(stack: &TestStack, contact: &str) -> Vec<(String, String)> {
    admin_get(stack, &format!("/contacts/{contact}/duplicates")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["contact"]["contact_id"].as_str().unwrap().to_string(),
                s["reasons"].to_string(),
            )
        })
        .collect()
}

async fn timeline(stack: &TestStack, contact: &str) -> Vec<Value> {
    stack.timeline("salon", contact, "?order=oldest").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn chat_body(visitor: &str, id: &str, details: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "visitor_id": visitor,
        "message_id": id,
        "sent_at": "2026-10-26T10:00:00.000Z",
        "text": format!("chat {id}"),
        "visitor": details,
    }))
    .unwrap()
}

/// The SES fixture (From maya.lopez@example.com) with its receipt's
/// verdicts and envelope sender replaced.
fn ses_email(dmarc: &str, spf: &str, envelope_from: &str) -> Value {
    let mut sns = notification(&now());
    let mut message: Value = serde_json::from_str(sns["Message"].as_str().unwrap()).unwrap();
    message["receipt"]["dmarcVerdict"]["status"] = json!(dmarc);
    message["receipt"]["spfVerdict"]["status"] = json!(spf);
    message["mail"]["source"] = json!(envelope_from);
    sns["Message"] = json!(message.to_string());
    sns
}

/// The Cal.com fixture's booking, whose attendee gave Maya's email and
/// phone, delivered over a new connection and stored.
async fn deliver_booking_fixture(stack: &TestStack) {
    let calcom = stack.connection("salon", Provider::Calcom).await;
    let reply = stack
        .post_calcom(&calcom, &fixture("calcom/booking_created.json"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
}

/// Maya, known by an email SES authenticated (DMARC pass).
async fn maya_by_verified_email() -> (TestStack, String, String) {
    let sns = fake_sns().await;
    let stack = TestStack::with_sns_endpoint(Some(sns.base.clone())).await;
    let email = stack.connection("salon", Provider::Ses).await;
    let reply = stack
        .post_sns(&email, &sns.sign(ses_email("PASS", "PASS", MAYA_EMAIL)))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    let maya = stack.only_contact("salon").await;
    let chat = stack.connection("salon", Provider::Chat).await;
    (stack, maya, chat)
}

#[tokio::test]
async fn a_chat_visitor_claiming_a_customers_email_gets_a_suggestion_not_her_contact() {
    let (stack, maya, chat) = maya_by_verified_email().await;
    let email_item = &timeline(&stack, &maya).await[0];
    assert_eq!(email_item["thread"]["sender_authentication"], "pass");

    // A visitor types Maya's email and a phone nobody holds, twice.
    for id in ["c1", "c2"] {
        let body = chat_body(
            "v_claimant",
            id,
            json!({"name": "Maya", "email": MAYA_EMAIL, "phone": "+447700900999"}),
        );
        let reply = stack.post_chat(&chat, &body).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    stack.drain().await;

    // Nothing of the visitor's reached Maya: not the phone, not the visitor
    // id, not the messages.
    assert_eq!(
        identities(&stack, &maya).await,
        [format!("email:{MAYA_EMAIL}")]
    );
    assert_eq!(timeline(&stack, &maya).await.len(), 1, "only her email");
    assert_eq!(holder(&stack, "maya.lopez%40example.com").await, maya);

    // The visitor is a contact of its own, holding what it typed that
    // nobody held, with both chat messages.
    let visitor = holder(&stack, "%2B447700900999").await;
    assert_ne!(visitor, maya);
    assert_eq!(
        identities(&stack, &visitor).await,
        ["phone:+447700900999", "visitor:v_claimant"]
    );
    let chats = timeline(&stack, &visitor).await;
    assert_eq!(chats.len(), 2, "{chats:?}");
    assert!(chats.iter().all(|c| c["channel"] == "chat"));
    assert_eq!(stack.contact_ids("salon").await.len(), 2);

    // Staff are asked instead, on both contacts.
    let on_maya = suggestions(&stack, &maya).await;
    assert_eq!(on_maya.len(), 1, "{on_maya:?}");
    assert_eq!(on_maya[0].0, visitor);
    assert!(on_maya[0].1.contains(MAYA_EMAIL), "{on_maya:?}");
    assert!(on_maya[0].1.contains("unverified"), "{on_maya:?}");
    assert_eq!(suggestions(&stack, &visitor).await[0].0, maya);
}

#[tokio::test]
async fn an_anonymous_visitor_who_gives_new_details_keeps_them() {
    let stack = TestStack::new().await;
    let chat = stack.connection("salon", Provider::Chat).await;
    for (id, details) in [
        ("c1", json!({})),
        ("c2", json!({"email": "new@example.com"})),
        // A later message adds a phone: the contact still holds no
        // verified identity besides its visitor id.
        (
            "c3",
            json!({"email": "new@example.com", "phone": "+447700900555"}),
        ),
    ] {
        let reply = stack
            .post_chat(&chat, &chat_body("v_new", id, details))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    stack.drain().await;
    let visitor = stack.only_contact("salon").await;
    assert_eq!(
        identities(&stack, &visitor).await,
        [
            "email:new@example.com",
            "phone:+447700900555",
            "visitor:v_new"
        ]
    );
    assert_eq!(timeline(&stack, &visitor).await.len(), 3);
    assert!(suggestions(&stack, &visitor).await.is_empty());
}

#[tokio::test]
async fn a_whatsapp_message_links_by_phone_and_proof_wins_over_a_claim() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let chat = stack.connection("salon", Provider::Chat).await;
    // Maya writes on WhatsApp twice: one contact, found by her phone.
    for (wamid, ts) in [("wamid.a1", 1_792_570_441), ("wamid.a2", 1_792_570_500)] {
        let body = whatsapp_text(wamid, "447700900123", ts, "hello");
        assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    }
    stack.drain().await;
    let maya = stack.only_contact("salon").await;
    assert_eq!(timeline(&stack, &maya).await.len(), 2);
    assert_eq!(
        identities(&stack, &maya).await,
        [format!("phone:{MAYA_PHONE}")]
    );

    // A visitor types a phone before its owner ever wrote from it...
    let claim = chat_body("v_early", "c1", json!({"phone": "+447700900456"}));
    assert_eq!(stack.post_chat(&chat, &claim).await.status, 200);
    stack.drain().await;
    let visitor = holder(&stack, "%2B447700900456").await;
    assert_eq!(
        identities(&stack, &visitor).await,
        ["phone:+447700900456", "visitor:v_early"]
    );
    // ...then the owner writes from it on WhatsApp: the proof wins. The
    // number and its message get a contact of their own; the visitor keeps
    // its chat, and staff are asked.
    let proof = whatsapp_text("wamid.b1", "447700900456", 1_792_570_600, "it's me");
    assert_eq!(stack.post_whatsapp(&whatsapp, &proof).await.status, 200);
    stack.drain().await;
    let owner = holder(&stack, "%2B447700900456").await;
    assert_ne!(owner, visitor);
    assert_eq!(identities(&stack, &owner).await, ["phone:+447700900456"]);
    assert_eq!(timeline(&stack, &owner).await[0]["channel"], "whatsapp");
    assert_eq!(identities(&stack, &visitor).await, ["visitor:v_early"]);
    assert_eq!(timeline(&stack, &visitor).await[0]["channel"], "chat");
    let asked = suggestions(&stack, &owner).await;
    let about_visitor = asked.iter().find(|(other, _)| *other == visitor);
    assert!(
        about_visitor.is_some_and(|(_, why)| why.contains("proven")),
        "{asked:?}"
    );
    assert_eq!(stack.contact_ids("salon").await.len(), 3);
    // Once proven, the number keeps linking WhatsApp messages to its owner.
    let again = whatsapp_text("wamid.b2", "447700900456", 1_792_570_700, "again");
    assert_eq!(stack.post_whatsapp(&whatsapp, &again).await.status, 200);
    stack.drain().await;
    assert_eq!(timeline(&stack, &owner).await.len(), 2);
}

/// Attaching an event is not linking an identity: a booking made with an
/// email lands on the timeline of the contact that holds that email, as a
/// mail from that address would (the event records the email it came by,
/// and Cal.com sent the confirmation to that address). The booking's phone
/// is only what the booker typed: it is not added to that contact, and
/// becomes a duplicate suggestion.
#[tokio::test]
async fn a_booking_lands_on_its_emails_contact_without_linking_its_phone() {
    let (stack, maya, _) = maya_by_verified_email().await;
    deliver_booking_fixture(&stack).await;

    let items = timeline(&stack, &maya).await;
    assert!(
        items.iter().any(|e| e["type"] == "booking"),
        "the booking is on Maya's timeline: {items:?}"
    );
    assert_eq!(
        identities(&stack, &maya).await,
        [format!("email:{MAYA_EMAIL}")]
    );
    let phone = holder(&stack, "%2B447700900123").await;
    assert_ne!(phone, maya);
    assert!(timeline(&stack, &phone).await.is_empty());
    let asked = suggestions(&stack, &maya).await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].0, phone);
    assert!(asked[0].1.contains("unverified"), "{asked:?}");
}

/// A booking naming only claims starts a contact that holds them all: a
/// contact known only by what was typed has nothing to protect.
#[tokio::test]
async fn a_first_booking_keeps_both_of_its_identities() {
    let stack = TestStack::new().await;
    deliver_booking_fixture(&stack).await;
    let booker = stack.only_contact("salon").await;
    assert_eq!(
        identities(&stack, &booker).await,
        [format!("email:{MAYA_EMAIL}"), format!("phone:{MAYA_PHONE}")]
    );
}

#[tokio::test]
async fn an_email_whose_sender_is_not_authenticated_is_only_a_claim() {
    let sns = fake_sns().await;
    let stack = TestStack::with_sns_endpoint(Some(sns.base.clone())).await;
    let email = stack.connection("salon", Provider::Ses).await;
    let chat = stack.connection("salon", Provider::Chat).await;
    // SPF passed for the sender's own envelope domain, not Maya's; no DMARC.
    let spoofed = ses_email("GRAY", "PASS", "bounce@attacker.example");
    assert_eq!(stack.post_sns(&email, &sns.sign(spoofed)).await.status, 200);
    stack.drain().await;
    let holder_of_email = stack.only_contact("salon").await;
    let item = &timeline(&stack, &holder_of_email).await[0];
    assert_eq!(item["thread"]["sender_authentication"], "fail");
    // A visitor who types that address gets a contact of its own: an
    // identity someone holds is never handed to another contact.
    let body = chat_body("v_1", "c1", json!({"email": MAYA_EMAIL}));
    assert_eq!(stack.post_chat(&chat, &body).await.status, 200);
    stack.drain().await;
    assert_eq!(
        stack.contact_ids("salon").await.len(),
        2,
        "the visitor's own contact"
    );
    assert_eq!(suggestions(&stack, &holder_of_email).await.len(), 1);
    // Then a mail from the address that DMARC authenticates proves it: it
    // is confirmed where it is (that contact holds nothing else).
    let proven = ses_email("PASS", "PASS", MAYA_EMAIL);
    assert_eq!(stack.post_sns(&email, &sns.sign(proven)).await.status, 200);
    stack.drain().await;
    assert_eq!(
        holder(&stack, "maya.lopez%40example.com").await,
        holder_of_email
    );
    // From now on the contact holds a verified identity: a booking's phone
    // no longer joins it (before, as a contact of claims only, it would).
    deliver_booking_fixture(&stack).await;
    assert_eq!(
        identities(&stack, &holder_of_email).await,
        [format!("email:{MAYA_EMAIL}")]
    );
    assert_ne!(holder(&stack, "%2B447700900123").await, holder_of_email);
}
