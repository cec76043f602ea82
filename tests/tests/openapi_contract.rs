//! The OpenAPI document (`docs/openapi.yaml`) against the real thing: every
//! HttpApi route of template.yaml is documented (and nothing else is), and
//! real responses validate against the schema the document gives for their
//! path, method, status and content type.

use std::collections::BTreeSet;
use std::pin::Pin;

use devtools::template::Template;
use integration_tests::{Reply, TestStack, fixture};
use serde_json::{Value, json};
use shared::model::Provider;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

struct Contract {
    doc: Value,
    /// (METHOD, path template) of every operation checked against a response.
    exercised: BTreeSet<(String, String)>,
}

impl Contract {
    fn load() -> Self {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "not an OpenAPI 3.1 document"
        );
        Self {
            doc,
            exercised: BTreeSet::new(),
        }
    }

    /// Every (METHOD, path) the document describes.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if item.get(*method).is_some() {
                    ops.insert((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        ops
    }

    /// Follows a local `$ref` (`#/components/...`) if `value` is one.
    fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("local $ref");
                self.doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}"))
            }
            None => value,
        }
    }

    /// A validator for `schema`, whose `$ref`s resolve inside the document:
    /// the root carries the document's `components`, so
    /// `#/components/schemas/X` means the same as in the document.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
    }

    /// Why `instance` does not match `schema`, if it does not.
    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn named_schema(&self, name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The values the enum schema `name` lists.
    fn enum_values(&self, name: &str) -> Vec<String> {
        self.doc["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no enum"))
            .iter()
            .map(|v| v.as_str().expect("a name").to_string())
            .collect()
    }

    /// The response `reply` got for `method path` (a path template) is one
    /// the document describes, with a body matching its schema.
    fn check(&mut self, method: &str, path: &str, reply: &Reply) {
        let what = format!("{method} {path} -> {}", reply.status);
        let operation = self.doc["paths"][path]
            .get(method.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{method} {path} is not documented"));
        let response = operation["responses"]
            .get(reply.status.to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{what}: status not documented; body {}",
                    String::from_utf8_lossy(&reply.body)
                )
            });
        let response = self.deref(response).clone();
        self.exercised
            .insert((method.to_ascii_uppercase(), path.to_string()));
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            assert!(
                reply.body.is_empty(),
                "{what}: documented without content, answered {:?}",
                reply.body
            );
            return;
        };
        let media_type = reply
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        let media = content.get(media_type).unwrap_or_else(|| {
            panic!(
                "{what}: content type {media_type:?} not documented (has {:?})",
                content.keys().collect::<Vec<_>>()
            )
        });
        let schema = &media["schema"];
        let instance = if media_type.ends_with("json") {
            reply.json()
        } else {
            Value::String(String::from_utf8_lossy(&reply.body).into_owned())
        };
        let errors = self.errors(schema, &instance);
        assert!(
            errors.is_empty(),
            "{what}: body does not match the document:\n  {}\nbody: {instance:#}",
            errors.join("\n  ")
        );
    }
}

#[test]
fn every_template_route_is_documented_and_nothing_else() {
    let contract = Contract::load();
    // The greedy `{proxy+}` routes only answer 405 or 404 (see below).
    let template: BTreeSet<(String, String)> = Template::load_default()
        .expect("template.yaml")
        .routes()
        .into_iter()
        .filter(|r| !r.is_greedy())
        .map(|r| (r.method.to_ascii_uppercase(), r.path))
        .collect();
    assert!(!template.is_empty());
    let documented = contract.operations();
    let undocumented: Vec<_> = template.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes in template.yaml missing from docs/openapi.yaml: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&template).collect();
    assert!(
        unrouted.is_empty(),
        "docs/openapi.yaml documents routes template.yaml does not have: {unrouted:?}"
    );
    // Webhooks are public; everything else needs the bearer token.
    let routes = Template::load_default().expect("template.yaml").routes();
    for route in routes.into_iter().filter(|r| !r.is_greedy()) {
        let operation = &contract.doc["paths"][&route.path][route.method.to_ascii_lowercase()];
        let public = operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        assert_eq!(
            public, !route.authorized,
            "{} {}: security does not match the template's authorizer",
            route.method, route.path
        );
    }
    assert!(
        contract.doc["security"][0].get("bearerAuth").is_some(),
        "bearer auth is the default"
    );
}

