//! Folders ifr owns: the lake, the report folder and the generated sample. ifr writes and deletes
//! only inside a folder it created or that carries its marker file; it refuses `/`, the home
//! folder, the config's own folder and any non-empty folder that is not its own, so that a
//! mistyped `out = "photos"` can never cost a user a file.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The marker file that makes a folder ifr's. Its text names what the folder is.
pub const MARKER: &str = ".ifr-owned";

/// The file in which a generated sample keeps the fingerprint of its options (written by releases
/// before `MARKER` too, so it also identifies their samples).
pub const SAMPLE_MARKER: &str = ".ifr-sample";

/// What an owned folder holds (written into its marker; a folder is claimed for one use only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Lake,
    Report,
    Sample,
    /// `ifr refresh`'s dated releases and their `current` link.
    Releases,
    /// A source's fetched snapshots (`url = …`), kept and never overwritten.
    Downloads,
}

impl Use {
    pub fn as_str(self) -> &'static str {
        match self {
            Use::Lake => "lake",
            Use::Report => "report",
            Use::Sample => "sample",
            Use::Releases => "releases",
            Use::Downloads => "downloads",
        }
    }

    /// The first line of the marker of a folder claimed for this use.
    fn marker_line(self) -> String {
        format!("ifr {}", self.as_str())
    }

    fn marker_text(self) -> String {
        format!("{}\nThis folder is written by ifr: it may replace or delete any file in it.\n", self.marker_line())
    }

    /// The refusal of a folder whose marker `line` names another use.
    fn taken(self, dir: &Path, line: &str) -> Error {
        Error::Config(format!(
            "{} = `{}` is ifr's {} folder (its `{MARKER}` says `{line}`); give the {} a folder of its own",
            self.key(),
            dir.display(),
            line.trim_start_matches("ifr "),
            self.as_str()
        ))
    }

    /// The config key that names this folder (for messages).
    fn key(self) -> &'static str {
        match self {
            Use::Lake => "lake",
            Use::Report => "[report] out",
            Use::Sample => "[sample] out (or synth --out)",
            Use::Releases => "[refresh] releases",
            Use::Downloads => "the `path` of a source with a `url`",
        }
    }
}

/// Folders no configuration may hand to ifr, whatever they hold.
fn forbidden(dir: &Path, config_dir: Option<&Path>) -> Option<&'static str> {
    if dir.parent().is_none() {
        return Some("the root of the file system");
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from).filter(|h| !h.as_os_str().is_empty())
        && same_dir(dir, &home)
    {
        return Some("your home folder");
    }
    if let Some(c) = config_dir {
        if same_dir(dir, c) {
            return Some("the folder of the configuration file");
        }
        if c.starts_with(dir) {
            return Some("a folder that contains the configuration file");
        }
    }
    None
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}

/// What the marker of `dir` says, if it has one.
pub fn marker_of(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(MARKER)).ok().and_then(|t| t.lines().next().map(str::to_string))
}

/// True when `dir` carries ifr's marker for `what`.
pub fn is_owned(dir: &Path, what: Use) -> bool {
    marker_of(dir).is_some_and(|m| m == what.marker_line())
}

/// A folder written by an ifr release older than the marker, recognised by what only ifr puts there.
fn is_legacy(dir: &Path, what: Use) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    match what {
        Use::Lake => dir.join("_ingest").join("state.json").is_file(),
        Use::Sample => dir.join(SAMPLE_MARKER).is_file(),
        // Introduced with the marker: no folder of an older release to recognise.
        Use::Releases | Use::Downloads => false,
        // Every entry a year folder holding ifr's manifest, or ifr's own scratch folders.
        Use::Report => {
            let mut any = false;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(".partial-") || name.starts_with(".old-") {
                    continue;
                }
                let year = name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit());
                if !year || !e.path().join("manifest.json").is_file() {
                    return false;
                }
                any = true;
            }
            any
        }
    }
}

