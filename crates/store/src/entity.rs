//! sea-orm entities. Hub tables and node tables live in different databases.

pub mod hub_account;
pub mod hub_activity;
pub mod hub_activity_party;
pub mod hub_alliance;
pub mod hub_audit;
pub mod hub_conflict;
pub mod hub_counter;
pub mod hub_enrollment;
pub mod hub_issued_cert;
pub mod hub_node;
pub mod hub_revoked_token;
pub mod hub_roster_version;
pub mod hub_school;
pub mod hub_secret;
pub mod hub_sync_session;
pub mod node_activity;
pub mod node_conflict;
pub mod node_meta;
pub mod node_outbox;
