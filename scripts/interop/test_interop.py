"""Interop test: the official Python MCP SDK (PyPI `mcp` 2.3.0) against `storypack serve`.

Over stdio and over streamable HTTP, against a fresh copy of examples/plan each, it
initializes, lists the tools (names, input and output schemas), calls every tool with good
input and checks concrete results from the example plan (structured content, which the SDK
also validates against each tool's output schema), calls tools with bad input, lists and
reads resources, lists prompts and gets one.

Plain anyio with a tiny harness: one line per check, then `N passed, M failed` as the last
line. Exit 0 when every check passed, 1 otherwise (also when no check ran).

Environment:
  STORYPACK_BIN     the binary (run.sh sets <target>/debug/storypack; default here
                    target/debug/storypack, relative to the repo root)
  INTEROP_SUMMARY   if set, a file the summary line is also written to (run.sh reads it)
  INTEROP_VERBOSE   if set, print the servers' stderr even when every check passed
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable

import anyio
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PLAN = ROOT / "examples" / "plan"
BIN = Path(os.environ.get("STORYPACK_BIN", "target/debug/storypack"))
if not BIN.is_absolute():
    BIN = ROOT / BIN

TOOLS = [
    "list_sprints",
    "get_priorities",
    "list_stories",
    "build_context_pack",
    "search_plan",
    "record_handoff",
    "list_handoffs",
    "next_story",
    "check_gate",
]
# Tools that change nothing: the spec asks for read-only hints where they hold.
READ_ONLY = [t for t in TOOLS if t not in ("record_handoff", "next_story")]
# Required input fields per tool, from the README's tool table.
REQUIRED_INPUT = {
    "build_context_pack": ["story_id"],
    "search_plan": ["query"],
    "record_handoff": ["contract"],
    "check_gate": ["sprint"],
}
ROADMAP_DOC = "docs/04-sprints/devops-sre-implementation-map.md"
TRANSPORT_TIMEOUT_S = 90
# Sprint 04's stories whose dependencies are done in the example plan.
READY_04 = ("BE-04-03", "BE-04-04", "SRE-04-04", "SRE-04-05")
SERVER_START_TIMEOUT_S = 30


class CheckFailed(Exception):
    pass


def expect(cond: Any, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


def short(value: Any, limit: int = 300) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


class SdkWarnings(logging.Handler):
    """The SDK's own warnings (e.g. about the server's answers): shown, not counted."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


class Harness:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    async def check(self, name: str, fn: Callable[[], Awaitable[str | None]]) -> bool:
        """Runs one check; its return value is a short note shown on success."""
        started = time.monotonic()
        try:
            note = await fn()
        except CheckFailed as e:
            self._fail(name, str(e), started)
            return False
        except Exception as e:  # an SDK error, a timeout, a protocol error: all failures
            detail = f"{type(e).__name__}: {e}"
            if os.environ.get("INTEROP_VERBOSE"):
                detail += "\n" + traceback.format_exc()
            self._fail(name, detail, started)
            return False
        self.passed += 1
        ms = (time.monotonic() - started) * 1000
        print(f"ok    {name} ({ms:.0f} ms){': ' + note if note else ''}", flush=True)
        return True

    def fail(self, name: str, detail: str) -> None:
        self._fail(name, detail, time.monotonic())

    def _fail(self, name: str, detail: str, started: float) -> None:
        self.failed += 1
        self.failures.append(f"{name}: {detail}")
        ms = (time.monotonic() - started) * 1000
        print(f"FAIL  {name} ({ms:.0f} ms): {detail}", flush=True)


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def structured(result: types.CallToolResult, tool: str) -> dict[str, Any]:
    expect(
        not result.is_error,
        f"{tool} returned isError: {short(text_of(result))}",
    )
    sc = result.structured_content
    expect(isinstance(sc, dict), f"{tool} returned no structured content (got {short(sc)})")
    expect(text_of(result).strip(), f"{tool} returned no readable text content")
    return sc


def is_citation(c: Any) -> bool:
    return (
        isinstance(c, dict)
        and isinstance(c.get("path"), str)
        and c["path"]
        and not c["path"].startswith("/")
        and isinstance(c.get("line_start"), int)
        and c["line_start"] >= 1
        and isinstance(c.get("line_end"), int)
        and c["line_end"] >= c["line_start"]
        and "heading" in c
    )


def copy_plan(into: Path) -> Path:
    dest = into / "plan"
    shutil.copytree(EXAMPLE_PLAN, dest, ignore=shutil.ignore_patterns(".storypack"))
    return dest


