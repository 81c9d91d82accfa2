//! Two hubs on one PostgreSQL database: a second `yanpei hub serve` process on the
//! schedule's database, two nodes pushing at once (one through each hub), and one of
//! the two processes SIGKILLed mid-push. Both hubs serialise their batches on the
//! database's change counter; the checker then sees one hub's history.

use std::time::Duration;

use rand::RngExt;
use yanpei_node::Agent;

use crate::SoakError;
use crate::schedule_intent::Sched;

impl Sched {
    /// Injects one "two hubs, one killed" fault; `false` on SQLite (one file, one hub).
    pub(crate) async fn two_hubs(&mut self) -> Result<bool, SoakError> {
        if !self.world.on_postgres() {
            return Ok(false);
        }
        let second = self.world.start_extra_hub().await?;
        let i = self.rng.random_range(0..self.cast.nodes.len());
        let j = self.rng.random_range(0..self.cast.nodes.len());
        self.ensure_pending(i, 30).await?;
        self.ensure_pending(j, 30).await?;
        let through_first = self.cast.nodes[i].agent.clone();
        let school = self.cast.nodes[j].actor.school.clone();
        let endpoint = self.world.endpoint_at(&school, second.addr)?;
        let through_second = Agent::new(self.cast.nodes[j].agent.store().clone(), endpoint);
        let (o1, o2) = (self.options(), self.options());
        let a = tokio::spawn(async move { through_first.sync_with(o1).await });
        let b = tokio::spawn(async move { through_second.sync_with(o2).await });
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(0..400))).await;
        let second = if self.rng.random_bool(0.5) {
            self.world.kill_hub().await;
            Some(second)
        } else {
            second.kill().await;
            None
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), a).await;
        let _ = tokio::time::timeout(Duration::from_secs(60), b).await;
        if let Some(h) = second {
            h.stop(Duration::from_secs(10)).await;
        }
        self.world.ensure_hub().await?;
        Ok(true)
    }
}
