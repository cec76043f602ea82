//! Exports through the API, the export queue and the worker, against
//! DynamoDB Local and moto: conversation CSV and TXT, bulk CSV with
//! filters, the analytics CSV, formula injection, notes only on request,
//! admins only, tenant isolation, and a worker cut off mid-upload that
//! resumes into exactly one complete file.

use std::sync::Arc;

use integration_tests::faults::{Fault, Faults, When};
use integration_tests::{Reply, TestStack, whatsapp_echo, whatsapp_text};
use serde_json::{Value, json};
use shared::export::worker::{self, JobMessage, Outcome};
use shared::export::{ExportDeps, ExportLimits};
use shared::model::Provider;

const MAYA: &str = "447700900123";
const LEO: &str = "447700900456";
/// 2026-10-21T10:00:00Z
const T0: i64 = 1_792_576_800;

async fn admin_post(stack: &TestStack, tenant: &str, path: &str, body: Value) -> Reply {
    stack
        .post_json(path, &stack.token(tenant, "admin"), body)
        .await
}

/// Exports the contact's conversation with `body` (see [`export`]).
async fn export_conversation(stack: &TestStack, contact: &str, body: Value) -> Value {
    export(stack, &format!("/contacts/{contact}/exports"), body).await
}

/// The job as `GET /exports/{id}` shows an admin of the salon.
async fn shown_job(stack: &TestStack, id: &str) -> Value {
    let reply = stack
        .get(&format!("/exports/{id}"), &stack.token("salon", "admin"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// Requests an export, runs the worker, and returns the finished job.
async fn export(stack: &TestStack, path: &str, body: Value) -> Value {
    let reply = admin_post(stack, "salon", path, body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let job = reply.json();
    assert_eq!(job["status"], "queued");
    let id = job["export_id"].as_str().unwrap().to_string();
    assert_eq!(reply.header("location"), format!("/exports/{id}"));
    assert_eq!(stack.drain_exports().await, 1);
    shown_job(stack, &id).await
}

async fn file(stack: &TestStack, tenant: &str, job: &Value) -> String {
    assert_eq!(job["status"], "done", "{job}");
    let ext = job["format"].as_str().unwrap();
    let key = format!(
        "exports/{tenant}/{}.{ext}",
        job["export_id"].as_str().unwrap()
    );
    let object = stack
        .clients
        .s3
        .get_object()
        .bucket(stack.local.bucket("BlobBucket").unwrap())
        .key(&key)
        .send()
        .await
        .expect("export object");
    let bytes = object.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// Maya on WhatsApp: three messages in, one reply out (read), a formula as
/// text; Leo on SMS; a note on Maya. The business is in London (BST, +01:00).
async fn salon(stack: &TestStack) -> (String, String) {
    let auth = stack.token("salon", "admin");
    let settings = stack
        .request(
            "PUT",
            "/settings",
            &[("authorization", &format!("Bearer {auth}"))],
            json!({"timezone": "Europe/London", "business_name": "Salon Élan"})
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(settings.status, 200, "{settings:?}");
    let whatsapp = stack.whatsapp_connection("salon").await;
    let sms = stack.connection("salon", Provider::TwilioSms).await;
    let texts = [
        "Hi, do you do balayage?",
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "Саша: «да» 😊",
    ];
    for (i, text) in texts.iter().enumerate() {
        let body = whatsapp_text(&format!("wamid.in{i}"), MAYA, T0 + i as i64 * 60, text);
        assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    }
    let echo = whatsapp_echo("wamid.out0", MAYA, T0 + 300, "Yes! Saturday 3pm?");
    assert_eq!(stack.post_whatsapp(&whatsapp, &echo).await.status, 200);
    let sms_body = format!(
        "MessageSid=SM1&From=%2B{LEO}&To=%2B447700900200&Body=-1+for+the+price%3F&NumMedia=0"
    );
    assert_eq!(
        stack.post_sms(&sms, "", sms_body.as_bytes()).await.status,
        200
    );
    stack.drain().await;
    let maya = stack.contact_with_phone("salon", &format!("+{MAYA}")).await;
    let leo = stack.contact_with_phone("salon", &format!("+{LEO}")).await;
    let note = admin_post(
        stack,
        "salon",
        &format!("/contacts/{maya}/notes"),
        json!({"body": "VIP, allergic to ammonia"}),
    )
    .await;
    assert_eq!(note.status, 201);
    (maya, leo)
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv_reader(text);
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn csv_reader(text: &str) -> ::csv::Reader<&[u8]> {
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = rows[0].iter().position(|c| c == name).unwrap();
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

#[tokio::test]
async fn a_conversation_exports_as_csv_with_local_times_and_neutralized_formulas() {
    let stack = TestStack::new().await;
    let (maya, _) = salon(&stack).await;
    let job = export_conversation(&stack, &maya, json!({"format": "csv"})).await;
    let download = &job["download"];
    let url = download["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    assert!(
        url.contains("response-content-disposition=attachment"),
        "{url}"
    );
    assert_eq!(download["file_name"], format!("conversation-{maya}.csv"));
    assert_eq!(job["rows"], 4);

    let text = file(&stack, "salon", &job).await;
    assert!(text.ends_with("\r\n"), "RFC 4180 line ends");
    let rows = csv_rows(&text);
    assert_eq!(rows[0], shared::export::csv::EVENT_COLUMNS);
    assert_eq!(rows.len(), 5, "a header and four messages, no note");
    assert_eq!(
        column(&rows, "occurred_at_local")[0],
        "2026-10-21 11:00:00 +01:00"
    );
    assert_eq!(
        column(&rows, "occurred_at_utc")[0],
        "2026-10-21T10:00:00.000Z"
    );
    let texts = column(&rows, "text");
    assert_eq!(texts[1], "'=HYPERLINK(\"http://evil.example\",\"click\")");
    assert_eq!(texts[2], "Саша: «да» 😊");
    assert_eq!(column(&rows, "author")[3], "Staff");
    assert_eq!(column(&rows, "direction")[3], "outbound");
    assert!(!text.contains("ammonia"), "internal notes only on request");

    let with_notes = export_conversation(
        &stack,
        &maya,
        json!({"format": "csv", "include_notes": true, "bom": true}),
    )
    .await;
    let text = file(&stack, "salon", &with_notes).await;
    assert!(text.starts_with('\u{feff}'), "BOM on request");
    assert!(text.contains("VIP, allergic to ammonia"));
}

#[tokio::test]
async fn a_conversation_exports_as_text() {
    let stack = TestStack::new().await;
    let (maya, _) = salon(&stack).await;
    let job = export_conversation(
        &stack,
        &maya,
        json!({"format": "txt", "channels": ["whatsapp"], "from": "2026-10-21T10:00:30Z"}),
    )
    .await;
    let text = file(&stack, "salon", &job).await;
    assert!(
        text.starts_with("Conversation with Test Customer"),
        "{text}"
    );
    assert!(text.contains("Period: from 2026-10-21"));
    assert!(text.contains("Times: Europe/London"));
    assert!(!text.contains("balayage"), "before the period");
    assert!(
        text.contains("[2026-10-21 11:01:00 +01:00] WhatsApp · inbound · Customer\n=HYPERLINK")
    );
    assert!(text.contains("WhatsApp · outbound · Staff · sent\nYes! Saturday 3pm?"));
    assert_eq!(job["rows"], 3);
}

#[tokio::test]
async fn only_admins_export_and_only_their_own_tenant_sees_a_job() {
    let stack = TestStack::new().await;
    let (maya, _) = salon(&stack).await;
    let agent = stack.token("salon", "agent");
    for (path, body) in [
        (
            format!("/contacts/{maya}/exports"),
            json!({"format": "pdf"}),
        ),
        (
            "/exports".to_string(),
            json!({"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T00:00:00Z"}),
        ),
    ] {
        stack
            .post_json(&path, &agent, body)
            .await
            .assert_problem(403);
    }
    assert_eq!(stack.queue_depth("ExportQueue").await, 0, "nothing queued");

    let reply = admin_post(
        &stack,
        "salon",
        &format!("/contacts/{maya}/exports"),
        json!({"format": "csv"}),
    )
    .await;
    let id = reply.json()["export_id"].as_str().unwrap().to_string();
    stack
        .get(&format!("/exports/{id}"), &agent)
        .await
        .assert_problem(403);
    stack
        .get(&format!("/exports/{id}"), &stack.token("other", "admin"))
        .await
        .assert_problem(404);
    let audit = stack
        .get("/audit", &stack.token("salon", "admin"))
        .await
        .json();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"export_requested"), "{audit}");
}

#[tokio::test]
async fn bad_requests_name_the_field_and_queue_nothing() {
    let stack = TestStack::new().await;
    let (maya, _) = salon(&stack).await;
    let cases = [
        (
            format!("/contacts/{maya}/exports"),
            json!({"format": "docx"}),
            400,
        ),
        (format!("/contacts/{maya}/exports"), json!({}), 400),
        (
            format!("/contacts/{maya}/exports"),
            json!({"format": "csv", "from": "2026-10-22T00:00:00Z", "to": "2026-10-21T00:00:00Z"}),
            400,
        ),
        (
            "/contacts/01JAAAAAAAAAAAAAAAAAAAAAAA/exports".to_string(),
            json!({"format": "csv"}),
            404,
        ),
        (
            "/exports".to_string(),
            json!({"from": "2026-10-01T00:00:00Z"}),
            400,
        ),
        (
            "/exports".to_string(),
            json!({"from": "2024-01-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"}),
            400,
        ),
        (
            "/exports".to_string(),
            json!({"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T00:00:00Z", "stage": "vip"}),
            400,
        ),
    ];
    for (path, body, status) in cases {
        admin_post(&stack, "salon", &path, body)
            .await
            .assert_problem(status);
    }
    assert_eq!(stack.queue_depth("ExportQueue").await, 0);
}

#[tokio::test]
async fn bulk_exports_filter_by_channel_type_and_stage_across_contacts() {
    let stack = TestStack::new().await;
    let (maya, leo) = salon(&stack).await;
    let range = json!({"from": "2026-10-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"});
    let with = |extra: Value| {
        let mut body = range.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    let all = export(&stack, "/exports", range.clone()).await;
    let rows = csv_rows(&file(&stack, "salon", &all).await);
    let contacts = column(&rows, "contact_id");
    assert_eq!(
        rows.len() - 1,
        5,
        "four WhatsApp messages and one SMS, no note"
    );
    assert!(contacts.contains(&maya) && contacts.contains(&leo));
    let times = column(&rows, "occurred_at_utc");
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "in time order across the day's shards");
    assert_eq!(column(&rows, "text").last().unwrap(), "'-1 for the price?");

    let sms = export(&stack, "/exports", with(json!({"channels": ["sms"]}))).await;
    let rows = csv_rows(&file(&stack, "salon", &sms).await);
    assert_eq!(column(&rows, "contact_id"), std::slice::from_ref(&leo));

    let notes = export(
        &stack,
        "/exports",
        with(json!({"event_types": ["note"], "include_notes": true})),
    )
    .await;
    let rows = csv_rows(&file(&stack, "salon", &notes).await);
    assert_eq!(column(&rows, "type"), ["note"]);

    let staged = stack
        .request(
            "PUT",
            &format!("/contacts/{leo}/stage"),
            &[(
                "authorization",
                &format!("Bearer {}", stack.token("salon", "admin")),
            )],
            json!({"stage": "qualified"}).to_string().as_bytes(),
        )
        .await;
    assert_eq!(staged.status, 200, "{staged:?}");
    let qualified = export(&stack, "/exports", with(json!({"stage": "qualified"}))).await;
    let rows = csv_rows(&file(&stack, "salon", &qualified).await);
    let types = column(&rows, "type");
    assert!(types.contains(&"message".to_string()) && types.contains(&"stage_change".to_string()));
    assert!(column(&rows, "contact_id").iter().all(|c| c == &leo));
    assert!(column(&rows, "stage").iter().all(|s| s == "qualified"));

    let analytics = export(&stack, "/exports", with(json!({"dataset": "contacts"}))).await;
    let rows = csv_rows(&file(&stack, "salon", &analytics).await);
    assert_eq!(rows[0][0], "contact_id");
    assert_eq!(rows.len() - 1, 2, "one row per contact");
    let maya_row = rows.iter().find(|r| r[0] == maya).unwrap();
    let i = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    assert_eq!(maya_row[i("messages_total")], "4");
    assert_eq!(maya_row[i("first_touch_channel")], "WhatsApp");
    assert_eq!(
        maya_row[i("first_touch_at_local")],
        "2026-10-21 11:00:00 +01:00"
    );
}

/// A job of `rows` WhatsApp messages of 60 KB from Maya: about 7 MB of CSV.
async fn big_conversation(stack: &TestStack, messages: usize) -> String {
    let whatsapp = stack.whatsapp_connection("salon").await;
    for i in 0..messages {
        let text = format!("{i:04} {}", "lorem ipsum ".repeat(5_000));
        let body = whatsapp_text(&format!("wamid.big{i}"), MAYA, T0 + i as i64, &text);
        assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    }
    stack.drain().await;
    stack.only_contact("salon").await
}

/// The export function's dependencies as `main` builds them (its calls
/// recorded for the IAM check), sending through `faults`, with 5 MiB parts.
fn worker_deps(stack: &TestStack, faults: &Faults) -> ExportDeps {
    let aws = stack.clients.for_function_via(
        "ExportFunction",
        Arc::new(stack.local.resource_map()),
        Some(faults.http_client()),
    );
    ExportDeps {
        store: shared::store::Store::new(aws.dynamodb.clone(), stack.store().table_name()),
        s3: aws.s3,
        sqs: aws.sqs,
        bucket: stack.local.bucket("BlobBucket").unwrap().to_string(),
        queue_url: stack.local.queue("ExportQueue").unwrap().url.clone(),
        pdf: None,
        limits: ExportLimits {
            // The smallest part S3 (and moto) takes.
            part_bytes: 5 << 20,
            ..ExportLimits::default()
        },
    }
}

async fn uploads_in_progress(stack: &TestStack) -> usize {
    stack
        .clients
        .s3
        .list_multipart_uploads()
        .bucket(stack.local.bucket("BlobBucket").unwrap())
        .send()
        .await
        .unwrap()
        .uploads
        .unwrap_or_default()
        .len()
}

#[tokio::test]
async fn a_worker_cut_off_mid_upload_resumes_into_exactly_one_complete_file() {
    let stack = TestStack::new().await;
    let maya = big_conversation(&stack, 120).await;
    let request = |bom| json!({"format": "csv", "bom": bom});
    let deadline = || tokio::time::Instant::now() + std::time::Duration::from_secs(600);

    // The reference: the same export, uninterrupted.
    let whole = export_conversation(&stack, &maya, request(false)).await;
    let expected = file(&stack, "salon", &whole).await;
    assert!(
        expected.len() > 6 << 20,
        "more than one part: {}",
        expected.len()
    );

    let reply = admin_post(
        &stack,
        "salon",
        &format!("/contacts/{maya}/exports"),
        request(false),
    )
    .await;
    let id = reply.json()["export_id"].as_str().unwrap().to_string();
    let message = JobMessage {
        tenant: "salon".into(),
        export_id: id.clone(),
    };
    // The first part goes up; the second never arrives.
    let faults = Faults::new();
    faults.fail_after(When::PathContains("partNumber=2".into()), 0);
    let cut_off = worker_deps(&stack, &faults);
    let first = worker::run(&cut_off, &message, deadline(), 1).await;
    assert!(first.is_err(), "{first:?}");
    let job = stack
        .store()
        .export_job("salon", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.progress.etags.len(), 1, "the first part was recorded");
    assert_eq!(
        stack.blob_count(&format!("exports/salon/{id}")).await,
        0,
        "no file yet"
    );

    // The redelivery resumes after the first part: it never sends it again.
    let watch = Faults::new();
    watch.always(
        When::PathContains("partNumber=1&".into()),
        Fault::Delay(std::time::Duration::ZERO),
    );
    let resumed = worker_deps(&stack, &watch);
    let second = worker::run(&resumed, &message, deadline(), 2)
        .await
        .unwrap();
    assert_eq!(second, Outcome::Done);
    assert_eq!(watch.matched(), 0, "part 1 was sent again");
    let done = shown_job(&stack, &id).await;
    assert_eq!(file(&stack, "salon", &done).await, expected);
    assert_eq!(uploads_in_progress(&stack).await, 0);

    // Once more (a duplicate message): nothing starts, nothing changes.
    let again = worker::run(&resumed, &message, deadline(), 1)
        .await
        .unwrap();
    assert_eq!(again, Outcome::Gone);
    assert_eq!(uploads_in_progress(&stack).await, 0);
    assert_eq!(file(&stack, "salon", &done).await, expected);
}

#[tokio::test]
async fn a_duplicate_message_does_not_start_a_second_upload_while_the_first_runs() {
    let stack = TestStack::new().await;
    let maya = big_conversation(&stack, 100).await;
    let reply = admin_post(
        &stack,
        "salon",
        &format!("/contacts/{maya}/exports"),
        json!({"format": "csv"}),
    )
    .await;
    let id = reply.json()["export_id"].as_str().unwrap().to_string();
    let message = JobMessage {
        tenant: "salon".into(),
        export_id: id.clone(),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
    // The first worker stops at its first part, holding the job.
    let faults = Faults::new();
    let gate = faults.hold_once(When::PathContains("partNumber=1".into()));
    let first_deps = Arc::new(worker_deps(&stack, &faults));
    let first = {
        let deps = first_deps.clone();
        let message = message.clone();
        tokio::spawn(async move { worker::run(&deps, &message, deadline, 1).await })
    };
    gate.reached().await;
    let second = worker::run(&worker_deps(&stack, &Faults::new()), &message, deadline, 1)
        .await
        .unwrap();
    assert_eq!(second, Outcome::Busy);
    assert_eq!(uploads_in_progress(&stack).await, 1, "one upload only");
    gate.open();
    assert_eq!(first.await.unwrap().unwrap(), Outcome::Done);
    assert_eq!(uploads_in_progress(&stack).await, 0);
    assert_eq!(stack.blob_count(&format!("exports/salon/{id}")).await, 1);
}

#[tokio::test]
async fn a_job_that_cannot_succeed_fails_with_a_reason_and_leaves_no_upload() {
    let stack = TestStack::new().await;
    let (maya, _) = salon(&stack).await;
    // No PDF renderer in this stack.
    let job = export_conversation(&stack, &maya, json!({"format": "pdf"})).await;
    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap().contains("PDF"), "{job}");
    assert!(job.get("download").is_none());
    assert_eq!(uploads_in_progress(&stack).await, 0);
}

async fn queued_job(stack: &TestStack, maya: &str) -> JobMessage {
    let reply = admin_post(
        stack,
        "salon",
        &format!("/contacts/{maya}/exports"),
        json!({"format": "csv"}),
    )
    .await;
    // The API's message is taken off the queue: each test runs the worker itself.
    let queue = stack.local.queue("ExportQueue").unwrap();
    stack
        .clients
        .sqs
        .purge_queue()
        .queue_url(&queue.url)
        .send()
        .await
        .unwrap();
    JobMessage {
        tenant: "salon".into(),
        export_id: reply.json()["export_id"].as_str().unwrap().to_string(),
    }
}

#[tokio::test]
async fn a_job_near_its_deadline_saves_and_continues_in_a_new_message() {
    let stack = TestStack::new().await;
    let maya = big_conversation(&stack, 120).await;
    let message = queued_job(&stack, &maya).await;
    let mut deps = worker_deps(&stack, &Faults::new());
    // Less time left after the first part than the margin asks for.
    deps.limits.margin = std::time::Duration::from_secs(3600);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
    let outcome = worker::run(&deps, &message, deadline, 1).await.unwrap();
    assert_eq!(outcome, Outcome::Continued);
    let job = stack
        .store()
        .export_job("salon", &message.export_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.progress.etags.len(), 1);
    assert_eq!(job.status, shared::export::ExportStatus::Running);
    assert_eq!(
        stack.queue_depth("ExportQueue").await,
        1,
        "the continuation"
    );

    // The continuation (the deployed worker, 8 MiB parts) finishes the file.
    assert_eq!(stack.drain_exports().await, 1);
    let done = shown_job(&stack, &message.export_id).await;
    let text = file(&stack, "salon", &done).await;
    let rows = csv_rows(&text);
    assert_eq!(rows.len(), 121, "a header and every message once");
    let texts = column(&rows, "text");
    for (i, text) in texts.iter().enumerate() {
        assert!(
            text.starts_with(&format!("{i:04} ")),
            "row {i} out of place"
        );
    }
    assert_eq!(done["rows"], 120);
}

#[tokio::test]
async fn a_job_failing_on_its_last_delivery_is_marked_failed_and_its_upload_aborted() {
    let stack = TestStack::new().await;
    let maya = big_conversation(&stack, 120).await;
    let message = queued_job(&stack, &maya).await;
    let faults = Faults::new();
    faults.fail_after(When::PathContains("partNumber=2".into()), 0);
    let deps = worker_deps(&stack, &faults);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
    let last = deps.limits.max_receives;
    assert!(
        worker::run(&deps, &message, deadline, last - 1)
            .await
            .is_err(),
        "retried"
    );
    assert_eq!(uploads_in_progress(&stack).await, 1, "kept for the retry");
    let outcome = worker::run(&deps, &message, deadline, last).await.unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(uploads_in_progress(&stack).await, 0, "aborted");
    let job = shown_job(&stack, &message.export_id).await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["error"].as_str().unwrap().contains("request it again"),
        "{job}"
    );
    assert!(job.get("download").is_none());
    assert_eq!(
        stack
            .blob_count(&format!("exports/salon/{}", message.export_id))
            .await,
        0
    );
}
