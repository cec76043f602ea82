//! What template.yaml must say for the stack to be operable and its
//! identity trustworthy in AWS, where no emulator looks: every function and
//! dead-letter queue alarmed, every log group kept for a set time, webhooks
//! throttled, one function per provider, and a Cognito pool whose users can
//! neither sign themselves up nor change their tenant or role.

use devtools::template::{Template, referenced_resource};
use serde_norway::Value;
use shared::api::{GROUPS_CLAIM, Role, TENANT_CLAIM};
use shared::model::Provider;

fn template() -> Template {
    Template::load_default().expect("template.yaml")
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn number(value: &Value, key: &str) -> Option<i64> {
    value.get(key).and_then(Value::as_i64)
}

/// The alarms of a template, as (properties, what they watch).
fn alarms(template: &Template) -> Vec<(String, Value)> {
    template
        .ids_of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|id| {
            let props = template.properties(&id).cloned().unwrap_or_default();
            (id, props)
        })
        .collect()
}

/// The resource an alarm's single dimension names.
fn watched(alarm: &Value) -> Option<(String, String)> {
    let dimension = alarm.get("Dimensions")?.as_sequence()?.first()?;
    Some((
        text(dimension, "Name")?.to_string(),
        referenced_resource(dimension.get("Value")?)?,
    ))
}

fn notifies_the_alarm_topic(alarm: &Value) -> bool {
    alarm
        .get("AlarmActions")
        .and_then(Value::as_sequence)
        .is_some_and(|a| {
            a.iter()
                .any(|t| referenced_resource(t).as_deref() == Some("AlarmTopic"))
        })
}

#[test]
fn every_function_has_errors_and_throttles_alarms_and_a_kept_log_group() {
    let template = template();
    let alarms = alarms(&template);
    let specs = template.function_specs();
    assert!(specs.len() >= 11);
    for spec in specs {
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().find(|(_, a)| {
                text(a, "Namespace") == Some("AWS/Lambda")
                    && text(a, "MetricName") == Some(metric)
                    && watched(a) == Some(("FunctionName".into(), spec.logical_id.clone()))
            });
            let (id, alarm) =
                found.unwrap_or_else(|| panic!("{} has no {metric} alarm", spec.logical_id));
            assert!(notifies_the_alarm_topic(alarm), "{id} notifies nobody");
            assert_eq!(number(alarm, "Threshold"), Some(0), "{id}");
        }
        let logging = template
            .properties(&spec.logical_id)
            .and_then(|p| p.get("LoggingConfig"))
            .and_then(|l| l.get("LogGroup"))
            .and_then(referenced_resource)
            .unwrap_or_else(|| panic!("{} logs to no group of this stack", spec.logical_id));
        assert_eq!(
            template.resource_type(&logging),
            Some("AWS::Logs::LogGroup")
        );
        let retention = template
            .properties(&logging)
            .and_then(|p| p.get("RetentionInDays"));
        assert_eq!(
            retention.and_then(referenced_resource).as_deref(),
            Some("LogRetentionDays"),
            "{logging} keeps logs forever"
        );
    }
    let global = template
        .function_global("LoggingConfig")
        .expect("global logging");
    assert_eq!(text(global, "LogFormat"), Some("JSON"));
}

#[test]
fn dead_letter_queues_and_api_server_errors_are_alarmed() {
    let template = template();
    let alarms = alarms(&template);
    let dead_letter_queues: Vec<String> = template
        .queues()
        .into_iter()
        .filter_map(|q| q.redrive.map(|(dlq, _)| dlq))
        .collect();
    assert!(!dead_letter_queues.is_empty());
    for dlq in dead_letter_queues {
        let (id, alarm) = alarms
            .iter()
            .find(|(_, a)| {
                text(a, "MetricName") == Some("ApproximateNumberOfMessagesVisible")
                    && watched(a) == Some(("QueueName".into(), dlq.clone()))
            })
            .unwrap_or_else(|| panic!("{dlq} has no alarm"));
        assert!(notifies_the_alarm_topic(alarm), "{id}");
    }
    for api in template.ids_of_type("AWS::Serverless::HttpApi") {
        let (id, alarm) = alarms
            .iter()
            .find(|(_, a)| {
                text(a, "Namespace") == Some("AWS/ApiGateway")
                    && text(a, "MetricName") == Some("5xx")
                    && watched(a) == Some(("ApiId".into(), api.clone()))
            })
            .unwrap_or_else(|| panic!("{api} 5xx has no alarm"));
        assert!(notifies_the_alarm_topic(alarm), "{id}");
    }
    assert_eq!(
        template.resource_type("AlarmTopic"),
        Some("AWS::SNS::Topic")
    );
    let subscription = template
        .properties("AlarmEmailSubscription")
        .expect("email subscription");
    assert_eq!(text(subscription, "Protocol"), Some("email"));
    assert_eq!(
        subscription
            .get("Endpoint")
            .and_then(referenced_resource)
            .as_deref(),
        Some("AlarmEmail")
    );
}

