//! EIP-712 typed data: the domain, a small schema for every struct the protocol signs,
//! `hashStruct`, the signing digest, and the full typed-data JSON that
//! `eth_signTypedData_v4` and `cast wallet sign --data` take.
//!
//! Each signed struct is described once, as a [`StructType`]; the type string, the type
//! hash, the `types` section of the JSON and the encoding all derive from that one table,
//! so they cannot disagree.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::primitives::{Address, B256, keccak256, word_address, word_u128};

/// Name of the EIP-712 domain.
pub const DOMAIN_NAME: &str = "Weft";
/// Version of the EIP-712 domain.
pub const DOMAIN_VERSION: &str = "1";

const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";

/// The EIP-712 domain `{name "Weft", version "1", chainId, verifyingContract}`, with its
/// separator computed once.
///
/// `chainId` is the L2 chain id and `verifyingContract` the L1 Rollup contract: a signature
/// is bound to one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DomainFields", into = "DomainFields")]
pub struct Domain {
    chain_id: u64,
    verifying_contract: Address,
    separator: B256,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DomainFields {
    name: String,
    version: String,
    chain_id: u64,
    verifying_contract: Address,
}

impl TryFrom<DomainFields> for Domain {
    type Error = &'static str;

    fn try_from(f: DomainFields) -> Result<Self, Self::Error> {
        if f.name != DOMAIN_NAME || f.version != DOMAIN_VERSION {
            return Err("domain name must be \"Weft\" and version \"1\"");
        }
        Ok(Self::new(f.chain_id, f.verifying_contract))
    }
}

impl From<Domain> for DomainFields {
    fn from(d: Domain) -> Self {
        Self {
            name: DOMAIN_NAME.into(),
            version: DOMAIN_VERSION.into(),
            chain_id: d.chain_id,
            verifying_contract: d.verifying_contract,
        }
    }
}

impl Domain {
    /// The domain of one deployment.
    pub fn new(chain_id: u64, verifying_contract: Address) -> Self {
        let mut buf = [0u8; 5 * 32];
        buf[..32].copy_from_slice(keccak256(DOMAIN_TYPE).as_slice());
        buf[32..64].copy_from_slice(keccak256(DOMAIN_NAME).as_slice());
        buf[64..96].copy_from_slice(keccak256(DOMAIN_VERSION).as_slice());
        buf[96..128].copy_from_slice(&word_u128(chain_id as u128));
        buf[128..].copy_from_slice(&word_address(&verifying_contract));
        Self {
            chain_id,
            verifying_contract,
            separator: keccak256(buf),
        }
    }

    /// The L2 chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The L1 Rollup contract.
    pub fn verifying_contract(&self) -> Address {
        self.verifying_contract
    }

    /// `hashStruct(EIP712Domain)`.
    pub fn separator(&self) -> B256 {
        self.separator
    }

    /// The digest that is signed: `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`.
    pub fn signing_hash(&self, struct_hash: &B256) -> B256 {
        let mut buf = [0u8; 66];
        buf[0] = 0x19;
        buf[1] = 0x01;
        buf[2..34].copy_from_slice(self.separator.as_slice());
        buf[34..].copy_from_slice(struct_hash.as_slice());
        keccak256(buf)
    }

    /// The `domain` object of typed-data JSON.
    pub fn to_json(&self) -> Json {
        json!({
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        })
    }
}

/// The Solidity type of one field.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// `address`
    Address,
    /// `uintN`
    Uint(u16),
    /// `bytes32`
    Bytes32,
    /// `bytes`
    Bytes,
    /// `string` (encoded as `bytes` of its UTF-8).
    String,
    /// `bool`
    Bool,
    /// A nested struct.
    Struct(&'static StructType),
    /// A dynamic array of a struct.
    StructArray(&'static StructType),
}

impl FieldType {
    fn solidity_name(&self) -> String {
        match self {
            Self::Address => "address".into(),
            Self::Uint(bits) => format!("uint{bits}"),
            Self::Bytes32 => "bytes32".into(),
            Self::Bytes => "bytes".into(),
            Self::String => "string".into(),
            Self::Bool => "bool".into(),
            Self::Struct(s) => s.name.into(),
            Self::StructArray(s) => format!("{}[]", s.name),
        }
    }

    fn referenced(&self) -> Option<&'static StructType> {
        match self {
            Self::Struct(s) | Self::StructArray(s) => Some(s),
            _ => None,
        }
    }
}

/// An EIP-712 struct type: its name and ordered fields.
#[derive(Debug)]
pub struct StructType {
    /// The type's name (`primaryType` when signed at the top).
    pub name: &'static str,
    /// `(name, type)` in encoding order.
    pub fields: &'static [(&'static str, FieldType)],
    type_hash: OnceLock<B256>,
}

