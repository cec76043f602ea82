//! Records every AWS call a function's handler makes in the local stack, as
//! the IAM action and resource AWS would authorize it against. An SDK
//! interceptor on each function's clients reads the operation and the
//! serialized request just before it is sent; `iam` compares the record
//! with the template's policies.
//!
//! Test binaries run in separate processes, so with `CALL_LOG_DIR` set each
//! process appends what it saw (once per distinct call) to its own file
//! there; `infra/test.sh` checks the whole directory after the suite.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError as SdkBoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BoxError;
use crate::iam;

pub const CALL_LOG_DIR: &str = "CALL_LOG_DIR";

/// One authorization AWS would make: a function's role, an IAM action, a
/// resource ARN (logical names, see `iam`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Call {
    pub function: String,
    pub action: String,
    pub resource: String,
}

/// The calls of this process, and their file when `CALL_LOG_DIR` is set.
pub struct CallLog {
    seen: Mutex<HashSet<Call>>,
    file: Mutex<Option<std::fs::File>>,
}

impl CallLog {
    pub fn global() -> &'static CallLog {
        static LOG: OnceLock<CallLog> = OnceLock::new();
        LOG.get_or_init(|| {
            let file = std::env::var_os(CALL_LOG_DIR).and_then(|dir| {
                std::fs::create_dir_all(&dir).ok()?;
                let name = format!("{}-{}.jsonl", std::process::id(), ulid::Ulid::new());
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(Path::new(&dir).join(name))
                    .ok()
            });
            CallLog {
                seen: Mutex::new(HashSet::new()),
                file: Mutex::new(file),
            }
        })
    }

    fn record(&self, call: Call) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if !seen.insert(call.clone()) {
            return;
        }
        if let (Ok(mut file), Ok(line)) = (self.file.lock(), serde_json::to_string(&call))
            && let Some(file) = file.as_mut()
        {
            // One write per line: lines of concurrent tests never interleave.
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }

    /// What this process recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = self
            .seen
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        calls.sort();
        calls
    }

    /// Every call recorded in `dir` by any process.
    pub fn read_dir(dir: &Path) -> Result<Vec<Call>, BoxError> {
        let mut calls = HashSet::new();
        for entry in std::fs::read_dir(dir)? {
            let text = std::fs::read_to_string(entry?.path())?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                calls.insert(serde_json::from_str::<Call>(line)?);
            }
        }
        let mut calls: Vec<Call> = calls.into_iter().collect();
        calls.sort();
        Ok(calls)
    }
}

/// The local stack's physical names, back to the template's logical ids.
#[derive(Debug, Default, Clone)]
pub struct ResourceMap {
    pub tables: HashMap<String, String>,
    /// By queue name (the last segment of its URL).
    pub queues: HashMap<String, String>,
    pub buckets: HashMap<String, String>,
    /// By ARN and by name.
    pub secrets: HashMap<String, String>,
}

impl ResourceMap {
    fn table(&self, name: &str, index: Option<&str>) -> String {
        match (self.tables.get(name), index) {
            (Some(id), None) => iam::table_arn(id),
            (Some(id), Some(index)) => format!("{}/index/{index}", iam::table_arn(id)),
            (None, _) => format!("unknown-table:{name}"),
        }
    }

    fn queue(&self, url: &str) -> String {
        let name = url.rsplit('/').next().unwrap_or_default();
        self.queues
            .get(name)
            .map(|id| iam::queue_arn(id))
            .unwrap_or_else(|| format!("unknown-queue:{url}"))
    }

    fn object(&self, bucket: &str, key: Option<&str>) -> String {
        match (self.buckets.get(bucket), key) {
            (Some(id), Some(key)) => format!("{}/{key}", iam::bucket_arn(id)),
            (Some(id), None) => iam::bucket_arn(id),
            (None, _) => format!("unknown-bucket:{bucket}"),
        }
    }

    fn secret(&self, id: &str) -> String {
        self.secrets
            .get(id)
            .map(|logical| iam::secret_arn(logical))
            .unwrap_or_else(|| format!("unknown-secret:{id}"))
    }
}

