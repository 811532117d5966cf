//! `storypack doctor`: what a user checks when something does not work, one line per check,
//! each ok, warning or problem, with the fix. Problems make the command exit 1.
//!
//! The store is checked behind [`StoreTarget`]: today the plan's file store; a store given by
//! URL (`--store postgres://…`) becomes one more variant with its own reachability probe.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::clients::{Client, Location, SERVER_NAME};
use super::{Dirs, config_edit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    Problem,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked: `binary`, `plan`, `client`, `store`, `http`.
    pub check: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do about it (warnings and problems).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
    pub warnings: usize,
    pub problems: usize,
}

/// Where handoffs and claims are stored.
#[derive(Debug, Clone)]
pub enum StoreTarget {
    /// The embedded file store under `<plan>/.storypack/`.
    Files { plan: PathBuf },
    /// A store given by `--store` or `STORYPACK_STORE`: a `postgres://` URL or a folder.
    Spec { spec: String, plan: PathBuf },
}

/// What doctor looks at.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    pub plan: PathBuf,
    pub binary: PathBuf,
    pub version: &'static str,
    pub store: StoreTarget,
    /// The address `serve --http` is given, if the server is run over HTTP.
    pub http: Option<String>,
    /// The variable `serve --token-env` is given.
    pub token_env: Option<String>,
}

pub fn doctor(req: &DoctorRequest, dirs: &Dirs) -> DoctorReport {
    let mut checks = vec![Check {
        check: "binary",
        status: Status::Ok,
        message: format!("storypack {} at {}", req.version, req.binary.display()),
        fix: None,
    }];
    let plan = std::fs::canonicalize(&req.plan).unwrap_or_else(|_| req.plan.clone());
    checks.push(check_plan(&plan));
    checks.extend(check_clients(&plan, dirs));
    checks.push(check_store(&req.store));
    checks.push(check_http(req.http.as_deref(), req.token_env.as_deref()));
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    DoctorReport {
        warnings: count(Status::Warning),
        problems: count(Status::Problem),
        checks,
    }
}

fn problem(check: &'static str, message: String, fix: String) -> Check {
    Check {
        check,
        status: Status::Problem,
        message,
        fix: Some(fix),
    }
}

fn warning(check: &'static str, message: String, fix: String) -> Check {
    Check {
        check,
        status: Status::Warning,
        message,
        fix: Some(fix),
    }
}

fn ok(check: &'static str, message: String) -> Check {
    Check {
        check,
        status: Status::Ok,
        message,
        fix: None,
    }
}

fn check_plan(plan: &Path) -> Check {
    let app = match crate::app::App::open(plan) {
        Ok(app) => app,
        Err(e) => {
            return problem(
                "plan",
                format!("no plan at {}: {e}", plan.display()),
                "pass the plan root with --plan DIR, or start one with `storypack init DIR`".into(),
            );
        }
    };
    let lint = app.lint();
    let summary = format!(
        "{}: {} files, {} sprints, {} stories; lint: {} errors, {} warnings",
        plan.display(),
        lint.files,
        lint.sprints,
        lint.stories,
        lint.errors,
        lint.warnings
    );
    let fix = format!(
        "run `storypack lint --plan {}` and fix what it names",
        plan.display()
    );
    if lint.files == 0 {
        problem(
            "plan",
            format!("no plan documents under {}", plan.display()),
            "pass the plan root with --plan DIR, or start one with `storypack init DIR`".into(),
        )
    } else if lint.errors > 0 {
        problem("plan", summary, fix)
    } else if lint.warnings > 0 || lint.sprints == 0 {
        warning("plan", summary, fix)
    } else {
        ok("plan", summary)
    }
}

fn check_clients(plan: &Path, dirs: &Dirs) -> Vec<Check> {
    let mut checks = Vec::new();
    for client in Client::ALL {
        for location in client.locations(plan, dirs) {
            if let Some(c) = check_client(client, &location, plan) {
                checks.push(c);
            }
        }
    }
    if checks.is_empty() {
        checks.push(warning(
            "client",
            "no client config names storypack".into(),
            format!(
                "run `storypack setup CLIENT --plan {}` (CLIENT: claude-code, cursor, vscode, \
                 codex, goose)",
                plan.display()
            ),
        ));
    }
    checks
}

