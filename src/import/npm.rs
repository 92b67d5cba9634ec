//! The web page's npm dependencies (MapLibre GL JS), installed without npm: each
//! dependency of `web/package.json` missing from `web/node_modules` is downloaded from
//! the registry URL pinned in `web/package-lock.json`, checked against the lock file's
//! `integrity` (SHA-512), and unpacked where `npm ci` would put it. A clean clone then
//! serves its map with nothing but cargo; `npm ci` gives the same files.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha512};

use super::ImportError;

/// Largest tarball accepted (MapLibre's is about 10 MB).
const MAX_TARBALL_BYTES: u64 = 200 * 1024 * 1024;

/// Installs the missing dependencies of `web_dir`; returns the `name@version` installed.
pub fn install_missing(web_dir: &Path) -> Result<Vec<String>, ImportError> {
    let read_json = |name: &str| -> Result<serde_json::Value, ImportError> {
        let path = web_dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| ImportError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| ImportError::Read {
            path,
            message: e.to_string(),
        })
    };
    let package = read_json("package.json")?;
    let lock = read_json("package-lock.json")?;
    let mut installed = Vec::new();
    let Some(deps) = package["dependencies"].as_object() else {
        return Ok(installed);
    };
    for name in deps.keys() {
        let target = web_dir.join("node_modules").join(name);
        if target.join("package.json").exists() {
            continue;
        }
        let entry = &lock["packages"][format!("node_modules/{name}")];
        let bad_lock = |what: &str| ImportError::Read {
            path: web_dir.join("package-lock.json"),
            message: format!("node_modules/{name}: {what} (run `npm install` in web/)"),
        };
        let version = entry["version"]
            .as_str()
            .ok_or_else(|| bad_lock("no `version`"))?;
        // Lock files written with `omit-lockfile-registry-resolved` have no URL: the
        // registry's standard one (the integrity check makes the bytes the same).
        let url = match entry["resolved"].as_str() {
            Some(u) => u.to_owned(),
            None => registry_url(name, version),
        };
        let url = url.as_str();
        let integrity = entry["integrity"]
            .as_str()
            .and_then(|i| i.strip_prefix("sha512-"))
            .ok_or_else(|| bad_lock("no sha512 `integrity`"))?;
        tracing::info!("web/node_modules/{name} is missing: fetching {name}@{version} from {url}");
        let tarball = download(url)?;
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&tarball));
        if digest != integrity {
            return Err(ImportError::Download {
                url: url.to_owned(),
                message: format!(
                    "sha512 {digest} differs from the integrity pinned in web/package-lock.json ({integrity})"
                ),
            });
        }
        unpack(&tarball, &target, url)?;
        installed.push(format!("{name}@{version}"));
    }
    Ok(installed)
}

/// `https://registry.npmjs.org/<name>/-/<basename>-<version>.tgz`, the tarball URL of
/// the public registry (`@scope/name` → `name`).
fn registry_url(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("https://registry.npmjs.org/{name}/-/{base}-{version}.tgz")
}

fn download(url: &str) -> Result<Vec<u8>, ImportError> {
    let failed = |message: String| ImportError::Download {
        url: url.to_owned(),
        message,
    };
    let mut response = super::remote::HttpOptions::default()
        .agent()
        .get(url)
        .call()
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP status {}", response.status())));
    }
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_TARBALL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(e.to_string()))?;
    if bytes.len() as u64 > MAX_TARBALL_BYTES {
        return Err(failed(format!("larger than {MAX_TARBALL_BYTES} bytes")));
    }
    Ok(bytes)
}

/// Unpacks the `package/` folder of an npm tarball into `target`, through a staging
/// folder renamed in one step. Entries outside `package/` or with `..` are refused.
fn unpack(tarball: &[u8], target: &Path, url: &str) -> Result<(), ImportError> {
    let bad = |message: String| ImportError::Download {
        url: url.to_owned(),
        message,
    };
    let parent = target
        .parent()
        .ok_or_else(|| bad("no parent folder".into()))?;
    std::fs::create_dir_all(parent).map_err(|e| ImportError::io(parent, e))?;
    let staging = parent.join(format!(
        ".{}.staging-{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
        for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
            let Ok(rel) = path.strip_prefix("package") else {
                continue;
            };
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(bad(format!(
                    "unsafe path in the tarball: {}",
                    path.display()
                )));
            }
            let dest: PathBuf = staging.join(rel);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir).map_err(|e| ImportError::io(dir, e))?;
            }
            let mut out = std::fs::File::create(&dest).map_err(|e| ImportError::io(&dest, e))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| ImportError::io(&dest, e))?;
        }
        if !staging.join("package.json").exists() {
            return Err(bad("no package/package.json in the tarball".into()));
        }
        std::fs::rename(&staging, target).map_err(|e| ImportError::io(target, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (path, bytes) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // `set_path` refuses `..`: write the name bytes directly, as a hostile
            // tarball would.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            tar.append(&h, *bytes).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn registry_urls() {
        assert_eq!(
            registry_url("maplibre-gl", "5.24.1"),
            "https://registry.npmjs.org/maplibre-gl/-/maplibre-gl-5.24.1.tgz"
        );
        assert_eq!(
            registry_url("@scope/pkg", "1.0.0"),
            "https://registry.npmjs.org/@scope/pkg/-/pkg-1.0.0.tgz"
        );
    }

    #[test]
    fn unpacks_the_package_folder_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let good = tarball(&[
            ("package/package.json", b"{}"),
            ("package/dist/lib.js", b"x"),
        ]);
        let target = dir.path().join("node_modules/lib");
        unpack(&good, &target, "u").unwrap();
        assert_eq!(std::fs::read(target.join("dist/lib.js")).unwrap(), b"x");

        let evil = tarball(&[("package/package.json", b"{}"), ("package/../../x", b"x")]);
        let target = dir.path().join("node_modules/evil");
        let e = unpack(&evil, &target, "u").unwrap_err().to_string();
        assert!(e.contains("unsafe path"), "{e}");
        assert!(!target.exists());
        assert!(!dir.path().join("x").exists());
    }
}
