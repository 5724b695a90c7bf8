//! JSON Merge Patch (RFC 7396) of an order's details: the wire format of `PATCH`. Which caller
//! may change which detail is the service's rule; this only turns a patch into the whole set of
//! details the caller asks for.

use ordo_domain::{DETAIL_FIELDS, OrderDetails, OrderDetailsDraft};
use serde_json::{Map, Value};

use crate::problem::{FieldProblem, Problem, ProblemKind};
use crate::record::DetailsBody;

/// Refuses a patch naming anything but a detail (a total, a line, the status...), naming each.
pub(crate) fn only_details(patch: &Map<String, Value>) -> Result<(), Problem> {
    let errors: Vec<FieldProblem> = patch
        .keys()
        .filter(|key| !DETAIL_FIELDS.contains(&key.as_str()))
        .map(|key| FieldProblem {
            field: key.clone(),
            message: format!(
                "is not a detail this route changes; expected one of {}: money, lines and \
                 status change only through their own operations",
                DETAIL_FIELDS.join(", ")
            ),
        })
        .collect();
    match errors.as_slice() {
        [] => Ok(()),
        [one] => Err(Problem::invalid_field(&one.field, one.message.clone())),
        many => Err(Problem::new(
            ProblemKind::Validation,
            format!("{} fields are invalid", many.len()),
        )
        .with_errors(errors)),
    }
}

/// `details` as the API shows them, with `patch` merged in, read back as a draft (422 naming
/// a field of the wrong shape).
pub(crate) fn merged(
    details: &OrderDetails,
    patch: Map<String, Value>,
) -> Result<OrderDetailsDraft, Problem> {
    merged_into(&DetailsBody::from(details.to_draft()), patch).map(Into::into)
}

/// `current` as the API shows it, with `patch` merged in, read back in the same wire shape
/// (422 naming a field of the wrong shape): what every `PATCH` route changes.
pub(crate) fn merged_into<T: serde::Serialize + serde::de::DeserializeOwned>(
    current: &T,
    patch: Map<String, Value>,
) -> Result<T, Problem> {
    let mut target =
        serde_json::to_value(current).map_err(|error| Problem::bad_request(error.to_string()))?;
    merge(&mut target, Value::Object(patch));
    crate::extract::parse_value(target)
}

/// RFC 7396, section 2: objects merge key by key, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(&key);
            } else {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge;

    /// The examples of RFC 7396, appendix A.
    #[test]
    fn the_rfc_examples_merge_as_written() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge(&mut target, patch.clone());
            assert_eq!(target, expected, "patch {patch}");
        }
    }
}
