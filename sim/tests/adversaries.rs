//! Malicious peers and defences, for every protocol: integrity stops every
//! corrupted chunk from being played, free-riders and withholders upload no
//! media, scoring ejects withholders, and attacker assignment follows the
//! scenario exactly.

use analysis::Report;
use sim::runner::{RunOptions, run};
use sim::scenario::Scenario;

/// 60 peers, ample capacity, 150 s; `extra` adds the attack and defence tables.
fn scenario(protocol: &str, extra: &str) -> Scenario {
    let text = format!(
        "duration_s = 150\nseed = 4\n[source]\nup_kbps = 3000\n[peers]\ncount = 60\njoin_window_s = 5\n\
         [[peers.classes]]\nshare = 0.6\nup_kbps = 800\ndown_kbps = 5000\n\
         [[peers.classes]]\nshare = 0.4\nup_kbps = 2000\ndown_kbps = 10000\n\
         [network.latency]\nmodel = \"constant\"\nms = 30\n[protocol]\n{protocol}\n{extra}"
    );
    Scenario::parse("adversaries.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn go(sc: &Scenario) -> Report {
    run(sc, &RunOptions { name: "adversaries".into(), seed: sc.seed, threads: 1, draw: 0 }, &mut |_, _| {})
}

/// `[protocol]` bodies of every registered family (each hybrid mode on its
/// own), except the client-server baseline: its peers receive from the
/// source only, so no peer-side attack reaches them.
fn protocols() -> Vec<String> {
    let mut out = Vec::new();
    for name in sim::registry::current().family_names() {
        match name {
            "client-server" => {}
            "hybrid" => {
                for m in protocols::params::HybridModeName::ALL {
                    out.push(format!("name = \"hybrid\"\n[protocol.hybrid]\nmode = \"{}\"", m.as_str()));
                }
            }
            _ => out.push(format!("name = \"{name}\"")),
        }
    }
    assert!(out.len() >= 4, "{out:?}");
    out
}

/// The families the single-protocol tests below are about.
const MESH: &str = "name = \"mesh-pull\"";
const TREE: &str = "name = \"tree-push\"";

fn behaviour_count(r: &Report, name: &str) -> usize {
    let i = protocols::adversary::Behaviour::NAMES.iter().position(|n| *n == name).expect("known behaviour") as u8;
    r.peers.iter().filter(|(_, s)| s.behaviour == i).count()
}

#[test]
fn integrity_keeps_every_corrupted_chunk_from_being_played_in_every_protocol() {
    let attack = "[[attack]]\nkind = \"polluter\"\nshare = 0.3\n";
    for p in &protocols() {
        let open = go(&scenario(p, attack));
        assert_eq!(behaviour_count(&open, "polluter"), 18, "{p}: 30% of 60 peers");
        let played = open.get("polluted_played").unwrap();
        assert!(played > 0.0, "{p}: without defences polluters get corrupted chunks played");
        assert_eq!(open.get("rejected_chunks"), Some(0.0), "{p}: nothing is checked without integrity");
        assert!(open.get("wasted_upload_share").unwrap() > 0.0, "{p}");
        for defence in ["[defence]\nintegrity = true\n", "[defence]\nintegrity = true\nblacklist = true\n"] {
            let r = go(&scenario(p, &format!("{attack}{defence}")));
            assert_eq!(r.get("polluted_played"), Some(0.0), "{p} {defence}: no corrupted chunk is ever played");
            assert!(r.get("rejected_chunks").unwrap() > 0.0, "{p} {defence}: polluted chunks were caught");
            assert!(r.info.traffic.conserved(), "{p}");
        }
    }
}

#[test]
fn blacklisting_ejects_polluters_faster_than_the_protocol_alone() {
    let attack = "[[attack]]\nkind = \"polluter\"\nshare = 0.3\n";
    let p = MESH;
    let open = go(&scenario(p, attack));
    let defended = go(&scenario(p, &format!("{attack}[defence]\nintegrity = true\nblacklist = true\n")));
    let (a, b) = (open.get("ejected_share").unwrap(), defended.get("ejected_share").unwrap());
    assert!(b > a, "ejected share {b} with blacklisting vs {a} without");
    let (a, b) = (open.get("eject_time_p50").unwrap(), defended.get("eject_time_p50").unwrap());
    assert!(b < a, "median time to eject {b} s with blacklisting vs {a} s without");
}

#[test]
fn free_riders_and_withholders_upload_no_media_in_any_protocol() {
    for kind in ["free-rider", "withholder"] {
        for p in &protocols() {
            let r = go(&scenario(p, &format!("[[attack]]\nkind = \"{kind}\"\nshare = 0.3\n")));
            let attackers: Vec<_> = r.peers.iter().filter(|(_, s)| s.behaviour != 0).collect();
            assert_eq!(attackers.len(), 18, "{kind} {p}");
            for (id, s) in &attackers {
                assert_eq!(s.up_media, 0, "{kind} {p}: peer {id} uploaded media");
            }
            assert!(attackers.iter().any(|(_, s)| s.down_media > 0), "{kind} {p}: attackers still download");
            let honest_up: u64 = r.peers.iter().filter(|(_, s)| s.behaviour == 0).map(|(_, s)| s.up_media).sum();
            assert!(honest_up > 0, "{kind} {p}: honest peers carry the stream");
            assert_eq!(r.get("attacker_upload_share"), Some(0.0), "{kind} {p}");
            assert!(r.info.traffic.conserved(), "{kind} {p}");
        }
    }
}

#[test]
fn scoring_ejects_map_liars_sooner_and_more_often() {
    // Withholders are already dropped by DONet's own partner refresh (they
    // deliver nothing); liars deliver part of what they are asked, so only
    // the request-fulfilment score catches them quickly.
    let attack = "[[attack]]\nkind = \"map-liar\"\nshare = 0.2\n";
    let open = go(&scenario(MESH, attack));
    let scored = go(&scenario(MESH, &format!("{attack}[defence]\nscoring = true\n")));
    let (a, b) = (open.get("ejected_share").unwrap(), scored.get("ejected_share").unwrap());
    assert!(b > a, "ejected share {b} with scoring vs {a} without");
    let (a, b) = (open.get("eject_time_p50").unwrap(), scored.get("eject_time_p50").unwrap());
    assert!(b < a, "median time to eject {b} s with scoring vs {a} s without");
}

#[test]
fn request_timeouts_are_what_keeps_withholders_from_stalling_the_mesh() {
    let attack = "[[attack]]\nkind = \"withholder\"\nshare = 0.2\n";
    let with = go(&scenario(MESH, attack));
    let without = go(&scenario(MESH, &format!("{attack}[defence]\nrequest_timeout = false\n")));
    let (a, b) = (with.get("continuity_honest").unwrap(), without.get("continuity_honest").unwrap());
    assert!(a > b + 0.05, "honest continuity {a} with request timeouts vs {b} without");
}

#[test]
fn sybils_surround_their_victim_and_are_counted_exactly() {
    let r = go(&scenario(MESH, "[[attack]]\nkind = \"sybil\"\ncount = 12\nvictim = 5\n"));
    assert_eq!(behaviour_count(&r, "sybil"), 12);
    let victim = r.peers.iter().find(|(id, _)| *id == 5).expect("victim present");
    assert_eq!(victim.1.behaviour, 0, "the victim is honest");
    assert!(r.get("victim_continuity").is_some());
}

#[test]
fn capacity_liars_get_more_children_than_their_upload_allows() {
    let p = TREE;
    let open = go(&scenario(p, ""));
    let lied = go(&scenario(p, "[[attack]]\nkind = \"capacity-liar\"\nshare = 0.3\nfactor = 20\n"));
    // Liars advertise 20x their upload: placed high with many children they
    // cannot feed, they lower the continuity of the honest peers.
    let (a, b) = (open.get("continuity_mean").unwrap(), lied.get("continuity_honest").unwrap());
    assert!(b < a, "honest continuity {b} with capacity liars vs {a} without");
}

#[test]
fn the_same_seed_gives_the_same_attackers_and_results() {
    let sc = scenario(MESH, "[[attack]]\nkind = \"polluter\"\nshare = 0.2\non_s = 10\noff_s = 10\n");
    let (a, b) = (go(&sc), go(&sc));
    assert_eq!(analysis::output::summary_csv(&a), analysis::output::summary_csv(&b));
    assert_eq!(analysis::output::peers_csv(&a), analysis::output::peers_csv(&b));
}

/// Forgers' well-formed hostile messages (issue 14) are dropped and counted
/// by reason in every protocol; honest peers keep playing, and blacklisting
/// ejects the forgers on their first dropped message.
#[test]
fn forgers_messages_are_dropped_and_counted_in_every_protocol() {
    let attack = "[[attack]]\nkind = \"forger\"\nshare = 0.2\n";
    for p in &protocols() {
        let open = go(&scenario(p, attack));
        let defended = go(&scenario(p, &format!("{attack}[defence]\nintegrity = true\nblacklist = true\n")));
        for r in [&open, &defended] {
            let by_reason: f64 = protocols::DropReason::ALL
                .iter()
                .map(|d| r.get(&format!("dropped.{}", d.name())).expect("every reason is reported"))
                .sum();
            assert_eq!(r.get("dropped_messages"), Some(by_reason), "{p}: the total is the sum of the reasons");
            assert!(r.info.traffic.conserved(), "{p}");
        }
        assert_eq!(behaviour_count(&open, "forger"), 12, "{p}: 20% of 60 peers");
        assert!(open.get("dropped.future-chunk").unwrap() > 0.0, "{p}: future chunks are dropped");
        assert!(open.get("dropped.bad-stripe").unwrap() > 0.0, "{p}: bad stripes are dropped");
        // Blacklisting: one dropped message ejects the forger, so far fewer are dropped.
        let (n_open, n_def) = (open.get("dropped_messages").unwrap(), defended.get("dropped_messages").unwrap());
        assert!(n_def > 0.0 && n_def < n_open / 2.0, "{p}: {n_def} dropped with blacklisting, {n_open} without");
        let (e_open, e_def) = (open.get("ejected_share").unwrap(), defended.get("ejected_share").unwrap());
        assert!(e_def > 0.9 && e_def > e_open, "{p}: ejected share {e_def} with blacklisting, {e_open} without");
        let c = defended.get("continuity_honest").unwrap();
        assert!(c > 0.95, "{p}: honest peers keep playing with blacklisting ({c})");
    }
}