/// The interceptor on one function's clients.
#[derive(Debug, Clone)]
pub struct CallRecorder {
    function: String,
    resources: Arc<ResourceMap>,
}

impl CallRecorder {
    pub fn new(function: impl Into<String>, resources: Arc<ResourceMap>) -> Self {
        Self {
            function: function.into(),
            resources,
        }
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), SdkBoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let request = context.request();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        for (action, resource) in authorizations(
            metadata.service(),
            metadata.name(),
            request.uri(),
            &body,
            &self.resources,
        ) {
            CallLog::global().record(Call {
                function: self.function.clone(),
                action,
                resource,
            });
        }
        Ok(())
    }
}

/// The (IAM action, resource) pairs AWS checks for one request. Operations
/// not listed here are recorded as `unmapped:…`, which no policy allows: a
/// new kind of call must be taught here before its function can pass.
pub fn authorizations(
    service: &str,
    operation: &str,
    uri: &str,
    body: &Value,
    resources: &ResourceMap,
) -> Vec<(String, String)> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let unmapped = || vec![(format!("unmapped:{service}:{operation}"), uri.to_string())];
    match service {
        "DynamoDB" => {
            let table = |v: &Value| {
                resources.table(
                    &text(v, "TableName").unwrap_or_default(),
                    v.get("IndexName").and_then(Value::as_str),
                )
            };
            match operation {
                // Transactions are authorized item by item, as the single-item actions.
                "TransactWriteItems" | "TransactGetItems" => body
                    .get("TransactItems")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .flat_map(|item| item.iter())
                    .map(|(kind, target)| {
                        let action = match kind.as_str() {
                            "Put" => "dynamodb:PutItem",
                            "Update" => "dynamodb:UpdateItem",
                            "Delete" => "dynamodb:DeleteItem",
                            "ConditionCheck" => "dynamodb:ConditionCheckItem",
                            "Get" => "dynamodb:GetItem",
                            other => return (format!("unmapped:DynamoDB:{other}"), table(target)),
                        };
                        (action.to_string(), table(target))
                    })
                    .collect(),
                "BatchWriteItem" | "BatchGetItem" => body
                    .get("RequestItems")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|items| items.keys())
                    .map(|name| (format!("dynamodb:{operation}"), resources.table(name, None)))
                    .collect(),
                "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" | "Scan"
                | "DescribeTable" | "ConditionCheckItem" => {
                    vec![(format!("dynamodb:{operation}"), table(body))]
                }
                _ => unmapped(),
            }
        }
        "SQS" => {
            // Batches are authorized as their single-message actions.
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            match action {
                "SendMessage"
                | "ReceiveMessage"
                | "DeleteMessage"
                | "ChangeMessageVisibility"
                | "GetQueueAttributes"
                | "PurgeQueue" => vec![(
                    format!("sqs:{action}"),
                    resources.queue(&text(body, "QueueUrl").unwrap_or_default()),
                )],
                _ => unmapped(),
            }
        }
        "S3" => {
            // Path-style locally: /bucket/key?query
            let path = uri
                .split_once("://")
                .map(|(_, rest)| rest.split_once('/').map(|(_, p)| p).unwrap_or_default())
                .unwrap_or(uri);
            let path = path.split('?').next().unwrap_or_default();
            let (bucket, key) = match path.split_once('/') {
                Some((bucket, key)) if !key.is_empty() => (bucket, Some(key)),
                Some((bucket, _)) => (bucket, None),
                None => (path, None),
            };
            let key = key.map(|k| {
                percent_encoding::percent_decode_str(k)
                    .decode_utf8_lossy()
                    .into_owned()
            });
            let action = match operation {
                "GetObject" | "HeadObject" => "s3:GetObject",
                "PutObject"
                | "CreateMultipartUpload"
                | "UploadPart"
                | "CompleteMultipartUpload" => "s3:PutObject",
                "AbortMultipartUpload" => "s3:AbortMultipartUpload",
                "DeleteObject" => "s3:DeleteObject",
                "ListParts" => "s3:ListMultipartUploadParts",
                "ListObjectsV2" | "ListObjects" => {
                    return vec![("s3:ListBucket".into(), resources.object(bucket, None))];
                }
                _ => return unmapped(),
            };
            vec![(action.into(), resources.object(bucket, key.as_deref()))]
        }
        "Secrets Manager" => match operation {
            "GetSecretValue" | "DescribeSecret" => vec![(
                format!("secretsmanager:{operation}"),
                resources.secret(&text(body, "SecretId").unwrap_or_default()),
            )],
            _ => unmapped(),
        },
        _ => unmapped(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn resources() -> ResourceMap {
        ResourceMap {
            tables: [("t1-table".into(), "Table".into())].into(),
            queues: [("t1-ingestqueue".into(), "IngestQueue".into())].into(),
            buckets: [("t1-blobbucket".into(), "BlobBucket".into())].into(),
            secrets: [(
                "arn:aws:secretsmanager:us-east-1:1:secret:t1-k-AbC".into(),
                "CursorKey".into(),
            )]
            .into(),
        }
    }

    #[test]
    fn a_transaction_is_authorized_item_by_item() {
        let body = json!({ "TransactItems": [
            { "Put": { "TableName": "t1-table", "Item": {} } },
            { "Update": { "TableName": "t1-table", "Key": {} } },
            { "ConditionCheck": { "TableName": "t1-table", "Key": {} } },
        ]});
        let calls = authorizations(
            "DynamoDB",
            "TransactWriteItems",
            "http://x/",
            &body,
            &resources(),
        );
        let actions: Vec<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem"
            ]
        );
        assert!(calls.iter().all(|(_, r)| *r == iam::table_arn("Table")));
    }

    #[test]
    fn index_queries_batches_queues_objects_and_secrets_map_to_logical_arns() {
        let r = resources();
        let query = json!({ "TableName": "t1-table", "IndexName": "gsi2" });
        assert_eq!(
            authorizations("DynamoDB", "Query", "http://x/", &query, &r),
            [(
                "dynamodb:Query".to_string(),
                format!("{}/index/gsi2", iam::table_arn("Table"))
            )]
        );
        let batch = json!({ "RequestItems": { "t1-table": [] } });
        assert_eq!(
            authorizations("DynamoDB", "BatchWriteItem", "http://x/", &batch, &r)[0].0,
            "dynamodb:BatchWriteItem"
        );
        let send = json!({ "QueueUrl": "http://127.0.0.1:5000/123456789012/t1-ingestqueue" });
        assert_eq!(
            authorizations("SQS", "SendMessageBatch", "http://x/", &send, &r),
            [("sqs:SendMessage".to_string(), iam::queue_arn("IngestQueue"))]
        );
        assert_eq!(
            authorizations(
                "S3",
                "UploadPart",
                "http://127.0.0.1:5000/t1-blobbucket/deliveries/t/a%20b.body?partNumber=1",
                &Value::Null,
                &r
            ),
            [(
                "s3:PutObject".to_string(),
                format!("{}/deliveries/t/a b.body", iam::bucket_arn("BlobBucket"))
            )]
        );
        let secret = json!({ "SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:t1-k-AbC" });
        assert_eq!(
            authorizations(
                "Secrets Manager",
                "GetSecretValue",
                "http://x/",
                &secret,
                &r
            ),
            [(
                "secretsmanager:GetSecretValue".to_string(),
                iam::secret_arn("CursorKey")
            )]
        );
    }

    #[test]
    fn what_it_cannot_map_no_policy_can_allow() {
        let r = resources();
        let other_table = json!({ "TableName": "someone-elses" });
        assert!(
            authorizations("DynamoDB", "GetItem", "http://x/", &other_table, &r)[0]
                .1
                .starts_with("unknown-table:")
        );
        assert!(
            authorizations(
                "DynamoDB",
                "ExecuteStatement",
                "http://x/",
                &Value::Null,
                &r
            )[0]
            .0
            .starts_with("unmapped:")
        );
    }
}
