//! OpenAPI 3.1 documents built from types: each body's JSON Schema comes from its Rust type
//! (schemars, through the same serde attributes that make the JSON), requests under the
//! deserialize contract (what a server accepts) and answers under the serialize contract
//! (what it sends). A service lists its routes as [`Operation`]s: what a type cannot say
//! (path parameters with their patterns, statuses, error answers) is said there.
//!
//! The sequencer's document is `sequencer/src/api/openapi.rs`, the hub's
//! `channel-hub/src/openapi.rs`.

use std::collections::BTreeSet;

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

const SCHEMAS: &str = "/components/schemas";

/// Statuses every route may answer besides its own: 405 (`method_not_allowed`), 429
/// (`rate_limited`) and 503 (`overloaded`, or the service cannot serve now).
pub const EVERY_ROUTE: [u16; 3] = [405, 429, 503];

/// One operation: a method on a route.
#[derive(Debug, Default)]
pub struct Operation {
    /// One line.
    pub summary: &'static str,
    /// More, when a line is not enough.
    pub description: &'static str,
    /// Its parameters ([`path_param`], or query parameters as OpenAPI writes them).
    pub params: Vec<Value>,
    /// The schema of its JSON body ([`Document::request`]).
    pub body: Option<Value>,
    /// The success status, its description and its body's schema ([`Document::response`]).
    pub ok: (u16, &'static str, Value),
    /// Other answers whose body is not an error.
    pub also: Vec<(u16, &'static str, Value)>,
    /// The statuses of this route's own error answers (their body is the document's error
    /// type); [`EVERY_ROUTE`] is added to every operation.
    pub errors: &'static [u16],
    /// The answer is OpenMetrics text, not JSON.
    pub text: bool,
}

/// A path parameter.
pub fn path_param(name: &str, description: &str, schema: &Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description,
            "schema": schema })
}

/// A document being built: one schema generator per contract (their definitions are
/// merged by [`Document::finish`]) and the paths.
#[derive(Debug)]
pub struct Document {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
    paths: Map<String, Value>,
    /// Where the paths hold request schemas (JSON pointers into `paths`), whose references
    /// [`Document::finish`] renames where a request type's schema differs from its answer's.
    request_schemas: Vec<String>,
    error: Value,
}

