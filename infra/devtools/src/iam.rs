//! What IAM would decide, checked against what the tests saw. Neither
//! emulator enforces permissions, so every AWS call a function's handler
//! makes in the tests is recorded (`calls`) and compared here with that
//! function's policy in template.yaml: a call the policy does not allow
//! would fail in AWS, and a grant no call used is more than the function needs.
//!
//! Both sides are written in one logical ARN space: the template's logical
//! ids stand in for the physical names, in a fixed region and account.

use serde_norway::Value;

use crate::BoxError;
use crate::calls::Call;
use crate::intrinsics::{self, Resources};
use crate::template::Template;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn table_arn(logical_id: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical_id}")
}

pub fn queue_arn(logical_id: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}")
}

pub fn bucket_arn(logical_id: &str) -> String {
    format!("arn:aws:s3:::{logical_id}")
}

pub fn secret_arn(logical_id: &str) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{logical_id}")
}

/// `Ref` and `GetAtt` in the logical ARN space.
pub struct LogicalResources<'a> {
    pub template: &'a Template,
}

impl Resources for LogicalResources<'_> {
    fn reference(&self, name: &str) -> Option<String> {
        if let Some(value) = intrinsics::pseudo_parameter(name, REGION, ACCOUNT)
            .or_else(|| self.template.parameter_default(name))
        {
            return Some(value);
        }
        Some(match self.template.resource_type(name)? {
            "AWS::SQS::Queue" => format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"),
            "AWS::SecretsManager::Secret" => secret_arn(name),
            _ => name.to_string(),
        })
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String> {
        let kind = self.template.resource_type(logical_id)?;
        match (kind, attribute) {
            ("AWS::DynamoDB::Table", "Arn") => Some(table_arn(logical_id)),
            ("AWS::SQS::Queue", "Arn") => Some(queue_arn(logical_id)),
            ("AWS::SQS::Queue", "QueueName") => Some(logical_id.to_string()),
            ("AWS::S3::Bucket", "Arn") => Some(bucket_arn(logical_id)),
            (_, "Arn") => Some(format!("arn:aws:logical:{REGION}:{ACCOUNT}:{logical_id}")),
            _ => None,
        }
    }
}

/// One action on one resource pattern, as a function's policy states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub function: String,
    pub action: String,
    pub resource: String,
}

impl Grant {
    fn allows(&self, call: &Call) -> bool {
        self.function == call.function
            && wildcard_match(
                &self.action.to_ascii_lowercase(),
                &call.action.to_ascii_lowercase(),
            )
            && wildcard_match(&self.resource, &call.resource)
    }
}

/// Every (action, resource) an `Allow` statement of a function grants. The
/// check understands inline statements with `Action` and `Resource`; anything
/// else (SAM policy templates, managed policies, `Deny`, `NotAction`,
/// conditions) is refused rather than guessed at.
pub fn grants(template: &Template) -> Result<Vec<Grant>, BoxError> {
    let resources = LogicalResources { template };
    let mut grants = Vec::new();
    for function in template.function_specs() {
        if let Some(other) = function.other_policies.first() {
            return Err(format!(
                "{}: only inline policy statements can be checked, not {other:?}",
                function.logical_id
            )
            .into());
        }
        for statement in &function.statements {
            let mapping = statement
                .as_mapping()
                .ok_or("a statement is not a mapping")?;
            for key in mapping.keys().filter_map(Value::as_str) {
                if !matches!(key, "Effect" | "Action" | "Resource" | "Sid") {
                    return Err(format!(
                        "{}: statement key {key} is not checked",
                        function.logical_id
                    )
                    .into());
                }
            }
            if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                return Err(
                    format!("{}: only Allow statements are checked", function.logical_id).into(),
                );
            }
            let list = |key: &str| -> Result<Vec<String>, BoxError> {
                match statement.get(key) {
                    Some(Value::Sequence(items)) => items
                        .iter()
                        .map(|i| intrinsics::resolve(i, &resources))
                        .collect(),
                    Some(single) => Ok(vec![intrinsics::resolve(single, &resources)?]),
                    None => Err(format!("{}: statement without {key}", function.logical_id).into()),
                }
            };
            for action in list("Action")? {
                for resource in list("Resource")? {
                    grants.push(Grant {
                        function: function.logical_id.clone(),
                        action: action.clone(),
                        resource,
                    });
                }
            }
        }
    }
    Ok(grants)
}

