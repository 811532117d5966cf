//! The MCP clients `storypack setup` knows: where each one documents its config file, in
//! which format, under which key, and the storypack entry it gets. Sources (as of 2026):
//!
//! - Claude Code: <https://code.claude.com/docs/en/mcp> (`.mcp.json` at the project root,
//!   `~/.claude.json` for the user scope, both `mcpServers`).
//! - Cursor: <https://cursor.com/docs/mcp> (`.cursor/mcp.json`, `~/.cursor/mcp.json`,
//!   `mcpServers`).
//! - VS Code: <https://code.visualstudio.com/docs/copilot/reference/mcp-configuration>
//!   (`.vscode/mcp.json` or `mcp.json` in the user profile folder, top-level `servers`, JSONC).
//! - Codex: <https://developers.openai.com/codex/mcp> (`~/.codex/config.toml`, or
//!   `.codex/config.toml` of a trusted project, `[mcp_servers.NAME]`).
//! - Goose: <https://block.github.io/goose/docs/guides/config-files>
//!   (`~/.config/goose/config.yaml`, `extensions:`; user scope only).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::{Dirs, SetupError};

/// The server's name in every client config.
pub const SERVER_NAME: &str = "storypack";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    ClaudeCode,
    Cursor,
    Vscode,
    Codex,
    Goose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The plan root's own config, shared through the repository.
    Project,
    /// The user's config, for every project.
    User,
}

/// How a client reaches the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// The client starts the binary and speaks stdio.
    Stdio { command: String, args: Vec<String> },
    /// The client connects to a running `storypack serve --http`.
    Http { url: String },
}

impl Launch {
    /// An `http(s)://` URL, of at most 2,048 characters, without whitespace.
    pub(crate) fn http(url: &str) -> Result<Launch, SetupError> {
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() <= 2048
            && url.len() > "https://".len()
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(SetupError::Usage(format!(
                "--http: {:?} is not an http:// or https:// URL (for example \
                 http://127.0.0.1:8080/mcp)",
                url.chars().take(200).collect::<String>()
            )));
        }
        Ok(Launch::Http { url: url.into() })
    }
}

/// Whether a URL's host is a loopback name or address.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The file format of a client config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Strict JSON: no comments, no trailing commas (what the client itself reads).
    Json,
    /// JSON with comments and trailing commas (VS Code).
    Jsonc,
    Toml,
    Yaml,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Jsonc => "JSON with comments",
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
        }
    }
}

/// A client's config file and the table of servers in it.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub(crate) path: PathBuf,
    pub(crate) format: Format,
    /// The key holding the servers (`mcpServers`, `servers`, `mcp_servers`, `extensions`).
    pub(crate) table: &'static str,
}

/// The storypack entry: keys storypack owns (always set), keys it adds when absent, and
/// keys of the other transport it removes. Any other key a user added is kept.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) set: Vec<(&'static str, Value)>,
    pub(crate) defaults: Vec<(&'static str, Value)>,
    pub(crate) remove: Vec<&'static str>,
}

impl Entry {
    /// A new entry's keys in the order a person reads them: owned keys, then defaults.
    pub(crate) fn fresh_pairs(&self) -> Vec<(&'static str, Value)> {
        self.set.iter().chain(&self.defaults).cloned().collect()
    }

    /// The entry merged into what a config holds now (`None`: no entry yet).
    pub(crate) fn merged(&self, existing: Option<&Value>) -> Value {
        let mut map = match existing {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        for key in &self.remove {
            map.remove(*key);
        }
        for (key, value) in &self.set {
            map.insert((*key).to_string(), value.clone());
        }
        for (key, value) in &self.defaults {
            map.entry(key.to_string()).or_insert_with(|| value.clone());
        }
        Value::Object(map)
    }
}

impl Client {
    pub const ALL: [Client; 5] = [
        Client::ClaudeCode,
        Client::Cursor,
        Client::Vscode,
        Client::Codex,
        Client::Goose,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::Vscode => "vscode",
            Client::Codex => "codex",
            Client::Goose => "goose",
        }
    }

    /// Editors open the project, so its config is the default; Codex documents its user
    /// config first (a project's is read only once the project is trusted), Goose has no other.
    pub fn default_scope(self) -> Scope {
        match self {
            Client::ClaudeCode | Client::Cursor | Client::Vscode => Scope::Project,
            Client::Codex | Client::Goose => Scope::User,
        }
    }

