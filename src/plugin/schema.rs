//! Schemas of the provider configuration, resources and data sources.

use std::collections::{BTreeMap, BTreeSet};

use super::proto::tfplugin6 as pb;
use super::types::Type;

/// A versioned schema (the version drives state upgrades).
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// Bumped whenever the stored state's shape changes; see `Resource::upgrade_state`.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A schema at version 0.
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }

    /// Sets the version.
    pub fn version(mut self, version: i64) -> Schema {
        self.version = version;
        self
    }

    /// The object type of values under this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }
}

/// A block: attributes and nested blocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    /// The attributes.
    pub attributes: Vec<Attribute>,
    /// Nested blocks.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description (the documentation of the resource or block).
    pub description: String,
    /// Whether the whole block is deprecated.
    pub deprecated: bool,
}

impl Block {
    /// An empty block with a description.
    pub fn new(description: impl Into<String>) -> Block {
        Block {
            description: description.into(),
            ..Block::default()
        }
    }

    /// Adds an attribute.
    pub fn attribute(mut self, attribute: Attribute) -> Block {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block.
    pub fn block(mut self, block: NestedBlock) -> Block {
        self.blocks.push(block);
        self
    }

    /// The attribute called `name`.
    pub fn find(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of values of this block.
    pub fn value_type(&self) -> Type {
        let mut attributes: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for nested in &self.blocks {
            attributes.insert(nested.type_name.clone(), nested.value_type());
        }
        Type::Object {
            attributes,
            optional: BTreeSet::new(),
        }
    }

    fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self.blocks.iter().map(NestedBlock::to_proto).collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
        }
    }
}

/// How a nested attribute holds its objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestingMode {
    /// One object.
    Single,
    /// A list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects.
    Map,
}

/// The attributes of a nested attribute (`attr = { ... }` in configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedAttributes {
    /// Single object or collection.
    pub nesting: NestingMode,
    /// The inner attributes.
    pub attributes: Vec<Attribute>,
}

/// What an attribute holds: a plain type, or nested attributes.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeKind {
    /// A value of a type.
    Type(Type),
    /// Nested attributes.
    Nested(NestedAttributes),
}

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Its name.
    pub name: String,
    /// Its type or nested attributes.
    pub kind: AttributeKind,
    /// Markdown description, shown in docs.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (together with `optional`: defaulted by the provider when unset).
    pub computed: bool,
    /// Hidden in plan output.
    pub sensitive: bool,
    /// Deprecated.
    pub deprecated: bool,
}

impl Attribute {
    fn with(
        name: &str,
        kind: AttributeKind,
        required: bool,
        optional: bool,
        computed: bool,
    ) -> Attribute {
        Attribute {
            name: name.to_string(),
            kind,
            description: String::new(),
            required,
            optional,
            computed,
            sensitive: false,
            deprecated: false,
        }
    }

    /// A required attribute.
    pub fn required(name: &str, ty: Type) -> Attribute {
        Attribute::with(name, AttributeKind::Type(ty), true, false, false)
    }

    /// An optional attribute.
    pub fn optional(name: &str, ty: Type) -> Attribute {
        Attribute::with(name, AttributeKind::Type(ty), false, true, false)
    }

    /// A read-only attribute set by the provider.
    pub fn computed(name: &str, ty: Type) -> Attribute {
        Attribute::with(name, AttributeKind::Type(ty), false, false, true)
    }

    /// An optional attribute the provider fills in when unset.
    pub fn optional_computed(name: &str, ty: Type) -> Attribute {
        Attribute::with(name, AttributeKind::Type(ty), false, true, true)
    }

    /// A nested attribute; set required/optional/computed with the flag methods.
    pub fn nested(name: &str, nesting: NestingMode, attributes: Vec<Attribute>) -> Attribute {
        Attribute::with(
            name,
            AttributeKind::Nested(NestedAttributes {
                nesting,
                attributes,
            }),
            false,
            true,
            false,
        )
    }

    /// Sets the Markdown description.
    pub fn description(mut self, text: impl Into<String>) -> Attribute {
        self.description = text.into();
        self
    }

    /// Marks it sensitive.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    /// Marks it deprecated.
    pub fn deprecated(mut self) -> Attribute {
        self.deprecated = true;
        self
    }

    /// Sets the required/optional/computed flags.
    pub fn flags(mut self, required: bool, optional: bool, computed: bool) -> Attribute {
        self.required = required;
        self.optional = optional;
        self.computed = computed;
        self
    }