/// Refuse `/`, the home folder and the config's folder (or one holding it), whatever they hold.
pub fn refuse_forbidden(dir: &Path, what: Use, config_dir: Option<&Path>) -> Result<()> {
    match forbidden(dir, config_dir) {
        None => Ok(()),
        Some(why) => Err(Error::Config(format!(
            "{} = `{}` is {why}; ifr replaces and deletes files in the folders it writes, so give it a folder of its own (e.g. `{}`)",
            what.key(),
            dir.display(),
            what.as_str()
        ))),
    }
}

/// Make `dir` ifr's folder for `what`, or say why it cannot be: it is created (with its marker)
/// when it does not exist; an existing folder must be empty, or carry ifr's marker for the same use.
pub fn claim(dir: &Path, what: Use, config_dir: Option<&Path>) -> Result<()> {
    let dir = &crate::paths::resolve(dir)?;
    if check(dir, what, config_dir)? {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the folder (is it writable?)", dir, e))?;
    crate::paths::atomic_write(&dir.join(MARKER), what.marker_text().as_bytes())
}

/// What [`claim`] checks, without creating anything: an error when ifr may not write `dir`;
/// `true` when it is already ifr's folder for `what`, `false` when it is new or empty.
pub fn check(dir: &Path, what: Use, config_dir: Option<&Path>) -> Result<bool> {
    let dir = &crate::paths::resolve(dir)?;
    refuse_forbidden(dir, what, config_dir)?;
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Config(format!("{} = `{}` is a file; name a folder", what.key(), dir.display())));
    }
    if dir.is_dir() {
        if let Some(m) = marker_of(dir) {
            return if m == what.marker_line() { Ok(true) } else { Err(what.taken(dir, &m)) };
        }
        // Another ifr process may be claiming the same new folder this moment: its marker (or the
        // marker's temporary file) may appear after the check above.
        let empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io("listing", dir, e))?
            .flatten()
            .all(|e| e.file_name().to_str().is_some_and(|n| n == MARKER || (n.starts_with(&format!(".{MARKER}.")) && n.ends_with(".tmp"))));
        if empty && dir.join(MARKER).exists() {
            return claim_marked(dir, what).map(|()| true);
        }
        if !empty && !is_legacy(dir, what) {
            // ifr writes a folder's marker before anything else in it: entries with a marker that
            // appeared since the first look are another ifr process's claim, not a foreign folder.
            if marker_of(dir).is_some() {
                return claim_marked(dir, what).map(|()| true);
            }
            return Err(Error::Config(format!(
                "{} = `{}` is a folder ifr did not create and it is not empty; ifr writes only into new or empty folders (or its own, marked by `{MARKER}`): name a new folder, or empty this one",
                what.key(),
                dir.display()
            )));
        }
    }
    Ok(false)
}

/// A folder whose marker appeared while we looked: ours if it says the same use.
fn claim_marked(dir: &Path, what: Use) -> Result<()> {
    for _ in 0..100 {
        match marker_of(dir) {
            Some(m) if m == what.marker_line() => return Ok(()),
            Some(m) => return Err(what.taken(dir, &m)),
            // Renamed into place but not yet readable: wait a moment.
            None => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    Err(Error::Config(format!("{} = `{}`: its `{MARKER}` cannot be read", what.key(), dir.display())))
}

/// Refuse an ifr folder inside a source's folder (its own output would be read as input) or a
/// source inside an ifr folder. `sources` are the sources' paths (a file, a folder or a glob).
pub fn check_apart_from_sources(what: Use, dir: &Path, sources: &[&Path]) -> Result<()> {
    for src in sources {
        // A glob reads below its first component with a wildcard.
        let root: PathBuf = src.components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '['])).collect();
        if dir.starts_with(&root) || root.starts_with(dir) {
            return Err(Error::Config(format!(
                "{} = `{}` and the source path `{}` overlap: ifr would read its own output as input, or write among the inputs; give it a folder of its own",
                what.key(),
                dir.display(),
                src.display()
            )));
        }
    }
    Ok(())
}

