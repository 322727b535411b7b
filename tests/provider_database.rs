//! End-to-end tests of the database a root module works on, with the real `terraform` binary
//! (the newest on PATH and 1.0.3): a wrong `database` is an error naming it and never a new,
//! empty address space; only an apply creates a database; a copy keeps working; a database the
//! user can only read serves plans; the DEBUG log names the database and every call; a
//! PostgreSQL database reached over verified TLS (`sslmode=verify-full`) from the provider block.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::ipam::{assert_nothing_beside_the_database, database, mirror, output_string, workdir};
use support::terraform::{self, Run, Workdir};
use tfipam::store::{SqliteOptions, SqliteStore, Store};

/// An IPAM, a pool with a CIDR and one allocation.
const MAIN: &str = r#"
resource "ipam" "main" {
  description = "database tests"
}

resource "ipam_pool" "main" {
  scope_id       = ipam.main.private_default_scope_id
  address_family = "ipv4"
}

resource "ipam_pool_cidr" "main" {
  pool_id = ipam_pool.main.id
  cidr    = "10.40.0.0/16"
}

resource "ipam_allocation" "main" {
  pool_id        = ipam_pool.main.id
  netmask_length = 24
  depends_on     = [ipam_pool_cidr.main]
}

output "pool_id" {
  value = ipam_pool.main.id
}

output "cidr" {
  value = ipam_allocation.main.cidr
}
"#;

/// Asserts that a plan failed because the state's objects are not in the database at `path`,
/// with `why` in the message, and that nothing claims they were deleted.
fn assert_not_in_database(run: &Run, path: &Path, why: &str) {
    let flat = assert_says(
        run,
        &[
            "Object Not In This IPAM Database",
            &path.display().to_string(),
            why,
            "Point `database` at the database file this object was made in",
        ],
    );
    assert!(!flat.contains("deleted outside"), "{}", run.describe());
    assert!(!flat.contains("will be created"), "{}", run.describe());
}

/// Asserts that the output of `run` says each of `expected` (line breaks read as spaces, as
/// Terraform wraps messages); returns the output so read.
fn assert_says(run: &Run, expected: &[&str]) -> String {
    let flat = run.text().split_whitespace().collect::<Vec<_>>().join(" ");
    for text in expected {
        assert!(flat.contains(text), "{text:?} missing:\n{}", run.describe());
    }
    flat
}

/// A root module applied on its own database, with its outputs.
fn applied(tf: &terraform::Terraform, db: &Path) -> (Workdir, serde_json::Value) {
    let dir = workdir(tf, db, MAIN);
    dir.init();
    dir.apply().success();
    let outputs = dir.outputs();
    (dir, outputs)
}

#[test]
fn a_wrong_database_fails_the_refresh_naming_it_and_creates_nothing() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let (mut dir, _) = applied(tf, &db);
        let folder = db.parent().unwrap();

        // a typo: the file does not exist, and the plan does not create it
        let typo = folder.join("ipam-typo.db");
        dir.set_env("IPAM_DATABASE", typo.display().to_string());
        let run = dir.plan().failure();
        assert_not_in_database(&run, &typo, "does not exist");
        assert!(!typo.exists(), "the plan created {}", typo.display());
        // so does terraform refresh (apply -refresh-only)
        let run = dir
            .run(["apply", "-refresh-only", "-auto-approve", "-no-color"])
            .failure();
        assert_not_in_database(&run, &typo, "does not exist");
        assert!(!typo.exists());
        // without a refresh, the plan of each object checks the database itself
        for command in [&["plan"][..], &["apply", "-auto-approve"]] {
            let run = dir
                .run([command, &["-refresh=false", "-no-color"]].concat())
                .failure();
            assert_not_in_database(&run, &typo, "does not exist");
            assert!(!typo.exists());
        }

        // a directory that does not exist
        let nowhere = folder.join("no-such-dir/ipam.db");
        dir.set_env("IPAM_DATABASE", nowhere.display().to_string());
        assert_says(
            &dir.plan().failure(),
            &[
                "Cannot Open The IPAM Database",
                &format!(
                    "the directory of the database {} does not exist",
                    nowhere.display()
                ),
            ],
        );
        assert!(!folder.join("no-such-dir").exists());

        // an empty database (as an earlier provider version created at plan time)
        let empty = folder.join("empty.db");
        drop(SqliteStore::open(&empty, SqliteOptions::new("test")).unwrap());
        dir.set_env("IPAM_DATABASE", empty.display().to_string());
        assert_not_in_database(&dir.plan().failure(), &empty, "has never held any object");

        // another root module's database: it holds objects, but not these
        let (_other_guard, other_db) = database();
        applied(tf, &other_db);
        dir.set_env("IPAM_DATABASE", other_db.display().to_string());
        assert_not_in_database(
            &dir.plan().failure(),
            &other_db,
            "has no record of it, so it was not made in this database",
        );

        // back on the right database, everything is as it was
        dir.set_env("IPAM_DATABASE", db.display().to_string());
        dir.assert_no_changes();
        dir.destroy().success();
    }
}

