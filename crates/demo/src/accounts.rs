//! The demo county's people accounts, with known passwords, for trying `yanpei login`
//! and the web dashboard: the operator `admin`, the 教研员 `jy01` (staff JY01) and the
//! principal of the roster's first school.

use serde::Serialize;
use yanpei_domain::roster::Roster;
use yanpei_hub::Accounts;
use yanpei_hub::accounts::AccountRole;
use yanpei_store::hub::HubStore;

use crate::error::DemoError;

/// One demo account and its password (printed by `yanpei demo`; demo data only).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DemoAccount {
    /// Login name.
    pub username: String,
    /// The name people read.
    pub display_name: String,
    /// 管理员, 教研员 or 校长.
    pub role: String,
    /// The staff id or school code the role is linked to (empty for the operator).
    pub subject: String,
    /// The demo password.
    pub password: String,
}

/// Creates the demo accounts in `store` (which must hold `county`'s roster).
pub async fn create_demo_accounts(store: &HubStore, county: &Roster) -> Result<Vec<DemoAccount>, DemoError> {
    let accounts = Accounts::open(store.clone(), yanpei_hub::DEFAULT_TOKEN_TTL).await?;
    let mut wanted =
        vec![("admin".to_owned(), "县进修学校管理员".to_owned(), AccountRole::Operator, "demo-admin-pass")];
    if let Some(staff) = county.staff.iter().find(|s| s.id == "JY01") {
        wanted.push((
            "jy01".into(),
            staff.name.clone(),
            AccountRole::Staff { id: staff.id.clone() },
            "demo-jy01-pass",
        ));
    }
    if let Some(school) = county.schools.first() {
        wanted.push((
            format!("xz-{}", school.code.as_str().to_lowercase()),
            format!("{}校长", school.name),
            AccountRole::Principal { school: school.code.clone() },
            "demo-principal-pass",
        ));
    }
    let mut out = Vec::new();
    for (username, name, role, password) in wanted {
        let a = accounts.add(&username, &name, role, password).await?;
        out.push(DemoAccount {
            username: a.username,
            display_name: a.display_name,
            role: a.role.label().into(),
            subject: a.role.subject(),
            password: password.into(),
        });
    }
    Ok(out)
}
