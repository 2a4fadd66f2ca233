//! Whether an audit event records a success or a failure: one table, used by the admin API to
//! label events and to filter them by `outcome`, so the label and the filter always agree.

/// The kinds that record a failure: something refused, denied, rejected, or abuse detected.
/// Every other kind records a success. A new kind of failure event must be added here, or the
/// `outcome=failure` filter will not find it.
pub const FAILURE_KINDS: &[&str] = &[
    // A password that did not match, or the right password for a disabled account.
    "login_failed",
    "login_refused_disabled",
    // The right password at the admin console's sign-in, for an account that is not an
    // administrator.
    "admin_console_refused",
    // An admin API call without valid credentials, by a non-administrator, or a change with a
    // read-only token or without the session's CSRF token.
    "admin_api_call_refused",
    // The user said no on the consent page.
    "consent_denied",
    // RFC 9700 §4.14 / R139: a code or a rotated refresh token presented again.
    "code_replay_detected",
    "refresh_reuse_detected",
    // DCR: an invalid registration, a flood, or the client cap.
    "client_registration_rejected",
    // CIMD: a user brought more never-seen client_ids in an hour than the allowance.
    "cimd_new_client_limit_reached",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn of(kind: &str) -> Self {
        if FAILURE_KINDS.contains(&kind) { Self::Failure } else { Self::Success }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_denials_and_detected_reuse_are_failures_everything_else_succeeds() {
        for kind in FAILURE_KINDS {
            assert_eq!(Outcome::of(kind), Outcome::Failure, "{kind}");
        }
        for kind in ["login_succeeded", "token_issued", "consent_granted", "admin_user_disabled", "admin_api_call"] {
            assert_eq!(Outcome::of(kind), Outcome::Success, "{kind}");
        }
    }

    #[test]
    fn only_the_two_outcome_words_parse() {
        assert_eq!(Outcome::parse("failure").map(Outcome::as_str), Some("failure"));
        assert_eq!(Outcome::parse("success").map(Outcome::as_str), Some("success"));
        assert_eq!(Outcome::parse("Failure"), None);
        assert_eq!(Outcome::parse(""), None);
    }
}
