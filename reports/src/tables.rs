//! A report table and its renderings. Cells are already-formatted text; `numeric` columns are
//! right-aligned. CSV keeps the cells and column names as computed (plain numbers, machine names);
//! Markdown, HTML and LaTeX are for readers: human headers, money in whole dollars and counts with
//! thousands separators, and a `year` column that only repeats the report's year left out.
//! Rendering is deterministic: the same table gives the same bytes.

/// A table ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    /// Right-align these columns (numbers).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
    /// For readers: ids shown by their names (actor id -> its label) in the columns that hold
    /// actors; the CSV keeps the ids.
    pub names: std::collections::BTreeMap<String, String>,
}

impl Table {
    pub fn new(columns: &[&str], numeric: &[bool]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            numeric: numeric.to_vec(),
            rows: Vec::new(),
            names: Default::default(),
        }
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

    /// Show the ids of the actor columns (`actor`, `counterparty_actor`) by these names to readers.
    pub fn with_names(mut self, names: &std::collections::BTreeMap<String, String>) -> Table {
        self.names = names.clone();
        self
    }

    /// The table as a reader sees it (Markdown, HTML, LaTeX): human headers, cells formatted by
    /// their column's kind ([`shown`]), actors by their names ([`Table::with_names`]), a `year`
    /// column whose every row is the same year left out.
    pub fn for_readers(&self) -> Table {
        let constant_year =
            |i: usize| self.columns[i] == "year" && !self.rows.is_empty() && self.rows.iter().all(|r| r.get(i) == self.rows[0].get(i));
        let keep: Vec<usize> = (0..self.columns.len()).filter(|&i| !constant_year(i)).collect();
        let kinds: Vec<Shown> = self.columns.iter().zip(&self.numeric).map(|(c, n)| shown(c, *n)).collect();
        let actor_column = |i: usize| ["actor", "counterparty_actor"].contains(&self.columns[i].as_str());
        let cell = |i: usize, c: &str| match self.names.get(c) {
            Some(name) if actor_column(i) => name.clone(),
            _ => kinds[i].format(c),
        };
        Table {
            columns: keep.iter().map(|&i| header(&self.columns[i])).collect(),
            numeric: keep.iter().map(|&i| self.numeric[i]).collect(),
            rows: self.rows.iter().map(|r| keep.iter().map(|&i| r.get(i).map_or(String::new(), |c| cell(i, c))).collect()).collect(),
            names: Default::default(),
        }
    }

