//! Checks on source files before and after they are read (issue 18): a cached file must
//! still have the sha256 recorded when it was fetched, no file or archive member may be
//! larger than [`MAX_SOURCE_BYTES`] (decompressed: a gzip, zip or xz bomb stops with an error), no
//! line longer than [`MAX_LINE_BYTES`] (a file of NUL bytes is no table), a source must
//! hold at least one row, and a source's rows may not drop by more than
//! [`MAX_SHRINK`] against the build served unless the build allows it.

use std::io::{self, Read};
use std::path::Path;

use super::{BuildReport, ImportError, SourceReport, SourceSpec};

/// Largest source file, and largest decompressed archive member (bytes).
pub const MAX_SOURCE_BYTES: u64 = 2 << 30;
/// Longest line of a delimited file (bytes).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Largest drop of a source's rows against the previous build (a fraction).
pub const MAX_SHRINK: f64 = 0.20;

/// A reader that fails once more than `cap` bytes came through: for decompressors, so
/// that a bomb stops with a clear error instead of filling the memory.
pub struct Capped<R> {
    inner: R,
    cap: u64,
    left: u64,
    what: String,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, cap: u64, what: impl Into<String>) -> Self {
        Capped {
            inner,
            cap,
            left: cap,
            what: what.into(),
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more than allowed means the limit is passed.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(too_big(&self.what, self.cap)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn too_big(what: &str, cap: u64) -> io::Error {
    io::Error::other(format!(
        "{what} holds more than {} MiB once decompressed: refused (a damaged or hostile \
         archive?)",
        cap >> 20
    ))
}

/// A buffer that takes at most `cap` bytes: the output side of a decompressor that
/// writes (lzma-rs), as [`Capped`] is the input side of those that are read.
pub struct CappedBuf {
    pub bytes: Vec<u8>,
    cap: u64,
    what: String,
}

impl CappedBuf {
    /// At [`MAX_SOURCE_BYTES`].
    pub fn new(what: impl Into<String>) -> Self {
        CappedBuf {
            bytes: Vec::new(),
            cap: MAX_SOURCE_BYTES,
            what: what.into(),
        }
    }
}

impl io::Write for CappedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() as u64 + buf.len() as u64 > self.cap {
            return Err(too_big(&self.what, self.cap));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// [`Capped`] at [`MAX_SOURCE_BYTES`].
pub fn capped<R: Read>(inner: R, what: impl Into<String>) -> Capped<R> {
    Capped::new(inner, MAX_SOURCE_BYTES, what)
}

/// A reader of delimited text that fails on a line over [`MAX_LINE_BYTES`], and notes
/// the last byte read (to tell a file whose last line was cut).
pub struct Lines<R> {
    inner: R,
    since_newline: usize,
    pub last: Option<u8>,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R) -> Self {
        Lines {
            inner,
            since_newline: 0,
            last: None,
        }
    }

    /// Whether the text read so far ends inside a line (no final line break).
    pub fn ends_inside_a_line(&self) -> bool {
        self.last.is_some_and(|b| b != b'\n' && b != b'\r')
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.since_newline = 0;
            } else {
                self.since_newline += 1;
            }
        }
        if self.since_newline > MAX_LINE_BYTES {
            return Err(io::Error::other(format!(
                "a line longer than {} KiB: not a delimited text file",
                MAX_LINE_BYTES >> 10
            )));
        }
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// The cached file of a source is the one fetched: its size within bounds and its sha256
/// the one the fetch recorded (a file changed in the cache is refused, not read).
pub fn cached_file(
    spec: &SourceSpec,
    path: &Path,
    sha256: Option<&str>,
) -> Result<(), ImportError> {
    let size = std::fs::metadata(path)
        .map_err(|e| ImportError::io(path, e))?
        .len();
    if size > MAX_SOURCE_BYTES {
        return Err(ImportError::source(
            &spec.id,
            format!(
                "{}: {size} bytes, over the {} MiB a source may weigh",
                path.display(),
                MAX_SOURCE_BYTES >> 20
            ),
        ));
    }
    if let Some(want) = sha256 {
        let got = sha256_file(path)?;
        if got != want {
            return Err(ImportError::source(
                &spec.id,
                format!(
                    "{}: sha256 {got} is not the {want} recorded when it was fetched: the \
                     cached file changed (run `careaccess data fetch` again)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// sha256 of a file, lowercase hex (read in chunks).
fn sha256_file(path: &Path) -> Result<String, ImportError> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| ImportError::io(path, e))?;
    Ok(hex::encode(hasher.finalize()))
}

/// A source read without a single row (a header only, or an emptied file) is an error.
pub fn has_rows<T>(spec: &SourceSpec, report: &SourceReport, read: T) -> Result<T, ImportError> {
    if report.rows_read == 0 {
        return Err(ImportError::source(
            &spec.id,
            "the file holds no row (a header only, or emptied): refused".to_owned(),
        ));
    }
    Ok(read)
}

/// Refuses a build where a source read more than [`MAX_SHRINK`] fewer rows than in the
/// build served (`previous`), unless `allow_shrink`.
pub fn no_shrink(
    previous: Option<&BuildReport>,
    current: &BuildReport,
    allow_shrink: bool,
) -> Result<(), ImportError> {
    let Some(previous) = previous else {
        return Ok(());
    };
    let mut shrunk = Vec::new();
    for now in &current.sources {
        let Some(before) = previous
            .sources
            .iter()
            .find(|p| p.id == now.id && p.status == "built" && p.rows_read > 0)
        else {
            continue;
        };
        if now.status == "built"
            && (now.rows_read as f64) < before.rows_read as f64 * (1.0 - MAX_SHRINK)
        {
            shrunk.push(format!(
                "{}: {} rows, {} in build {}",
                now.id, now.rows_read, before.rows_read, previous.build_id
            ));
        }
    }
    if shrunk.is_empty() || allow_shrink {
        for s in &shrunk {
            tracing::warn!("source shrank (allowed): {s}");
        }
        return Ok(());
    }
    Err(ImportError::Manifest(format!(
        "sources shrank by more than {:.0} % against the build served — {} — a file cut \
         short? Check the files, or build with --allow-shrink if the drop is real",
        MAX_SHRINK * 100.0,
        shrunk.join("; ")
    )))
}

/// The build report of the build served in `data_dir`, if any.
pub fn previous_report(data_dir: &Path) -> Option<BuildReport> {
    let path = data_dir
        .join(crate::store::CURRENT)
        .join(crate::store::layout::REPORT_FILE);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_stops_past_its_limit() {
        let mut out = Vec::new();
        let e = Capped::new(&[0u8; 100][..], 10, "x").read_to_end(&mut out);
        assert!(e.unwrap_err().to_string().contains("more than"));
        let mut out = Vec::new();
        Capped::new(&[0u8; 10][..], 10, "x")
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn a_capped_buffer_refuses_past_its_limit() {
        use std::io::Write;
        let mut b = CappedBuf::new("x.lzma");
        b.cap = 10;
        b.write_all(&[0u8; 10]).unwrap();
        let e = b.write_all(&[0u8; 1]).unwrap_err();
        assert!(e.to_string().contains("x.lzma holds more than"), "{e}");
        assert_eq!(b.bytes.len(), 10);
    }

    #[test]
    fn lines_refuse_a_huge_line_and_tell_a_cut_one() {
        let mut l = Lines::new(&b"a,b\n1,2"[..]);
        std::io::copy(&mut l, &mut std::io::sink()).unwrap();
        assert!(l.ends_inside_a_line());
        let nul = vec![0u8; MAX_LINE_BYTES + 10];
        let e = std::io::copy(&mut Lines::new(&nul[..]), &mut std::io::sink());
        assert!(e.is_err());
    }
}
