//! A deterministic synthetic sprint plan, for benchmarks.
//!
//! std only and streaming: every file goes through a `BufWriter` as it is generated; the only
//! state kept is the story count per (sprint, role) cell, so memory stays flat whatever the
//! size. The same `stories` value always gives byte-identical output (xorshift PRNG seeded by
//! a constant). Layout and formats follow docs/plan-format.md; the plan is meant to be
//! correct, so a parser should report no errors on it.
//!
//! Size: about `stories` files and `stories` x 10 KiB (10,000 stories: ~10,000 files,
//! ~105 MB). Backlog, role plans, roadmap, features and gates are sized by the plan; ADRs,
//! interface docs and playbooks fill up the rest.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

pub struct GenStats {
    pub files: usize,
    pub bytes: u64,
    pub stories: usize,
}

const SPRINTS: usize = 50;
const FEATURES: usize = 40;
const EPICS_PER_FEATURE: usize = 3;
const BYTES_PER_STORY: u64 = 10_486;
const MIN_FILLER: usize = 30;

struct RoleDef {
    slug: &'static str,
    label: &'static str,
    prefix: &'static str,
    handle: &'static str,
}

const ROLES: [RoleDef; 5] = [
    RoleDef {
        slug: "devops-sre-engineer",
        label: "DevOps/SRE",
        prefix: "SRE",
        handle: "@platform-lead",
    },
    RoleDef {
        slug: "backend-engineer",
        label: "Backend",
        prefix: "BE",
        handle: "@api-lead",
    },
    RoleDef {
        slug: "frontend-engineer",
        label: "Frontend",
        prefix: "FE",
        handle: "@web-lead",
    },
    RoleDef {
        slug: "data-engineer",
        label: "Data",
        prefix: "DATA",
        handle: "@data-lead",
    },
    RoleDef {
        slug: "qa-engineer",
        label: "QA",
        prefix: "QA",
        handle: "@qa-lead",
    },
];

const FEATURE_TITLES: [&str; FEATURES] = [
    "Platform foundation",
    "Identity and access",
    "Tenant management",
    "Core domain workflows",
    "AI runtime",
    "Search and retrieval",
    "Integrations",
    "Billing and entitlements",
    "Reliability and release",
    "Notifications",
    "Analytics",
    "Audit logging",
    "Data ingestion",
    "Reporting",
    "Admin console",
    "Mobile shell",
    "Public API",
    "Outbound webhooks",
    "Scheduling",
    "File storage",
    "Collaboration",
    "Permissions",
    "Localization",
    "Onboarding",
    "Usage metering",
    "Data export",
    "Compliance controls",
    "Secrets management",
    "Observability",
    "Cost controls",
    "Feature flags",
    "Experimentation",
    "Knowledge base",
    "Workflow automation",
    "Agent tooling",
    "Evaluation harness",
    "Model governance",
    "Customer support",
    "Partner portal",
    "Performance hardening",
];

const THEME_SUFFIX: [&str; 6] = [
    "baseline",
    "v1",
    "hardening",
    "rollout",
    "scale-out",
    "stabilization",
];
const GATE_KIND: [&str; 5] = [
    "readiness",
    "quality",
    "rollout",
    "integration",
    "stability",
];

const NOUNS: [&str; 72] = [
    "service",
    "pipeline",
    "queue",
    "worker",
    "tenant",
    "token",
    "session",
    "cache",
    "index",
    "schema",
    "migration",
    "endpoint",
    "webhook",
    "connector",
    "dashboard",
    "alert",
    "runbook",
    "deployment",
    "release",
    "rollback",
    "budget",
    "quota",
    "policy",
    "contract",
    "event",
    "stream",
    "partition",
    "replica",
    "snapshot",
    "backup",
    "secret",
    "credential",
    "role",
    "permission",
    "request",
    "response",
    "payload",
    "handler",
    "client",
    "gateway",
    "resolver",
    "scheduler",
    "job",
    "batch",
    "ledger",
    "invoice",
    "subscription",
    "entitlement",
    "notification",
    "template",
    "prompt",
    "model",
    "embedding",
    "retriever",
    "ranking",
    "trace",
    "metric",
    "log",
    "span",
    "probe",
    "cluster",
    "node",
    "volume",
    "bucket",
    "artifact",
    "build",
    "branch",
    "review",
    "fixture",
    "report",
    "export",
    "checkpoint",
];

const VERBS: [&str; 36] = [
    "validate",
    "instrument",
    "provision",
    "configure",
    "document",
    "rotate",
    "harden",
    "replay",
    "migrate",
    "deploy",
    "monitor",
    "throttle",
    "partition",
    "cache",
    "audit",
    "review",
    "refactor",
    "benchmark",
    "backfill",
    "reconcile",
    "expose",
    "retire",
    "version",
    "index",
    "encrypt",
    "sign",
    "verify",
    "tune",
    "alert on",
    "load-test",
    "roll out",
    "gate",
    "isolate",
    "observe",
    "record",
    "publish",
];

const ADJS: [&str; 30] = [
    "idempotent",
    "tenant-aware",
    "structured",
    "deterministic",
    "encrypted",
    "versioned",
    "asynchronous",
    "batched",
    "regional",
    "stale",
    "critical",
    "optional",
    "degraded",
    "transient",
    "durable",
    "read-only",
    "signed",
    "paginated",
    "rate-limited",
    "cached",
    "sharded",
    "immutable",
    "stateless",
    "cold",
    "warm",
    "primary",
    "secondary",
    "internal",
    "public",
    "legacy",
];