/// Every check of the folders a configuration hands to ifr that needs no file system: none is `/`,
/// the home folder or the config's folder; the lake and the report are apart from the sources;
/// the lake, the report and the sample are apart from each other.
pub fn check_layout(
    lake: &Path,
    report: &Path,
    releases: &Path,
    sample: Option<&Path>,
    sources: &[&Path],
    config_dir: &Path,
) -> Result<()> {
    let mut dirs = vec![(Use::Lake, lake), (Use::Report, report), (Use::Releases, releases)];
    dirs.extend(sample.map(|s| (Use::Sample, s)));
    for (what, dir) in &dirs {
        refuse_forbidden(dir, *what, Some(config_dir))?;
        if *what != Use::Sample {
            check_apart_from_sources(*what, dir, sources)?;
        }
    }
    check_disjoint(&dirs)
}

/// Refuse folders that overlap: the lake, the report and the sample each need their own.
pub fn check_disjoint(dirs: &[(Use, &Path)]) -> Result<()> {
    for (i, (a, pa)) in dirs.iter().enumerate() {
        for (b, pb) in &dirs[i + 1..] {
            if pa.starts_with(pb) || pb.starts_with(pa) {
                return Err(Error::Config(format!(
                    "{} = `{}` and {} = `{}` overlap; each needs a folder of its own",
                    a.key(),
                    pa.display(),
                    b.key(),
                    pb.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_folder_is_created_with_its_marker_and_claimed_again() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let d = t.path().join("a/b");
        claim(&d, Use::Report, None)?;
        assert_eq!(std::fs::read_to_string(d.join(MARKER)).unwrap_or_default().lines().next(), Some("ifr report"));
        std::fs::write(d.join("x.csv"), "1").map_err(|e| Error::io("w", &d, e))?;
        claim(&d, Use::Report, None)?;
        Ok(())
    }

    #[test]
    fn a_users_non_empty_folder_is_refused_and_left_alone() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let d = t.path().join("photos");
        std::fs::create_dir_all(d.join("2022")).map_err(|e| Error::io("mk", &d, e))?;
        std::fs::write(d.join("2022/beach.jpg"), "jpeg").map_err(|e| Error::io("w", &d, e))?;
        let e = claim(&d, Use::Report, None).unwrap_err().to_string();
        assert!(e.contains("did not create and it is not empty"), "{e}");
        assert!(!d.join(MARKER).exists());
        assert_eq!(std::fs::read_to_string(d.join("2022/beach.jpg")).unwrap_or_default(), "jpeg");
        Ok(())
    }

    #[test]
    fn root_home_and_the_config_folder_are_refused() -> Result<()> {
        let e = claim(Path::new("/"), Use::Report, None).unwrap_err().to_string();
        assert!(e.contains("root of the file system"), "{e}");
        let t = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let e = claim(t.path(), Use::Lake, Some(t.path())).unwrap_err().to_string();
        assert!(e.contains("folder of the configuration file"), "{e}");
        let e = claim(t.path(), Use::Lake, Some(&t.path().join("sub"))).unwrap_err().to_string();
        assert!(e.contains("contains the configuration file"), "{e}");
        Ok(())
    }

    #[test]
    fn a_folder_marked_for_another_use_is_refused() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let d = t.path().join("x");
        claim(&d, Use::Lake, None)?;
        let e = claim(&d, Use::Report, None).unwrap_err().to_string();
        assert!(e.contains("is ifr's lake folder"), "{e}");
        Ok(())
    }

    #[test]
    fn overlapping_folders_are_refused() {
        let e = check_disjoint(&[(Use::Lake, Path::new("/a/lake")), (Use::Report, Path::new("/a/lake/report"))]).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        assert!(check_disjoint(&[(Use::Lake, Path::new("/a/lake")), (Use::Report, Path::new("/a/lakes"))]).is_ok());
    }
}
