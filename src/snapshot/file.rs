//! The snapshot file on disk: written through a temp file that is fsynced and
//! renamed, mapped read-only to load, moved aside when refused.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::cache::now_ms;

/// Temp file in the same directory, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("snapshot");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// The whole file, mapped read-only: the archive is validated and read
/// where it lies, never copied (a page-aligned mapping keeps the payload's
/// 16-byte alignment).
pub fn map(path: &Path) -> std::io::Result<memmap2::Mmap> {
    let file = File::open(path)?;
    // SAFETY: snapshot files are only ever replaced by rename, never written
    // in place, so the mapped file does not change while it is read; a
    // foreign writer could at worst make validation fail, and every byte is
    // checked (checksum, then rkyv's validating access) before use.
    unsafe { memmap2::Mmap::map(&file) }
}

/// Renames a refused file to `<name>.bad-<unix ms>` so it is kept for a
/// post-mortem but never loaded again.
pub fn move_aside(path: &Path) {
    let aside = path.with_extension(format!("snap.bad-{}", now_ms()));
    match fs::rename(path, &aside) {
        Ok(()) => {
            tracing::warn!(from = %path.display(), to = %aside.display(), "snapshot moved aside")
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot move a bad snapshot aside")
        }
    }
}
