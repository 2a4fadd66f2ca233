//! The demo's only state: a few short notes per user, in memory and bounded, so a public demo
//! cannot be used to fill the server's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Characters per note at most.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Notes kept per user; the oldest is dropped first.
pub const MAX_NOTES_PER_USER: usize = 20;
/// Users with notes at most; beyond that, new users' notes are refused.
pub const MAX_USERS: usize = 1000;

/// Notes by user (`sub`). Cheap to clone; clones share the notes.
#[derive(Debug, Clone, Default)]
pub struct Notes(Arc<Mutex<HashMap<String, Vec<String>>>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteRefused {
    Empty,
    TooLong { chars: usize },
    TooManyUsers,
}

impl std::fmt::Display for NoteRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "the note is empty"),
            Self::TooLong { chars } => write!(f, "the note has {chars} characters; at most {MAX_NOTE_CHARS} are kept"),
            Self::TooManyUsers => write!(f, "the demo keeps notes for {MAX_USERS} users at most"),
        }
    }
}

impl Notes {
    /// Adds `text` to `user`'s notes and returns how many that user now has.
    pub fn add(&self, user: &str, text: &str) -> Result<usize, NoteRefused> {
        let chars = text.chars().count();
        if text.trim().is_empty() {
            return Err(NoteRefused::Empty);
        }
        if chars > MAX_NOTE_CHARS {
            return Err(NoteRefused::TooLong { chars });
        }
        // A poisoned lock only means another request panicked mid-push; the map is still whole.
        let mut notes = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !notes.contains_key(user) && notes.len() >= MAX_USERS {
            return Err(NoteRefused::TooManyUsers);
        }
        let mine = notes.entry(user.to_owned()).or_default();
        if mine.len() >= MAX_NOTES_PER_USER {
            mine.remove(0);
        }
        mine.push(text.to_owned());
        Ok(mine.len())
    }

    /// `user`'s notes, oldest first.
    pub fn of(&self, user: &str) -> Vec<String> {
        let notes = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        notes.get(user).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_kept_per_user_and_the_oldest_goes_first() {
        let notes = Notes::default();
        for i in 0..MAX_NOTES_PER_USER + 2 {
            notes.add("alice", &format!("n{i}")).unwrap();
        }
        let kept = notes.of("alice");
        assert_eq!(kept.len(), MAX_NOTES_PER_USER);
        assert_eq!(kept[0], "n2");
        assert!(notes.of("bob").is_empty());
    }

    #[test]
    fn empty_and_overlong_notes_are_refused() {
        let notes = Notes::default();
        assert_eq!(notes.add("alice", "  "), Err(NoteRefused::Empty));
        let long = "é".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(notes.add("alice", &long), Err(NoteRefused::TooLong { chars: MAX_NOTE_CHARS + 1 }));
        assert!(notes.add("alice", &"é".repeat(MAX_NOTE_CHARS)).is_ok());
    }

    #[test]
    fn the_number_of_users_is_bounded() {
        let notes = Notes::default();
        for i in 0..MAX_USERS {
            notes.add(&format!("u{i}"), "x").unwrap();
        }
        assert_eq!(notes.add("one-too-many", "x"), Err(NoteRefused::TooManyUsers));
        assert!(notes.add("u0", "still fine").is_ok());
    }
}