const SUBJECTS: [&str; 12] = [
    "The team",
    "Each service",
    "The on-call engineer",
    "This change",
    "The platform",
    "Every handler",
    "The reviewer",
    "The release train",
    "The worker pool",
    "The agent",
    "The owner",
    "CI",
];
const MODALS: [&str; 6] = ["must", "should", "will", "can", "may", "needs to"];
const PREPS: [&str; 14] = [
    "for",
    "with",
    "before",
    "after",
    "across",
    "per",
    "during",
    "without",
    "behind",
    "through",
    "under",
    "within",
    "alongside",
    "ahead of",
];
const DETS: [&str; 5] = ["the", "a", "each", "every", "the"];
const CONNECT: [&str; 6] = ["so that", "because", "while", "and", "unless", "once"];
const HEADINGS: [&str; 24] = [
    "Context",
    "Motivation",
    "Design",
    "Data flow",
    "Failure modes",
    "Operational notes",
    "Rollout plan",
    "Security considerations",
    "Testing strategy",
    "Observability",
    "Capacity",
    "Open questions",
    "Migration",
    "Limits",
    "Error handling",
    "Compatibility",
    "Dependencies",
    "Ownership",
    "Verification",
    "Background",
    "Runbook steps",
    "Escalation",
    "Metrics",
    "Known issues",
];
const TABLE_HEADERS: [&[&str]; 7] = [
    &["Component", "Owner", "SLO", "Notes"],
    &["Option", "Pros", "Cons"],
    &["Field", "Type", "Required", "Description"],
    &["Method", "Path", "Auth", "Notes"],
    &["Status code", "Meaning", "Retry"],
    &["Metric", "Threshold", "Alert", "Runbook"],
    &["Environment", "Region", "Replicas", "Rollback window"],
];
const LANGS: [&str; 6] = ["rust", "yaml", "json", "bash", "sql", "toml"];
const GATE_ITEMS: [&str; 16] = [
    "CI jobs required on main",
    "Branch protection enabled for release branches",
    "Rollback playbook rehearsed",
    "Secrets rotated and ownership recorded",
    "Error budget alerts routed to on-call",
    "Load test results reviewed",
    "Threat model updated",
    "Dashboards published for new services",
    "Migration dry run completed on staging",
    "Runbooks linked from alerts",
    "Data retention policy confirmed",
    "Access review signed off",
    "Feature flags default to off in production",
    "Contract tests green against staging",
    "Incident drill completed",
    "Release notes drafted",
];
const CHECKLIST: [(&str, &str); 7] = [
    (
        "00-governance",
        "confirm gate evidence by day 3 and log risks/dependencies.",
    ),
    (
        "01-architecture",
        "lock interfaces first and record boundary changes.",
    ),
    (
        "02-features",
        "execute in dependency order with failure-path validation.",
    ),
    (
        "03-backlog",
        "break into one-day tasks with reviewer and evidence assignment.",
    ),
    (
        "04-sprint-execution",
        "deliver week 1 + week 2 goals and day 10 demo artifacts.",
    ),
    (
        "05-engineering-playbooks",
        "enforce PR gates, testing strategy, observability, and rollback checks.",
    ),
    (
        "06-ai-agent-execution",
        "publish context pack and handoff contract per story.",
    ),
];

/// Writes a complete plan under `root` (which must be empty or absent).
pub fn generate(root: &Path, stories: usize) -> io::Result<GenStats> {
    if root.exists() && fs::read_dir(root)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not empty", root.display()),
        ));
    }
    fs::create_dir_all(root)?;
    let mut g = Gen {
        root,
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        buf: String::with_capacity(4096),
        counts: Vec::new(),
        stories,
        files: 0,
        bytes: 0,
        wrap: 0,
        up: String::new(),
    };
    g.distribute();
    g.config()?;
    g.roadmap()?;
    for f in 0..FEATURES {
        g.feature(f)?;
    }
    for s in 0..SPRINTS {
        for r in 0..ROLES.len() {
            g.backlog(s, r)?;
        }
    }
    for s in 0..SPRINTS {
        for r in 0..ROLES.len() {
            g.role_plan(s, r)?;
        }
    }
    for s in 0..SPRINTS {
        g.gate(s)?;
    }
    g.governance()?;
    g.agent_execution()?;
    g.guides()?;
    g.filler()?;
    Ok(GenStats {
        files: g.files,
        bytes: g.bytes,
        stories,
    })
}

/// xorshift64*: tiny, fast, good enough for text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((self.next() >> 32) as usize) % n
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// A file being written, counting its bytes.
struct Out {
    w: BufWriter<File>,
    n: u64,
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.w.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl Out {
    fn s(&mut self, s: &str) -> io::Result<()> {
        self.write_all(s.as_bytes())
    }
}

struct Gen<'a> {
    root: &'a Path,
    rng: Rng,
    /// The paragraph being built; written (wrapped) and cleared by `flush_para`.
    buf: String,
    /// Stories per (sprint, role) cell, sprint-major.
    counts: Vec<usize>,
    stories: usize,
    files: usize,
    bytes: u64,
    /// Wrap width of the current file's prose, 0 for one line per paragraph.
    wrap: usize,
    /// The relative path from the current file's folder up to `docs/`.
    up: String,
}

fn two(s: usize) -> String {
    format!("{s:02}")
}

fn story_id(s: usize, r: usize, seq: usize) -> String {
    format!("{}-{:02}-{:04}", ROLES[r].prefix, s, seq + 1)
}

fn epic_id(e: usize) -> String {
    format!(
        "F{}-E{}",
        e / EPICS_PER_FEATURE + 1,
        e % EPICS_PER_FEATURE + 1
    )
}

/// Epic indices (0-based over all epics) that are primary in sprint `s`: 2 or 3 each, all
/// epics covered once.
fn sprint_epics(s: usize) -> std::ops::Range<usize> {
    let total = FEATURES * EPICS_PER_FEATURE;
    (s * total / SPRINTS)..((s + 1) * total / SPRINTS)
}

fn sprint_feature(s: usize) -> usize {
    sprint_epics(s).start / EPICS_PER_FEATURE
}

fn theme(s: usize) -> String {
    if s == 0 {
        return "Inception and architecture lock".to_string();
    }
    format!(
        "{} {}",
        FEATURE_TITLES[sprint_feature(s)],
        THEME_SUFFIX[s % THEME_SUFFIX.len()]
    )
}

