//! Helpers for the SQL text ifr builds around its queries.

/// Values as a SQL list of string literals (`'a', 'b'`), quotes doubled: for `col IN (…)` filters
/// that polars pushes into the Parquet scan.
pub fn string_list<S: AsRef<str>>(values: &[S]) -> String {
    values.iter().map(|v| format!("'{}'", v.as_ref().replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}
