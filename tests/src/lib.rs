//! Test harness: a fresh stack per test (its own table, queues and bucket in
//! the emulators, provisioned from template.yaml), driven through the same
//! gateway and poller that `make dev` uses.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub mod fake_sns;
pub mod faults;
pub mod logs;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use devtools::clients::LocalClients;
use devtools::gateway::{Functions, Gateway};
use devtools::poller::QueuePoller;
use devtools::provision::{LocalStack, provision};
use devtools::template::Template;
use devtools::tokens::DevTokens;
use devtools::webhooks::signed_request;
use serde_json::Value;
use shared::channels::provider::Field;
use shared::delivery::DeliveryQueue;
use shared::identity::Identity;
use shared::model::Provider;
use shared::store::{Connection, Secrets, Store};

pub const APP_SECRET: &str = "test_secret";
pub const VERIFY_TOKEN: &str = "test_verify_token";
pub const CHAT_KEY: &str = "pk_test";
pub const SES_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:ses-inbound-test";
pub const CHAT_ORIGIN: &str = "https://salon.example";
/// The host the tests' requests claim, part of the URL Twilio signs.
pub const HOST: &str = "api.salon.test";

/// A stored item as the SDK returns it.
pub type Item = HashMap<String, AttributeValue>;

pub struct TestStack {
    pub clients: LocalClients,
    pub local: LocalStack,
    pub functions: Arc<Functions>,
    pub gateway: Gateway,
    pub poller: QueuePoller,
    /// The export worker's queue, as its event-source mapping reads it.
    pub export_poller: QueuePoller,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A response header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The reply is a problem+json refusal with `status`.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "application/problem+json");
        assert_eq!(self.json()["status"], status);
    }
}