#[test]
fn the_validator_rejects_bodies_that_do_not_match() {
    let contract = Contract::load();
    let event = json!({
        "event_id": "01J0000000000000000000000A",
        "contact_id": "01J0000000000000000000000B",
        "occurred_at": "2026-10-21T08:15:27Z",
        "recorded_at": "2026-10-21T08:15:28Z",
        "channel": "whatsapp",
        "type": "note",
        "author_user_id": "u1",
        "body": "called back",
    });
    let item = {
        let mut item = event.clone();
        item["local_time"] = json!("2026-10-21T09:15:27+01:00");
        item
    };
    let page = |items: Vec<Value>| json!({ "items": items, "next_cursor": null });
    let timeline = contract.named_schema("TimelinePage");
    assert_eq!(
        contract.errors(&timeline, &page(vec![item.clone()])),
        Vec::<String>::new(),
        "a well-formed page"
    );
    let mut wrong = Vec::new();
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut v = item.clone();
        f(&mut v);
        page(vec![v])
    };
    wrong.push(mutate(&|v| v["type"] = json!("tweet")));
    wrong.push(mutate(&|v| v["unexpected"] = json!(1)));
    wrong.push(mutate(&|v| {
        v.as_object_mut().unwrap().remove("local_time");
    }));
    wrong.push(mutate(&|v| v["occurred_at"] = json!("yesterday")));
    wrong.push(mutate(&|v| v["type"] = json!("message")));
    wrong.push(json!({ "items": [item], "next_cursor": 7 }));
    for body in wrong {
        assert!(
            !contract.errors(&timeline, &body).is_empty(),
            "the validator accepted {body:#}"
        );
    }
    let problem = contract.named_schema("Problem");
    assert!(
        !contract
            .errors(&problem, &json!({ "message": "Unauthorized" }))
            .is_empty()
    );
}

/// A request as a boxed future built in a plain function: the walk below
/// then holds one pointer per call instead of each call's whole future,
/// which in debug builds would overflow the test thread's stack.
type Call<'a> = Pin<Box<dyn Future<Output = Reply> + 'a>>;

fn raw<'a>(
    stack: &'a TestStack,
    method: &'a str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Call<'a> {
    let path = path.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = body.to_vec();
    Box::pin(async move {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        stack.request(method, &path, &headers, &body).await
    })
}

fn send<'a>(
    stack: &'a TestStack,
    method: &'a str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Call<'a> {
    let auth = format!("Bearer {token}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    raw(stack, method, path, &all, body.as_bytes())
}

fn get<'a>(stack: &'a TestStack, path: &str, token: &str) -> Call<'a> {
    send(stack, "GET", path, token, &[], None)
}

fn whatsapp_post<'a>(stack: &'a TestStack, connection: &str, body: &[u8]) -> Call<'a> {
    let (connection, body) = (connection.to_string(), body.to_vec());
    Box::pin(async move { stack.post_whatsapp(&connection, &body).await })
}

fn sms_post<'a>(stack: &'a TestStack, connection: &str, body: &[u8]) -> Call<'a> {
    let (connection, body) = (connection.to_string(), body.to_vec());
    Box::pin(async move { stack.post_sms(&connection, "", &body).await })
}

fn expect(reply: &Reply, status: u16) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// Salon's one contact, from the WhatsApp text fixture: (the WhatsApp
/// connection, the contact).
async fn one_whatsapp_contact(stack: &TestStack) -> (String, String) {
    let whatsapp = stack.whatsapp_connection("salon").await;
    let reply = whatsapp_post(stack, &whatsapp, &fixture("whatsapp/text_message.json")).await;
    expect(&reply, 200);
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    (whatsapp, contact)
}

#[tokio::test]
async fn real_responses_match_the_document() {
    // The walk below is one large future: keep it off the test thread's stack.
    Box::pin(walk_every_route()).await;
}

