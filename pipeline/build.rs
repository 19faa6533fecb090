//! The versions of the query engines ifr is built with, read from the workspace's Cargo.lock, for
//! the report's manifest (which engine ran the queries, at which version).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock = std::path::Path::new(&dir).join("..").join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for (name, var) in [("polars", "IFR_POLARS_VERSION"), ("datafusion", "IFR_DATAFUSION_VERSION"), ("ballista", "IFR_BALLISTA_VERSION")] {
        let version = text
            .split("[[package]]")
            .find_map(|package| {
                let mut fields = package.lines().map(str::trim).filter(|l| !l.is_empty());
                let named = fields.next().is_some_and(|l| l == format!("name = \"{name}\""));
                let version = fields.next().and_then(|l| l.strip_prefix("version = \"")).and_then(|v| v.strip_suffix('"'));
                if named { version } else { None }
            })
            .unwrap_or("unknown");
        println!("cargo:rustc-env={var}={version}");
    }
}
