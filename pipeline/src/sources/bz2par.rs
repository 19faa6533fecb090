//! `.bz2` decompressed on two threads. A bzip2 stream is a run of independent blocks (each up to
//! 900 kB of output) that start at a 48-bit magic number at any bit offset. Each block is copied out
//! as a stream of its own (the stream header, the block's bits, the end-of-stream marker and the
//! block's CRC as the stream's CRC), and two threads decompress every other block each; the output
//! goes out in order through bounded channels, so memory stays at a few blocks.
//!
//! The block CRCs, combined as bzip2 combines them, must equal the stream's own combined CRC, and
//! each block's decoder checks its block's CRC. A file this cannot split (several streams, a magic
//! number that turns out to be inside compressed data) is decompressed the usual way, one thread,
//! skipping what was already handed out: the output is the same either way.

use std::io::Read;
use std::path::Path;

use super::ChannelReader;
use crate::error::{Error, Result};

const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
const END_MAGIC: u64 = 0x1772_4538_5090;
const MAGIC_MASK: u64 = (1 << 48) - 1;

/// Where the blocks of a single-stream file are (bit offsets).
#[derive(Debug)]
struct Plan {
    /// The stream header's level digit (`1`..`9`).
    level: u8,
    /// Each block: [start, end) in bits, from its magic number up to the next block's (or the end marker).
    blocks: Vec<(u64, u64)>,
}

fn bit(data: &[u8], i: u64) -> u64 {
    ((data[(i / 8) as usize] >> (7 - (i % 8))) & 1) as u64
}

fn bits(data: &[u8], from: u64, n: u32) -> u64 {
    (from..from + n as u64).fold(0, |acc, i| (acc << 1) | bit(data, i))
}

/// Find the blocks of `data`, a whole .bz2 file; None when it is not one stream whose block CRCs
/// combine into its stream CRC.
fn plan(data: &[u8]) -> Option<Plan> {
    if data.len() < 14 || &data[..3] != b"BZh" || !(b'1'..=b'9').contains(&data[3]) {
        return None;
    }
    let total = data.len() as u64 * 8;
    let mut window: u64 = 0;
    let mut starts = Vec::new();
    let mut end = None;
    for i in 32..total {
        window = ((window << 1) | bit(data, i)) & MAGIC_MASK;
        if i < 32 + 47 {
            continue;
        }
        let at = i - 47;
        if window == BLOCK_MAGIC {
            starts.push(at);
        } else if window == END_MAGIC {
            end = Some(at);
            break;
        }
    }
    let end = end?;
    // After the end marker: 48 bits of magic, 32 of CRC, then padding to a byte: the file's end.
    if (end + 80).div_ceil(8) != data.len() as u64 || starts.first() != Some(&32) {
        return None;
    }
    let stored = bits(data, end + 48, 32) as u32;
    let combined = starts.iter().fold(0u32, |c, &s| c.rotate_left(1) ^ bits(data, s + 48, 32) as u32);
    if combined != stored {
        return None;
    }
    let mut blocks: Vec<(u64, u64)> = starts.windows(2).map(|w| (w[0], w[1])).collect();
    blocks.push((*starts.last()?, end));
    Some(Plan { level: data[3], blocks })
}

/// Bits written most significant first.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, v: u64, n: u32) {
        for k in (0..n).rev() {
            self.acc = (self.acc << 1) | ((v >> k) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Copy bits [from, to) of `data`.
    fn copy(&mut self, data: &[u8], from: u64, to: u64) {
        let mut i = from;
        // Whole bytes of input at a time (two input bytes give any eight bits).
        while i + 8 <= to && ((i / 8) as usize) + 1 < data.len() {
            let k = (i / 8) as usize;
            let word = ((data[k] as u16) << 8) | data[k + 1] as u16;
            let byte = (word >> (8 - (i % 8))) as u8;
            self.put(byte as u64, 8);
            i += 8;
        }
        while i < to {
            self.put(bit(data, i), 1);
            i += 1;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)) as u8);
        }
        self.out
    }
}

/// One block as a stream of its own, decompressed.
fn decode(data: &[u8], level: u8, (from, to): (u64, u64)) -> std::io::Result<Vec<u8>> {
    let mut w = BitWriter { out: Vec::with_capacity(((to - from) / 8 + 16) as usize), acc: 0, n: 0 };
    w.out.extend_from_slice(&[b'B', b'Z', b'h', level]);
    w.copy(data, from, to);
    w.put(END_MAGIC, 48);
    w.put(bits(data, from + 48, 32), 32);
    let stream = w.finish();
    let mut out = Vec::with_capacity(1 << 20);
    bzip2::read::BzDecoder::new(stream.as_slice()).read_to_end(&mut out)?;
    Ok(out)
}

