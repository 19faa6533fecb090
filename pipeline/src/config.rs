//! The `ifr.toml` configuration: serde options (unknown keys refused) resolved into `Settings`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a source contributes to the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Token metadata (contract, symbol, decimals). Loaded first: chain sources use decimals.
    Assets,
    /// Actors (GraphSense ActorPacks).
    Actors,
    /// Address labels (GraphSense TagPacks, Etherscan label dumps).
    Labels,
    /// Sanctions lists (OFAC XML or CSV, OpenSanctions).
    Sanctions,
    /// Incidents (ifr ledger, DefiLlama hacks export).
    Incidents,
    /// Recoveries: stolen funds frozen, seized or returned (ifr's recoveries CSV).
    Recoveries,
    /// Cross-chain links: a bridge or swap deposit on one chain and its release on another.
    Links,
    /// Daily USD prices.
    Prices,
    /// Chain exports (cryo Parquet, ethereum-etl CSV).
    Chain,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Assets,
        Kind::Actors,
        Kind::Labels,
        Kind::Sanctions,
        Kind::Incidents,
        Kind::Recoveries,
        Kind::Links,
        Kind::Prices,
        Kind::Chain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Assets => "assets",
            Kind::Actors => "actors",
            Kind::Labels => "labels",
            Kind::Sanctions => "sanctions",
            Kind::Incidents => "incidents",
            Kind::Recoveries => "recoveries",
            Kind::Links => "links",
            Kind::Prices => "prices",
            Kind::Chain => "chain",
        }
    }
}

/// The file format of a source. Each format belongs to exactly one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// cryo Parquet exports, named `{network}__{dataset}__{start}_to_{end}.parquet`.
    Cryo,
    /// ethereum-etl CSV exports (`blocks`, `transactions`, `token_transfers`, `traces`; plain or .gz).
    EthereumEtl,
    /// bitcoin-etl exports, JSON lines or CSV (`blocks`, `transactions` with nested
    /// `inputs[]`/`outputs[]`, values in satoshi; plain or .gz).
    BitcoinEtl,
    /// The BigQuery `crypto_bitcoin` dataset's flattened `outputs` and `inputs` tables, exported as
    /// JSON lines or CSV (plain or .gz).
    BigqueryBitcoin,
    /// OFAC SDN_ADVANCED XML (plain or .bz2); several dated snapshots give listing/delisting dates.
    OfacXml,
    /// OFAC legacy `sdn.csv` (no header, `-0-` for empty; addresses inside Remarks).
    OfacCsv,
    /// OpenSanctions FollowTheMoney JSON lines (CryptoWallet entities and their holders).
    Opensanctions,
    /// GraphSense TagPack YAML.
    Tagpack,
    /// Etherscan label dump JSON (`{address: {name, labels}}`).
    Etherscan,
    /// GraphSense ActorPack YAML.
    Actorpack,
    /// ifr's own incident ledger CSV (with attribution).
    IfrLedger,
    /// DefiLlama hacks export CSV.
    Defillama,
    /// ifr's recoveries CSV (`id,incident_id,actor,date,kind,usd,asset_amount,acted_by,source_url,notes`).
    IfrRecoveries,
    /// ifr's cross-chain links CSV (`id,source_chain,deposit_tx,source_asset,source_amount,
    /// destination_chain,release_tx,release_address,destination_asset,destination_amount,link_source,notes`).
    IfrLinks,
    /// THORChain Midgard's `/v2/actions` responses (JSON): successful swaps as cross-chain links.
    ThorchainMidgard,
    /// Yahoo Finance daily OHLC CSV (`Date,Open,High,Low,Close,Adj Close,Volume`).
    Yahoo,
    /// CryptoCompare daily JSON (`{coins: {SYM: {prices: [{date, price}]}}}`).
    Cryptocompare,
    /// Plain `day,asset,close_usd` CSV.
    PriceCsv,
    /// ifr's asset list CSV (`chain,token_address,symbol,decimals,price_asset,source`).
    AssetCsv,
}