async fn walk_every_route() {
    let mut contract = Contract::load();
    let stack = Box::pin(TestStack::new()).await;
    let admin = stack.token("salon", "admin");
    let agent = stack.token("salon", "agent");

    // Webhooks.
    let whatsapp = Box::pin(stack.whatsapp_connection("salon")).await;
    let reply = whatsapp_post(&stack, &whatsapp, &fixture("whatsapp/text_message.json")).await;
    expect(&reply, 200);
    contract.check("POST", "/webhooks/whatsapp/{connection}", &reply);
    let reply = raw(
        &stack,
        "POST",
        &format!("/webhooks/whatsapp/{whatsapp}"),
        &[("x-hub-signature-256", "sha256=00")],
        &fixture("whatsapp/text_message.json"),
    )
    .await;
    expect(&reply, 401);
    contract.check("POST", "/webhooks/whatsapp/{connection}", &reply);
    let reply = whatsapp_post(&stack, "whatsapp-nosuchconnection", b"{}").await;
    expect(&reply, 404);
    contract.check("POST", "/webhooks/whatsapp/{connection}", &reply);
    let reply = whatsapp_post(&stack, &whatsapp, b"{\"entry\": 3}").await;
    expect(&reply, 400);
    contract.check("POST", "/webhooks/whatsapp/{connection}", &reply);
    let handshake = |token: &str| {
        format!(
            "/webhooks/whatsapp/{whatsapp}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        )
    };
    let reply = raw(
        &stack,
        "GET",
        &handshake(integration_tests::VERIFY_TOKEN),
        &[],
        b"",
    )
    .await;
    expect(&reply, 200);
    assert_eq!(&reply.body[..], b"1158201444");
    contract.check("GET", "/webhooks/whatsapp/{connection}", &reply);
    let reply = raw(&stack, "GET", &handshake("wrong"), &[], b"").await;
    expect(&reply, 403);
    contract.check("GET", "/webhooks/whatsapp/{connection}", &reply);
    let sms = Box::pin(stack.connection("salon", Provider::TwilioSms)).await;
    let reply = sms_post(&stack, &sms, &fixture("twilio_sms/inbound.form")).await;
    expect(&reply, 200);
    contract.check("POST", "/webhooks/sms/{connection}", &reply);
    assert!(Box::pin(stack.drain()).await >= 2);
    let contacts = get(&stack, "/contacts", &admin)
        .await
        .json()
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let contact = contacts
        .iter()
        .find(|c| {
            c["display_name"]
                .as_str()
                .is_some_and(|n| n.contains("Maya"))
        })
        .and_then(|c| c["contact_id"].as_str())
        .expect("Maya's contact")
        .to_string();

    // Contacts.
    let reply = get(&stack, "/contacts?limit=1", &admin).await;
    expect(&reply, 200);
    contract.check("GET", "/contacts", &reply);
    let reply = get(&stack, "/contacts?q=maya", &agent).await;
    expect(&reply, 200);
    assert_eq!(reply.json()["items"][0]["contact_id"], contact.as_str());
    contract.check("GET", "/contacts", &reply);
    let reply = get(&stack, "/contacts?limit=0", &admin).await;
    expect(&reply, 400);
    contract.check("GET", "/contacts", &reply);
    let reply = raw(&stack, "GET", "/contacts", &[], b"").await;
    expect(&reply, 401);
    assert_eq!(reply.json(), json!({ "message": "Unauthorized" }));
    contract.check("GET", "/contacts", &reply);
    let reply = get(&stack, &format!("/contacts/{contact}"), &agent).await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}", &reply);
    let reply = get(&stack, "/contacts/01J00000000000000000000000", &agent).await;
    expect(&reply, 404);
    contract.check("GET", "/contacts/{contact}", &reply);
    let reply = get(
        &stack,
        &format!("/contacts/{contact}"),
        &stack.token("other", "admin"),
    )
    .await;
    expect(&reply, 404);
    contract.check("GET", "/contacts/{contact}", &reply);
    let reply = get(&stack, &format!("/contacts/{contact}/duplicates"), &agent).await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}/duplicates", &reply);
    let reply = get(&stack, &format!("/contacts/{contact}/journey"), &agent).await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}/journey", &reply);
    let reply = get(
        &stack,
        "/contacts/01J00000000000000000000000/journey",
        &agent,
    )
    .await;
    expect(&reply, 404);
    contract.check("GET", "/contacts/{contact}/journey", &reply);

    // What staff add.
    let messages = format!("/contacts/{contact}/messages");
    let outbound = json!({
        "channel": "whatsapp",
        "body": "Saturday 10:00 works, see you then!",
        "author": "human",
        "provider_message_id": "wamid.contract-1",
    });
    for status in [201, 200] {
        let reply = send(
            &stack,
            "POST",
            &messages,
            &agent,
            &[("idempotency-key", "contract-1")],
            Some(outbound.clone()),
        )
        .await;
        expect(&reply, status);
        contract.check("POST", "/contacts/{contact}/messages", &reply);
    }
    let reply = send(
        &stack,
        "POST",
        &messages,
        &agent,
        &[],
        Some(json!({
            "channel": "whatsapp",
            "author": "ai",
            "attachments": [{ "kind": "image", "url": "https://salon.example/menu.png" }],
        })),
    )
    .await;
    expect(&reply, 201);
    contract.check("POST", "/contacts/{contact}/messages", &reply);
    let reply = send(
        &stack,
        "POST",
        &messages,
        &agent,
        &[],
        Some(json!({ "channel": "whatsapp", "author": "robot", "body": "hi" })),
    )
    .await;
    expect(&reply, 400);
    assert_eq!(reply.json()["field"], "author");
    contract.check("POST", "/contacts/{contact}/messages", &reply);
    let reply = send(
        &stack,
        "POST",
        "/contacts/01J00000000000000000000000/messages",
        &agent,
        &[],
        Some(json!({ "channel": "sms", "author": "ai", "body": "hi" })),
    )
    .await;
    expect(&reply, 404);
    contract.check("POST", "/contacts/{contact}/messages", &reply);

    let notes = format!("/contacts/{contact}/notes");
    let reply = send(
        &stack,
        "POST",
        &notes,
        &agent,
        &[],
        Some(json!({ "body": "Prefers mornings" })),
    )
    .await;
    expect(&reply, 201);
    contract.check("POST", "/contacts/{contact}/notes", &reply);
    let reply = send(
        &stack,
        "POST",
        &notes,
        &agent,
        &[],
        Some(json!({ "body": "  " })),
    )
    .await;
    expect(&reply, 400);
    contract.check("POST", "/contacts/{contact}/notes", &reply);

    let stage = format!("/contacts/{contact}/stage");
    for _ in 0..2 {
        let reply = send(
            &stack,
            "PUT",
            &stage,
            &agent,
            &[],
            Some(json!({ "stage": "qualified" })),
        )
        .await;
        expect(&reply, 200);
        contract.check("PUT", "/contacts/{contact}/stage", &reply);
    }
    let reply = send(
        &stack,
        "PUT",
        &stage,
        &agent,
        &[],
        Some(json!({ "stage": "astronaut" })),
    )
    .await;
    expect(&reply, 400);
    contract.check("PUT", "/contacts/{contact}/stage", &reply);

    let reply = get(&stack, &format!("/contacts/{contact}/metrics"), &agent).await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}/metrics", &reply);

    // Merging another contact in, then the audit log.
    let other = Box::pin(stack.contact_with_phone("salon", "+447700900999")).await;
    let merge = format!("/contacts/{contact}/merge");
    let reply = send(
        &stack,
        "POST",
        &merge,
        &agent,
        &[],
        Some(json!({ "contact_id": other })),
    )
    .await;
    expect(&reply, 200);
    contract.check("POST", "/contacts/{contact}/merge", &reply);
    // A contact that never existed (a repeated merge answers 200 again).
    let reply = send(
        &stack,
        "POST",
        &merge,
        &agent,
        &[],
        Some(json!({ "contact_id": ulid::Ulid::new().to_string() })),
    )
    .await;
    expect(&reply, 404);
    contract.check("POST", "/contacts/{contact}/merge", &reply);
    let reply = send(
        &stack,
        "POST",
        &merge,
        &agent,
        &[],
        Some(json!({ "contact_id": contact })),
    )
    .await;
    expect(&reply, 400);
    contract.check("POST", "/contacts/{contact}/merge", &reply);
    // ... and splitting it back off.
    let split = format!("/contacts/{contact}/split");
    let moved = json!({ "identities": [{ "kind": "phone", "value": "+447700900999" }], "display_name": "Back again" });
    let reply = send(&stack, "POST", &split, &agent, &[], Some(moved.clone())).await;
    expect(&reply, 201);
    contract.check("POST", "/contacts/{contact}/split", &reply);
    let reply = send(&stack, "POST", &split, &agent, &[], Some(moved)).await;
    expect(&reply, 400);
    contract.check("POST", "/contacts/{contact}/split", &reply);
    // Exports: queued, refused, then done with a download URL.
    let exports = format!("/contacts/{contact}/exports");
    let body = json!({ "format": "csv", "channels": ["whatsapp"], "include_notes": true });
    let reply = send(&stack, "POST", &exports, &admin, &[], Some(body.clone())).await;
    expect(&reply, 202);
    contract.check("POST", "/contacts/{contact}/exports", &reply);
    let export_id = reply.json()["export_id"]
        .as_str()
        .expect("export id")
        .to_string();
    let reply = send(&stack, "POST", &exports, &agent, &[], Some(body)).await;
    expect(&reply, 403);
    contract.check("POST", "/contacts/{contact}/exports", &reply);
    let reply = send(
        &stack,
        "POST",
        &exports,
        &admin,
        &[],
        Some(json!({ "format": "doc" })),
    )
    .await;
    expect(&reply, 400);
    contract.check("POST", "/contacts/{contact}/exports", &reply);
    let nobody = format!("/contacts/{}/exports", ulid::Ulid::new());
    let reply = send(
        &stack,
        "POST",
        &nobody,
        &admin,
        &[],
        Some(json!({ "format": "txt" })),
    )
    .await;
    expect(&reply, 404);
    contract.check("POST", "/contacts/{contact}/exports", &reply);
    let range = json!({ "from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z", "dataset": "contacts" });
    let reply = send(&stack, "POST", "/exports", &admin, &[], Some(range.clone())).await;
    expect(&reply, 202);
    contract.check("POST", "/exports", &reply);
    let reply = send(&stack, "POST", "/exports", &agent, &[], Some(range)).await;
    expect(&reply, 403);
    contract.check("POST", "/exports", &reply);
    let reply = send(
        &stack,
        "POST",
        "/exports",
        &admin,
        &[],
        Some(json!({ "to": "2026-12-31T00:00:00Z" })),
    )
    .await;
    expect(&reply, 400);
    contract.check("POST", "/exports", &reply);
    let job = format!("/exports/{export_id}");
    let reply = get(&stack, &job, &admin).await;
    expect(&reply, 200);
    assert_eq!(reply.json()["status"], "queued");
    contract.check("GET", "/exports/{export}", &reply);
    assert_eq!(Box::pin(stack.drain_exports()).await, 2);
    let reply = get(&stack, &job, &admin).await;
    expect(&reply, 200);
    assert!(reply.json()["download"]["url"].is_string(), "{reply:?}");
    contract.check("GET", "/exports/{export}", &reply);
    let reply = get(&stack, &job, &agent).await;
    expect(&reply, 403);
    contract.check("GET", "/exports/{export}", &reply);
    let reply = get(&stack, "/exports/not-an-id", &admin).await;
    expect(&reply, 404);
    contract.check("GET", "/exports/{export}", &reply);

    let reply = get(&stack, "/audit", &admin).await;
    expect(&reply, 200);
    contract.check("GET", "/audit", &reply);
    let reply = get(&stack, "/audit", &agent).await;
    expect(&reply, 403);
    contract.check("GET", "/audit", &reply);

    // Settings (a timezone with an offset shows in local_time).
    let reply = get(&stack, "/settings", &agent).await;
    expect(&reply, 200);
    contract.check("GET", "/settings", &reply);
    let update = json!({ "timezone": "Europe/Madrid", "phone_region": "es" });
    let reply = send(
        &stack,
        "PUT",
        "/settings",
        &admin,
        &[],
        Some(update.clone()),
    )
    .await;
    expect(&reply, 200);
    contract.check("PUT", "/settings", &reply);
    let reply = send(&stack, "PUT", "/settings", &agent, &[], Some(update)).await;
    expect(&reply, 403);
    contract.check("PUT", "/settings", &reply);
    let reply = send(
        &stack,
        "PUT",
        "/settings",
        &admin,
        &[],
        Some(json!({ "timezone": "Mars/Olympus" })),
    )
    .await;
    expect(&reply, 400);
    contract.check("PUT", "/settings", &reply);

    // The timeline and messages views.
    let timeline = format!("/contacts/{contact}/timeline");
    let reply = get(&stack, &timeline, &agent).await;
    expect(&reply, 200);
    let types: BTreeSet<String> = reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["type"].as_str().map(str::to_string))
        .collect();
    assert!(
        ["message", "note", "stage_change"]
            .iter()
            .all(|t| types.contains(*t)),
        "{types:?}"
    );
    contract.check("GET", "/contacts/{contact}/timeline", &reply);
    let reply = get(&stack,
            &format!(
                "{timeline}?limit=1&order=oldest&types=message,note&channels=whatsapp&from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z"
            ),
            &agent,
        )
        .await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}/timeline", &reply);
    let cursor = reply.json()["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let reply = get(
        &stack,
        &format!("{timeline}?limit=1&cursor={cursor}"),
        &agent,
    )
    .await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}/timeline", &reply);
    for query in ["order=sideways", "types=tweet", "cursor=forged.x"] {
        let reply = get(&stack, &format!("{timeline}?{query}"), &agent).await;
        expect(&reply, 400);
        contract.check("GET", "/contacts/{contact}/timeline", &reply);
    }
    let reply = get(&stack, "/contacts/not-a-contact/timeline", &agent).await;
    expect(&reply, 404);
    contract.check("GET", "/contacts/{contact}/timeline", &reply);

    let reply = get(&stack, &messages, &agent).await;
    expect(&reply, 200);
    contract.check("GET", "/contacts/{contact}/messages", &reply);
    let reply = get(
        &stack,
        &format!("{messages}?q=balayage&channels=whatsapp"),
        &agent,
    )
    .await;
    expect(&reply, 200);
    let found = reply.json();
    assert!(
        found["items"][0]["matches"].is_array(),
        "search answers matches: {found:#}"
    );
    contract.check("GET", "/contacts/{contact}/messages", &reply);
    let reply = get(&stack, &format!("{messages}?channels=fax"), &agent).await;
    expect(&reply, 400);
    contract.check("GET", "/contacts/{contact}/messages", &reply);

    // Connections (admins only).
    let reply = get(&stack, "/connections", &admin).await;
    expect(&reply, 200);
    contract.check("GET", "/connections", &reply);
    let reply = get(&stack, "/connections", &agent).await;
    expect(&reply, 403);
    contract.check("GET", "/connections", &reply);
    let reply = send(
        &stack,
        "POST",
        "/connections",
        &admin,
        &[],
        Some(json!({ "provider": "postmark", "external_id": "inbound-salon" })),
    )
    .await;
    expect(&reply, 201);
    let created = reply.json();
    assert!(created["generated_secrets"]["basic_password"].is_string());
    contract.check("POST", "/connections", &reply);
    let reply = send(
        &stack,
        "POST",
        "/connections",
        &admin,
        &[],
        Some(
            json!({ "provider": "chat", "config": { "allowed_origins": "https://salon.example" } }),
        ),
    )
    .await;
    expect(&reply, 201);
    contract.check("POST", "/connections", &reply);
    let reply = send(
        &stack,
        "POST",
        "/connections",
        &admin,
        &[],
        Some(json!({ "provider": "telegram" })),
    )
    .await;
    expect(&reply, 400);
    contract.check("POST", "/connections", &reply);
    let reply = get(&stack, "/connections", &admin).await;
    expect(&reply, 200);
    assert!(
        reply.json()["items"]
            .as_array()
            .is_some_and(|i| i.len() >= 4)
    );
    contract.check("GET", "/connections", &reply);
    let id = created["connection_id"].as_str().expect("connection id");
    let path = format!("/connections/{id}");
    let reply = send(&stack, "DELETE", &path, &admin, &[], None).await;
    expect(&reply, 204);
    contract.check("DELETE", "/connections/{connection}", &reply);
    let reply = send(&stack, "DELETE", &path, &admin, &[], None).await;
    expect(&reply, 404);
    contract.check("DELETE", "/connections/{connection}", &reply);
    let reply = send(&stack, "DELETE", &path, &agent, &[], None).await;
    expect(&reply, 403);
    contract.check("DELETE", "/connections/{connection}", &reply);

    // Every management and query route was checked against a real response.
    let missed: Vec<_> = contract
        .operations()
        .into_iter()
        .filter(|(_, path)| !path.starts_with("/webhooks/"))
        .filter(|op| !contract.exercised.contains(op))
        .collect();
    assert!(missed.is_empty(), "not exercised: {missed:?}");
}