class Exercise:
    """Every check of one MCP session; `t` ("stdio" / "http") prefixes the check names."""

    def __init__(self, h: Harness, t: str, session: ClientSession, plan: Path) -> None:
        self.h, self.t, self.s, self.plan = h, t, session, plan
        self.stories_05: list[dict[str, Any]] = []
        self.record_id: str | None = None
        self.record_hash: str | None = None
        self.pack_hash: str | None = None

    async def check(self, name: str, fn: Callable[[], Awaitable[str | None]]) -> bool:
        return await self.h.check(f"{self.t:5} {name}", fn)

    async def call(self, tool: str, args: dict[str, Any] | None = None) -> types.CallToolResult:
        return await self.s.call_tool(tool, args or {})

    async def run(self) -> None:
        if not await self.check("initialize", self.initialize):
            return  # nothing else can work
        await self.check("list_tools: nine tools with input and output schemas", self.list_tools)
        await self.check("list_tools: read-only hints", self.annotations)
        await self.check("list_sprints", self.list_sprints)
        await self.check("get_priorities sprint 04", self.get_priorities)
        await self.check("list_stories sprint 05", self.list_stories)
        await self.check("build_context_pack SRE-04-01 budget 2000", self.build_context_pack)
        await self.check("search_plan dead-letter", self.search_plan)
        await self.check("record_handoff dry_run: invalid contract", self.validate_invalid)
        await self.check("record_handoff dry_run: valid contract", self.validate_valid)
        await self.check("record_handoff: valid contract", self.record_handoff)
        await self.check("record_handoff: invalid contract records nothing", self.record_invalid)
        await self.check("list_handoffs", self.list_handoffs)
        await self.check("check_gate sprint 04", self.check_gate)
        await self.check("next_story sprint 04 without a claim", self.next_story)
        await self.check("next_story sprint 04 with a claim", self.next_story_claim)
        await self.check("bad input: unknown story id", self.bad_story_id)
        await self.check("bad input: out-of-range and unknown arguments", self.bad_arguments)
        await self.check("resources: list and read a plan doc", self.resources)
        await self.check("resources: pack template", self.pack_resource)
        await self.check("resources: handoff contract schema and recorded handoff", self.handoff_resources)
        await self.check("prompts: list and get start_story", self.prompts)

    # -- the checks --------------------------------------------------------------------

    async def initialize(self) -> str:
        init = await self.s.initialize()
        expect(init.server_info.name == "storypack", f"server name {init.server_info.name!r}")
        caps = init.capabilities
        expect(caps.tools is not None, "no tools capability")
        expect(caps.resources is not None, "no resources capability")
        expect(caps.prompts is not None, "no prompts capability")
        return f"protocol {init.protocol_version}, {init.server_info.name} {init.server_info.version}"

    async def list_tools(self) -> str:
        listed = await self.s.list_tools()
        tools = {t.name: t for t in listed.tools}
        missing = [n for n in TOOLS if n not in tools]
        expect(not missing, f"missing tools {missing}; listed {sorted(tools)}")
        for name in TOOLS:
            tool = tools[name]
            expect(tool.description, f"{name}: no description")
            ins = tool.input_schema
            expect(isinstance(ins, dict) and ins.get("type") == "object", f"{name}: input schema {short(ins)}")
            for field in REQUIRED_INPUT.get(name, []):
                expect(field in (ins.get("properties") or {}), f"{name}: input schema has no `{field}`")
                expect(field in (ins.get("required") or []), f"{name}: `{field}` is not required")
            outs = tool.output_schema
            expect(
                isinstance(outs, dict) and outs.get("type") == "object" and outs.get("properties"),
                f"{name}: output schema {short(outs)}",
            )
        extra = sorted(set(tools) - set(TOOLS))
        return f"{len(tools)} tools" + (f" (also: {', '.join(extra)})" if extra else "")

    async def annotations(self) -> None:
        tools = {t.name: t for t in (await self.s.list_tools()).tools}
        wrong = []
        for name in TOOLS:
            ann = tools[name].annotations if name in tools else None
            ro = ann.read_only_hint if ann else None
            if (name in READ_ONLY) != (ro is True):
                wrong.append(f"{name} readOnlyHint={ro}")
        expect(not wrong, "; ".join(wrong))

    async def list_sprints(self) -> str:
        sc = structured(await self.call("list_sprints"), "list_sprints")
        sprints = sc.get("sprints")
        expect(isinstance(sprints, list), f"no sprints list: {short(sc)}")
        expect(len(sprints) == 12, f"{len(sprints)} sprints, expected 12")
        ids = [s.get("id") for s in sprints]
        expect(ids == [f"{i:02d}" for i in range(12)], f"sprint ids {ids}")
        s05 = sprints[5]
        expect(s05.get("gate") == "Discoverability gate", f"sprint 05 gate {s05.get('gate')!r}")
        expect(s05.get("theme") == "Search and ingestion v1", f"sprint 05 theme {s05.get('theme')!r}")
        expect(s05.get("epics") == ["F3-E3", "F5-E1"], f"sprint 05 epics {s05.get('epics')}")
        expect(s05.get("start") == "2026-11-16" and s05.get("end") == "2026-11-29",
               f"sprint 05 dates {s05.get('start')}..{s05.get('end')}")
        expect("devops-sre-engineer" in (s05.get("roles") or {}), f"sprint 05 roles {short(s05.get('roles'))}")
        bad = [s.get("id") for s in sprints if not is_citation(s.get("citation"))]
        expect(not bad, f"sprints without a citation: {bad}")
        return "12 sprints, 05 = Discoverability gate"

    async def get_priorities(self) -> str:
        sc = structured(await self.call("get_priorities", {"sprint": "04"}), "get_priorities")
        expect(sc.get("sprint") == "04", f"sprint {sc.get('sprint')!r}")
        expect(sc.get("theme") == "Core domain workflows v1", f"theme {sc.get('theme')!r}")
        gate = sc.get("gate")
        gate_name = gate.get("name") if isinstance(gate, dict) else gate
        expect(gate_name == "Core workflow gate", f"gate {short(gate)}")
        stories = sc.get("stories") or []
        ids = [s.get("id") for s in stories]
        expect(len(ids) == 9 and "SRE-04-01" in ids and "BE-04-01" in ids, f"stories {ids}")
        expect(all(isinstance(s.get("blocked"), bool) for s in stories), "a story without a boolean `blocked`")
        pos = {sid: i for i, sid in enumerate(ids)}
        for s in stories:
            for dep in s.get("depends_on") or []:
                expect(pos.get(dep, -1) < pos[s["id"]], f"{s['id']} listed before its dependency {dep}: {ids}")
        expect(sc.get("focus") and sc.get("week_priorities"), "no focus or week priorities")
        return f"{len(ids)} stories in dependency order"

    async def list_stories(self) -> str:
        sc = structured(await self.call("list_stories", {"sprint": "05"}), "list_stories")
        stories = sc.get("stories") or []
        ids = [s.get("id") for s in stories]
        expect(ids == [f"SRE-05-0{i}" for i in range(1, 6)], f"stories {ids}")
        for s in stories:
            expect(s.get("sprint") == "05", f"{s['id']} sprint {s.get('sprint')!r}")
            expect(s.get("status") in ("todo", "done"), f"{s['id']} status {s.get('status')!r}")
            expect(s.get("acceptance") and all(isinstance(a, str) for a in s["acceptance"]),
                   f"{s['id']} acceptance {short(s.get('acceptance'))}")
            expect(is_citation(s.get("citation")), f"{s['id']} citation {short(s.get('citation'))}")
        s01 = stories[0]
        expect(s01.get("title") == "Provision the ingestion queue with retry policy",
               f"SRE-05-01 title {s01.get('title')!r}")
        expect(s01.get("reviewer") == "@data-lead", f"SRE-05-01 reviewer {s01.get('reviewer')!r}")
        expect(s01.get("depends_on") == ["SRE-04-04"], f"SRE-05-01 depends_on {s01.get('depends_on')}")
        self.stories_05 = stories
        return ", ".join(ids)

    async def build_context_pack(self) -> str:
        result = await self.call("build_context_pack", {"story_id": "SRE-04-01", "budget_tokens": 2000})
        sc = structured(result, "build_context_pack")
        expect(sc.get("story_id") == "SRE-04-01", f"story_id {sc.get('story_id')!r}")
        expect(sc.get("budget_tokens") == 2000, f"budget_tokens {sc.get('budget_tokens')!r}")
        expect(sc.get("encoding") == "o200k_base", f"encoding {sc.get('encoding')!r}")
        total = sc.get("total_tokens")
        expect(isinstance(total, int) and 0 < total <= 2000, f"total_tokens {total!r}")
        sections = sc.get("sections") or []
        expect(sections, "no sections")
        first = sections[0]
        expect("SRE-04-01" in (first.get("title") or "") and "story" in first.get("title", "").lower(),
               f"first section {first.get('title')!r}")
        expect(is_citation(first.get("citation"))
               and first["citation"]["path"] == "docs/03-backlog/sprint-04-devops-sre-engineer.md",
               f"first section citation {short(first.get('citation'))}")
        bad = [s.get("title") for s in sections
               if not (is_citation(s.get("citation")) and isinstance(s.get("tokens"), int))]
        expect(not bad, f"sections without citation or tokens: {bad}")
        expect(isinstance(sc.get("omitted"), list), "no `omitted` list")
        expect(isinstance(sc.get("hash"), str) and sc["hash"], "no hash")
        expect("SRE-04-01" in text_of(result), "the text rendering does not name the story")
        self.pack_hash = sc["hash"]
        return f"{total} tokens, {len(sections)} sections, {len(sc['omitted'])} omitted, hash {sc['hash']}"

    async def search_plan(self) -> str:
        sc = structured(await self.call("search_plan", {"query": "dead-letter", "limit": 5}), "search_plan")
        hits = sc.get("hits")
        expect(isinstance(hits, list) and 1 <= len(hits) <= 5, f"hits {short(hits)}")
        bad = [h for h in hits if not is_citation(h.get("citation"))]
        expect(not bad, f"hits without a citation: {short(bad)}")
        top = hits[0]
        blob = f"{top.get('title', '')} {top.get('snippet', '')}".lower()
        expect("dead-letter" in blob or "dead letter" in blob, f"top hit {short(top)}")
        scores = [h.get("score") for h in hits]
        expect(scores == sorted(scores, reverse=True), f"hits not ranked: {scores}")
        c = top["citation"]
        return f"{len(hits)} hits, top {c['path']}:{c['line_start']}"

    def contract(self, story: dict[str, Any]) -> dict[str, Any]:
        """A valid contract for `story`: every acceptance criterion met, with evidence."""
        refs = [r for r in story.get("evidence") or [] if (self.plan / r).is_file()]
        evidence = refs[:1] or ["test:interop::every_criterion"]
        return {
            "story_id": story["id"],
            "from": {"agent": "python-mcp-sdk-interop", "role": story.get("role") or "devops-sre-engineer"},
            "to": {"agent": story.get("reviewer") or "@reviewer", "role": "reviewer"},
            "status": "ready_for_review",
            "summary": f"Interop test handoff of {story['id']} from the Python MCP SDK ({self.t}).",
            "acceptance": [
                {"criterion": a, "status": "met", "evidence": evidence} for a in story["acceptance"]
            ],
            "evidence": [{"kind": "file", "ref": r} for r in refs[:1]],
            "decisions": ["Recorded by scripts/interop/test_interop.py"],
        }

    def story_05_01(self) -> dict[str, Any]:
        s = next((s for s in self.stories_05 if s.get("id") == "SRE-05-01"), None)
        expect(s, "no SRE-05-01 from list_stories (that check failed)")
        return s

    def invalid_contract(self) -> dict[str, Any]:
        c = self.contract(self.story_05_01())
        c["status"] = "finished"  # not an enum value
        c["acceptance"][0]["colour"] = "green"  # unknown field
        del c["summary"]  # required
        return c

    async def validate_invalid(self) -> str:
        sc = structured(
            await self.call("record_handoff", {"contract": self.invalid_contract(), "dry_run": True}),
            "record_handoff",
        )
        expect(sc.get("recorded") is False, f"recorded {sc.get('recorded')!r}")
        sc = sc.get("validation") or {}
        expect(sc.get("valid") is False, f"valid {sc.get('valid')!r}")
        problems = sc.get("problems") or []
        expect(problems, "no problems")
        for p in problems:
            expect(isinstance(p.get("pointer"), str) and p["pointer"].startswith("/"), f"problem pointer {short(p)}")
            expect(p.get("severity") in ("error", "warning"), f"problem severity {short(p)}")
            expect(p.get("message"), f"problem message {short(p)}")
        pointers = {p["pointer"] for p in problems}
        for want in ("/status", "/acceptance/0/colour", "/summary"):
            expect(want in pointers, f"no problem at {want}; pointers {sorted(pointers)}")
        return f"{len(problems)} problems at {', '.join(sorted(pointers))}"

    async def validate_valid(self) -> None:
        sc = structured(
            await self.call("record_handoff", {"contract": self.contract(self.story_05_01()), "dry_run": True}),
            "record_handoff",
        )
        expect(sc.get("recorded") is False, f"a dry run recorded: {short(sc)}")
        sc = sc.get("validation") or {}
        expect(sc.get("valid") is True, f"valid {sc.get('valid')!r}, problems {short(sc.get('problems'))}")
        errors = [p for p in sc.get("problems") or [] if p.get("severity") == "error"]
        expect(not errors, f"errors {short(errors)}")

    async def record_handoff(self) -> str:
        before = structured(await self.call("list_handoffs", {"story_id": "SRE-05-01"}), "list_handoffs")
        expect(not before.get("handoffs"), f"handoffs before recording (validate must record nothing): {short(before)}")
        sc = structured(
            await self.call("record_handoff", {"contract": self.contract(self.story_05_01())}), "record_handoff"
        )
        record = sc.get("record") if isinstance(sc.get("record"), dict) else sc
        expect(sc.get("recorded", True) is True, f"recorded {sc.get('recorded')!r}")
        rid = record.get("id")
        # The file store files it under this clone's writer tag: <story>#<n>-<writer>.
        expect(re.fullmatch(r"SRE-05-01#1-[a-z0-9]{8}", str(rid)), f"id {rid!r}")
        expect(str(rid).endswith("-" + str(record.get("writer"))), f"writer {record.get('writer')!r}")
        expect(record.get("n") == 1, f"n {record.get('n')!r}")
        expect(record.get("story_id") == "SRE-05-01", f"story_id {record.get('story_id')!r}")
        expect(re.fullmatch(r"[0-9a-f]{32}", str(record.get("hash"))), f"hash {record.get('hash')!r}")
        expect(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(record.get("received_at"))),
               f"received_at {record.get('received_at')!r}")
        expect((record.get("contract") or {}).get("story_id") == "SRE-05-01", "the record holds no contract")
        stored = self.plan / ".storypack" / "handoffs" / "SRE-05-01" / f"1-{record.get('writer')}.json"
        expect(stored.is_file(), f"no file {stored.relative_to(self.plan)} under the plan root")
        self.record_id = rid
        self.record_hash = record["hash"]
        return f"{rid} hash {record['hash']}"

    async def record_invalid(self) -> str:
        result = await self.call("record_handoff", {"contract": self.invalid_contract()})
        expect(result.is_error is True, f"isError {result.is_error!r} for a contract that cannot be recorded")
        sc = result.structured_content or {}
        expect(not isinstance(sc.get("record"), dict), f"a record came back: {short(sc)}")
        after = structured(await self.call("list_handoffs", {"story_id": "SRE-05-01"}), "list_handoffs")
        n = len(after.get("handoffs") or [])
        expect(n == (1 if self.record_id else 0), f"{n} handoffs after a refused record")
        return f"isError, text {short(text_of(result), 120)}"

    async def list_handoffs(self) -> str:
        expect(self.record_id, "nothing was recorded (record_handoff failed)")
        one = structured(await self.call("list_handoffs", {"story_id": "SRE-05-01"}), "list_handoffs")
        handoffs = one.get("handoffs") or []
        expect([h.get("id") for h in handoffs] == [self.record_id], f"handoffs {short(handoffs)}")
        if "count" in one:
            expect(one["count"] == 1, f"count {one['count']!r}")
        every = structured(await self.call("list_handoffs"), "list_handoffs")
        ids = [h.get("id") for h in every.get("handoffs") or []]
        expect(ids and ids[-1] == self.record_id, f"all handoffs {ids}; newest last should be {self.record_id}")
        other = structured(await self.call("list_handoffs", {"story_id": "SRE-04-01"}), "list_handoffs")
        expect(not other.get("handoffs"), f"SRE-04-01 handoffs {short(other)}")
        return f"{self.record_id} listed"

    async def next_story(self) -> str:
        sc = structured(await self.call("next_story", {"sprint": "04"}), "next_story")
        story = sc.get("story") or {}
        expect(story.get("id") in READY_04, f"story {short(story)}")
        expect(sc.get("claim") is None, f"claimed without claim: {short(sc)}")
        expect(sc.get("ready") == 4, f"ready {sc.get('ready')!r}")
        expect(sc.get("why"), "no why")
        cited = story.get("citation") or {}
        expect(str(cited.get("path", "")).endswith(".md") and cited.get("line_start"), f"citation {short(story)}")
        return f"{story['id']}: {'; '.join(sc['why'])}"

    async def next_story_claim(self) -> str:
        agent = f"interop-{self.t}"
        first = structured(
            await self.call("next_story", {"sprint": "04", "agent": agent, "claim": True}), "next_story"
        )
        story = (first.get("story") or {}).get("id")
        expect(story in READY_04, f"story {short(first)}")
        claim = first.get("claim") or {}
        expect(claim.get("agent") == agent and claim.get("until"), f"claim {short(claim)}")
        # Another agent is not given the same story.
        other = structured(
            await self.call("next_story", {"sprint": "04", "agent": agent + "-2", "claim": True}), "next_story"
        )
        expect((other.get("story") or {}).get("id") not in (None, story), f"second agent got {short(other)}")
        # The claims show in list_stories.
        listed = structured(await self.call("list_stories", {"sprint": "04", "state": "claimed"}), "list_stories")
        ids = sorted(s.get("id") for s in listed.get("stories") or [])
        expect(story in ids, f"claimed stories {ids}")
        return f"{agent} claimed {story} until {claim['until']}; the next agent got {other['story']['id']}"

    async def check_gate(self) -> str:
        sc = structured(await self.call("check_gate", {"sprint": "04"}), "check_gate")
        expect(sc.get("sprint") == "04", f"sprint {sc.get('sprint')!r}")
        expect(sc.get("gate") == "Core workflow gate", f"gate {sc.get('gate')!r}")
        expect(sc.get("verdict") == "fail", f"verdict {sc.get('verdict')!r}")
        reasons = sc.get("reasons") or []
        expect(reasons, "no reasons")
        bad = [r for r in reasons if not re.search(r"[\w./-]+\.md:\d+", str(r))]
        expect(not bad, f"reasons not naming file:line: {short(bad)}")
        expect(any("slo-signoff.md" in r for r in reasons), f"no reason about the missing SLO sign-off: {short(reasons)}")
        items = sc.get("items") or []
        expect(items, "no items")
        states = {e.get("state") for i in items for e in i.get("evidence") or []}
        expect(states <= {"exists", "missing", "external", "outside_root"} and "missing" in states,
               f"evidence states {states}")
        stories = {s.get("id") for s in sc.get("stories") or []}
        expect("SRE-04-01" in stories, f"stories {sorted(stories)}")
        return f"fail, {len(reasons)} reasons, {len(items)} items"

    async def bad_story_id(self) -> str:
        result = await self.call("build_context_pack", {"story_id": "NOPE-99-99"})
        text = text_of(result)
        expect(result.is_error is True, f"isError {result.is_error!r}, text {short(text)}")
        expect("story_id" in text, f"message does not name the field: {text!r}")
        expect("NOPE-99-99" in text, f"message does not name the id: {text!r}")
        return short(text, 120)

    async def bad_arguments(self) -> str:
        r1 = await self.call("build_context_pack", {"story_id": "SRE-04-01", "budget_tokens": 999999})
        t1 = text_of(r1)
        expect(r1.is_error is True and "budget_tokens" in t1, f"budget_tokens 999999: isError {r1.is_error!r}, {t1!r}")
        r2 = await self.call("list_stories", {"sprint": "05", "colour": "red"})
        t2 = text_of(r2)
        expect(r2.is_error is True and "colour" in t2, f"unknown argument: isError {r2.is_error!r}, {t2!r}")
        r3 = await self.call("list_stories", {"sprint": "99"})
        t3 = text_of(r3)
        expect(r3.is_error is True and "sprint" in t3, f"sprint 99: isError {r3.is_error!r}, {t3!r}")
        return "budget_tokens, colour, sprint named"

    async def resources(self) -> str:
        listed = await self.s.list_resources()
        uris = [str(r.uri) for r in listed.resources]
        expect(uris, "no resources")
        want = f"storypack://plan/{ROADMAP_DOC}"
        expect(want in uris, f"{want} not listed (first: {uris[:5]})")
        read = await self.s.read_resource(want)
        texts = [c for c in read.contents if isinstance(c, types.TextResourceContents)]
        expect(texts, f"no text contents: {short(read)}")
        expect(str(texts[0].uri) == want, f"contents uri {texts[0].uri!r}")
        expect("Discoverability gate" in texts[0].text, "the roadmap doc does not read as expected")
        on_disk = (self.plan / ROADMAP_DOC).read_text(encoding="utf-8")
        expect(texts[0].text == on_disk, "the resource text differs from the file")
        return f"{len(uris)} resources{' (more pages)' if listed.next_cursor else ''}"

    async def pack_resource(self) -> None:
        templates = await self.s.list_resource_templates()
        names = [t.uri_template for t in templates.resource_templates]
        expect("storypack://pack/{story_id}" in names, f"templates {names}")
        read = await self.s.read_resource("storypack://pack/SRE-04-01")
        texts = [c for c in read.contents if isinstance(c, types.TextResourceContents)]
        expect(texts and "SRE-04-01" in texts[0].text, f"pack resource {short(read)}")

    async def handoff_resources(self) -> str:
        templates = [t.uri_template for t in (await self.s.list_resource_templates()).resource_templates]
        expect("storypack://handoff/{id}" in templates, f"templates {templates}")
        read = await self.s.read_resource("storypack://schema/handoff-contract")
        texts = [c for c in read.contents if isinstance(c, types.TextResourceContents)]
        expect(texts, f"no text contents: {short(read)}")
        schema = json.loads(texts[0].text)
        props = schema.get("properties") or {}
        for field in ("story_id", "from", "to", "status", "summary", "acceptance"):
            expect(field in props and field in (schema.get("required") or []), f"schema: `{field}` not a required property")
        expect(schema.get("additionalProperties") is False, "schema allows unknown fields")
        schema_mime = texts[0].mime_type
        expect(self.record_id, "nothing was recorded (record_handoff failed)")
        uri = "storypack://handoff/" + self.record_id.replace("#", "%23")
        read = await self.s.read_resource(uri)
        texts = [c for c in read.contents if isinstance(c, types.TextResourceContents)]
        expect(texts, f"no text contents: {short(read)}")
        record = json.loads(texts[0].text)
        expect(record.get("id") == self.record_id and record.get("hash") == self.record_hash,
               f"{uri}: id {record.get('id')!r} hash {record.get('hash')!r}, recorded {self.record_hash!r}")
        return f"schema ({schema_mime}) and {uri} ({texts[0].mime_type})"

    async def prompts(self) -> str:
        listed = await self.s.list_prompts()
        prompts = {p.name: p for p in listed.prompts}
        for name in ("start_story", "handoff", "gate_review"):
            expect(name in prompts, f"no prompt {name}; listed {sorted(prompts)}")
        args = {a.name: a for a in prompts["start_story"].arguments or []}
        expect("story_id" in args and "role" in args, f"start_story arguments {short(args)}")
        # Without a story id: the next ready story for the role.
        started = await self.s.get_prompt("start_story", {"role": "devops-sre-engineer"})
        first = "".join(m.content.text for m in started.messages if isinstance(m.content, types.TextContent))
        expect(re.search(r"picking up story SRE-\d\d-\d\d", first), f"start_story by role: {short(first)}")
        got = await self.s.get_prompt("start_story", {"story_id": "SRE-04-01"})
        expect(got.messages, "no messages")
        text = "".join(m.content.text for m in got.messages if isinstance(m.content, types.TextContent))
        expect("SRE-04-01" in text and "Provision worker runtime settings" in text,
               f"start_story text does not carry the story: {short(text)}")
        return f"{len(prompts)} prompts; start_story: {len(got.messages)} message(s), {len(text)} chars"


