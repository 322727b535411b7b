//! What every IPAM resource and data source shares: the store handle the provider configures,
//! running blocking store calls off the async runtime, turning store errors into diagnostics with
//! attribute paths, and converting between domain values and Terraform values.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use ipnet::IpNet;

use crate::ipam::{self, parse_cidr, AddressFamily, Tags};
use crate::plugin::{
    AttributePath, Diagnostic, Diagnostics, ImportedObject, Number, ReadRequest, ReadResponse,
    Schema, Value,
};
use crate::store::Store;

use super::database::Database;

/// The database the provider configures in `ConfigureProvider`, shared by every resource and
/// data source. The database file is opened on first use and created only by
/// [`StoreHandle::run_creating`] (see `Database`).
#[derive(Clone, Default)]
pub struct StoreHandle(Arc<OnceLock<Arc<Database>>>);

/// What a blocking store call came back with: the call's own result, or the database could not
/// be opened (`Err`), or it does not exist (`Ok(None)`).
type Opened<T> = ipam::Result<Option<T>>;

impl StoreHandle {
    /// Installs the database; a second call (Terraform configures each process once) is ignored.
    pub fn install(&self, database: Database) {
        let _ = self.0.set(Arc::new(database));
    }

    /// The configured database's location (for logs), or `None` before configuration.
    pub fn location(&self) -> Option<String> {
        self.0.get().map(|database| database.location())
    }

    /// The configured database, or an error diagnostic when the provider was not configured.
    fn database(&self) -> Result<Arc<Database>, Diagnostics> {
        self.0.get().cloned().ok_or_else(|| {
            Diagnostic::error(
                "Provider Not Configured",
                "The ipam provider was called before it was configured. This is a bug in Terraform or the provider; please report it.",
            )
            .into()
        })
    }

    /// Runs `call` on the store in a blocking thread (SQLite waits for other writers) and maps a
    /// store error into a diagnostic with `summary`, attached to the attribute the error is about
    /// when `schema` has it. A database that does not exist is an error; nothing creates it.
    pub async fn run<T, F>(&self, summary: &str, schema: &Schema, call: F) -> Result<T, Diagnostics>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> ipam::Result<T> + Send + 'static,
    {
        match self.try_run(call).await? {
            Ok(value) => Ok(value),
            Err(error) => Err(self.explained(summary, schema, error).await.into()),
        }
    }

    /// Like [`StoreHandle::run`], creating the database file when it does not exist yet: only
    /// the apply that creates an `ipam` (the root every other object hangs from) may.
    pub async fn run_creating<T, F>(
        &self,
        summary: &str,
        schema: &Schema,
        call: F,
    ) -> Result<T, Diagnostics>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> ipam::Result<T> + Send + 'static,
    {
        let database = self.database()?;
        self.blocking(move || Ok(Some(call(database.create()?.as_ref()))))
            .await?
            .map_err(|error| self.diagnostic(summary, schema, &error).into())
    }

    /// Like [`StoreHandle::run`] for a reader to which no database means nothing recorded yet:
    /// `call` gets `None` when the database file does not exist (or is empty). Never creates it.
    pub async fn run_if_exists<T, F>(
        &self,
        summary: &str,
        schema: &Schema,
        call: F,
    ) -> Result<T, Diagnostics>
    where
        T: Send + 'static,
        F: FnOnce(Option<&dyn Store>) -> ipam::Result<T> + Send + 'static,
    {
        let database = self.database()?;
        match self
            .blocking(move || Ok(Some(call(database.existing()?.as_deref()))))
            .await?
        {
            Ok(value) => Ok(value),
            Err(error) => Err(self.explained(summary, schema, error).await.into()),
        }
    }

    /// Like [`StoreHandle::run`] but hands the store error back to the caller (to treat
    /// `NotFound` as "gone", for example).
    pub async fn try_run<T, F>(&self, call: F) -> Result<ipam::Result<T>, Diagnostics>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> ipam::Result<T> + Send + 'static,
    {
        let database = self.database()?;
        self.blocking(move || Ok(database.existing()?.map(|store| call(store.as_ref()))))
            .await
    }