    /// The scopes the client documents.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Client::Goose => &[Scope::User],
            _ => &[Scope::Project, Scope::User],
        }
    }

    /// Instruction files the client's agent reads, at the plan root.
    pub fn instruction_files(self) -> &'static [&'static str] {
        match self {
            Client::ClaudeCode => &["AGENTS.md", "CLAUDE.md"],
            _ => &["AGENTS.md"],
        }
    }

    pub(crate) fn location(
        self,
        scope: Scope,
        project: &Path,
        dirs: &Dirs,
    ) -> Result<Location, SetupError> {
        let (path, format, table) = match (self, scope) {
            (Client::ClaudeCode, Scope::Project) => {
                (project.join(".mcp.json"), Format::Json, "mcpServers")
            }
            (Client::ClaudeCode, Scope::User) => (
                dirs.claude_dir.join(".claude.json"),
                Format::Json,
                "mcpServers",
            ),
            (Client::Cursor, Scope::Project) => (
                project.join(".cursor").join("mcp.json"),
                Format::Json,
                "mcpServers",
            ),
            (Client::Cursor, Scope::User) => (
                dirs.home.join(".cursor").join("mcp.json"),
                Format::Json,
                "mcpServers",
            ),
            (Client::Vscode, Scope::Project) => (
                project.join(".vscode").join("mcp.json"),
                Format::Jsonc,
                "servers",
            ),
            (Client::Vscode, Scope::User) => (
                dirs.app_data.join("Code").join("User").join("mcp.json"),
                Format::Jsonc,
                "servers",
            ),
            (Client::Codex, Scope::Project) => (
                project.join(".codex").join("config.toml"),
                Format::Toml,
                "mcp_servers",
            ),
            (Client::Codex, Scope::User) => (
                dirs.codex_home.join("config.toml"),
                Format::Toml,
                "mcp_servers",
            ),
            (Client::Goose, Scope::User) => {
                let path = if cfg!(windows) {
                    dirs.app_data
                        .join("Block")
                        .join("goose")
                        .join("config")
                        .join("config.yaml")
                } else {
                    dirs.xdg_config.join("goose").join("config.yaml")
                };
                (path, Format::Yaml, "extensions")
            }
            (Client::Goose, Scope::Project) => {
                return Err(SetupError::Usage(
                    "--scope: goose reads extensions from the user config only; use --scope user"
                        .into(),
                ));
            }
        };
        Ok(Location {
            path,
            format,
            table,
        })
    }

    /// Every config location of the client that applies to this project.
    pub(crate) fn locations(self, project: &Path, dirs: &Dirs) -> Vec<Location> {
        self.scopes()
            .iter()
            .filter_map(|s| self.location(*s, project, dirs).ok())
            .collect()
    }

    pub(crate) fn entry(self, launch: &Launch) -> Entry {
        let mut e = Entry {
            set: Vec::new(),
            defaults: Vec::new(),
            remove: Vec::new(),
        };
        match (self, launch) {
            (Client::ClaudeCode | Client::Vscode, Launch::Stdio { command, args }) => {
                e.set = vec![
                    ("type", json!("stdio")),
                    ("command", json!(command)),
                    ("args", json!(args)),
                ];
                e.remove = vec!["url"];
            }
            (Client::ClaudeCode | Client::Vscode, Launch::Http { url }) => {
                e.set = vec![("type", json!("http")), ("url", json!(url))];
                e.remove = vec!["command", "args"];
            }
            (Client::Cursor | Client::Codex, Launch::Stdio { command, args }) => {
                e.set = vec![("command", json!(command)), ("args", json!(args))];
                e.remove = vec!["url"];
            }
            (Client::Cursor | Client::Codex, Launch::Http { url }) => {
                e.set = vec![("url", json!(url))];
                e.remove = vec!["command", "args"];
            }
            (Client::Goose, Launch::Stdio { command, args }) => {
                e.set = vec![
                    ("enabled", json!(true)),
                    ("type", json!("stdio")),
                    ("name", json!(SERVER_NAME)),
                    ("cmd", json!(command)),
                    ("args", json!(args)),
                ];
                e.defaults = goose_defaults();
                e.remove = vec!["uri"];
            }
            (Client::Goose, Launch::Http { url }) => {
                e.set = vec![
                    ("enabled", json!(true)),
                    ("type", json!("streamable_http")),
                    ("name", json!(SERVER_NAME)),
                    ("uri", json!(url)),
                ];
                e.defaults = goose_defaults();
                e.remove = vec!["cmd", "args"];
            }
        }
        e
    }
}

fn goose_defaults() -> Vec<(&'static str, Value)> {
    vec![
        (
            "description",
            json!("Sprint plan: next story, context packs, handoffs, gates"),
        ),
        ("timeout", json!(300)),
        ("envs", json!({})),
        ("env_keys", json!([])),
    ]
}

impl std::str::FromStr for Client {
    type Err = String;

    fn from_str(s: &str) -> Result<Client, String> {
        Client::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Client::ALL.iter().map(|c| c.name()).collect();
                format!("unknown client {s:?} (known: {})", names.join(", "))
            })
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "project" => Ok(Scope::Project),
            "user" => Ok(Scope::User),
            _ => Err(format!("unknown scope {s:?} (known: project, user)")),
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Project => "project",
            Scope::User => "user",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_told_from_others() {
        for url in [
            "http://127.0.0.1:8080/mcp",
            "http://localhost:8080/mcp",
            "http://[::1]:8080/mcp",
            "https://user@LOCALHOST/mcp",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://plans.internal:8080/mcp",
            "http://10.0.0.2/mcp",
            "http://localhost.evil.com/mcp",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(Launch::http("http://127.0.0.1:8080/mcp").is_ok());
        for bad in ["ftp://x", "127.0.0.1:8080", "http://", "http://a b"] {
            assert!(Launch::http(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn merging_keeps_user_keys_and_drops_the_other_transport() {
        let entry = Client::ClaudeCode.entry(&Launch::Stdio {
            command: "/bin/storypack".into(),
            args: vec!["serve".into()],
        });
        let existing = json!({"type": "http", "url": "http://x", "env": {"A": "1"}});
        let merged = entry.merged(Some(&existing));
        assert_eq!(
            merged,
            json!({"type": "stdio", "command": "/bin/storypack", "args": ["serve"], "env": {"A": "1"}})
        );
        assert_eq!(entry.merged(Some(&merged)), merged);
    }
}
