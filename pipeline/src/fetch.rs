//! Fetching sources over HTTP(S) (`url = …` on a source), for `ifr refresh`. Every version fetched
//! is kept in the source's folder as its own dated file, `<UTC date>T<time>Z-<sha256 prefix>-<name>`,
//! never overwritten: a new OFAC list is one more dated snapshot. A fetch asks only for what changed
//! (If-None-Match / If-Modified-Since with the validators of the last fetch; without validators, a
//! body whose sha256 equals the last snapshot's is dropped), streams the body to disk (never whole in
//! memory) under a size limit and a timeout, retries timeouts, dropped connections and 5xx answers
//! with backoff, and refuses an HTML page where a data file was expected. A failed or refused fetch
//! changes nothing in the folder.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Settings, SourceSpec};
use crate::error::{Error, Result};
use crate::owned::Use;

/// What the last fetch of a source learnt, kept in its folder (`.ifr-fetch.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FetchState {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The newest snapshot: its file name and sha256.
    pub file: Option<String>,
    pub sha256: Option<String>,
    /// When the source was last fetched (RFC 3339), whatever the answer.
    pub fetched_at: Option<String>,
}

/// What fetching one source did.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub source: String,
    pub url: String,
    /// `new` (a snapshot was added), `not modified` (304) or `same content` (the body's sha256
    /// equals the last snapshot's).
    pub outcome: &'static str,
    pub file: Option<String>,
    pub bytes: u64,
    pub attempts: u32,
}

const STATE: &str = ".ifr-fetch.json";

/// Fetch every source with a `url`, a few at a time. All must succeed: the first failure is the
/// error (the others still finish; what they fetched is kept as new snapshots, which is harmless:
/// an unchanged refresh will read them next time).
pub fn fetch_all(settings: &Settings) -> Result<Vec<Fetched>> {
    let sources: Vec<&SourceSpec> = settings.sources.iter().filter(|s| s.url.is_some()).collect();
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    for s in &sources {
        crate::owned::claim(&s.path, Use::Downloads, Some(&settings.base_dir))?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("starting the fetcher: {e}")))?;
    let r = &settings.refresh;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(r.fetch_timeout_seconds))
        .connect_timeout(Duration::from_secs(r.fetch_timeout_seconds.min(30)))
        .user_agent(concat!("ifr/", env!("CARGO_PKG_VERSION"), " (illicit-flow reports)"))
        .build()
        .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
    rt.block_on(async {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, s) in sources.iter().enumerate() {
            let (client, limit, spec) = (client.clone(), limit.clone(), (*s).clone());
            let (max, attempts) = (r.max_download_bytes, r.fetch_attempts);
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, fetch_one(&client, &spec, max, attempts).await)
            });
        }
        let mut results: Vec<(usize, Result<Fetched>)> = Vec::new();
        while let Some(r) = tasks.join_next().await {
            results.push(r.map_err(|e| Error::Internal(format!("a fetch task failed: {e}")))?);
        }
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    })
}

fn state_of(dir: &Path) -> FetchState {
    std::fs::read_to_string(dir.join(STATE)).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn save_state(dir: &Path, st: &FetchState) -> Result<()> {
    let text = serde_json::to_string_pretty(st).map_err(|e| Error::Internal(e.to_string()))? + "\n";
    crate::paths::atomic_write(&dir.join(STATE), text.as_bytes())
}

/// The file name a URL's body is saved under (its last path segment, made safe), e.g. `sdn_advanced.xml`.
fn name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("download");
    let safe: String = last.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if safe.is_empty() || safe.starts_with('.') { format!("download{safe}") } else { safe }
}

/// Why an attempt failed, and whether another attempt may succeed.
struct Failure {
    message: String,
    retry: bool,
}

async fn fetch_one(client: &reqwest::Client, spec: &SourceSpec, max: u64, attempts: u32) -> Result<Fetched> {
    let url = spec.url.clone().unwrap_or_default();
    let dir = spec.path.clone();
    let st = state_of(&dir);
    // Validators apply to the URL they came from.
    let st = if st.url == url { st } else { FetchState { url: url.clone(), ..FetchState::default() } };
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(250 << (attempt - 2).min(6))).await;
        }
        match attempt_once(client, spec, &url, &dir, &st, max).await {
            Ok(mut f) => {
                f.attempts = attempt;
                return Ok(f);
            }
            Err(Failure { message, retry }) => {
                last = message;
                if !retry {
                    break;
                }
            }
        }
    }
    Err(Error::Config(format!("source `{}`: fetching {url}: {last}; nothing was changed", spec.name)))
}