/// The methods a path lacks: template.yaml routes each of them (GET, POST,
/// PUT, PATCH, DELETE) on any path to the api function, behind the JWT
/// authorizer, and the function knows every route of the API.
#[test]
fn the_template_sends_methods_a_path_lacks_to_the_api() {
    let template = Template::load_default().expect("template.yaml");
    let routes = template.routes();
    let api_function = routes
        .iter()
        .find(|r| r.key() == "GET /contacts")
        .map(|r| r.function.clone())
        .expect("the api function");
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let key = format!("{method} /{{proxy+}}");
        let route = routes
            .iter()
            .find(|r| r.key() == key)
            .unwrap_or_else(|| panic!("template.yaml has no route {key}"));
        assert_eq!(route.function, api_function, "{key}");
        assert!(route.authorized, "{key} is behind the JWT authorizer");
    }
    // No ANY or OPTIONS route: API Gateway answers CORS preflights itself
    // only while no route matches OPTIONS.
    for route in &routes {
        assert!(
            route.method != "ANY" && route.method != "OPTIONS",
            "{} would take CORS preflights from API Gateway",
            route.key()
        );
    }
    let template: BTreeSet<String> = routes
        .iter()
        .filter(|r| !r.is_greedy())
        .map(|r| r.key())
        .collect();
    let known: BTreeSet<String> = shared::api::routes()
        .into_iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert_eq!(
        template, known,
        "shared::api::routes() (the Allow of a 405) and template.yaml differ"
    );
}

