//! JSON Schemas of the protocol's JSON forms, from which the API's OpenAPI document is built
//! (`sequencer/src/api/openapi.rs`).
//!
//! The structs derive [`JsonSchema`] next to their serde attributes, so renames, tags,
//! flattening and `deny_unknown_fields` are described by the same attributes that produce
//! the JSON. What a Rust type does not say is here: how alloy's scalars travel (`0x` hex),
//! and that a `u128` amount travels as a decimal string. A field of such a type names its
//! format with `#[schemars(with = "schema::…")]`; alloy's schemars support is left off, so
//! a field that forgets is a compile error instead of a wrong document.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

macro_rules! string_formats {
    ($($(#[$doc:meta])* $name:ident = $pattern:literal, $description:literal;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl JsonSchema for $name {
                fn schema_name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }

                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    json_schema!({
                        "type": "string",
                        "pattern": $pattern,
                        "description": $description,
                    })
                }
            }
        )*
    };
}

string_formats! {
    /// A 32-byte hash (`B256`).
    Hash = "^0x[0-9a-fA-F]{64}$", "32 bytes, 0x-prefixed hex";
    /// A 20-byte address.
    Address = "^0x[0-9a-fA-F]{40}$", "an Ethereum address, 0x-prefixed hex (any case)";
    /// A `u128` amount in base units, as a decimal string (JSON numbers lose precision past
    /// 2^53 in most clients).
    Amount = "^(0|[1-9][0-9]{0,38})$",
        "an amount in base units (wei for ETH) as a decimal string, at most 2^128 - 1";
    /// Bytes of any length.
    HexBytes = "^0x([0-9a-fA-F]{2})*$", "bytes, 0x-prefixed hex";
    /// A 65-byte secp256k1 signature.
    Signature = "^0x[0-9a-fA-F]{130}$",
        "r ‖ s ‖ v (65 bytes, 0x-prefixed hex); v is 27 or 28 (0 and 1 are accepted), s is low (EIP-2)";
}

/// An EVM log as alloy serialises it: `{address, topics, data}`.
#[derive(Debug, Clone, Copy)]
pub struct Log;

impl JsonSchema for Log {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Log")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let address = generator.subschema_for::<Address>();
        let hash = generator.subschema_for::<Hash>();
        let bytes = generator.subschema_for::<HexBytes>();
        json_schema!({
            "description": "An EVM log: the emitting contract, its topics (at most four), its data.",
            "type": "object",
            "required": ["address", "topics", "data"],
            "properties": {
                "address": address,
                "topics": { "type": "array", "items": hash, "maxItems": 4 },
                "data": bytes,
            },
        })
    }
}

impl JsonSchema for crate::signature::Signature {
    fn schema_name() -> Cow<'static, str> {
        Signature::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        Signature::json_schema(generator)
    }
}

impl JsonSchema for crate::eip712::Domain {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Domain")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let address = generator.subschema_for::<Address>();
        json_schema!({
            "description": "The EIP-712 domain every native kind is signed under.",
            "type": "object",
            "additionalProperties": false,
            "required": ["name", "version", "chainId", "verifyingContract"],
            "properties": {
                "name": { "const": crate::eip712::DOMAIN_NAME },
                "version": { "const": crate::eip712::DOMAIN_VERSION },
                "chainId": { "type": "integer", "format": "uint64", "minimum": 0 },
                "verifyingContract": address,
            },
        })
    }
}

impl JsonSchema for crate::evm::EvmTransaction {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("EvmTransaction")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let bytes = generator.subschema_for::<HexBytes>();
        let address = generator.subschema_for::<Address>();
        json_schema!({
            "description": "A standard Ethereum transaction: its EIP-2718 bytes. One rebuilt \
                from L1 data carries no signature (its bytes hold an all-zero placeholder) \
                and names its `sender`.",
            "type": "object",
            "additionalProperties": false,
            "required": ["raw"],
            "properties": { "raw": bytes, "sender": address },
        })
    }
}
