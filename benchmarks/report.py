"""The benchmark's one table, rendered from its JSON results."""

from __future__ import annotations

from typing import Any


def _ratio(summary: dict[str, float] | None) -> str:
    if not summary:
        return "n/a"
    return f"{summary['median']:.2f}x ({summary['min']:.2f}-{summary['max']:.2f})"


def _halves(side: dict[str, Any]) -> str:
    return "halves " + ", ".join(f"{rate:.1f}" for rate in side["halves_per_second"])


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(section, subject, ours, reference / before)."""
    out: list[tuple[str, str, str, str]] = []
    cold = results.get("cold_start")
    if cold:
        floor = cold["libraries_floor"]
        section = "cold start to first 200 / hello (wall; CPU)"
        out.append(
            (
                section,
                "library floor",
                f"{_ratio(floor['first_200'])}; CPU {_ratio(floor['cpu'])}",
                f"hello world = 1.00x ({cold['hello_first_200_s']:.2f} s, "
                f"CPU {cold['hello_cpu_s']:.2f} s here)",
            )
        )
        for name, entry in cold["functions"].items():
            # A job's first answer is a whole dry run over every customer.
            subject = name + (" (a dry run)" if name == "reconcile" else "")
            for label, figures in entry.items():
                hello = figures["vs_hello"]
                out.append(
                    (
                        section,
                        subject if label == "ours" else f"{subject} [{label}]",
                        f"{_ratio(hello['first_200'])}; CPU {_ratio(hello['cpu'])}",
                        f"{figures['first_200_s']:.2f} s, CPU {figures['cpu_s']:.2f} s",
                    )
                )
        for name, entry in cold["functions"].items():
            figures = entry["ours"]
            if "running_first_call_s" in figures:
                cold_s, warm_s = figures["first_200_s"], figures["running_first_call_s"]
                out.append(
                    (
                        "first call: instance started for it vs already running",
                        name,
                        f"{cold_s:.2f} s vs {warm_s:.2f} s",
                        "a minimum instance spares the difference",
                    )
                )
        for name, entry in cold["functions"].items():
            for label, figures in entry.items():
                floor_ratio = figures["vs_floor"]
                out.append(
                    (
                        "cold start to first 200 / library floor (wall; CPU)",
                        name if label == "ours" else f"{name} [{label}]",
                        f"{_ratio(floor_ratio['first_200'])}; CPU {_ratio(floor_ratio['cpu'])}",
                        "goal <= 1.10x",
                    )
                )
    for name, answer in (cold or {}).get("baseline_refused", {}).items():
        out.append(
            (
                "cold start to first 200 / library floor (wall; CPU)",
                f"{name} [baseline]",
                "not measured: the baseline refused this tree's first request",
                answer,
            )
        )
    breakdown = results.get("cold_start_breakdown")
    if breakdown:
        for name, step in breakdown["steps"].items():
            out.append(
                (
                    "cold-start steps, fresh interpreter (median)",
                    name,
                    f"CPU {step['cpu_ms']:.0f} ms",
                    f"wall {step['wall_ms']:.0f} ms; loads {', '.join(step['loads']) or '-'}",
                )
            )
    reads = results.get("single_reads") or {}
    for label in ("found", "missing") if reads else ():
        stream, single = reads[label]["batch_stream"], reads[label]["get_document"]
        out.append(
            (
                "one Firestore document read, client CPU (median of rounds)",
                f"{label} document",
                f"GetDocument (get_document) {single['cpu_ms']:.2f} ms "
                f"({single['cpu_ms_min']:.2f}-{single['cpu_ms_max']:.2f})",
                f"BatchGetDocuments (the library's get) {stream['cpu_ms']:.2f} ms "
                f"({stream['cpu_ms_min']:.2f}-{stream['cpu_ms_max']:.2f}); ratio "
                f"{single['cpu_ms'] / stream['cpu_ms']:.2f}x",
            )
        )
    transport = results.get("stripe_transport")
    if transport:
        before, after = transport["requests"], transport["urllib3"]
        out.append(
            (
                "one Stripe read, calling thread's CPU (median of rounds)",
                "an expanded subscription",
                f"Urllib3Client {after['median_ms']:.2f} ms "
                f"({after['min_ms']:.2f}-{after['max_ms']:.2f})",
                f"RequestsClient on a shared session {before['median_ms']:.2f} ms "
                f"({before['min_ms']:.2f}-{before['max_ms']:.2f}); ratio {transport['ratio']:.2f}x",
            )
        )
        typed = transport.get("typed")
        if typed:
            out.append(
                (
                    "one Stripe read, calling thread's CPU (median of rounds)",
                    "an expanded subscription, the answer as",
                    f"JSON (raw.get) {after['median_ms']:.2f} ms "
                    f"({after['min_ms']:.2f}-{after['max_ms']:.2f})",
                    f"the SDK's typed objects, then to_dict {typed['median_ms']:.2f} ms "
                    f"({typed['min_ms']:.2f}-{typed['max_ms']:.2f}); ratio "
                    f"{transport['json_ratio']:.2f}x",
                )
            )
    for label, entry in results.get("latency", {}).items():
        ours, before = entry["ours"], entry.get("baseline")
        text = (
            f"p50 {ours['p50_ms']:.1f} p99 {ours['p99_ms']:.1f} ms; own p50 "
            f"{ours['overhead_p50_ms']:.1f} p99 {ours['overhead_p99_ms']:.1f} ms "
            f"(by sum: {ours.get('overhead_by_sum_p50_ms', float('nan')):.1f}); "
            f"CPU {ours['cpu_ms_per_request']:.1f} ms/req"
        )
        auth = ours.get("auth_p50_ms")
        if auth:
            text += f"; Identity Toolkit wait p50 {auth:.1f} ms (not own work)"
        ref = (
            f"before: own p50 {before['overhead_p50_ms']:.1f} p99 {before['overhead_p99_ms']:.1f}"
            f" ms; CPU {before['cpu_ms_per_request']:.1f} ms/req"
            if before
            else f"stripe {ours['stripe_p50_ms']:.1f} + firestore {ours['firestore_p50_ms']:.1f} ms"
            + (f" + Identity Toolkit {auth:.1f} ms" if auth else "")
        )
        out.append((f"latency, 1 client (n={ours['requests']})", label, text, ref))
    delay = results.get("stripe_delay")
    if delay:
        for label, entry in delay["operations"].items():
            before = entry.get("baseline")
            out.append(
                (
                    f"latency with Stripe {delay['delay_ms']} ms slower, in delays",
                    f"{label} ({entry['stripe_calls']} Stripe calls)",
                    f"{entry['ours']:.2f}",
                    f"before {before:.2f}" if before is not None else "",
                )
            )
    for label, entry in results.get("throughput", {}).items():
        out.append(
            (
                "requests/s, one instance",
                label,
                f"{entry['1_clients']:.0f} at 1 client, {entry['16_clients']:.0f} at 16",
                f"4: {entry['4_clients']:.0f}, 8: {entry['8_clients']:.0f}",
            )
        )
    for row in results.get("calls_per_operation", []):
        out.append(
            (
                "Stripe calls / Firestore round trips",
                row["operation"],
                f"{row['stripe_calls']} / {row['firestore_wire']} "
                f"(logged {row['firestore_logged']})",
                f"article: {row['article']} Stripe",
            )
        )
    for label, entry in results.get("memory", {}).items():
        first, total = entry["requests"]
        out.append(
            (
                "memory, master + worker RSS",
                label,
                f"{entry['rss_first_mib']:.0f} MiB after {first}, {entry['growth_mib']:+.1f} MiB "
                f"by {total}",
                f"at start {entry['rss_start_mib']:.0f} MiB",
            )
        )
    hooks = results.get("webhook_events")
    if hooks and "ours" not in hooks:  # a run before the side-by-side measurement
        out.append(
            (
                "webhook events/s, one instance",
                f"{hooks['events']} events, {hooks['duplicates']} redeliveries",
                f"{hooks['per_second']:.1f}/s",
                f"{hooks['senders']} senders; non-200: {hooks['non_200']}",
            )
        )
    elif hooks:
        ours, before = hooks["ours"], hooks.get("baseline")
        ref = f"{hooks['senders']} senders; non-200: {ours['non_200']}"
        if before:
            ref = (
                f"before: {before['per_second']:.1f}/s ({_halves(before)}), CPU "
                f"{before['cpu_ms_per_event']:.1f} ms/event, non-200: {before['non_200']}; "
                f"ratio {ours['per_second'] / before['per_second']:.2f}x; " + ref
            )
        out.append(
            (
                "webhook events/s, one instance",
                f"{ours['events']} events, {ours['duplicates']} redeliveries",
                f"{ours['per_second']:.1f}/s ({_halves(ours)}), CPU "
                f"{ours['cpu_ms_per_event']:.1f} ms/event",
                ref,
            )
        )
    mails = results.get("mails")
    if isinstance(mails, dict):
        rate = f"{mails['per_second']}/s"
        out.append(("mails/s, one instance", f"{mails['of']} mails", rate, ""))
    elif mails:
        out.append(("mails/s, one instance", "send_email", str(mails), ""))
    return out


def _footer(results: dict[str, Any]) -> str:
    machine = results.get("machine", {})
    # Runs before Identity Toolkit was timed (benchmarks.latency) left its wait in own work.
    timed_auth = any("auth_p50_ms" in e["ours"] for e in results.get("latency", {}).values())
    upstreams = "Stripe, Firestore or Identity Toolkit" if timed_auth else "Stripe or Firestore"
    return (
        f"{machine.get('cpus', '?')} CPUs (load average {results.get('load', '?')}, start -> "
        f"end), Python {machine.get('python', '?')}; {results.get('seconds', '?')} s"
        + (f"; before = git {results['baseline']}" if results.get("baseline") else "")
        + ". Cold-start ratios are medians (min-max) over paired runs; own overhead = latency - "
        f"time at least one {upstreams} call was open (calls at once counted once)."
    )


BEGIN = "<!-- make bench: begin (generated from benchmarks/results.json; do not edit) -->"
END = "<!-- make bench: end -->"


def markdown(results: dict[str, Any]) -> str:
    """The table as Markdown, for docs/performance.md."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| section | subject | measured | reference / before |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(cell(c) for c in row)} |" for row in rows(results)]
    return "\n".join([*lines, "", _footer(results)])


