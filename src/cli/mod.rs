//! clap commands over the library facade. Translation only: parse flags, call `App`, print
//! text or JSON, pick the exit code (0 ok, 1 a check failed, 2 usage or I/O error).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

mod onboarding;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use storypack::app::{self, App};
use storypack::pack::{self, PackRequest};
use storypack::priorities::{PriorityQuery, StoryFilter};
use storypack::render;

#[derive(Parser, Debug)]
#[command(
    name = "storypack",
    version,
    about = "Sprint-plan markdown -> priorities, stories and plan diagnostics for AI coding agents"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// The plan root (the folder holding docs/ and storypack.toml).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    plan: PathBuf,
    /// Print the structured result as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Where handoffs and claims are recorded: postgres://user:password@host/db (a team's
    /// shared database) or a plan folder. Default: $STORYPACK_STORE, else the plan's
    /// .storypack/.
    #[arg(long, global = true, value_name = "URL|DIR")]
    store: Option<String>,
    /// Neither read nor write the plan's persisted index (.storypack/index/): parse every
    /// file.
    #[arg(long, global = true)]
    no_index: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the plan over MCP: stdio by default, streamable HTTP with --http.
    Serve {
        /// Serve streamable HTTP at http://ADDR/mcp (127.0.0.1:8080, or a port) instead of stdio.
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// Environment variable holding the HTTP bearer token (required off loopback).
        #[arg(long, value_name = "VAR", requires = "http")]
        token_env: Option<String>,
        /// Also accept this Host header over HTTP (a public name; repeatable).
        #[arg(long, value_name = "HOST", requires = "http")]
        allow_host: Vec<String>,
        /// Also accept this browser Origin over HTTP, e.g. https://app.example.com:443 (repeatable).
        #[arg(long, value_name = "ORIGIN", requires = "http")]
        allow_origin: Vec<String>,
        /// Do not re-index when plan files change.
        #[arg(long)]
        no_watch: bool,
        /// Offer only these tool families: plan, packs, handoffs, gates (comma-separated).
        #[arg(long, value_name = "SETS", value_delimiter = ',')]
        toolsets: Vec<String>,
        /// Record nothing: no record_handoff, and next_story without claims.
        #[arg(long)]
        read_only: bool,
        /// HTTP: seconds a request's head may take to arrive.
        #[arg(long, value_name = "SECS", requires = "http", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        header_timeout: u64,
        /// HTTP: seconds a request's body may take to arrive (then 408).
        #[arg(long, value_name = "SECS", requires = "http", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        body_timeout: u64,
        /// HTTP: seconds a connection may stay open with no request in flight.
        #[arg(long, value_name = "SECS", requires = "http", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        idle_timeout: u64,
        /// HTTP: open connections at most; more get 503 and are closed.
        #[arg(long, value_name = "N", requires = "http", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_connections: u64,
        /// HTTP: live MCP sessions at most; a new one past it gets 503 with Retry-After.
        #[arg(long, value_name = "N", requires = "http", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_sessions: u64,
        /// HTTP: seconds an unused MCP session lives.
        #[arg(long, value_name = "SECS", requires = "http", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        session_idle: u64,
    },
    /// List the roadmap's sprints: theme, epics, gate, dates, roles.
    Sprints,
    /// What matters now: focus, week priorities, gate, stories in dependency order.
    Priorities {
        /// Sprint id (05, 5, "Sprint 05"); default: current by calendar, else first open.
        #[arg(long)]
        sprint: Option<String>,
        /// Role slug or label (devops-sre-engineer, "DevOps/SRE").
        #[arg(long)]
        role: Option<String>,
        /// Week of the sprint, 1 or 2; default: by calendar, else 1.
        #[arg(long)]
        week: Option<u8>,
        /// Take this date as today (2026-11-16, `Nov 16, 2026`, `16 Nov 2026`).
        #[arg(long, value_name = "DATE", value_parser = parse_today)]
        today: Option<NaiveDate>,
    },
    /// List stories, filtered.
    Stories {
        #[arg(long)]
        sprint: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        epic: Option<String>,
        /// Plan status: todo or done
        #[arg(long)]
        status: Option<String>,
        /// Live state: todo, claimed, in_progress, ready_for_review, done, blocked
        #[arg(long)]
        state: Option<String>,
    },
    /// The best ready story for a role and sprint, and why (exit 1 when none is ready).
    /// With --claim, it is leased to --agent atomically: two agents never get one story.
    Next {
        /// Role slug or label.
        #[arg(long)]
        role: Option<String>,
        /// Sprint id; default: every sprint, the current one first.
        #[arg(long)]
        sprint: Option<String>,
        /// Who asks (its own claims count as ready; required with --claim).
        #[arg(long)]
        agent: Option<String>,
        /// Claim the story for --agent.
        #[arg(long, requires = "agent")]
        claim: bool,
        /// The lease: 90m, 2h, 1h30m (default 2h).
        #[arg(long, value_name = "DURATION", requires = "claim")]
        ttl: Option<String>,
        /// Take this date as today, for the current sprint.
        #[arg(long, value_name = "DATE", value_parser = parse_today)]
        today: Option<NaiveDate>,
    },
    /// Claims: leases agents hold on stories.
    #[command(subcommand)]
    Claim(ClaimCommand),
    /// Every diagnostic of the plan, file:line. Exit 1 when there are errors.
    Lint,
    /// What storypack read from one markdown file, line by line (sprint rows, stories and
    /// their fields, checklist items, role-plan sections), and which lists and tables it
    /// skipped, with why.
    Explain {
        /// The file: relative to the plan root, or a path to it.
        file: String,
    },
    /// Build a story's context pack: ranked, cited, within a token budget. Writes
    /// .storypack/packs/<story>.md and .json (or --out DIR) and prints the pack.
    Pack {
        /// The story id (SRE-04-01). Not needed with --check.
        #[arg(required_unless_present = "check")]
        story: Option<String>,
        /// Token budget for the whole rendered pack (1..=200000).
        #[arg(long, default_value_t = storypack::pack::DEFAULT_BUDGET)]
        budget: usize,
        /// Token encoding: o200k_base or cl100k_base.
        #[arg(long, default_value = "o200k_base")]
        encoding: String,
        /// Recipe name (default: the one matching the story's role, else `default`).
        #[arg(long)]
        recipe: Option<String>,
        /// Folder to write packs to (default: <plan>/.storypack/packs).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Say which written packs are stale (a cited source changed). Exit 1 if any.
        #[arg(long, conflicts_with_all = ["budget", "recipe"])]
        check: bool,
    },
    /// Handoff contracts: validate, record (append-only), list.
    #[command(subcommand)]
    Handoff(HandoffCommand),
    /// Check a sprint's gate: evidence, stories, packs, handoffs, timing. Exit 1 unless pass.
    Gate {
        /// Sprint id (05, 5, "Sprint 05").
        sprint: String,
        /// Take this date as today (2026-11-16, `Nov 16, 2026`, `16 Nov 2026`).
        #[arg(long, value_name = "DATE", value_parser = parse_today)]
        today: Option<NaiveDate>,
    },
    /// Print a JSON Schema.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Write a report: `report gate SPRINT --html FILE` (or `--md FILE`).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print, as a unified diff, the plan edits that record what the handoff record says:
    /// stories whose latest valid handoff is done get their box ticked or their Status set
    /// to done. Exit 1 when there is something to record. --write applies the edits.
    Sync {
        /// Apply the edits: only those lines change, each file atomically; a file changed
        /// since it was read is refused (exit 1).
        #[arg(long)]
        write: bool,
    },
    /// Connect an MCP client: write or merge its config (the absolute path of this binary and
    /// of the plan root) and the agent instructions in the plan's AGENTS.md (and CLAUDE.md).
    /// Running it again changes nothing; a config it cannot parse is left untouched (exit 2).
    Setup {
        /// claude-code, cursor, vscode, codex or goose.
        #[arg(value_parser = onboarding::parse_client, value_name = "CLIENT")]
        client: storypack::setup::Client,
        /// project (the plan root's config) or user; default: project for claude-code, cursor
        /// and vscode, user for codex and goose.
        #[arg(long, value_parser = onboarding::parse_scope)]
        scope: Option<storypack::setup::Scope>,
        /// Connect to a running `storypack serve --http` at this URL instead of starting the
        /// binary (http://127.0.0.1:8080/mcp).
        #[arg(long, value_name = "URL")]
        http: Option<String>,
        /// Only show what would be written; change nothing.
        #[arg(long)]
        print: bool,
    },
    /// Start a plan in DIR (default: --plan, else the current folder): roadmap, feature and
    /// epic, backlog, gate checklist, role plan and storypack.toml. Never overwrites a file.
    Init { dir: Option<PathBuf> },
    /// Check a setup: the binary, the plan and its lint, client configs naming storypack, the
    /// store, the HTTP token. One line per check with the fix; exit 1 on a problem.
    Doctor {
        /// The address given to `serve --http`, to check its token rule.
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// The variable given to `serve --token-env`.
        #[arg(long, value_name = "VAR", requires = "http")]
        token_env: Option<String>,
    },
    /// The handoff store: copy a whole record between stores.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Rank plan sections by relevance to a query.
    Search {
        query: String,
        /// Most results (1..=100).
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
enum HandoffCommand {
    /// Report every problem of a contract; nothing is recorded. Exit 1 when invalid.
    Validate {
        /// A contract JSON file, or - for standard input.
        file: PathBuf,
    },
    /// Validate and record a contract (append-only). Exit 1 when invalid (nothing recorded).
    Record {
        /// A contract JSON file, or - for standard input.
        file: PathBuf,
        /// Record the same contract this many times, printing each id (load tests).
        #[arg(long, default_value_t = 1, hide = true)]
        repeat: u32,
    },
    /// Recorded handoffs, newest last.
    List {
        /// Only this story's.
        #[arg(long)]
        story: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ClaimCommand {
    /// Live claims: story, agent, since, until.
    List,
    /// Take (or renew) a lease on a story for an agent. Exit 1 when another agent holds it.
    Take {
        story: String,
        #[arg(long)]
        agent: String,
        /// The lease: 90m, 2h, 1h30m (default 2h).
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
    },
    /// End an agent's lease on a story. Exit 1 when the agent holds none.
    Release {
        story: String,
        #[arg(long)]
        agent: String,
    },
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// The gate evidence package of a sprint: verdict and reasons, checklist items with their
    /// evidence states and citations, stories with state and handoffs, overdue items,
    /// generated time and plan hash. Self-contained: the HTML opens offline.
    #[command(group(clap::ArgGroup::new("format").required(true).multiple(true).args(["html", "md"])))]
    Gate {
        /// Sprint id (05, 5, "Sprint 05").
        sprint: String,
        /// Write the HTML package to FILE (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Write the Markdown package to FILE (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        md: Option<PathBuf>,
        /// Take this date as today (default: the date of `STORYPACK_NOW`, else the clock's).
        #[arg(long, value_name = "DATE", value_parser = parse_today)]
        today: Option<NaiveDate>,
    },
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Copy every record and claim event from one store to another, byte for byte, and
    /// verify them by hash. A second run copies nothing; an entry the destination holds
    /// with other bytes is reported, never overwritten (exit 1).
    Copy {
        /// The source: a postgres:// URL or a plan folder.
        #[arg(long, value_name = "URL|DIR")]
        from: String,
        /// The destination: a postgres:// URL or a plan folder.
        #[arg(long, value_name = "URL|DIR")]
        to: String,
    },
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    /// The handoff contract's JSON Schema.
    Handoff,
}

/// Reads a contract from a file or stdin; not-JSON is reported like any invalid contract.
fn read_contract(file: &std::path::Path) -> Result<std::result::Result<serde_json::Value, String>> {
    use std::io::Read;
    let limit = 1024 * 1024;
    let mut bytes = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        f.take(limit + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    if bytes.len() as u64 > limit {
        anyhow::bail!("{}: larger than {} bytes", file.display(), limit);
    }
    Ok(serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}")))
}

fn not_json(message: String) -> storypack::handoff::Validation {
    storypack::handoff::Validation {
        valid: false,
        problems: vec![storypack::handoff::Problem {
            pointer: String::new(),
            severity: storypack::handoff::ProblemSeverity::Error,
            message,
        }],
    }
}

pub fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    init_tracing();
    if let Command::Serve {
        http,
        token_env,
        allow_host,
        allow_origin,
        no_watch,
        toolsets,
        read_only,
        header_timeout,
        body_timeout,
        idle_timeout,
        max_connections,
        max_sessions,
        session_idle,
    } = cli.command
    {
        let secs = std::time::Duration::from_secs;
        storypack::mcp::run(storypack::mcp::ServeOptions {
            store: storypack::store::spec_from_env(cli.global.store),
            persisted_index: !cli.global.no_index,
            plan: cli.global.plan,
            http,
            token_env,
            allowed_hosts: allow_host,
            allowed_origins: allow_origin,
            watch: !no_watch,
            tools: storypack::mcp::ToolSelection {
                toolsets: toolsets.iter().map(|t| t.trim().to_string()).collect(),
                read_only,
            },
            limits: storypack::mcp::HttpLimits {
                header_timeout: secs(header_timeout),
                body_timeout: secs(body_timeout),
                idle_timeout: secs(idle_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
                max_sessions: usize::try_from(max_sessions).unwrap_or(usize::MAX),
                session_idle: secs(session_idle),
            },
        })
        .context("serve")?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(code) = onboarding::onboarding(&cli)? {
        return Ok(code);
    }
    if let Command::Pack {
        check: false,
        encoding,
        ..
    } = &cli.command
        && let Ok(encoding) = encoding.parse()
    {
        storypack::tokens::Tiktoken::warm_in_background(encoding);
    }
    if let Command::Store(StoreCommand::Copy { from, to }) = &cli.command {
        let open = |spec: &str, what: &str| {
            storypack::store::open(Some(spec), &cli.global.plan).with_context(|| what.to_string())
        };
        let (src, dst) = (open(from, "--from")?, open(to, "--to")?);
        let report = storypack::store::copy::copy(&*src, &*dst).context("store copy")?;
        emit(cli.global.json, &report, render_copy(&report))?;
        return Ok(ExitCode::from(u8::from(!report.complete())));
    }
    // Never dropped: the process ends after one command, and freeing a large plan's model
    // piece by piece only delays the exit (the OS takes the memory back at once). Nothing in
    // it waits for a drop: files are written and synced before a command returns.
    let app = std::mem::ManuallyDrop::new(
        match storypack::store::spec_from_env(cli.global.store.clone()) {
            None => App::open_with(&cli.global.plan, !cli.global.no_index)?,
            Some(spec) => {
                let store =
                    storypack::store::open(Some(&spec), &cli.global.plan).context("--store")?;
                App::open_with(&cli.global.plan, !cli.global.no_index)?.with_store(store)
            }
        },
    );
    let result = command(cli, &app);
    // What this run learned, for the next one (a plan that keeps a persisted index): only
    // after a command that went through, so a refused request changes nothing.
    if result.is_ok() {
        app.persist_index();
        storypack::tokens::persist_counts();
    }
    result
}

/// Runs a command that needs the opened plan.
fn command(cli: Cli, app: &App) -> Result<ExitCode> {
    let json = cli.global.json;
    match cli.command {
        Command::Sprints => {
            let list = app.sprints();
            emit(json, &list, render::sprints(&list))?;
        }
        Command::Priorities {
            sprint,
            role,
            week,
            today,
        } => {
            let q = PriorityQuery { sprint, role, week };
            let p = app
                .priorities(&q, today.unwrap_or_else(app::today))
                .context("priorities")?;
            emit(json, &p, render::priorities(&p))?;
        }
        Command::Stories {
            sprint,
            role,
            epic,
            status,
            state,
        } => {
            let filter = StoryFilter {
                sprint,
                role,
                epic,
                status,
                state,
            };
            let list = app.stories(&filter).context("stories")?;
            emit(json, &list, render::stories(&list))?;
        }
        Command::Next {
            role,
            sprint,
            agent,
            claim,
            ttl,
            today,
        } => {
            let req = app::NextRequest {
                role,
                sprint,
                agent,
                claim,
                ttl,
            };
            let next = app
                .next_story(&req, today.unwrap_or_else(app::today))
                .context("next")?;
            emit(json, &next, render::next_story(&next))?;
            return Ok(ExitCode::from(u8::from(next.story.is_none())));
        }
        Command::Claim(ClaimCommand::List) => {
            let list = app.claims().context("claim list")?;
            emit(json, &list, render::claims(&list))?;
        }
        Command::Claim(ClaimCommand::Take { story, agent, ttl }) => {
            let outcome = app
                .claim(&story, &agent, ttl.as_deref())
                .context("claim take")?;
            emit(json, &outcome, format!("{}\n", outcome.message))?;
            return Ok(ExitCode::from(u8::from(!outcome.ok)));
        }
        Command::Claim(ClaimCommand::Release { story, agent }) => {
            let outcome = app.release_claim(&story, &agent).context("claim release")?;
            emit(json, &outcome, format!("{}\n", outcome.message))?;
            return Ok(ExitCode::from(u8::from(!outcome.ok)));
        }
        Command::Explain { file } => {
            let explanation = app.explain(&file).context("explain")?;
            emit(json, &explanation, render::explain(&explanation))?;
        }
        Command::Lint => {
            let report = app.lint();
            emit(json, &report, render::lint(&report))?;
            if report.errors > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Pack {
            story,
            budget,
            encoding,
            recipe,
            out,
            check,
        } => {
            if check {
                let report = app.check_packs(out.as_deref()).context("pack --check")?;
                emit(json, &report, render::pack_check(&report))?;
                return Ok(ExitCode::from(if report.stale > 0 { 1 } else { 0 }));
            }
            let req = PackRequest {
                story_id: story.unwrap_or_default(),
                budget_tokens: Some(budget),
                encoding: Some(encoding.parse().context("pack")?),
                recipe,
            };
            let built = app.pack(&req).context("pack")?;
            let (md, js) = app.write_pack(&built, out.as_deref()).context("pack")?;
            tracing::info!(md = %md.display(), json = %js.display(), "pack written");
            if json {
                emit(true, &built, String::new())?;
            } else {
                emit(false, &built, pack::render::markdown(&built))?;
            }
            eprintln!("wrote {} and {}", md.display(), js.display());
        }
        Command::Handoff(HandoffCommand::Validate { file }) => {
            let validation = match read_contract(&file)? {
                Ok(value) => app.validate_handoff(&value),
                Err(message) => not_json(message),
            };
            emit(json, &validation, render::validation(&validation))?;
            return Ok(ExitCode::from(if validation.valid { 0 } else { 1 }));
        }
        Command::Handoff(HandoffCommand::Record { file, repeat }) => {
            let value = match read_contract(&file)? {
                Ok(value) => value,
                Err(message) => {
                    let validation = not_json(message);
                    emit(json, &validation, render::validation(&validation))?;
                    return Ok(ExitCode::from(1));
                }
            };
            for _ in 0..repeat.max(1) {
                let outcome = app.record_handoff(&value).context("handoff record")?;
                emit(json, &outcome, render::record_outcome(&outcome))?;
                if !outcome.recorded {
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Handoff(HandoffCommand::List { story }) => {
            let list = app
                .list_handoffs(story.as_deref())
                .context("handoff list")?;
            emit(json, &list, render::handoff_list(&list))?;
        }
        Command::Gate { sprint, today } => {
            let report = app
                .check_gate(&sprint, today.unwrap_or_else(app::today))
                .context("gate")?;
            emit(json, &report, render::gate(&report))?;
            if report.verdict != storypack::gate::Verdict::Pass {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Report(ReportCommand::Gate {
            sprint,
            html,
            md,
            today,
        }) => {
            let today = today.unwrap_or_else(storypack::report::today);
            let package =
                storypack::report::gate_package(app, &sprint, today).context("report gate")?;
            if let Some(path) = html {
                write_output(&path, &storypack::report::html::document(&package))?;
            }
            if let Some(path) = md {
                write_output(&path, &storypack::report::md::document(&package))?;
            }
            if json {
                emit(true, &package, String::new())?;
            }
        }
        Command::Schema(SchemaCommand::Handoff) => {
            let schema = storypack::handoff::contract_schema();
            emit(true, &schema, String::new())?;
        }
        Command::Search { query, limit } => {
            let result = app.search(&query, Some(limit)).context("search")?;
            emit(json, &result, render::search(&result))?;
        }
        Command::Sync { write } => {
            let edits = app.sync().context("sync")?;
            let outcomes = if write && !edits.files.is_empty() {
                pause_for_tests();
                Some(app.write_back(&edits).context("sync --write")?)
            } else {
                None
            };
            let mut report = storypack::writeback::SyncReport::new(&edits, outcomes.as_deref());
            report.write = write;
            emit(json, &report, render::sync(&report))?;
            let failed = if write {
                !report.refused.is_empty() || !report.unrecordable.is_empty()
            } else {
                !report.in_step()
            };
            return Ok(ExitCode::from(u8::from(failed)));
        }
        // Served and copied above, before the plan is opened here.
        Command::Serve { .. } | Command::Store(_) => {}
        // Handled by `onboarding`, which needs no opened plan.
        Command::Setup { .. } | Command::Init { .. } | Command::Doctor { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn render_copy(r: &storypack::store::copy::CopyReport) -> String {
    let mut out = format!(
        "{} -> {}: {} entries, {} copied, {} already there, {} verified by hash\n",
        r.from, r.to, r.entries, r.copied, r.already, r.verified
    );
    for c in &r.conflicts {
        out.push_str(&format!(
            "  conflict: {c} differs in the destination (not copied)\n"
        ));
    }
    out
}

fn emit<T: Serialize>(json: bool, value: &T, text: String) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Writes a report to `path` (`-`: standard output), replacing the file atomically.
fn write_output(path: &std::path::Path, text: &str) -> Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("storypack: wrote {}", path.display());
    Ok(())
}

/// Logs go to stderr (stdout belongs to results and, for `serve`, the stdio transport),
/// coloured only when stderr is a terminal: a log file or a client's pipe gets plain text.
fn init_tracing() {
    use std::io::IsTerminal;
    // storypack::mcp::LOG_QUIET: what HTTP rejections rmcp would log once per request.
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("STORYPACK_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("warn,{}", storypack::mcp::LOG_QUIET))
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Debug builds only (the tests): with `STORYPACK_TEST_SYNC_PAUSE=DIR`, `sync --write`
/// creates `DIR/paused` once it has read the plan and computed its edits, then waits (up
/// to a minute) for `DIR/resume` before writing, so a test can edit a plan file between the
/// read and the write. Release builds ignore the variable.
fn pause_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(dir) = std::env::var_os("STORYPACK_TEST_SYNC_PAUSE") {
        let dir = PathBuf::from(dir);
        let _ = std::fs::write(dir.join("paused"), b"");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !dir.join("resume").exists() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// `--today`: ISO or a written date, as plans write them; the error names the accepted forms.
fn parse_today(s: &str) -> Result<NaiveDate, String> {
    storypack::plan::date::parse_or_explain(s)
}