# -- the two transports ------------------------------------------------------------------


async def over_stdio(h: Harness, tmp: Path, results: dict[str, Exercise]) -> None:
    plan = copy_plan(tmp / "stdio")
    errlog_path = tmp / "stdio-server.stderr"
    params = StdioServerParameters(command=str(BIN), args=["serve", "--plan", str(plan)])
    with open(errlog_path, "w", encoding="utf-8") as errlog:
        try:
            with anyio.fail_after(TRANSPORT_TIMEOUT_S):
                async with stdio_client(params, errlog=errlog) as (read, write):
                    async with ClientSession(read, write, read_timeout_seconds=30) as session:
                        ex = Exercise(h, "stdio", session, plan)
                        results["stdio"] = ex
                        await ex.run()
        except Exception as e:  # a broken transport is one failed check
            h.fail("stdio  session", f"{type(e).__name__}: {e}")
    dump_stderr(h, "stdio", errlog_path.read_text(encoding="utf-8", errors="replace"))


class HttpServer:
    """`storypack serve --http 127.0.0.1:0`; the bound address is read from its stderr."""

    ADDR = re.compile(r"serving MCP at (http://\S+)")

    def __init__(self, plan: Path) -> None:
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--plan", str(plan), "--http", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self.ready = threading.Event()
        self.exited_early = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.lines.append(line)
            m = self.ADDR.search(line)
            if m and not self.url:
                self.url = m.group(1)
                self.ready.set()
        self.ready.set()  # the process went away

    def wait_ready(self, timeout: float) -> str:
        self.ready.wait(timeout)
        if not self.url:
            code = self.proc.poll()
            when = f"it exited with code {code}" if code is not None else f"within {timeout:.0f} s"
            raise RuntimeError(
                f"no 'serving MCP at' line on its stderr ({when}); "
                f"stderr: {' | '.join(self.lines[-10:]) or '(empty)'}"
            )
        return self.url

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code of the graceful stop
        (None when it had to be killed)."""
        self.exited_early = self.proc.poll() is not None
        if not self.exited_early:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.reader.join(2)
                return None
        self.reader.join(2)
        return self.proc.returncode


async def over_http(h: Harness, tmp: Path, results: dict[str, Exercise]) -> None:
    plan = copy_plan(tmp / "http")
    server = HttpServer(plan)
    try:
        url = await anyio.to_thread.run_sync(server.wait_ready, SERVER_START_TIMEOUT_S)
        await h.check("http  server announces its address", lambda: _ok(url))
        with anyio.fail_after(TRANSPORT_TIMEOUT_S):
            async with streamable_http_client(url) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=30) as session:
                    ex = Exercise(h, "http", session, plan)
                    results["http"] = ex
                    await ex.run()
    except Exception as e:  # a broken transport is one failed check
        h.fail("http  session", f"{type(e).__name__}: {e}")
    finally:
        started = time.monotonic()
        code = await anyio.to_thread.run_sync(server.stop)
        took = time.monotonic() - started

    async def stopped() -> str:
        expect(not server.exited_early, f"the server had already exited (code {code}) before SIGTERM")
        expect(code == 0, f"exit code {code} after SIGTERM" if code is not None else "still running 10 s after SIGTERM; killed")
        return f"exit 0 in {took:.2f} s"

    await h.check("http  server stops on SIGTERM", stopped)
    dump_stderr(h, "http", "\n".join(server.lines))


async def _ok(note: str) -> str:
    return note


def dump_stderr(h: Harness, name: str, text: str) -> None:
    text = text.strip()
    if text and (h.failed or os.environ.get("INTEROP_VERBOSE")):
        tail = "\n".join(text.splitlines()[-30:])
        print(f"--- {name} server stderr (last 30 lines) ---\n{tail}\n---", flush=True)


async def main(h: Harness) -> None:
    results: dict[str, Exercise] = {}
    with tempfile.TemporaryDirectory(prefix="storypack-interop-") as d:
        tmp = Path(d)
        await over_stdio(h, tmp, results)
        await over_http(h, tmp, results)

    async def same_pack() -> str:
        hashes = {t: ex.pack_hash for t, ex in results.items()}
        expect(len(hashes) == 2 and None not in hashes.values(), f"a pack is missing: {hashes}")
        expect(hashes["stdio"] == hashes["http"], f"pack hashes differ: {hashes}")
        return f"hash {hashes['stdio']} over both"

    await h.check("both  build_context_pack is deterministic across transports", same_pack)


def run() -> int:
    h = Harness()
    sdk_warnings = SdkWarnings()
    sdk_logger = logging.getLogger("mcp")
    sdk_logger.addHandler(sdk_warnings)
    sdk_logger.propagate = False
    started = time.monotonic()
    print(f"interop: python MCP SDK {_sdk_version()} against {BIN.relative_to(ROOT) if BIN.is_relative_to(ROOT) else BIN}",
          flush=True)
    if not BIN.is_file():
        h.fail("setup", f"no storypack binary at {BIN} (build it, or set STORYPACK_BIN)")
    else:
        try:
            anyio.run(main, h)
        except Exception as e:  # the harness itself broke: count it, do not hide it
            h.fail("harness", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    print(f"interop: {time.monotonic() - started:.1f} s", flush=True)
    if sdk_warnings.messages:
        print("warnings logged by the SDK (not counted as failures):", flush=True)
        for m in dict.fromkeys(sdk_warnings.messages):
            print(f"  - {m}", flush=True)
    if h.failures:
        print("failures:", flush=True)
        for f in h.failures:
            print(f"  - {f}", flush=True)
    summary = f"{h.passed} passed, {h.failed} failed"
    print(summary, flush=True)
    if path := os.environ.get("INTEROP_SUMMARY"):
        Path(path).write_text(summary + "\n", encoding="utf-8")
    return 0 if h.failed == 0 and h.passed > 0 else 1


def _sdk_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("mcp")


if __name__ == "__main__":
    sys.exit(run())
