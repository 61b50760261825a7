"""Write the results: a markdown table, JSON for tools and a PNG bar plot (if matplotlib is there)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from vs_gitolite.results import Row


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    ms = value * 1000
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.2f} ms"


def markdown(rows: list[Row], meta: dict) -> str:
    lines = [
        "# gitolite-triggers vs gitolite3: side by side",
        "",
        f"Run {meta['started']} on {meta['host']} ({meta['cpus']} CPUs); gitolite3 {meta['gitolite_version']}, "
        f"git {meta['git_version']}, Python {meta['python_version']} for ours; mode: {meta['mode']}.",
        f"Command: `{meta['command']}`. Medians of the runs shown (systems alternated run by run). "
        f"Load average (1/5/15 min) at start {meta.get('loadavg_at_start')}, at end {meta.get('loadavg_at_end')}; "
        f"the whole run took {meta.get('seconds')} s.",
        "",
        "| measure | repos | gitolite | ours | git-shell floor | ours/gitolite | target | verdict | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        ratio = "–" if row.ratio is None else f"{row.ratio:.2f}"
        size = "" if row.size is None else f"{row.size:,}"
        lines.append(
            f"| {row.measure} | {size} | {_ms(row.gitolite)} | {_ms(row.ours)} | {_ms(row.floor)} | {ratio} | "
            f"≤ {row.target:g} | {row.verdict} | {row.reps} |"
        )
    notes = [row for row in rows if row.note]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [
            f"- {row.measure}{'' if row.size is None else f' @ {row.size:,}'}: {row.note}"
            for row in notes
        ]
    if meta.get("remarks"):
        lines += ["", *[f"- {r}" for r in meta["remarks"]]]
    return "\n".join(lines) + "\n"


def write(out_dir: Path, stem: str, rows: list[Row], meta: dict, log=print) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": out_dir / f"{stem}.md",
        "json": out_dir / f"{stem}.json",
        "png": out_dir / f"{stem}.png",
    }
    paths["md"].write_text(markdown(rows, meta))
    paths["json"].write_text(
        json.dumps({"meta": meta, "rows": [r.to_json() for r in rows]}, indent=1) + "\n"
    )
    if not plot(rows, paths["png"], meta):
        log("matplotlib is not installed: no PNG plot (pip install matplotlib)")
        del paths["png"]
    return paths


def plot(rows: list[Row], path: Path, meta: dict) -> bool:
    """Horizontal bars per measure, ours beside gitolite's, log time axis."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    shown = [r for r in rows if (r.gitolite or 0) > 0 or (r.ours or 0) > 0]
    if not shown:
        return False
    labels = [r.measure + ("" if r.size is None else f" @{r.size:,}") for r in shown]
    height = max(3.0, 0.42 * len(shown) + 1.2)
    fig, ax = plt.subplots(figsize=(10, height))
    ys = list(range(len(shown)))
    for offset, attr, name, color in (
        (0.2, "gitolite", "gitolite3", "#999999"),
        (-0.2, "ours", "gitolite-triggers", "#2a7ab9"),
    ):
        pairs = [
            (y, getattr(r, attr))
            for y, r in zip(ys, shown, strict=True)
            if (getattr(r, attr) or 0) > 0
        ]
        ax.barh(
            [y + offset for y, _ in pairs],
            [v * 1000 for _, v in pairs],
            height=0.4,
            label=name,
            color=color,
        )
    top = max(max(r.gitolite or 0, r.ours or 0) for r in shown) * 1000
    for y, r in zip(ys, shown, strict=True):
        if r.ratio is not None:
            ax.text(
                max(r.gitolite, r.ours) * 1000 * 1.08, y, f"×{r.ratio:.2f}", va="center", fontsize=8
            )
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=10 ** (math.log10(top) + 0.6))
    ax.set_xlabel("median wall time, ms (log scale); label: ours/gitolite")
    ax.set_title(f"gitolite-triggers vs gitolite3 ({meta['mode']}, {meta['started']})", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
