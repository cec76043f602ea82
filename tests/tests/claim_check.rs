//! Every channel's ingest function hands a delivery too large for an SQS
//! message to normalize through S3 (claim check), and it is still stored.
//! Each channel is its own Lambda function with its own role, so each is
//! exercised: the least-privilege check then knows every one of them uses
//! its `s3:PutObject` grant. Chat is the exception: its bodies are capped
//! below an SQS message (`chat_limits.rs`), so it has no such grant.

use integration_tests::fake_sns::{fake_sns, notification, now};
use integration_tests::{TestStack, fixture, whatsapp_text};
use serde_json::{Value, json};
use shared::model::Provider;

/// SQS takes 256 KiB; bodies this large never fit inline.
const OVERSIZED: usize = 300 * 1024;

fn padding() -> String {
    "x".repeat(OVERSIZED)
}

/// A JSON fixture with a field the provider's adapter does not read, as
/// providers add fields (and attachments) without notice.
fn padded_json(path: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&fixture(path)).unwrap();
    body["x_padding"] = json!(padding());
    serde_json::to_vec(&body).unwrap()
}

/// A form fixture with one more parameter (Twilio signs every parameter).
fn padded_form(path: &str) -> Vec<u8> {
    let mut body = fixture(path);
    body.extend_from_slice(format!("&XPadding={}", padding()).as_bytes());
    body
}

#[tokio::test]
async fn every_channel_claim_checks_an_oversized_delivery() {
    let sns = fake_sns().await;
    let stack = TestStack::with_sns_endpoint(Some(sns.base.clone())).await;
    for provider in Provider::ALL.iter().copied() {
        let tenant = format!("big-{}", provider.descriptor().path);
        let connection = stack.connection(&tenant, provider).await;
        let reply = match provider {
            Provider::Whatsapp => {
                let long = "balayage ".repeat(OVERSIZED / 9);
                let body = whatsapp_text("wamid.big", "447700900123", 1_792_570_441, &long);
                stack.post_whatsapp(&connection, &body).await
            }
            Provider::Instagram => {
                stack
                    .post_instagram(&connection, &padded_json("instagram/message.json"))
                    .await
            }
            Provider::TwilioSms => {
                stack
                    .post_sms(&connection, "", &padded_form("twilio_sms/inbound.form"))
                    .await
            }
            Provider::TwilioVoice => {
                stack
                    .post_voice(&connection, &padded_form("twilio_voice/completed.form"))
                    .await
            }
            Provider::Ses => {
                let mut message = notification(&now());
                message["XPadding"] = json!(padding());
                stack.post_sns(&connection, &sns.sign(message)).await
            }
            Provider::Postmark => {
                stack
                    .post_postmark(
                        &connection,
                        integration_tests::APP_SECRET,
                        &padded_json("postmark/inbound.json"),
                    )
                    .await
            }
            Provider::Chat => continue,
            Provider::Stripe => {
                stack
                    .post_stripe(
                        &connection,
                        &padded_json("stripe/payment_intent_succeeded.json"),
                        chrono::Utc::now().timestamp(),
                    )
                    .await
            }
            Provider::Calcom => {
                stack
                    .post_calcom(&connection, &padded_json("calcom/booking_created.json"))
                    .await
            }
        };
        assert_eq!(reply.status, 200, "{provider:?}: {reply:?}");
        assert_eq!(
            stack.blob_count(&format!("deliveries/{tenant}/")).await,
            1,
            "{provider:?} body in S3"
        );
    }

    stack.drain().await;
    assert_eq!(stack.queue_depth("IngestQueue").await, 0);
    assert_eq!(
        stack.queue_depth("IngestDeadLetterQueue").await,
        0,
        "all normalized"
    );
    for provider in Provider::ALL.iter().filter(|p| **p != Provider::Chat) {
        let tenant = format!("big-{}", provider.descriptor().path);
        let contact = stack.only_contact(&tenant).await;
        let timeline = stack.timeline(&tenant, &contact, "").await;
        assert!(
            !timeline["items"].as_array().unwrap().is_empty(),
            "{provider:?} stored nothing"
        );
    }
}
