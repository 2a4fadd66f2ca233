//! The confirmation step of every change that can take access away: a page that names what
//! will happen ("Block client X? This revokes 3 grants.") with a Confirm button that posts the
//! change with `confirm=yes`, and a Cancel link back. A post without `confirm=yes` shows this
//! page instead of changing anything, so no single request from a stray form can do it.

use super::Chrome;
use crate::pages::{self, Hidden};
use crate::params::Params;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

/// The field and value a confirmed post carries.
pub const FIELD: &str = "confirm";
const YES: &str = "yes";

/// Whether a form post is the confirmed one.
pub fn confirmed(params: &Params) -> bool {
    params.get(FIELD) == Some(YES)
}

/// What a confirmation page asks.
pub struct Confirmation {
    /// The question, also the page title: "Block client X?".
    pub question: String,
    /// What the change does, one sentence each.
    pub consequences: Vec<String>,
    /// Where the confirmed form posts, and the fields it carries besides the CSRF token.
    pub action: String,
    pub fields: Vec<Hidden>,
    /// The button's words: "Block client".
    pub confirm_label: String,
    pub cancel_href: String,
}

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    confirmation: Confirmation,
    confirm_field: &'static str,
    confirm_value: &'static str,
}

pub fn page(chrome: Chrome, confirmation: Confirmation) -> Response {
    pages::render(StatusCode::OK, &ConfirmPage { chrome, confirmation, confirm_field: FIELD, confirm_value: YES })
}

/// A hidden field.
pub fn hidden(name: &str, value: &str) -> Hidden {
    Hidden { name: name.to_owned(), value: value.to_owned() }
}
