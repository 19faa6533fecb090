//! Path helpers every layer uses: lexical normalisation, the names that may become file names,
//! and writing a file atomically. They depend on nothing else of ifr.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Resolve `.` and `..` lexically (no file-system access: the path may be a glob).
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A path as ifr records it (fingerprints, manifests, figures' input hashes): relative to `base`
/// (the config's folder) when inside it — the same on every machine and checkout — else whole.
pub fn shown(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

/// Names that become file or folder names in the lake.
pub fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !s.starts_with('-')
}

/// Write bytes to `path` atomically: a temporary file beside it, then a rename.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().ok_or_else(|| Error::Internal(format!("`{}` has no folder", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
    let tmp = dir.join(format!(".{}.{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file"), std::process::id()));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io("writing", &tmp, e))?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io("writing", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into", path, e))
}

/// Every regular file below `dir`, recursively (symbolic links are not followed), unsorted.
pub fn files_below(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.map_err(std::io::Error::from)?;
        if entry.file_type().is_file() {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// `p` made absolute and normalised, as every folder ifr writes is checked and used: `x/missing/..`
/// is `x` to a user, whatever the folders on the way are.
pub fn resolve(p: &Path) -> Result<PathBuf> {
    Ok(normalize(&std::path::absolute(p).map_err(|e| Error::io("resolving", p, e))?))
}

/// A partition's folder, relative to its table: `chain=<c>/year=<y>/month=<m>`.
pub fn partition_dir(chain: &str, year: i32, month: i32) -> PathBuf {
    PathBuf::from(format!("chain={chain}")).join(format!("year={year}")).join(format!("month={month}"))
}
