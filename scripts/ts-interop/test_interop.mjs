// Interop test: the official TypeScript MCP SDK (npm `@modelcontextprotocol/sdk`) and the MCP
// Inspector CLI against `storypack serve`. run.sh installs both and starts this script.
//
// Over stdio and over streamable HTTP, each against a fresh copy of examples/plan, the SDK's
// `Client` initializes, lists the tools, calls every tool with good input (the SDK validates
// each structured result against the tool's output schema), calls one with bad input, lists
// and reads a resource and gets a prompt. Then the Inspector CLI runs
// `--cli --strict --method tools/list` against `storypack serve` over stdio, and every schema
// portability finding it reports fails that check.
//
// Anything the SDK reports fails a check: a thrown error, an error passed to the client's
// `onerror` (the SDK passes transport errors and e.g. "Received a progress notification for an
// unknown token" there, and drops them when nobody listens), and anything written through
// console.error or console.warn.
//
// One line per check, then `N passed, M failed` as the last line; exit 0 when every check
// passed, 1 otherwise (also when no check ran).
//
// Environment:
//   STORYPACK_BIN        the binary (run.sh sets <target>/debug/storypack)
//   TS_INTEROP_PREFIX    the folder whose node_modules holds the pinned packages (run.sh)
//   TS_INTEROP_SUMMARY   if set, a file the summary line is also written to (run.sh reads it)
//   TS_INTEROP_VERBOSE   if set, print the servers' stderr even when every check passed

import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const EXAMPLE_PLAN = join(ROOT, "examples", "plan");
const BIN = (() => {
  const bin = process.env.STORYPACK_BIN || "target/debug/storypack";
  return isAbsolute(bin) ? bin : join(ROOT, bin);
})();
const PREFIX = process.env.TS_INTEROP_PREFIX || join(ROOT, "target", "ts-interop");
const VERBOSE = Boolean(process.env.TS_INTEROP_VERBOSE);

const TOOLS = [
  "list_sprints",
  "get_priorities",
  "list_stories",
  "build_context_pack",
  "search_plan",
  "record_handoff",
  "list_handoffs",
  "next_story",
  "check_gate",
];
const ROADMAP_DOC = "docs/04-sprints/devops-sre-implementation-map.md";
// Sprint 04's stories whose dependencies are done in the example plan.
const READY_04 = ["BE-04-03", "BE-04-04", "SRE-04-04", "SRE-04-05"];
const REQUEST_TIMEOUT_MS = 30_000;
const SERVER_START_TIMEOUT_MS = 30_000;
const INSPECTOR_TIMEOUT_MS = 90_000;

// -- what the SDK reports outside of thrown errors ------------------------------------------

/** Every error or warning the SDK reported, in order; checks look at what arrived during them. */
const reported = [];
const report = (source, args) =>
  reported.push(`${source}: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ")}`);
const realConsole = { error: console.error.bind(console), warn: console.warn.bind(console) };
console.error = (...args) => report("console.error", args);
console.warn = (...args) => report("console.warn", args);