#[tokio::test]
async fn a_method_a_path_lacks_answers_405_with_allow() {
    Box::pin(method_not_allowed()).await;
}

async fn method_not_allowed() {
    let stack = Box::pin(TestStack::new()).await;
    let (whatsapp, contact) = Box::pin(one_whatsapp_contact(&stack)).await;
    let timeline = Box::pin(stack.timeline("salon", &contact, "")).await;
    let message = timeline["items"][0]["event_id"]
        .as_str()
        .expect("a message")
        .to_string();
    let agent = stack.token("salon", "agent");
    let cases: Vec<(&str, String, &str)> = vec![
        // ../shared/API.md: no route deletes one message; DELETE on one answers 405.
        (
            "DELETE",
            format!("/contacts/{contact}/messages/{message}"),
            "",
        ),
        ("GET", format!("/contacts/{contact}/messages/{message}"), ""),
        (
            "DELETE",
            format!("/contacts/{contact}/messages"),
            "GET, POST",
        ),
        ("PATCH", format!("/contacts/{contact}/stage"), "PUT"),
        ("PATCH", "/settings".into(), "GET, PUT"),
        ("DELETE", "/contacts".into(), "GET"),
        ("POST", "/connections/some-connection".into(), "DELETE"),
        ("GET", format!("/webhooks/sms/{whatsapp}"), "POST"),
        (
            "DELETE",
            format!("/webhooks/whatsapp/{whatsapp}"),
            "GET, POST",
        ),
    ];
    for (method, path, allow) in cases {
        let reply = send(&stack, method, &path, &agent, &[], None).await;
        assert_eq!(reply.status, 405, "{method} {path}: {reply:?}");
        assert_eq!(reply.content_type, "application/problem+json");
        assert!(
            reply.headers.contains_key(http::header::ALLOW),
            "{method} {path}: no Allow"
        );
        assert_eq!(reply.header("allow"), allow, "{method} {path}");
        assert_eq!(reply.json()["status"], 405);
        // Without a token the gateway refuses it first, as for any API route.
        let anonymous = raw(&stack, method, &path, &[], b"").await;
        assert_eq!(anonymous.status, 401, "{method} {path} without a token");
    }
    // An unknown path is still 404, now a problem.
    let reply = get(&stack, "/nowhere/at/all", &agent).await;
    expect(&reply, 404);
    assert_eq!(reply.content_type, "application/problem+json");
    // Nothing was deleted.
    let after = Box::pin(stack.timeline("salon", &contact, "")).await;
    assert_eq!(after["items"], timeline["items"]);
}

