//! `swarmlab validate --netns`: one Linux network namespace per node, with
//! kernel link shaping.
//!
//! Layout (prefix `swl<pid>`, unique per run): a hub namespace `swl<pid>-hub`
//! holding a bridge `br0`, and per node a namespace `swl<pid>-<i>` whose
//! `eth0` (address 10.77.x.y/16) is a veth to port `v<i>` of the bridge. The
//! node's upload is shaped by a `tc tbf` qdisc on its `eth0` egress, its
//! download by a `tbf` on `v<i>` (the hub side, towards the node). Under
//! each `tbf` a `pfifo_fast` sends control before media, as the simulator's
//! access links and the user-space pacer do: the host marks control
//! datagrams with IP TOS 0x10 (`net::host`, kernel shaping), which the
//! kernel turns into packet priority 6, `pfifo_fast` band 0; media (TOS 0)
//! is band 1. The priority does not survive the veth crossing into the hub,
//! so an nftables rule on the hub's bridge sets it again from the TOS. A datagram in service is not preempted
//! (the simulator never preempts a message either, but it serializes whole
//! messages; the kernel interleaves at datagram granularity). The one-way
//! delay stays in the user-space host (this kernel has no netem).
//!
//! **The simulator's link physics, not the kernel's defaults** (session 25):
//! - *Bytes charged.* A qdisc on a veth counts the Ethernet header (14 bytes)
//!   that the simulator does not charge ([`protocols::wire::wire_bytes`]:
//!   payload, fragmentation header, IP and UDP); every `tbf` gets a size
//!   table `stab overhead -14` ([`ETH_HEADER`]), so a datagram costs the
//!   same bytes in both (`results/validate/tbf.sh` times it: 31-datagram
//!   messages arrive when 1,242 bytes per datagram allow, 1,256 without the
//!   table; the root test below reads the qdisc's own byte counts).
//! - *Where a loss happens.* The per-datagram loss is an nftables rule on the
//!   receiving namespace's input hook (`numgen random mod 1000000 < loss x 1e6
//!   drop`), after both shaped links, as the simulator's lost messages
//!   occupy both links. (On the sender's output hook, as before session 25,
//!   a lost datagram took neither link.)
//! - *A departure.* The simulator discards a leaving node's upload queue but
//!   for the message in service, which still goes out. The kernel keeps
//!   sending whatever a dead process gave it, so the host gives the kernel
//!   one media message at a time, the next when the kernel has sent the
//!   one before (by the shadow of its queue; control at once:
//!   `net::link::Uplink`, kernel mode). What the kernel holds when a node
//!   leaves is then the message in service and the control before it, as
//!   in the simulator. (Session 25 deleted the node's qdisc at a departure
//!   instead, with all the media the host had handed over at once in it:
//!   that dropped the rest of the message in service too, which the
//!   simulator sends; session 26.)
//! - *Nothing else on the links.* IPv6 is off in every namespace and the
//!   bridge does no multicast snooping: otherwise link-ups send listener
//!   reports, duplicate address detection, router solicitations and an
//!   IGMP report through the shaped queues (a few hundred bytes per node).
//!
//! **No ARP.** Every node's MAC address is fixed ([`mac`]) and every
//! namespace gets a permanent neighbour entry for every other node, the
//! bridge a static forwarding entry per port, so no datagram waits for
//! address resolution. With ARP the kernel's neighbour table, one table
//! for all namespaces, is limited by `net.ipv4.neigh.default.gc_thresh3`
//! (1024 entries by default): a 50-node swarm whose nodes talk to many
//! others (treebone: about 1,000 pairs after 10 s) fills it, and then a
//! datagram to a neighbour not yet resolved is dropped (`table_fulls` in
//! `/proc/net/stat/arp_cache`), so nodes that join later cannot reach
//! anyone. ARP packets would also queue behind media in the shaped queues
//! (their priority is 0), and resolution fails after three unanswered
//! probes. The simulator has no address resolution; permanent entries are
//! exempt from the table's limit. [`neigh_stats`] reads the table's counters
//! (validate prints them per rep).
//!
//! [`Net`] deletes every namespace it created when dropped (normal end, error,
//! Ctrl-C: validate turns SIGINT/SIGTERM into an error return, panics unwind);
//! deleting a namespace deletes its veth ends, and the hub's deletion the
//! bridge. [`cleanup_stale`] deletes `swl<pid>-*` namespaces of dead pids
//! (a previous run that was SIGKILLed).

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// What is needed, said when it is missing.
pub const NEEDS: &str =
    "--netns needs Linux, root and the `ip`, `tc`, `bridge` and `nft` commands (apt-get install iproute2 nftables)";

