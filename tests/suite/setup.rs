//! Onboarding through the real binary: `setup CLIENT` for every client (fresh config, config
//! with other servers, second run, unparsable config), the AGENTS.md block, `init` then
//! `lint`/`next`/`pack`/`gate`, and `doctor` on a healthy and a broken setup. The home and
//! config folders are temporary (HOME, XDG_CONFIG_HOME, CODEX_HOME are set for the child), so
//! the real ones are never touched. Written configs are read back with a real parser of their
//! format: serde_json, jsonc-parser, toml, saphyr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::util::{stderr, stdout};

/// A temporary home and plan root.
struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    plan: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let plan = tmp.path().join("plan");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&plan).unwrap();
        // Canonical, as setup writes them (macOS tmp is a symlink).
        let home = std::fs::canonicalize(home).unwrap();
        let plan = std::fs::canonicalize(plan).unwrap();
        Env {
            _tmp: tmp,
            home,
            plan,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_storypack"))
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("CODEX_HOME", self.home.join(".codex"))
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("APPDATA")
            .env_remove("STORYPACK_LOG")
            .output()
            .unwrap()
    }

    fn setup(&self, client: &str, scope: &str) -> Output {
        let plan = self.plan.to_string_lossy().into_owned();
        self.run(&["setup", client, "--scope", scope, "--plan", &plan])
    }
}

fn binary() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_storypack"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[derive(Clone, Copy, Debug)]
enum Fmt {
    Json,
    Jsonc,
    Toml,
    Yaml,
}

/// One client and scope: where its config is, its format, its table, and a config holding
/// another server (with comments where the format allows) whose text must survive.
struct Case {
    client: &'static str,
    scope: &'static str,
    path: fn(&Env) -> PathBuf,
    fmt: Fmt,
    table: &'static str,
    command_key: &'static str,
    other: &'static str,
    /// Text of `other` that must be kept byte for byte.
    kept: &'static [&'static str],
}

const JSON_OTHER: &str = "{\n  \"numStartups\": 12,\n  \"mcpServers\": {\n    \"github\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"]\n    }\n  }\n}\n";
const JSON_KEPT: &[&str] = &[
    "{\n  \"numStartups\": 12,\n  \"mcpServers\": {\n    \"github\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-github\"]\n    },\n",
];
const JSONC_OTHER: &str = "{\n  // Servers for this workspace\n  \"servers\": {\n    \"github\": {\n      \"type\": \"http\",\n      \"url\": \"https://api.githubcopilot.com/mcp/\", // remote\n    },\n  },\n  \"inputs\": [],\n}\n";
const JSONC_KEPT: &[&str] = &[
    "{\n  // Servers for this workspace\n  \"servers\": {\n    \"github\": {\n      \"type\": \"http\",\n      \"url\": \"https://api.githubcopilot.com/mcp/\", // remote\n    },\n",
    "  \"inputs\": [],\n}\n",
];
const TOML_OTHER: &str = "# Codex settings\nmodel = \"o3\" # default model\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\nargs = [\"--stdio\"] # keep me\n\n[profiles.fast]\nmodel = \"o4-mini\"\n";
const TOML_KEPT: &[&str] = &[
    "# Codex settings\nmodel = \"o3\" # default model\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\nargs = [\"--stdio\"] # keep me\n\n",
    "\n[profiles.fast]\nmodel = \"o4-mini\"\n",
];
const YAML_OTHER: &str = "# goose settings\nGOOSE_PROVIDER: openai # the provider\nGOOSE_MODEL: gpt-4o\nextensions:\n  developer:\n    bundled: true\n    enabled: true # always on\n    name: developer\n    timeout: 300\n    type: builtin\n";
const YAML_KEPT: &[&str] = &[YAML_OTHER];

