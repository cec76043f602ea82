//! What the local stack needs from template.yaml: resource definitions,
//! HTTP routes and SQS event sources, read rather than restated.

use std::path::Path;

use serde_norway::{Mapping, Value};

use crate::BoxError;

#[derive(Debug, Clone)]
pub struct Template {
    resources: Mapping,
    globals: Value,
    parameters: Mapping,
}

/// One `AWS::Serverless::Function`, as the local stack runs it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The cargo binary behind it (`BuildProperties.Binary`).
    pub binary: String,
    /// `Globals` and the function's own variables, unresolved.
    pub environment: Vec<(String, Value)>,
    /// The statements of `Policies`: inline, or of a managed policy of this template.
    pub statements: Vec<Value>,
    /// `Policies` entries other than inline statements (SAM policy
    /// templates, managed policy names): the IAM check refuses them.
    pub other_policies: Vec<Value>,
    /// `Timeout` (the function's, else `Globals`'), else Lambda's default of 3 s.
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// As in the template, e.g. `/contacts/{contact}/timeline`.
    pub path: String,
    /// False for `Auth: {Authorizer: NONE}` (the webhooks).
    pub authorized: bool,
    pub function: String,
    /// The cargo binary behind the function (`BuildProperties.Binary`).
    pub binary: String,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /contacts/{contact}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// A `{name+}` path variable matches the rest of the path, any depth;
    /// API Gateway tries such a route only when no other one matches.
    pub fn is_greedy(&self) -> bool {
        self.path.contains("+}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSource {
    pub function: String,
    pub binary: String,
    pub queue: String,
    pub batch_size: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    pub visibility_timeout: Option<i64>,
    pub retention: Option<i64>,
    /// (dead-letter queue logical id, maxReceiveCount)
    pub redrive: Option<(String, i64)>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, BoxError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn load_default() -> Result<Self, BoxError> {
        Self::load(&crate::repo_root().join("template.yaml"))
    }

    pub fn parse(text: &str) -> Result<Self, BoxError> {
        let doc: Value = serde_norway::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .cloned()
            .ok_or("template has no Resources")?;
        Ok(Self {
            resources,
            globals: doc.get("Globals").cloned().unwrap_or_default(),
            parameters: doc
                .get("Parameters")
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// A resource's `Type`, by logical id.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources
            .get(logical_id)
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str)
    }

    /// A resource's `Properties`, by logical id.
    pub fn properties(&self, logical_id: &str) -> Option<&Value> {
        self.resources
            .get(logical_id)
            .and_then(|r| r.get("Properties"))
    }

    /// Logical ids of every resource of a type, in template order.
    pub fn ids_of_type(&self, kind: &str) -> Vec<String> {
        self.of_type(kind).map(|(id, _)| id.to_string()).collect()
    }

    /// A parameter's `Default`, as text.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        let default = self.parameters.get(name)?.get("Default")?;
        match default {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The `Globals.Function` value of a property.
    pub fn function_global(&self, property: &str) -> Option<&Value> {
        self.globals.get("Function")?.get(property)
    }

    /// Every function with a cargo binary, with its environment and policies.
    pub fn function_specs(&self) -> Vec<FunctionSpec> {
        let variables = |v: Option<&Value>| -> Vec<(String, Value)> {
            v.and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                        .collect()
                })
                .unwrap_or_default()
        };
        self.of_type("AWS::Serverless::Function")
            .filter_map(|(id, res)| {
                let binary = binary(res)?;
                let props = res.get("Properties");
                let mut environment = variables(self.function_global("Environment"));
                for (name, value) in variables(props.and_then(|p| p.get("Environment"))) {
                    environment.retain(|(n, _)| *n != name);
                    environment.push((name, value));
                }
                let mut statements = Vec::new();
                let mut other_policies = Vec::new();
                let policies = props
                    .and_then(|p| p.get("Policies"))
                    .and_then(Value::as_sequence)
                    .cloned()
                    .unwrap_or_default();
                for policy in policies {
                    // An inline policy, or a managed policy of this template by `Ref`.
                    let document = if policy.as_mapping().is_some_and(|m| m.len() == 1) {
                        Some(&policy)
                    } else {
                        referenced_resource(&policy)
                            .filter(|id| self.resource_type(id) == Some("AWS::IAM::ManagedPolicy"))
                            .and_then(|id| self.properties(&id)?.get("PolicyDocument"))
                    };
                    match document
                        .and_then(|d| d.get("Statement"))
                        .and_then(Value::as_sequence)
                    {
                        Some(list) => statements.extend(list.iter().cloned()),
                        None => other_policies.push(policy),
                    }
                }
                let timeout = props
                    .and_then(|p| p.get("Timeout"))
                    .or_else(|| self.function_global("Timeout"))
                    .and_then(Value::as_u64)
                    .unwrap_or(3);
                Some(FunctionSpec {
                    logical_id: id.to_string(),
                    binary,
                    environment,
                    statements,
                    other_policies,
                    timeout: std::time::Duration::from_secs(timeout),
                })
            })
            .collect()
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources.iter().filter_map(move |(id, res)| {
            (res.get("Type").and_then(Value::as_str) == Some(kind))
                .then(|| Some((id.as_str()?, res)))
                .flatten()
        })
    }

    /// The single DynamoDB table's `Properties`.
    pub fn table(&self) -> Result<(String, Value), BoxError> {
        let mut tables = self.of_type("AWS::DynamoDB::Table");
        let (id, res) = tables.next().ok_or("template declares no DynamoDB table")?;
        if tables.next().is_some() {
            return Err("template declares more than one table".into());
        }
        Ok((
            id.to_string(),
            res.get("Properties").cloned().unwrap_or_default(),
        ))
    }

    pub fn queues(&self) -> Vec<QueueSpec> {
        self.of_type("AWS::SQS::Queue")
            .map(|(id, res)| {
                let props = res.get("Properties");
                let int = |name: &str| props.and_then(|p| p.get(name)).and_then(Value::as_i64);
                let redrive = props.and_then(|p| p.get("RedrivePolicy")).and_then(|r| {
                    let target = referenced_resource(r.get("deadLetterTargetArn")?)?;
                    let max = r.get("maxReceiveCount").and_then(|m| {
                        m.as_i64()
                            .or_else(|| m.as_str().and_then(|s| s.parse().ok()))
                    })?;
                    Some((target, max))
                });
                QueueSpec {
                    logical_id: id.to_string(),
                    visibility_timeout: int("VisibilityTimeout"),
                    retention: int("MessageRetentionPeriod"),
                    redrive,
                }
            })
            .collect()
    }

    pub fn buckets(&self) -> Vec<String> {
        self.of_type("AWS::S3::Bucket")
            .map(|(id, _)| id.to_string())
            .collect()
    }

    fn functions(&self) -> impl Iterator<Item = (&str, String, &Mapping)> + '_ {
        self.of_type("AWS::Serverless::Function")
            .filter_map(|(id, res)| {
                let binary = binary(res)?;
                let events = res.get("Properties")?.get("Events")?.as_mapping()?;
                Some((id, binary, events))
            })
    }

    pub fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        for (function, binary, events) in self.functions() {
            for event in events.values() {
                if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                    continue;
                }
                let Some(props) = event.get("Properties") else {
                    continue;
                };
                let text = |name: &str| props.get(name).and_then(Value::as_str);
                let (Some(method), Some(path)) = (text("Method"), text("Path")) else {
                    continue;
                };
                let authorizer = props
                    .get("Auth")
                    .and_then(|a| a.get("Authorizer"))
                    .and_then(Value::as_str);
                routes.push(Route {
                    method: method.to_ascii_uppercase(),
                    path: path.to_string(),
                    authorized: authorizer != Some("NONE"),
                    function: function.to_string(),
                    binary: binary.clone(),
                });
            }
        }
        routes
    }

    pub fn queue_sources(&self) -> Vec<QueueSource> {
        let mut sources = Vec::new();
        for (function, binary, events) in self.functions() {
            for event in events.values() {
                if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                    continue;
                }
                let props = event.get("Properties");
                let Some(queue) = props
                    .and_then(|p| p.get("Queue"))
                    .and_then(referenced_resource)
                else {
                    continue;
                };
                let batch_size = props
                    .and_then(|p| p.get("BatchSize"))
                    .and_then(Value::as_i64)
                    .and_then(|b| i32::try_from(b).ok())
                    .unwrap_or(10);
                sources.push(QueueSource {
                    function: function.to_string(),
                    binary: binary.clone(),
                    queue,
                    batch_size,
                });
            }
        }
        sources
    }
}

