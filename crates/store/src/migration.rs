//! Versioned, forward-only migrations, one migrator per database kind.
//! Migrations are append-only and named by date; never edit one that has shipped.

mod hub_20261122_core;
mod hub_20261122_roster;
mod hub_20261123_rollup;
mod hub_20261123_shared;
mod hub_20261201_audit;
mod hub_20261205_pair_rollup;
mod hub_20261210_accounts;
mod hub_20261215_revs;
mod hub_20261220_enrollment;
mod hub_20261225_revoked_token;
mod node_20261122_core;
mod node_20261123_shared;
mod node_20261215_revs;
mod node_20261216_maker;
mod node_20261230_base;

use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Migrations of the hub database.
pub struct HubMigrator;

impl MigratorTrait for HubMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(hub_20261122_core::Migration),
            Box::new(hub_20261122_roster::Migration),
            Box::new(hub_20261123_shared::Migration),
            Box::new(hub_20261123_rollup::Migration),
            Box::new(hub_20261201_audit::Migration),
            Box::new(hub_20261205_pair_rollup::Migration),
            Box::new(hub_20261210_accounts::Migration),
            Box::new(hub_20261215_revs::Migration),
            Box::new(hub_20261220_enrollment::Migration),
            Box::new(hub_20261225_revoked_token::Migration),
        ]
    }
}

/// Migrations of a node's local store.
pub struct NodeMigrator;

impl MigratorTrait for NodeMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(node_20261122_core::Migration),
            Box::new(node_20261123_shared::Migration),
            Box::new(node_20261215_revs::Migration),
            Box::new(node_20261216_maker::Migration),
            Box::new(node_20261230_base::Migration),
        ]
    }
}