/// Every event type and channel the document lists filters the timeline.
#[tokio::test]
async fn every_documented_event_type_and_channel_is_a_filter() {
    Box::pin(documented_filters()).await;
}

async fn documented_filters() {
    let contract = Contract::load();
    let stack = Box::pin(TestStack::new()).await;
    let (_, contact) = Box::pin(one_whatsapp_contact(&stack)).await;
    let agent = stack.token("salon", "agent");
    let types = contract.enum_values("EventType");
    assert!(types.contains(&"identity_link".to_string()));
    for kind in &types {
        let reply = get(
            &stack,
            &format!("/contacts/{contact}/timeline?types={kind}"),
            &agent,
        )
        .await;
        expect(&reply, 200);
    }
    let reply = get(
        &stack,
        &format!("/contacts/{contact}/timeline?types={}", types.join(",")),
        &agent,
    )
    .await;
    expect(&reply, 200);
    assert_eq!(reply.json()["items"].as_array().map(Vec::len), Some(1));
    for channel in contract.enum_values("Channel") {
        for view in ["timeline", "messages"] {
            let reply = get(
                &stack,
                &format!("/contacts/{contact}/{view}?channels={channel}"),
                &agent,
            )
            .await;
            expect(&reply, 200);
        }
    }
}

/// The document lists exactly the timezones and phone regions PUT /settings
/// accepts, so a client can offer them and a generated request is valid.
#[test]
fn settings_enums_are_the_accepted_values() {
    let contract = Contract::load();
    let listed =
        |schema: &str| -> BTreeSet<String> { contract.enum_values(schema).into_iter().collect() };
    let zones: BTreeSet<String> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name().to_string())
        .collect();
    let documented = listed("TimeZone");
    assert_eq!(
        documented,
        zones,
        "components.schemas.TimeZone.enum is not chrono-tz's list; it should be:\n{}",
        zones.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    let letters = b'A'..=b'Z';
    let regions: BTreeSet<String> = letters
        .clone()
        .flat_map(|a| {
            letters
                .clone()
                .map(move |b| format!("{}{}", a as char, b as char))
        })
        .filter(|code| code.parse::<phonenumber::country::Id>().is_ok())
        .collect();
    let documented = listed("PhoneRegion");
    assert_eq!(
        documented,
        regions,
        "components.schemas.PhoneRegion.enum is not the regions phonenumber knows; it should be:\n{}",
        regions.iter().cloned().collect::<Vec<_>>().join(", ")
    );
}

