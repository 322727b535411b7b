//! The database a configured provider works on, and what it says when that database is not the
//! one Terraform's state was made in.
//!
//! A wrong `database` must never silently mean a new, empty address space. So the file is opened
//! lazily and never created by a plan, a refresh or a data source: only an apply that creates an
//! `ipam` (the root of everything else) creates it. And when an object in the state is missing,
//! the database's audit log (its identity, which copies and backups carry along) tells an object
//! deleted from this database from one that was never made in it; only the first is "gone".

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::ipam::{self, Error, ObjectKind};
use crate::plugin::{
    async_trait, logging, ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, ImportedObject,
    MoveStateRequest, MoveStateResponse, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
    Resource, Schema, Value,
};
use crate::store::{ObjectHistory, SqliteOptions, SqliteStore, Store};

use super::StoreHandle;

/// The database of one configured provider: its path, and the store once the file exists.
pub struct Database {
    path: PathBuf,
    options: SqliteOptions,
    opened: Mutex<Option<Arc<dyn Store>>>,
}

/// What probably happened, and what to do, when the database lacks objects Terraform has in
/// its state. Shared by every message about a database that is not the expected one.
const CAUSES: &str = "the provider's `database` (or IPAM_DATABASE) changed or has a typo, this root module lacks the `database` setting its objects were made with (the default is terraform-ipam.db in the working directory), or the database file was moved";

