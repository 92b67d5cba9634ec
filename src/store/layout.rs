//! The on-disk layout of built data: `builds/<id>/` folders, each a complete build, and
//! `current`, a symlink switched to a finished build in one rename (plus convenience links
//! `<layer>.fgb` → `current/<layer>.fgb` for GDAL and QGIS users).
//!
//! A build is written in a staging folder ([`Staging`]) that only becomes visible, whole,
//! at [`Staging::commit`]: a build that fails or is killed leaves `current` untouched.

use std::path::{Path, PathBuf};

use crate::model::{Kind, TerritoryType};

use super::StoreError;

/// Folder of finished builds, under the data dir.
pub const BUILDS_DIR: &str = "builds";
/// Symlink to the build in force, under the data dir.
pub const CURRENT: &str = "current";
/// What the build holds, where each field comes from ([`DatasetMeta`](super::DatasetMeta)).
pub const DATASET_FILE: &str = "dataset.json";
/// Rows read, kept and skipped per source.
pub const REPORT_FILE: &str = "build-report.json";
/// The normalised travel-time table in a build folder.
pub const TRAVEL_MATRIX_FILE: &str = "travel_matrix.csv";
/// The communes layer (polygons).
pub const COMMUNES_LAYER: &str = "communes";
/// The same attributes at the communes' reference points, for analyses (no polygons).
pub const COMMUNE_POINTS_LAYER: &str = "communes_points";
/// The territory layers (polygons = union of their communes) and what they hold.
pub const TERRITORY_LAYERS: [(&str, TerritoryType); 4] = [
    ("epci", TerritoryType::Epci),
    ("departements", TerritoryType::Departement),
    ("regions", TerritoryType::Region),
    ("cls", TerritoryType::Cls),
];
/// Builds kept besides the current one (for a quick roll-back by hand).
const KEEP_OLD_BUILDS: usize = 1;

/// The file of a layer.
pub fn layer_file(name: &str) -> String {
    format!("{name}.fgb")
}

/// The kind of structure a layer holds, if it is a structure layer.
pub fn layer_kind(name: &str) -> Option<Kind> {
    if name == COMMUNES_LAYER
        || name == COMMUNE_POINTS_LAYER
        || TERRITORY_LAYERS.iter().any(|(n, _)| *n == name)
    {
        return None;
    }
    name.parse().ok()
}

/// The folder of the build in force.
pub fn current_build(data_dir: &Path) -> Result<PathBuf, StoreError> {
    std::fs::canonicalize(data_dir.join(CURRENT))
        .map_err(|_| StoreError::NoBuild(data_dir.to_owned()))
}

/// A build being written: a hidden folder of `builds/` until it is committed.
#[derive(Debug)]
pub struct Staging {
    data_dir: PathBuf,
    pub build_id: String,
    /// Where the build's files go.
    pub dir: PathBuf,
}

impl Staging {
    pub fn begin(data_dir: &Path, build_id: &str) -> Result<Staging, StoreError> {
        let builds = data_dir.join(BUILDS_DIR);
        std::fs::create_dir_all(&builds).map_err(|e| StoreError::io(&builds, e))?;
        remove_stale_staging(&builds);
        let dir = builds.join(format!(".staging-{build_id}"));
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok(Staging {
            data_dir: data_dir.to_owned(),
            build_id: build_id.to_owned(),
            dir,
        })
    }

    /// Makes the build current; `outputs` are the layer files to link from the data dir.
    /// Returns the build's folder.
    pub fn commit(self, outputs: &[String]) -> Result<PathBuf, StoreError> {
        let builds = self.data_dir.join(BUILDS_DIR);
        let dir = builds.join(&self.build_id);
        if let Err(e) = std::fs::rename(&self.dir, &dir) {
            let _ = std::fs::remove_dir_all(&self.dir);
            return Err(StoreError::io(&dir, e));
        }
        publish(&self.data_dir, &self.build_id, outputs)?;
        prune(&builds, &self.build_id);
        remove_stale_links(&self.data_dir);
        Ok(dir)
    }

    /// Drops a failed build.
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the staging folders of builds that were killed (left behind, untouched for a
/// minute: a build still writing its files is left alone).
fn remove_stale_staging(builds: &Path) {
    let Ok(entries) = std::fs::read_dir(builds) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(".staging-")
            && e.metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| {
                    t.elapsed()
                        .is_ok_and(|age| age > std::time::Duration::from_secs(60))
                });
        if stale {
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => tracing::info!(
                    "removed {} (a build that did not finish)",
                    e.path().display()
                ),
                Err(err) => tracing::warn!("cannot remove {}: {err}", e.path().display()),
            }
        }
    }
}

/// Points `current` at the build, atomically (symlink + rename), and keeps the
/// convenience links `geodata/<layer>.fgb` → `current/<layer>.fgb`.
fn publish(data_dir: &Path, build_id: &str, outputs: &[String]) -> Result<(), StoreError> {
    let target = Path::new(BUILDS_DIR).join(build_id);
    let tmp = data_dir.join(format!(".{CURRENT}.{build_id}"));
    let _ = std::fs::remove_file(&tmp);
    symlink(&target, &tmp)?;
    let current = data_dir.join(CURRENT);
    std::fs::rename(&tmp, &current).map_err(|e| StoreError::io(&current, e))?;
    for name in outputs.iter().map(String::as_str).chain([REPORT_FILE]) {
        let link = data_dir.join(name);
        if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
            continue;
        }
        if link.exists() {
            continue; // a user's own file: never overwritten
        }
        symlink(&Path::new(CURRENT).join(name), &link)?;
    }
    // Links to layers that this build no longer has.
    if let Ok(entries) = std::fs::read_dir(data_dir) {
        for e in entries.flatten() {
            let p = e.path();
            let is_link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
            if is_link && p.extension().is_some_and(|x| x == "fgb") && !p.exists() {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<(), StoreError> {
    std::os::unix::fs::symlink(target, link).map_err(|e| StoreError::io(link, e))
}

#[cfg(not(unix))]
fn symlink(_target: &Path, link: &Path) -> Result<(), StoreError> {
    Err(StoreError::Write {
        path: link.to_owned(),
        message: "atomic data switch needs symlinks (Unix)".into(),
    })
}

/// Removes `.current.<id>` links left by a build killed between creating its link and
/// renaming it onto `current`.
fn remove_stale_links(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{CURRENT}.")) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Removes staging folders of killed builds and all but the newest old builds.
fn prune(builds: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(builds) else {
        return;
    };
    let mut old: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != keep)
        .collect();
    old.sort();
    let stale_staging: Vec<&String> = old.iter().filter(|n| n.starts_with(".staging-")).collect();
    for n in stale_staging {
        // A staging folder of a build still running has a live pid in its name.
        let pid_alive = n
            .rsplit('-')
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !pid_alive {
            let _ = std::fs::remove_dir_all(builds.join(n));
        }
    }
    // Oldest first, by modification time (names sort badly within one second).
    let mut finished: Vec<&String> = old.iter().filter(|n| !n.starts_with('.')).collect();
    finished.sort_by_key(|n| {
        std::fs::metadata(builds.join(n))
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH)
    });
    let excess = finished.len().saturating_sub(KEEP_OLD_BUILDS);
    for n in finished.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(builds.join(n));
    }
}