    /// Runs `work` in a blocking thread; a database that cannot be opened or does not exist is
    /// an error diagnostic naming it.
    async fn blocking<T, F>(&self, work: F) -> Result<T, Diagnostics>
    where
        T: Send + 'static,
        F: FnOnce() -> Opened<T> + Send + 'static,
    {
        let database = self.database()?;
        let outcome = tokio::task::spawn_blocking(work).await.map_err(|join| {
            Diagnostics::from(Diagnostic::error(
                "Internal Error",
                format!("the storage call did not complete: {join}"),
            ))
        })?;
        match outcome {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(database.absent().into()),
            Err(error) => Err(Diagnostic::error(
                "Cannot Open The IPAM Database",
                sentence(&located(&error.to_string(), &database.location())),
            )
            .into()),
        }
    }

    /// Fails as a refresh would when the database does not exist: an object of `type_name` with
    /// this `id` is in the state, so it must have been made in some database.
    pub async fn check_present(&self, type_name: &str, id: &str) -> Result<(), Diagnostics> {
        let database = self.database()?;
        let (type_name, id) = (type_name.to_string(), id.to_string());
        let missing = self
            .blocking(move || {
                Ok(Some(match database.existing()? {
                    Some(_) => None,
                    None => database.missing_object(None, &type_name, &id)?,
                }))
            })
            .await?;
        missing.map_or(Ok(()), |diagnostic| Err(diagnostic.into()))
    }

    /// [`StoreHandle::diagnostic`], and for an object that does not exist, what the database's
    /// audit log knows of it: deleted from this database, or never made in it.
    async fn explained(&self, summary: &str, schema: &Schema, error: ipam::Error) -> Diagnostic {
        let mut diagnostic = self.diagnostic(summary, schema, &error);
        if let (ipam::Error::NotFound { kind, id }, Ok(database)) = (&error, self.database()) {
            let lookup = id.clone();
            if let Ok(Ok(history)) = self.try_run(move |store| store.history(&lookup)).await {
                diagnostic.detail = database.not_found(history, *kind, id);
            }
        }
        diagnostic
    }

    /// [`error_diagnostic`], naming the database when the error is about storage or a missing
    /// object.
    fn diagnostic(&self, summary: &str, schema: &Schema, error: &ipam::Error) -> Diagnostic {
        let mut diagnostic = error_diagnostic(summary, schema, error);
        if let (Some(location), ipam::Error::Storage { .. } | ipam::Error::NotFound { .. }) =
            (self.location(), error)
        {
            diagnostic.detail = located(&diagnostic.detail, &location);
        }
        diagnostic
    }
}

/// `text` naming the database at `location`, unless it does already.
fn located(text: &str, location: &str) -> String {
    if text.contains(location) {
        text.to_string()
    } else {
        format!("{} (database {location}).", text.trim_end_matches('.'))
    }
}

impl StoreHandle {
    /// Runs a delete; an object that is already gone counts as deleted (someone removed it
    /// outside Terraform, which is what destroy wanted anyway).
    pub async fn delete<F>(
        &self,
        summary: &str,
        schema: &Schema,
        call: F,
    ) -> Result<(), Diagnostics>
    where
        F: FnOnce(&dyn Store) -> ipam::Result<()> + Send + 'static,
    {
        match self.try_run(call).await? {
            Ok(()) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(self.diagnostic(summary, schema, &error).into()),
        }
    }

    /// Looks an object up; `None` when it no longer exists.
    pub async fn find<T, F>(
        &self,
        summary: &str,
        schema: &Schema,
        call: F,
    ) -> Result<Option<T>, Diagnostics>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> ipam::Result<T> + Send + 'static,
    {
        match self.try_run(call).await? {
            Ok(found) => Ok(Some(found)),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(self.diagnostic(summary, schema, &error).into()),
        }
    }
}

