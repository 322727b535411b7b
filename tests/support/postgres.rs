//! A throw-away PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temporary directory,
//! listening on a loopback port (password auth) and on a unix socket in that directory (trust),
//! run as the `postgres` OS user when the tests run as root (the server refuses root). Stopped
//! by `Drop`, and by a watchdog process when the test process exits without dropping it.
//!
//! [`PgCluster::start_with`] adds TLS (a server certificate from a [`TestCa`] made in the test,
//! optionally refusing plain TCP) and more listen addresses (other hosts reaching the server).

use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The superuser's password on every test cluster.
pub const PASSWORD: &str = "test-secret-7fd3";

/// Where the PostgreSQL server programs are: on PATH, or Debian's versioned directory.
pub fn bin_dir() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        if Path::new(dir).join("initdb").is_file() && Path::new(dir).join("pg_ctl").is_file() {
            // Debian's /usr/bin wrappers need a configured cluster; use the real programs
            if let Ok(real) = std::fs::canonicalize(Path::new(dir).join("pg_ctl")) {
                if let Some(parent) = real.parent() {
                    if parent.join("initdb").is_file() {
                        return parent.to_path_buf();
                    }
                }
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .find(|dir| dir.join("initdb").is_file())
        .expect(
            "the PostgreSQL tests need the PostgreSQL server programs (initdb, pg_ctl): \
             install Debian's postgresql package (apt-get install -y postgresql); scripts/test does it",
        )
}

fn running_as_root() -> bool {
    // SAFETY: getuid has no preconditions
    unsafe { libc_getuid() == 0 }
}

extern "C" {
    #[link_name = "getuid"]
    fn libc_getuid() -> u32;
}

/// A command run as the `postgres` OS user when we are root.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// How a restart stops the server.
#[derive(Debug, Clone, Copy)]
pub enum StopMode {
    /// Sessions are ended, the server shuts down cleanly.
    Fast,
    /// The server is killed and recovers from its WAL on start (like a crash).
    Immediate,
}

impl StopMode {
    fn flag(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// A certificate authority made for one test, with its key.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA certificate (PEM), what clients trust through `sslrootcert`.
    pub pem: String,
}

impl TestCa {
    /// A new CA called `name`.
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let pem = params.self_signed(&key).expect("a CA certificate").pem();
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate signed by this CA for these host names and IP addresses.
    pub fn server_certificate(&self, names: &[&str]) -> ServerCertificate {
        let key = rcgen::KeyPair::generate().expect("a server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tfipam test server");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        ServerCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the CA certificate to `path` (for `sslrootcert=`); returns the path.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, &self.pem).expect("write the CA certificate");
        path.to_path_buf()
    }
}

/// A server's certificate and private key (PEM).
#[derive(Clone)]
pub struct ServerCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

/// How [`PgCluster::start_with`] sets up a cluster beyond the defaults.
#[derive(Clone, Default)]
pub struct ClusterOptions {
    /// Extra `-c name=value` server settings.
    pub settings: Vec<String>,
    /// Serve TLS with this certificate (`ssl = on`).
    pub tls: Option<ServerCertificate>,
    /// Accept TCP connections only over TLS: `hostssl` in pg_hba.conf, plain TCP is refused.
    pub tls_only: bool,
    /// Addresses to listen on besides 127.0.0.1; clients on their networks (`samenet`) log in
    /// with the password.
    pub listen: Vec<IpAddr>,
}

/// One test cluster.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    /// The loopback port.
    pub port: u16,
    /// Extra `-c name=value` server settings.
    settings: Vec<String>,
    /// The addresses the server listens on (127.0.0.1 first).
    listen: Vec<IpAddr>,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The cluster shared by the tests of this process (started on first use).
pub fn shared() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| PgCluster::start(&[]))
}

impl PgCluster {
    /// Creates and starts a cluster with these extra server settings (`name=value`).
    pub fn start(settings: &[&str]) -> PgCluster {
        PgCluster::start_with(ClusterOptions {
            settings: settings.iter().map(|s| s.to_string()).collect(),
            ..ClusterOptions::default()
        })
    }

