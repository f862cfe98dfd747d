//! The pid file: written at start, removed at exit; a live process's file is refused
//! (Twisted's `checkPID`).

use std::path::{Path, PathBuf};

use torsion::application::daemon::process_exists;

/// A pid file this process wrote; dropping it removes the file.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id to `path`, unless it holds the id of a process that
    /// runs (a stale file is replaced).
    pub fn create(path: &Path) -> Result<PidFile, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => match text.trim().parse::<i32>() {
                Ok(pid) if pid != std::process::id() as i32 && process_exists(pid) => {
                    return Err(format!(
                        "pid file {shown}: process {pid} runs; is another torsiond running?"
                    ))
                }
                Ok(_) => {
                    tracing::info!(target: "torsiond", "pid file {shown}: removing a stale one")
                }
                Err(_) => return Err(format!("pid file {shown}: holds no process id; remove it")),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("pid file {shown}: {e}")),
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("write pid file {shown}: {e}"))?;
        Ok(PidFile {
            path: path.to_owned(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(target: "torsiond", "remove pid file {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_is_written_refused_while_alive_and_removed_on_drop() {
        let dir = std::env::temp_dir().join(format!("torsiond-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pid");
        // A stale file (pid 0 names no process) is replaced.
        std::fs::write(&path, "0\n").unwrap();
        let file = PidFile::create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        // Our parent runs: its pid in the file is refused.
        drop(file);
        assert!(!path.exists());
        let parent = std::os::unix::process::parent_id();
        std::fs::write(&path, format!("{parent}\n")).unwrap();
        let error = PidFile::create(&path).unwrap_err();
        assert!(error.contains(&format!("process {parent} runs")), "{error}");
        std::fs::write(&path, "garbage").unwrap();
        let error = PidFile::create(&path).unwrap_err();
        assert!(error.ends_with("holds no process id; remove it"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