impl Format {
    pub const ALL: [Format; 19] = [
        Format::Cryo,
        Format::EthereumEtl,
        Format::BitcoinEtl,
        Format::BigqueryBitcoin,
        Format::OfacXml,
        Format::OfacCsv,
        Format::Opensanctions,
        Format::Tagpack,
        Format::Etherscan,
        Format::Actorpack,
        Format::IfrLedger,
        Format::Defillama,
        Format::IfrRecoveries,
        Format::IfrLinks,
        Format::ThorchainMidgard,
        Format::Yahoo,
        Format::Cryptocompare,
        Format::PriceCsv,
        Format::AssetCsv,
    ];

    pub fn kind(self) -> Kind {
        match self {
            Format::Cryo | Format::EthereumEtl | Format::BitcoinEtl | Format::BigqueryBitcoin => Kind::Chain,
            Format::OfacXml | Format::OfacCsv | Format::Opensanctions => Kind::Sanctions,
            Format::Tagpack | Format::Etherscan => Kind::Labels,
            Format::Actorpack => Kind::Actors,
            Format::IfrLedger | Format::Defillama => Kind::Incidents,
            Format::IfrRecoveries => Kind::Recoveries,
            Format::IfrLinks | Format::ThorchainMidgard => Kind::Links,
            Format::Yahoo | Format::Cryptocompare | Format::PriceCsv => Kind::Prices,
            Format::AssetCsv => Kind::Assets,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Cryo => "cryo",
            Format::EthereumEtl => "ethereum-etl",
            Format::BitcoinEtl => "bitcoin-etl",
            Format::BigqueryBitcoin => "bigquery-bitcoin",
            Format::OfacXml => "ofac-xml",
            Format::OfacCsv => "ofac-csv",
            Format::Opensanctions => "opensanctions",
            Format::Tagpack => "tagpack",
            Format::Etherscan => "etherscan",
            Format::Actorpack => "actorpack",
            Format::IfrLedger => "ifr-ledger",
            Format::Defillama => "defillama",
            Format::IfrRecoveries => "ifr-recoveries",
            Format::IfrLinks => "ifr-links",
            Format::ThorchainMidgard => "thorchain-midgard",
            Format::Yahoo => "yahoo",
            Format::Cryptocompare => "cryptocompare",
            Format::PriceCsv => "price-csv",
            Format::AssetCsv => "asset-csv",
        }
    }

    /// File-name endings this format reads when `path` names a folder.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Cryo => &[".parquet"],
            Format::EthereumEtl => &[".csv", ".csv.gz"],
            Format::BitcoinEtl => &[".json", ".json.gz", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz"],
            Format::BigqueryBitcoin => &[".json", ".json.gz", ".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet"],
            Format::OfacXml => &[".xml", ".xml.bz2"],
            Format::OfacCsv
            | Format::Defillama
            | Format::IfrLedger
            | Format::IfrRecoveries
            | Format::IfrLinks
            | Format::Yahoo
            | Format::PriceCsv
            | Format::AssetCsv => &[".csv"],
            Format::Opensanctions => &[".json", ".jsonl", ".ftm.json"],
            Format::Tagpack | Format::Actorpack => &[".yaml", ".yml"],
            Format::Etherscan | Format::Cryptocompare => &[".json"],
            Format::ThorchainMidgard => &[".json", ".jsonl"],
        }
    }

    fn allowed_for(kind: Kind) -> Vec<&'static str> {
        Format::ALL.iter().filter(|f| f.kind() == kind).map(|f| f.as_str()).collect()
    }
}

