//! Password hashing with argon2id (OWASP parameters). Hashing runs on the blocking pool so a
//! login never stalls the async workers; argon2 never runs on the token path (DESIGN §8).

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Clone)]
pub struct Passwords {
    /// Verified against when the username is unknown, so both paths cost the same (no user
    /// enumeration through timing).
    dummy_hash: String,
}

fn argon2() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters")]
    Length,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.chars().count()) {
        return Err(PasswordError::Length);
    }
    argon2().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify(phc: &str, password: &str) -> bool {
    argon2().verify_password(password.as_bytes(), phc).is_ok()
}

impl Passwords {
    pub fn new() -> Result<Self, PasswordError> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let dummy: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { dummy_hash: hash_password(&dummy)? })
    }

    /// Hashes a new password (length rule included) on the blocking pool, so an administrator
    /// creating users does not stall the async workers.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| PasswordError::Hash(format!("hashing task failed: {e}")))?
    }

    /// Checks `password` against `phc`, or against the dummy hash when there is no user.
    /// Always costs one argon2 verification.
    pub async fn verify(&self, phc: Option<String>, password: String) -> bool {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.clone());
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        let ok = tokio::task::spawn_blocking(move || verify(&phc, &password)).await.unwrap_or(false);
        ok && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_right_password_only_and_unknown_users_never_pass() {
        let passwords = Passwords::new().unwrap();
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(passwords.verify(Some(phc.clone()), "correct horse battery".into()).await);
        assert!(!passwords.verify(Some(phc), "correct horse batterY".into()).await);
        assert!(!passwords.verify(None, "correct horse battery".into()).await);
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash_password("short"), Err(PasswordError::Length)));
    }
}