fn gate_name(s: usize) -> String {
    if s == 0 {
        return "Architecture gate".to_string();
    }
    format!(
        "{} {} gate",
        FEATURE_TITLES[sprint_feature(s)],
        GATE_KIND[s % GATE_KIND.len()]
    )
}

fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// "a" becomes "an" before a vowel.
fn article(det: &'static str, next: &str) -> &'static str {
    if det == "a" && next.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        det
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn sprint_start(s: usize) -> i64 {
    days_from_civil(2026, 1, 5) + 14 * s as i64
}

impl Gen<'_> {
    // ---- files -------------------------------------------------------------------------

    fn create(&mut self, rel: &str) -> io::Result<Out> {
        let path = self.root.join(rel);
        let depth = rel.split('/').count().saturating_sub(2);
        self.up = "../".repeat(depth);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        self.wrap = if self.rng.chance(50) {
            0
        } else {
            self.rng.range(80, 100)
        };
        Ok(Out {
            w: BufWriter::with_capacity(64 * 1024, File::create(path)?),
            n: 0,
        })
    }

    fn finish(&mut self, mut out: Out) -> io::Result<()> {
        out.flush()?;
        self.files += 1;
        self.bytes += out.n;
        Ok(())
    }

    fn distribute(&mut self) {
        let cells = SPRINTS * ROLES.len();
        let weights: Vec<usize> = (0..cells).map(|_| self.rng.range(60, 140)).collect();
        let sum: usize = weights.iter().sum();
        self.counts = weights.iter().map(|w| self.stories * w / sum).collect();
        let mut left = self.stories - self.counts.iter().sum::<usize>();
        let mut i = 0;
        while left > 0 {
            self.counts[i % cells] += 1;
            left -= 1;
            i += 7;
        }
    }

    fn count(&self, s: usize, r: usize) -> usize {
        self.counts[s * ROLES.len() + r]
    }

    // ---- text --------------------------------------------------------------------------

    fn noun_phrase(&mut self) {
        let det = self.rng.pick(&DETS);
        let adj = self.rng.chance(45).then(|| self.rng.pick(&ADJS));
        let n1 = self.rng.chance(35).then(|| self.rng.pick(&NOUNS));
        let n2 = self.rng.pick(&NOUNS);
        let first = adj.or(n1).unwrap_or(n2);
        self.buf.push_str(article(det, first));
        for w in [adj, n1].into_iter().flatten() {
            self.buf.push(' ');
            self.buf.push_str(w);
        }
        self.buf.push(' ');
        self.buf.push_str(n2);
    }

    /// An existing story id, if the plan has any stories.
    fn any_story(&mut self) -> Option<String> {
        if self.stories == 0 {
            return None;
        }
        loop {
            let cell = self.rng.below(self.counts.len());
            let c = self.counts[cell];
            if c > 0 {
                let seq = self.rng.below(c);
                return Some(story_id(cell / ROLES.len(), cell % ROLES.len(), seq));
            }
        }
    }

    fn any_epic(&mut self) -> String {
        epic_id(self.rng.below(FEATURES * EPICS_PER_FEATURE))
    }

    /// A sentence appended to `buf` (no leading space). `plain` leaves out code spans, links
    /// and emphasis (for table cells and titles).
    fn sentence(&mut self, plain: bool) {
        let subject = self.rng.pick(&SUBJECTS);
        self.buf.push_str(subject);
        self.buf.push(' ');
        self.clause();
        if self.rng.chance(40) {
            self.buf.push(' ');
            let c = self.rng.pick(&CONNECT);
            self.buf.push_str(c);
            self.buf.push(' ');
            self.noun_phrase();
            self.buf.push(' ');
            let m = self.rng.pick(&MODALS);
            self.buf.push_str(m);
            self.buf.push(' ');
            let v = self.rng.pick(&VERBS);
            self.buf.push_str(v);
            self.buf.push(' ');
            self.noun_phrase();
        }
        if !plain {
            match self.rng.below(14) {
                0 | 1 => {
                    let e = self.any_epic();
                    self.buf.push_str(" (see ");
                    self.buf.push_str(&e);
                    self.buf.push(')');
                }
                2 | 3 => {
                    if let Some(id) = self.any_story() {
                        self.buf.push_str(" as tracked in ");
                        self.buf.push_str(&id);
                    }
                }
                4 => {
                    let a = self.rng.pick(&NOUNS);
                    let b = self.rng.pick(&NOUNS);
                    self.buf.push_str(" in `");
                    self.buf.push_str(a);
                    self.buf.push('_');
                    self.buf.push_str(b);
                    self.buf.push('`');
                }
                5 => {
                    let a = self.rng.pick(&NOUNS);
                    self.buf.push_str(" as described in [the ");
                    self.buf.push_str(a);
                    self.buf.push_str(" playbook](");
                    self.buf.push_str(&self.up);
                    self.buf.push_str("05-engineering-playbooks/");
                    self.buf.push_str(a);
                    self.buf.push_str("-guide.md)");
                }
                6 => {
                    self.buf.push_str(" by **day ");
                    let d = self.rng.range(2, 9);
                    self.buf.push_str(&d.to_string());
                    self.buf.push_str("**");
                }
                _ => {}
            }
        } else if self.rng.chance(15) {
            let e = self.any_epic();
            self.buf.push_str(" for ");
            self.buf.push_str(&e);
        }
        self.buf.push('.');
    }

    fn clause(&mut self) {
        let m = self.rng.pick(&MODALS);
        self.buf.push_str(m);
        self.buf.push(' ');
        let v = self.rng.pick(&VERBS);
        self.buf.push_str(v);
        self.buf.push(' ');
        self.noun_phrase();
        if self.rng.chance(70) {
            self.buf.push(' ');
            let p = self.rng.pick(&PREPS);
            self.buf.push_str(p);
            self.buf.push(' ');
            self.noun_phrase();
        }
    }

    fn sentences(&mut self, lo: usize, hi: usize, plain: bool) {
        let n = self.rng.range(lo, hi);
        for i in 0..n {
            if i > 0 {
                self.buf.push(' ');
            }
            self.sentence(plain);
        }
    }

    /// A short title-like phrase: "Harden signed webhook retries".
    fn title(&mut self) -> String {
        let v = capitalize(self.rng.pick(&VERBS));
        let mut t = v;
        if self.rng.chance(50) {
            t.push(' ');
            t.push_str(self.rng.pick(&ADJS));
        }
        t.push(' ');
        t.push_str(self.rng.pick(&NOUNS));
        t.push(' ');
        t.push_str(self.rng.pick(&NOUNS));
        if self.rng.chance(60) {
            t.push(' ');
            t.push_str(self.rng.pick(&PREPS));
            t.push(' ');
            if self.rng.chance(50) {
                t.push_str(self.rng.pick(&ADJS));
                t.push(' ');
            }
            t.push_str(self.rng.pick(&NOUNS));
        }
        t
    }

    fn heading_text(&mut self) -> String {
        if self.rng.chance(55) {
            self.rng.pick(&HEADINGS).to_string()
        } else {
            let mut t = capitalize(self.rng.pick(&ADJS));
            t.push(' ');
            t.push_str(self.rng.pick(&NOUNS));
            t.push(' ');
            t.push_str(&self.rng.pick(&HEADINGS).to_lowercase());
            t
        }
    }

    /// Writes `buf` as one paragraph or list item: `first` before the first line, `rest`
    /// before continuation lines; lines wrap only before a letter or a backtick, so a
    /// continuation line never starts a list, heading, quote or table.
    fn flush_para(&mut self, o: &mut Out, first: &str, rest: &str) -> io::Result<()> {
        o.s(first)?;
        let mut col = first.len();
        let mut start = true;
        for tok in self.buf.split(' ') {
            if !start {
                let breakable = tok
                    .as_bytes()
                    .first()
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'`');
                if self.wrap > 0 && breakable && col + 1 + tok.len() > self.wrap {
                    o.s("\n")?;
                    o.s(rest)?;
                    col = rest.len();
                } else {
                    o.s(" ")?;
                    col += 1;
                }
            }
            o.s(tok)?;
            col += tok.len();
            start = false;
        }
        o.s("\n")?;
        self.buf.clear();
        Ok(())
    }

    fn paragraph(&mut self, o: &mut Out, lo: usize, hi: usize) -> io::Result<()> {
        self.sentences(lo, hi, false);
        self.flush_para(o, "", "")?;
        o.s("\n")
    }

    /// A bullet list; `nested` allows a second level.
    fn bullets(&mut self, o: &mut Out, lo: usize, hi: usize, nested: bool) -> io::Result<()> {
        let marker = if self.rng.chance(80) { "- " } else { "* " };
        let n = self.rng.range(lo, hi);
        for _ in 0..n {
            self.sentences(1, 2, false);
            self.flush_para(o, marker, "  ")?;
            if nested && self.rng.chance(20) {
                for _ in 0..self.rng.range(1, 3) {
                    self.sentence(false);
                    let first = format!("  {marker}");
                    self.flush_para(o, &first, "    ")?;
                }
            }
        }
        o.s("\n")
    }

    fn numbered(&mut self, o: &mut Out) -> io::Result<()> {
        let n = self.rng.range(3, 7);
        for i in 1..=n {
            self.sentence(false);
            let first = format!("{i}. ");
            self.flush_para(o, &first, "   ")?;
        }
        o.s("\n")
    }

    fn task_list(&mut self, o: &mut Out) -> io::Result<()> {
        let n = self.rng.range(3, 6);
        for _ in 0..n {
            let first = if self.rng.chance(50) {
                "- [x] "
            } else {
                "- [ ] "
            };
            self.sentence(true);
            self.flush_para(o, first, "  ")?;
        }
        o.s("\n")
    }

    fn quote(&mut self, o: &mut Out) -> io::Result<()> {
        self.buf.push_str(if self.rng.chance(50) {
            "**Note:** "
        } else {
            "**Warning:** "
        });
        self.sentences(1, 3, false);
        self.flush_para(o, "> ", "> ")?;
        o.s("\n")
    }

    fn table(&mut self, o: &mut Out) -> io::Result<()> {
        let header = self.rng.pick(&TABLE_HEADERS);
        o.s("|")?;
        for h in header {
            write!(o, " {h} |")?;
        }
        o.s("\n|")?;
        for _ in header {
            o.s("---|")?;
        }
        o.s("\n")?;
        for _ in 0..self.rng.range(3, 8) {
            o.s("|")?;
            for (i, _) in header.iter().enumerate() {
                match (i, self.rng.below(4)) {
                    (0, _) => {
                        let a = self.rng.pick(&NOUNS);
                        let b = self.rng.pick(&NOUNS);
                        write!(o, " `{a}-{b}` |")?;
                    }
                    (_, 0) => {
                        let n = self.rng.range(1, 999);
                        write!(o, " {n} |")?;
                    }
                    (_, 1) => {
                        let a = self.rng.pick(&ADJS);
                        write!(o, " {a} |")?;
                    }
                    _ => {
                        let a = self.rng.pick(&ADJS);
                        let b = self.rng.pick(&NOUNS);
                        let c = self.rng.pick(&PREPS);
                        let d = self.rng.pick(&NOUNS);
                        write!(o, " {a} {b} {c} {d} |")?;
                    }
                }
            }
            o.s("\n")?;
        }
        o.s("\n")
    }

    fn code(&mut self, o: &mut Out) -> io::Result<()> {
        let lang = self.rng.pick(&LANGS);
        writeln!(o, "```{lang}")?;
        let lines = self.rng.range(4, 14);
        match lang {
            "rust" => {
                let v = self.rng.pick(&VERBS).replace([' ', '-'], "_");
                let n = self.rng.pick(&NOUNS);
                let t = capitalize(n);
                writeln!(
                    o,
                    "pub fn {v}_{n}(ctx: &Context, req: {t}Request) -> Result<{t}, Error> {{"
                )?;
                for _ in 0..lines {
                    let a = self.rng.pick(&NOUNS);
                    let b = self.rng.pick(&NOUNS);
                    match self.rng.below(3) {
                        0 => writeln!(o, "    let {a} = ctx.{b}s().get(&req.{a}_id)?;")?,
                        1 => writeln!(o, "    ctx.metrics().incr(\"{n}.{a}.{b}\");")?,
                        _ => writeln!(o, "    tracing::debug!({a} = ?req.{b}, \"{v} {n}\");")?,
                    }
                }
                writeln!(o, "    Ok({t}::from(req))")?;
                o.s("}\n")?;
            }
            "yaml" => {
                let n = self.rng.pick(&NOUNS);
                writeln!(o, "{n}:")?;
                for _ in 0..lines {
                    let k = self.rng.pick(&NOUNS);
                    match self.rng.below(3) {
                        0 => writeln!(o, "  {k}_timeout_ms: {}", self.rng.range(50, 5000))?,
                        1 => writeln!(o, "  {k}_enabled: {}", self.rng.chance(50))?,
                        _ => writeln!(o, "  {k}: {}", self.rng.pick(&ADJS))?,
                    }
                }
            }
            "json" => {
                o.s("{\n")?;
                for i in 0..lines {
                    let k = self.rng.pick(&NOUNS);
                    let v = self.rng.pick(&ADJS);
                    let comma = if i + 1 < lines { "," } else { "" };
                    writeln!(o, "  \"{k}_{i}\": \"{v}\"{comma}")?;
                }
                o.s("}\n")?;
            }
            "bash" => {
                for _ in 0..lines {
                    let a = self.rng.pick(&NOUNS);
                    let b = self.rng.pick(&NOUNS);
                    match self.rng.below(4) {
                        0 => writeln!(o, "kubectl -n {a} rollout status deploy/{b}")?,
                        1 => writeln!(o, "curl -sf https://{a}.example.com/healthz")?,
                        2 => writeln!(o, "# {} the {a} before the {b}", self.rng.pick(&VERBS))?,
                        _ => writeln!(o, "cargo run --bin {a}-{b} -- --dry-run")?,
                    }
                }
            }
            "sql" => {
                let t = self.rng.pick(&NOUNS);
                writeln!(o, "SELECT id, tenant_id, status")?;
                writeln!(o, "FROM {t}s")?;
                writeln!(o, "WHERE tenant_id = $1")?;
                for _ in 0..lines / 3 {
                    let c = self.rng.pick(&NOUNS);
                    writeln!(o, "  AND {c}_state <> 'retired'")?;
                }
                writeln!(o, "ORDER BY created_at DESC")?;
                writeln!(o, "LIMIT {};", self.rng.range(10, 500))?;
            }
            _ => {
                let sec = self.rng.pick(&NOUNS);
                writeln!(o, "[{sec}]")?;
                for _ in 0..lines {
                    let k = self.rng.pick(&NOUNS);
                    writeln!(o, "{k}_limit = {}", self.rng.range(1, 10_000))?;
                }
            }
        }
        o.s("```\n\n")
    }

    /// One of the block kinds, chosen at random.
    fn block(&mut self, o: &mut Out, task_lists: bool) -> io::Result<()> {
        match self.rng.below(20) {
            0..=6 => self.paragraph(o, 2, 6),
            7..=9 => self.bullets(o, 2, 6, true),
            10 | 11 => self.numbered(o),
            12..=14 => self.code(o),
            15 | 16 => self.table(o),
            17 => self.quote(o),
            18 if task_lists => self.task_list(o),
            _ => self.paragraph(o, 1, 3),
        }
    }

    // ---- plan parts --------------------------------------------------------------------

    fn config(&mut self) -> io::Result<()> {
        let mut o = self.create("storypack.toml")?;
        o.s("# storypack settings for this plan\n\n")?;
        o.s("[calendar]\nfirst_sprint_start = 2026-01-05\nsprint_days = 14\n\n[roles]\n")?;
        for r in &ROLES {
            writeln!(o, "\"{}\" = \"{}\"", r.label, r.slug)?;
        }
        self.finish(o)
    }

    fn roadmap(&mut self) -> io::Result<()> {
        let mut o = self.create("docs/04-sprints/sprint-roadmap.md")?;
        o.s("# Sprint roadmap\n\n")?;
        self.paragraph(&mut o, 2, 4)?;
        o.s("## Sprint overview\n\n")?;
        o.s("| Sprint | Theme | Primary Epics | Gate | Start | End |\n")?;
        o.s("|---|---|---|---|---|---|\n")?;
        for s in 0..SPRINTS {
            let epics: Vec<String> = sprint_epics(s).map(epic_id).collect();
            let start = sprint_start(s);
            writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                two(s),
                theme(s),
                epics.join(", "),
                gate_name(s),
                civil(start),
                civil(start + 13)
            )?;
        }
        o.s("\n## Constant Section Execution Checklist (Per Sprint)\n\n")?;
        for (i, (key, text)) in CHECKLIST.iter().enumerate() {
            writeln!(o, "{}. `{key}`: {text}", i + 1)?;
        }
        o.s("\n")?;
        for r in &ROLES {
            writeln!(o, "## {} sprint focus\n", r.label)?;
            self.paragraph(&mut o, 1, 2)?;
            writeln!(
                o,
                "| Sprint | {} Mission Focus | Week 1 Priority | Week 2 Priority |",
                r.label
            )?;
            o.s("|---|---|---|---|\n")?;
            for s in 0..SPRINTS {
                write!(o, "| {} |", two(s))?;
                for _ in 0..3 {
                    self.sentence(true);
                    write!(o, " {} |", self.buf)?;
                    self.buf.clear();
                }
                o.s("\n")?;
            }
            o.s("\n")?;
        }
        self.finish(o)
    }

    fn feature(&mut self, f: usize) -> io::Result<()> {
        let title = FEATURE_TITLES[f];
        let path = format!("docs/02-features/f{}-{}.md", f + 1, slug(title));
        let mut o = self.create(&path)?;
        writeln!(o, "# F{} — {title}\n", f + 1)?;
        self.paragraph(&mut o, 3, 5)?;
        o.s("## Goals\n\n")?;
        self.bullets(&mut o, 3, 5, false)?;
        for e in 0..EPICS_PER_FEATURE {
            let et = self.title();
            writeln!(o, "## F{}-E{} — {et}\n", f + 1, e + 1)?;
            for _ in 0..self.rng.range(2, 4) {
                self.paragraph(&mut o, 2, 5)?;
            }
            if self.rng.chance(50) {
                o.s("Acceptance themes:\n\n")?;
                self.bullets(&mut o, 2, 4, false)?;
            }
        }
        self.finish(o)
    }

    /// Picks the dependencies of story (s, r, seq): earlier stories of the same role only.
    fn deps(&mut self, s: usize, r: usize, seq: usize) -> Vec<String> {
        let want = match self.rng.below(100) {
            0..=21 => 0,
            22..=79 => 1,
            _ => 2,
        };
        let mut out: Vec<String> = Vec::new();
        for _ in 0..want {
            let id = if seq > 0 && self.rng.chance(60) {
                let back = self.rng.range(1, seq.min(3));
                Some(story_id(s, r, seq - back))
            } else if s > 0 {
                let mut found = None;
                for _ in 0..4 {
                    let s2 = s - self.rng.range(1, s.min(4));
                    let c = self.count(s2, r);
                    if c > 0 {
                        found = Some(story_id(s2, r, self.rng.below(c)));
                        break;
                    }
                }
                found
            } else if seq > 0 {
                Some(story_id(s, r, seq - 1))
            } else {
                None
            };
            if let Some(id) = id
                && !out.contains(&id)
            {
                out.push(id);
            }
        }
        out
    }

    fn criteria(&mut self) -> Vec<String> {
        let n = self.rng.range(2, 4);
        (0..n)
            .map(|_| {
                let mut c = capitalize(self.rng.pick(&NOUNS));
                c.push(' ');
                c.push_str(self.rng.pick(&NOUNS));
                c.push_str(" is ");
                c.push_str(self.rng.pick(&ADJS));
                c.push(' ');
                c.push_str(self.rng.pick(&PREPS));
                c.push(' ');
                let det = self.rng.pick(&DETS);
                let n = self.rng.pick(&NOUNS);
                c.push_str(article(det, n));
                c.push(' ');
                c.push_str(n);
                c
            })
            .collect()
    }

    fn done(&mut self, s: usize) -> bool {
        let pct = match s {
            0..=19 => 92,
            20..=24 => 50,
            _ => 4,
        };
        self.rng.chance(pct)
    }

    fn estimate(&mut self) -> &'static str {
        match self.rng.below(10) {
            0 => "0.5d",
            1 => "4h",
            _ => "1d",
        }
    }

    /// The notes paragraphs after a story: prose, never a list item.
    fn story_notes(&mut self, o: &mut Out, id: &str) -> io::Result<()> {
        self.buf.push_str("**Notes on ");
        self.buf.push_str(id);
        self.buf.push_str(".** ");
        self.sentences(2, 5, false);
        self.flush_para(o, "", "")?;
        o.s("\n")?;
        if self.rng.chance(45) {
            self.paragraph(o, 2, 4)?;
        }
        Ok(())
    }

    fn backlog(&mut self, s: usize, r: usize) -> io::Result<()> {
        let role = &ROLES[r];
        let path = format!("docs/03-backlog/sprint-{}-{}.md", two(s), role.slug);
        let mut o = self.create(&path)?;
        write!(
            o,
            "---\nsprint: \"{}\"\nrole: {}\n---\n# Sprint {} — {} backlog\n\n",
            two(s),
            role.slug,
            two(s),
            role.label
        )?;
        self.paragraph(&mut o, 2, 4)?;
        let n = self.count(s, r);
        let epics: Vec<String> = sprint_epics(s).map(epic_id).collect();
        let list_form = (s + r).is_multiple_of(2);
        o.s("## Stories\n\n")?;
        if list_form {
            for seq in 0..n {
                let id = story_id(s, r, seq);
                let box_ = if self.done(s) { "x" } else { " " };
                let title = self.title();
                writeln!(o, "- [{box_}] **{id}** {title}")?;
                let epic = &epics[self.rng.below(epics.len())];
                writeln!(o, "  - Epic: {epic}")?;
                let reviewer = if self.rng.chance(30) {
                    "@lead"
                } else {
                    role.handle
                };
                writeln!(o, "  - Reviewer: {reviewer}")?;
                let ev = id.to_lowercase();
                if self.rng.chance(25) {
                    let a = self.rng.pick(&NOUNS);
                    writeln!(o, "  - Evidence: src/{a}/mod.rs, docs/evidence/{ev}.md")?;
                } else {
                    writeln!(o, "  - Evidence: docs/evidence/{ev}.md")?;
                }
                let deps = self.deps(s, r, seq);
                if !deps.is_empty() {
                    writeln!(o, "  - Depends on: {}", deps.join(", "))?;
                }
                writeln!(o, "  - Estimate: {}", self.estimate())?;
                o.s("  - Acceptance:\n")?;
                for c in self.criteria() {
                    writeln!(o, "    - {c}")?;
                }
                o.s("\n")?;
                self.story_notes(&mut o, &id)?;
            }
        } else {
            o.s("| ID | Title | Epic | Reviewer | Evidence | Depends on | Estimate | Status | Acceptance |\n")?;
            o.s("|---|---|---|---|---|---|---|---|---|\n")?;
            for seq in 0..n {
                let id = story_id(s, r, seq);
                let title = self.title();
                let epic = &epics[self.rng.below(epics.len())];
                let reviewer = if self.rng.chance(30) {
                    "@lead"
                } else {
                    role.handle
                };
                let ev = id.to_lowercase();
                let deps = self.deps(s, r, seq);
                let deps = if deps.is_empty() {
                    "-".to_string()
                } else {
                    deps.join(", ")
                };
                let est = self.estimate();
                let status = if self.done(s) { "done" } else { "todo" };
                let acc = self.criteria().join("; ");
                writeln!(
                    o,
                    "| {id} | {title} | {epic} | {reviewer} | docs/evidence/{ev}.md | {deps} | {est} | {status} | {acc} |"
                )?;
            }
            o.s("\n## Notes\n\n")?;
            for seq in 0..n {
                let id = story_id(s, r, seq);
                self.story_notes(&mut o, &id)?;
            }
        }
        self.finish(o)
    }

    fn role_plan(&mut self, s: usize, r: usize) -> io::Result<()> {
        let role = &ROLES[r];
        let path = format!(
            "docs/07-role-sprint-plans/sprint-{}/{}/section-contribution-plan.md",
            two(s),
            role.slug
        );
        let mut o = self.create(&path)?;
        write!(
            o,
            "---\nsprint: \"{}\"\nrole: {}\n---\n# Sprint {} — {} section contribution plan\n\n",
            two(s),
            role.slug,
            two(s),
            role.label
        )?;
        writeln!(
            o,
            "Theme: {}. Gate: {}. Primary epics: {}.\n",
            theme(s),
            gate_name(s),
            sprint_epics(s).map(epic_id).collect::<Vec<_>>().join(", ")
        )?;
        for (key, rule) in CHECKLIST {
            writeln!(o, "## {key}\n")?;
            writeln!(o, "Rule: {rule}\n")?;
            match key {
                "03-backlog" => {
                    let n = self.count(s, r);
                    writeln!(
                        o,
                        "- Stories for this sprint live in `docs/03-backlog/sprint-{}-{}.md` ({n} stories).",
                        two(s),
                        role.slug
                    )?;
                    if n >= 2 {
                        writeln!(
                            o,
                            "- Sequence {} before {} and keep each task to one day.",
                            story_id(s, r, 0),
                            story_id(s, r, n - 1)
                        )?;
                    }
                    self.bullets(&mut o, 2, 4, false)?;
                }
                "04-sprint-execution" => {
                    self.paragraph(&mut o, 1, 3)?;
                    for w in 1..=2 {
                        writeln!(o, "### Week {w}\n")?;
                        self.bullets(&mut o, 3, 6, true)?;
                    }
                }
                _ => {
                    self.paragraph(&mut o, 1, 3)?;
                    self.bullets(&mut o, 3, 6, key != "00-governance")?;
                }
            }
        }
        self.finish(o)
    }

    fn gate(&mut self, s: usize) -> io::Result<()> {
        let name = gate_name(s);
        let ev_file = format!("docs/evidence/sprint-{}-gate.md", two(s));
        {
            let mut e = self.create(&ev_file)?;
            writeln!(e, "# Sprint {} evidence bundle\n", two(s))?;
            self.paragraph(&mut e, 2, 4)?;
            self.finish(e)?;
        }
        let path = format!(
            "docs/00-governance/gates/sprint-{}-{}.md",
            two(s),
            slug(&name)
        );
        let mut o = self.create(&path)?;
        write!(
            o,
            "---\ngate: {name}\nsprint: \"{}\"\n---\n# {name}\n\n",
            two(s)
        )?;
        self.paragraph(&mut o, 2, 3)?;
        let n = self.rng.range(6, 10);
        let first = self.rng.below(GATE_ITEMS.len());
        for i in 0..n {
            let item = GATE_ITEMS[(first + i) % GATE_ITEMS.len()];
            let checked = s < 20 || self.rng.chance(30);
            let owner = ROLES[self.rng.below(ROLES.len())].handle;
            let due = if self.rng.chance(70) {
                format!("day {}", self.rng.range(2, 9))
            } else {
                civil(sprint_start(s) + self.rng.range(1, 12) as i64)
            };
            let ev = match self.rng.below(4) {
                0 => format!("docs/evidence/sprint-{}/{}.md", two(s), slug(item)),
                1 => format!("{ev_file}, https://ci.example.com/runs/{}", s * 100 + i),
                _ => ev_file.clone(),
            };
            writeln!(
                o,
                "- [{}] {item} (owner: {owner}, due: {due}) - evidence: {ev}",
                if checked { "x" } else { " " }
            )?;
        }
        o.s("\n")?;
        self.finish(o)
    }

    fn governance(&mut self) -> io::Result<()> {
        let mut o = self.create("docs/00-governance/risks.md")?;
        o.s("# Risk register\n\n")?;
        self.paragraph(&mut o, 2, 3)?;
        o.s("| Risk | Owner | Likelihood | Impact | Mitigation |\n|---|---|---|---|---|\n")?;
        for _ in 0..60 {
            let t = self.title();
            let owner = ROLES[self.rng.below(ROLES.len())].handle;
            let l = self.rng.pick(&["low", "medium", "high"]);
            let i = self.rng.pick(&["low", "medium", "high"]);
            self.sentence(true);
            writeln!(o, "| {t} | {owner} | {l} | {i} | {} |", self.buf)?;
            self.buf.clear();
        }
        o.s("\n")?;
        self.finish(o)?;
        let mut o = self.create("docs/00-governance/dependencies.md")?;
        o.s("# Cross-team dependencies\n\n")?;
        for _ in 0..20 {
            let t = self.heading_text();
            writeln!(o, "## {t}\n")?;
            self.paragraph(&mut o, 2, 4)?;
            self.bullets(&mut o, 2, 4, false)?;
        }
        self.finish(o)
    }

    fn agent_execution(&mut self) -> io::Result<()> {
        for (file, title) in [
            ("context-pack-policy.md", "Context pack policy"),
            ("handoff-policy.md", "Handoff contract policy"),
        ] {
            let mut o = self.create(&format!("docs/06-ai-agent-execution/{file}"))?;
            writeln!(o, "# {title}\n")?;
            for _ in 0..8 {
                let t = self.heading_text();
                writeln!(o, "## {t}\n")?;
                self.block(&mut o, false)?;
                self.block(&mut o, false)?;
            }
            self.finish(o)?;
        }
        Ok(())
    }

    /// ADRs, interface docs and playbooks up to the size and file count targets.
    fn filler(&mut self) -> io::Result<()> {
        let target_files = self.stories;
        let target_bytes = self.stories as u64 * BYTES_PER_STORY;
        // A few even in small plans, so every folder is there.
        let count = target_files.saturating_sub(self.files).max(MIN_FILLER);
        for i in 0..count {
            let left_files = (count - i) as u64;
            let left_bytes = target_bytes.saturating_sub(self.bytes);
            let mean = left_bytes / left_files;
            let factor = if self.rng.chance(2) {
                400
            } else {
                self.rng.range(30, 160) as u64
            };
            let target = mean * factor / 100;
            match i % 10 {
                0..=3 => self.adr(i, target)?,
                4..=6 => self.interface(i, target)?,
                _ => {
                    let topic = self.title();
                    let path = format!(
                        "docs/05-engineering-playbooks/{}-{:04}.md",
                        slug(&topic),
                        i + 1
                    );
                    self.playbook(&path, &topic, target)?;
                }
            }
        }
        Ok(())
    }

    fn fill(&mut self, o: &mut Out, target: u64, task_lists: bool) -> io::Result<()> {
        while o.n < target {
            let t = self.heading_text();
            writeln!(o, "## {t}\n")?;
            for _ in 0..self.rng.range(1, 4) {
                self.block(o, task_lists)?;
            }
            if self.rng.chance(30) {
                let t = self.heading_text();
                writeln!(o, "### {t}\n")?;
                self.block(o, task_lists)?;
            }
        }
        Ok(())
    }

    fn adr(&mut self, i: usize, target: u64) -> io::Result<()> {
        let title = self.title();
        let n = i / 10 * 4 + i % 10 + 1;
        let path = format!("docs/01-architecture/adr-{n:04}-{}.md", slug(&title));
        let mut o = self.create(&path)?;
        writeln!(o, "# ADR-{n:04}: {title}\n")?;
        let status = self
            .rng
            .pick(&["Accepted", "Proposed", "Superseded", "Accepted"]);
        let date = civil(days_from_civil(2025, 11, 1) + self.rng.below(400) as i64);
        let k = self.rng.below(ROLES.len());
        let d1 = ROLES[k].handle;
        let d2 = ROLES[(k + self.rng.range(1, ROLES.len() - 1)) % ROLES.len()].handle;
        let e1 = self.any_epic();
        let e2 = self.any_epic();
        write!(
            o,
            "- Status: {status}\n- Date: {date}\n- Deciders: {d1}, {d2}\n- Related epics: {e1}, {e2}\n\n"
        )?;
        o.s("## Context\n\n")?;
        self.paragraph(&mut o, 3, 6)?;
        o.s("## Decision\n\n")?;
        self.paragraph(&mut o, 2, 5)?;
        self.code(&mut o)?;
        o.s("## Consequences\n\n### Positive\n\n")?;
        self.bullets(&mut o, 2, 4, false)?;
        o.s("### Negative\n\n")?;
        self.bullets(&mut o, 1, 3, false)?;
        o.s("## Alternatives considered\n\n| Option | Pros | Cons |\n|---|---|---|\n")?;
        for _ in 0..self.rng.range(2, 4) {
            let t = self.title();
            let p = self.rng.pick(&ADJS);
            let c = self.rng.pick(&ADJS);
            writeln!(o, "| {t} | {p} | not {c} |")?;
        }
        o.s("\n")?;
        self.fill(&mut o, target, false)?;
        self.finish(o)
    }

    fn interface(&mut self, i: usize, target: u64) -> io::Result<()> {
        let a = self.rng.pick(&NOUNS);
        let b = self.rng.pick(&NOUNS);
        let path = format!("docs/01-architecture/interfaces/{a}-{b}-{:04}.md", i + 1);
        let mut o = self.create(&path)?;
        writeln!(o, "# {} {b} interface\n", capitalize(a))?;
        self.paragraph(&mut o, 2, 4)?;
        o.s("## Endpoints\n\n| Method | Path | Auth | Notes |\n|---|---|---|---|\n")?;
        for _ in 0..self.rng.range(3, 8) {
            let m = self.rng.pick(&["GET", "POST", "PUT", "DELETE", "PATCH"]);
            let p = self.rng.pick(&NOUNS);
            let auth = self.rng.pick(&["bearer", "mTLS", "service token", "none"]);
            let note = self.title();
            writeln!(o, "| {m} | `/v1/{a}s/{{id}}/{p}s` | {auth} | {note} |")?;
        }
        o.s("\n## Payloads\n\n")?;
        o.s("```json\n{\n")?;
        for k in 0..self.rng.range(3, 9) {
            let f = self.rng.pick(&NOUNS);
            writeln!(o, "  \"{f}_{k}\": \"{}\",", self.rng.pick(&ADJS))?;
        }
        o.s("  \"version\": 1\n}\n```\n\n")?;
        o.s("## Errors\n\n")?;
        self.bullets(&mut o, 2, 5, false)?;
        self.fill(&mut o, target, false)?;
        self.finish(o)
    }

    /// The `<noun>-guide.md` playbooks that prose links to.
    fn guides(&mut self) -> io::Result<()> {
        for noun in NOUNS {
            let target = self.rng.range(4_000, 12_000) as u64;
            let path = format!("docs/05-engineering-playbooks/{noun}-guide.md");
            let topic = format!("{} guide", capitalize(noun));
            self.playbook(&path, &topic, target)?;
        }
        Ok(())
    }

    fn playbook(&mut self, path: &str, topic: &str, target: u64) -> io::Result<()> {
        let mut o = self.create(path)?;
        writeln!(o, "# Playbook: {topic}\n")?;
        self.quote(&mut o)?;
        o.s("## When to use\n\n")?;
        self.paragraph(&mut o, 2, 4)?;
        o.s("## Steps\n\n")?;
        self.numbered(&mut o)?;
        self.code(&mut o)?;
        o.s("## Checklist\n\n")?;
        self.task_list(&mut o)?;
        self.fill(&mut o, target, true)?;
        self.finish(o)
    }
}