#[test]
fn a_second_root_module_without_database_does_not_get_an_empty_default() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let (dir, outputs) = applied(tf, &db);
        let pool_id = output_string(&outputs, "pool_id");

        // the root module is copied (state included) and the copy forgets `database`
        let mut copy = workdir(tf, &db, MAIN);
        copy.unset_env("IPAM_DATABASE");
        fs::copy(
            dir.path().join("terraform.tfstate"),
            copy.path().join("terraform.tfstate"),
        )
        .unwrap();
        copy.init();
        let default = copy.path().join("terraform-ipam.db");
        assert_not_in_database(&copy.plan().failure(), &default, "does not exist");
        assert!(!default.exists());

        // a new root module without `database` reads a pool of the shared address space
        let mut reader = workdir(
            tf,
            &db,
            &format!(
                "data \"ipam_pool_cidrs\" \"shared\" {{\n  pool_id = \"{pool_id}\"\n}}\n\nresource \"ipam_allocation\" \"mine\" {{\n  pool_id        = \"{pool_id}\"\n  name           = \"mine\"\n  netmask_length = 26\n}}\n"
            ),
        );
        reader.unset_env("IPAM_DATABASE");
        reader.init();
        let run = reader.plan().failure();
        let default = reader.path().join("terraform-ipam.db");
        assert_says(
            &run,
            &[
                "IPAM Database Not Found",
                &format!("The database {} does not exist", default.display()),
                "the default is terraform-ipam.db in the working directory",
            ],
        );
        assert!(!default.exists());

        // an empty database does not hold the pool, and says so
        let empty = db.with_file_name("empty.db");
        drop(SqliteStore::open(&empty, SqliteOptions::new("test")).unwrap());
        reader.set_env("IPAM_DATABASE", empty.display().to_string());
        assert_says(
            &reader.plan().failure(),
            &[&format!(
                "The pool {pool_id} is not in the database {}, which has never held any object",
                empty.display()
            )],
        );

        // with `database` it works
        reader.set_env("IPAM_DATABASE", db.display().to_string());
        let plan = reader.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        dir.destroy().success();
    }
}

#[test]
fn only_an_apply_creates_the_database() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let dir = workdir(tf, &db, MAIN);
        dir.init();
        let plan = dir.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        assert!(!db.exists(), "the plan created the database");
        dir.apply().success();
        let mode = fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        dir.assert_no_changes();
        dir.destroy().success();
    }
}

#[test]
fn a_copied_database_keeps_working_with_the_same_state() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let (mut dir, outputs) = applied(tf, &db);
        let copy = db.with_file_name("copy.db");
        fs::copy(&db, &copy).unwrap();
        dir.set_env("IPAM_DATABASE", copy.display().to_string());
        dir.assert_no_changes();

        // changes go to the copy; the original keeps what it had
        dir.write("more.tf", "resource \"ipam_allocation\" \"more\" {\n  pool_id        = ipam_pool.main.id\n  netmask_length = 24\n  depends_on     = [ipam_pool_cidr.main]\n}\n");
        dir.apply().success();
        assert_eq!(
            output_string(&dir.outputs(), "cidr"),
            output_string(&outputs, "cidr")
        );
        let pool_id = output_string(&outputs, "pool_id");
        let count = |path: &Path| {
            SqliteStore::open(path, SqliteOptions::new("test"))
                .unwrap()
                .list_allocations(&pool_id)
                .unwrap()
                .len()
        };
        assert_eq!((count(&copy), count(&db)), (2, 1));
        dir.destroy().success();
    }
}