fn check_client(client: Client, location: &Location, plan: &Path) -> Option<Check> {
    let path = location.path.display();
    let scope = if location.path.starts_with(plan) {
        "project"
    } else {
        "user"
    };
    let rerun = format!(
        "run `storypack setup {client} --scope {scope} --plan {}`",
        plan.display()
    );
    let entry = match config_edit::read_entry(location) {
        Ok(Some(entry)) => entry,
        Ok(None) => return None,
        Err(reason) => {
            return Some(problem(
                "client",
                format!(
                    "{client}: {path} cannot be read as {}: {reason}",
                    location.format.name()
                ),
                format!("fix the file; {client} cannot read it either"),
            ));
        }
    };
    let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let off = entry.get("enabled").and_then(|v| v.as_bool()) == Some(false)
        || entry.get("disabled").and_then(|v| v.as_bool()) == Some(true);
    if off {
        return Some(warning(
            "client",
            format!("{client}: {path} names {SERVER_NAME} but disables it"),
            rerun,
        ));
    }
    if let Some(url) = text("url").or_else(|| text("uri")) {
        return Some(ok("client", format!("{client}: {path} connects to {url}")));
    }
    let Some(command) = text("command").or_else(|| text("cmd")) else {
        return Some(problem(
            "client",
            format!("{client}: {path} names {SERVER_NAME} with no command or URL"),
            rerun,
        ));
    };
    let binary = Path::new(&command);
    if !binary.is_absolute() {
        return Some(warning(
            "client",
            format!(
                "{client}: {path} runs `{command}`, not an absolute path: an editor started \
                 from a desktop often does not find it on PATH"
            ),
            rerun,
        ));
    }
    if !binary.is_file() {
        return Some(problem(
            "client",
            format!("{client}: {path} runs {command}, which does not exist"),
            rerun,
        ));
    }
    let served = entry
        .get("args")
        .and_then(|a| a.as_array())
        .and_then(|args| {
            args.iter()
                .skip_while(|a| a.as_str() != Some("--plan"))
                .nth(1)
                .and_then(|v| v.as_str())
                .map(PathBuf::from)
        });
    match served {
        // `${workspaceFolder}` and the like: the client fills it in.
        Some(p) if p.to_string_lossy().contains("${") => Some(ok(
            "client",
            format!(
                "{client}: {path} runs {command} on {} (the client fills it in)",
                p.display()
            ),
        )),
        Some(p) if !p.is_dir() => Some(problem(
            "client",
            format!(
                "{client}: {path} serves the plan {}, which is not a folder",
                p.display()
            ),
            rerun,
        )),
        Some(p) => Some(ok(
            "client",
            format!("{client}: {path} runs {command} on {}", p.display()),
        )),
        None => Some(ok(
            "client",
            format!("{client}: {path} runs {command} (plan: its working folder)"),
        )),
    }
}

fn check_store(target: &StoreTarget) -> Check {
    match target {
        StoreTarget::Files { plan } => {
            check_file_store(&plan.join(crate::handoff::store::HANDOFFS_DIR))
        }
        StoreTarget::Spec { spec, .. } if !crate::store::is_url(spec) => {
            check_file_store(&Path::new(spec).join(crate::handoff::store::HANDOFFS_DIR))
        }
        StoreTarget::Spec { spec, plan } => check_database(spec, plan),
    }
}

/// Connects (creating the schema on first use, as `serve` would) and reads the record.
/// Messages name the database without its password.
fn check_database(spec: &str, plan: &Path) -> Check {
    let fix = "check the URL in --store or STORYPACK_STORE, that the database is up and \
               reachable, and that the user may create tables in it"
        .to_string();
    let store = match crate::store::open(Some(spec), plan) {
        Ok(store) => store,
        Err(e) => return problem("store", e.to_string(), fix),
    };
    match (store.list(None), store.claim_events(None)) {
        (Ok(records), Ok(claims)) => ok(
            "store",
            format!(
                "database {} answers: {} handoff records, {} claim events",
                store.describe(),
                records.len(),
                claims.len()
            ),
        ),
        (Err(e), _) | (_, Err(e)) => {
            problem("store", format!("database {}: {e}", store.describe()), fix)
        }
    }
}

