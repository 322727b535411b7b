//! Network namespaces joined to the host by veth pairs: other hosts, as far as a client's
//! connections go, on one machine. Each namespace gets a /30 of 100.64.0.0/10 (shared address
//! space, unused on a test machine) chosen from this process's id, so that concurrent test runs
//! do not collide; names carry the process id too. Removed by `Drop` (also when the test
//! panics), and by a watchdog process when the test process exits without dropping them.
//!
//! Needs root and `ip` (iproute2) with network namespace support.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// One namespace: its name (for `ip netns exec`), the host's address on its link (where a
/// server on the host listens for it) and its own address.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub host_address: Ipv4Addr,
    pub address: Ipv4Addr,
    host_link: String,
}

impl Namespace {
    /// The command prefix that runs a program inside the namespace.
    pub fn run_under(&self) -> Vec<String> {
        vec![
            "ip".to_string(),
            "netns".to_string(),
            "exec".to_string(),
            self.name.clone(),
        ]
    }
}

/// Namespaces that live as long as this value.
pub struct Namespaces {
    pub list: Vec<Namespace>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

impl Namespaces {
    /// `count` (at most 4) namespaces, each joined to the host by a veth pair; `Err` says what
    /// is missing when this machine cannot make them.
    pub fn create(count: u32) -> Result<Namespaces, String> {
        assert!(count <= 4, "at most 4 namespaces per test process");
        if !running_as_root() {
            return Err(
                "network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run the tests as root"
                    .to_string(),
            );
        }
        let pid = std::process::id();
        let mut namespaces = Namespaces { list: Vec::new() };
        namespaces.watch_parent(pid, count);
        for n in 0..count {
            let offset = ((pid % (1 << 17)) * 4 + n) * 4;
            let base = u32::from(Ipv4Addr::new(100, 64, 0, 0)) + offset;
            let namespace = Namespace {
                name: format!("tfipam-{pid}-{n}"),
                host_address: Ipv4Addr::from(base + 1),
                address: Ipv4Addr::from(base + 2),
                host_link: format!("tfi{pid}h{n}"),
            };
            let peer = format!("tfi{pid}c{n}");
            let host_cidr = format!("{}/30", namespace.host_address);
            let own_cidr = format!("{}/30", namespace.address);
            ip(&["netns", "add", &namespace.name])?;
            namespaces.list.push(namespace.clone());
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &namespace.name, "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            ip(&[
                "link",
                "add",
                &namespace.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ])?;
            ip(&["link", "set", &peer, "netns", &namespace.name])?;
            ip(&["addr", "add", &host_cidr, "dev", &namespace.host_link])?;
            ip(&["link", "set", &namespace.host_link, "up"])?;
            inside(&["addr", "add", &own_cidr, "dev", &peer])?;
            inside(&["link", "set", &peer, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(namespaces)
    }

    /// A process that removes the namespaces and links once this test process is gone (killed
    /// before `Drop` ran).
    fn watch_parent(&self, pid: u32, count: u32) {
        let mut cleanup = String::new();
        for n in 0..count {
            cleanup.push_str(&format!(
                "ip netns del tfipam-{pid}-{n}; ip link del tfi{pid}h{n}; "
            ));
        }
        let script = format!("while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}");
        let _ = Command::new("sh")
            .args(["-c", &format!("( {script} ) </dev/null >/dev/null 2>&1 &")])
            .status();
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for namespace in &self.list {
            // deleting the namespace deletes the pair; the host end too, should it remain
            let _ = ip(&["netns", "del", &namespace.name]);
            let _ = ip(&["link", "del", &namespace.host_link]);
        }
    }
}