TARGETS_BEGIN = "<!-- make bench targets: begin (generated from benchmarks/results.json) -->"
TARGETS_END = "<!-- make bench targets: end -->"

# The goals (docs/performance.md, Targets): a cold start within this much of the
# library floor's CPU, and a request's own work within these at one client.
COLD_START_GOAL = 1.10
OWN_P50_GOAL_MS, OWN_P99_GOAL_MS = 5.0, 20.0


def _spread(ratio: dict[str, float]) -> str:
    return f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})"


def _cold_start_target(cold: dict[str, Any], every_function: list[str]) -> list[str]:
    floor = cold["libraries_floor"]
    met: list[str] = []
    missed: list[str] = []
    before_met = before_all = 0
    for name, entry in cold["functions"].items():
        ratio = entry["ours"]["vs_floor"]["cpu"]
        (met if ratio["median"] <= COLD_START_GOAL else missed).append(f"{name} {_spread(ratio)}")
        if "baseline" in entry:
            before_all += 1
            before_met += entry["baseline"]["vs_floor"]["cpu"]["median"] <= COLD_START_GOAL
    line = (
        f"- **Cold start within {COLD_START_GOAL:.1f}x of the floor (CPU, median of "
        f"{cold['rounds']}): met by {len(met)} of {len(met) + len(missed)}** "
        f"({', '.join(met) or 'none'}); **missed by** {', '.join(missed) or 'none'}."
    )
    if before_all:
        line += f" The before side, in the same rounds: met by {before_met} of {before_all}."
    unmeasured = [name for name in every_function if name not in cold["functions"]]
    if unmeasured:
        line += (
            f" **Not measured** (the bench starts {len(cold['functions'])} of the "
            f"{len(every_function)} functions; the goal is unknown for these): "
            + ", ".join(f"`{name}`" for name in unmeasured)
            + "."
        )
    return [
        f"- **The library floor** starts at {_spread(floor['first_200'])} of hello world on the "
        f"wall clock and {_spread(floor['cpu'])} in CPU.",
        line,
    ]


