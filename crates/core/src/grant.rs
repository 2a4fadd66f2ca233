//! The grant state machine: what happens when a code or a refresh token is presented.

use crate::clock::UnixTime;

/// What the store knows about a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenState {
    pub client_id: String,
    pub expires_at: UnixTime,
    /// Set when this token was exchanged for a successor.
    pub rotated_at: Option<UnixTime>,
    /// Set when the token, or the grant behind it, was revoked.
    pub revoked_at: Option<UnixTime>,
}

/// The verdict on a refresh request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue a successor and mark this token rotated.
    Rotate,
    /// Already rotated, but so recently that the client most likely lost the response: issue
    /// another successor in the same family (DESIGN §4, PEERS §4 item 12).
    ReissueWithinGrace,
    /// A rotated token came back after the grace window: someone holds a stolen copy. Revoke
    /// the whole grant (RFC 9700 §4.14, SPEC R149).
    RevokeFamily,
    /// Expired, revoked or bound to another client: `invalid_grant`, nothing else changes.
    Reject,
}

/// RFC 9700 §4.14 rotation with a grace window; `grace_seconds = 0` is strict rotation.
pub fn decide_refresh(
    state: &RefreshTokenState,
    presenting_client: &str,
    now: UnixTime,
    grace_seconds: i64,
) -> RefreshDecision {
    // R150: a token presented by another client says nothing about the grant's holder, so it
    // is refused without touching the family (otherwise anyone could revoke a user's grant).
    if state.client_id != presenting_client || state.revoked_at.is_some() || now >= state.expires_at {
        return RefreshDecision::Reject;
    }
    match state.rotated_at {
        None => RefreshDecision::Rotate,
        Some(rotated) if now - rotated <= grace_seconds => RefreshDecision::ReissueWithinGrace,
        Some(_) => RefreshDecision::RevokeFamily,
    }
}

/// Codes live for a short, fixed time (R140; 60 s by default).
pub fn code_is_live(expires_at: UnixTime, now: UnixTime) -> bool {
    now < expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> RefreshTokenState {
        RefreshTokenState { client_id: "c".into(), expires_at: 10_000, rotated_at: None, revoked_at: None }
    }

    #[test]
    fn r148_unused_token_rotates() {
        assert_eq!(decide_refresh(&live(), "c", 100, 30), RefreshDecision::Rotate);
    }

    #[test]
    fn grace_window_reissues_then_reuse_revokes_family() {
        let state = RefreshTokenState { rotated_at: Some(100), ..live() };
        assert_eq!(decide_refresh(&state, "c", 130, 30), RefreshDecision::ReissueWithinGrace);
        assert_eq!(decide_refresh(&state, "c", 131, 30), RefreshDecision::RevokeFamily);
        assert_eq!(decide_refresh(&state, "c", 100, 0), RefreshDecision::ReissueWithinGrace);
        assert_eq!(decide_refresh(&state, "c", 101, 0), RefreshDecision::RevokeFamily);
    }

    #[test]
    fn r150_other_client_expired_and_revoked_are_rejected() {
        assert_eq!(decide_refresh(&live(), "other", 100, 30), RefreshDecision::Reject);
        assert_eq!(decide_refresh(&live(), "c", 10_000, 30), RefreshDecision::Reject);
        let revoked = RefreshTokenState { revoked_at: Some(50), ..live() };
        assert_eq!(decide_refresh(&revoked, "c", 100, 30), RefreshDecision::Reject);
        let stolen_elsewhere = RefreshTokenState { rotated_at: Some(1), ..live() };
        assert_eq!(decide_refresh(&stolen_elsewhere, "other", 100, 30), RefreshDecision::Reject);
    }

    #[test]
    fn r140_code_expires_at_its_deadline() {
        assert!(code_is_live(160, 159));
        assert!(!code_is_live(160, 160));
    }
}