#[test]
fn a_read_only_database_plans_and_refuses_changes() {
    // SAFETY: geteuid cannot fail
    let root = unsafe { libc::geteuid() } == 0;
    for tf in terraform::all() {
        let (guard, db) = database();
        let (dir, outputs) = applied(tf, &db);
        let pool_id = output_string(&outputs, "pool_id");

        // another user's shared database: readable by everyone, writable by its owner only
        fs::set_permissions(guard.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        let config = format!(
            "data \"ipam_pool_cidrs\" \"shared\" {{\n  pool_id = \"{pool_id}\"\n}}\n\noutput \"used\" {{\n  value = data.ipam_pool_cidrs.shared.cidrs[0].used_count\n}}\n\nresource \"ipam_allocation\" \"mine\" {{\n  pool_id        = \"{pool_id}\"\n  netmask_length = 26\n}}\n"
        );
        let mut reader = Workdir::new(tf, mirror());
        reader.set_env("IPAM_DATABASE", db.display().to_string());
        reader.write("versions.tf", support::ipam::PROVIDER_HCL);
        reader.write("main.tf", &config);
        if root {
            // root may write anything: run Terraform as nobody
            let mirror_dir = mirror().cli_config.parent().unwrap();
            fs::set_permissions(mirror_dir, fs::Permissions::from_mode(0o755)).unwrap();
            reader.run_as(65534, 65534);
        } else {
            fs::set_permissions(&db, fs::Permissions::from_mode(0o444)).unwrap();
            fs::set_permissions(guard.path(), fs::Permissions::from_mode(0o555)).unwrap();
        }
        reader.init();

        // the plan reads the database (data source, plan-time checks) and writes nothing
        let plan = reader.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        assert!(plan.stdout.contains("1 to add"), "{}", plan.describe());
        assert_nothing_beside_the_database(guard.path());

        assert!(plan.stdout.contains("used = 256"), "{}", plan.describe());
        // a named allocation cannot reserve its block here: its cidr stays known after apply
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.contains(" cidr ") && l.contains("(known after apply)")),
            "{}",
            plan.describe()
        );

        // while the owner writes (its -wal and -shm exist), the reader sees its commits
        let owner = SqliteStore::open(&db, SqliteOptions::new("owner")).unwrap();
        let request = tfipam::ipam::AllocationRequest {
            pool_id: pool_id.clone(),
            netmask_length: Some(24),
            ..Default::default()
        };
        let extra = owner.allocate(&request).unwrap();
        assert!(db.with_file_name("ipam.db-wal").exists());
        let plan = reader.plan();
        assert_eq!(plan.code, 2, "{}", plan.describe());
        assert!(plan.stdout.contains("used = 512"), "{}", plan.describe());
        owner.release_allocation(&extra.id).unwrap();
        drop(owner);

        // the change needs write access, and the error says so
        let run = reader.apply().failure();
        assert_says(
            &run,
            &[
                &format!("the database {} is read-only for you", db.display()),
                "plans, refreshes and data sources work, but this change needs write access",
            ],
        );

        // the owner still writes it
        fs::set_permissions(guard.path(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o600)).unwrap();
        dir.destroy().success();
    }
}

#[test]
fn the_debug_log_names_the_database_and_every_call() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let (mut dir, outputs) = applied(tf, &db);
        let pool_id = output_string(&outputs, "pool_id");
        dir.set_env("TF_LOG_PROVIDER", "DEBUG");
        let plan = dir.plan();
        assert_eq!(plan.code, 0, "{}", plan.describe());
        let line = plan
            .stderr
            .lines()
            .find(|l| l.contains(&format!("ReadResource ipam_pool {pool_id}: ok in")))
            .unwrap_or_else(|| panic!("no ReadResource line for the pool:\n{}", plan.stderr));
        for field in [
            "tf_rpc=ReadResource",
            "tf_resource_type=ipam_pool",
            &format!("id={pool_id}"),
            &format!("database={}", db.display()),
            "duration_ms=",
            "outcome=ok",
        ] {
            assert!(line.contains(field), "{field:?} missing in {line}");
        }

        // a failing call logs its error at DEBUG too
        let typo = db.with_file_name("typo.db");
        dir.set_env("IPAM_DATABASE", typo.display().to_string());
        let run = dir.plan().failure();
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains("outcome=error"))
            .unwrap_or_else(|| panic!("no failed call logged:\n{}", run.stderr));
        assert!(
            line.contains(&format!("database={}", typo.display())),
            "{line}"
        );
        assert!(
            line.contains("error=") && line.contains("does not exist"),
            "{line}"
        );
        dir.set_env("IPAM_DATABASE", db.display().to_string());
        dir.destroy().success();
    }
}