/// `ifr.toml` as written by the user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    /// Folder of the Parquet lake, relative to the config file. Default: `lake`.
    #[serde(default)]
    lake: Option<String>,
    /// Input sources, loaded in kind order (assets, actors, labels, sanctions, incidents, prices, chain).
    #[serde(default)]
    sources: Vec<RawSource>,
    /// The annual report (`ifr run` / `ifr report`).
    #[serde(default)]
    report: Option<RawReport>,
    /// A synthetic dataset `ifr synth` writes on first use (and again when its options or ifr's
    /// embedded reference data change: a marker file in `out` keeps their fingerprint).
    #[serde(default)]
    sample: Option<RawSample>,
    /// `ifr refresh`: dated releases.
    #[serde(default)]
    refresh: Option<RawRefresh>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRefresh {
    /// Folder of the dated releases and the `current` link, relative to the config file.
    /// Default: `releases`.
    releases: Option<String>,
    /// Largest body a fetch accepts. Default: 2 GiB.
    max_download_bytes: Option<u64>,
    /// A fetch that takes longer is abandoned (and retried). Default: 300 s.
    fetch_timeout_seconds: Option<u64>,
    /// Attempts per URL for timeouts, dropped connections and 5xx answers. Default: 3.
    fetch_attempts: Option<u32>,
}

/// `ifr refresh`'s options (defaults applied).
#[derive(Debug, Clone, Serialize)]
pub struct RefreshSettings {
    /// `<releases>/<timestamp>/` per release, `<releases>/current` the published one.
    pub releases: PathBuf,
    pub max_download_bytes: u64,
    pub fetch_timeout_seconds: u64,
    pub fetch_attempts: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawReport {
    /// Report folder, relative to the config file. Default: `report`.
    out: Option<String>,
    /// Years to report. Default: every year in the data.
    #[serde(default)]
    years: Vec<i32>,
    /// Actors to report (ids from the actors table). Default: every attributed actor.
    #[serde(default)]
    actors: Vec<String>,
    /// Labels at or above this confidence give the lower bound of each total. Default 60.
    high_confidence: Option<i32>,
    /// `point-in-time` (default: an address counts as sanctioned from its listing date) or
    /// `as-listed-today` (every address on the latest list, for all dates).
    sanctions: Option<String>,
    /// Price sources in order of preference (the `source` column of prices). Default: the order of
    /// the price sources in this file.
    price_sources: Option<Vec<String>>,
    /// Days after an incident's date in which victim-to-attacker transfers count as the theft when the
    /// ledger lists no tx hashes. Default 3.
    incident_window_days: Option<i32>,
    /// The day whose close values stolen funds: `transfer-day` (default) or `disclosure-day` (the
    /// incident's date in the ledger).
    stolen_price_day: Option<String>,
    /// A transfer valued above this many USD is implausible (a spam token's absurd price, a price
    /// typo): kept out of every total and listed in the price coverage. Default 10,000,000,000
    /// ($10bn: far above the largest single theft transfer on record).
    max_transfer_usd: Option<f64>,
    /// Where the report's queries run: `polars` (default, in this process), `datafusion` (in this
    /// process) or `ballista` (on the cluster at `ballista-url`, else on one started in this
    /// process); the last two need ifr built with the `ballista` feature.
    engine: Option<String>,
    /// The Ballista scheduler, `df://host:port` (with `engine = "ballista"`).
    ballista_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSample {
    /// Folder to generate into, relative to the config file.
    out: String,
    /// Number of transfers. Default 300,000.
    transfers: Option<u64>,
    /// First and last UTC day (YYYY-MM-DD). Default 2021-01-01 to 2023-12-31.
    from: Option<String>,
    to: Option<String>,
    /// Seed. Default 1.
    seed: Option<u64>,
    /// cryo (default) or ethereum-etl.
    format: Option<String>,
    /// Background Bitcoin transactions (bitcoin-etl export beside the chain). Default 0: none.
    bitcoin_txs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSource {
    /// Names the source's files in the lake: lowercase letters, digits, `-` and `_`.
    /// Default: `<kind>-<format>-<n>` with n the source's position among sources of that format.
    name: Option<String>,
    kind: Kind,
    format: Format,
    /// A file, a folder (every file of the format below it) or a glob; relative to the config file.
    path: String,
    /// Chain sources only: the chain the export comes from, e.g. `ethereum`.
    chain: Option<String>,
    /// Yahoo prices only: the asset the file prices. Default: from the file name (`ETH-USD.csv` → ETH).
    asset: Option<String>,
    /// Chain sources only: export chunks (files) that end within this many blocks of the newest
    /// block any of the source's files reaches are not loaded yet — they may still be reorganised
    /// and exported again (cryo's `--reorg-buffer`). Default 0: every chunk is final.
    reorg_buffer: Option<u64>,
    /// bitcoin-etl and BigQuery Bitcoin sources only: outputs per bucket of the input resolution
    /// (it runs one bucket of transaction ids at a time, spilled to disk), and rows per window of
    /// blocks in which its flows and resolution are written. Default 1,000,000.
    bucket_rows: Option<u64>,
    /// Fetch the source from this http(s) URL on `ifr refresh`; `path` is then the folder of its
    /// dated snapshots (kept, never overwritten).
    url: Option<String>,
}

/// Outputs per bucket of a UTXO source's input resolution, by default (a few hundred MB of memory).
pub const DEFAULT_BUCKET_ROWS: u64 = 1_000_000;

/// One resolved input source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSpec {
    pub name: String,
    pub kind: Kind,
    pub format: Format,
    /// The `path` as written in the config (for messages).
    pub path_spec: String,
    /// The resolved pattern or path (absolute).
    pub path: PathBuf,
    pub chain: Option<String>,
    pub asset: Option<String>,
    /// Chain sources: chunks ending within this many blocks of the newest are held back (0: none).
    pub reorg_buffer: u64,
    /// UTXO sources: outputs per bucket of the input resolution (bounds ingest's memory).
    pub bucket_rows: u64,
    /// Fetched from here by `ifr refresh` into the folder `path` (one dated snapshot per version).
    pub url: Option<String>,
}

/// Output format of the synthetic chain export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthFormat {
    Cryo,
    EthereumEtl,
}

/// What `ifr synth` (or a config's `[sample]`) generates.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub out: PathBuf,
    pub transfers: u64,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub seed: u64,
    pub format: SynthFormat,
    /// Blocks per chain export file (None: about 100,000 transfers per file), like cryo's
    /// `--chunk-size`: small chunks play out a chain exported day by day.
    pub chunk_blocks: Option<u64>,
    /// Background Bitcoin transactions of a bitcoin-etl export written beside the Ethereum one (0:
    /// none). With them, the ledger's incidents that list Bitcoin are played out partly there, and
    /// some Ethereum proceeds are bridged to Bitcoin through planted cross-chain links.
    pub bitcoin_txs: u64,
    /// Write the Bitcoin export gzip-compressed (`.json.gz`), as bitcoin-etl exports are often kept.
    pub bitcoin_gzip: bool,
    pub force: bool,
}

