//! Enrollment codes and the node certificates the hub signed.
//!
//! The store keeps what the hub's `enroll` module decides: a code is stored only as its
//! SHA-256; using one marks it used in the same statement that checks it is still unused
//! and unexpired, so two schools racing for one code get one certificate between them.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use yanpei_domain::SchoolCode;

use crate::StoreError;
use crate::entity::{hub_enrollment, hub_issued_cert};
use crate::hub::HubStore;

/// An enrollment as stored (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// SHA-256 (hex) of the normalised code.
    pub code_hash: String,
    /// The school it enrolls.
    pub school: SchoolCode,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// After this it is refused.
    pub expires_at: DateTime<Utc>,
    /// When it was used, if it was.
    pub used_at: Option<DateTime<Utc>>,
}

/// A node certificate the hub signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// Serial, lowercase hex.
    pub serial: String,
    /// The school.
    pub school: SchoolCode,
    /// The node id bound into it.
    pub node_id: String,
    /// `enroll` or `renew`.
    pub kind: String,
    /// When it was signed.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub not_after: DateTime<Utc>,
}

fn enrollment_of(row: hub_enrollment::Model) -> Result<Enrollment, StoreError> {
    Ok(Enrollment {
        school: row.school.parse().map_err(|e| StoreError::Corrupt(format!("enrollment school: {e}")))?,
        code_hash: row.code_hash,
        created_at: row.created_at,
        expires_at: row.expires_at,
        used_at: row.used_at,
    })
}

fn issued_of(row: hub_issued_cert::Model) -> Result<IssuedCert, StoreError> {
    Ok(IssuedCert {
        school: row.school.parse().map_err(|e| StoreError::Corrupt(format!("issued_cert school: {e}")))?,
        serial: row.serial,
        node_id: row.node_id,
        kind: row.kind,
        issued_at: row.issued_at,
        not_after: row.not_after,
    })
}

impl HubStore {
    /// Stores a new enrollment; a code hash already stored is `Invalid` (draw another code).
    pub async fn insert_enrollment(&self, e: &Enrollment) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        if hub_enrollment::Entity::find_by_id(e.code_hash.clone()).one(&txn).await?.is_some() {
            return Err(StoreError::Invalid("enrollment code already exists".into()));
        }
        hub_enrollment::ActiveModel {
            code_hash: Set(e.code_hash.clone()),
            school: Set(e.school.to_string()),
            created_at: Set(e.created_at),
            expires_at: Set(e.expires_at),
            used_at: Set(None),
            node_id: Set(None),
            serial: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The enrollment whose code hashes to `code_hash`, if any.
    pub async fn enrollment(&self, code_hash: &str) -> Result<Option<Enrollment>, StoreError> {
        hub_enrollment::Entity::find_by_id(code_hash.to_owned())
            .one(&self.conn())
            .await?
            .map(enrollment_of)
            .transpose()
    }

    /// Every enrollment, newest first.
    pub async fn enrollments(&self) -> Result<Vec<Enrollment>, StoreError> {
        hub_enrollment::Entity::find()
            .order_by_desc(hub_enrollment::Column::CreatedAt)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(enrollment_of)
            .collect()
    }

    /// Uses the enrollment `code_hash` for `cert` in one transaction: marks it used only if
    /// it is still unused and unexpired at `now`, and records the certificate. `false`, with
    /// nothing written, when the code was used or expired meanwhile: the certificate must
    /// then not be handed out.
    pub async fn complete_enrollment(
        &self,
        code_hash: &str,
        cert: &IssuedCert,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let marked = hub_enrollment::Entity::update_many()
            .col_expr(hub_enrollment::Column::UsedAt, sea_orm::sea_query::Expr::value(Some(now)))
            .col_expr(
                hub_enrollment::Column::NodeId,
                sea_orm::sea_query::Expr::value(Some(cert.node_id.clone())),
            )
            .col_expr(
                hub_enrollment::Column::Serial,
                sea_orm::sea_query::Expr::value(Some(cert.serial.clone())),
            )
            .filter(hub_enrollment::Column::CodeHash.eq(code_hash))
            .filter(hub_enrollment::Column::School.eq(cert.school.as_str()))
            .filter(hub_enrollment::Column::UsedAt.is_null())
            .filter(hub_enrollment::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        if marked != 1 {
            // Dropping the transaction rolls it back.
            return Ok(false);
        }
        insert_issued(&txn, cert).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Records a certificate signed outside an enrollment (a renewal).
    pub async fn record_issued(&self, cert: &IssuedCert) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        insert_issued(&txn, cert).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every node certificate the hub signed, newest first.
    pub async fn issued_certs(&self) -> Result<Vec<IssuedCert>, StoreError> {
        hub_issued_cert::Entity::find()
            .order_by_desc(hub_issued_cert::Column::IssuedAt)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(issued_of)
            .collect()
    }

    /// The school a node id was bound to by a certificate the hub signed, if any (a node id
    /// names one school for good).
    pub async fn node_id_school(&self, node_id: &str) -> Result<Option<SchoolCode>, StoreError> {
        hub_issued_cert::Entity::find()
            .filter(hub_issued_cert::Column::NodeId.eq(node_id))
            .one(&self.conn())
            .await?
            .map(|row| {
                row.school.parse().map_err(|e| StoreError::Corrupt(format!("issued_cert school: {e}")))
            })
            .transpose()
    }

    /// How many nodes' newest hub-signed certificate is still valid at `now` but expires
    /// before `until` (a certificate a later renewal replaced is not counted).
    pub async fn certs_expiring(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut newest: std::collections::BTreeMap<String, DateTime<Utc>> = Default::default();
        for row in hub_issued_cert::Entity::find().all(&self.conn()).await? {
            let at = newest.entry(row.node_id).or_insert(row.not_after);
            *at = (*at).max(row.not_after);
        }
        Ok(newest.values().filter(|t| **t > now && **t <= until).count() as u64)
    }
}

async fn insert_issued(txn: &impl sea_orm::ConnectionTrait, cert: &IssuedCert) -> Result<(), StoreError> {
    hub_issued_cert::ActiveModel {
        serial: Set(cert.serial.clone()),
        school: Set(cert.school.to_string()),
        node_id: Set(cert.node_id.clone()),
        kind: Set(cert.kind.clone()),
        issued_at: Set(cert.issued_at),
        not_after: Set(cert.not_after),
    }
    .insert(txn)
    .await?;
    Ok(())
}