pub fn fixture(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

impl TestStack {
    /// Needs DYNAMODB_ENDPOINT and MOTO_ENDPOINT (`make test` sets them).
    pub async fn new() -> Self {
        Self::with_sns_endpoint(None).await
    }

    /// A stack whose email ingest fetches SNS certificates from `endpoint`.
    pub async fn with_sns_endpoint(endpoint: Option<String>) -> Self {
        Self::build(endpoint, None, None).await
    }

    /// A stack whose export worker renders PDFs with `pdf`.
    pub async fn with_pdf(pdf: Arc<dyn shared::export::PdfRender>) -> Self {
        Self::build(None, Some(pdf), None).await
    }

    /// A stack whose S3 (buckets, presigned URLs) is ministack
    /// (`MINISTACK_ENDPOINT`), which checks signatures and expiry as S3 does.
    pub async fn with_signature_checking_s3() -> Self {
        let endpoint = std::env::var("MINISTACK_ENDPOINT")
            .expect("MINISTACK_ENDPOINT is not set: run through infra/test.sh");
        Self::build(None, None, Some(endpoint)).await
    }

    async fn build(
        endpoint: Option<String>,
        pdf: Option<Arc<dyn shared::export::PdfRender>>,
        s3_endpoint: Option<String>,
    ) -> Self {
        let mut clients = LocalClients::from_env().expect("emulator endpoints");
        if let Some(s3) = s3_endpoint {
            clients = clients.with_s3_endpoint(&s3);
        }
        let template = Template::load_default().expect("template.yaml");
        let prefix = format!("t{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        let local = provision(&clients, &template, &prefix)
            .await
            .expect("provision local stack");
        let functions = Arc::new(
            Functions::new(&clients, &template, &local, endpoint, pdf)
                .await
                .expect("functions"),
        );
        let tokens = DevTokens::new(b"integration-test-key".to_vec());
        let gateway = Gateway::new(template.routes(), functions.clone(), tokens);
        let poller_of = |queue: &str| {
            let source = template
                .queue_sources()
                .into_iter()
                .find(|s| s.queue == queue)
                .expect("queue source");
            let local_queue = local.queue(queue).expect("queue").clone();
            QueuePoller {
                sqs: clients.sqs.clone(),
                queue_url: local_queue.url,
                queue_arn: local_queue.arn,
                region: clients.region.clone(),
                function: source.function,
                batch_size: source.batch_size,
                functions: functions.clone(),
                retry_delay_secs: 0,
            }
        };
        let poller = poller_of("IngestQueue");
        let export_poller = poller_of("ExportQueue");
        Self {
            clients,
            local,
            functions,
            gateway,
            poller,
            export_poller,
        }
    }

    pub fn store(&self) -> &Store {
        &self.functions.store
    }

    /// Every item of the stack's table, as debug text: for checks that some
    /// content is stored nowhere at all.
    pub async fn table_dump(&self) -> String {
        self.scan(None)
            .await
            .iter()
            .map(|item| format!("{item:?}\n"))
            .collect()
    }

    /// Every item of the stack's table whose `pk` starts with `prefix`.
    pub async fn items_with_pk_prefix(&self, prefix: &str) -> Vec<Item> {
        self.scan(Some(prefix)).await
    }

    async fn scan(&self, pk_prefix: Option<&str>) -> Vec<Item> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut scan = self
                .clients
                .dynamodb
                .scan()
                .table_name(&self.local.table)
                .set_exclusive_start_key(start);
            if let Some(prefix) = pk_prefix {
                scan = scan
                    .filter_expression("begins_with(pk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()));
            }
            let out = scan.send().await.expect("scan");
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return found;
            }
        }
    }

    /// How many objects the blob bucket holds under `prefix` (claim-checked
    /// bodies are under `deliveries/{tenant}/`).
    pub async fn blob_count(&self, prefix: &str) -> usize {
        let bucket = self.local.bucket("BlobBucket").expect("blob bucket");
        let listed = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list blobs");
        usize::try_from(listed.key_count().expect("key count")).expect("a count")
    }

    pub fn token(&self, tenant: &str, role: &str) -> String {
        self.gateway
            .tokens()
            .mint(tenant, &format!("{tenant}-{role}"), role)
            .expect("token")
    }

    /// A WhatsApp connection signed with the fixtures' test secret.
    pub async fn whatsapp_connection(&self, tenant: &str) -> String {
        self.connection(tenant, Provider::Whatsapp).await
    }

    /// A connection with the fixtures' test values for every secret and
    /// setting its provider's descriptor lists (`test_secret`, the chat key
    /// `pk_test` for origin `https://salon.example`, ...).
    pub async fn connection(&self, tenant: &str, provider: Provider) -> String {
        let id = format!(
            "{}-{}",
            provider.as_str(),
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        self.store()
            .put_connection(&test_connection(tenant, provider, &id))
            .await
            .expect("put connection");
        id
    }

    /// POSTs `body` to a `connection()` webhook, signed as its provider
    /// signs, over the URL `http://{HOST}/webhooks/…{query}`.
    pub async fn deliver(
        &self,
        provider: Provider,
        connection: &str,
        query: &str,
        body: &[u8],
    ) -> Reply {
        self.deliver_signed(
            &test_connection("", provider, connection),
            query,
            body,
            Utc::now(),
        )
        .await
    }

    /// POSTs `body` signed at `now` with the values of `connection`.
    pub async fn deliver_signed(
        &self,
        connection: &Connection,
        query: &str,
        body: &[u8],
        now: chrono::DateTime<Utc>,
    ) -> Reply {
        let request = signed_request(
            connection,
            &format!("http://{HOST}"),
            query,
            body.to_vec(),
            now,
        )
        .expect("signed request");
        self.send(request).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut builder = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Bytes::copy_from_slice(body)).expect("request");
        self.send(request).await
    }

    async fn send(&self, request: http::Request<Bytes>) -> Reply {
        let response = self.gateway.handle(request).await;
        Reply {
            status: response.status().as_u16(),
            content_type: response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            headers: response.headers().clone(),
            body: response.into_body(),
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.request("GET", path, &[("authorization", &auth)], b"")
            .await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(
            "POST",
            path,
            &[("authorization", &auth)],
            body.to_string().as_bytes(),
        )
        .await
    }

    pub async fn post_whatsapp(&self, connection: &str, body: &[u8]) -> Reply {
        self.deliver(Provider::Whatsapp, connection, "", body).await
    }

    pub async fn post_instagram(&self, connection: &str, body: &[u8]) -> Reply {
        self.deliver(Provider::Instagram, connection, "", body)
            .await
    }

    /// POSTs an SMS webhook signed over the URL Twilio would have called.
    pub async fn post_sms(&self, connection: &str, query: &str, body: &[u8]) -> Reply {
        self.deliver(Provider::TwilioSms, connection, query, body)
            .await
    }

    pub async fn post_voice(&self, connection: &str, body: &[u8]) -> Reply {
        self.deliver(Provider::TwilioVoice, connection, "", body)
            .await
    }

    /// POSTs a Stripe event signed at `signed_at` (unix seconds).
    pub async fn post_stripe(&self, connection: &str, body: &[u8], signed_at: i64) -> Reply {
        let at = Utc.timestamp_opt(signed_at, 0).single().expect("time");
        self.deliver_signed(
            &test_connection("", Provider::Stripe, connection),
            "",
            body,
            at,
        )
        .await
    }

    pub async fn post_calcom(&self, connection: &str, body: &[u8]) -> Reply {
        self.deliver(Provider::Calcom, connection, "", body).await
    }

    /// POSTs Postmark's inbound JSON with the basic credentials `postmark:{password}`.
    pub async fn post_postmark(&self, connection: &str, password: &str, body: &[u8]) -> Reply {
        let mut signer = test_connection("", Provider::Postmark, connection);
        signer.secrets = signer.secrets.with("basic_password", password);
        self.deliver_signed(&signer, "", body, Utc::now()).await
    }

    /// POSTs an SNS message (signed inside its body, `fake_sns`) to an email connection.
    pub async fn post_sns(&self, connection: &str, body: &[u8]) -> Reply {
        let descriptor = Provider::Ses.descriptor();
        self.request(
            "POST",
            &format!("/webhooks/{}/{connection}", descriptor.path),
            &[("content-type", descriptor.content_type)],
            body,
        )
        .await
    }

    /// POSTs a chat widget message from the allowed origin with the key.
    pub async fn post_chat(&self, connection: &str, body: &[u8]) -> Reply {
        self.deliver(Provider::Chat, connection, "", body).await
    }

    /// Messages on a queue, in flight or not.
    pub async fn queue_depth(&self, logical_id: &str) -> usize {
        let queue = self.local.queue(logical_id).expect("queue");
        let attributes = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|name| attributes.get(name)?.parse::<usize>().ok())
        .sum()
    }

    /// The ingest queue as normalize reads and re-queues it, with bodies
    /// claim-checked in the blob bucket read through `s3` (a faulty client
    /// in some tests).
    pub fn ingest_queue(&self, s3: aws_sdk_s3::Client) -> DeliveryQueue {
        DeliveryQueue::new(
            self.clients.sqs.clone(),
            self.local
                .queue("IngestQueue")
                .expect("ingest queue")
                .url
                .clone(),
            s3,
            self.local
                .bucket("BlobBucket")
                .expect("blob bucket")
                .to_string(),
        )
    }

    /// At least `n` records taken off the ingest queue, as Lambda hands
    /// them to normalize: for running a batch by hand instead of `drain`.
    pub async fn receive_ingest(&self, n: usize) -> Vec<SqsMessage> {
        let queue = self.local.queue("IngestQueue").expect("ingest queue");
        let mut records = Vec::new();
        while records.len() < n {
            let received = self
                .clients
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            assert!(!received.is_empty(), "only {} queued", records.len());
            for m in received {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id;
                record.receipt_handle = m.receipt_handle;
                record.body = m.body;
                records.push(record);
            }
        }
        records
    }

    /// Runs the normalize function over the ingest queue until it is empty;
    /// returns how many records it was handed.
    pub async fn drain(&self) -> usize {
        drain(&self.poller).await
    }

    /// Runs the export worker over the export queue until it is empty;
    /// returns how many jobs it was handed.
    pub async fn drain_exports(&self) -> usize {
        drain(&self.export_poller).await
    }

    /// Exports `contact`'s conversation as the tenant's admin (`body` is the
    /// request), runs the export worker, and returns the job as `GET
    /// /exports/{id}` then shows it.
    pub async fn export_conversation(&self, tenant: &str, contact: &str, body: Value) -> Value {
        let admin = self.token(tenant, "admin");
        let reply = self
            .post_json(&format!("/contacts/{contact}/exports"), &admin, body)
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(self.drain_exports().await, 1);
        let id = reply.json()["export_id"]
            .as_str()
            .expect("export id")
            .to_string();
        self.get(&format!("/exports/{id}"), &admin).await.json()
    }

    /// The only contact of a tenant (most tests have exactly one).
    pub async fn only_contact(&self, tenant: &str) -> String {
        let ids = self.contact_ids(tenant).await;
        assert_eq!(ids.len(), 1, "expected one contact, got {ids:?}");
        ids[0].clone()
    }

    /// The tenant's contacts: the first page, in the API's order.
    pub async fn contact_ids(&self, tenant: &str) -> Vec<String> {
        let reply = self.get("/contacts", &self.token(tenant, "admin")).await;
        assert_eq!(reply.status, 200, "{:?}", reply);
        let listing = reply.json();
        let items = listing["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        items
            .iter()
            .map(|c| c["contact_id"].as_str().expect("contact id").to_string())
            .collect()
    }

    /// A contact known only by `phone` (E.164), made in the store as if a
    /// message had come from it.
    pub async fn contact_with_phone(&self, tenant: &str, phone: &str) -> String {
        let identity = Identity::phone(phone, None).expect("a phone number");
        self.store()
            .resolve_contact(tenant, &identity, None, Utc::now())
            .await
            .expect("resolve contact")
    }

    pub async fn timeline(&self, tenant: &str, contact: &str, query: &str) -> Value {
        let reply = self
            .get(
                &format!("/contacts/{contact}/timeline{query}"),
                &self.token(tenant, "admin"),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply);
        reply.json()
    }
}

/// A batch of records, as SQS hands it to a function.
async fn drain(poller: &QueuePoller) -> usize {
    let mut total = 0;
    for _ in 0..50 {
        let outcome = poller.poll_once(0).await.expect("poll");
        if outcome.received == 0 {
            return total;
        }
        total += outcome.received;
    }
    panic!("{} did not drain", poller.queue_url);
}

pub fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// The connection `TestStack::connection` stores: each value its
/// descriptor lists, filled with the fixtures' test values.
pub fn test_connection(tenant: &str, provider: Provider, id: &str) -> Connection {
    let value = |name: &str| match name {
        "verify_token" => VERIFY_TOKEN,
        "basic_user" => "postmark",
        "topic_arn" => SES_TOPIC,
        "allowed_origins" => CHAT_ORIGIN,
        "public_key" => CHAT_KEY,
        _ => APP_SECRET,
    };
    let values = |fields: &[Field]| -> BTreeMap<String, String> {
        fields
            .iter()
            .map(|f| (f.name.to_string(), value(f.name).to_string()))
            .collect()
    };
    let descriptor = provider.descriptor();
    Connection {
        connection_id: id.to_string(),
        tenant_id: tenant.to_string(),
        provider,
        external_id: None,
        connected_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        config: values(descriptor.config),
        secrets: Secrets::from(values(descriptor.secrets)),
    }
}

/// A signed-shape WhatsApp delivery built in the test, for cases the shared
/// fixtures do not cover.
pub fn whatsapp_change(field: &str, value: Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102938475610293",
            "changes": [{ "field": field, "value": value }]
        }]
    }))
    .expect("json")
}