impl Database {
    /// The database at `path` (relative to the working directory), opened when it exists.
    pub fn configure(path: &Path, options: SqliteOptions) -> ipam::Result<Database> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let database = Database {
            path,
            options,
            opened: Mutex::new(None),
        };
        if let Some(dir) = database.path.parent() {
            if !dir.is_dir() {
                return Err(Error::Storage {
                    message: format!(
                        "the directory of the database {} does not exist; create it, or fix the path",
                        database.location()
                    ),
                });
            }
        }
        match database.existing()? {
            Some(_) => logging::debug(format!("database {}: opened", database.location())),
            None => logging::debug(format!(
                "database {}: does not exist; an apply that creates an ipam creates it",
                database.location()
            )),
        }
        Ok(database)
    }

    /// A server database already connected (PostgreSQL): `location` is how errors name it
    /// (the URL without its password).
    pub fn connected(location: String, store: Arc<dyn Store>) -> Database {
        Database {
            path: PathBuf::from(location),
            options: SqliteOptions::new(""),
            opened: Mutex::new(Some(store)),
        }
    }

    /// The absolute path, as shown in errors and logs.
    pub fn location(&self) -> String {
        self.path.display().to_string()
    }

    /// The store when the database exists (it is opened on first use), else `None`. Never
    /// creates a file.
    pub fn existing(&self) -> ipam::Result<Option<Arc<dyn Store>>> {
        let mut opened = self.lock();
        if opened.is_none() {
            if let Some(store) = SqliteStore::open_existing(&self.path, self.options.clone())? {
                if store.is_read_only() {
                    logging::debug(format!(
                        "database {}: opened read-only (changes will be refused)",
                        self.location()
                    ));
                }
                *opened = Some(Arc::new(store));
            }
        }
        Ok(opened.clone())
    }

    /// The store, creating the database file (mode 0600) when it does not exist.
    pub fn create(&self) -> ipam::Result<Arc<dyn Store>> {
        if let Some(store) = self.existing()? {
            return Ok(store);
        }
        let mut opened = self.lock();
        if let Some(store) = opened.as_ref() {
            return Ok(store.clone());
        }
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&self.path, self.options.clone())?);
        logging::info(format!("database {}: created", self.location()));
        *opened = Some(store.clone());
        Ok(store)
    }

    /// Why there is no store: the file does not exist, or is empty (SQLite never wrote to it).
    fn absence(&self) -> &'static str {
        if self.path.exists() {
            "is an empty file"
        } else {
            "does not exist"
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<dyn Store>>> {
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The error for a call that needs a database that does not exist.
    pub fn absent(&self) -> Diagnostic {
        Diagnostic::error(
            "IPAM Database Not Found",
            format!(
                "The database {} {}; a plan, a refresh or a data source never creates one (an apply that creates an `ipam` resource does). If it should exist, perhaps {CAUSES}. Nothing was changed and no database file was created.",
                self.location(),
                self.absence()
            ),
        )
    }

    /// What to say of an object named in a request (an id in the configuration, an import) that
    /// this database does not hold, given what its audit log knows of it.
    pub fn not_found(&self, history: ObjectHistory, kind: ObjectKind, id: &str) -> String {
        let location = self.location();
        match history {
            ObjectHistory::Recorded => format!(
                "The {kind} {id} was deleted from the database {location} (its audit log records it). Check the id."
            ),
            ObjectHistory::Unrecorded { empty } => {
                let why = if empty {
                    "which has never held any object"
                } else {
                    "and was never made in it (its audit log has no record of the id)"
                };
                format!(
                    "The {kind} {id} is not in the database {location}, {why}. Check the id, and that `database` (or IPAM_DATABASE) points at the database it was made in."
                )
            }
        }
    }

    /// The error for an object in the state that this database does not hold, or `None` when
    /// the database's audit log says it was made here and has been deleted since (then it is
    /// gone, and Terraform plans to create it again). `store` is `None` when the database file
    /// does not exist.
    pub fn missing_object(
        &self,
        store: Option<&dyn Store>,
        noun: &str,
        id: &str,
    ) -> ipam::Result<Option<Diagnostic>> {
        let location = self.location();
        let what = match store.map(|store| store.history(id)).transpose()? {
            Some(ObjectHistory::Recorded) => {
                logging::debug(format!(
                    "{noun} {id}: deleted from database {location} (its audit log records it); Terraform will plan to create it again"
                ));
                return Ok(None);
            }
            None => format!("the database {location} {}", self.absence()),
            Some(ObjectHistory::Unrecorded { empty: true }) => format!(
                "the database {location} has never held any object (an empty file, perhaps created by mistake)"
            ),
            Some(ObjectHistory::Unrecorded { empty: false }) => format!(
                "the database {location} has no record of it, so it was not made in this database (or the database is a copy or backup older than the object)"
            ),
        };
        Ok(Some(Diagnostic::error(
            "Object Not In This IPAM Database",
            format!(
                "The {noun} {id} is in the Terraform state, but {what}. Probably {CAUSES}. Nothing was changed and no database file was created. Point `database` at the database file this object was made in and run the command again. If that database is lost for good, remove this provider's objects from the state (`terraform state rm`) before applying again."
            ),
        )))
    }
}

/// A resource whose plans first check that the database holds what the state says: a plan of
/// an object in the state against a database that does not exist fails as a refresh would. This
/// matters with `-refresh=false`, where no refresh runs and the plan would otherwise go ahead
/// (and the apply of a new `ipam` would create a new, empty address space beside the state).
pub struct Guarded {
    type_name: String,
    inner: Arc<dyn Resource>,
    store: StoreHandle,
}

impl Guarded {
    /// `inner`, guarded by the database of `store`.
    pub fn new(type_name: &str, inner: Arc<dyn Resource>, store: &StoreHandle) -> Guarded {
        Guarded {
            type_name: type_name.to_string(),
            inner,
            store: store.clone(),
        }
    }
}

#[async_trait]
impl Resource for Guarded {
    fn schema(&self) -> Schema {
        self.inner.schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        self.inner.validate(config).await
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, Diagnostics> {
        if let Some(id) = request.prior_state.attr("id").as_str() {
            self.store.check_present(&self.type_name, id).await?;
        }
        self.inner.plan(request).await
    }

    async fn apply(&self, request: ApplyRequest) -> Result<ApplyResponse, Diagnostics> {
        self.inner.apply(request).await
    }

    async fn read(&self, request: ReadRequest) -> Result<ReadResponse, Diagnostics> {
        self.inner.read(request).await
    }

    async fn import(&self, id: &str) -> Result<ImportedObject, Diagnostics> {
        self.inner.import(id).await
    }

    async fn upgrade_state(
        &self,
        version: i64,
        raw_state: serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        self.inner.upgrade_state(version, raw_state).await
    }

    async fn move_state(
        &self,
        request: MoveStateRequest,
    ) -> Result<MoveStateResponse, Diagnostics> {
        self.inner.move_state(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipam::NewIpam;

    fn options() -> SqliteOptions {
        SqliteOptions::new("test")
    }

    #[test]
    fn only_create_makes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ipam.db");
        let database = Database::configure(&path, options()).unwrap();
        assert!(database.existing().unwrap().is_none());
        assert!(!path.exists());
        assert!(database.absent().detail.contains("does not exist"));
        let missing = database
            .missing_object(None, "pool", "ipam-pool-1")
            .unwrap();
        assert!(missing.unwrap().detail.contains("does not exist"));
        database.create().unwrap();
        assert!(path.exists());
        assert!(database.existing().unwrap().is_some());
    }

    #[test]
    fn a_missing_directory_is_refused_at_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nowhere/ipam.db");
        let error = Database::configure(&path, options()).err().unwrap();
        assert!(error.to_string().contains("does not exist"), "{error}");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn missing_objects_are_told_apart_by_the_audit_log() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::configure(&dir.path().join("ipam.db"), options()).unwrap();
        let store = database.create().unwrap();
        let never = database
            .missing_object(Some(store.as_ref()), "ipam", "ipam-0123456789abcdef")
            .unwrap()
            .unwrap();
        assert!(
            never.detail.contains("has never held any object"),
            "{}",
            never.detail
        );
        let ipam = store.create_ipam(&NewIpam::default()).unwrap();
        store.delete_ipam(&ipam.id, false).unwrap();
        let deleted = database.missing_object(Some(store.as_ref()), "ipam", &ipam.id);
        assert!(deleted.unwrap().is_none());
        let elsewhere = database
            .missing_object(Some(store.as_ref()), "ipam", "ipam-0123456789abcdef")
            .unwrap()
            .unwrap();
        assert!(
            elsewhere.detail.contains("has no record of it"),
            "{}",
            elsewhere.detail
        );
        assert!(elsewhere.detail.contains(&database.location()));
        assert!(!elsewhere.detail.contains("deleted outside"));
    }
}