impl StoreHandle {
    /// ReadResource of an object found by the state's `id`: its state as stored now (shaped like
    /// the current state), or null when it was deleted from this database (Terraform then plans
    /// to create it again). An object this database never held (the database does not exist,
    /// is empty, or its audit log never saw the id) is an error naming the database: it was
    /// made in another one, and re-creating it here would hand out a second address space.
    pub async fn read_by_id<T: Send + 'static>(
        &self,
        by_id: &ById<T>,
        schema: &Schema,
        request: ReadRequest,
    ) -> Result<ReadResponse, Diagnostics> {
        let ById { noun, get, state } = *by_id;
        let id = string_attr(&request.current_state, "id").unwrap_or_default();
        let database = self.database()?;
        let noun_text = noun.to_lowercase();
        let read = self
            .blocking(move || {
                let store = database.existing()?;
                let missing = match store.as_ref().map(|store| get(store.as_ref(), &id)) {
                    Some(Ok(object)) => return Ok(Some(Read::Found(object))),
                    Some(Err(error)) if !is_not_found(&error) => {
                        return Ok(Some(Read::Failed(error)))
                    }
                    _ => database.missing_object(store.as_deref(), &noun_text, &id)?,
                };
                Ok(Some(missing.map_or(Read::Gone, Read::NotHere)))
            })
            .await?;
        let new_state = match read {
            Read::Found(object) => state(&object, &request.current_state),
            Read::Gone => Value::Null,
            Read::NotHere(diagnostic) => return Err(diagnostic.into()),
            Read::Failed(error) => {
                return Err(self
                    .diagnostic(&format!("Read {noun} Error"), schema, &error)
                    .into())
            }
        };
        Ok(ReadResponse::new(new_state, request.private))
    }

    /// ImportResourceState of an object by id: its state as stored, with the configuration-only
    /// attributes null.
    pub async fn import_by_id<T: Send + 'static>(
        &self,
        by_id: &ById<T>,
        schema: &Schema,
        id: &str,
    ) -> Result<ImportedObject, Diagnostics> {
        let ById { noun, get, state } = *by_id;
        let id = id.trim().to_string();
        let object = self
            .run(&format!("Import {noun} Error"), schema, move |store| {
                get(store, &id)
            })
            .await?;
        Ok(ImportedObject {
            state: state(&object, &Value::Null),
            private: Vec::new(),
        })
    }
}

/// How a resource finds its object by `id`, for ReadResource and ImportResourceState alike.
pub struct ById<T> {
    /// The object's name in messages ("Pool CIDR"): "Read Pool CIDR Error".
    pub noun: &'static str,
    /// Fetches the object; a not-found error means it is not there.
    pub get: fn(&dyn Store, &str) -> ipam::Result<T>,
    /// Its state, shaped like the given value (the current state; null on import).
    pub state: fn(&T, &Value) -> Value,
}

/// What a refresh found of an object in the state.
enum Read<T> {
    /// It is in the database.
    Found(T),
    /// It was made in this database and has been deleted since.
    Gone,
    /// This database never held it: the error to show.
    NotHere(Diagnostic),
    /// The store failed.
    Failed(ipam::Error),
}

/// A diagnostic for a store error: `summary` names the operation ("Create Allocation Error"), the
/// detail is the error's own text, and the attribute path points at the input it is about when
/// the schema has that attribute.
pub fn error_diagnostic(summary: &str, schema: &Schema, error: &ipam::Error) -> Diagnostic {
    let detail = sentence(&error.to_string()) + &super::advice::in_terraform(error);
    let diagnostic = Diagnostic::error(summary, detail);
    // a missing parent object is about the attribute that names it
    let input = error.input().or(match error {
        ipam::Error::NotFound { kind, .. } => match kind {
            ipam::ObjectKind::Ipam => Some("ipam_id"),
            ipam::ObjectKind::Scope => Some("scope_id"),
            ipam::ObjectKind::Pool => Some("pool_id"),
            _ => None,
        },
        _ => None,
    });
    match input {
        Some(input) if schema.block.find(input).is_some() => {
            diagnostic.with_attribute(AttributePath::root(input))
        }
        _ => diagnostic,
    }
}

/// The same diagnostics, every one pointing at `attribute` (a looked-up object named by an
/// attribute other than the one its error would name).
pub fn pointing_at(mut diagnostics: Diagnostics, attribute: &str) -> Diagnostics {
    for diagnostic in &mut diagnostics.0 {
        diagnostic.attribute = Some(AttributePath::root(attribute));
    }
    diagnostics
}

/// An error diagnostic about one attribute.
pub fn attribute_error(
    attribute: &str,
    summary: impl Into<String>,
    detail: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error(summary, detail).with_attribute(AttributePath::root(attribute))
}

/// True when `error` says the object does not exist.
pub fn is_not_found(error: &ipam::Error) -> bool {
    matches!(error, ipam::Error::NotFound { .. })
}

// ----- reading Terraform values -------------------------------------------------------------

/// A known string attribute, or `None` when null or unknown.
pub fn string_attr(object: &Value, name: &str) -> Option<String> {
    object.attr(name).as_str().map(str::to_string)
}

/// A known boolean attribute, `false` when null or unknown.
pub fn bool_attr(object: &Value, name: &str) -> bool {
    object.attr(name).as_bool().unwrap_or(false)
}