pub fn whatsapp_text(wamid: &str, from: &str, timestamp: i64, text: &str) -> Vec<u8> {
    whatsapp_change(
        "messages",
        serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "447700900100", "phone_number_id": "110923456789012" },
            "contacts": [{ "profile": { "name": "Test Customer" }, "wa_id": from }],
            "messages": [{
                "from": from, "id": wamid, "timestamp": timestamp.to_string(),
                "type": "text", "text": { "body": text }
            }]
        }),
    )
}

pub fn whatsapp_status(wamid: &str, to: &str, timestamp: i64, status: &str) -> Vec<u8> {
    whatsapp_change(
        "messages",
        serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "447700900100", "phone_number_id": "110923456789012" },
            "statuses": [{ "id": wamid, "status": status, "timestamp": timestamp.to_string(), "recipient_id": to }]
        }),
    )
}

/// A message staff sent from the WhatsApp Business app (coexistence echo).
pub fn whatsapp_echo(wamid: &str, to: &str, timestamp: i64, text: &str) -> Vec<u8> {
    whatsapp_change(
        "smb_message_echoes",
        serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "447700900100", "phone_number_id": "110923456789012" },
            "message_echoes": [{
                "from": "447700900100", "to": to, "id": wamid, "timestamp": timestamp.to_string(),
                "type": "text", "text": { "body": text }
            }]
        }),
    )
}