/// What the recorded calls and the policies disagree on.
#[derive(Debug, Default)]
pub struct Report {
    /// Calls no statement of their function allows: they would fail in AWS.
    pub denied: Vec<Call>,
    /// Grants no recorded call used: more than the function needs.
    pub unused: Vec<Grant>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.denied.is_empty() && self.unused.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for call in &self.denied {
            writeln!(
                f,
                "DENIED  {} calls {} on {}: no statement of its policy allows it",
                call.function, call.action, call.resource
            )?;
        }
        for grant in &self.unused {
            writeln!(
                f,
                "UNUSED  {} is allowed {} on {}, which no test exercised",
                grant.function, grant.action, grant.resource
            )?;
        }
        Ok(())
    }
}

pub fn check(grants: &[Grant], calls: &[Call]) -> Report {
    let mut denied: Vec<Call> = calls
        .iter()
        .filter(|call| !grants.iter().any(|g| g.allows(call)))
        .cloned()
        .collect();
    denied.sort();
    denied.dedup();
    let unused = grants
        .iter()
        .filter(|g| !calls.iter().any(|call| g.allows(call)))
        .cloned()
        .collect();
    Report { denied, unused }
}

/// IAM's wildcards: `*` any run of characters (slashes included), `?` one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  Table: { Type: AWS::DynamoDB::Table }
  Queue: { Type: AWS::SQS::Queue }
  Bucket: { Type: AWS::S3::Bucket }
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: api } }
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !Sub "${Table.Arn}/index/*"
            - Effect: Allow
              Action: s3:PutObject
              Resource: !Sub "${Bucket.Arn}/deliveries/*"
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: !GetAtt Queue.Arn
"#;

    fn call(action: &str, resource: String) -> Call {
        Call {
            function: "Fn".into(),
            action: action.into(),
            resource,
        }
    }

    fn all_used() -> Vec<Call> {
        vec![
            call("dynamodb:GetItem", table_arn("Table")),
            call("dynamodb:Query", table_arn("Table")),
            call(
                "dynamodb:Query",
                format!("{}/index/gsi1", table_arn("Table")),
            ),
            call(
                "s3:PutObject",
                format!("{}/deliveries/t/1.body", bucket_arn("Bucket")),
            ),
            call("sqs:SendMessage", queue_arn("Queue")),
        ]
    }

    #[test]
    fn exact_use_of_every_grant_is_clean() {
        let template = Template::parse(TEMPLATE).unwrap();
        let grants = grants(&template).unwrap();
        assert_eq!(grants.len(), 5);
        let report = check(&grants, &all_used());
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn a_call_outside_the_policy_is_denied() {
        let grants = grants(&Template::parse(TEMPLATE).unwrap()).unwrap();
        for extra in [
            call("dynamodb:BatchWriteItem", table_arn("Table")),
            // GetItem is granted on the table, not on its indexes.
            call(
                "dynamodb:GetItem",
                format!("{}/index/gsi1", table_arn("Table")),
            ),
            call(
                "s3:PutObject",
                format!("{}/exports/x.csv", bucket_arn("Bucket")),
            ),
            call("sqs:SendMessage", queue_arn("OtherQueue")),
            Call {
                function: "OtherFn".into(),
                ..call("dynamodb:GetItem", table_arn("Table"))
            },
        ] {
            let mut calls = all_used();
            calls.push(extra.clone());
            let report = check(&grants, &calls);
            assert_eq!(report.denied, vec![extra]);
            assert!(report.unused.is_empty());
        }
    }

    #[test]
    fn a_grant_no_call_used_is_reported() {
        let grants = grants(&Template::parse(TEMPLATE).unwrap()).unwrap();
        let mut calls = all_used();
        calls.retain(|c| c.action != "sqs:SendMessage");
        let report = check(&grants, &calls);
        assert_eq!(report.unused.len(), 1);
        assert_eq!(report.unused[0].action, "sqs:SendMessage");
        assert!(
            report
                .to_string()
                .contains("UNUSED  Fn is allowed sqs:SendMessage")
        );
    }

    #[test]
    fn policies_it_cannot_read_are_refused() {
        let managed = TEMPLATE.replace(
            "      Policies:\n",
            "      Policies:\n        - DynamoDBCrudPolicy: { TableName: !Ref Table }\n",
        );
        assert!(grants(&Template::parse(&managed).unwrap()).is_err());
        let deny = TEMPLATE.replacen("Effect: Allow", "Effect: Deny", 1);
        assert!(grants(&Template::parse(&deny).unwrap()).is_err());
        let condition = TEMPLATE.replacen(
            "Effect: Allow\n",
            "Effect: Allow\n              Condition: {}\n",
            1,
        );
        assert!(grants(&Template::parse(&condition).unwrap()).is_err());
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard_match("a/*", "a/b/c"));
        assert!(wildcard_match("a/*/c", "a/b/x/c"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "abbc"));
        assert!(!wildcard_match("a/*", "b/a"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("abc", "abcd"));
    }
}
