//! The data source trait.

use async_trait::async_trait;

use super::diagnostics::Diagnostics;
use super::schema::Schema;
use super::value::Value;

/// A data source type: reads something and returns it as state.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    /// The schema of its configuration and result.
    fn schema(&self) -> Schema;

    /// Checks a configuration without side effects (values may be unknown).
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Reads: `config` is an object of the schema's type (wholly known); the result must be an
    /// object of the same type with the computed attributes filled in. Warnings may be returned
    /// in the `Ok` diagnostics.
    async fn read(&self, config: Value) -> Result<(Value, Diagnostics), Diagnostics>;
}