/// Validated settings the pipeline runs with: no clap, no serde types leak past here.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    pub base_dir: PathBuf,
    pub lake_dir: PathBuf,
    pub sources: Vec<SourceSpec>,
    /// The synthetic sample to generate before the first ingest, if configured.
    pub sample: Option<SynthOptions>,
    pub report: ReportSettings,
    pub refresh: RefreshSettings,
}

/// How sanctions lists attribute addresses over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SanctionsPolicy {
    PointInTime,
    AsListedToday,
}

/// The day whose close values stolen funds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StolenPriceDay {
    /// The close of each theft transfer's own UTC day (the default).
    TransferDay,
    /// The close of the incident's date in the ledger (its disclosure).
    DisclosureDay,
}

impl StolenPriceDay {
    /// As written in the config and read by `queries/theft_transfers.sql` (report_options).
    pub fn as_str(self) -> &'static str {
        match self {
            StolenPriceDay::TransferDay => "transfer-day",
            StolenPriceDay::DisclosureDay => "disclosure-day",
        }
    }
}

/// The report's resolved options (defaults applied).
#[derive(Debug, Clone, Serialize)]
pub struct ReportSettings {
    /// Where the queries in queries/ run: every engine gives the same tables and figures; the
    /// manifest records which one ran them ([`Engine::provenance`]).
    #[serde(skip)]
    pub engine: Engine,
    pub out: PathBuf,
    pub years: Vec<i32>,
    pub actors: Vec<String>,
    pub high_confidence: i32,
    pub sanctions: SanctionsPolicy,
    pub price_sources: Vec<String>,
    pub incident_window_days: i32,
    /// `transfer-day` or `disclosure-day`.
    pub stolen_price_day: StolenPriceDay,
    /// USD above which one transfer's value is implausible (kept out of the totals, listed).
    pub max_transfer_usd: f64,
}

