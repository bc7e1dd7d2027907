//! The processes the bench starts (voxdesk, SIPp) and what it reads about them from `/proc`.
//! Every child is owned by a [`Managed`] guard that sends SIGTERM, waits a bounded time, then
//! SIGKILLs, so no process outlives the bench, even on an early error.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::BenchError;

/// Polling step for every wait below.
const POLL: Duration = Duration::from_millis(50);

/// A child process that is stopped when dropped.
pub struct Managed {
    name: String,
    child: Child,
}

impl Managed {
    /// Starts `program args` in `dir` with extra environment `env`, stdout and stderr to
    /// `dir/<name>.log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        dir: &Path,
        env: &[(&str, &str)],
    ) -> Result<Managed, BenchError> {
        let log = File::create(dir.join(format!("{name}.log")))?;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| BenchError::Spawn(program.display().to_string(), e))?;
        Ok(Managed {
            name: name.to_string(),
            child,
        })
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the child to exit on its own, at most `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(POLL);
        }
        None
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        // std offers only SIGKILL; `kill -TERM` lets voxdesk drain and SIPp write its files.
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.wait_for_exit(grace).is_none() {
            eprintln!("[bench] {} did not stop on SIGTERM; killing it", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Resident memory now.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    /// User + system CPU time so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.pid())
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// `VmRSS` of a process, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a process (from `/proc/PID/stat`, in USER_HZ = 100 ticks/s on Linux).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| Duration::from_millis(ticks * 10))
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    // After ")": state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Datagrams the kernel dropped because the receive buffer of a UDP socket bound to one of
/// `ports` was full (the `drops` column of /proc/net/udp, summed).
pub fn udp_drops(ports: &[u16]) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    Some(parse_udp_drops(&table, ports))
}

fn parse_udp_drops(table: &str, ports: &[u16]) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (_, port_hex) = fields.get(1)?.split_once(':')?;
            let port = u16::from_str_radix(port_hex, 16).ok()?;
            let drops: u64 = fields.last()?.parse().ok()?;
            ports.contains(&port).then_some(drops)
        })
        .sum()
}

/// A 127.0.0.1 port that is free for UDP and TCP right now.
pub fn free_port() -> Result<u16, BenchError> {
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(BenchError::NoFreePort)
}

/// Base of `count` consecutive free UDP ports (SIPp binds its media port and the ones above it).
pub fn free_port_block(count: u16) -> Result<u16, BenchError> {
    for _ in 0..32 {
        let base = free_port()?;
        if base.checked_add(count).is_none() {
            continue;
        }
        let all_free = (base..base + count).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok(base);
        }
    }
    Err(BenchError::NoFreePort)
}

/// Waits until `GET /healthz` on `http` answers 200, at most `limit`; fails early if the child
/// exits (e.g. a port was taken after all).
pub fn wait_http_ready(
    child: &mut Managed,
    http: SocketAddr,
    limit: Duration,
) -> Result<(), BenchError> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(status) = child.exited() {
            return Err(BenchError::Died(format!(
                "voxdesk exited at start ({status})"
            )));
        }
        if healthz(http) {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
    Err(BenchError::Died("voxdesk did not answer /healthz".into()))
}

fn healthz(http: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&http, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    matches!(stream.read(&mut head), Ok(n) if head.get(..n).is_some_and(|h| h.starts_with(b"HTTP/1.1 200")))
}

/// Waits until something holds UDP `port` (SIPp has bound its SIP socket), at most `limit`.
pub fn wait_udp_bound(child: &mut Managed, port: u16, limit: Duration) -> Result<(), BenchError> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(status) = child.exited() {
            return Err(BenchError::Died(format!("SIPp exited at start ({status})")));
        }
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
    Err(BenchError::Died(format!("SIPp did not bind port {port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        assert_eq!(parse_vm_rss("Name:\tx\nVmRSS:\t  12345 kB\n"), Some(12345));
        assert_eq!(parse_vm_rss("VmRSS: lots\n"), None);
        let stat = "42 (tokio rt) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0";
        assert_eq!(parse_cpu_ticks(stat), Some(175));
        assert_eq!(parse_cpu_ticks("42 (x) S 1"), None);
        let udp = "  sl  local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode ref pointer drops\n\
10160: 0100007F:3AD4 00000000:0000 07 0:0 00:0 0 0 0 33977 2 0000 5\n\
10161: 0100007F:3AD5 00000000:0000 07 0:0 00:0 0 0 0 33978 2 0000 7\n\
garbage\n";
        assert_eq!(parse_udp_drops(udp, &[0x3AD4, 0x3AD5, 9]), 12);
        assert_eq!(parse_udp_drops(udp, &[0x3AD4]), 5);
        assert_eq!(parse_udp_drops(udp, &[]), 0);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
        assert!(cpu_time(std::process::id()).is_some());
    }
}
