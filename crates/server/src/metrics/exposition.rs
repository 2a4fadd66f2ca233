//! The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` lines, then one
//! `name{label="value",...} number` line per series. Label values are escaped even though every
//! value Postern writes comes from a fixed set: the writer must not depend on that for its output
//! to parse.

use std::fmt::Write;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a family is; Postern only has counters so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
        }
    }
}

/// Builds one scrape's text.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines. Its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.text.push_str("# HELP ");
        self.text.push_str(name);
        self.text.push(' ');
        escape_help(help, &mut self.text);
        self.text.push_str("\n# TYPE ");
        self.text.push_str(name);
        self.text.push(' ');
        self.text.push_str(kind.as_str());
        self.text.push('\n');
    }

    /// One series of the family started last. Label names are Postern's own identifiers.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(label);
                self.text.push_str("=\"");
                escape_label_value(value, &mut self.text);
                self.text.push('"');
            }
            self.text.push('}');
        }
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, " {value}");
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

/// In a label value, `\`, `"` and a line feed are written `\\`, `\"` and `\n`.
fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// In HELP text, only `\` and a line feed are escaped (a quote is literal there).
fn escape_help(help: &str, out: &mut String) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        let mut out = Exposition::default();
        out.sample("m", &[("path", "C:\\dir \"x\"\nnext"), ("ok", "plain")], 3);
        assert_eq!(out.into_text(), "m{path=\"C:\\\\dir \\\"x\\\"\\nnext\",ok=\"plain\"} 3\n");
    }

    #[test]
    fn an_escaped_value_cannot_end_the_label_or_the_line_early() {
        let hostile = "a\"} 999\nevil_total 1\n\\";
        let mut out = Exposition::default();
        out.sample("m", &[("v", hostile)], 1);
        let text = out.into_text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.ends_with("\"} 1\n"), "{text}");
        // Unescaping the quoted value gives back exactly what was written.
        let quoted = text.strip_prefix("m{v=\"").and_then(|t| t.strip_suffix("\"} 1\n")).unwrap();
        assert_eq!(unescape(quoted), hostile);
    }

    /// The reading side of the format, as a scraper does it.
    fn unescape(quoted: &str) -> String {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => panic!("dangling backslash in {quoted:?}"),
                },
                ('"', false) => panic!("unescaped quote in {quoted:?}"),
                (c, false) => out.push(c),
            }
        }
        out
    }

    #[test]
    fn help_escapes_backslash_and_line_feed_but_keeps_quotes() {
        let mut out = Exposition::default();
        out.family("m_total", Kind::Counter, "a \"b\" c\\d\ne");
        assert_eq!(out.into_text(), "# HELP m_total a \"b\" c\\\\d\\ne\n# TYPE m_total counter\n");
    }

    #[test]
    fn a_series_without_labels_has_no_braces() {
        let mut out = Exposition::default();
        out.sample("up", &[], 1);
        assert_eq!(out.into_text(), "up 1\n");
    }
}
