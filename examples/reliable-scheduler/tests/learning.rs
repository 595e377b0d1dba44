//! The `reliable` scheduler's learning on its own: a partner whose requests
//! expire loses the chunks it would otherwise win, and wins them back once it
//! delivers again.

use protocols::sched::{Candidate, SchedInput, Scheduler, Supplier};
use protocols::{ChunkMap, PeerId, Time};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use reliable_scheduler::Reliable;

#[test]
fn a_partner_whose_requests_expire_is_avoided_while_it_has_rivals() {
    let mut map = ChunkMap::new(0, 16);
    map.insert(3);
    let sup = |id: u32| Supplier { id: PeerId(id), map, rate_bps: 1_000_000, free_at: Time::ZERO, in_flight: 0 };
    let cands = [Candidate { seq: 3, deadline: Time::from_secs(60), urgent: false }];
    let input = SchedInput {
        now: Time::ZERO,
        urgent: Time::from_secs(3),
        chunk_wire_bits: 8000,
        candidates: &cands,
        playback: Some(0),
        upload_backlog: Time::ZERO,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pick = |r: &mut Reliable, rng: &mut ChaCha8Rng| {
        let (mut sups, mut out) = ([sup(1), sup(2)], Vec::new());
        r.schedule(&input, &mut sups, &mut out, rng);
        sups[out[0].supplier].id
    };
    let mut r = Reliable::default();
    assert_eq!(pick(&mut r, &mut rng), PeerId(1), "ties go to the first");
    r.on_expired(PeerId(1), 3, Time::ZERO);
    assert_eq!(pick(&mut r, &mut rng), PeerId(2));
    for _ in 0..20 {
        r.on_arrival(PeerId(1), 3, Time::ZERO, Time::ZERO);
    }
    r.on_expired(PeerId(2), 3, Time::ZERO);
    assert_eq!(pick(&mut r, &mut rng), PeerId(1), "forgiven once it delivers again");
}