fn cases() -> Vec<Case> {
    vec![
        Case {
            client: "claude-code",
            scope: "project",
            path: |e| e.plan.join(".mcp.json"),
            fmt: Fmt::Json,
            table: "mcpServers",
            command_key: "command",
            other: JSON_OTHER,
            kept: JSON_KEPT,
        },
        Case {
            client: "claude-code",
            scope: "user",
            path: |e| e.home.join(".claude.json"),
            fmt: Fmt::Json,
            table: "mcpServers",
            command_key: "command",
            other: JSON_OTHER,
            kept: JSON_KEPT,
        },
        Case {
            client: "cursor",
            scope: "project",
            path: |e| e.plan.join(".cursor/mcp.json"),
            fmt: Fmt::Json,
            table: "mcpServers",
            command_key: "command",
            other: JSON_OTHER,
            kept: JSON_KEPT,
        },
        Case {
            client: "cursor",
            scope: "user",
            path: |e| e.home.join(".cursor/mcp.json"),
            fmt: Fmt::Json,
            table: "mcpServers",
            command_key: "command",
            other: JSON_OTHER,
            kept: JSON_KEPT,
        },
        Case {
            client: "vscode",
            scope: "project",
            path: |e| e.plan.join(".vscode/mcp.json"),
            fmt: Fmt::Jsonc,
            table: "servers",
            command_key: "command",
            other: JSONC_OTHER,
            kept: JSONC_KEPT,
        },
        Case {
            client: "vscode",
            scope: "user",
            path: |e| {
                if cfg!(target_os = "macos") {
                    e.home
                        .join("Library/Application Support/Code/User/mcp.json")
                } else {
                    e.home.join(".config/Code/User/mcp.json")
                }
            },
            fmt: Fmt::Jsonc,
            table: "servers",
            command_key: "command",
            other: JSONC_OTHER,
            kept: JSONC_KEPT,
        },
        Case {
            client: "codex",
            scope: "user",
            path: |e| e.home.join(".codex/config.toml"),
            fmt: Fmt::Toml,
            table: "mcp_servers",
            command_key: "command",
            other: TOML_OTHER,
            kept: TOML_KEPT,
        },
        Case {
            client: "codex",
            scope: "project",
            path: |e| e.plan.join(".codex/config.toml"),
            fmt: Fmt::Toml,
            table: "mcp_servers",
            command_key: "command",
            other: TOML_OTHER,
            kept: TOML_KEPT,
        },
        Case {
            client: "goose",
            scope: "user",
            path: |e| e.home.join(".config/goose/config.yaml"),
            fmt: Fmt::Yaml,
            table: "extensions",
            command_key: "cmd",
            other: YAML_OTHER,
            kept: YAML_KEPT,
        },
    ]
}

/// The file read back with a real parser of its format, as JSON.
fn parse(fmt: Fmt, text: &str) -> Value {
    match fmt {
        Fmt::Json => serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}")),
        Fmt::Jsonc => {
            let opts = jsonc_parser::ParseOptions {
                allow_loose_object_property_names: false,
                allow_missing_commas: false,
                allow_single_quoted_strings: false,
                ..Default::default()
            };
            jsonc_parser::parse_to_serde_value(text, &opts)
                .unwrap_or_else(|e| panic!("{e}:\n{text}"))
        }
        Fmt::Toml => {
            let t: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
            serde_json::to_value(t).unwrap()
        }
        Fmt::Yaml => {
            use saphyr::LoadableYamlNode;
            let docs = saphyr::Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
            assert_eq!(docs.len(), 1, "{text}");
            yaml_json(&docs[0])
        }
    }
}

fn yaml_json(y: &saphyr::Yaml) -> Value {
    use saphyr::{Scalar, Yaml};
    match y {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Sequence(s) => Value::Array(s.iter().map(yaml_json).collect()),
        Yaml::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), yaml_json(v)))
                .collect(),
        ),
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// The storypack entry launches this binary on this plan.
fn assert_entry(case: &Case, env: &Env, doc: &Value) {
    let entry = &doc[case.table]["storypack"];
    assert_eq!(entry[case.command_key], binary(), "{}: {doc}", case.client);
    let plan = env.plan.to_string_lossy();
    assert_eq!(
        entry["args"],
        serde_json::json!(["serve", "--plan", plan]),
        "{}: {doc}",
        case.client
    );
}

#[test]
fn setup_writes_a_fresh_config_for_every_client() {
    for case in cases() {
        let env = Env::new();
        let out = env.setup(case.client, case.scope);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            case.client,
            stderr(&out)
        );
        let path = (case.path)(&env);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} {}: {e}", case.client, path.display()));
        assert!(
            stdout(&out).contains(&format!("created: {}", path.display())),
            "{}",
            stdout(&out)
        );
        assert_entry(&case, &env, &parse(case.fmt, &text));
        if case.client == "goose" {
            let doc = parse(case.fmt, &text);
            assert_eq!(doc["extensions"]["storypack"]["enabled"], true);
            assert_eq!(doc["extensions"]["storypack"]["type"], "stdio");
        }
    }
}

