//! Writes the synthetic transfers as a chain export, in block-range chunks:
//! cryo Parquet (`ethereum__{blocks,native_transfers,erc20_transfers}__{start}_to_{end}.parquet`,
//! addresses and hashes as bytes, values as `value_binary`/`value_string`/`value_f64`) or
//! ethereum-etl CSV (`blocks`, `traces` for native value, `token_transfers`). Memory is one chunk
//! (about `CHUNK_TRANSFERS` transfers), whatever the total.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::{BLOCK_SECONDS, FIRST_BLOCK, SynthFormat, Tx, World, hex20, synth_hash};
use crate::error::{Error, Result};
use crate::table::write_parquet;

/// Transfers per output file the chunking aims at; a chunk is a whole number of 1,000-block ranges.
pub const CHUNK_TRANSFERS: u64 = 100_000;

/// Where a transfer landed.
#[derive(Debug, Clone)]
pub struct Placed {
    pub block: i64,
    /// Unix seconds of the block.
    pub block_time: i64,
    pub tx_hash: [u8; 32],
}

/// (block, tx index, tx hash, from, to, amount)
type NativeRow = (i64, i64, [u8; 32], [u8; 20], [u8; 20], u128);
/// (block, tx index, log index, tx hash, token, from, to, amount)
type TokenRow = (i64, i64, i64, [u8; 32], [u8; 20], [u8; 20], [u8; 20], u128);

#[derive(Default)]
struct Chunk {
    blocks: Vec<(i64, i64, [u8; 32])>,
    native: Vec<NativeRow>,
    token: Vec<TokenRow>,
}

pub struct ChainWriter<'a> {
    dir: PathBuf,
    format: SynthFormat,
    world: &'a World,
    start: i64,
    /// Blocks per output file: about CHUNK_TRANSFERS transfers at the dataset's density.
    chunk_blocks: i64,
    chunk: Chunk,
    chunk_start: Option<i64>,
    last_block: Option<i64>,
    tx_in_block: i64,
    tx_counter: u64,
    blocks: u64,
    files: usize,
}

impl<'a> ChainWriter<'a> {
    pub fn new(dir: &Path, format: SynthFormat, world: &'a World, transfers: u64, chunk_blocks: Option<u64>) -> Result<Self> {
        let span_blocks = ((world.to_day - world.from_day + 1) as i64 * 86_400 / BLOCK_SECONDS).max(1);
        let per = (span_blocks as f64 * CHUNK_TRANSFERS as f64 / transfers.max(1) as f64).ceil() as i64;
        let chunk_blocks = match chunk_blocks {
            Some(c) => i64::try_from(c).unwrap_or(i64::MAX).max(1),
            None => (per.div_euclid(1000) * 1000).max(1000),
        };
        let dir = dir.join("chain");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        Ok(ChainWriter {
            dir,
            format,
            world,
            start: world.from_day as i64 * 86_400,
            chunk_blocks,
            chunk: Chunk::default(),
            chunk_start: None,
            last_block: None,
            tx_in_block: 0,
            tx_counter: 0,
            blocks: 0,
            files: 0,
        })
    }

    /// Add one transfer (times must not decrease); returns where it landed.
    pub fn push(&mut self, tx: &Tx) -> Result<Placed> {
        let block = FIRST_BLOCK + (tx.time - self.start).div_euclid(BLOCK_SECONDS);
        let block_time = self.start + (block - FIRST_BLOCK) * BLOCK_SECONDS;
        let cstart = FIRST_BLOCK + (block - FIRST_BLOCK).div_euclid(self.chunk_blocks) * self.chunk_blocks;
        if self.chunk_start.is_some_and(|c| c != cstart) {
            self.flush()?;
        }
        self.chunk_start = Some(cstart);
        if self.last_block != Some(block) {
            if self.last_block.is_some_and(|b| b > block) {
                return Err(Error::Internal("synthetic transfers out of time order".into()));
            }
            self.last_block = Some(block);
            self.tx_in_block = 0;
            self.blocks += 1;
            self.chunk.blocks.push((block, block_time, synth_hash(self.world.seed ^ 0xb10c, block as u64)));
        }
        self.tx_counter += 1;
        let hash = tx.hash.unwrap_or_else(|| synth_hash(self.world.seed, self.tx_counter));
        let idx = self.tx_in_block;
        self.tx_in_block += 1;
        match self.world.tokens[tx.token].address {
            None => self.chunk.native.push((block, idx, hash, tx.from, tx.to, tx.amount)),
            Some(token) => self.chunk.token.push((block, idx, idx, hash, token, tx.from, tx.to, tx.amount)),
        }
        Ok(Placed { block, block_time, tx_hash: hash })
    }

    /// Write the last chunk; returns the number of blocks and of files written.
    pub fn finish(mut self) -> Result<(u64, usize)> {
        self.flush()?;
        Ok((self.blocks, self.files))
    }

    fn flush(&mut self) -> Result<()> {
        let Some(start) = self.chunk_start else { return Ok(()) };
        let end = start + self.chunk_blocks - 1;
        let chunk = std::mem::take(&mut self.chunk);
        match self.format {
            SynthFormat::Cryo => self.write_cryo(start, end, chunk)?,
            SynthFormat::EthereumEtl => self.write_etl(start, end, chunk)?,
        }
        Ok(())
    }