impl StructType {
    /// A type; used to declare the protocol's statics.
    pub const fn new(name: &'static str, fields: &'static [(&'static str, FieldType)]) -> Self {
        Self {
            name,
            fields,
            type_hash: OnceLock::new(),
        }
    }

    fn own_signature(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(name, ty)| format!("{} {name}", ty.solidity_name()))
            .collect();
        format!("{}({})", self.name, fields.join(","))
    }

    /// Every struct type this one references, transitively, excluding itself.
    fn dependencies(&self) -> Vec<&'static StructType> {
        let mut out: Vec<&'static StructType> = Vec::new();
        let mut stack: Vec<&'static StructType> = self
            .fields
            .iter()
            .filter_map(|(_, t)| t.referenced())
            .collect();
        while let Some(t) = stack.pop() {
            if t.name == self.name || out.iter().any(|o| o.name == t.name) {
                continue;
            }
            out.push(t);
            stack.extend(t.fields.iter().filter_map(|(_, f)| f.referenced()));
        }
        out.sort_by_key(|t| t.name);
        out
    }

    /// `encodeType`: this type followed by its referenced types sorted by name.
    pub fn encode_type(&self) -> String {
        let mut s = self.own_signature();
        for dep in self.dependencies() {
            s.push_str(&dep.own_signature());
        }
        s
    }

    /// `keccak256(encodeType)`, computed once.
    pub fn type_hash(&self) -> B256 {
        *self.type_hash.get_or_init(|| keccak256(self.encode_type()))
    }

    /// The `types` object of typed-data JSON for this primary type (with `EIP712Domain`).
    pub fn types_json(&'static self) -> Json {
        let mut types = Map::new();
        types.insert(
            "EIP712Domain".into(),
            json!([
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ]),
        );
        for t in std::iter::once(self).chain(self.dependencies()) {
            let fields: Vec<Json> = t
                .fields
                .iter()
                .map(|(name, ty)| json!({"name": name, "type": ty.solidity_name()}))
                .collect();
            types.insert(t.name.into(), Json::Array(fields));
        }
        Json::Object(types)
    }
}

