//! Files written whole or not at all: every stored file (and `manifest.json`) goes to a
//! `.<name>.part` file in the same folder, is hashed on the way, synced, checked against
//! its pinned sha256, then renamed. An interrupted fetch never leaves a half file under
//! the final name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::ImportError;

/// Copy and download buffer.
const CHUNK: usize = 64 * 1024;

/// What was written by [`store_atomically`].
pub(crate) struct Stored {
    pub sha256: String,
    pub bytes: u64,
}

/// Copies `src` to `dest` (atomically), printing one line on stderr.
pub(crate) fn copy_file(
    src: &Path,
    dest: &Path,
    expected: Option<&str>,
) -> Result<Stored, ImportError> {
    let mut input = File::open(src).map_err(|e| ImportError::io(src, e))?;
    let stored = store_atomically(dest, expected, &src.display().to_string(), |w| {
        pump(&mut input, |e| ImportError::io(src, e), w, None)
    })?;
    let line = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{msg}") {
        line.set_style(style);
    }
    line.finish_with_message(format!(
        "copied {} → {} ({} bytes)",
        src.display(),
        dest.display(),
        stored.bytes
    ));
    Ok(stored)
}

/// Copies `reader` into `w` chunk by chunk; read errors go through `read_error`, write
/// errors name the part file.
pub(crate) fn pump(
    reader: &mut impl Read,
    read_error: impl Fn(io::Error) -> ImportError,
    w: &mut PartWriter,
    bar: Option<&ProgressBar>,
) -> Result<(), ImportError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        w.write_all(&buf[..n])
            .map_err(|e| ImportError::io(w.path(), e))?;
        if let Some(bar) = bar {
            bar.inc(n as u64);
        }
    }
}

/// The `.part` file being written, hashing what goes through it.
pub(crate) struct PartWriter {
    file: File,
    path: PathBuf,
    hasher: Sha256,
    /// Bytes written so far.
    pub bytes: u64,
}

impl PartWriter {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Removes the part file unless disarmed (errors, panics).
struct PartGuard<'a>(Option<&'a Path>);

impl Drop for PartGuard<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// Writes `dest` through `.<name>.part` in the same folder: `fill` writes the content,
/// then the part file is synced, checked against `expected` (a mismatch names `from`),
/// and renamed to `dest`.
pub(crate) fn store_atomically(
    dest: &Path,
    expected: Option<&str>,
    from: &str,
    fill: impl FnOnce(&mut PartWriter) -> Result<(), ImportError>,
) -> Result<Stored, ImportError> {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(ImportError::Write {
            path: dest.to_owned(),
            message: "not a file path".into(),
        });
    };
    fs::create_dir_all(dir).map_err(|e| ImportError::io(dir, e))?;
    let part = dir.join(format!(".{}.part", name.to_string_lossy()));
    let file = File::create(&part).map_err(|e| ImportError::io(&part, e))?;
    let mut guard = PartGuard(Some(&part));
    let mut w = PartWriter {
        file,
        path: part.clone(),
        hasher: Sha256::new(),
        bytes: 0,
    };
    fill(&mut w)?;
    w.flush().map_err(|e| ImportError::io(&part, e))?;
    w.file.sync_all().map_err(|e| ImportError::io(&part, e))?;
    let PartWriter {
        file,
        hasher,
        bytes,
        ..
    } = w;
    drop(file);
    let sha256 = hex::encode(hasher.finalize());
    if let Some(expected) = expected
        && !sha256.eq_ignore_ascii_case(expected)
    {
        return Err(ImportError::Checksum {
            path: PathBuf::from(from),
            expected: expected.to_owned(),
            actual: sha256,
        });
    }
    fs::rename(&part, dest).map_err(|e| ImportError::Write {
        path: dest.to_owned(),
        message: format!("renaming {} into place: {e}", part.display()),
    })?;
    guard.0 = None;
    sync_dir(dir);
    Ok(Stored { sha256, bytes })
}

/// Makes a rename durable (best effort: not every platform can sync a folder).
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