/// The cargo binary behind a function (`Metadata.BuildProperties.Binary`).
fn binary(function: &Value) -> Option<String> {
    Some(
        function
            .get("Metadata")?
            .get("BuildProperties")?
            .get("Binary")?
            .as_str()?
            .to_string(),
    )
}

/// The logical id behind `!GetAtt X.Arn`, `!Ref X` or their long forms.
pub fn referenced_resource(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => tagged
            .value
            .as_str()
            .and_then(|s| s.split('.').next())
            .or_else(|| tagged.value.get(0).and_then(Value::as_str))
            .map(str::to_string),
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_string),
        Value::Mapping(m) => {
            if let Some(att) = m.get("Fn::GetAtt") {
                return att
                    .get(0)
                    .and_then(Value::as_str)
                    .or_else(|| att.as_str().and_then(|s| s.split('.').next()))
                    .map(str::to_string);
            }
            m.get("Ref").and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_routes_queues_and_sources_from_the_real_template() {
        let template = Template::load_default().unwrap();
        let routes = template.routes();
        let webhook = routes
            .iter()
            .find(|r| r.key() == "POST /webhooks/whatsapp/{connection}")
            .expect("whatsapp webhook route");
        assert!(!webhook.authorized);
        assert_eq!(webhook.binary, "ingest");
        assert_eq!(webhook.function, "IngestWhatsappFunction");
        let timeline = routes
            .iter()
            .find(|r| r.key() == "GET /contacts/{contact}/timeline")
            .expect("timeline route");
        assert!(timeline.authorized);
        assert_eq!(timeline.binary, "api");

        let queues = template.queues();
        let ingest = queues
            .iter()
            .find(|q| q.logical_id == "IngestQueue")
            .unwrap();
        assert_eq!(
            ingest.redrive,
            Some(("IngestDeadLetterQueue".to_string(), 5))
        );

        let sources = template.queue_sources();
        let consumer = |queue: &str| {
            sources
                .iter()
                .find(|s| s.queue == queue)
                .map(|s| (s.binary.as_str(), s.batch_size))
        };
        assert_eq!(sources.len(), 2);
        assert_eq!(consumer("IngestQueue"), Some(("normalize", 10)));
        assert_eq!(consumer("ExportQueue"), Some(("export", 1)));
        let timeout = |id: &str| {
            let specs = template.function_specs();
            specs.iter().find(|f| f.logical_id == id).map(|f| f.timeout)
        };
        // Its own Timeout, and the Globals' for a function without one.
        assert_eq!(timeout("NormalizeFunction"), Some(Duration::from_secs(30)));
        assert_eq!(timeout("ApiFunction"), Some(Duration::from_secs(10)));

        let (table, props) = template.table().unwrap();
        assert_eq!(table, "Table");
        assert!(props.get("GlobalSecondaryIndexes").is_some());
        assert_eq!(template.buckets(), vec!["BlobBucket".to_string()]);
    }

    #[test]
    fn every_function_binary_is_a_workspace_package() {
        let template = Template::load_default().unwrap();
        for route in template.routes() {
            let manifest = crate::repo_root()
                .join("functions")
                .join(&route.binary)
                .join("Cargo.toml");
            assert!(manifest.exists(), "{} has no crate", route.binary);
        }
    }
}