impl Settings {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading config", path, e))?;
        Settings::parse(&text, path)
    }

    /// Validate config text as if it were read from `path` (paths resolve relative to its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Settings> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| Error::Config(format!("`{}`: {}", path.display(), e.to_string().trim_end())))?;
        let abs = std::path::absolute(path).map_err(|e| Error::io("resolving", path, e))?;
        let base_dir = abs.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let lake_dir = normalize(&base_dir.join(raw.lake.as_deref().unwrap_or("lake")));

        let mut sources = Vec::with_capacity(raw.sources.len());
        let mut counters = std::collections::HashMap::new();
        for (i, s) in raw.sources.into_iter().enumerate() {
            let at = format!("`{}`: sources[{}]", path.display(), i);
            if s.format.kind() != s.kind {
                return Err(Error::Config(format!(
                    "{at}: format `{}` is not a {} format; allowed formats for kind `{}`: {}",
                    s.format.as_str(),
                    s.kind.as_str(),
                    s.kind.as_str(),
                    Format::allowed_for(s.kind).join(", ")
                )));
            }
            match (s.kind, &s.chain) {
                (Kind::Chain, None) => {
                    return Err(Error::Config(format!("{at}: chain sources need `chain` (e.g. chain = \"ethereum\")")));
                }
                (Kind::Chain, Some(c)) if !is_safe_name(c) => {
                    return Err(Error::Config(format!("{at}: chain `{c}` must be lowercase letters, digits, `-` or `_`")));
                }
                (k, Some(_)) if k != Kind::Chain => {
                    return Err(Error::Config(format!("{at}: `chain` applies to chain sources only")));
                }
                _ => {}
            }
            if let Some(u) = &s.url
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                return Err(Error::Config(format!("{at}: url `{u}` must start with http:// or https://")));
            }
            if s.reorg_buffer.is_some() && s.kind != Kind::Chain {
                return Err(Error::Config(format!("{at}: `reorg-buffer` applies to chain sources only")));
            }
            if s.reorg_buffer.is_some_and(|b| b > i64::MAX as u64) {
                return Err(Error::Config(format!("{at}: `reorg-buffer` is a number of blocks below 2^63")));
            }
            if s.bucket_rows.is_some() && !matches!(s.format, Format::BitcoinEtl | Format::BigqueryBitcoin) {
                return Err(Error::Config(format!("{at}: `bucket-rows` applies to bitcoin-etl and bigquery-bitcoin sources only")));
            }
            if s.bucket_rows == Some(0) {
                return Err(Error::Config(format!("{at}: `bucket-rows` must be at least 1")));
            }
            if s.asset.is_some() && s.format != Format::Yahoo {
                return Err(Error::Config(format!("{at}: `asset` applies to yahoo price sources only")));
            }
            let n = counters.entry(s.format).or_insert(0usize);
            *n += 1;
            let name = match s.name {
                Some(name) if is_safe_name(&name) => name,
                Some(name) => {
                    return Err(Error::Config(format!(
                        "{at}: name `{name}` must be 1-64 lowercase letters, digits, `-` or `_` (it names files in the lake)"
                    )));
                }
                None => format!("{}-{}-{}", s.kind.as_str(), s.format.as_str(), n),
            };
            if sources.iter().any(|o: &SourceSpec| o.name == name) {
                return Err(Error::Config(format!("{at}: two sources are named `{name}`; names must be unique")));
            }
            sources.push(SourceSpec {
                name,
                kind: s.kind,
                format: s.format,
                path: normalize(&base_dir.join(&s.path)),
                path_spec: s.path,
                chain: s.chain,
                asset: s.asset,
                reorg_buffer: s.reorg_buffer.unwrap_or(0),
                bucket_rows: s.bucket_rows.unwrap_or(DEFAULT_BUCKET_ROWS),
                url: s.url,
            });
        }
        let sample = match raw.sample {
            None => None,
            Some(r) => {
                let at = format!("`{}`: [sample]", path.display());
                let day = |v: Option<String>, default: &str, key: &str| -> Result<chrono::NaiveDate> {
                    let v = v.unwrap_or_else(|| default.to_string());
                    chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                        .map_err(|_| Error::Config(format!("{at}: {key} = \"{v}\" is not a date YYYY-MM-DD")))
                };
                let format = match r.format.as_deref().unwrap_or("cryo") {
                    "cryo" => SynthFormat::Cryo,
                    "ethereum-etl" => SynthFormat::EthereumEtl,
                    other => return Err(Error::Config(format!("{at}: format `{other}`; expected cryo or ethereum-etl"))),
                };
                Some(SynthOptions {
                    chunk_blocks: None,
                    out: normalize(&base_dir.join(&r.out)),
                    transfers: r.transfers.unwrap_or(300_000),
                    from: day(r.from, "2021-01-01", "from")?,
                    to: day(r.to, "2023-12-31", "to")?,
                    seed: r.seed.unwrap_or(1),
                    format,
                    bitcoin_txs: r.bitcoin_txs.unwrap_or(0),
                    bitcoin_gzip: false,
                    // The folder is ifr's own: a half-written one from an interrupted run is replaced.
                    force: true,
                })
            }
        };
        let r = raw.report.unwrap_or(RawReport {
            out: None,
            years: vec![],
            actors: vec![],
            high_confidence: None,
            sanctions: None,
            price_sources: None,
            incident_window_days: None,
            stolen_price_day: None,
            max_transfer_usd: None,
            engine: None,
            ballista_url: None,
        });
        let at = format!("`{}`: [report]", path.display());
        let sanctions = match r.sanctions.as_deref().unwrap_or("point-in-time") {
            "point-in-time" => SanctionsPolicy::PointInTime,
            "as-listed-today" => SanctionsPolicy::AsListedToday,
            other => {
                return Err(Error::Config(format!("{at}: sanctions = `{other}`; expected point-in-time or as-listed-today")));
            }
        };
        let stolen_price_day = match r.stolen_price_day.as_deref().unwrap_or("transfer-day") {
            "transfer-day" => StolenPriceDay::TransferDay,
            "disclosure-day" => StolenPriceDay::DisclosureDay,
            other => {
                return Err(Error::Config(format!("{at}: stolen-price-day = `{other}`; expected transfer-day or disclosure-day")));
            }
        };
        let max_transfer_usd = r.max_transfer_usd.unwrap_or(DEFAULT_MAX_TRANSFER_USD);
        if !(max_transfer_usd.is_finite() && max_transfer_usd > 0.0 && max_transfer_usd <= 1e15) {
            return Err(Error::Config(format!(
                "{at}: max-transfer-usd = {max_transfer_usd}; expected a number of USD above 0 and at most 1e15"
            )));
        }
        let high_confidence = r.high_confidence.unwrap_or(60);
        if !(0..=100).contains(&high_confidence) {
            return Err(Error::Config(format!("{at}: high-confidence = {high_confidence}; expected 0-100")));
        }
        let price_sources = r.price_sources.unwrap_or_else(|| {
            sources
                .iter()
                .filter(|s| s.kind == Kind::Prices)
                .map(|s| match s.format {
                    Format::Yahoo => "yahoo".to_string(),
                    Format::Cryptocompare => "cryptocompare".to_string(),
                    _ => s.name.clone(),
                })
                .collect()
        });
        let engine = Engine::parse(r.engine.as_deref(), r.ballista_url.as_deref()).map_err(|m| Error::Config(format!("{at}: {m}")))?;
        let report = ReportSettings {
            engine,
            out: normalize(&base_dir.join(r.out.as_deref().unwrap_or("report"))),
            years: r.years,
            actors: r.actors,
            high_confidence,
            sanctions,
            price_sources,
            incident_window_days: r.incident_window_days.unwrap_or(3).max(0),
            stolen_price_day,
            max_transfer_usd,
        };
        let source_paths: Vec<&Path> = sources.iter().map(|s| s.path.as_path()).collect();
        let rr = raw.refresh.unwrap_or(RawRefresh {
            releases: None,
            max_download_bytes: None,
            fetch_timeout_seconds: None,
            fetch_attempts: None,
        });
        let refresh = RefreshSettings {
            releases: normalize(&base_dir.join(rr.releases.as_deref().unwrap_or("releases"))),
            max_download_bytes: rr.max_download_bytes.unwrap_or(2 << 30),
            fetch_timeout_seconds: rr.fetch_timeout_seconds.unwrap_or(300).max(1),
            fetch_attempts: rr.fetch_attempts.unwrap_or(3).clamp(1, 10),
        };
        crate::owned::check_layout(
            &lake_dir,
            &report.out,
            &refresh.releases,
            sample.as_ref().map(|s| s.out.as_path()),
            &source_paths,
            &base_dir,
        )
        .map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("`{}`: {m}", path.display())),
            other => other,
        })?;
        Ok(Settings { config_path: abs, base_dir, lake_dir, sources, sample, report, refresh })
    }
}