/// A known string map attribute; empty when null or unknown.
pub fn tags_attr(object: &Value, name: &str) -> Tags {
    object.attr(name).as_string_map().unwrap_or_default()
}

/// A known string set or list attribute; empty when null or unknown.
pub fn strings_attr(object: &Value, name: &str) -> Vec<String> {
    object
        .attr(name)
        .as_elements()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A known prefix length attribute. A number that is not a whole number from 0 to 128 is an
/// error naming the attribute.
pub fn prefix_len_attr(object: &Value, name: &str) -> Result<Option<u8>, Diagnostic> {
    match object.attr(name) {
        Value::Number(number) => match number.as_i64() {
            Some(n) if (0..=128).contains(&n) => Ok(Some(n as u8)),
            _ => Err(attribute_error(
                name,
                "Invalid Netmask Length",
                format!(
                    "{name} is {}, which is not a prefix length; give a whole number from 0 to 32 for IPv4 or to 128 for IPv6, for example 24.",
                    number.to_plain_string()
                ),
            )),
        },
        _ => Ok(None),
    }
}

/// A known CIDR attribute, parsed with the host-bits check.
pub fn cidr_attr(
    object: &Value,
    name: &'static str,
    summary: &str,
) -> Result<Option<IpNet>, Diagnostic> {
    match object.attr(name).as_str() {
        Some(text) => parse_cidr(text, name)
            .map(Some)
            .map_err(|error| attribute_error(name, summary, sentence(&error.to_string()))),
        None => Ok(None),
    }
}

/// Every element of a known set of CIDRs, each parsed with the host-bits check.
pub fn cidrs_attr(
    object: &Value,
    name: &'static str,
    summary: &str,
) -> Result<Vec<IpNet>, Diagnostic> {
    strings_attr(object, name)
        .iter()
        .map(|text| {
            parse_cidr(text, name)
                .map_err(|error| attribute_error(name, summary, sentence(&error.to_string())))
        })
        .collect()
}

/// An address family attribute (`ipv4` or `ipv6`).
pub fn family_attr(object: &Value, name: &str) -> Result<Option<AddressFamily>, Diagnostic> {
    match object.attr(name).as_str() {
        Some("ipv4") => Ok(Some(AddressFamily::Ipv4)),
        Some("ipv6") => Ok(Some(AddressFamily::Ipv6)),
        Some(other) => Err(attribute_error(
            name,
            "Invalid Address Family",
            format!("{name} is {other:?}; it must be \"ipv4\" or \"ipv6\"."),
        )),
        None => Ok(None),
    }
}

/// An error message as a sentence for a diagnostic's detail: kept lowercase-first as written (it
/// often starts with an attribute name, which must stay as spelled), ending in one full stop.
pub fn sentence(text: &str) -> String {
    let mut out = text.to_string();
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

// ----- writing Terraform values -------------------------------------------------------------

/// An optional string as stored, shaped like `like`: the store keeps "no description" as an empty
/// string, Terraform as null, and a state must repeat the configuration exactly.
pub fn optional_string(stored: &str, like: &Value) -> Value {
    if stored.is_empty() && !matches!(like, Value::String(s) if s.is_empty()) {
        Value::Null
    } else {
        Value::string(stored)
    }
}

/// An optional string that may be absent in the store.
pub fn optional_string_opt(stored: Option<&str>, like: &Value) -> Value {
    optional_string(stored.unwrap_or(""), like)
}

/// An optional map of strings as stored, shaped like `like` (empty and null are the same).
pub fn optional_tags(stored: &Tags, like: &Value) -> Value {
    if stored.is_empty() && !matches!(like, Value::Map(m) if m.is_empty()) {
        Value::Null
    } else {
        Value::string_map(stored.clone())
    }
}

/// A map of strings that is always set (computed results).
pub fn tags_value(stored: &Tags) -> Value {
    Value::string_map(stored.clone())
}

/// An optional set of strings as stored, shaped like `like` (empty and null are the same).
pub fn optional_string_set(stored: &[String], like: &Value) -> Value {
    if stored.is_empty() && !matches!(like, Value::Set(s) if s.is_empty()) {
        Value::Null
    } else {
        Value::Set(stored.iter().map(Value::string).collect())
    }
}

/// An optional boolean as stored, shaped like `like` (false and null are the same).
pub fn optional_bool(stored: bool, like: &Value) -> Value {
    if !stored && like.is_null() {
        Value::Null
    } else {
        Value::Bool(stored)
    }
}

/// An optional prefix length.
pub fn optional_len(stored: Option<u8>) -> Value {
    stored.map_or(Value::Null, |n| Value::int(i64::from(n)))
}

/// A CIDR as stored, keeping the text of `like` when it names the same network (so that
/// `FD00::/64` written by a user does not show as a change to `fd00::/64`).
pub fn cidr_value(stored: &IpNet, like: &Value) -> Value {
    if let Some(text) = like.as_str() {
        if text.trim().parse::<IpNet>().ok().as_ref() == Some(stored) {
            return Value::string(text);
        }
    }
    Value::string(stored.to_string())
}

/// An optional set of CIDRs as stored, keeping the texts of `like` when they name the same
/// networks (empty and null are the same).
pub fn optional_cidr_set(stored: &[IpNet], like: &Value) -> Value {
    if let Some(items) = like.as_elements() {
        let mut given: Vec<IpNet> = items
            .iter()
            .filter_map(|v| v.as_str().and_then(|t| t.trim().parse().ok()))
            .collect();
        let mut wanted = stored.to_vec();
        given.sort();
        wanted.sort();
        if given.len() == items.len() && given == wanted {
            return like.clone();
        }
    }
    let texts: Vec<String> = stored.iter().map(ToString::to_string).collect();
    optional_string_set(&texts, like)
}

/// A whole number of any size (IPv6 address counts exceed 64 bits).
pub fn count_value(count: u128) -> Value {
    Value::Number(Number::parse(&count.to_string()).unwrap_or_else(|| Number::from(0i64)))
}

/// A decimal number rounded to two places (utilization percentages).
pub fn percent_value(percent: f64) -> Value {
    let rounded = (percent * 100.0).round() / 100.0;
    let text = if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    };
    Value::Number(Number::parse(&text).unwrap_or_else(|| Number::from(0i64)))
}

/// The object type whose attributes are these attributes (for computed lists of objects).
pub fn object_type(attributes: &[crate::plugin::Attribute]) -> crate::plugin::Type {
    crate::plugin::Type::object(
        attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect::<Vec<_>>(),
    )
}

/// Builds an object value from name/value pairs.
pub fn object(attributes: Vec<(&str, Value)>) -> Value {
    Value::Object(
        attributes
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stored_values_follow_the_configuration_shape() {
        assert_eq!(optional_string("", &Value::Null), Value::Null);
        assert_eq!(optional_string("", &Value::string("")), Value::string(""));
        assert_eq!(optional_string("x", &Value::Null), Value::string("x"));
        let empty = Tags::new();
        assert_eq!(optional_tags(&empty, &Value::Null), Value::Null);
        assert_eq!(
            optional_tags(&empty, &Value::Map(BTreeMap::new())),
            Value::Map(BTreeMap::new())
        );
    }

    #[test]
    fn cidr_text_of_the_configuration_is_kept_when_it_is_the_same_network() {
        let stored: IpNet = "fd00::/64".parse().unwrap();
        assert_eq!(
            cidr_value(&stored, &Value::string("FD00:0::/64")),
            Value::string("FD00:0::/64")
        );
        assert_eq!(
            cidr_value(&stored, &Value::Null),
            Value::string("fd00::/64")
        );
        assert_eq!(
            cidr_value(&stored, &Value::string("fd00:1::/64")),
            Value::string("fd00::/64")
        );
    }

    #[test]
    fn counts_and_percentages_are_exact_numbers() {
        assert_eq!(
            count_value(1u128 << 80).as_number().unwrap().as_str(),
            "1208925819614629174706176"
        );
        assert_eq!(percent_value(25.0).as_number().unwrap().as_str(), "25");
        assert_eq!(
            percent_value(100.0 / 3.0).as_number().unwrap().as_str(),
            "33.33"
        );
    }

    #[test]
    fn prefix_lengths_must_be_whole_numbers_in_range() {
        let config = object(vec![
            ("ok", Value::int(24)),
            ("big", Value::int(129)),
            ("frac", Value::Number(Number::parse("24.5").unwrap())),
        ]);
        assert_eq!(prefix_len_attr(&config, "ok").unwrap(), Some(24));
        assert!(prefix_len_attr(&config, "big").is_err());
        assert!(prefix_len_attr(&config, "frac").is_err());
        assert_eq!(prefix_len_attr(&config, "missing").unwrap(), None);
    }
}