impl Document {
    /// A document whose error answers have `E`'s body.
    pub fn new<E: JsonSchema>() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = SCHEMAS.into();
            s.meta_schema = None;
        });
        let requests = settings.clone().for_deserialize().into_generator();
        let mut responses = settings.for_serialize().into_generator();
        let error = responses.subschema_for::<E>().to_value();
        Self {
            requests,
            responses,
            paths: Map::new(),
            request_schemas: Vec::new(),
            error,
        }
    }

    /// The schema of a scalar format (the same under both contracts), for parameters.
    pub fn scalar<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    /// The schema of a request body of type `T` (what the server deserialises).
    pub fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    /// The schema of an answer of type `T` (what the server serialises).
    pub fn response<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    /// Adds `method` (lowercase) on `route`.
    pub fn operation(&mut self, method: &str, route: &str, op: Operation) {
        let json_body = |description: &str, schema: Value| {
            json!({ "description": description,
                    "content": { "application/json": { "schema": schema } } })
        };
        let mut responses = Map::new();
        let (status, description, schema) = op.ok;
        let ok = if op.text {
            json!({ "description": description,
                    "content": { "application/openmetrics-text": { "schema": schema } } })
        } else {
            json_body(description, schema)
        };
        responses.insert(status.to_string(), ok);
        for (status, description, schema) in op.also {
            responses.insert(status.to_string(), json_body(description, schema));
        }
        for status in op.errors.iter().chain(&EVERY_ROUTE) {
            let description = match status {
                400 => "the request is invalid (see the code)",
                404 => "not found (see the code)",
                405 => "method_not_allowed",
                409 => "not ready (see the code)",
                413 => "body_too_large",
                415 => "unsupported_media_type",
                429 => "rate_limited",
                503 => "overloaded, or the node cannot admit now (see the code)",
                _ => "an error",
            };
            responses
                .entry(status.to_string())
                .or_insert_with(|| json_body(description, self.error.clone()));
        }
        let mut operation = json!({ "summary": op.summary, "responses": responses });
        if !op.description.is_empty() {
            operation["description"] = op.description.into();
        }
        if !op.params.is_empty() {
            operation["parameters"] = op.params.into();
        }
        if let Some(schema) = op.body {
            operation["requestBody"] = json!({ "required": true,
                "content": { "application/json": { "schema": schema } } });
            self.request_schemas
                .push(format!("{}/requestBody", pointer(route, method)));
        }
        let item = self
            .paths
            .entry(route)
            .or_insert_with(|| Value::Object(Map::new()));
        item[method] = operation;
    }

    /// Adds the routes every service has: `GET /v1/openapi.json` (the document) and
    /// `GET /metrics` (OpenMetrics text).
    pub fn service_routes(&mut self) {
        self.operation(
            "get",
            "/v1/openapi.json",
            Operation {
                summary: "This document",
                ok: (200, "OpenAPI 3.1", json!({ "type": "object" })),
                ..Operation::default()
            },
        );
        self.operation(
            "get",
            "/metrics",
            Operation {
                summary: "Prometheus metrics (OpenMetrics text)",
                ok: (200, "OpenMetrics text", json!({ "type": "string" })),
                text: true,
                ..Operation::default()
            },
        );
    }

    /// Adds the extension `key` (`x-…`) to `method` on `route`; `request` says whether the
    /// schemas in `value` come from [`Document::request`].
    pub fn extend(&mut self, method: &str, route: &str, key: &str, value: Value, request: bool) {
        self.paths[route][method][key] = value;
        if request {
            self.request_schemas
                .push(format!("{}/{key}", pointer(route, method)));
        }
    }

    /// The document, with `info` (title, version, description): the paths and the
    /// definitions of both contracts. A type whose two schemas are the same is defined once;
    /// one that differs keeps its answer's schema under its name and its request's under
    /// `<name>Input`.
    pub fn finish(mut self, info: &Value) -> Value {
        let mut schemas = self.responses.take_definitions(true);
        let requests = self.requests.take_definitions(true);
        // A request schema differs if its content does or if it refers to one that does.
        let mut renamed: BTreeSet<String> = BTreeSet::new();
        loop {
            let before = renamed.len();
            for (name, schema) in &requests {
                let differs = schemas.get(name).is_some_and(|s| {
                    let used = refs(schema);
                    s != schema || renamed.iter().any(|r| used.contains(reference(r).as_str()))
                });
                if differs {
                    renamed.insert(name.clone());
                }
            }
            if renamed.len() == before {
                break;
            }
        }
        let rename = |v: &mut Value| {
            for name in &renamed {
                rename_ref(v, &reference(name), &reference(&format!("{name}Input")));
            }
        };
        for (name, mut schema) in requests {
            rename(&mut schema);
            let name = if renamed.contains(&name) {
                format!("{name}Input")
            } else {
                name
            };
            schemas.entry(name).or_insert(schema);
        }
        let mut paths = Value::Object(self.paths);
        for at in &self.request_schemas {
            rename(
                paths
                    .pointer_mut(at)
                    .expect("a request schema is where it was put"),
            );
        }
        json!({
            "openapi": "3.1.0",
            "info": info,
            "paths": paths,
            "components": { "schemas": schemas },
        })
    }
}

/// The JSON pointer of an operation inside `paths`.
fn pointer(route: &str, method: &str) -> String {
    format!("/{}/{method}", route.replace('~', "~0").replace('/', "~1"))
}

/// The `$ref` of a component schema.
fn reference(name: &str) -> String {
    format!("#{SCHEMAS}/{name}")
}

/// Every `$ref` in `value`.
fn refs(value: &Value) -> BTreeSet<&str> {
    fn walk<'a>(value: &'a Value, out: &mut BTreeSet<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            out.insert(r);
                        }
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut out);
    out
}

/// Replaces every `$ref` equal to `from` in `value` by `to`.
fn rename_ref(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref" && v.as_str() == Some(from) {
                    *v = to.into();
                } else {
                    rename_ref(v, from, to);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_ref(v, from, to)),
        _ => {}
    }
}