#[test]
fn setup_keeps_other_servers_and_comments_and_a_second_run_changes_nothing() {
    for case in cases() {
        let env = Env::new();
        let path = (case.path)(&env);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, case.other).unwrap();
        let before = parse(case.fmt, case.other);

        let out = env.setup(case.client, case.scope);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            case.client,
            stderr(&out)
        );
        let text = std::fs::read_to_string(&path).unwrap();
        for kept in case.kept {
            assert!(
                text.contains(kept),
                "{} lost {kept:?}:\n{text}",
                case.client
            );
        }
        let after = parse(case.fmt, &text);
        assert_entry(&case, &env, &after);
        // Everything but the new entry is what was there.
        let mut stripped = after.clone();
        stripped[case.table]
            .as_object_mut()
            .unwrap()
            .remove("storypack");
        assert_eq!(stripped, before, "{}:\n{text}", case.client);

        let again = env.setup(case.client, case.scope);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{}",
            case.client
        );
        assert!(
            stdout(&again).contains(&format!("unchanged: {}", path.display())),
            "{}",
            stdout(&again)
        );
    }
}

#[test]
fn setup_leaves_an_unparsable_config_untouched_and_exits_2() {
    let broken = |fmt: Fmt| match fmt {
        Fmt::Json => "{\n  \"mcpServers\": {\n    \"github\": { \"command\": \"npx\" },,\n",
        // A comment is fine in JSONC; a missing comma is not.
        Fmt::Jsonc => "{\n  // mine\n  \"servers\": { \"a\": {} \"b\": {} }\n}\n",
        Fmt::Toml => "model = \"o3\"\n[mcp_servers.docs\ncommand = \"x\"\n",
        Fmt::Yaml => "extensions:\n  developer: [unclosed\n  other: x\n",
    };
    for case in cases() {
        let env = Env::new();
        let path = (case.path)(&env);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = broken(case.fmt);
        std::fs::write(&path, text).unwrap();
        let out = env.setup(case.client, case.scope);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            case.client,
            stdout(&out)
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{}",
            case.client
        );
        let err = stderr(&out);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("left untouched"), "{err}");
        // Nothing else was written either.
        assert!(!env.plan.join("AGENTS.md").exists(), "{}", case.client);
    }
}