/// Where the report's queries run (`[report] engine`, `ifr report --engine`). Every engine runs the
/// same queries/ files over the same lake files and gives the report the same typed tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Engine {
    /// polars, in this process (the default).
    #[default]
    Polars,
    /// DataFusion, in this process (the `ballista` feature).
    DataFusion,
    /// Apache Ballista: the scheduler at `url` (`df://host:port`), or, without one, a scheduler and
    /// an executor started in this process (standalone). The `ballista` feature.
    Ballista { url: Option<String> },
}

impl Engine {
    /// What the report's manifest records of the engine: its name and the version ifr was built
    /// with (from Cargo.lock), and for Ballista the DataFusion version and the scheduler.
    pub fn provenance(&self) -> serde_json::Value {
        match self {
            Engine::Polars => serde_json::json!({ "name": "polars", "version": env!("IFR_POLARS_VERSION") }),
            Engine::DataFusion => serde_json::json!({ "name": "datafusion", "version": env!("IFR_DATAFUSION_VERSION") }),
            Engine::Ballista { url } => serde_json::json!({
                "name": "ballista",
                "version": env!("IFR_BALLISTA_VERSION"),
                "datafusion_version": env!("IFR_DATAFUSION_VERSION"),
                "scheduler": url.as_deref().unwrap_or("standalone (in the ifr process)"),
            }),
        }
    }

