//! Creates the template's table, queues and bucket in the emulators, under
//! names with a per-stack prefix so stacks (tests, dev) never share state.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_norway::Value;

use crate::BoxError;
use crate::calls::ResourceMap;
use crate::clients::LocalClients;
use crate::intrinsics::{Resources, pseudo_parameter};
use crate::template::{QueueSpec, Template};

/// The account id DynamoDB Local puts in its ARNs.
const LOCAL_ACCOUNT: &str = "000000000000";

#[derive(Debug, Clone)]
pub struct LocalQueue {
    pub url: String,
    pub arn: String,
}

impl LocalQueue {
    /// The queue's name: the last segment of its URL.
    pub fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct LocalSecret {
    pub arn: String,
    pub name: String,
}

/// Names of one provisioned stack, by template logical id.
#[derive(Debug, Clone)]
pub struct LocalStack {
    pub table_id: String,
    pub table: String,
    pub queues: HashMap<String, LocalQueue>,
    pub buckets: HashMap<String, String>,
    pub secrets: HashMap<String, LocalSecret>,
    pub region: String,
}

impl LocalStack {
    pub fn queue(&self, logical_id: &str) -> Result<&LocalQueue, BoxError> {
        self.queues
            .get(logical_id)
            .ok_or_else(|| format!("template has no queue {logical_id}").into())
    }

    pub fn bucket(&self, logical_id: &str) -> Result<&str, BoxError> {
        self.buckets
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| format!("template has no bucket {logical_id}").into())
    }

    /// Physical names back to logical ids, for the call recorder.
    pub fn resource_map(&self) -> ResourceMap {
        let invert =
            |m: &HashMap<String, String>| m.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
        ResourceMap {
            tables: [(self.table.clone(), self.table_id.clone())].into(),
            queues: self
                .queues
                .iter()
                .map(|(id, q)| (q.name().to_string(), id.clone()))
                .collect(),
            buckets: invert(&self.buckets),
            secrets: self
                .secrets
                .iter()
                .flat_map(|(id, s)| [(s.arn.clone(), id.clone()), (s.name.clone(), id.clone())])
                .collect(),
        }
    }
}

/// `Ref` and `GetAtt` as CloudFormation would answer them for this stack
/// (function environments).
pub struct LocalResources<'a> {
    pub stack: &'a LocalStack,
    pub template: &'a Template,
}

impl Resources for LocalResources<'_> {
    fn reference(&self, name: &str) -> Option<String> {
        let stack = self.stack;
        if let Some(value) = pseudo_parameter(name, &stack.region, LOCAL_ACCOUNT) {
            return Some(value);
        }
        if name == stack.table_id {
            return Some(stack.table.clone());
        }
        if let Some(queue) = stack.queues.get(name) {
            return Some(queue.url.clone());
        }
        if let Some(bucket) = stack.buckets.get(name) {
            return Some(bucket.clone());
        }
        if let Some(secret) = stack.secrets.get(name) {
            return Some(secret.arn.clone());
        }
        self.template.parameter_default(name)
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        let stack = self.stack;
        match attribute {
            "Arn" if logical_id == stack.table_id => Some(format!(
                "arn:aws:dynamodb:{}:{LOCAL_ACCOUNT}:table/{}",
                stack.region, stack.table
            )),
            "Arn" => stack
                .queues
                .get(logical_id)
                .map(|q| q.arn.clone())
                .or_else(|| {
                    stack
                        .buckets
                        .get(logical_id)
                        .map(|b| format!("arn:aws:s3:::{b}"))
                }),
            "QueueName" => stack.queues.get(logical_id).map(|q| q.name().to_string()),
            _ => None,
        }
    }
}

/// Local names follow AWS's rules: >= 3 characters, buckets lowercase.
fn local_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{}", logical_id.to_ascii_lowercase())
}

pub async fn provision(
    clients: &LocalClients,
    template: &Template,
    prefix: &str,
) -> Result<LocalStack, BoxError> {
    let (table_id, table_props) = template.table()?;
    let table = local_name(prefix, &table_id);
    create_table(clients, &table, &table_props).await?;

    let mut queues = HashMap::new();
    // Dead-letter queues first: their ARNs go into the others' redrive policies.
    let mut specs = template.queues();
    specs.sort_by_key(|q| q.redrive.is_some());
    for spec in specs {
        let queue = create_queue(clients, prefix, &spec, &queues).await?;
        queues.insert(spec.logical_id.clone(), queue);
    }

    let mut buckets = HashMap::new();
    for id in template.buckets() {
        let name = local_name(prefix, &id);
        clients.s3.create_bucket().bucket(&name).send().await?;
        buckets.insert(id, name);
    }

    // As GenerateSecretString would: a random value nobody typed.
    let mut secrets = HashMap::new();
    for id in template.ids_of_type("AWS::SecretsManager::Secret") {
        let name = local_name(prefix, &id);
        let value: String = (0..3).map(|_| ulid::Ulid::new().to_string()).collect();
        let created = clients
            .secrets
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await?;
        let arn = created.arn.ok_or("CreateSecret returned no ARN")?;
        secrets.insert(id, LocalSecret { arn, name });
    }
    Ok(LocalStack {
        table_id,
        table,
        queues,
        buckets,
        secrets,
        region: clients.region.clone(),
    })
}

async fn create_table(clients: &LocalClients, name: &str, props: &Value) -> Result<(), BoxError> {
    let text = |v: &Value, key: &str| -> Result<String, BoxError> {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("table definition lacks {key}").into())
    };
    let list = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default()
    };
    let key_schema = |v: &Value| -> Result<Vec<KeySchemaElement>, BoxError> {
        list(v, "KeySchema")
            .iter()
            .map(|k| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(text(k, "AttributeName")?)
                    .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                    .build()?)
            })
            .collect()
    };
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(props)?));
    for attr in list(props, "AttributeDefinitions") {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&attr, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(
                    text(&attr, "AttributeType")?.as_str(),
                ))
                .build()?,
        );
    }
    for index in list(props, "GlobalSecondaryIndexes") {
        let projection = index
            .get("Projection")
            .map(|p| text(p, "ProjectionType"))
            .transpose()?
            .unwrap_or_else(|| "ALL".to_string());
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(&index, "IndexName")?)
                .set_key_schema(Some(key_schema(&index)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(projection.as_str()))
                        .build(),
                )
                .build()?,
        );
    }
    request.send().await?;

    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(text(ttl, "AttributeName")?)
                    .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(true))
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}

async fn create_queue(
    clients: &LocalClients,
    prefix: &str,
    spec: &QueueSpec,
    existing: &HashMap<String, LocalQueue>,
) -> Result<LocalQueue, BoxError> {
    let mut request = clients
        .sqs
        .create_queue()
        .queue_name(local_name(prefix, &spec.logical_id));
    if let Some(v) = spec.visibility_timeout {
        request = request.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
    }
    if let Some(v) = spec.retention {
        request = request.attributes(QueueAttributeName::MessageRetentionPeriod, v.to_string());
    }
    if let Some((dlq, max_receive)) = &spec.redrive {
        let target = existing
            .get(dlq)
            .ok_or_else(|| format!("redrive target {dlq} is not a queue"))?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": target.arn,
            "maxReceiveCount": max_receive,
        });
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let url = request
        .send()
        .await?
        .queue_url
        .ok_or("CreateQueue returned no URL")?;
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    let arn = attributes
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("queue has no ARN")?;
    Ok(LocalQueue { url, arn })
}
