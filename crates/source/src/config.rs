//! The image configuration (the OCI/Docker config blob), exposed as plain data.

use serde::{Deserialize, Serialize};

/// What the later stages need from the image configuration. Parsed leniently: unknown fields are
/// ignored and missing ones are empty, since real configs vary across builders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub architecture: String,
    pub os: String,
    pub variant: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `NAME=value` strings, in order.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    /// Docker's `Healthcheck.Test` (`["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]`; empty when
    /// the image has none): the engine runs it inside the container, under its seccomp profile.
    pub healthcheck: Vec<String>,
    /// Docker's `Shell` (the `SHELL` instruction), which Docker runs `CMD-SHELL` checks with.
    pub shell: Vec<String>,
    /// sha256 of each uncompressed layer, bottom first (`rootfs.diff_ids`).
    pub diff_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RawInner>,
    #[serde(default)]
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize, Default)]
struct RawInner {
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    working_dir: Option<String>,
    #[serde(rename = "User", default)]
    user: Option<String>,
    #[serde(rename = "Healthcheck", default)]
    healthcheck: Option<RawHealthcheck>,
    #[serde(rename = "Shell", default)]
    shell: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct RawHealthcheck {
    #[serde(rename = "Test", default)]
    test: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct RawRootfs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: RawConfig = serde_json::from_slice(bytes)?;
        let inner = raw.config.unwrap_or_default();
        Ok(ImageConfig {
            architecture: raw.architecture.unwrap_or_default(),
            os: raw.os.unwrap_or_default(),
            variant: raw.variant,
            entrypoint: inner.entrypoint.unwrap_or_default(),
            cmd: inner.cmd.unwrap_or_default(),
            env: inner.env.unwrap_or_default(),
            working_dir: inner.working_dir.unwrap_or_default(),
            user: inner.user.unwrap_or_default(),
            healthcheck: inner.healthcheck.and_then(|h| h.test).unwrap_or_default(),
            shell: inner.shell.unwrap_or_default(),
            diff_ids: raw.rootfs.unwrap_or_default().diff_ids,
        })
    }

    /// The value of an environment variable of the config, if set.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    }

    /// `PATH` as the container sees it: the config's, else the runtime's default.
    pub fn path_dirs(&self) -> Vec<String> {
        let path = self.env_var("PATH").unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The command lines the container engine may run as the health check (none for `NONE` or
    /// no check): `CMD` runs its arguments; `CMD-SHELL` runs its string with `/bin/sh -c`
    /// (podman) or with the config's `Shell` (Docker), both when they differ.
    pub fn health_commands(&self) -> Vec<Vec<String>> {
        let Some((kind, rest)) = self.healthcheck.split_first() else {
            return Vec::new();
        };
        match kind.as_str() {
            "CMD" if !rest.is_empty() => vec![rest.to_vec()],
            "CMD-SHELL" if !rest.is_empty() => {
                let script = rest.join(" ");
                let mut shells = vec![vec!["/bin/sh".to_string(), "-c".to_string()]];
                if !self.shell.is_empty() && self.shell != shells[0] {
                    shells.push(self.shell.clone());
                }
                shells
                    .into_iter()
                    .map(|mut argv| {
                        argv.push(script.clone());
                        argv
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The working directory, `/` when unset.
    pub fn working_dir_or_root(&self) -> &str {
        if self.working_dir.is_empty() {
            "/"
        } else {
            &self.working_dir
        }
    }
}

/// The PATH that runc/podman and Docker give a container whose config sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_podman_config_and_reads_env() {
        let json = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin","LD_LIBRARY_PATH=/opt/lib","X=a=b"],"Cmd":["nginx"],"WorkingDir":"/data"},"rootfs":{"type":"layers","diff_ids":["sha256:00"]},"history":[]}"#;
        let c = ImageConfig::parse(json).unwrap();
        assert_eq!(c.architecture, "amd64");
        assert_eq!(c.cmd, ["nginx"]);
        assert_eq!(c.env_var("LD_LIBRARY_PATH"), Some("/opt/lib"));
        assert_eq!(c.env_var("X"), Some("a=b"));
        assert_eq!(c.env_var("P"), None);
        assert_eq!(c.path_dirs(), ["/usr/bin", "/bin"]);
        assert_eq!(c.working_dir_or_root(), "/data");
        assert_eq!(c.diff_ids, ["sha256:00"]);
    }

    #[test]
    fn health_checks_run_as_the_engine_runs_them() {
        let c = ImageConfig::parse(
            br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":30000000000},"Shell":["/bin/bash","-c"]}}"#,
        )
        .unwrap();
        assert_eq!(
            c.health_commands(),
            [
                vec!["/bin/sh", "-c", "curl -f http://localhost/ || exit 1"],
                vec!["/bin/bash", "-c", "curl -f http://localhost/ || exit 1"],
            ]
        );
        let c = ImageConfig::parse(
            br#"{"config":{"Healthcheck":{"Test":["CMD","/usr/bin/check","--quick"]}}}"#,
        )
        .unwrap();
        assert_eq!(c.health_commands(), [vec!["/usr/bin/check", "--quick"]]);
        for none in [
            &br#"{"config":{"Healthcheck":{"Test":["NONE"]}}}"#[..],
            br#"{"config":{"Healthcheck":{}}}"#,
            br#"{"config":{}}"#,
        ] {
            assert!(ImageConfig::parse(none)
                .unwrap()
                .health_commands()
                .is_empty());
        }
    }

    #[test]
    fn null_and_missing_fields_are_empty() {
        let c = ImageConfig::parse(br#"{"config":{"Entrypoint":null,"Cmd":null}}"#).unwrap();
        assert!(c.entrypoint.is_empty() && c.cmd.is_empty());
        assert_eq!(c.path_dirs().len(), 6);
    }
}
