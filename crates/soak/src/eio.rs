//! I/O errors on demand, in real processes: a small `LD_PRELOAD` library, compiled
//! from the C below with the machine's C compiler at the start of a schedule, makes
//! `read`/`write`-family calls and `fsync` on files under one directory fail with
//! `EIO` while a flag file exists. The hub process (its SQLite database's directory)
//! and the node-write process (the node stores' directory) run with it; the schedule
//! raises and lowers the flag. SQLite sees what a failing disk gives it
//! (`SQLITE_IOERR_*`), through its own VFS, with nothing in the code under test changed.

use std::path::{Path, PathBuf};

use crate::SoakError;

/// The library's source. Every hooked call first checks the flag file and the
/// descriptor's path, then passes through to the C library's own function.
const SHIM_C: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int failing(int fd) {
    const char *flag = getenv("YANPEI_EIO_FLAG");
    const char *dir = getenv("YANPEI_EIO_DIR");
    if (!flag || !dir || access(flag, F_OK) != 0) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return strncmp(path, dir, strlen(dir)) == 0;
}

#define HOOK(name, ret, params, args)                                   \
    ret name params {                                                   \
        static ret (*real) params = 0;                                  \
        if (!real) real = (ret (*) params) dlsym(RTLD_NEXT, #name);     \
        if (failing(fd)) { errno = EIO; return -1; }                    \
        return real args;                                               \
    }

HOOK(write, ssize_t, (int fd, const void *b, size_t n), (fd, b, n))
HOOK(read, ssize_t, (int fd, void *b, size_t n), (fd, b, n))
HOOK(pwrite, ssize_t, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
HOOK(pread, ssize_t, (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
HOOK(pwrite64, ssize_t, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
HOOK(pread64, ssize_t, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o))
HOOK(fsync, int, (int fd), (fd))
HOOK(fdatasync, int, (int fd), (fd))
"#;

/// The library and its flag file.
#[derive(Debug, Clone)]
pub(crate) struct Eio {
    lib: PathBuf,
    flag: PathBuf,
}

impl Eio {
    /// Compiles the library into `dir` (with `cc`, or `$CC`). `Err` when no compiler works.
    pub(crate) fn build(dir: &Path) -> Result<Eio, SoakError> {
        std::fs::create_dir_all(dir)?;
        let src = dir.join("eio.c");
        let lib = dir.join("eio.so");
        std::fs::write(&src, SHIM_C)?;
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = std::process::Command::new(&cc)
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&lib)
            .arg(&src)
            .arg("-ldl")
            .output()
            .map_err(|e| SoakError::Process(format!("{cc}: {e}")))?;
        if !out.status.success() {
            return Err(SoakError::Process(format!(
                "{cc} could not build the I/O-error library: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(Eio { lib, flag: dir.join("eio.flag") })
    }

    /// Sets `command` up to fail I/O on files under `under` while the flag is raised.
    pub(crate) fn apply(&self, command: &mut tokio::process::Command, under: &Path) {
        // The library compares the descriptor's resolved path.
        let under = std::fs::canonicalize(under).unwrap_or_else(|_| under.to_owned());
        command.env("LD_PRELOAD", &self.lib).env("YANPEI_EIO_FLAG", &self.flag).env("YANPEI_EIO_DIR", under);
    }

    /// From now on, I/O under the directories fails.
    pub(crate) fn raise(&self) -> std::io::Result<()> {
        std::fs::write(&self.flag, b"EIO")
    }

    /// I/O works again.
    pub(crate) fn lower(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.flag) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
