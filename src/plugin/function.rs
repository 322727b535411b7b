//! Provider-defined functions (Terraform >= 1.8).

use async_trait::async_trait;

use super::proto::tfplugin6 as pb;
use super::types::Type;
use super::value::Value;

/// One positional parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// Display name.
    pub name: String,
    /// Type constraint.
    pub ty: Type,
    /// Whether null may be passed (else Terraform rejects it before calling).
    pub allow_null: bool,
    /// Whether unknown values are passed (else Terraform returns unknown without calling).
    pub allow_unknown: bool,
    /// Markdown description.
    pub description: String,
}

impl Parameter {
    /// A parameter that accepts neither null nor unknown.
    pub fn new(name: &str, ty: Type, description: &str) -> Parameter {
        Parameter {
            name: name.to_string(),
            ty,
            allow_null: false,
            allow_unknown: false,
            description: description.to_string(),
        }
    }

    fn to_proto(&self) -> pb::function::Parameter {
        pb::function::Parameter {
            name: self.name.clone(),
            r#type: self.ty.to_json_bytes(),
            allow_null_value: self.allow_null,
            allow_unknown_values: self.allow_unknown,
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
        }
    }
}

/// What a function takes and returns, and its documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDefinition {
    /// Positional parameters.
    pub parameters: Vec<Parameter>,
    /// A final parameter taking any number of arguments.
    pub variadic: Option<Parameter>,
    /// The result type.
    pub return_type: Type,
    /// One line.
    pub summary: String,
    /// Markdown documentation.
    pub description: String,
    /// Set when deprecated.
    pub deprecation_message: String,
}

impl FunctionDefinition {
    /// The wire form.
    pub fn to_proto(&self) -> pb::Function {
        pb::Function {
            parameters: self.parameters.iter().map(Parameter::to_proto).collect(),
            variadic_parameter: self.variadic.as_ref().map(Parameter::to_proto),
            r#return: Some(pb::function::Return {
                r#type: self.return_type.to_json_bytes(),
            }),
            summary: self.summary.clone(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecation_message: self.deprecation_message.clone(),
        }
    }
}

/// Why a function call failed; `argument` points at the offending argument (0-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    /// The message shown to the user.
    pub text: String,
    /// Index of the argument at fault.
    pub argument: Option<usize>,
}

impl FunctionError {
    /// An error about the call as a whole.
    pub fn new(text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: None,
        }
    }

    /// An error about argument `index`.
    pub fn argument(index: usize, text: impl Into<String>) -> FunctionError {
        FunctionError {
            text: text.into(),
            argument: Some(index),
        }
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::FunctionError {
        pb::FunctionError {
            text: self.text.clone(),
            function_argument: self.argument.map(|i| i as i64),
        }
    }
}

/// A provider-defined function.
#[async_trait]
pub trait Function: Send + Sync + 'static {
    /// Parameters, return type and documentation.
    fn definition(&self) -> FunctionDefinition;

    /// Computes the result; `arguments` are decoded against the parameter types (variadic
    /// arguments follow the positional ones).
    async fn call(&self, arguments: Vec<Value>) -> Result<Value, FunctionError>;
}