#[test]
fn strict_json_clients_refuse_comments_their_client_would_refuse() {
    let env = Env::new();
    let path = env.plan.join(".mcp.json");
    let text = "{\n  // a comment\n  \"mcpServers\": {}\n}\n";
    std::fs::write(&path, text).unwrap();
    let out = env.setup("claude-code", "project");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn setup_updates_a_stale_entry_and_keeps_its_other_keys() {
    let env = Env::new();
    let path = env.plan.join(".mcp.json");
    let text = "{\n  \"mcpServers\": {\n    \"storypack\": {\n      \"command\": \"/old/bin/storypack\",\n      \"args\": [\"serve\"],\n      \"env\": { \"STORYPACK_LOG\": \"info\" }\n    }\n  }\n}\n";
    std::fs::write(&path, text).unwrap();
    let out = env.setup("claude-code", "project");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = &doc["mcpServers"]["storypack"];
    assert_eq!(entry["command"], binary());
    assert_eq!(entry["env"]["STORYPACK_LOG"], "info");
    assert!(stdout(&out).contains("updated:"), "{}", stdout(&out));
}

#[test]
fn setup_print_shows_and_writes_nothing() {
    let env = Env::new();
    let plan = env.plan.to_string_lossy().into_owned();
    let out = env.run(&["setup", "codex", "--print", "--plan", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("[mcp_servers.storypack]"), "{text}");
    assert!(text.contains("would create"), "{text}");
    assert!(!env.home.join(".codex/config.toml").exists());
    assert!(!env.plan.join("AGENTS.md").exists());
}

#[test]
fn setup_over_http_writes_the_url() {
    let env = Env::new();
    let plan = env.plan.to_string_lossy().into_owned();
    let out = env.run(&[
        "setup",
        "vscode",
        "--http",
        "http://127.0.0.1:8080/mcp",
        "--plan",
        &plan,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(env.plan.join(".vscode/mcp.json")).unwrap();
    let doc = parse(Fmt::Jsonc, &text);
    assert_eq!(
        doc["servers"]["storypack"],
        serde_json::json!({"type": "http", "url": "http://127.0.0.1:8080/mcp"})
    );
    let bad = env.run(&[
        "setup",
        "vscode",
        "--http",
        "127.0.0.1:8080",
        "--plan",
        &plan,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--http"), "{}", stderr(&bad));
}

#[test]
fn goose_has_no_project_scope() {
    let env = Env::new();
    let out = env.setup("goose", "project");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--scope"), "{}", stderr(&out));
}

#[test]
fn agents_block_is_written_once_and_replaced_not_duplicated() {
    let env = Env::new();
    let agents = env.plan.join("AGENTS.md");
    let old_block = "<!-- storypack:begin -->\nan older block\n<!-- storypack:end -->\n";
    std::fs::write(
        &agents,
        format!("# Team rules\n\nBe kind.\n\n{old_block}\n## More\n"),
    )
    .unwrap();

    for _ in 0..2 {
        let out = env.setup("claude-code", "project");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let text = std::fs::read_to_string(&agents).unwrap();
    assert_eq!(text.matches("<!-- storypack:begin").count(), 1, "{text}");
    assert_eq!(text.matches("<!-- storypack:end").count(), 1, "{text}");
    assert!(text.starts_with("# Team rules\n\nBe kind.\n\n"), "{text}");
    assert!(
        text.ends_with("<!-- storypack:end -->\n\n## More\n"),
        "{text}"
    );
    assert!(!text.contains("an older block"));
    assert!(
        text.contains("next_story") && text.contains("record_handoff"),
        "{text}"
    );

    // Claude Code also reads CLAUDE.md; other clients only AGENTS.md.
    let claude = std::fs::read_to_string(env.plan.join("CLAUDE.md")).unwrap();
    assert_eq!(claude.matches("<!-- storypack:begin").count(), 1);
    let other = Env::new();
    assert_eq!(other.setup("cursor", "project").status.code(), Some(0));
    assert!(other.plan.join("AGENTS.md").exists());
    assert!(!other.plan.join("CLAUDE.md").exists());
}

fn plan_str(env: &Env) -> String {
    env.plan.to_string_lossy().into_owned()
}

#[test]
fn init_makes_a_plan_that_lints_clean_and_answers_next_pack_and_gate() {
    let env = Env::new();
    let plan = plan_str(&env);
    let out = env.run(&["init", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let lint = env.run(&["lint", "--plan", &plan]);
    assert_eq!(lint.status.code(), Some(0), "{}", stdout(&lint));
    assert!(
        stdout(&lint)
            .trim_end()
            .ends_with("1 sprints, 2 stories: 0 errors, 0 warnings, 0 notes"),
        "{}",
        stdout(&lint)
    );

    let next = env.run(&["--json", "next", "--plan", &plan]);
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    let v: Value = serde_json::from_slice(&next.stdout).unwrap();
    assert_eq!(v["story"]["id"], "APP-01-01", "{v}");

    let pack = env.run(&["pack", "APP-01-01", "--plan", &plan]);
    assert_eq!(pack.status.code(), Some(0), "{}", stderr(&pack));
    assert!(
        stdout(&pack).contains("Serve the first endpoint"),
        "{}",
        stdout(&pack)
    );

    let gate = env.run(&["--json", "gate", "01", "--plan", &plan]);
    // Not passed yet (its evidence does not exist), but answered.
    assert_eq!(gate.status.code(), Some(1), "{}", stderr(&gate));
    let g: Value = serde_json::from_slice(&gate.stdout).unwrap();
    assert_eq!(g["gate"], "First slice gate");
    assert_eq!(g["items"].as_array().unwrap().len(), 2, "{g}");

    let sprints = env.run(&["--json", "sprints", "--plan", &plan]);
    let s: Value = serde_json::from_slice(&sprints.stdout).unwrap();
    let sprint = &s["sprints"][0];
    assert_eq!(sprint["epics"], serde_json::json!(["F1-E1"]));
    assert!(
        sprint["start"].is_string() && sprint["end"].is_string(),
        "{sprint}"
    );
    assert!(
        sprint["roles"]["backend-engineer"]["mission_focus"].is_string(),
        "{sprint}"
    );
}

#[test]
fn init_refuses_to_overwrite() {
    let env = Env::new();
    let plan = plan_str(&env);
    std::fs::write(env.plan.join("storypack.toml"), "# mine\n").unwrap();
    let out = env.run(&["init", &plan]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("storypack.toml"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.plan.join("storypack.toml")).unwrap(),
        "# mine\n"
    );
    assert!(!env.plan.join("docs").exists(), "nothing else is written");
}

fn doctor(env: &Env, extra: &[&str]) -> (Option<i32>, String) {
    let plan = plan_str(env);
    let mut args = vec!["doctor", "--plan", &plan];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    (out.status.code(), stdout(&out))
}

#[test]
fn doctor_on_a_healthy_setup_reports_no_problem() {
    let env = Env::new();
    let plan = plan_str(&env);
    assert_eq!(env.run(&["init", &plan]).status.code(), Some(0));
    assert_eq!(env.setup("claude-code", "project").status.code(), Some(0));
    assert_eq!(env.setup("goose", "user").status.code(), Some(0));

    let (code, text) = doctor(&env, &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("problem "), "{text}");
    assert!(
        text.contains(&format!("storypack {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("0 errors, 0 warnings"), "{text}");
    assert!(
        text.contains(&format!(
            "claude-code: {}",
            env.plan.join(".mcp.json").display()
        )),
        "{text}"
    );
    assert!(text.contains("goose: "), "{text}");
    assert!(text.contains("file store"), "{text}");
    assert!(
        text.trim_end().ends_with("0 problems, 0 warnings"),
        "{text}"
    );
}

#[test]
fn doctor_on_a_broken_setup_names_each_problem_and_its_fix() {
    let env = Env::new();
    let plan = plan_str(&env);
    assert_eq!(env.run(&["init", &plan]).status.code(), Some(0));
    // A story depending on one that does not exist: a lint error.
    let backlog = env
        .plan
        .join("docs/03-backlog/sprint-01-backend-engineer.md");
    let text = std::fs::read_to_string(&backlog).unwrap();
    std::fs::write(
        &backlog,
        text.replace("Depends on: APP-01-01", "Depends on: APP-09-09"),
    )
    .unwrap();
    // A config naming a binary that is gone.
    std::fs::write(
        env.plan.join(".mcp.json"),
        "{ \"mcpServers\": { \"storypack\": { \"command\": \"/gone/storypack\", \"args\": [\"serve\"] } } }",
    )
    .unwrap();
    // A config that does not parse.
    let cursor = env.home.join(".cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(&cursor, "{ nope").unwrap();

    let (code, text) = doctor(&env, &["--http", "0.0.0.0:8080"]);
    assert_eq!(code, Some(1), "{text}");
    for expected in [
        "problem plan",
        "1 errors",
        "problem client claude-code",
        "/gone/storypack, which does not exist",
        "fix:   run `storypack setup claude-code --scope project",
        "problem client cursor",
        "problem http",
        "--token-env",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }

    // With the token set, the HTTP line is fine.
    let out = Command::new(env!("CARGO_BIN_EXE_storypack"))
        .args([
            "doctor",
            "--plan",
            &plan,
            "--http",
            "0.0.0.0:8080",
            "--token-env",
            "SP_DOCTOR_TOKEN",
        ])
        .env("HOME", &env.home)
        .env("XDG_CONFIG_HOME", env.home.join(".config"))
        .env("CODEX_HOME", env.home.join(".codex"))
        .env("SP_DOCTOR_TOKEN", "s3cret")
        .output()
        .unwrap();
    assert!(stdout(&out).contains("ok      http"), "{}", stdout(&out));
    assert!(
        !stdout(&out).contains("s3cret"),
        "the token is never printed"
    );
}

#[test]
fn doctor_json_has_a_line_per_check() {
    let env = Env::new();
    let plan = plan_str(&env);
    let out = env.run(&["--json", "doctor", "--plan", &plan]);
    // An empty folder is no plan: a problem.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    for c in checks {
        for key in ["check", "status", "message"] {
            assert!(c.get(key).is_some(), "{c}");
        }
    }
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "client" && c["status"] == "warning"),
        "{v}"
    );
}

#[test]
fn concurrent_setups_never_lose_an_entry_or_corrupt_a_file() {
    let env = Env::new();
    let path = env.home.join(".claude.json");
    std::fs::write(&path, JSON_OTHER).unwrap();
    let plan = plan_str(&env);
    let children: Vec<_> = (0..6)
        .map(|i| {
            // Half of them Claude Code (the user config and AGENTS.md/CLAUDE.md), half
            // Cursor (its own config, and AGENTS.md too): every file has racing writers.
            let client = if i % 2 == 0 { "claude-code" } else { "cursor" };
            Command::new(env!("CARGO_BIN_EXE_storypack"))
                .args(["setup", client, "--scope", "user", "--plan", &plan])
                .env("HOME", &env.home)
                .env("XDG_CONFIG_HOME", env.home.join(".config"))
                .env("CODEX_HOME", env.home.join(".codex"))
                .env_remove("CLAUDE_CONFIG_DIR")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        // A writer that lost a race is refused with a clear message, never half-applied.
        match out.status.code() {
            Some(0) => {}
            Some(2) => assert!(
                stderr(&out).contains("run the command again"),
                "{}",
                stderr(&out)
            ),
            other => panic!("exit {other:?}: {}", stderr(&out)),
        }
    }
    // Whoever won, a rerun completes the setup and every file is whole.
    for client in ["claude-code", "cursor"] {
        let out = env.run(&["setup", client, "--scope", "user", "--plan", &plan]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let doc = parse(Fmt::Json, &std::fs::read_to_string(&path).unwrap());
    assert_eq!(doc["mcpServers"]["github"]["command"], "npx");
    assert_eq!(doc["mcpServers"]["storypack"]["command"], binary());
    let agents = std::fs::read_to_string(env.plan.join("AGENTS.md")).unwrap();
    assert_eq!(
        agents.matches("<!-- storypack:begin").count(),
        1,
        "{agents}"
    );
}

#[test]
fn a_killed_setup_leaves_the_old_config_or_the_new_one_never_a_mix() {
    let env = Env::new();
    let path = env.home.join(".codex/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let plan = plan_str(&env);
    // The text a completed run writes.
    std::fs::write(&path, TOML_OTHER).unwrap();
    assert_eq!(env.setup("codex", "user").status.code(), Some(0));
    let complete = std::fs::read_to_string(&path).unwrap();
    for i in 0..30u64 {
        std::fs::write(&path, TOML_OTHER).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_storypack"))
            .args(["setup", "codex", "--plan", &plan])
            .env("HOME", &env.home)
            .env("CODEX_HOME", env.home.join(".codex"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(i * 300));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now == TOML_OTHER || now == complete, "run {i} left:\n{now}");
    }
}

#[cfg(unix)]
#[test]
fn new_plan_files_are_readable_by_all_and_user_configs_by_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let plan = plan_str(&env);
    assert_eq!(env.run(&["init", &plan]).status.code(), Some(0));
    assert_eq!(env.setup("cursor", "project").status.code(), Some(0));
    assert_eq!(env.setup("cursor", "user").status.code(), Some(0));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.plan.join("storypack.toml")), 0o644);
    assert_eq!(mode(&env.plan.join("AGENTS.md")), 0o644);
    assert_eq!(mode(&env.plan.join(".cursor/mcp.json")), 0o644);
    assert_eq!(mode(&env.home.join(".cursor/mcp.json")), 0o600);
    // An edited file keeps its own.
    let mcp = env.plan.join(".cursor/mcp.json");
    std::fs::set_permissions(&mcp, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(&mcp, JSON_OTHER).unwrap();
    assert_eq!(env.setup("cursor", "project").status.code(), Some(0));
    assert_eq!(mode(&mcp), 0o640);
}

/// Text output with this run's folders and binary replaced by names.
fn redact(env: &Env, text: &str) -> String {
    text.replace(&binary(), "[BIN]")
        .replace(&*env.plan.to_string_lossy(), "[PLAN]")
        .replace(&*env.home.to_string_lossy(), "[HOME]")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

#[test]
fn setup_and_doctor_text() {
    let env = Env::new();
    let plan = plan_str(&env);
    assert_eq!(env.run(&["init", &plan]).status.code(), Some(0));
    let print = env.run(&["setup", "cursor", "--print", "--plan", &plan]);
    insta::assert_snapshot!("setup_print", redact(&env, &stdout(&print)));
    assert_eq!(env.setup("codex", "user").status.code(), Some(0));
    let (code, text) = doctor(&env, &["--http", "8080"]);
    assert_eq!(code, Some(0), "{text}");
    insta::assert_snapshot!("doctor_healthy", redact(&env, &text));
}