/// What is wrong with a document's references: each `$ref` that points outside the
/// components or to no schema, and each component schema nothing refers to.
pub fn reference_errors(doc: &Value) -> Vec<String> {
    let used = refs(doc);
    let empty = Map::new();
    let schemas = doc["components"]["schemas"].as_object().unwrap_or(&empty);
    let mut errors = Vec::new();
    for r in &used {
        match r.strip_prefix(&format!("#{SCHEMAS}/")) {
            Some(name) if schemas.contains_key(name) => {}
            Some(_) => errors.push(format!("{r} is not defined")),
            None => errors.push(format!("{r} points outside the components")),
        }
    }
    for name in schemas.keys() {
        if !used.contains(reference(name).as_str()) {
            errors.push(format!("{name} is defined and never used"));
        }
    }
    errors
}

/// What is wrong with `body`, answered with `status` by `method` on `route`, according to
/// `doc`: empty when the document lists that status for the operation and the body matches
/// its schema.
#[cfg(feature = "validate")]
pub fn answer_errors(
    doc: &Value,
    route: &str,
    method: &str,
    status: u16,
    body: &Value,
) -> Vec<String> {
    let response = &doc["paths"][route][method]["responses"][status.to_string()];
    if !response.is_object() {
        return vec![format!("{method} {route} does not document {status}")];
    }
    let schema = &response["content"]["application/json"]["schema"];
    // The whole document is the root, so that its `#/components/...` references resolve.
    let mut root = doc.clone();
    root["allOf"] = serde_json::json!([schema]);
    let validator = jsonschema::draft202012::new(&root).expect("the schema compiles");
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The codes of `codes` that `markdown` never mentions as `` `code` ``.
pub fn undocumented<'a>(codes: &[(&'a str, &str)], markdown: &str) -> Vec<&'a str> {
    codes
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !markdown.contains(&format!("`{c}`")))
        .collect()
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    /// `note` has a default: optional in a request, always written in an answer.
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Inner {
        #[serde(default)]
        note: Option<u64>,
    }

    /// The same under both contracts but for the `Inner` it refers to.
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Outer {
        inner: Inner,
    }

    /// Written the same under both contracts.
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Plain {
        code: String,
    }

    #[test]
    fn a_type_whose_request_schema_differs_is_defined_for_each_contract() {
        let mut doc = Document::new::<Plain>();
        let body = doc.request::<Outer>();
        let ok = doc.response::<Outer>();
        let plain = doc.request::<Plain>();
        doc.operation(
            "post",
            "/outer",
            Operation {
                summary: "outer",
                body: Some(body),
                ok: (200, "outer", ok),
                ..Operation::default()
            },
        );
        doc.extend("post", "/outer", "x-plain", plain, true);
        let doc = doc.finish(&json!({ "title": "test" }));
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Inner"]["required"], json!(["note"]));
        assert!(schemas["InnerInput"]["required"].is_null(), "{schemas:#}");
        assert_eq!(
            schemas["Outer"]["properties"]["inner"]["$ref"],
            "#/components/schemas/Inner"
        );
        assert_eq!(
            schemas["OuterInput"]["properties"]["inner"]["$ref"],
            "#/components/schemas/InnerInput"
        );
        let post = &doc["paths"]["/outer"]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/OuterInput"
        );
        assert_eq!(
            post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Outer"
        );
        // The same under both contracts: defined once.
        assert_eq!(post["x-plain"]["$ref"], "#/components/schemas/Plain");
        assert!(schemas.get("PlainInput").is_none());
        for status in EVERY_ROUTE {
            assert!(post["responses"][status.to_string()].is_object());
        }
        assert_eq!(reference_errors(&doc), Vec::<String>::new());
    }

    #[test]
    fn a_dangling_or_unused_schema_is_reported() {
        let doc = json!({
            "paths": { "/a": { "get": { "schema": { "$ref": "#/components/schemas/Missing" } } } },
            "components": { "schemas": { "Unused": { "type": "string" } } },
        });
        let errors = reference_errors(&doc);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
