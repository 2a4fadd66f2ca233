//! The CIMD domain policy as changed at runtime through the admin API: allow and deny rules
//! (`domain_rules`) and the `unknown_domains` setting (`runtime_settings`). The server merges
//! them with the configuration file's `[cimd]` lists; patterns arrive here already validated.

use crate::audit::insert_audit;
use crate::client_decisions::{revoke_client_access, with_revoked_grants};
use crate::{AuditEvent, Result, Store, StoreError, on_backend};

/// The `runtime_settings` name of the `unknown_domains` override.
pub const UNKNOWN_DOMAINS_SETTING: &str = "cimd.unknown_domains";

/// Which list a rule is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainList {
    Allow,
    Deny,
}

impl DomainList {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// One rule added at runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRuleRecord {
    /// `host` or `*.suffix`, as in `[cimd]`.
    pub pattern: String,
    pub list: DomainList,
    pub created_at: i64,
    /// `token:<id>` or `user:<id>`.
    pub created_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DomainRuleRow {
    pattern: String,
    list: String,
    created_at: i64,
    created_by: Option<String>,
}

/// A setting changed at runtime, overriding the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RuntimeSetting {
    pub name: String,
    pub value: String,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// Everything the runtime domain policy holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeDomainPolicy {
    /// Ordered by pattern.
    pub rules: Vec<DomainRuleRecord>,
    pub unknown_domains: Option<RuntimeSetting>,
}

/// One change to the runtime domain policy.
#[derive(Debug, Clone, Copy)]
pub enum DomainPolicyChange<'a> {
    /// Adds the rule, or moves an existing runtime rule for the pattern to `list`.
    PutRule {
        pattern: &'a str,
        list: DomainList,
        by: &'a str,
    },
    DeleteRule {
        pattern: &'a str,
    },
    SetUnknownDomains {
        value: &'a str,
        by: &'a str,
    },
    /// Back to the configuration file's value.
    ResetUnknownDomains,
}

/// What [`Store::change_domain_policy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainPolicyChangeOutcome {
    /// False when there was nothing to delete (the audit event is then not written).
    pub applied: bool,
    pub revoked_grants: u64,
}

impl Store {
    /// The runtime rules (by pattern) and the `unknown_domains` override, if any.
    pub async fn runtime_domain_policy(&self) -> Result<RuntimeDomainPolicy> {
        let rows = on_backend!(self, |pool| sqlx::query_as::<_, DomainRuleRow>(
            "SELECT pattern, list, created_at, created_by FROM domain_rules ORDER BY pattern"
        )
        .fetch_all(pool)
        .await)?;
        let rules = rows
            .into_iter()
            .map(|row| {
                let list = DomainList::parse(&row.list).ok_or_else(|| {
                    StoreError::Corrupt(format!("domain rule {}: unknown list '{}'", row.pattern, row.list))
                })?;
                Ok(DomainRuleRecord {
                    pattern: row.pattern,
                    list,
                    created_at: row.created_at,
                    created_by: row.created_by,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let unknown_domains = on_backend!(self, |pool| sqlx::query_as::<_, RuntimeSetting>(
            "SELECT name, value, updated_at, updated_by FROM runtime_settings WHERE name = $1"
        )
        .bind(UNKNOWN_DOMAINS_SETTING)
        .fetch_optional(pool)
        .await)?;
        Ok(RuntimeDomainPolicy { rules, unknown_domains })
    }

    /// Every metadata-document client in the inventory with its host, for finding the clients a
    /// policy change refuses.
    pub async fn cimd_client_hosts(&self) -> Result<Vec<(String, String)>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, (String, String)>(
            "SELECT client_id, host FROM cimd_clients ORDER BY client_id"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Applies `change`, revokes everything the clients in `revoke` hold (the metadata-document
    /// clients the new policy refuses) and records `audit` with `revoked_grants` added, in one
    /// transaction. A delete of something absent changes and records nothing.
    pub async fn change_domain_policy(
        &self,
        change: DomainPolicyChange<'_>,
        revoke: &[String],
        audit: AuditEvent,
        now: i64,
    ) -> Result<DomainPolicyChangeOutcome> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let changed = match change {
                DomainPolicyChange::PutRule { pattern, list, by } => sqlx::query(
                    "INSERT INTO domain_rules (pattern, list, created_at, created_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (pattern) DO UPDATE SET list = excluded.list, created_at = excluded.created_at,
                     created_by = excluded.created_by",
                )
                .bind(pattern)
                .bind(list.as_str())
                .bind(now)
                .bind(by)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                DomainPolicyChange::DeleteRule { pattern } => {
                    sqlx::query("DELETE FROM domain_rules WHERE pattern = $1")
                        .bind(pattern)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                }
                DomainPolicyChange::SetUnknownDomains { value, by } => sqlx::query(
                    "INSERT INTO runtime_settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
                     updated_by = excluded.updated_by",
                )
                .bind(UNKNOWN_DOMAINS_SETTING)
                .bind(value)
                .bind(now)
                .bind(by)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                DomainPolicyChange::ResetUnknownDomains => sqlx::query("DELETE FROM runtime_settings WHERE name = $1")
                    .bind(UNKNOWN_DOMAINS_SETTING)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
            };
            if changed == 0 {
                tx.rollback().await?;
                return Ok(DomainPolicyChangeOutcome { applied: false, revoked_grants: 0 });
            }
            let mut revoked_grants = 0;
            for client_id in revoke {
                revoked_grants += revoke_client_access!(tx, client_id, now);
            }
            let audit = with_revoked_grants(audit, revoked_grants);
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(DomainPolicyChangeOutcome { applied: true, revoked_grants })
        })
    }
}