const require = createRequire(join(PREFIX, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = require("@modelcontextprotocol/sdk/client/stdio.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
// Read from the folders: the SDK's exports map sends "…/package.json" to a stub in dist/cjs.
const packageVersion = (dir) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
const SDK_VERSION = packageVersion(join(PREFIX, "node_modules", "@modelcontextprotocol", "sdk"));
const INSPECTOR_DIR = join(PREFIX, "node_modules", "@modelcontextprotocol", "inspector");
const INSPECTOR_VERSION = packageVersion(INSPECTOR_DIR);

// -- a tiny harness ------------------------------------------------------------------------

class CheckFailed extends Error {}

function expect(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

function short(value, limit = 300) {
  const s = typeof value === "string" ? value : JSON.stringify(value);
  return s === undefined ? String(value) : s.length <= limit ? s : s.slice(0, limit - 3) + "...";
}

const h = { passed: 0, failed: 0, failures: [] };

function fail(name, detail) {
  h.failed += 1;
  h.failures.push(`${name}: ${detail}`);
  process.stdout.write(`FAIL  ${name}: ${detail}\n`);
}

/** How many of `reported` a check has already failed on (or passed without). */
let seen = 0;

/** Runs one check; its return value is a short note shown on success. A check also fails
 * when the SDK reported an error or a warning while it ran or since the check before it. */
async function check(name, fn) {
  const started = performance.now();
  const before = seen;
  let note;
  try {
    note = await fn();
  } catch (e) {
    const detail = e instanceof CheckFailed ? e.message : `${e?.name ?? "Error"}: ${e?.message ?? e}`;
    seen = reported.length;
    fail(name, detail + sdkReports(before));
    return false;
  }
  seen = reported.length;
  const extra = reported.slice(before);
  if (extra.length > 0) {
    fail(name, `the SDK reported ${extra.length} error(s)/warning(s)` + sdkReports(before));
    return false;
  }
  h.passed += 1;
  const ms = Math.round(performance.now() - started);
  process.stdout.write(`ok    ${name} (${ms} ms)${note ? ": " + note : ""}\n`);
  return true;
}

function sdkReports(from) {
  const extra = reported.slice(from);
  return extra.length ? "; SDK reported: " + extra.map((r) => short(r, 400)).join(" | ") : "";
}

// -- helpers ---------------------------------------------------------------------------------

function textOf(result) {
  return (result.content || [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("");
}

function structured(result, tool) {
  expect(!result.isError, `${tool} returned isError: ${short(textOf(result))}`);
  const sc = result.structuredContent;
  expect(sc && typeof sc === "object" && !Array.isArray(sc), `${tool} returned no structured content`);
  expect(textOf(result).trim(), `${tool} returned no readable text content`);
  return sc;
}

function isCitation(c) {
  return (
    c &&
    typeof c.path === "string" &&
    c.path &&
    !c.path.startsWith("/") &&
    Number.isInteger(c.line_start) &&
    c.line_start >= 1 &&
    Number.isInteger(c.line_end) &&
    c.line_end >= c.line_start
  );
}

function copyPlan(into) {
  const dest = join(into, "plan");
  cpSync(EXAMPLE_PLAN, dest, {
    recursive: true,
    filter: (src) => !src.split(/[\\/]/).includes(".storypack"),
  });
  return dest;
}

// -- every check of one session ------------------------------------------------------------

class Exercise {
  constructor(t, client, plan) {
    this.t = t;
    this.c = client;
    this.plan = plan;
    this.stories05 = [];
    this.recordId = null;
  }

  check(name, fn) {
    return check(`${this.t.padEnd(5)} ${name}`, fn);
  }

  call(name, args = {}, options = {}) {
    return this.c.callTool({ name, arguments: args }, undefined, { timeout: REQUEST_TIMEOUT_MS, ...options });
  }

  async run(connect) {
    if (!(await this.check("initialize", () => this.initialize(connect)))) return;
    await this.check("list_tools: nine tools with input and output schemas", () => this.listTools());
    await this.check("list_sprints", () => this.listSprints());
    await this.check("get_priorities sprint 04", () => this.getPriorities());
    await this.check("list_stories sprint 05", () => this.listStories());
    await this.check("build_context_pack SRE-04-01 budget 2000", () => this.buildContextPack());
    await this.check("build_context_pack SRE-05-01 (default budget)", () => this.buildContextPackDefault());
    await this.check("search_plan dead-letter", () => this.searchPlan());
    await this.check("record_handoff dry_run: valid contract", () => this.validateValid());
    await this.check("record_handoff: valid contract", () => this.recordHandoff());
    await this.check("list_handoffs", () => this.listHandoffs());
    await this.check("next_story sprint 04 without a claim", () => this.nextStory());
    await this.check("next_story sprint 04 with a claim", () => this.nextStoryClaim());
    await this.check("check_gate sprint 04", () => this.checkGate());
    await this.check("bad input: unknown story id is a tool error", () => this.badStoryId());
    await this.check("resources: list and read a plan doc", () => this.resources());
    await this.check("prompts: list and get start_story", () => this.prompts());
    // Anything the server sends after a call (a late progress notification) arrives before
    // the answer to a later request on the same session.
    await this.check("ping: nothing left for the SDK to complain about", async () => {
      await this.c.ping();
    });
  }

  async initialize(connect) {
    await connect();
    const info = this.c.getServerVersion();
    const caps = this.c.getServerCapabilities();
    expect(info?.name === "storypack", `server name ${short(info?.name)}`);
    expect(caps?.tools && caps?.resources && caps?.prompts, `capabilities ${short(caps)}`);
    return `${info.name} ${info.version}`;
  }

  async listTools() {
    // listTools also compiles each output schema (ajv); callTool then validates against it.
    const { tools } = await this.c.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    const missing = TOOLS.filter((n) => !byName.has(n));
    expect(missing.length === 0, `missing tools ${missing}; listed ${[...byName.keys()]}`);
    for (const name of TOOLS) {
      const tool = byName.get(name);
      expect(tool.description, `${name}: no description`);
      expect(tool.inputSchema?.type === "object", `${name}: input schema ${short(tool.inputSchema)}`);
      expect(
        tool.outputSchema?.type === "object" && tool.outputSchema.properties,
        `${name}: output schema ${short(tool.outputSchema)}`,
      );
    }
    return `${tools.length} tools`;
  }

  async listSprints() {
    const sc = structured(await this.call("list_sprints"), "list_sprints");
    const ids = (sc.sprints || []).map((s) => s.id);
    const want = Array.from({ length: 12 }, (_, i) => String(i).padStart(2, "0"));
    expect(JSON.stringify(ids) === JSON.stringify(want), `sprint ids ${ids}`);
    expect(sc.sprints[5].gate === "Discoverability gate", `sprint 05 gate ${short(sc.sprints[5].gate)}`);
    const bad = sc.sprints.filter((s) => !isCitation(s.citation)).map((s) => s.id);
    expect(bad.length === 0, `sprints without a citation: ${bad}`);
    return "12 sprints, 05 = Discoverability gate";
  }

  async getPriorities() {
    const sc = structured(await this.call("get_priorities", { sprint: "04" }), "get_priorities");
    expect(sc.sprint === "04", `sprint ${short(sc.sprint)}`);
    const ids = (sc.stories || []).map((s) => s.id);
    expect(ids.length === 9 && ids.includes("SRE-04-01"), `stories ${ids}`);
    for (const s of sc.stories) {
      for (const dep of s.depends_on || []) {
        expect(ids.indexOf(dep) < ids.indexOf(s.id), `${s.id} listed before its dependency ${dep}: ${ids}`);
      }
    }
    return `${ids.length} stories in dependency order`;
  }

  async listStories() {
    const sc = structured(await this.call("list_stories", { sprint: "05" }), "list_stories");
    const ids = (sc.stories || []).map((s) => s.id);
    const want = [1, 2, 3, 4, 5].map((i) => `SRE-05-0${i}`);
    expect(JSON.stringify(ids) === JSON.stringify(want), `stories ${ids}`);
    const s01 = sc.stories[0];
    expect(s01.title === "Provision the ingestion queue with retry policy", `SRE-05-01 title ${short(s01.title)}`);
    expect(Array.isArray(s01.acceptance) && s01.acceptance.length > 0, `SRE-05-01 acceptance ${short(s01.acceptance)}`);
    this.stories05 = sc.stories;
    return ids.join(", ");
  }

  async buildContextPack() {
    // With a progress token, as clients that show progress send one: a progress notification
    // for it after the result makes the SDK report "a progress notification for an unknown token".
    const progress = [];
    const result = await this.call(
      "build_context_pack",
      { story_id: "SRE-04-01", budget_tokens: 2000 },
      { onprogress: (p) => progress.push(p) },
    );
    const sc = structured(result, "build_context_pack");
    expect(sc.story_id === "SRE-04-01", `story_id ${short(sc.story_id)}`);
    expect(Number.isInteger(sc.total_tokens) && sc.total_tokens > 0 && sc.total_tokens <= 2000,
      `total_tokens ${short(sc.total_tokens)}`);
    expect(Array.isArray(sc.sections) && sc.sections.length > 0, "no sections");
    expect(sc.sections.every((s) => isCitation(s.citation)), "a section without a citation");
    expect(textOf(result).includes("SRE-04-01"), "the text rendering does not name the story");
    return `${sc.total_tokens} tokens, ${sc.sections.length} sections, hash ${sc.hash}, ${progress.length} progress notifications`;
  }

  async buildContextPackDefault() {
    const sc = structured(await this.call("build_context_pack", { story_id: "SRE-05-01" }), "build_context_pack");
    expect(sc.story_id === "SRE-05-01", `story_id ${short(sc.story_id)}`);
    expect(sc.total_tokens <= sc.budget_tokens, `total ${sc.total_tokens} over budget ${sc.budget_tokens}`);
    return `${sc.total_tokens} of ${sc.budget_tokens} tokens`;
  }

  async searchPlan() {
    const sc = structured(await this.call("search_plan", { query: "dead-letter", limit: 5 }), "search_plan");
    const hits = sc.hits;
    expect(Array.isArray(hits) && hits.length >= 1 && hits.length <= 5, `hits ${short(hits)}`);
    expect(hits.every((x) => isCitation(x.citation)), `a hit without a citation: ${short(hits)}`);
    return `${hits.length} hits, top ${hits[0].citation.path}:${hits[0].citation.line_start}`;
  }

  contract() {
    const story = this.stories05.find((s) => s.id === "SRE-05-01");
    expect(story, "no SRE-05-01 from list_stories (that check failed)");
    return {
      story_id: story.id,
      from: { agent: "ts-mcp-sdk-interop", role: story.role || "devops-sre-engineer" },
      to: { agent: story.reviewer || "@reviewer", role: "reviewer" },
      status: "ready_for_review",
      summary: `Interop test handoff of ${story.id} from the TypeScript MCP SDK (${this.t}).`,
      acceptance: story.acceptance.map((a) => ({
        criterion: a,
        status: "met",
        evidence: ["test:ts-interop::every_criterion"],
      })),
      decisions: ["Recorded by scripts/ts-interop/test_interop.mjs"],
    };
  }

  async validateValid() {
    const sc = structured(
      await this.call("record_handoff", { contract: this.contract(), dry_run: true }),
      "record_handoff",
    );
    expect(sc.recorded === false, `a dry run recorded: ${short(sc)}`);
    expect(sc.validation?.valid === true, `validation ${short(sc.validation)}`);
    return "valid, not recorded";
  }

  async recordHandoff() {
    const sc = structured(await this.call("record_handoff", { contract: this.contract() }), "record_handoff");
    expect(sc.recorded === true, `recorded ${short(sc.recorded)}`);
    const record = sc.record || {};
    // The file store files it under this clone's writer tag: <story>#<n>-<writer>.
    expect(/^SRE-05-01#1-[a-z0-9]{8}$/.test(String(record.id)), `id ${short(record.id)}`);
    expect(String(record.id).endsWith(`-${record.writer}`), `writer ${short(record.writer)}`);
    expect(/^[0-9a-f]{32}$/.test(String(record.hash)), `hash ${short(record.hash)}`);
    const stored = join(this.plan, ".storypack", "handoffs", "SRE-05-01", `1-${record.writer}.json`);
    expect(existsSync(stored), `no ${stored}`);
    this.recordId = record.id;
    return `${record.id} hash ${record.hash}`;
  }

  async listHandoffs() {
    expect(this.recordId, "nothing was recorded (record_handoff failed)");
    const sc = structured(await this.call("list_handoffs", { story_id: "SRE-05-01" }), "list_handoffs");
    const ids = (sc.handoffs || []).map((x) => x.id);
    expect(JSON.stringify(ids) === JSON.stringify([this.recordId]), `handoffs ${ids}`);
    const every = structured(await this.call("list_handoffs"), "list_handoffs");
    expect((every.handoffs || []).some((x) => x.id === this.recordId), `all handoffs ${short(every)}`);
    return `${this.recordId} listed`;
  }

  async nextStory() {
    const sc = structured(await this.call("next_story", { sprint: "04" }), "next_story");
    expect(READY_04.includes(sc.story?.id), `story ${short(sc.story)}`);
    expect(sc.claim == null, `claimed without claim: ${short(sc.claim)}`);
    return `${sc.story.id}`;
  }

  async nextStoryClaim() {
    const agent = `ts-interop-${this.t}`;
    const sc = structured(
      await this.call("next_story", { sprint: "04", agent, claim: true }),
      "next_story",
    );
    expect(READY_04.includes(sc.story?.id), `story ${short(sc.story)}`);
    expect(sc.claim?.agent === agent && sc.claim?.until, `claim ${short(sc.claim)}`);
    return `${agent} claimed ${sc.story.id} until ${sc.claim.until}`;
  }

  async checkGate() {
    const sc = structured(await this.call("check_gate", { sprint: "04" }), "check_gate");
    expect(sc.gate === "Core workflow gate", `gate ${short(sc.gate)}`);
    expect(sc.verdict === "fail", `verdict ${short(sc.verdict)}`);
    expect(Array.isArray(sc.reasons) && sc.reasons.length > 0, "no reasons");
    return `${sc.verdict}, ${sc.reasons.length} reasons`;
  }

  async badStoryId() {
    const result = await this.call("build_context_pack", { story_id: "NOPE-99-99" });
    const text = textOf(result);
    expect(result.isError === true, `isError ${short(result.isError)}, text ${short(text)}`);
    expect(text.includes("story_id") && text.includes("NOPE-99-99"), `message ${short(text)}`);
    return short(text, 120);
  }

  async resources() {
    const listed = await this.c.listResources();
    const uris = listed.resources.map((r) => r.uri);
    const want = `storypack://plan/${ROADMAP_DOC}`;
    expect(uris.includes(want), `${want} not listed (first: ${uris.slice(0, 5)})`);
    const read = await this.c.readResource({ uri: want });
    const text = read.contents?.[0]?.text;
    expect(text === readFileSync(join(this.plan, ROADMAP_DOC), "utf8"), "the resource text differs from the file");
    const templates = await this.c.listResourceTemplates();
    return `${uris.length} resources, ${templates.resourceTemplates.length} templates`;
  }

  async prompts() {
    const { prompts } = await this.c.listPrompts();
    const names = prompts.map((p) => p.name);
    expect(names.includes("start_story"), `prompts ${names}`);
    const got = await this.c.getPrompt({ name: "start_story", arguments: { story_id: "SRE-04-01" } });
    const text = got.messages.map((m) => (m.content?.type === "text" ? m.content.text : "")).join("");
    expect(text.includes("SRE-04-01"), `start_story text ${short(text)}`);
    return `${names.length} prompts; start_story: ${got.messages.length} message(s)`;
  }
}

function newClient(name) {
  const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
  client.onerror = (e) => {
    // Closing the client aborts the HTTP transport's open GET stream, which the SDK reports
    // as an error although it did that itself; that one report is not the server's doing.
    if (client.closing && /^SSE stream disconnected: AbortError/.test(String(e?.message))) return;
    report("client.onerror", [e]);
  };
  return client;
}

async function closeClient(client) {
  client.closing = true;
  await client.close().catch((e) => report("close", [e]));
}

// -- the two transports ----------------------------------------------------------------------

async function overStdio(tmp) {
  const plan = copyPlan(join(tmp, "stdio"));
  const transport = new StdioClientTransport({
    command: BIN,
    args: ["serve", "--plan", plan],
    stderr: "pipe",
  });
  const stderr = [];
  transport.stderr?.on("data", (d) => stderr.push(d.toString("utf8")));
  const client = newClient("storypack-ts-interop-stdio");
  const ex = new Exercise("stdio", client, plan);
  try {
    await ex.run(async () => {
      await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    });
  } finally {
    await closeClient(client);
  }
  dumpStderr("stdio", stderr.join(""));
}

/** `storypack serve --http 127.0.0.1:0`; the bound address is read from its stderr. */
function startHttpServer(plan) {
  const proc = spawn(BIN, ["serve", "--plan", plan, "--http", "127.0.0.1:0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines = [];
  const url = new Promise((resolveUrl, reject) => {
    let buf = "";
    const timer = setTimeout(
      () => reject(new Error(`no 'serving MCP at' line within ${SERVER_START_TIMEOUT_MS} ms`)),
      SERVER_START_TIMEOUT_MS,
    );
    proc.stderr.on("data", (d) => {
      buf += d.toString("utf8");
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        const m = /serving MCP at (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with code ${code}; stderr: ${lines.slice(-10).join(" | ")}`));
    });
  });
  const exited = new Promise((r) => proc.on("exit", (code, signal) => r({ code, signal })));
  return { proc, lines, url, exited };
}

async function overHttp(tmp) {
  const plan = copyPlan(join(tmp, "http"));
  const server = startHttpServer(plan);
  let url = null;
  await check("http  server announces its address", async () => {
    url = await server.url;
    return url;
  });
  if (url) {
    const client = newClient("storypack-ts-interop-http");
    const transport = new StreamableHTTPClientTransport(new URL(url));
    const ex = new Exercise("http", client, plan);
    try {
      await ex.run(async () => {
        await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
      });
      await check("http  session ends with DELETE", () => transport.terminateSession());
    } finally {
      await closeClient(client);
    }
  }
  await check("http  server stops on SIGTERM", async () => {
    const early = server.proc.exitCode !== null;
    expect(!early, `the server had already exited (code ${server.proc.exitCode})`);
    server.proc.kill("SIGTERM");
    const killer = setTimeout(() => server.proc.kill("SIGKILL"), 10_000);
    const { code, signal } = await server.exited;
    clearTimeout(killer);
    expect(code === 0, `exit code ${code} (signal ${signal}) after SIGTERM`);
    return "exit 0";
  });
  dumpStderr("http", server.lines.join("\n"));
}

// -- the Inspector's strict tools/list -------------------------------------------------------

/** Runs the Inspector CLI; resolves to its exit code, stdout and stderr. */
function runInspector(args) {
  const launcher = join(INSPECTOR_DIR, "clients", "launcher", "build", "index.js");
  return new Promise((resolveRun) => {
    const proc = spawn(process.execPath, [launcher, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      // The Inspector keeps a catalog and client config under HOME; keep them out of the real one.
      env: { ...process.env, HOME: join(PREFIX, "inspector-home") },
    });
    const out = [];
    const err = [];
    proc.stdout.on("data", (d) => out.push(d));
    proc.stderr.on("data", (d) => err.push(d));
    const timer = setTimeout(() => proc.kill("SIGKILL"), INSPECTOR_TIMEOUT_MS);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveRun({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

async function inspectorStrict(tmp) {
  const plan = copyPlan(join(tmp, "inspector"));
  await check("inspector --cli --strict tools/list: no schema portability findings", async () => {
    const run = await runInspector([
      "--cli", "--strict", "--format", "json", "--method", "tools/list",
      BIN, "serve", "--plan", plan,
    ]);
    let envelope;
    try {
      envelope = JSON.parse(run.stdout);
    } catch {
      throw new CheckFailed(
        `exit ${run.code}${run.signal ? ` (${run.signal})` : ""}, stdout is not one JSON object: ` +
          `${short(run.stdout)}; stderr: ${short(run.stderr, 1000)}`,
      );
    }
    expect(run.code === 0, `exit ${run.code}: ${short(run.stderr, 1000)}`);
    const tools = envelope.result?.tools;
    expect(Array.isArray(tools) && tools.length === TOOLS.length, `tools ${short(tools)}`);
    const findings = (envelope.schemaFindings || []).flatMap((r) =>
      r.findings.map((f) => ({ tool: r.toolName, ...f })),
    );
    if (findings.length > 0) {
      const errors = findings.filter((f) => f.severity === "error").length;
      const lines = findings.map(
        (f) => `    ${f.severity} ${f.tool} ${f.schema}${f.path ? "." + f.path : ""}: ${short(f.issue, 120)}`,
      );
      throw new CheckFailed(
        `${errors} error(s), ${findings.length - errors} warning(s) in ` +
          `${new Set(findings.map((f) => f.tool)).size} tool(s):\n${lines.join("\n")}`,
      );
    }
    return `${tools.length} tools, no findings`;
  });
}

function dumpStderr(name, text) {
  text = text.trim();
  if (text && (h.failed || VERBOSE)) {
    const tail = text.split("\n").slice(-30).join("\n");
    process.stdout.write(`--- ${name} server stderr (last 30 lines) ---\n${tail}\n---\n`);
  }
}

async function main() {
  const started = performance.now();
  process.stdout.write(
    `ts-interop: TypeScript MCP SDK ${SDK_VERSION} and MCP Inspector ${INSPECTOR_VERSION} ` +
      `(node ${process.version}) against ${BIN}\n`,
  );
  if (!existsSync(BIN)) {
    fail("setup", `no storypack binary at ${BIN} (build it, or set STORYPACK_BIN)`);
  } else {
    const tmp = mkdtempSync(join(tmpdir(), "storypack-ts-interop-"));
    try {
      for (const [name, step] of [["stdio", overStdio], ["http", overHttp], ["inspector", inspectorStrict]]) {
        try {
          await step(tmp);
        } catch (e) {
          fail(`${name} session`, `${e?.name ?? "Error"}: ${e?.message ?? e}${VERBOSE ? "\n" + e?.stack : ""}`);
        }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    await check("all   the SDK reported nothing after the last check", async () => {});
  }
  process.stdout.write(`ts-interop: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (h.failures.length) {
    // The first line of each; the lines after it were printed with the check.
    process.stdout.write("failures:\n" + h.failures.map((f) => `  - ${f.split("\n")[0]}\n`).join(""));
  }
  const summary = `${h.passed} passed, ${h.failed} failed`;
  process.stdout.write(summary + "\n");
  if (process.env.TS_INTEROP_SUMMARY) writeFileSync(process.env.TS_INTEROP_SUMMARY, summary + "\n");
  return h.failed === 0 && h.passed > 0 ? 0 : 1;
}

// process.exit, not exitCode: a server the SDK failed to close must not keep the test alive
// (stdout is a pipe or a file here, which node writes synchronously on Linux).
main().then(
  (code) => process.exit(code),
  (e) => {
    realConsole.error(`ts-interop: the harness broke: ${e?.stack ?? e}`);
    const summary = `${h.passed} passed, ${h.failed + 1} failed`;
    process.stdout.write(summary + "\n");
    if (process.env.TS_INTEROP_SUMMARY) writeFileSync(process.env.TS_INTEROP_SUMMARY, summary + "\n");
    process.exit(1);
  },
);