    fn write_cryo(&mut self, start: i64, end: i64, c: Chunk) -> Result<()> {
        let name = |ds: &str| self.dir.join(format!("ethereum__{ds}__{start:08}_to_{end:08}.parquet"));
        let bin = |v: Vec<Vec<u8>>| v;
        let err = |e| Error::polars("building a synthetic cryo file", e);
        let be32 = |x: u128| {
            let mut b = vec![0u8; 16];
            b.extend_from_slice(&x.to_be_bytes());
            b
        };
        let mut blocks = DataFrame::new(
            c.blocks.len(),
            vec![
                Column::new("block_hash".into(), bin(c.blocks.iter().map(|b| b.2.to_vec()).collect())),
                Column::new("block_number".into(), c.blocks.iter().map(|b| b.0 as u32).collect::<Vec<_>>()),
                Column::new("timestamp".into(), c.blocks.iter().map(|b| b.1 as u32).collect::<Vec<_>>()),
                Column::new("chain_id".into(), vec![1u64; c.blocks.len()]),
            ],
        )
        .map_err(err)?;
        write_parquet(&mut blocks, &name("blocks"))?;
        self.files += 1;
        if !c.native.is_empty() {
            let n = &c.native;
            let mut df = DataFrame::new(
                n.len(),
                vec![
                    Column::new("block_number".into(), n.iter().map(|r| r.0 as u32).collect::<Vec<_>>()),
                    Column::new("transaction_index".into(), n.iter().map(|r| r.1 as u32).collect::<Vec<_>>()),
                    Column::new("transfer_index".into(), vec![0u32; n.len()]),
                    Column::new("transaction_hash".into(), bin(n.iter().map(|r| r.2.to_vec()).collect())),
                    Column::new("from_address".into(), bin(n.iter().map(|r| r.3.to_vec()).collect())),
                    Column::new("to_address".into(), bin(n.iter().map(|r| r.4.to_vec()).collect())),
                    Column::new("value_binary".into(), bin(n.iter().map(|r| be32(r.5)).collect())),
                    Column::new("value_string".into(), n.iter().map(|r| r.5.to_string()).collect::<Vec<_>>()),
                    Column::new("value_f64".into(), n.iter().map(|r| r.5 as f64).collect::<Vec<_>>()),
                    Column::new("chain_id".into(), vec![1u64; n.len()]),
                ],
            )
            .map_err(err)?;
            write_parquet(&mut df, &name("native_transfers"))?;
            self.files += 1;
        }
        if !c.token.is_empty() {
            let t = &c.token;
            let mut df = DataFrame::new(
                t.len(),
                vec![
                    Column::new("block_number".into(), t.iter().map(|r| r.0 as u32).collect::<Vec<_>>()),
                    Column::new("transaction_index".into(), t.iter().map(|r| r.1 as u32).collect::<Vec<_>>()),
                    Column::new("log_index".into(), t.iter().map(|r| r.2 as u32).collect::<Vec<_>>()),
                    Column::new("transaction_hash".into(), bin(t.iter().map(|r| r.3.to_vec()).collect())),
                    Column::new("erc20".into(), bin(t.iter().map(|r| r.4.to_vec()).collect())),
                    Column::new("from_address".into(), bin(t.iter().map(|r| r.5.to_vec()).collect())),
                    Column::new("to_address".into(), bin(t.iter().map(|r| r.6.to_vec()).collect())),
                    Column::new("value_binary".into(), bin(t.iter().map(|r| be32(r.7)).collect())),
                    Column::new("value_string".into(), t.iter().map(|r| r.7.to_string()).collect::<Vec<_>>()),
                    Column::new("value_f64".into(), t.iter().map(|r| r.7 as f64).collect::<Vec<_>>()),
                    Column::new("chain_id".into(), vec![1u64; t.len()]),
                ],
            )
            .map_err(err)?;
            write_parquet(&mut df, &name("erc20_transfers"))?;
            self.files += 1;
        }
        Ok(())
    }

    fn write_etl(&mut self, start: i64, end: i64, c: Chunk) -> Result<()> {
        let open = |ds: &str| -> Result<(PathBuf, std::io::BufWriter<std::fs::File>)> {
            let p = self.dir.join(format!("{ds}_{start:08}_{end:08}.csv"));
            let f = std::fs::File::create(&p).map_err(|e| Error::io("creating", &p, e))?;
            Ok((p, std::io::BufWriter::new(f)))
        };
        let io = |p: &Path, e| Error::io("writing", p, e);
        let (p, mut f) = open("blocks")?;
        writeln!(f, "number,hash,timestamp,transaction_count").map_err(|e| io(&p, e))?;
        for (n, t, h) in &c.blocks {
            writeln!(f, "{n},0x{},{t},", hex::encode(h)).map_err(|e| io(&p, e))?;
        }
        f.flush().map_err(|e| io(&p, e))?;
        self.files += 1;
        if !c.native.is_empty() {
            let (p, mut f) = open("traces")?;
            writeln!(f, "block_number,transaction_hash,transaction_index,from_address,to_address,value,trace_type,call_type,trace_address,error,status")
                .map_err(|e| io(&p, e))?;
            for (b, i, h, from, to, v) in &c.native {
                writeln!(f, "{b},0x{},{i},{},{},{v},call,call,,,1", hex::encode(h), hex20(from), hex20(to)).map_err(|e| io(&p, e))?;
            }
            f.flush().map_err(|e| io(&p, e))?;
            self.files += 1;
        }
        if !c.token.is_empty() {
            let (p, mut f) = open("token_transfers")?;
            writeln!(f, "token_address,from_address,to_address,value,transaction_hash,log_index,block_number,transaction_index")
                .map_err(|e| io(&p, e))?;
            for (b, i, l, h, tok, from, to, v) in &c.token {
                writeln!(f, "{},{},{},{v},0x{},{l},{b},{i}", hex20(tok), hex20(from), hex20(to), hex::encode(h)).map_err(|e| io(&p, e))?;
            }
            f.flush().map_err(|e| io(&p, e))?;
            self.files += 1;
        }
        Ok(())
    }
}