    /// The type of its values.
    pub fn value_type(&self) -> Type {
        match &self.kind {
            AttributeKind::Type(ty) => ty.clone(),
            AttributeKind::Nested(nested) => {
                let attributes: BTreeMap<String, Type> = nested
                    .attributes
                    .iter()
                    .map(|a| (a.name.clone(), a.value_type()))
                    .collect();
                let optional = nested
                    .attributes
                    .iter()
                    .filter(|a| a.optional || a.computed)
                    .map(|a| a.name.clone())
                    .collect();
                let object = Type::Object {
                    attributes,
                    optional,
                };
                match nested.nesting {
                    NestingMode::Single => object,
                    NestingMode::List => Type::list(object),
                    NestingMode::Set => Type::set(object),
                    NestingMode::Map => Type::map(object),
                }
            }
        }
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        let (ty, nested_type) = match &self.kind {
            AttributeKind::Type(ty) => (ty.to_json_bytes(), None),
            AttributeKind::Nested(nested) => (
                Vec::new(),
                Some(pb::schema::Object {
                    attributes: nested.attributes.iter().map(Attribute::to_proto).collect(),
                    nesting: match nested.nesting {
                        NestingMode::Single => pb::schema::object::NestingMode::Single,
                        NestingMode::List => pb::schema::object::NestingMode::List,
                        NestingMode::Set => pb::schema::object::NestingMode::Set,
                        NestingMode::Map => pb::schema::object::NestingMode::Map,
                    } as i32,
                    ..Default::default()
                }),
            ),
        };
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: ty,
            nested_type,
            description: self.description.clone(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
            write_only: false,
        }
    }
}

/// How a nested block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockNesting {
    /// At most one block (null when absent).
    Single,
    /// Exactly one block whose attributes may all be omitted (never null).
    Group,
    /// A list of blocks.
    List,
    /// A set of blocks.
    Set,
    /// Blocks with a label, as a map.
    Map,
}

/// A nested block (`name { ... }` in configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    /// The block's name.
    pub type_name: String,
    /// Its contents.
    pub block: Block,
    /// How it repeats.
    pub nesting: BlockNesting,
    /// Minimum number of blocks (list/set).
    pub min_items: i64,
    /// Maximum number of blocks (list/set; 0 = no limit).
    pub max_items: i64,
}

impl NestedBlock {
    /// A nested block without item limits.
    pub fn new(type_name: &str, nesting: BlockNesting, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.to_string(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
        }
    }

    /// The type of its values.
    pub fn value_type(&self) -> Type {
        let object = self.block.value_type();
        match self.nesting {
            BlockNesting::Single | BlockNesting::Group => object,
            BlockNesting::List => Type::list(object),
            BlockNesting::Set => Type::set(object),
            BlockNesting::Map => Type::map(object),
        }
    }

    fn to_proto(&self) -> pb::schema::NestedBlock {
        use pb::schema::nested_block::NestingMode as Mode;
        pb::schema::NestedBlock {
            type_name: self.type_name.clone(),
            block: Some(self.block.to_proto(0)),
            nesting: match self.nesting {
                BlockNesting::Single => Mode::Single,
                BlockNesting::Group => Mode::Group,
                BlockNesting::List => Mode::List,
                BlockNesting::Set => Mode::Set,
                BlockNesting::Map => Mode::Map,
            } as i32,
            min_items: self.min_items,
            max_items: self.max_items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new(
            Block::new("A pool.")
                .attribute(Attribute::computed("id", Type::String).description("Identifier."))
                .attribute(Attribute::required("cidr", Type::String).sensitive())
                .attribute(Attribute::nested(
                    "limits",
                    NestingMode::List,
                    vec![Attribute::optional("max", Type::Number)],
                ))
                .block(NestedBlock::new(
                    "rule",
                    BlockNesting::Set,
                    Block::new("A rule.").attribute(Attribute::required("length", Type::Number)),
                )),
        )
        .version(3)
    }

    #[test]
    fn value_type_covers_attributes_nested_attributes_and_blocks() {
        let Type::Object { attributes, .. } = schema().value_type() else {
            panic!("a block is an object");
        };
        assert_eq!(attributes["cidr"], Type::String);
        assert_eq!(
            attributes["rule"],
            Type::set(Type::object([("length", Type::Number)]))
        );
        let Type::List(limit) = &attributes["limits"] else {
            panic!("list nesting");
        };
        assert!(matches!(&**limit, Type::Object { optional, .. } if optional.contains("max")));
    }

    #[test]
    fn wire_form_keeps_flags_versions_and_markdown() {
        let proto = schema().to_proto();
        assert_eq!(proto.version, 3);
        let block = proto.block.unwrap();
        assert_eq!(block.version, 3);
        assert_eq!(block.description_kind, pb::StringKind::Markdown as i32);
        let cidr = block.attributes.iter().find(|a| a.name == "cidr").unwrap();
        assert!(cidr.required && cidr.sensitive && !cidr.computed);
        let limits = block
            .attributes
            .iter()
            .find(|a| a.name == "limits")
            .unwrap();
        assert!(limits.r#type.is_empty());
        assert_eq!(
            limits.nested_type.as_ref().unwrap().nesting,
            pb::schema::object::NestingMode::List as i32
        );
        assert_eq!(block.block_types[0].type_name, "rule");
        assert_eq!(
            block.block_types[0].nesting,
            pb::schema::nested_block::NestingMode::Set as i32
        );
    }
}
