//! A report table and its renderings. Cells are already-formatted text; `numeric` columns are
//! right-aligned. Rendering is deterministic: the same table gives the same bytes.

/// A table ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    /// Right-align these columns (numbers).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[&str], numeric: &[bool]) -> Table {
        Table { columns: columns.iter().map(|c| c.to_string()).collect(), numeric: numeric.to_vec(), rows: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// RFC 4180 CSV: fields with a comma, quote or line break are quoted, quotes doubled.
    pub fn to_csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
        };
        let mut out = String::new();
        for row in std::iter::once(&self.columns).chain(&self.rows) {
            out.push_str(&row.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }

    /// GitHub-flavoured Markdown; every cell goes through [`markdown_escape`].
    pub fn to_markdown(&self) -> String {
        let esc = markdown_escape;
        let mut out = format!("| {} |\n", self.columns.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
        let rule: Vec<&str> = self.numeric.iter().map(|n| if *n { "---:" } else { "---" }).collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")));
        }
        out
    }

    /// A LaTeX booktabs `tabular` fragment (needs `\usepackage{booktabs}`); special characters escaped.
    pub fn to_latex(&self) -> String {
        let spec: String = self.numeric.iter().map(|n| if *n { 'r' } else { 'l' }).collect();
        let mut out = format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n");
        out.push_str(&format!("{} \\\\\n\\midrule\n", self.columns.iter().map(|c| latex_escape(c)).collect::<Vec<_>>().join(" & ")));
        for row in &self.rows {
            out.push_str(&format!("{} \\\\\n", row.iter().map(|c| latex_escape(c)).collect::<Vec<_>>().join(" & ")));
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n");
        out
    }
}

/// Escape text for LaTeX.
pub fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// USD to the cent from integer micro-dollars, rounded half away from zero, no float involved.
pub fn usd_from_micro(micro: i128) -> String {
    let neg = micro < 0;
    let cents = (micro.unsigned_abs() + 5_000) / 10_000;
    format!("{}{}.{:02}", if neg { "-" } else { "" }, cents / 100, cents % 100)
}

/// Untrusted text as literal Markdown text: every character that could start a link, an image,
/// emphasis, code, HTML, an entity, math (`$`) or a table cell is backslash-escaped (CommonMark allows it for
/// any ASCII punctuation); `_` only at a word's edge (inside a word it is never emphasis, and ids
/// like `lazarus_group` stay readable); line breaks become spaces.
pub fn markdown_escape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '_' => {
                let word = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
                if !(word(i.checked_sub(1)) && word(Some(i + 1))) {
                    out.push('\\');
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A USD amount for prose: $1.23bn, $624.0M, $41.3M, $9,999.
pub fn usd_short(micro: i128) -> String {
    let usd = micro as f64 / 1e6;
    let a = usd.abs();
    if a >= 1e9 {
        format!("${:.2}bn", usd / 1e9)
    } else if a >= 1e6 {
        format!("${:.1}M", usd / 1e6)
    } else {
        format!("${:.0}", usd)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn untrusted_text_stays_text_in_markdown() {
        assert_eq!(markdown_escape("[click](javascript:alert(1))"), "\\[click\\](javascript:alert(1))");
        assert_eq!(markdown_escape("![x](http://e/x.png)"), "\\!\\[x\\](http://e/x.png)");
        assert_eq!(markdown_escape("<img src=x onerror=alert(1)>"), "\\<img src=x onerror=alert(1)\\>");
        assert_eq!(markdown_escape("**bold** `code` a|b ~~s~~ &amp; # h"), "\\*\\*bold\\*\\* \\`code\\` a\\|b \\~\\~s\\~\\~ \\&amp; \\# h");
        assert_eq!(markdown_escape("lazarus_group _em_ a\nb"), "lazarus_group \\_em\\_ a b");
        assert_eq!(markdown_escape("back\\slash"), "back\\\\slash");
        assert_eq!(markdown_escape("$m$"), "\\$m\\$");
    }

    use super::*;

    #[test]
    fn renderings_escape_untrusted_text() {
        let mut t = Table::new(&["label", "value_usd"], &[false, true]);
        t.push(vec!["<script>a|b</script> & 50% _x_".into(), "1.00".into()]);
        t.push(vec!["comma, \"quoted\"".into(), "2.50".into()]);
        assert_eq!(t.to_csv(), "label,value_usd\n<script>a|b</script> & 50% _x_,1.00\n\"comma, \"\"quoted\"\"\",2.50\n");
        let md = t.to_markdown();
        assert!(md.contains("| \\<script\\>a\\|b\\</script\\> \\& 50% \\_x\\_ | 1.00 |") && md.contains("| --- | ---: |"), "{md}");
        let tex = t.to_latex();
        assert!(tex.contains("\\textless{}script\\textgreater{}a|b") && tex.contains("\\& 50\\% \\_x\\_"), "{tex}");
        assert!(tex.starts_with("\\begin{tabular}{lr}\n\\toprule\n"));
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(usd_from_micro(624_000_000_000_000), "624000000.00");
        assert_eq!(usd_from_micro(1_234_565_000), "1234.57");
        assert_eq!(usd_from_micro(-5_000), "-0.01");
        assert_eq!(usd_short(624_000_000_000_000), "$624.0M");
        assert_eq!(usd_short(1_650_000_000_000_000), "$1.65bn");
    }
}
