//! HTML escaping and the server's own pages (Twisted's `twisted.web.util.escapeToXML`
//! and `resource.ErrorPage`).
//!
//! ```
//! use torsion_web::server::html::{error_page, escape};
//! assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;");
//! let page = error_page(404, "No Such Resource", "<script>");
//! assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"));
//! ```
//!
//! Every page the server writes goes through [`escape`] for anything that came from a
//! request (a path, a file name, a redirect target), so nothing a client sends is
//! reflected into HTML as markup.

use std::fmt::Write;

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by entities: safe between tags and
/// inside a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A small HTML page for an error status: `title` and `detail` are escaped.
pub fn error_page(status: u16, title: &str, detail: &str) -> String {
    let (title, detail) = (escape(title), escape(detail));
    let mut page = String::with_capacity(160 + 2 * title.len() + detail.len());
    // Writing to a String cannot fail.
    let _ = write!(
        page,
        "<html>\n  <head><title>{status} - {title}</title></head>\n  <body>\n    \
         <h1>{title}</h1>\n    <p>{detail}</p>\n  </body>\n</html>\n"
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_a_request_never_survives() {
        let table = [
            ("plain", "plain"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a\"b'c", "a&quot;b&#x27;c"),
            ("&amp;", "&amp;amp;"),
            ("caf\u{e9}", "caf\u{e9}"),
        ];
        for (text, escaped) in table {
            assert_eq!(escape(text), escaped);
        }
        let page = error_page(405, "Method <Not> Allowed", "x\"><img src=y>");
        assert!(page.contains("<title>405 - Method &lt;Not&gt; Allowed</title>"));
        assert!(!page.contains("<img"));
    }
}