    /// The engine named `name` (default polars), with the scheduler `url` for ballista; an error
    /// message says what is wrong.
    pub fn parse(name: Option<&str>, url: Option<&str>) -> std::result::Result<Engine, String> {
        let engine = match name.unwrap_or("polars") {
            "polars" => Engine::Polars,
            "datafusion" => Engine::DataFusion,
            "ballista" => Engine::Ballista { url: url.map(str::to_string) },
            other => return Err(format!("engine = `{other}`; expected polars, datafusion or ballista")),
        };
        if let Some(u) = url {
            if !matches!(engine, Engine::Ballista { .. }) {
                return Err(format!("ballista-url = `{u}` is set, but the engine is {}; set engine = \"ballista\"", engine.name()));
            }
            let rest = u.strip_prefix("df://").ok_or_else(|| format!("ballista-url = `{u}`; expected df://host:port"))?;
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("ballista-url = `{u}`; expected df://host:port"))?;
            if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(format!("ballista-url = `{u}`; expected df://host:port with a port from 1 to 65535"));
            }
        }
        if engine != Engine::Polars && !cfg!(feature = "ballista") {
            return Err(format!(
                "engine = `{}` needs ifr built with the `ballista` feature (cargo build --release --features ballista, Rust 1.94 or newer)",
                engine.name()
            ));
        }
        Ok(engine)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Polars => "polars",
            Engine::DataFusion => "datafusion",
            Engine::Ballista { .. } => "ballista",
        }
    }
}

/// Default of `[report] max-transfer-usd`: $10bn for one transfer.
pub const DEFAULT_MAX_TRANSFER_USD: f64 = 10_000_000_000.0;

