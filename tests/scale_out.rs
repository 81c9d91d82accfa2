//! Scale-out on PostgreSQL: two hubs share one database and serve 50 nodes in
//! an interleaved order, with lost acknowledgements and re-sends; the county's
//! totals are exact and every school's records at the hub equal its nodes'.
//! PostgreSQL only: skipped loudly where absent, required under CI.

use std::collections::BTreeMap;

use tokio::task::JoinSet;
use yanpei_node::{Agent, Fault, HubEndpoint, SyncOptions};
use yanpei_tests::{fresh_postgres, records, world};

/// A small deterministic generator (the order must be replayable from the seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_one_postgres_fifty_nodes_exact_totals() {
    let Some(url) = fresh_postgres("scale_out").await else { return };
    let w = world("scale_out", Some(url.clone())).await;
    let (second, stop_second, second_task) = w.start_extra_hub(&url).await.unwrap();
    let hubs = [w.hub_addr, second];
    let roster = yanpei_demo::demo_roster().unwrap();
    let mut rng = Lcg(20261122);

    // 50 nodes: every school has one, seven schools a second (another office PC).
    // Each node edits only records it created: two nodes editing one record before they
    // sync is a conflict, which is the activity-taxonomy issue's to surface.
    let mut nodes: Vec<[Agent; 2]> = Vec::new();
    let mut own: Vec<Vec<uuid::Uuid>> = Vec::new();
    for i in 0..50 {
        let school = &roster.schools[i % roster.schools.len()].code;
        let agent = w.node(school, &format!("n{i}")).await.unwrap();
        let mine = records(school, 10 + (i % 7) * 3);
        agent.store().record_all(&mine).await.unwrap();
        own.push(mine.iter().map(|a| a.id).collect());
        let via = |addr| -> HubEndpoint { w.node_endpoint_via(school, addr).unwrap() };
        let pair = [
            Agent::new(agent.store().clone(), via(hubs[0])),
            Agent::new(agent.store().clone(), via(hubs[1])),
        ];
        nodes.push(pair);
    }

    for round in 0..3 {
        // Between rounds, nodes edit and delete some of their records and record more.
        if round > 0 {
            for (i, pair) in nodes.iter().enumerate() {
                let store = pair[0].store();
                let live: Vec<_> = store
                    .list(None, None)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|a| own[i].contains(&a.id))
                    .collect();
                for (j, a) in live.iter().enumerate().take(4) {
                    let mut next = a.clone();
                    next.version += 1;
                    if (i + j + round) % 3 == 0 {
                        next.deleted = true;
                    } else {
                        next.body.notes = Some(format!("第{round}轮修改"));
                    }
                    store.update(&next).await.unwrap();
                }
                let more = records(store.school(), 2);
                store.record_all(&more).await.unwrap();
                own[i].extend(more.iter().map(|a| a.id));
            }
        }
        // Every node syncs through a hub chosen at random, all at once; a third of them
        // lose the acknowledgement of their first batch and re-send through the other hub.
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, (rng.next() % (k as u64 + 1)) as usize);
        }
        let mut syncs = JoinSet::new();
        for i in order {
            let hub = (rng.next() % 2) as usize;
            let lose = rng.next().is_multiple_of(3);
            let first = nodes[i][hub].clone();
            let other = nodes[i][1 - hub].clone();
            syncs.spawn(async move {
                let opts = SyncOptions { batch_size: 7, ..SyncOptions::default() };
                if lose {
                    let lost =
                        first.sync_with(SyncOptions { fault: Some(Fault::LoseAckOfPush(1)), ..opts }).await;
                    assert!(lost.is_err());
                    other.sync_with(opts).await.unwrap()
                } else {
                    first.sync_with(opts).await.unwrap()
                }
            });
        }
        while let Some(done) = syncs.join_next().await {
            done.unwrap();
        }
    }
    // One more quiet sync so every node of a school also holds its sibling's records.
    for pair in &nodes {
        pair[0].sync_once().await.unwrap();
    }

    // Exact: per school, the hub's live records are each node's live records.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for pair in &nodes {
        let store = pair[0].store();
        assert_eq!(store.pending_count().await.unwrap(), 0);
        let mine = store.list(None, None).await.unwrap();
        let at_hub = w.hub_store.activities_of(store.school()).await.unwrap();
        for a in &mine {
            assert_eq!(at_hub.get(&a.id), Some(a), "{} differs at the hub", a.id);
        }
        let live_at_hub = at_hub.values().filter(|a| !a.deleted).count();
        assert_eq!(live_at_hub, mine.len(), "school {} has extra live records at the hub", store.school());
        expected.insert(store.school().to_string(), mine.len() as u64);
    }
    let counted = yanpei_tests::hub_counts(&w).await;
    assert_eq!(counted, expected);
    stop_second.cancel();
    second_task.await.unwrap().unwrap();
}