    /// Creates and starts a cluster set up by `options` (TLS, listen addresses, settings).
    pub fn start_with(options: ClusterOptions) -> PgCluster {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!(
            "tfipam-pg-{}-{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, PASSWORD).expect("pwfile");
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let status = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("run initdb");
        assert!(status.success(), "initdb failed in {}", dir.display());
        let data = dir.join("data");
        if let Some(tls) = &options.tls {
            // the server reads its key only when the server user owns it and nobody else can
            let owner = std::fs::metadata(&data).expect("data directory").uid();
            for (name, pem, mode) in [
                ("server.crt", &tls.cert_pem, 0o644),
                ("server.key", &tls.key_pem, 0o600),
            ] {
                let path = dir.join(name);
                std::fs::write(&path, pem).expect("write a server TLS file");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
                std::os::unix::fs::chown(&path, Some(owner), None).expect("chown");
            }
            append(
                &data.join("postgresql.conf"),
                &format!(
                    "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                    dir.join("server.crt").display(),
                    dir.join("server.key").display()
                ),
            );
        }
        let hba = data.join("pg_hba.conf");
        let host = if options.tls_only { "hostssl" } else { "host" };
        if options.tls_only {
            let text = std::fs::read_to_string(&hba).expect("pg_hba.conf");
            let rewritten: String = text
                .lines()
                .map(|line| match line.strip_prefix("host ") {
                    Some(rest) => format!("hostssl {rest}\n"),
                    None => format!("{line}\n"),
                })
                .collect();
            std::fs::write(&hba, rewritten).expect("rewrite pg_hba.conf");
        }
        if !options.listen.is_empty() {
            append(&hba, &format!("{host} all all samenet scram-sha-256\n"));
        }
        let mut listen = vec![IpAddr::from([127, 0, 0, 1])];
        listen.extend(options.listen.iter().copied());
        let cluster = PgCluster {
            dir,
            bin,
            port: free_port(),
            settings: options.settings,
            listen,
        };
        cluster.pg_ctl_start();
        cluster.watch_parent();
        cluster
    }

    fn pg_ctl_start(&self) {
        let listen: Vec<String> = self.listen.iter().map(|a| a.to_string()).collect();
        let mut options = format!(
            "-p {} -k {} -c listen_addresses={} -c max_connections=300 -c shared_buffers=64MB",
            self.port,
            self.dir.display(),
            listen.join(",")
        );
        for setting in &self.settings {
            options.push_str(&format!(" -c {setting}"));
        }
        let status = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl start");
        assert!(
            status.success(),
            "pg_ctl start failed; see {}",
            self.dir.join("server.log").display()
        );
    }

    /// Stops the server (and keeps its files).
    pub fn stop(&self, mode: StopMode) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", mode.flag(), "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Starts the server again after [`PgCluster::stop`].
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// A process that stops the server and removes its directory once this test process is
    /// gone, so that a test that panics or is killed leaves no server behind.
    fn watch_parent(&self) {
        let data = self.dir.join("data");
        let pg_ctl = self.bin.join("pg_ctl");
        let runuser = if running_as_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser}{pg_ctl} -D {data} -w -m immediate stop >/dev/null 2>&1; \
             while [ -e {data}/postmaster.pid ]; do sleep 1; done; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = data.display(),
            dir = self.dir.display(),
        );
        // the shell puts the watchdog in the background and returns: it outlives this process
        Command::new("sh")
            .args(["-c", &format!("( {script} ) </dev/null >/dev/null 2>&1 &")])
            .status()
            .expect("start the cluster watchdog");
    }

    /// A connection string for `database` as the superuser over loopback TCP.
    pub fn url(&self, database: &str) -> String {
        self.url_on("127.0.0.1", database, "sslmode=disable")
    }

    /// A connection string for `database` as the superuser, to `host` (a name or an address
    /// the server listens on) with this query (`sslmode=…&…`).
    pub fn url_on(&self, host: &str, database: &str, query: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/{database}?{query}",
            self.port
        )
    }

    /// A superuser client on the unix socket.
    pub fn admin(&self, database: &str) -> postgres::Client {
        postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname(database)
            .connect(postgres::NoTls)
            .expect("admin connection")
    }

    /// A new empty database; its connection string.
    pub fn create_database(&self) -> String {
        self.url(&self.new_database())
    }

    /// A new empty database; its name.
    pub fn new_database(&self) -> String {
        let name = format!("t{}", DATABASES.fetch_add(1, Ordering::SeqCst));
        self.admin("postgres")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        name
    }

    /// The server's version (`initdb --version`).
    pub fn version(&self) -> String {
        Command::new(self.bin.join("initdb"))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop(StopMode::Immediate);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
