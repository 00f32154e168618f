use serde_json::{Value, json};

use super::*;

fn key_of(scope: &str, text: &str) -> CacheKey {
    let value: Value = serde_json::from_str(text).expect("test JSON");
    let Value::Object(map) = value else {
        panic!("object")
    };
    l1_key(scope, "chat/completions", &map)
}

fn base() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "How do I reset my password?"}
        ],
        "temperature": 0.2
    })
}

fn key(value: &Value) -> CacheKey {
    key_of("tenant:a", &value.to_string())
}

#[test]
fn json_equivalent_requests_share_a_key() {
    let a = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"café"}],"temperature":1.0,"top_p":1}"#;
    let b = "{ \"top_p\" : 1.0,\n \"temperature\": 1, \"messages\": [ {\"content\": \"caf\\u00e9\", \"role\": \"user\"} ], \"model\": \"gpt-4o\" }";
    assert_eq!(key_of("s", a), key_of("s", b));
    let c = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"café"}],"temperature":1e0,"top_p":10E-1}"#;
    assert_eq!(key_of("s", a), key_of("s", c));
}

#[test]
fn fields_that_cannot_change_the_answer_are_ignored() {
    let mut other = base();
    other["stream"] = json!(true);
    other["stream_options"] = json!({"include_usage": true});
    other["user"] = json!("someone");
    other["metadata"] = json!({"trace": "x"});
    assert_eq!(key(&base()), key(&other));
}

#[test]
fn every_output_relevant_field_changes_the_key() {
    let changes: Vec<(&str, Value)> = vec![
        ("model", json!("gpt-4o-mini")),
        ("temperature", json!(0.3)),
        ("top_p", json!(0.9)),
        ("max_tokens", json!(10)),
        ("max_completion_tokens", json!(10)),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f"}}]),
        ),
        ("tool_choice", json!("none")),
        ("response_format", json!({"type": "json_object"})),
        ("seed", json!(1)),
        ("stop", json!(["\n"])),
        ("n", json!(2)),
        ("logit_bias", json!({"50256": -100})),
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
        ("some_vendor_field", json!(true)),
    ];
    let original = key(&base());
    for (field, value) in changes {
        let mut changed = base();
        changed[field] = value;
        assert_ne!(key(&changed), original, "{field} must change the key");
    }
}

#[test]
fn message_content_roles_and_order_change_the_key() {
    let original = key(&base());
    let mut system = base();
    system["messages"][0]["content"] = json!("You are verbose.");
    assert_ne!(key(&system), original);
    let mut user = base();
    user["messages"][1]["content"] = json!("How do I reset my password");
    assert_ne!(key(&user), original);
    let mut role = base();
    role["messages"][0]["role"] = json!("user");
    assert_ne!(key(&role), original);
    let mut swapped = base();
    swapped["messages"] = json!([base()["messages"][1], base()["messages"][0]]);
    assert_ne!(key(&swapped), original);
}

#[test]
fn the_scope_separates_tenants_and_endpoints() {
    let text = base().to_string();
    assert_ne!(key_of("tenant:a", &text), key_of("tenant:b", &text));
    let Value::Object(map) = base() else {
        unreachable!()
    };
    assert_ne!(
        l1_key("s", "chat/completions", &map),
        l1_key("s", "embeddings", &map)
    );
    // Length prefixes keep scope and endpoint from running into each other.
    assert_ne!(l1_key("ab", "c", &map), l1_key("a", "bc", &map));
}

#[test]
fn numbers_normalise_without_losing_distinctions() {
    assert_eq!(canonical_json(&json!(1.0)), b"1");
    assert_eq!(canonical_json(&json!(-0.0)), b"0");
    assert_eq!(canonical_json(&json!(0.1)), b"0.1");
    assert_ne!(
        canonical_json(&json!(0.1)),
        canonical_json(&json!(0.10000001))
    );
    assert_eq!(
        canonical_json(&json!(u64::MAX)),
        u64::MAX.to_string().as_bytes()
    );
    assert_eq!(
        canonical_json(&json!({"b": 1, "a": [true, null]})),
        br#"{"a":[true,null],"b":1}"#
    );
}

mod properties {
    use proptest::prelude::*;
    use serde_json::Map;

    use super::*;
    use crate::request::ApiRequest;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_request_parser(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(request) = ApiRequest::parse(&bytes, Some("messages")) {
                let _ = request.token_estimate(256);
                let _ = l1_key("s", "chat/completions", &request.fields);
            }
        }

        #[test]
        fn any_json_object_keys_the_same_after_a_round_trip(fields in proptest::collection::btree_map(".{0,8}", json(), 0..8)) {
            let map: Map<String, Value> = fields.into_iter().collect();
            let text = serde_json::to_string_pretty(&Value::Object(map.clone())).unwrap();
            let again: Value = serde_json::from_str(&text).unwrap();
            let Value::Object(again) = again else { unreachable!() };
            prop_assert_eq!(l1_key("s", "e", &map), l1_key("s", "e", &again));
            let mut body = map;
            body.insert("model".into(), json!("m"));
            body.insert("messages".into(), json!([]));
            let bytes = serde_json::to_vec(&Value::Object(body)).unwrap();
            if let Ok(request) = ApiRequest::parse(&bytes, Some("messages")) {
                let _ = request.token_estimate(256);
            }
        }
    }
}