/// The folder exists and takes a new file, or the nearest existing folder above it does.
fn check_file_store(dir: &Path) -> Check {
    let fix = format!(
        "make {} writable by the user that runs storypack",
        dir.display()
    );
    let mut probe_dir = dir;
    while !probe_dir.exists() {
        match probe_dir.parent() {
            Some(p) => probe_dir = p,
            None => break,
        }
    }
    if !probe_dir.is_dir() {
        return problem(
            "store",
            format!(
                "file store {}: {} is not a folder",
                dir.display(),
                probe_dir.display()
            ),
            fix,
        );
    }
    if probe_dir == dir
        && let Err(e) = std::fs::read_dir(dir)
    {
        return problem(
            "store",
            format!("file store {}: cannot be read: {e}", dir.display()),
            fix,
        );
    }
    match tempfile::Builder::new()
        .prefix(".storypack-doctor-")
        .tempfile_in(probe_dir)
    {
        Ok(_) if probe_dir == dir => {
            ok("store", format!("file store {} is writable", dir.display()))
        }
        Ok(_) => ok(
            "store",
            format!(
                "file store {} will be created on the first record",
                dir.display()
            ),
        ),
        Err(e) => problem(
            "store",
            format!(
                "file store {}: cannot write in {}: {e}",
                dir.display(),
                probe_dir.display()
            ),
            fix,
        ),
    }
}

/// Off loopback, `serve --http` needs a bearer token; the check mirrors serve's own refusal.
fn check_http(addr: Option<&str>, token_env: Option<&str>) -> Check {
    let Some(addr) = addr else {
        return ok(
            "http",
            "stdio only (pass --http ADDR [--token-env VAR] as given to serve to check HTTP)"
                .into(),
        );
    };
    let host = if addr.parse::<u16>().is_ok() {
        "127.0.0.1".to_string()
    } else if let Ok(sa) = addr.parse::<std::net::SocketAddr>() {
        sa.ip().to_string()
    } else {
        addr.rsplit_once(':')
            .map_or(addr, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_string()
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return ok("http", format!("{addr} is loopback: no token needed"));
    }
    let fix = "export a token (`export STORYPACK_TOKEN=$(openssl rand -hex 32)`) and pass \
               `--token-env STORYPACK_TOKEN` to serve and to doctor"
        .to_string();
    match token_env {
        None => problem(
            "http",
            format!("{addr} is not loopback and no --token-env is given: serve refuses to start"),
            fix,
        ),
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() && v.trim() == v => ok(
                "http",
                format!("{addr} is not loopback; the bearer token is set in {var}"),
            ),
            Ok(_) => problem(
                "http",
                format!("{addr}: {var} is empty or has whitespace around it"),
                fix,
            ),
            Err(_) => problem("http", format!("{addr}: {var} is not set"), fix),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::clients::Format;

    fn client_check(json: &str) -> Check {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        std::fs::write(&path, json).unwrap();
        let location = Location {
            path,
            format: Format::Jsonc,
            table: "servers",
        };
        check_client(Client::Vscode, &location, dir.path()).unwrap()
    }

    #[test]
    fn client_entries_are_judged_by_what_they_launch() {
        let exe = std::env::current_exe().unwrap();
        let exe = exe.to_string_lossy().replace('\\', "/");
        let with = |args: &str| {
            format!(
                "{{ \"servers\": {{ \"storypack\": {{ \"command\": \"{exe}\", \"args\": {args} }} }} }}"
            )
        };
        let ws = client_check(&with(r#"["serve", "--plan", "${workspaceFolder}"]"#));
        assert_eq!(ws.status, Status::Ok, "{ws:?}");
        let gone = client_check(&with(r#"["serve", "--plan", "/no/such/plan"]"#));
        assert_eq!(gone.status, Status::Problem, "{gone:?}");
        let bare = client_check(r#"{ "servers": { "storypack": { "command": "storypack" } } }"#);
        assert_eq!(bare.status, Status::Warning, "{bare:?}");
        let off = client_check(&format!(
            "{{ \"servers\": {{ \"storypack\": {{ \"command\": \"{exe}\", \"disabled\": true }} }} }}"
        ));
        assert_eq!(off.status, Status::Warning, "{off:?}");
    }

    #[test]
    fn http_off_loopback_needs_a_token() {
        assert_eq!(check_http(Some("8080"), None).status, Status::Ok);
        assert_eq!(check_http(Some("127.0.0.1:8080"), None).status, Status::Ok);
        assert_eq!(check_http(Some("localhost:8080"), None).status, Status::Ok);
        assert_eq!(
            check_http(Some("0.0.0.0:8080"), None).status,
            Status::Problem
        );
        assert_eq!(
            check_http(
                Some("0.0.0.0:8080"),
                Some("STORYPACK_DOCTOR_TEST_UNSET_VAR")
            )
            .status,
            Status::Problem
        );
    }
}
