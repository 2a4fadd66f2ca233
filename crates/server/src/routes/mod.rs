pub mod authorize;
pub mod health;
pub mod introspect;
pub mod metadata;
pub mod register;
pub mod revoke;
pub mod token;