/// A value of one field, borrowed from the struct being encoded.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// `address`
    Address(Address),
    /// Any `uintN` up to 128 bits.
    Uint(u128),
    /// `bytes32`
    Bytes32(B256),
    /// `bytes`
    Bytes(&'a [u8]),
    /// `bool`
    Bool(bool),
    /// A nested struct's field values.
    Struct(Vec<Value<'a>>),
    /// An array of structs.
    Array(Vec<Vec<Value<'a>>>),
}

/// A type that is signed as EIP-712 typed data.
pub trait Eip712 {
    /// Its struct type.
    fn struct_type(&self) -> &'static StructType;
    /// Its field values, in the order of `struct_type().fields`.
    fn values(&self) -> Vec<Value<'_>>;

    /// `hashStruct(self)`.
    fn struct_hash(&self) -> B256 {
        hash_struct(self.struct_type(), &self.values())
    }

    /// The digest to sign under `domain`.
    fn signing_hash(&self, domain: &Domain) -> B256 {
        domain.signing_hash(&self.struct_hash())
    }

    /// Full typed-data JSON (`types`, `primaryType`, `domain`, `message`).
    fn typed_data(&self, domain: &Domain) -> Json {
        let ty = self.struct_type();
        json!({
            "types": ty.types_json(),
            "primaryType": ty.name,
            "domain": domain.to_json(),
            "message": message_json(ty, &self.values()),
        })
    }
}

/// `hashStruct(s) = keccak256(typeHash ‖ encodeData(s))`.
pub fn hash_struct(ty: &StructType, values: &[Value<'_>]) -> B256 {
    debug_assert_eq!(ty.fields.len(), values.len(), "{} field count", ty.name);
    let mut buf = Vec::with_capacity(32 * (values.len() + 1));
    buf.extend_from_slice(ty.type_hash().as_slice());
    for ((_, field), value) in ty.fields.iter().zip(values) {
        buf.extend_from_slice(&encode_value(field, value));
    }
    keccak256(buf)
}

fn encode_value(field: &FieldType, value: &Value<'_>) -> [u8; 32] {
    match (field, value) {
        (FieldType::Address, Value::Address(a)) => word_address(a),
        (FieldType::Uint(_), Value::Uint(v)) => word_u128(*v),
        (FieldType::Bytes32, Value::Bytes32(b)) => b.0,
        (FieldType::Bytes | FieldType::String, Value::Bytes(b)) => keccak256(b).0,
        (FieldType::Bool, Value::Bool(b)) => word_u128(*b as u128),
        (FieldType::Struct(t), Value::Struct(vs)) => hash_struct(t, vs).0,
        (FieldType::StructArray(t), Value::Array(items)) => {
            let mut buf = Vec::with_capacity(32 * items.len());
            for item in items {
                buf.extend_from_slice(hash_struct(t, item).as_slice());
            }
            keccak256(buf).0
        }
        _ => unreachable!("EIP-712 value does not match its declared field type"),
    }
}

/// The `message` object: integers as decimal strings (exact in every client), bytes and
/// addresses as 0x-hex.
fn message_json(ty: &StructType, values: &[Value<'_>]) -> Json {
    let mut obj = Map::new();
    for ((name, field), value) in ty.fields.iter().zip(values) {
        obj.insert((*name).into(), value_json(field, value));
    }
    Json::Object(obj)
}

fn value_json(field: &FieldType, value: &Value<'_>) -> Json {
    match (field, value) {
        (FieldType::Struct(t), Value::Struct(vs)) => message_json(t, vs),
        (FieldType::StructArray(t), Value::Array(items)) => {
            Json::Array(items.iter().map(|vs| message_json(t, vs)).collect())
        }
        (_, Value::Address(a)) => json!(a),
        (_, Value::Uint(v)) => Json::String(v.to_string()),
        (_, Value::Bytes32(b)) => json!(b),
        (FieldType::String, Value::Bytes(b)) => {
            Json::String(String::from_utf8_lossy(b).into_owned())
        }
        (_, Value::Bytes(b)) => Json::String(format!("0x{}", alloy_primitives::hex::encode(b))),
        (_, Value::Bool(b)) => Json::Bool(*b),
        _ => unreachable!("EIP-712 value does not match its declared field type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{address, b256};

    static PERSON: StructType = StructType::new(
        "Person",
        &[("name", FieldType::String), ("wallet", FieldType::Address)],
    );
    static MAIL: StructType = StructType::new(
        "Mail",
        &[
            ("from", FieldType::Struct(&PERSON)),
            ("to", FieldType::Struct(&PERSON)),
            ("contents", FieldType::String),
        ],
    );

    #[test]
    fn encode_type_lists_referenced_types_after_the_primary_type() {
        assert_eq!(
            MAIL.encode_type(),
            "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
        );
    }

    /// The worked example of EIP-712 itself ("Ether Mail").
    #[test]
    fn hashes_the_eip712_reference_example() {
        let values = vec![
            Value::Struct(vec![
                Value::Bytes(b"Cow"),
                Value::Address(address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")),
            ]),
            Value::Struct(vec![
                Value::Bytes(b"Bob"),
                Value::Address(address!("bBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB")),
            ]),
            Value::Bytes(b"Hello, Bob!"),
        ];
        assert_eq!(
            hash_struct(&MAIL, &values),
            b256!("c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")
        );
        assert_eq!(
            keccak256(DOMAIN_TYPE),
            b256!("8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f")
        );
    }

    #[test]
    fn domain_json_round_trips_and_rejects_other_names() {
        let d = Domain::new(42, address!("00000000000000000000000000000000000000aa"));
        let text = serde_json::to_string(&d).unwrap();
        let back: Domain = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
        let wrong = text.replace("Weft", "Other");
        assert!(serde_json::from_str::<Domain>(&wrong).is_err());
    }
}
