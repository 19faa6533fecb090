//! The self-contained report page: headline figures, charts inline (SVG), tables and methodology.
//! Every text from an input file is escaped; the page loads nothing from elsewhere and runs no script.

use crate::tables::Table;

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with `code` and **bold** spans (the only Markdown the methodology uses).
pub fn inline(s: &str) -> String {
    let e = escape(s);
    let mut out = String::new();
    let (mut code, mut bold) = (false, false);
    let mut chars = e.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|n| n.is_ascii_punctuation()) {
            // A Markdown backslash escape: the next character is literal text.
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else if c == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        } else if c == '*' && chars.peek() == Some(&'*') && !code {
            chars.next();
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
        } else {
            out.push(c);
        }
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

/// A table for readers ([`Table::for_readers`]): human headers, formatted numbers, escaped text.
pub fn table(t: &Table) -> String {
    let t = &t.for_readers();
    let mut s = String::from("<table>\n<thead><tr>");
    for (c, n) in t.columns.iter().zip(&t.numeric) {
        s.push_str(&format!("<th{}>{}</th>", if *n { " class=\"num\"" } else { "" }, escape(c)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        s.push_str("<tr>");
        for (c, n) in row.iter().zip(&t.numeric) {
            s.push_str(&format!("<td{}>{}</td>", if *n { " class=\"num\"" } else { "" }, escape(c)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// A page section: a heading and its HTML body (already escaped).
pub struct Section {
    pub title: String,
    pub id: String,
    pub html: String,
}

/// The whole page; `banner`, when set, is shown above everything (untrusted text, escaped).
pub fn page(title: &str, banner: Option<&str>, headlines: &[String], sections: &[Section]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        CSS,
        escape(title)
    );
    if let Some(b) = banner {
        s.push_str(&format!("<p class=\"banner\" role=\"note\"><strong>Synthetic data.</strong> {}</p>\n", escape(b)));
    }
    if !headlines.is_empty() {
        s.push_str("<section id=\"headlines\">\n<h2>Headline figures</h2>\n<ul>\n");
        for h in headlines {
            s.push_str(&format!("<li>{}</li>\n", inline(h)));
        }
        s.push_str("</ul>\n</section>\n");
    }
    for sec in sections {
        s.push_str(&format!("<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", escape(&sec.id), escape(&sec.title), sec.html));
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// Methodology lines (Markdown list items) as an HTML list.
pub fn list(lines: &[String]) -> String {
    let mut s = String::from("<ul>\n");
    for l in lines {
        s.push_str(&format!("<li>{}</li>\n", inline(l.trim_start_matches("- "))));
    }
    s.push_str("</ul>\n");
    s
}

const CSS: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\n\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em;display:block;overflow-x:auto}\nth,td{padding:0.25em 0.6em;border-bottom:1px solid #ddd;text-align:left}\n\
th{border-bottom:2px solid #444}\n.num{text-align:right;font-variant-numeric:tabular-nums}\nfigure{margin:1.5em 0}\nfigure svg{max-width:100%;height:auto}\n\
code{background:#f3f3f3;padding:0 0.2em}\n.banner{background:#fff3cd;border:1px solid #c9a227;padding:0.5em 0.8em}\n\
@media print{body{max-width:none;margin:0}table{display:table;width:100%;font-size:0.62em}th,td{padding:0.15em 0.3em}\
td{overflow-wrap:anywhere}td.num{white-space:nowrap}figure{break-inside:avoid}}\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_stays_text() {
        let mut t = Table::new(&["label"], &[false]);
        t.push(vec!["<script>alert(1)</script>".into()]);
        let html = page(
            "T <b>",
            Some("made <up>"),
            &["a **bold** `code` <i>".into()],
            &[Section { title: "S".into(), id: "s".into(), html: table(&t) }],
        );
        assert!(html.contains("<strong>Synthetic data.</strong> made &lt;up&gt;"));
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<title>T &lt;b&gt;</title>"));
        assert!(html.contains("a <strong>bold</strong> <code>code</code> &lt;i&gt;"));
    }
}