async fn attempt_once(
    client: &reqwest::Client,
    spec: &SourceSpec,
    url: &str,
    dir: &Path,
    st: &FetchState,
    max: u64,
) -> Result<Fetched, Failure> {
    let fail = |message: String, retry: bool| Failure { message, retry };
    let mut req = client.get(url);
    // Ask for a change only when the snapshot the validators describe is still there.
    if st.file.as_ref().is_some_and(|f| dir.join(f).is_file()) {
        if let Some(e) = &st.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, e);
        }
        if let Some(m) = &st.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
        }
    }
    let mut resp = req.send().await.map_err(|e| fail(describe(&e), e.is_timeout() || e.is_connect() || e.is_request()))?;
    let status = resp.status();
    let now = chrono::Utc::now();
    let header = |h: reqwest::header::HeaderName| resp.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (etag, modified) = (header(reqwest::header::ETAG), header(reqwest::header::LAST_MODIFIED));
    let fetched = |outcome: &'static str, file: Option<String>, bytes: u64| Fetched {
        source: spec.name.clone(),
        url: url.to_string(),
        outcome,
        file,
        bytes,
        attempts: 1,
    };
    if status == reqwest::StatusCode::NOT_MODIFIED {
        let mut st = st.clone();
        st.fetched_at = Some(now.to_rfc3339());
        save_state(dir, &st).map_err(|e| fail(e.to_string(), false))?;
        return Ok(fetched("not modified", st.file.clone(), 0));
    }
    if !status.is_success() {
        return Err(fail(
            format!("the server answered {status}"),
            status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(fail(
            format!("the body is {} bytes, above the limit of {max} ([refresh] max-download-bytes)", resp.content_length().unwrap_or(0)),
            false,
        ));
    }
    let html_type = header(reqwest::header::CONTENT_TYPE).is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    // Streamed to a hidden file in the folder (never whole in memory), hashed as it goes.
    // (named with the URL's file name, so that its compression is recognised by its extension)
    let tmp = dir.join(format!(".partial-{}-{}", crate::lake::new_run_id(), name_of(url)));
    let result = async {
        use std::io::Write;
        let mut out = std::fs::File::create(&tmp).map_err(|e| fail(format!("writing `{}`: {e}", tmp.display()), false))?;
        let (mut hash, mut bytes, mut head) = (Sha256::new(), 0u64, Vec::new());
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| fail(format!("the body was cut off after {bytes} bytes ({})", describe(&e)), true))?
        {
            bytes += chunk.len() as u64;
            if bytes > max {
                return Err(fail(format!("the body is above the limit of {max} bytes ([refresh] max-download-bytes)"), false));
            }
            if head.len() < 512 {
                head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
            }
            hash.update(&chunk);
            out.write_all(&chunk).map_err(|e| fail(format!("writing `{}`: {e}", tmp.display()), false))?;
        }
        out.sync_all().map_err(|e| fail(format!("writing `{}`: {e}", tmp.display()), false))?;
        let start = String::from_utf8_lossy(&head).trim_start().to_ascii_lowercase();
        if html_type || start.starts_with("<!doctype html") || start.starts_with("<html") {
            return Err(fail(format!("the answer is an HTML page, not a {} file (an error or login page?)", spec.format.as_str()), false));
        }
        if bytes == 0 {
            return Err(fail("the body is empty".into(), true));
        }
        Ok((hex::encode(hash.finalize()), bytes))
    }
    .await;
    let (sha, bytes) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let mut st = FetchState { url: url.to_string(), etag, last_modified: modified, fetched_at: Some(now.to_rfc3339()), ..st.clone() };
    if st.sha256.as_deref() == Some(sha.as_str()) && st.file.as_ref().is_some_and(|f| dir.join(f).is_file()) {
        let _ = std::fs::remove_file(&tmp);
        save_state(dir, &st).map_err(|e| fail(e.to_string(), false))?;
        return Ok(fetched("same content", st.file.clone(), bytes));
    }
    // A sanctions list older than the newest snapshot is an old mirror or a cache, not news.
    if spec.format == crate::config::Format::OfacXml
        && let Some(newest) = st.file.as_ref().map(|f| dir.join(f)).filter(|f| f.is_file())
    {
        let issued = |p: &Path| crate::sources::ofac_xml::date_of_issue(p).ok().flatten();
        if let (Some(new), Some(old)) = (issued(&tmp), issued(&newest))
            && new < old
        {
            let _ = std::fs::remove_file(&tmp);
            let day = crate::sources::day_to_string;
            return Err(fail(format!("the list is dated {}, older than the newest snapshot ({})", day(new), day(old)), false));
        }
    }
    let name = format!("{}-{}-{}", now.format("%Y-%m-%dT%H%M%SZ"), &sha[..16], name_of(url));
    let target = dir.join(&name);
    std::fs::rename(&tmp, &target).map_err(|e| fail(format!("saving `{}`: {e}", target.display()), false))?;
    st.file = Some(name.clone());
    st.sha256 = Some(sha);
    save_state(dir, &st).map_err(|e| fail(e.to_string(), false))?;
    Ok(fetched("new", Some(name), bytes))
}

/// An HTTP error in words, with its cause.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_names_are_safe() {
        assert_eq!(name_of("https://www.treasury.gov/ofac/downloads/sanctions/1.0/sdn_advanced.xml"), "sdn_advanced.xml");
        assert_eq!(name_of("https://x.org/a/prices.csv?token=1#x"), "prices.csv");
        assert_eq!(name_of("https://x.org/a/../..%2Fetc"), "download.._2Fetc");
        assert_eq!(name_of("https://x.org/"), "x.org");
        assert!(!name_of("https://x.org/..").starts_with('.'));
    }
}