#[test]
fn webhooks_are_throttled_below_the_api() {
    let template = template();
    let api = template.properties("HttpApi").expect("HttpApi");
    let default = api
        .get("DefaultRouteSettings")
        .expect("a stage-wide throttle");
    let default_rate = number(default, "ThrottlingRateLimit").expect("rate");
    let default_burst = number(default, "ThrottlingBurstLimit").expect("burst");
    let routes = api.get("RouteSettings").expect("route throttles");
    let webhooks: Vec<_> = template
        .routes()
        .into_iter()
        .filter(|r| !r.authorized)
        .collect();
    assert!(!webhooks.is_empty());
    for route in webhooks {
        let settings = routes
            .get(route.key().as_str())
            .unwrap_or_else(|| panic!("{} is not throttled", route.key()));
        assert!(number(settings, "ThrottlingRateLimit").expect("rate") < default_rate);
        assert!(number(settings, "ThrottlingBurstLimit").expect("burst") < default_burst);
    }
}

#[test]
fn one_ingest_function_per_provider_on_its_own_path() {
    let template = template();
    let routes = template.routes();
    let specs = template.function_specs();
    for provider in Provider::ALL.iter().copied() {
        let descriptor = provider.descriptor();
        let functions: Vec<_> = specs
            .iter()
            .filter(|s| {
                s.environment
                    .iter()
                    .any(|(k, v)| k == "PROVIDER" && v.as_str() == Some(provider.as_str()))
            })
            .collect();
        assert_eq!(
            functions.len(),
            1,
            "{provider:?} needs exactly one function"
        );
        let function = functions[0];
        assert_eq!(function.binary, "ingest");
        let mut keys: Vec<String> = routes
            .iter()
            .filter(|r| r.function == function.logical_id)
            .map(|r| r.key())
            .collect();
        keys.sort();
        let path = format!("/webhooks/{}/{{connection}}", descriptor.path);
        let mut expected = vec![format!("POST {path}")];
        if descriptor.handshake.is_some() {
            expected.insert(0, format!("GET {path}"));
        }
        assert_eq!(keys, expected, "{}", function.logical_id);
    }
    // And no ingest function serves something that is not a provider.
    for spec in specs.iter().filter(|s| s.binary == "ingest") {
        let provider = spec
            .environment
            .iter()
            .find(|(k, _)| k == "PROVIDER")
            .and_then(|(_, v)| v.as_str())
            .and_then(Provider::from_name);
        assert!(provider.is_some(), "{} names no provider", spec.logical_id);
    }
}

#[test]
fn users_cannot_sign_up_or_change_their_tenant_or_role() {
    let template = template();
    let pool = template
        .properties("UserPool")
        .expect("the stack's user pool");
    assert_eq!(
        pool.get("AdminCreateUserConfig")
            .and_then(|c| c.get("AllowAdminCreateUserOnly"))
            .and_then(Value::as_bool),
        Some(true),
        "self sign-up is open"
    );
    let tenant_attribute = TENANT_CLAIM.trim_start_matches("custom:");
    let schema = pool
        .get("Schema")
        .and_then(Value::as_sequence)
        .expect("schema");
    let tenant = schema
        .iter()
        .find(|a| text(a, "Name") == Some(tenant_attribute))
        .expect("the tenant attribute");
    assert_eq!(tenant.get("Mutable").and_then(Value::as_bool), Some(false));

    let client = template.properties("UserPoolClient").expect("app client");
    let writable: Vec<&str> = client
        .get("WriteAttributes")
        .and_then(Value::as_sequence)
        .expect("explicit WriteAttributes (unset means every attribute)")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        writable
            .iter()
            .all(|a| !a.starts_with("custom:") && *a != "email"),
        "users could write {writable:?}"
    );
    assert_eq!(
        client.get("GenerateSecret").and_then(Value::as_bool),
        Some(false)
    );

    // The groups the API reads roles from exist, admin-managed.
    let groups: Vec<String> = template
        .ids_of_type("AWS::Cognito::UserPoolGroup")
        .iter()
        .filter_map(|id| text(template.properties(id)?, "GroupName").map(str::to_string))
        .collect();
    for role in [Role::Admin, Role::Agent] {
        assert!(
            groups.contains(&role.group().to_string()),
            "{GROUPS_CLAIM} group {}",
            role.group()
        );
    }

    // The authorizer trusts this pool and client unless told otherwise.
    let jwt = template
        .properties("HttpApi")
        .and_then(|p| p.get("Auth"))
        .and_then(|a| a.get("Authorizers"))
        .and_then(|a| a.get("JwtAuthorizer"))
        .and_then(|a| a.get("JwtConfiguration"))
        .expect("JWT authorizer");
    let rendered = format!("{jwt:?}");
    for needed in [
        "OwnUserPool",
        "UserPool",
        "UserPoolClient",
        "JwtIssuer",
        "JwtAudience",
    ] {
        assert!(
            rendered.contains(needed),
            "authorizer does not use {needed}: {rendered}"
        );
    }
}