/// Open `path` (a .bz2 file) as the reader of its decompressed bytes.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    let data = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    let plan = match plan(&data) {
        Some(p) if p.blocks.len() > 1 => p,
        _ => return Ok(Box::new(bzip2::read::MultiBzDecoder::new(super::Counted(std::io::Cursor::new(data))))),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
    let data = std::sync::Arc::new(data);
    // Two decoders take every other block, each a block or two ahead at most; the output goes out
    // in block order by taking from them in turn.
    let decoders: Vec<_> = (0..2)
        .map(|w| {
            let (data, blocks, level) = (data.clone(), plan.blocks.clone(), plan.level);
            let (btx, brx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(1);
            std::thread::spawn(move || {
                for &blk in blocks.iter().skip(w).step_by(2) {
                    let r = decode(&data, level, blk);
                    let failed = r.is_err();
                    if btx.send(r).is_err() || failed {
                        return;
                    }
                }
            });
            brx
        })
        .collect();
    std::thread::spawn(move || {
        let mut sent = 0u64;
        for k in 0..plan.blocks.len() {
            match decoders[k % 2].recv() {
                Ok(Ok(out)) if out.is_empty() => {} // (an empty chunk would read as the end)
                Ok(Ok(out)) => {
                    sent += out.len() as u64;
                    // Progress: the block's compressed bytes are consumed once its output is handed on.
                    let (from, to) = plan.blocks[k];
                    super::count_bytes((to - from) / 8);
                    if tx.send(Ok(out)).is_err() {
                        return;
                    }
                }
                _ => return serially(&data, sent, &tx),
            }
        }
        let _ = tx.send(Ok(Vec::new()));
    });
    Ok(Box::new(ChannelReader::new(rx)))
}

/// The usual one-thread decoder, from the start, skipping the first `skip` bytes of output (those
/// already handed out); its errors (a corrupt file) go to the reader.
fn serially(data: &[u8], skip: u64, tx: &std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>) {
    let mut dec = bzip2::read::MultiBzDecoder::new(data);
    if let Err(e) = std::io::copy(&mut (&mut dec).take(skip), &mut std::io::sink()) {
        let _ = tx.send(Err(e));
        return;
    }
    loop {
        let mut buf = vec![0u8; 1 << 18];
        match dec.read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() || n == 0 {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn compress(data: &[u8], level: u32) -> Vec<u8> {
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// Text that compresses a little (so blocks fill up), deterministic.
    fn text(n: usize) -> Vec<u8> {
        let mut x: u64 = 7;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                b"<Feature ID=\"0x1a2b\">abcdef0123456789</Feature>\n"[(x >> 59) as usize % 48]
            })
            .collect()
    }

    fn read_all(path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        open(path).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_many_block_file_decompresses_in_parallel_to_the_same_bytes() {
        let raw = text(350_000); // level 1: 100 kB blocks, so four blocks
        let bz = compress(&raw, 1);
        let p = plan(&bz).expect("one stream, blocks found");
        assert_eq!(p.blocks.len(), 4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bz2");
        std::fs::write(&path, &bz).unwrap();
        assert_eq!(read_all(&path), raw);
    }

    #[test]
    fn files_it_cannot_split_are_read_the_usual_way() {
        let dir = tempfile::tempdir().unwrap();
        let raw = text(250_000);
        // Two streams back to back (like pbzip2's output): not one plan, same bytes.
        let mut two = compress(&raw, 1);
        two.extend(compress(&raw, 1));
        assert!(plan(&two).is_none());
        let path = dir.path().join("two.bz2");
        std::fs::write(&path, &two).unwrap();
        assert_eq!(read_all(&path), [raw.clone(), raw.clone()].concat());
        // A block corrupted (stream CRC no longer matches): an error, as with one thread.
        let mut bad = compress(&raw, 1);
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let path = dir.path().join("bad.bz2");
        std::fs::write(&path, &bad).unwrap();
        let mut out = Vec::new();
        assert!(open(&path).unwrap().read_to_end(&mut out).is_err());
    }
}
