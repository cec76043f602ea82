//! Presigned downloads against an S3 that checks them as AWS does
//! (ministack: SigV4 signature and expiry; moto accepts anything): a URL
//! from `GET /exports/{id}` downloads the file as an attachment, and a
//! tampered, re-pointed, expired or wrongly signed one is refused.

use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::config::Credentials;
use chrono::Utc;
use integration_tests::{TestStack, whatsapp_text};
use serde_json::{Value, json};
use shared::export::presign;

/// status, headers (lowercase names), body: fetched with curl, a client
/// that knows nothing of AWS.
fn fetch(url: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "-", "--max-time", "10", url])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

async fn finished_export(stack: &TestStack) -> Value {
    let whatsapp = stack.whatsapp_connection("salon").await;
    let body = whatsapp_text("wamid.1", "447700900123", 1_792_576_800, "Hi, balayage?");
    assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let job = stack
        .export_conversation("salon", &contact, json!({"format": "csv"}))
        .await;
    assert_eq!(job["status"], "done", "{job}");
    job
}

#[tokio::test]
async fn a_presigned_url_downloads_the_file_as_an_attachment() {
    let stack = TestStack::with_signature_checking_s3().await;
    let job = finished_export(&stack).await;
    let url = job["download"]["url"].as_str().unwrap();
    let (status, headers, body) = fetch(url);
    assert_eq!(status, 200, "{headers}{body}");
    let name = job["download"]["file_name"].as_str().unwrap();
    assert!(
        headers.contains(
            &format!("content-disposition: attachment; filename=\"{name}\"").to_ascii_lowercase()
        ),
        "{headers}"
    );
    assert!(body.starts_with("\"event_id\",\"contact_id\""), "{body}");
    assert!(body.contains("Hi, balayage?"));
    let expires = job["download"]["expires_at"].as_str().unwrap();
    let left = chrono::DateTime::parse_from_rfc3339(expires)
        .unwrap()
        .with_timezone(&Utc)
        - Utc::now();
    assert!(
        left <= chrono::Duration::hours(1) && left > chrono::Duration::minutes(55),
        "{left}"
    );
}

#[tokio::test]
async fn a_tampered_or_repointed_url_is_refused() {
    let stack = TestStack::with_signature_checking_s3().await;
    let job = finished_export(&stack).await;
    let url = job["download"]["url"].as_str().unwrap().to_string();
    assert_eq!(fetch(&url).0, 200);

    let (head, signature) = url.rsplit_once("X-Amz-Signature=").unwrap();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    let tampered = format!("{head}X-Amz-Signature={flipped}{}", &signature[1..]);
    assert_eq!(fetch(&tampered).0, 403, "a changed signature");

    let other_key = url.replacen(".csv?", ".pdf?", 1);
    assert_ne!(other_key, url);
    assert_eq!(fetch(&other_key).0, 403, "the signature of another object");

    let longer = url.replacen("X-Amz-Expires=3600", "X-Amz-Expires=604800", 1);
    assert_ne!(longer, url);
    assert_eq!(fetch(&longer).0, 403, "a longer life than was signed");

    let inline = url.replacen("attachment", "inline", 1);
    assert_eq!(fetch(&inline).0, 403, "another disposition than was signed");
}

#[tokio::test]
async fn an_expired_or_wrongly_signed_url_is_refused_and_urls_live_an_hour_at_most() {
    let stack = TestStack::with_signature_checking_s3().await;
    let job = finished_export(&stack).await;
    let bucket = stack.local.bucket("BlobBucket").unwrap();
    let key = format!("exports/salon/{}.csv", job["export_id"].as_str().unwrap());
    let sign = |s3: aws_sdk_s3::Client, now, ttl| {
        let (bucket, key) = (bucket.to_string(), key.clone());
        async move {
            presign::download_url(&s3, &bucket, &key, "x.csv", "text/csv", now, ttl)
                .await
                .unwrap()
                .0
        }
    };
    let s3 = stack.clients.s3.clone();
    let fresh = sign(s3.clone(), Utc::now(), Duration::from_secs(60)).await;
    assert_eq!(fetch(&fresh).0, 200);

    let two_hours_ago = Utc::now() - chrono::Duration::hours(2);
    let expired = sign(s3.clone(), two_hours_ago, Duration::from_secs(3600)).await;
    let (status, _, body) = fetch(&expired);
    assert_eq!(status, 403, "{body}");
    assert!(body.to_ascii_lowercase().contains("expired"), "{body}");

    let week = sign(s3.clone(), Utc::now(), Duration::from_secs(7 * 86_400)).await;
    assert!(
        week.contains("X-Amz-Expires=3600"),
        "capped at an hour: {week}"
    );

    let wrong_secret = aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .credentials_provider(Credentials::new("test", "not-the-secret", None, None, "t"))
            .build(),
    );
    let forged = sign(wrong_secret, Utc::now(), Duration::from_secs(60)).await;
    assert_eq!(fetch(&forged).0, 403, "signed with another secret");
}

#[tokio::test]
async fn every_get_signs_a_new_url_and_the_audit_log_has_each() {
    let stack = TestStack::with_signature_checking_s3().await;
    let job = finished_export(&stack).await;
    let id = job["export_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let admin = stack.token("salon", "admin");
    let again = stack.get(&format!("/exports/{id}"), &admin).await.json();
    let (first, second) = (
        job["download"]["url"].as_str().unwrap(),
        again["download"]["url"].as_str().unwrap(),
    );
    assert_ne!(first, second, "signed anew");
    assert_eq!(fetch(second).0, 200);
    let audit = stack.get("/audit", &admin).await.json();
    let issued = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"] == "export_url_issued" && e["detail"].as_str().unwrap().contains(id)
        })
        .count();
    assert_eq!(issued, 2);
    let text = audit.to_string();
    assert!(!text.contains("X-Amz-Signature"), "no URL in the log");
    assert!(!text.contains("balayage"), "no content in the log");
}
