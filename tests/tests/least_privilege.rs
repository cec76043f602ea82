//! IAM as AWS would apply it, which no emulator does: every AWS call a
//! function's handler made, against that function's policy in template.yaml.
//!
//! The whole-suite check reads the call log every test process wrote
//! (`CALL_LOG_DIR`); `infra/test.sh` runs it after the suite. The recorder
//! itself is checked in every run.

use devtools::calls::{CALL_LOG_DIR, Call, CallLog};
use devtools::iam;
use devtools::template::Template;
use integration_tests::{TestStack, fixture};

#[test]
#[ignore = "needs the call log of a whole run: infra/test.sh runs it after the suite"]
fn every_call_is_allowed_and_every_grant_is_used() {
    let dir = std::env::var_os(CALL_LOG_DIR).expect("CALL_LOG_DIR names the run's call log");
    let calls = CallLog::read_dir(std::path::Path::new(&dir)).expect("call log");
    let template = Template::load_default().expect("template.yaml");
    let grants = iam::grants(&template).expect("policies the check can read");
    let functions: std::collections::BTreeSet<&str> =
        calls.iter().map(|c| c.function.as_str()).collect();
    for spec in template.function_specs() {
        assert!(
            functions.contains(spec.logical_id.as_str()),
            "no test ran {}",
            spec.logical_id
        );
    }
    let report = iam::check(&grants, &calls);
    assert!(
        report.is_clean(),
        "template.yaml's policies do not match what the functions do:\n{report}"
    );
    println!(
        "{} distinct calls by {} functions, all allowed; {} grants, all used",
        calls.len(),
        functions.len(),
        grants.len()
    );
}

#[tokio::test]
async fn calls_are_recorded_under_the_function_that_made_them() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let reply = stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    assert_eq!(reply.status, 200);
    stack.drain().await;
    stack.only_contact("salon").await;

    let table = iam::table_arn("Table");
    let calls = CallLog::global().calls();
    let made = |function: &str, action: &str, resource: &str| {
        calls.contains(&Call {
            function: function.into(),
            action: action.into(),
            resource: resource.into(),
        })
    };
    assert!(
        made("IngestWhatsappFunction", "dynamodb:GetItem", &table),
        "{calls:#?}"
    );
    assert!(made(
        "IngestWhatsappFunction",
        "sqs:SendMessage",
        &iam::queue_arn("IngestQueue")
    ));
    // The message's transaction, item by item.
    assert!(
        made("NormalizeFunction", "dynamodb:PutItem", &table),
        "{calls:#?}"
    );
    assert!(
        made(
            "ApiFunction",
            "dynamodb:Query",
            &format!("{table}/index/gsi1")
        ),
        "{calls:#?}"
    );
    assert!(made(
        "ApiFunction",
        "secretsmanager:GetSecretValue",
        &iam::secret_arn("CursorKey")
    ));
    // The harness's own set-up (the connection) is no function's call.
    assert!(
        !calls
            .iter()
            .any(|c| c.action == "dynamodb:PutItem" && c.function.starts_with("Ingest"))
    );
}