/// Whether this process is root and the commands exist; why not otherwise.
pub fn available() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err(format!("{NEEDS}: this is not Linux"));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1));
    if euid != Some("0") {
        return Err(format!("{NEEDS}: not running as root"));
    }
    for (cmd, arg) in [("ip", "-V"), ("tc", "-V"), ("bridge", "-V"), ("nft", "--version")] {
        let ok = Command::new(cmd).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !ok.is_ok_and(|s| s.success()) {
            return Err(format!("{NEEDS}: `{cmd}` is missing"));
        }
    }
    Ok(())
}

fn run(cmd: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut c = Command::new(cmd);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = c.spawn().map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = w.write_all(text.as_bytes());
    }
    let o = child.wait_with_output().map_err(|e| format!("{cmd}: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!("`{cmd} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim()))
    }
}

/// Names of the existing network namespaces.
fn namespaces() -> Vec<String> {
    run("ip", &["netns", "list"], None)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The pid in a `swl<pid>-...` name.
fn owner(name: &str) -> Option<u32> {
    name.strip_prefix("swl")?.split_once('-')?.0.parse().ok()
}

/// Deletes the `swl<pid>-*` namespaces whose pid is dead; returns how many.
pub fn cleanup_stale() -> usize {
    let mut n = 0;
    for ns in namespaces() {
        if let Some(pid) = owner(&ns)
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            && run("ip", &["netns", "del", &ns], None).is_ok()
        {
            n += 1;
        }
    }
    n
}

/// One node's kernel-shaped link.
pub struct Link {
    pub up_bps: u64,
    pub down_bps: u64,
    pub loss: f64,
}

/// The namespaces of one run; deleted on drop.
pub struct Net {
    prefix: String,
    hub: String,
    nodes: Vec<String>,
}

/// The address of node `i`: 10.77.0.1, 10.77.0.2, ...
pub fn addr(i: usize) -> Ipv4Addr {
    let n = i + 1;
    Ipv4Addr::new(10, 77, (n / 256) as u8, (n % 256) as u8)
}

/// The MAC address of node `i`'s `eth0`: locally administered, 02:77:00:00
/// then the two low bytes of its address.
pub fn mac(i: usize) -> String {
    let a = addr(i).octets();
    format!("02:77:00:00:{:02x}:{:02x}", a[2], a[3])
}

/// `ip -batch` lines giving node `i` a permanent neighbour entry for every
/// other node of `n` (no ARP).
fn neigh_batch(i: usize, n: usize) -> String {
    let mut s = String::new();
    for j in (0..n).filter(|&j| j != i) {
        s.push_str(&format!("neigh replace {} lladdr {} dev eth0 nud permanent\n", addr(j), mac(j)));
    }
    s
}

/// `bridge -batch` lines pinning every node's MAC to its bridge port (no
/// flooding of unknown destinations, no learning).
fn fdb_batch(n: usize) -> String {
    (0..n).map(|i| format!("fdb replace {} dev v{i} master static\n", mac(i))).collect()
}

/// Counters of the kernel's ARP table (`/proc/net/stat/arp_cache`, summed
/// over CPUs). The table is shared by every namespace of the machine, so
/// other users' traffic counts too; read before and after a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeighStats {
    /// Entries now (every namespace).
    pub entries: u64,
    /// Resolutions that failed (no answer to the probes).
    pub res_failed: u64,
    /// Entries that could not be created because the table was full.
    pub table_fulls: u64,
}

impl NeighStats {
    /// Parses the text of `/proc/net/stat/arp_cache` (hexadecimal columns,
    /// one row per CPU, named by the header); None if a column is missing.
    pub fn parse(text: &str) -> Option<NeighStats> {
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next()?.split_whitespace().collect();
        let col = |name: &str| head.iter().position(|h| *h == name);
        let (e, rf, tf) = (col("entries")?, col("res_failed")?, col("table_fulls")?);
        let mut s = NeighStats::default();
        for l in lines {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = |k: usize| f.get(k).and_then(|v| u64::from_str_radix(v, 16).ok());
            s.entries = hex(e)?;
            s.res_failed += hex(rf)?;
            s.table_fulls += hex(tf)?;
        }
        Some(s)
    }
}

/// The ARP table's counters now (None where there is no such file).
pub fn neigh_stats() -> Option<NeighStats> {
    NeighStats::parse(&std::fs::read_to_string("/proc/net/stat/arp_cache").ok()?)
}

/// Most frames a `pfifo_fast` band may queue. The kernel allocates each
/// band's ring of `txqueuelen` pointers up front, and one of 2 million (10 s
/// of a 1 Gbps CDN edge) fails with "Cannot allocate memory"; 65,536 full
/// frames are 81 MB, 0.65 s at 1 Gbps and far more than any node of a
/// 200-node swarm queues (an edge refuses requests behind 1 s of backlog).
const MAX_QUEUE_FRAMES: u64 = 65_536;

/// `txqueuelen` for a byte limit: the limit in full-size frames, 64 to
/// [`MAX_QUEUE_FRAMES`].
fn queue_frames(limit_bytes: u64) -> u64 {
    (limit_bytes / 1242).clamp(64, MAX_QUEUE_FRAMES)
}

/// Bytes a veth's qdisc counts per datagram beyond the simulator's charge
/// (the Ethernet header); taken off by each `tbf`'s size table.
pub const ETH_HEADER: u32 = 14;

/// tbf burst (bytes): one millisecond of the rate, at least one full frame.
fn burst(bps: u64) -> u64 {
    (bps / 8 / 1000).max(2000)
}

/// Queue bounds as the user-space pacers': 10 s of upload (at least 1 MiB;
/// doubled, the host bounds it itself), 1 s of download (at least 4 MiB).
fn up_limit(bps: u64) -> String {
    ((bps * 10 / 8).max(1 << 20) * 2).to_string()
}
fn down_limit(bps: u64) -> String {
    (bps / 8).max(4 << 20).to_string()
}

/// `tc qdisc add|change dev DEV root handle 1: stab overhead -14 tbf rate ..
/// burst .. limit ..` in `ns`. The size table goes with every verb: a
/// `change` without one would drop it.
fn tbf(ns: &str, dev: &str, bps: u64, limit: &str, verb: &str) -> Result<String, String> {
    let (rate, burst) = (format!("{}bit", bps.max(8)), burst(bps).to_string());
    let overhead = format!("-{ETH_HEADER}");
    run(
        "tc",
        &[
            "-n", ns, "qdisc", verb, "dev", dev, "root", "handle", "1:", "stab", "overhead", &overhead, "tbf", "rate",
            &rate, "burst", &burst, "limit", limit,
        ],
        None,
    )
}

/// Control first: a `pfifo_fast` under the `tbf` (this kernel has no
/// `prio`, `ets` or `drr` qdisc). `pfifo_fast` serves its bands in strict
/// order by the packet's priority, which the kernel sets from the socket's
/// TOS: [`net::host::CONTROL_TOS`] (low delay) is priority 6, band 0; TOS 0 is band 1.
/// Its queue bound is the device's `txqueuelen` per band, set here to the
/// byte limit in full-size frames (1,242 bytes on the wire), at most
/// [`MAX_QUEUE_FRAMES`].
fn control_first(ns: &str, dev: &str, limit: &str) -> Result<(), String> {
    let frames = queue_frames(limit.parse::<u64>().unwrap_or(1 << 20)).to_string();
    run("ip", &["-n", ns, "link", "set", "dev", dev, "txqueuelen", &frames], None)?;
    run("tc", &["-n", ns, "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "pfifo_fast"], None)?;
    Ok(())
}

/// Turns IPv6 off for the interfaces `ns` creates from now on: otherwise
/// each link-up sends multicast listener reports, duplicate address
/// detection and router solicitations (measured: 6 datagrams, 516 bytes, in
/// the first two seconds of a shaped veth) through the shaped queues, which
/// the simulator does not have. A kernel without IPv6 has nothing to turn off.
fn no_ipv6(ns: &str) -> Result<(), String> {
    let script = "f=/proc/sys/net/ipv6/conf/default/disable_ipv6; if [ -e $f ]; then echo 1 > $f; fi";
    run("ip", &["netns", "exec", ns, "sh", "-c", script], None).map(|_| ())
}

impl Net {
    /// Creates the hub and one shaped namespace per link.
    pub fn setup(links: &[Link]) -> Result<Net, String> {
        if links.len() > 60_000 {
            return Err("too many nodes for 10.77.0.0/16".into());
        }
        let prefix = format!("swl{}-", std::process::id());
        let mut net = Net { hub: format!("{prefix}hub"), prefix, nodes: Vec::new() };
        let hub = net.hub.clone();
        run("ip", &["netns", "add", &hub], None)?;
        no_ipv6(&hub)?;
        // No multicast snooping: with it the bridge joins 224.0.0.106 when it
        // comes up and floods an IGMP report through every download qdisc.
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"], None)?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"], None)?;
        // Packet priority does not survive the veth crossing into the hub
        // (measured: 0 of 996 control datagrams still had priority 6 in the
        // bridge), so the hub sets it again from the TOS before the download
        // qdiscs see the packet.
        let prio = format!(
            "table bridge swl {{\n chain prio {{\n  type filter hook forward priority 0; policy accept;\n  \
             ip dscp {:#04x} counter meta priority set 0:6\n }}\n}}\n",
            net::host::CONTROL_TOS >> 2
        );
        run("ip", &["netns", "exec", &hub, "nft", "-f", "-"], Some(&prio))?;
        for (i, l) in links.iter().enumerate() {
            let ns = format!("{}{i}", net.prefix);
            run("ip", &["netns", "add", &ns], None)?;
            net.nodes.push(ns.clone());
            no_ipv6(&ns)?;
            let port = format!("v{i}");
            run(
                "ip",
                &[
                    "link",
                    "add",
                    "eth0",
                    "netns",
                    &ns,
                    "address",
                    &mac(i),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &port,
                    "netns",
                    &hub,
                ],
                None,
            )?;
            run("ip", &["-n", &hub, "link", "set", &port, "master", "br0", "up"], None)?;
            let a = format!("{}/16", addr(i));
            run("ip", &["-n", &ns, "addr", "add", &a, "dev", "eth0"], None)?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"], None)?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"], None)?;
            tbf(&ns, "eth0", l.up_bps, &up_limit(l.up_bps), "add")?;
            control_first(&ns, "eth0", &up_limit(l.up_bps))?;
            tbf(&hub, &port, l.down_bps, &down_limit(l.down_bps), "add")?;
            control_first(&hub, &port, &down_limit(l.down_bps))?;
            if l.loss > 0.0 {
                let n = (l.loss * 1e6).round().min(1e6) as u64;
                // nft refuses `< 1000000` (the range is 0-999999): loss 1 drops every datagram.
                let draw = if n >= 1_000_000 { String::new() } else { format!("numgen random mod 1000000 < {n} ") };
                // At the receiver, after both links (module doc).
                let rules = format!(
                    "table inet swl {{\n chain in {{\n  type filter hook input priority 0; policy accept;\n  \
                     meta l4proto udp {draw}counter drop\n }}\n}}\n"
                );
                run("ip", &["netns", "exec", &ns, "nft", "-f", "-"], Some(&rules))?;
            }
        }
        // No ARP (module doc): permanent neighbours, static bridge ports.
        for (i, ns) in net.nodes.iter().enumerate() {
            run("ip", &["-n", ns, "-batch", "-"], Some(&neigh_batch(i, links.len())))?;
        }
        run("bridge", &["-n", &hub, "-batch", "-"], Some(&fdb_batch(links.len())))?;
        Ok(net)
    }

    /// Changes node `i`'s shaping to `up_bps` / `down_bps` (a scheduled
    /// bandwidth change): `tc qdisc change` of both `tbf`s, queues kept.
    pub fn set_rate(&self, i: usize, up_bps: u64, down_bps: u64) -> Result<(), String> {
        let ns = self.nodes.get(i).ok_or_else(|| format!("no node {i}"))?;
        tbf(ns, "eth0", up_bps, &up_limit(up_bps), "change")?;
        tbf(&self.hub, &format!("v{i}"), down_bps, &down_limit(down_bps), "change").map(|_| ())
    }

    /// The namespace of node `i`.
    pub fn ns(&self, i: usize) -> &str {
        &self.nodes[i]
    }

    /// This run's name prefix (`swl<pid>-`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Datagrams dropped by the nftables loss rules so far.
    pub fn lost(&self) -> u64 {
        let mut n = 0;
        for ns in &self.nodes {
            let Ok(t) = run("ip", &["netns", "exec", ns, "nft", "list", "table", "inet", "swl"], None) else {
                continue;
            };
            for w in t.split_whitespace().collect::<Vec<_>>().windows(3) {
                if w[0] == "counter" && w[1] == "packets" {
                    n += w[2].parse::<u64>().unwrap_or(0);
                }
            }
        }
        n
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain(std::iter::once(&self.hub)) {
            let _ = run("ip", &["netns", "del", ns], None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses() {
        assert_eq!(owner("swl1234-7"), Some(1234));
        assert_eq!(owner("swl1234-hub"), Some(1234));
        assert_eq!(owner("other"), None);
        assert_eq!(addr(0), Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(addr(255), Ipv4Addr::new(10, 77, 1, 0));
        assert_eq!(burst(512_000), 2000);
        // Queue rings: 10 s of a 5 Mbps peer fit; a 1 Gbps edge's is capped.
        assert_eq!(queue_frames(up_limit(5_000_000).parse().unwrap()), 12_500_000 / 1242);
        assert_eq!(queue_frames(up_limit(1_000_000_000).parse().unwrap()), MAX_QUEUE_FRAMES);
        assert_eq!(queue_frames(0), 64);
        assert_eq!(mac(0), "02:77:00:00:00:01");
        assert_eq!(mac(255), "02:77:00:00:01:00");
    }

    #[test]
    fn every_other_node_gets_a_permanent_neighbour_and_every_port_a_static_mac() {
        let b = neigh_batch(1, 3);
        assert_eq!(
            b,
            "neigh replace 10.77.0.1 lladdr 02:77:00:00:00:01 dev eth0 nud permanent\n\
             neigh replace 10.77.0.3 lladdr 02:77:00:00:00:03 dev eth0 nud permanent\n"
        );
        assert_eq!(
            fdb_batch(2),
            "fdb replace 02:77:00:00:00:01 dev v0 master static\nfdb replace 02:77:00:00:00:02 dev v1 master static\n"
        );
    }

    /// `Sent B bytes P pkt` and `backlog Xb Yp` of the root qdisc of `dev` in `ns`.
    fn root_counters(ns: &str, dev: &str) -> (u64, u64, u64, u64) {
        let t = run("tc", &["-s", "-n", ns, "qdisc", "show", "dev", dev, "root"], None).expect("tc -s qdisc show");
        let w: Vec<&str> = t.split_whitespace().collect();
        let after = |key: &str, k: usize| -> &str { w[w.iter().position(|x| *x == key).expect(key) + k] };
        let num = |x: &str| x.trim_end_matches(['b', 'p']).parse::<u64>().expect("a number");
        (num(after("Sent", 1)), num(after("Sent", 3)), num(after("backlog", 1)), num(after("backlog", 2)))
    }

    /// Sends `n` UDP datagrams of 1,200 bytes from node 0 to node 1 (bash's /dev/udp).
    fn send(net: &Net, n: usize) {
        let script = format!("for i in $(seq {n}); do printf '%1200s' x > /dev/udp/{}/9; done", addr(1));
        run("ip", &["netns", "exec", net.ns(0), "bash", "-c", &script], None).expect("send datagrams");
    }

    #[test]
    #[ignore = "needs root and ip, tc, bridge, nft: cargo test --lib netns:: -- --ignored (.ci/run does, as root)"]
    fn a_datagram_costs_the_simulators_bytes_and_a_rate_change_keeps_the_size_table() {
        available().expect("this test needs root and ip, tc, bridge, nft");
        // 100 kbps: a 1,200-byte datagram takes about 0.1 s, so most of 20
        // wait. Every datagram is lost, at the receiver: after both links.
        let link = |up_bps| Link { up_bps, down_bps: 10_000_000, loss: 1.0 };
        let net = Net::setup(&[link(100_000), link(100_000)]).expect("namespaces");
        send(&net, 1);
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(root_counters(net.ns(0), "eth0").1, 1, "the lost datagram took the sender's link");
        let (v1, v0) = (root_counters(&net.hub, "v1"), root_counters(&net.hub, "v0"));
        assert_eq!((v1.1, v0.1), (1, 0), "and the receiver's, and nothing else went to either (v1 {v1:?}, v0 {v0:?})");
        assert_eq!(net.lost(), 1, "and was dropped there");
        let bytes0 = root_counters(net.ns(0), "eth0").0;
        send(&net, 20);
        let (bytes, pkts, queued_bytes, queued) = root_counters(net.ns(0), "eth0");
        let (bytes, pkts) = (bytes - bytes0, pkts - 1);
        // What the simulator charges: payload, IP and UDP (no fragmentation
        // header here: these are raw datagrams, not the host's frames).
        let charge = (1200 + protocols::wire::IP_UDP_HEADER) as u64;
        assert!(pkts >= 1 && queued >= 10, "sent {pkts}, queued {queued}");
        assert_eq!(bytes, pkts * charge, "bytes counted per datagram sent: {}", bytes as f64 / pkts as f64);
        assert_eq!(queued_bytes, queued * charge);
        // A scheduled rate change keeps the size table (and the queue).
        net.set_rate(0, 120_000, 10_000_000).expect("tc qdisc change");
        let shown = run("tc", &["-n", net.ns(0), "qdisc", "show", "dev", "eth0"], None).unwrap();
        assert!(shown.contains("rate 120Kbit") && shown.contains("pfifo_fast"), "{shown}");
        let (bytes0, pkts0, _, _) = root_counters(net.ns(0), "eth0");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (bytes, pkts, queued_bytes, queued) = root_counters(net.ns(0), "eth0");
        assert!(pkts > pkts0 && queued >= 1, "sent {pkts} (before the change {pkts0}), queued {queued}");
        assert_eq!(bytes - bytes0, (pkts - pkts0) * charge, "charged as before the change");
        assert_eq!(queued_bytes, queued * charge);
    }

    #[test]
    fn arp_table_counters_are_summed_over_cpus() {
        let text = "entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls\n\
                    00000400 00005de8 0000481c 00000004   000fe3dd 0003d659 000007e4   00000000         00000000         00000609         000023e5       00000008            000020d0\n\
                    00000400 00004a2e 00005ff8 00000004   000bcf15 00027906 000004d3   00000000         00000000         00000000         00001145       0000000c            00000faf\n";
        let s = NeighStats::parse(text).unwrap();
        assert_eq!(s, NeighStats { entries: 1024, res_failed: 0x7e4 + 0x4d3, table_fulls: 0x20d0 + 0xfaf });
        assert_eq!(NeighStats::parse("entries hits\n1 2\n"), None);
    }
}
