//! A form post from one of Postern's own pages (the account pages and the admin console): form
//! encoded, no repeated field, sent by a browser that holds the session cookie and echoes the
//! CSRF token bound to it (R096, session.rs). Nothing is read from a form before these checks.

use crate::params::{Params, is_form_urlencoded};
use crate::session::{self, BrowserSession};
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use postern_store::StoreError;

/// Why a form post was refused before its fields were looked at.
#[derive(Debug)]
pub enum FormRefused {
    NotForm,
    Malformed(String),
    /// No session cookie: the browser refuses cookies, or the form came from elsewhere.
    NoCookie,
    /// The CSRF token is missing or belongs to another session.
    BadCsrf,
    Store(StoreError),
}

impl FormRefused {
    /// What the page says.
    pub fn message(&self) -> String {
        match self {
            Self::NotForm => "The request body must be application/x-www-form-urlencoded.".to_owned(),
            Self::Malformed(message) => message.clone(),
            Self::NoCookie => {
                "Your browser did not send the session cookie. Enable cookies and open the page again.".to_owned()
            }
            Self::BadCsrf => "This form has expired or was not sent from this site. Open the page again.".to_owned(),
            Self::Store(_) => "The server could not complete this request. Try again in a moment.".to_owned(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotForm | Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::NoCookie | Self::BadCsrf => StatusCode::FORBIDDEN,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Parses and checks a form post; returns its fields and the browser's session.
pub async fn checked(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Params, BrowserSession), FormRefused> {
    if !is_form_urlencoded(headers) {
        return Err(FormRefused::NotForm);
    }
    let params = Params::parse_unique(body).map_err(FormRefused::Malformed)?;
    let session =
        session::load_existing(state, headers).await.map_err(FormRefused::Store)?.ok_or(FormRefused::NoCookie)?;
    if !session.verify_csrf(params.get("csrf_token")) {
        return Err(FormRefused::BadCsrf);
    }
    Ok((params, session))
}