/// NewConnection requires, per provider, exactly the values its check needs
/// given (`Origin::Given` in its descriptor), so a generated request the
/// document calls valid is one POST /connections accepts.
#[test]
fn new_connection_requires_what_each_provider_needs_given() {
    use shared::channels::provider::Origin;
    let contract = Contract::load();
    let rules = contract.doc["components"]["schemas"]["NewConnection"]["allOf"]
        .as_array()
        .expect("NewConnection.allOf");
    // (provider path, section, name) the document requires.
    let mut documented = BTreeSet::new();
    for rule in rules {
        let providers = rule["if"]["properties"]["provider"]["enum"]
            .as_array()
            .expect("if.provider.enum");
        for (section, schema) in rule["then"]["properties"].as_object().expect("then") {
            for name in schema["required"].as_array().expect("required") {
                for provider in providers {
                    documented.insert((
                        provider.as_str().unwrap().to_string(),
                        section.clone(),
                        name.as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    let mut needed = BTreeSet::new();
    for provider in Provider::ALL {
        let descriptor = provider.descriptor();
        for (section, fields) in [
            ("secrets", descriptor.secrets),
            ("config", descriptor.config),
        ] {
            for field in fields.iter().filter(|f| matches!(f.origin, Origin::Given)) {
                needed.insert((
                    descriptor.path.to_string(),
                    section.to_string(),
                    field.name.to_string(),
                ));
            }
        }
    }
    assert_eq!(documented, needed);
}
