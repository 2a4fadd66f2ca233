//! Just enough of a JSON-RPC request body to apply a scope policy: each message's `method` and,
//! for `tools/call`, `params.name`. Everything else is skipped without being kept in memory.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One JSON-RPC message of a request body, as far as scopes are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Call {
    /// `None` for responses (a client answering a server's request).
    #[serde(default)]
    pub method: Option<String>,
    /// `params.name` when `params` is an object whose `name` is a string.
    #[serde(default, rename = "params")]
    pub name: ParamsName,
}

/// `params.name` of a message (the tool of a `tools/call`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParamsName(pub Option<String>);

/// Parses a single message or a batch. Duplicate `method`, `params` or `params.name` members
/// are errors: a parser that kept the last one could see a different method than we did.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<Call>, serde_json::Error> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        serde_json::from_slice(body)
    } else {
        serde_json::from_slice(body).map(|call| vec![call])
    }
}

impl<'de> Deserialize<'de> for ParamsName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = ParamsName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON-RPC params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParamsName, A::Error> {
        let mut name: Option<Option<String>> = None;
        while let Some(key) = map.next_key::<KeyName>()? {
            if key.0 {
                if name.is_some() {
                    return Err(de::Error::duplicate_field("name"));
                }
                name = Some(map.next_value::<NameValue>()?.0);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ParamsName(name.flatten()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParamsName, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ParamsName(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ParamsName, E> {
        Ok(ParamsName(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ParamsName, E> {
        Ok(ParamsName(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ParamsName, E> {
        Ok(ParamsName(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ParamsName, E> {
        Ok(ParamsName(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ParamsName, E> {
        Ok(ParamsName(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<ParamsName, E> {
        Ok(ParamsName(None))
    }
}

/// Whether an object key is `name`, without allocating for the others.
struct KeyName(bool);

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyName, E> {
                Ok(KeyName(key == "name"))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A `name` that is a string; any other JSON value counts as no name.
struct NameValue(Option<String>);

impl<'de> Deserialize<'de> for NameValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = NameValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tool name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<NameValue, E> {
                Ok(NameValue(Some(name.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NameValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(NameValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NameValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(NameValue(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<NameValue, E> {
                Ok(NameValue(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<NameValue, E> {
                Ok(NameValue(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<NameValue, E> {
                Ok(NameValue(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<NameValue, E> {
                Ok(NameValue(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<NameValue, E> {
                Ok(NameValue(None))
            }
        }
        deserializer.deserialize_any(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, name: Option<&str>) -> Call {
        Call { method: Some(method.to_owned()), name: ParamsName(name.map(str::to_owned)) }
    }

    #[test]
    fn reads_method_and_tool_name_of_a_single_message() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"name":"x"},"name":"write_note"}}"#;
        assert_eq!(parse(body).unwrap(), [call("tools/call", Some("write_note"))]);
    }

    #[test]
    fn reads_every_message_of_a_batch() {
        let body = br#" [{"jsonrpc":"2.0","id":1,"method":"tools/list"},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}},
            {"jsonrpc":"2.0","id":3,"result":{}}]"#;
        let calls = parse(body).unwrap();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0], call("tools/list", None));
        assert_eq!(calls[1], call("tools/call", Some("whoami")));
        assert_eq!(calls[2].method, None);
    }

    #[test]
    fn params_of_any_shape_are_accepted() {
        for params in ["[1,2]", "null", "\"x\"", "7", "{\"name\":5}", "{\"name\":{\"a\":1}}", "{\"name\":null}"] {
            let body = format!(r#"{{"method":"tools/call","params":{params}}}"#);
            assert_eq!(parse(body.as_bytes()).unwrap(), [call("tools/call", None)], "{params}");
        }
    }

    #[test]
    fn escaped_names_are_decoded_as_any_json_parser_would() {
        let body = br#"{"method":"tools\/call","params":{"name":"write\u005fnote"}}"#;
        assert_eq!(parse(body).unwrap(), [call("tools/call", Some("write_note"))]);
    }

    #[test]
    fn duplicate_members_are_rejected() {
        assert!(parse(br#"{"method":"tools/list","method":"tools/call"}"#).is_err());
        assert!(parse(br#"{"method":"tools/call","params":{"name":"a","name":"b"}}"#).is_err());
        assert!(parse(br#"{"method":"tools/call","params":{"name":"a"},"params":{}}"#).is_err());
    }

    #[test]
    fn non_json_and_non_string_methods_are_rejected() {
        assert!(parse(b"not json").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(br#"{"method":5}"#).is_err());
        assert!(parse(br#"{"method":"tools/list"} trailing"#).is_err());
    }
}
