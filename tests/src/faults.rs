//! Faults injected under the AWS SDK: a transport around the real HTTP
//! client that delays, refuses, panics on or holds back chosen requests on
//! their way to the emulators. Everything above it (the SDK, the store, the
//! handlers) runs unchanged, and every request it lets through is real.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
    http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use tokio::sync::{Notify, Semaphore};

/// Which requests a rule applies to.
#[derive(Debug, Clone)]
pub enum When {
    /// The request URI contains this (an S3 key, a bucket).
    PathContains(String),
    /// The request body contains this (a provider message id).
    BodyContains(String),
    /// A DynamoDB call that writes (Put, Update, Delete, TransactWrite, BatchWrite).
    DynamoWrite,
    /// A DynamoDB write whose body contains this.
    DynamoWriteContaining(String),
}

/// What happens to a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Sent after this long.
    Delay(Duration),
    /// Never sent: the SDK sees a connection error.
    Fail,
    /// The calling code panics.
    Panic,
    /// Waits until the gate is opened, then is sent.
    Hold(Arc<Gate>),
}

/// A point a held request waits at.
#[derive(Debug)]
pub struct Gate {
    reached: Notify,
    open: Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            reached: Notify::new(),
            open: Semaphore::new(0),
        }
    }
}

impl Gate {
    /// Returns once a request is waiting here.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets every waiting and later request through.
    pub fn open(&self) {
        self.open.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

#[derive(Debug)]
struct Rule {
    when: When,
    fault: Fault,
    /// Matching requests let through before the fault applies.
    pass_first: usize,
    /// Applies to the first faulted match only.
    once: bool,
    matched: usize,
}

/// The rules of one transport; shared with the clients built on it.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Rule>>>);

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every matching request meets `fault`.
    pub fn always(&self, when: When, fault: Fault) {
        self.push(when, fault, 0, false);
    }

    /// The first `n` matching requests go through, every later one fails.
    pub fn fail_after(&self, when: When, n: usize) {
        self.push(when, Fault::Fail, n, false);
    }

    /// The first matching request waits at the returned gate.
    pub fn hold_once(&self, when: When) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        self.push(when, Fault::Hold(gate.clone()), 0, true);
        gate
    }

    /// How many requests the rules matched so far (faulted or let through).
    pub fn matched(&self) -> usize {
        self.rules().iter().map(|r| r.matched).sum()
    }

    /// Removes every rule: requests go through untouched.
    pub fn clear(&self) {
        self.rules().clear();
    }

    fn push(&self, when: When, fault: Fault, pass_first: usize, once: bool) {
        self.rules().push(Rule {
            when,
            fault,
            pass_first,
            once,
            matched: 0,
        });
    }

    fn rules(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fault_for(&self, request: &HttpRequest) -> Option<Fault> {
        let mut rules = self.rules();
        for rule in rules.iter_mut() {
            if !matches(&rule.when, request) {
                continue;
            }
            rule.matched += 1;
            let faulted = rule.matched > rule.pass_first;
            if faulted && !(rule.once && rule.matched > rule.pass_first + 1) {
                return Some(rule.fault.clone());
            }
        }
        None
    }

    /// An HTTP client for the SDK: the real one, with these faults in front.
    pub fn http_client(&self) -> SharedHttpClient {
        let real = aws_smithy_http_client::Builder::new().build_http();
        let faults = self.clone();
        http_client_fn(move |settings, components| {
            SharedHttpConnector::new(FaultyConnector {
                real: real.http_connector(settings, components),
                faults: faults.clone(),
            })
        })
    }

    /// A DynamoDB client for DynamoDB Local (`DYNAMODB_ENDPOINT`) through these faults.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region())
                .credentials_provider(test_credentials())
                .endpoint_url(endpoint("DYNAMODB_ENDPOINT"))
                .http_client(self.http_client())
                .build(),
        )
    }

    /// An S3 client for moto (`MOTO_ENDPOINT`) through these faults.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region())
                .credentials_provider(test_credentials())
                .endpoint_url(endpoint("MOTO_ENDPOINT"))
                .force_path_style(true)
                .http_client(self.http_client())
                .build(),
        )
    }
}

fn region() -> Region {
    Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_string()))
}

fn test_credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "local-emulator")
}

fn endpoint(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run through infra/test.sh"))
}

fn matches(when: &When, request: &HttpRequest) -> bool {
    match when {
        When::PathContains(part) => request.uri().contains(part.as_str()),
        When::BodyContains(part) => request
            .body()
            .bytes()
            .is_some_and(|body| contains(body, part.as_bytes())),
        When::DynamoWrite => is_dynamo_write(request),
        When::DynamoWriteContaining(part) => {
            is_dynamo_write(request) && matches(&When::BodyContains(part.clone()), request)
        }
    }
}

fn is_dynamo_write(request: &HttpRequest) -> bool {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.strip_prefix("DynamoDB_20120810."))
        .is_some_and(|op| {
            matches!(
                op,
                "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem"
            )
        })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(Debug)]
struct FaultyConnector {
    real: SharedHttpConnector,
    faults: Faults,
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fault = self.faults.fault_for(&request);
        let real = self.real.clone();
        HttpConnectorFuture::new(async move {
            match fault {
                None => {}
                Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
                Some(Fault::Fail) => {
                    return Err(ConnectorError::other("injected fault".into(), None));
                }
                Some(Fault::Panic) => panic!("injected panic"),
                Some(Fault::Hold(gate)) => {
                    gate.reached.notify_one();
                    let _open = gate.open.acquire().await;
                }
            }
            real.call(request).await
        })
    }
}
