//! What the page after a change says about it. The redirect after a change names the result
//! (`?done=blocked&n=2`) from this fixed list, so a crafted link can make the console say only
//! these sentences, never text of its own.

use crate::params::Params;

/// The result of a change, named in the redirect after it (`?done=...&n=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Approved,
    Denied,
    Blocked,
    Unblocked,
    GrantRevoked,
    RuleAdded,
    RuleUnchanged,
    RuleRemoved,
    UnknownDomainsSet,
    UnknownDomainsUnchanged,
    UnknownDomainsReset,
    UserCreated,
    UserDisabled,
    UserAlreadyDisabled,
    UserEnabled,
    UserAlreadyEnabled,
    PasswordReset,
}

const NOTICES: &[(Notice, &str)] = &[
    (Notice::Approved, "approved"),
    (Notice::Denied, "denied"),
    (Notice::Blocked, "blocked"),
    (Notice::Unblocked, "unblocked"),
    (Notice::GrantRevoked, "grant-revoked"),
    (Notice::RuleAdded, "rule-added"),
    (Notice::RuleUnchanged, "rule-unchanged"),
    (Notice::RuleRemoved, "rule-removed"),
    (Notice::UnknownDomainsSet, "unknown-domains-set"),
    (Notice::UnknownDomainsUnchanged, "unknown-domains-unchanged"),
    (Notice::UnknownDomainsReset, "unknown-domains-reset"),
    (Notice::UserCreated, "user-created"),
    (Notice::UserDisabled, "user-disabled"),
    (Notice::UserAlreadyDisabled, "user-already-disabled"),
    (Notice::UserEnabled, "user-enabled"),
    (Notice::UserAlreadyEnabled, "user-already-enabled"),
    (Notice::PasswordReset, "password-reset"),
];

impl Notice {
    fn code(self) -> &'static str {
        NOTICES.iter().find(|(notice, _)| *notice == self).map_or("", |(_, code)| code)
    }

    /// `href` with this notice and a count appended.
    pub fn on(self, href: &str, count: u64) -> String {
        let separator = if href.contains('?') { '&' } else { '?' };
        format!("{href}{separator}done={}&n={count}", self.code())
    }

    /// The notice a page's query names, in words; anything else shows nothing.
    pub fn from_query(params: &Params) -> Option<String> {
        let notice = NOTICES.iter().find(|(_, code)| params.get("done") == Some(code)).map(|(notice, _)| *notice)?;
        let n = params.get("n").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        let grants = |n: u64| match n {
            0 => "No grant was".to_owned(),
            1 => "1 grant was".to_owned(),
            n => format!("{n} grants were"),
        };
        let sessions = |n: u64| if n == 1 { "1 session".to_owned() } else { format!("{n} sessions") };
        Some(match notice {
            Self::Approved => "Client approved: users can now sign in with it.".to_owned(),
            Self::Denied => format!("Client denied. {} revoked.", grants(n)),
            Self::Blocked => format!("Client blocked. {} revoked.", grants(n)),
            Self::Unblocked => "Client unblocked: users can sign in with it again.".to_owned(),
            Self::GrantRevoked => "Grant revoked: its refresh tokens no longer work.".to_owned(),
            Self::RuleAdded => format!("Rule added. {} revoked.", grants(n)),
            Self::RuleUnchanged => "That rule was already in place; nothing changed.".to_owned(),
            Self::RuleRemoved => format!("Rule removed. {} revoked.", grants(n)),
            Self::UnknownDomainsSet => format!("unknown_domains changed. {} revoked.", grants(n)),
            Self::UnknownDomainsUnchanged => "unknown_domains already had that value; nothing changed.".to_owned(),
            Self::UnknownDomainsReset => {
                format!("unknown_domains is the configuration file's again. {} revoked.", grants(n))
            }
            Self::UserCreated => "User created.".to_owned(),
            Self::UserDisabled => {
                format!("User disabled: their sessions ended. {} revoked.", grants(n))
            }
            Self::UserAlreadyDisabled => "That account was already disabled; nothing changed.".to_owned(),
            Self::UserEnabled => "User enabled: the account may sign in again.".to_owned(),
            Self::UserAlreadyEnabled => "That account was not disabled; nothing changed.".to_owned(),
            Self::PasswordReset => format!("Password replaced; {} of the account ended.", sessions(n)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(query: &str) -> Option<String> {
        Notice::from_query(&Params::parse(query.as_bytes()).unwrap())
    }

    #[test]
    fn only_the_listed_results_are_ever_said() {
        assert_eq!(said("done=blocked&n=2").as_deref(), Some("Client blocked. 2 grants were revoked."));
        assert_eq!(said("done=rule-added&n=0").as_deref(), Some("Rule added. No grant was revoked."));
        assert_eq!(said("done=blocked&n=lots").as_deref(), Some("Client blocked. No grant was revoked."));
        assert_eq!(said("done=%3Cb%3Ehello%3C%2Fb%3E"), None);
        assert_eq!(said(""), None);
        for (notice, code) in NOTICES {
            assert_eq!(notice.on("/admin", 1), format!("/admin?done={code}&n=1"));
            assert!(said(&format!("done={code}&n=1")).is_some(), "{code}");
        }
    }
}