    /// GitHub-flavoured Markdown for readers ([`Table::for_readers`]); every cell goes through
    /// [`markdown_escape`].
    pub fn to_markdown(&self) -> String {
        let t = self.for_readers();
        let esc = markdown_escape;
        let mut out = format!("| {} |\n", t.columns.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
        let rule: Vec<&str> = t.numeric.iter().map(|n| if *n { "---:" } else { "---" }).collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &t.rows {
            out.push_str(&format!("| {} |\n", row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")));
        }
        out
    }

    /// A LaTeX booktabs `tabular` fragment for readers ([`Table::for_readers`]; needs
    /// `\usepackage{booktabs}` and `\usepackage{graphicx}`), special characters escaped. A table
    /// wider than the line is scaled down to the line's width (`\resizebox` of its natural width
    /// when that is wider than `\linewidth`), so a fragment always fits a one-column page.
    pub fn to_latex(&self) -> String {
        let t = self.for_readers();
        let spec: String = t.numeric.iter().map(|n| if *n { 'r' } else { 'l' }).collect();
        let mut out = String::from("\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n");
        out.push_str(&format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n"));
        out.push_str(&format!("{} \\\\\n\\midrule\n", t.columns.iter().map(|c| latex_escape(c)).collect::<Vec<_>>().join(" & ")));
        for row in &t.rows {
            out.push_str(&format!("{} \\\\\n", row.iter().map(|c| latex_escape(c)).collect::<Vec<_>>().join(" & ")));
        }
        out.push_str("\\bottomrule\n\\end{tabular}%\n}%\n");
        out
    }
}

/// How a column's cells are shown to a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// As computed.
    Text,
    /// USD: whole dollars with thousands separators (`724,000,000`).
    Money,
    /// A count with thousands separators (`102,467`).
    Count,
}

/// The kind of a column, by its name (the report's contract): money columns end in `_usd` (or
/// `_usd_low`/`_usd_high`), counts are `transfers`, `*_transfers`, `labels`, `incidents` and
/// `unpriced_destinations`; everything else — years, blocks, ranks, shares, ids — as computed.
pub fn shown(column: &str, numeric: bool) -> Shown {
    let words: Vec<&str> = column.split('_').collect();
    if !numeric {
        Shown::Text
    } else if words.contains(&"usd") {
        Shown::Money
    } else if column == "transfers" || column.ends_with("_transfers") || ["labels", "incidents", "unpriced_destinations"].contains(&column)
    {
        Shown::Count
    } else {
        Shown::Text
    }
}

impl Shown {
    /// A cell as the reader sees it; a cell that is not a plain number (empty: unknown) as it is.
    pub fn format(self, cell: &str) -> String {
        match self {
            Shown::Text => cell.to_string(),
            Shown::Count => match cell.parse::<i128>() {
                Ok(n) => group_thousands(n),
                Err(_) => cell.to_string(),
            },
            Shown::Money => whole_dollars(cell).map_or_else(|| cell.to_string(), group_thousands),
        }
    }
}

/// `724000000.00` → 724000000, `-0.50` → -1, `12.49` → 12: rounded half away from zero, exactly
/// (no float); None for anything but a plain decimal number.
fn whole_dollars(cell: &str) -> Option<i128> {
    let (neg, digits) = match cell.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, cell),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = int.parse().ok()?;
    if frac.as_bytes().first().is_some_and(|d| *d >= b'5') {
        v = v.checked_add(1)?;
    }
    Some(if neg { -v } else { v })
}

/// 1234567 → `1,234,567`.
pub fn group_thousands(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A column name as a reader's header: `value_usd` → `Value (USD)`, `onchain_transfers` →
/// `On-chain transfers`, `change_pct` → `Change %`.
pub fn header(column: &str) -> String {
    let mut words: Vec<&str> = column.split('_').filter(|w| !w.is_empty()).collect();
    let usd = words.iter().position(|w| *w == "usd").map(|i| words.remove(i)).is_some();
    let words: Vec<&str> = words
        .into_iter()
        .map(|w| match w {
            "onchain" => "on-chain",
            "pct" => "%",
            other => other,
        })
        .collect();
    let mut s = words.join(" ");
    if let Some(first) = s.get(..1) {
        s = first.to_uppercase() + &s[1..];
    }
    if usd {
        s.push_str(if s.is_empty() { "USD" } else { " (USD)" });
    }
    s
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

/// A USD amount for prose: $1.65B, $624.0M, $41.3M, $9,999.
pub fn usd_short(micro: i128) -> String {
    let usd = micro as f64 / 1e6;
    let a = usd.abs();
    if a >= 1e9 {
        format!("${:.2}B", usd / 1e9)
    } else if a >= 1e6 {
        format!("${:.1}M", usd / 1e6)
    } else {
        let whole = (micro.unsigned_abs() + 500_000) / 1_000_000;
        format!("{}${}", if micro < 0 { "-" } else { "" }, group_thousands(whole as i128))
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
        assert!(md.contains("| \\<script\\>a\\|b\\</script\\> \\& 50% \\_x\\_ | 1 |") && md.contains("| --- | ---: |"), "{md}");
        assert!(md.starts_with("| Label | Value (USD) |"), "{md}");
        let tex = t.to_latex();
        assert!(tex.contains("\\textless{}script\\textgreater{}a|b") && tex.contains("\\& 50\\% \\_x\\_"), "{tex}");
        assert!(tex.contains("\\begin{tabular}{lr}\n\\toprule\nLabel & Value (USD) \\\\\n"), "{tex}");
    }

    /// Readers see whole dollars and counts with thousands separators, exact (no float), and no
    /// `year` column that repeats the report's year; CSV keeps what was computed.
    #[test]
    fn readers_see_grouped_whole_dollars_and_human_headers() {
        let mut t = Table::new(&["year", "value_usd", "transfers", "first_block", "priced_share"], &[true, true, true, true, true]);
        t.push(vec!["2022".into(), "724000000.00".into(), "102467".into(), "12628009".into(), "0.9818".into()]);
        t.push(vec!["2022".into(), "-1234.50".into(), "7".into(), "1".into(), "".into()]);
        t.push(vec!["2022".into(), "".into(), "1000".into(), "2".into(), "1.0000".into()]);
        let r = t.for_readers();
        assert_eq!(r.columns, ["Value (USD)", "Transfers", "First block", "Priced share"]);
        assert_eq!(r.rows[0], ["724,000,000", "102,467", "12628009", "0.9818"]);
        assert_eq!(r.rows[1], ["-1,235", "7", "1", ""]);
        assert_eq!(r.rows[2], ["", "1,000", "2", "1.0000"], "an unknown value stays empty, never 0");
        assert!(t.to_csv().starts_with("year,value_usd,transfers,first_block,priced_share\n2022,724000000.00,102467,"));
        assert_eq!(whole_dollars("12.49"), Some(12));
        assert_eq!(whole_dollars("0.5"), Some(1));
        assert_eq!(whole_dollars("1e9"), None);
        assert_eq!(group_thousands(-1_000_000), "-1,000,000");
        assert_eq!(header("onchain_transfers"), "On-chain transfers");
        assert_eq!(header("value_usd_low"), "Value low (USD)");
        assert_eq!(header("change_pct"), "Change %");
        // A year column that differs between rows is kept.
        let mut y = Table::new(&["year", "value_usd"], &[true, true]);
        y.push(vec!["2017".into(), "1.00".into()]);
        y.push(vec!["2018".into(), "2.00".into()]);
        assert_eq!(y.for_readers().columns, ["Year", "Value (USD)"]);
        // Actors by their names for readers; other columns and the CSV keep the ids.
        let names = std::collections::BTreeMap::from([("lazarus_group".to_string(), "Lazarus Group".to_string())]);
        let mut a = Table::new(&["actor", "label"], &[false, false]).with_names(&names);
        a.push(vec!["lazarus_group".into(), "lazarus_group".into()]);
        a.push(vec!["unknown_id".into(), "x".into()]);
        assert_eq!(a.for_readers().rows, [["Lazarus Group", "lazarus_group"], ["unknown_id", "x"]]);
        assert!(a.to_csv().contains("\nlazarus_group,lazarus_group\n"));
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(usd_from_micro(624_000_000_000_000), "624000000.00");
        assert_eq!(usd_from_micro(1_234_565_000), "1234.57");
        assert_eq!(usd_from_micro(-5_000), "-0.01");
        assert_eq!(usd_short(624_000_000_000_000), "$624.0M");
        assert_eq!(usd_short(1_650_000_000_000_000), "$1.65B");
    }
}
