//! People's accounts (管理员, 教研员, 校长), the login tokens ended before their expiry,
//! and the hub's named secrets.
//!
//! The store keeps what the hub's `accounts` module decides: it never sees a
//! password, only its PHC hash string, and never checks one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use yanpei_domain::SchoolCode;

use crate::StoreError;
use crate::entity::{hub_account, hub_revoked_token, hub_secret};
use crate::sql::HubStore;

/// What an account may do, and whom it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRole {
    /// The county operator (管理员): reads the whole county.
    Operator,
    /// A 教研员, by the staff id (工号) the roster knows: reads the schools the roster assigns.
    Staff {
        /// The staff id.
        id: String,
    },
    /// A school's principal (校长): reads their own school.
    Principal {
        /// The school.
        school: SchoolCode,
    },
}

impl AccountRole {
    /// The role as stored: `operator`, `staff`, `principal`.
    pub fn code(&self) -> &'static str {
        match self {
            AccountRole::Operator => "operator",
            AccountRole::Staff { .. } => "staff",
            AccountRole::Principal { .. } => "principal",
        }
    }

    /// The role as people read it.
    pub fn label(&self) -> &'static str {
        match self {
            AccountRole::Operator => "管理员",
            AccountRole::Staff { .. } => "教研员",
            AccountRole::Principal { .. } => "校长",
        }
    }

    /// The staff id, the school code, or empty.
    pub fn subject(&self) -> String {
        match self {
            AccountRole::Operator => String::new(),
            AccountRole::Staff { id } => id.clone(),
            AccountRole::Principal { school } => school.to_string(),
        }
    }

    /// The role from its stored parts.
    pub fn from_parts(role: &str, subject: &str) -> Result<AccountRole, StoreError> {
        match role {
            "operator" => Ok(AccountRole::Operator),
            "staff" if !subject.is_empty() => Ok(AccountRole::Staff { id: subject.to_owned() }),
            "principal" => subject
                .parse()
                .map(|school| AccountRole::Principal { school })
                .map_err(|e| StoreError::Corrupt(format!("account school {subject:?}: {e}"))),
            other => Err(StoreError::Corrupt(format!("account role {other:?} with subject {subject:?}"))),
        }
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login name (unique).
    pub username: String,
    /// The name people read (e.g. 张老师).
    pub display_name: String,
    /// What it may do.
    pub role: AccountRole,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Bumped on every password change: tokens of an older generation are refused.
    pub generation: i64,
    /// A disabled account cannot log in and its tokens are refused.
    pub disabled: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The login name.
    pub username: String,
    /// The name people read.
    pub display_name: String,
    /// What it may do.
    pub role: AccountRole,
    /// Argon2id PHC string.
    pub password_hash: String,
}

fn from_row(r: hub_account::Model) -> Result<Account, StoreError> {
    Ok(Account {
        role: AccountRole::from_parts(&r.role, &r.subject)?,
        username: r.username,
        display_name: r.display_name,
        password_hash: r.password_hash,
        generation: r.generation,
        disabled: r.disabled,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

impl HubStore {
    /// Creates an account; a taken username is `Invalid`.
    pub async fn insert_account(&self, new: &NewAccount) -> Result<Account, StoreError> {
        let txn = self.db.begin_write().await?;
        if hub_account::Entity::find_by_id(new.username.clone()).one(&txn).await?.is_some() {
            return Err(StoreError::Invalid(format!("用户名「{}」已被使用", new.username)));
        }
        let now = Utc::now();
        let row = hub_account::ActiveModel {
            username: Set(new.username.clone()),
            display_name: Set(new.display_name.clone()),
            role: Set(new.role.code().to_owned()),
            subject: Set(new.role.subject()),
            password_hash: Set(new.password_hash.clone()),
            generation: Set(1),
            disabled: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let account = from_row(row.insert(&txn).await?)?;
        txn.commit().await?;
        Ok(account)
    }

    /// The account named `username`, if any.
    pub async fn account(&self, username: &str) -> Result<Option<Account>, StoreError> {
        hub_account::Entity::find_by_id(username.to_owned())
            .one(&self.conn())
            .await?
            .map(from_row)
            .transpose()
    }

    /// Every account, by username.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        hub_account::Entity::find()
            .order_by_asc(hub_account::Column::Username)
            .all(&self.conn())
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    async fn change_account(
        &self,
        username: &str,
        change: impl FnOnce(&mut hub_account::ActiveModel, &hub_account::Model),
    ) -> Result<Account, StoreError> {
        let txn = self.db.begin_write().await?;
        let row = hub_account::Entity::find_by_id(username.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("没有用户名为「{username}」的账号")))?;
        let mut active = row.clone().into_active_model();
        change(&mut active, &row);
        active.updated_at = Set(Utc::now());
        let account = from_row(active.update(&txn).await?)?;
        txn.commit().await?;
        Ok(account)
    }

    /// Disables or enables an account.
    pub async fn set_account_disabled(&self, username: &str, disabled: bool) -> Result<Account, StoreError> {
        self.change_account(username, |a, _| a.disabled = Set(disabled)).await
    }

    /// Replaces an account's password hash and bumps its generation (ending its tokens).
    pub async fn set_account_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<Account, StoreError> {
        let hash = password_hash.to_owned();
        self.change_account(username, |a, row| {
            a.password_hash = Set(hash);
            a.generation = Set(row.generation.saturating_add(1));
        })
        .await
    }

    /// Ends the login token `token_id` of `username` for good (it would expire at
    /// `expires_at`); revoking it twice is the same as once. Revocations of tokens that
    /// have expired by now are forgotten on the way.
    pub async fn revoke_token(
        &self,
        token_id: &str,
        username: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let row = hub_revoked_token::ActiveModel {
            token_id: Set(token_id.to_owned()),
            username: Set(username.to_owned()),
            expires_at: Set(expires_at),
            revoked_at: Set(now),
        };
        let txn = self.db.begin_write().await?;
        hub_revoked_token::Entity::insert(row)
            .on_conflict(OnConflict::column(hub_revoked_token::Column::TokenId).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
        hub_revoked_token::Entity::delete_many()
            .filter(hub_revoked_token::Column::ExpiresAt.lt(now))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether the login token `token_id` was ended before its expiry.
    pub async fn token_revoked(&self, token_id: &str) -> Result<bool, StoreError> {
        Ok(hub_revoked_token::Entity::find_by_id(token_id.to_owned()).one(&self.conn()).await?.is_some())
    }

    /// The secret named `name`; the first caller's `candidate` becomes it. Every hub on one
    /// database gets the same value, whichever inserted it.
    pub async fn secret_or_insert(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        let row = hub_secret::ActiveModel {
            name: Set(name.to_owned()),
            value: Set(candidate.to_owned()),
            created_at: Set(Utc::now()),
        };
        let txn = self.db.begin_write().await?;
        hub_secret::Entity::insert(row)
            .on_conflict(OnConflict::column(hub_secret::Column::Name).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
        let value = hub_secret::Entity::find_by_id(name.to_owned())
            .one(&txn)
            .await?
            .map(|r| r.value)
            .ok_or_else(|| StoreError::Corrupt(format!("secret {name} vanished after its insert")))?;
        txn.commit().await?;
        Ok(value)
    }
}