pub use crate::paths::{is_safe_name, normalize};

impl SourceSpec {
    /// The files this source reads, sorted by path: a file, every matching file below a folder, or a glob.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let p = &self.path;
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            out = crate::paths::files_below(p).map_err(|e| Error::io("listing", p, e))?;
            let exts = self.format.extensions();
            out.retain(|f| {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !name.starts_with('.') && exts.iter().any(|e| name.to_ascii_lowercase().ends_with(e))
            });
        } else {
            let pattern = p.to_str().ok_or_else(|| Error::Config(format!("path `{}` is not UTF-8", p.display())))?;
            let paths =
                glob::glob(pattern).map_err(|e| Error::Config(format!("source `{}`: bad glob `{}`: {e}", self.name, self.path_spec)))?;
            for entry in paths {
                let f = entry.map_err(|e| {
                    let path = e.path().to_path_buf();
                    Error::io("listing", path, std::io::Error::from(e))
                })?;
                if f.is_file() {
                    out.push(f);
                }
            }
        }
        out.sort();
        // A fetched source's folder holds every version fetched, named by fetch time: sanctions
        // lists read them all (each is a dated snapshot), every other kind its newest.
        if self.url.is_some() && self.kind != Kind::Sanctions && out.len() > 1 {
            out = out.split_off(out.len() - 1);
        }
        if out.is_empty() {
            let fetched = self.url.as_ref().map(|u| format!("; it is fetched from {u} by `ifr refresh`")).unwrap_or_default();
            return Err(Error::Config(format!(
                "source `{}`: path `{}` matches no {} file (resolved to `{}`){fetched}",
                self.name,
                self.path_spec,
                self.format.as_str(),
                p.display()
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        Settings::parse(text, Path::new("/tmp/x/ifr.toml"))
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("lake = 'l'\nlakes = 'x'\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `lakes`"), "{e}");
        assert!(e.contains("expected one of `lake`, `sources`, `report`, `sample`") && e.contains("line 2, column 1"), "{e}");
    }

    #[test]
    fn unknown_format_lists_allowed_values() {
        let e = parse("[[sources]]\nkind='prices'\nformat='coingecko'\npath='p.csv'\n").unwrap_err().to_string();
        assert!(e.contains("coingecko") && e.contains("yahoo") && e.contains("price-csv"), "{e}");
    }

    #[test]
    fn format_must_match_kind() {
        let e = parse("[[sources]]\nkind='prices'\nformat='cryo'\npath='p'\nchain='ethereum'\n").unwrap_err().to_string();
        assert!(e.contains("allowed formats for kind `prices`: yahoo, cryptocompare, price-csv"), "{e}");
    }

    #[test]
    fn chain_sources_need_a_chain_and_names_are_sanitised() {
        let e = parse("[[sources]]\nkind='chain'\nformat='cryo'\npath='p'\n").unwrap_err().to_string();
        assert!(e.contains("need `chain`"), "{e}");
        let e = parse("[[sources]]\nname='../x'\nkind='prices'\nformat='yahoo'\npath='p'\n").unwrap_err().to_string();
        assert!(e.contains("name `../x`"), "{e}");
    }

    #[test]
    fn paths_resolve_relative_to_the_config_and_names_default() -> Result<()> {
        let s = parse("lake='out/lake'\n[[sources]]\nkind='prices'\nformat='yahoo'\npath='p/*.csv'\n")?;
        assert_eq!(s.lake_dir, PathBuf::from("/tmp/x/out/lake"));
        assert_eq!(s.sources[0].path, PathBuf::from("/tmp/x/p/*.csv"));
        assert_eq!(s.sources[0].name, "prices-yahoo-1");
        let s = parse("lake='../l'\n[[sources]]\nkind='prices'\nformat='yahoo'\npath='./a/../p.csv'\n")?;
        assert_eq!(s.lake_dir, PathBuf::from("/tmp/l"));
        assert_eq!(s.sources[0].path, PathBuf::from("/tmp/x/p.csv"));
        Ok(())
    }
}