#[test]
fn the_default_actor_is_the_account_name_when_user_is_unset() {
    for tf in terraform::all() {
        let (_guard, db) = database();
        let mut dir = workdir(tf, &db, "resource \"ipam\" \"main\" {}\n");
        for key in ["IPAM_ACTOR", "USER", "LOGNAME"] {
            dir.unset_env(key);
        }
        dir.init();
        dir.apply().success();
        let store = SqliteStore::open(&db, SqliteOptions::new("reader")).unwrap();
        let events = store.audit_events(0, 10).unwrap();
        assert_eq!(events[0].actor, tfipam::store::current_account());
        assert!(!events[0].actor.starts_with("uid "), "{}", events[0].actor);
        dir.destroy().success();
    }
}

#[test]
fn a_postgresql_database_over_verified_tls_applies_and_a_wrong_ca_fails_the_plan() {
    use support::postgres::{ClusterOptions, PgCluster, TestCa, PASSWORD};
    let tf = terraform::newest();
    let ca = TestCa::new("tfipam test CA");
    let files = tempfile::tempdir().expect("a directory for the CA files");
    let root = ca.write(&files.path().join("ca.pem"));
    let wrong_root = TestCa::new("another CA").write(&files.path().join("wrong-ca.pem"));
    // a server that refuses plain TCP: an apply that works went over TLS
    let cluster = PgCluster::start_with(ClusterOptions {
        tls: Some(ca.server_certificate(&["localhost"])),
        tls_only: true,
        ..ClusterOptions::default()
    });
    let database = cluster.new_database();
    let url = |root: &Path| {
        format!(
            "postgres://postgres@localhost:{}/{database}?sslmode=verify-full&sslrootcert={}",
            cluster.port,
            root.display()
        )
    };
    let provider = |root: &Path| {
        support::ipam::PROVIDER_HCL.replace(
            "provider \"ipam\" {}",
            &format!("provider \"ipam\" {{\n  database = \"{}\"\n}}", url(root)),
        )
    };
    let mut dir = workdir(tf, Path::new("unused"), MAIN);
    dir.unset_env("IPAM_DATABASE");
    // the password from the environment, never in the configuration
    dir.set_env("PGPASSWORD", PASSWORD);
    dir.write("versions.tf", &provider(&root));
    dir.init();
    let apply = dir.apply().success();
    assert!(!apply.text().contains(PASSWORD), "{}", apply.describe());
    dir.assert_no_changes();
    let cidr = output_string(&dir.outputs(), "cidr");
    let store = tfipam::store::PostgresStore::connect(
        &cluster.url_on("127.0.0.1", &database, "sslmode=require"),
        "check",
    )
    .expect("connect");
    let pool = output_string(&dir.outputs(), "pool_id");
    let allocations = store.list_allocations(&pool).expect("list");
    assert_eq!(
        allocations
            .iter()
            .map(|a| a.cidr.to_string())
            .collect::<Vec<_>>(),
        vec![cidr],
        "the apply wrote to the PostgreSQL database"
    );

    // a CA that did not sign the server's certificate: the plan fails, saying what to change
    dir.write("versions.tf", &provider(&wrong_root));
    let run = dir.plan().failure();
    assert_says(
        &run,
        &[
            "Cannot Open The IPAM Database",
            &format!("database \"{database}\" on localhost:{}", cluster.port),
            "not signed by a certificate authority in",
            "wrong-ca.pem",
        ],
    );
    assert!(!run.text().contains(PASSWORD), "{}", run.describe());
    dir.write("versions.tf", &provider(&root));
    dir.destroy().success();
    assert!(store.list_ipams().expect("ipams").is_empty());
}