def _own_work_target(own: list[tuple[str, dict[str, Any]]]) -> str:
    within: list[str] = []
    beyond: list[str] = []
    for label, o in own:
        text = (
            f"{label} {o['overhead_p50_ms']} / {o['overhead_p99_ms']} ms "
            f"(CPU {o['cpu_ms_per_request']} ms/req)"
        )
        ok = o["overhead_p50_ms"] <= OWN_P50_GOAL_MS and o["overhead_p99_ms"] <= OWN_P99_GOAL_MS
        (within if ok else beyond).append(text)
    return (
        f"- **Own work <= {OWN_P50_GOAL_MS:.0f} ms p50 and <= {OWN_P99_GOAL_MS:.0f} ms p99 (one "
        f"client): met by {len(within)} of {len(own)}** ({', '.join(within) or 'none'}); "
        f"**missed by** {', '.join(beyond) or 'none'}."
    )


def targets(results: dict[str, Any], every_function: list[str]) -> str:
    """The Targets section's figures, met or missed, for docs/performance.md; the functions the
    cold start does not measure are named (``every_function``: the registry's)."""
    lines = []
    latency = results.get("latency", {})
    hello = latency.get("hello world", {}).get("ours")
    if hello:
        lines += [
            f"Measured at load average {results.get('load', '?')} on "
            f"{results.get('machine', {}).get('cpus', '?')} cores. Hello world's own overhead "
            f"read {hello['overhead_p50_ms']} ms p50 (CPU {hello['cpu_ms_per_request']} ms per "
            "request).",
            "",
        ]
    if results.get("cold_start"):
        lines += _cold_start_target(results["cold_start"], every_function)
    own = [(label, e["ours"]) for label, e in latency.items() if label != "hello world"]
    if own:
        lines.append(_own_work_target(own))
    hooks = results.get("webhook_events")
    if hooks:
        ours, before = hooks["ours"], hooks.get("baseline")
        versus = (
            f", against {before['per_second']}/s before in the same run "
            f"({ours['per_second'] / before['per_second']:.2f}x)"
            if before
            else ""
        )
        lines.append(
            f"- **Webhook events/s, one instance: {ours['per_second']}/s{versus}** "
            f"({ours['events']} events, {ours['duplicates']} redeliveries, {hooks['senders']} "
            f"senders, non-200: {ours['non_200']})."
        )
    return "\n".join(lines)


def registry_functions() -> list[str]:
    """Every function the registry deploys, by name."""
    from app.registry import FUNCTIONS

    return [fn.name for fn in FUNCTIONS]


def _between(doc: str, begin: str, end: str, text: str) -> str:
    head, found, rest = doc.partition(begin)
    _, ended, tail = rest.partition(end)
    if not (found and ended):
        raise ValueError(f"the markers {begin!r} and {end!r} are missing")
    return f"{head}{begin}\n{text}\n{end}{tail}"


def write_into(doc: str, results: dict[str, Any], every_function: list[str] | None = None) -> str:
    """``doc`` with the text between the markers replaced by the table of ``results``, and the
    Targets' figures between theirs when ``doc`` has them (``every_function``: the registry's
    unless given)."""
    doc = _between(doc, BEGIN, END, markdown(results))
    if TARGETS_BEGIN in doc:
        functions = registry_functions() if every_function is None else every_function
        doc = _between(doc, TARGETS_BEGIN, TARGETS_END, targets(results, functions))
    return doc


def render(results: dict[str, Any]) -> str:
    table = [("section", "subject", "measured", "reference / before")]
    table += rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("\n" + _footer(results))
    return "\n".join(lines).rstrip()
