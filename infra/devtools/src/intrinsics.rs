//! CloudFormation's intrinsic functions as template.yaml uses them in
//! function environments and policies: `Ref`, `Fn::GetAtt` and `Fn::Sub`,
//! short and long forms, over a caller's view of the resources (the local
//! stack's names, or the logical names the IAM check compares).

use serde_norway::Value;

use crate::BoxError;

/// What `Ref` and `Fn::GetAtt` give for a logical id (or pseudo parameter).
pub trait Resources {
    fn reference(&self, name: &str) -> Option<String>;
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<String>;
}

/// The pseudo parameters the template uses, for a region and account.
pub fn pseudo_parameter(name: &str, region: &str, account: &str) -> Option<String> {
    Some(
        match name {
            "AWS::Region" => region,
            "AWS::AccountId" => account,
            "AWS::Partition" => "aws",
            "AWS::URLSuffix" => "amazonaws.com",
            _ => return None,
        }
        .to_string(),
    )
}

/// The value CloudFormation would give `value`, as text.
pub fn resolve(value: &Value, resources: &dyn Resources) -> Result<String, BoxError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Tagged(tagged) if tagged.tag == "Ref" => reference(&tagged.value, resources),
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => get_att(&tagged.value, resources),
        Value::Tagged(tagged) if tagged.tag == "Sub" => sub(&tagged.value, resources),
        Value::Mapping(m) if m.len() == 1 => {
            if let Some(v) = m.get("Ref") {
                reference(v, resources)
            } else if let Some(v) = m.get("Fn::GetAtt") {
                get_att(v, resources)
            } else if let Some(v) = m.get("Fn::Sub") {
                sub(v, resources)
            } else {
                Err(format!("unsupported intrinsic {value:?}").into())
            }
        }
        other => Err(format!("cannot resolve {other:?}").into()),
    }
}

fn reference(name: &Value, resources: &dyn Resources) -> Result<String, BoxError> {
    let name = name.as_str().ok_or("Ref needs a name")?;
    resources
        .reference(name)
        .ok_or_else(|| format!("Ref {name}: unknown here").into())
}

fn get_att(target: &Value, resources: &dyn Resources) -> Result<String, BoxError> {
    let (id, attribute) = match target {
        Value::String(s) => s.split_once('.').ok_or("GetAtt needs Resource.Attribute")?,
        Value::Sequence(parts) => (
            parts
                .first()
                .and_then(Value::as_str)
                .ok_or("GetAtt resource")?,
            parts
                .get(1)
                .and_then(Value::as_str)
                .ok_or("GetAtt attribute")?,
        ),
        _ => return Err("GetAtt needs Resource.Attribute".into()),
    };
    resources
        .attribute(id, attribute)
        .ok_or_else(|| format!("GetAtt {id}.{attribute}: unknown here").into())
}

/// `${Name}`, `${Name.Attribute}` and `${!Literal}`; the list form's own
/// variables first.
fn sub(value: &Value, resources: &dyn Resources) -> Result<String, BoxError> {
    let (template, variables) = match value {
        Value::String(s) => (s.as_str(), None),
        Value::Sequence(parts) => (
            parts
                .first()
                .and_then(Value::as_str)
                .ok_or("Sub template")?,
            parts.get(1).and_then(Value::as_mapping),
        ),
        _ => return Err("Sub needs a string".into()),
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("Sub: unclosed ${")?;
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else if let Some(value) = variables.and_then(|v| v.get(name)) {
            out.push_str(&resolve(value, resources)?);
        } else if let Some((id, attribute)) = name.split_once('.') {
            out.push_str(
                &resources
                    .attribute(id, attribute)
                    .ok_or_else(|| format!("Sub ${{{name}}}: unknown here"))?,
            );
        } else {
            out.push_str(
                &resources
                    .reference(name)
                    .ok_or_else(|| format!("Sub ${{{name}}}: unknown here"))?,
            );
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Resources for Fixed {
        fn reference(&self, name: &str) -> Option<String> {
            match name {
                "Table" => Some("t-table".into()),
                "AWS::Region" => Some("eu-west-1".into()),
                _ => None,
            }
        }

        fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
            (id == "Table" && attribute == "Arn").then(|| "arn:table/t-table".into())
        }
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn resolves_short_and_long_forms() {
        assert_eq!(resolve(&yaml("!Ref Table"), &Fixed).unwrap(), "t-table");
        assert_eq!(resolve(&yaml("{Ref: Table}"), &Fixed).unwrap(), "t-table");
        assert_eq!(
            resolve(&yaml("!GetAtt Table.Arn"), &Fixed).unwrap(),
            "arn:table/t-table"
        );
        assert_eq!(
            resolve(&yaml("{'Fn::GetAtt': [Table, Arn]}"), &Fixed).unwrap(),
            "arn:table/t-table"
        );
        assert_eq!(
            resolve(
                &yaml(r#"!Sub "${Table.Arn}/index/* in ${AWS::Region} ${!Keep}""#),
                &Fixed
            )
            .unwrap(),
            "arn:table/t-table/index/* in eu-west-1 ${Keep}"
        );
        assert_eq!(
            resolve(&yaml("!Sub ['${X}-${Table}', {X: !Ref Table}]"), &Fixed).unwrap(),
            "t-table-t-table"
        );
        assert_eq!(resolve(&yaml("plain"), &Fixed).unwrap(), "plain");
        assert!(resolve(&yaml("!Ref Missing"), &Fixed).is_err());
        assert!(resolve(&yaml("!GetAtt Table.StreamArn"), &Fixed).is_err());
        assert!(resolve(&yaml("{'Fn::Join': ['', [a]]}"), &Fixed).is_err());
    }
}
