"""`report.png`: four panels, each answering one question about a run.

1. What happened to each source's documents?  Per source, the documents read as 100 %: kept, removed by each
   stage, quarantined by its reader; the counts read and kept beside the bar.
2. How much text of each source was read and kept?  Millions of characters per source, read against kept.
3. How did the mix of the corpus change?  Each source's share of documents and of characters, read and kept.
4. Where did the time go?  Task-seconds per stage of each pass and per index job (those under 1 % together).

The numbers come from stats.json through the rows that `curate.report` builds, so chart and tables agree.
"""

from pathlib import Path

# one colour per source (mix panel) and per stage (funnel panel): colour-blind safe (Okabe-Ito), then tab20
SOURCE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
SMALL_SHARE = 0.01  # steps under this share of the time are one bar in the time panel
KEPT, QUARANTINED = "#4d4d4d", "#bdbdbd"


def _swatch(colour):
    from matplotlib.patches import Rectangle

    return Rectangle((0, 0), 1, 1, color=colour)


def _mil(chars: int) -> float:
    return chars / 1e6


def plot_report(funnels: dict, mix: dict, times: list[tuple[str, float, str]], title: str, path: Path) -> None:
    """`funnels`: {source: {"records", "kept", "quarantined", "removed_by_stage": {stage: n}, "chars_in",
    "chars_kept"}}; `mix`: {source: (docs read, docs kept, chars read, chars kept)}; `times`: (label, task-seconds,
    group) in the order to show."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(funnels)
    fig = plt.figure(figsize=(15, max(8.5, 4.2 + 0.55 * max(len(sources), len(times) / 2))))
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1], hspace=0.6, wspace=0.4)
    panels = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 0])]
    if funnels:
        _plot_funnel(panels[0], funnels, plt.get_cmap("tab20"))
        _plot_chars(panels[1], funnels)
        _plot_mix(panels[2], mix)
    else:  # stats.json of an earlier curate
        for ax in panels:
            ax.text(0.5, 0.5, "no counts per source in this stats.json:\nrun the recipe again", ha="center", va="center")
            ax.axis("off")
    _plot_time(fig.add_subplot(grid[1, 1]), times)
    fig.suptitle(title, fontsize=13)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _plot_funnel(ax, funnels: dict, cmap) -> None:
    sources = list(funnels)
    stages = list(dict.fromkeys(st for f in funnels.values() for st, n in f["removed_by_stage"].items() if n))
    colours = {st: cmap(i % 20) for i, st in enumerate(stages)}
    for y, src in enumerate(sources):
        f = funnels[src]
        total = max(f["records"], 1)
        left = 0.0
        segments = [("kept", f["kept"], KEPT)] + [(st, f["removed_by_stage"].get(st, 0), colours[st]) for st in stages]
        segments.append(("quarantined by the reader", f["quarantined"], QUARANTINED))
        for _, n, colour in segments:
            if n:
                ax.barh(y, 100 * n / total, left=left, color=colour, edgecolor="white", linewidth=0.5)
                left += 100 * n / total
    handles = [_swatch(KEPT)] + [_swatch(colours[s]) for s in stages]
    labels = ["kept"] + [f"removed by {s}" for s in stages]
    if any(f["quarantined"] for f in funnels.values()):
        handles.append(_swatch(QUARANTINED))
        labels.append("quarantined by the reader")
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=3, frameon=False)
    ticks = [f"{src}\n{f['records']:,} read\n{f['kept']:,} kept ({100 * f['kept'] / max(f['records'], 1):.0f} %)"
             for src, f in funnels.items()]
    ax.set_yticks(range(len(sources)), ticks, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the source's records read")
    ax.set_title("1. What happened to each source's documents?", loc="left", fontsize=10)


def _plot_chars(ax, funnels: dict) -> None:
    sources = list(funnels)
    y = range(len(sources))
    read = [_mil(funnels[s]["chars_in"]) for s in sources]
    kept = [_mil(funnels[s]["chars_kept"]) for s in sources]
    ax.barh([v - 0.2 for v in y], read, height=0.4, color="#9ecae1", label="read (as the reader gives it: HTML for web pages)")
    ax.barh([v + 0.2 for v in y], kept, height=0.4, color="#08519c", label="kept")
    top = max(read + kept + [1e-9])
    for v, r, k in zip(y, read, kept):
        ax.text(r + top * 0.01, v - 0.2, f"{r:.2f}", va="center", fontsize=7)
        ax.text(k + top * 0.01, v + 0.2, f"{k:.2f}" + (f" ({100 * k / r:.0f} %)" if r else ""), va="center", fontsize=7)
    ax.set_xlim(0, top * 1.25)
    ax.set_yticks(list(y), sources)
    ax.invert_yaxis()
    ax.set_xlabel("millions of characters")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=2, frameon=False)
    ax.set_title("2. How much text of each source was read and kept?", loc="left", fontsize=10)


def _plot_mix(ax, mix: dict) -> None:
    rows = ["documents read", "documents kept", "characters read", "characters kept"]
    totals = [sum(v[i] for v in mix.values()) for i in range(4)]
    for j, (src, values) in enumerate(mix.items()):
        lefts = [sum(list(mix.values())[k][i] for k in range(j)) for i in range(4)]
        shares = [100 * values[i] / totals[i] if totals[i] else 0 for i in range(4)]
        starts = [100 * lefts[i] / totals[i] if totals[i] else 0 for i in range(4)]
        colour = SOURCE_COLOURS[j % len(SOURCE_COLOURS)]
        ax.barh(range(4), shares, left=starts, color=colour, edgecolor="white", label=src)
        for i, (share, start) in enumerate(zip(shares, starts)):
            if share >= 6:
                ax.text(start + share / 2, i, f"{share:.0f} %", ha="center", va="center", fontsize=8, color="white")
    ax.set_yticks(range(4), rows)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the corpus")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.2), ncol=len(mix), frameon=False)
    ax.set_title("3. How did the mix of sources change?", loc="left", fontsize=10)


def _plot_time(ax, times: list[tuple[str, float, str]]) -> None:
    total = sum(t for _, t, _ in times)
    shown = [row for row in times if total and row[1] >= SMALL_SHARE * total]
    if rest := [t for _, t, _ in times if not total or t < SMALL_SHARE * total]:
        shown.append((f"{len(rest)} other steps, each under {SMALL_SHARE:.0%}", sum(rest), "other"))
    times = shown
    groups = list(dict.fromkeys(g for _, _, g in times))
    colours = {g: SOURCE_COLOURS[i % len(SOURCE_COLOURS)] for i, g in enumerate(groups)} | {"other": QUARANTINED}
    y = range(len(times))
    ax.barh(list(y), [t for _, t, _ in times], color=[colours[g] for _, _, g in times])
    top = max([t for _, t, _ in times] + [1e-9])
    for v, (_, t, _) in zip(y, times):
        ax.text(t + top * 0.01, v, f"{t:.1f} s ({100 * t / total:.0f} %)" if total else "0 s", va="center", fontsize=7)
    ax.set_xlim(0, top * 1.3)
    ax.set_yticks(list(y), [label for label, _, _ in times], fontsize=8)
    ax.invert_yaxis()
    ax.legend([_swatch(colours[g]) for g in groups], groups, fontsize=7, loc="lower right", title="job", title_fontsize=7)
    ax.set_xlabel("task-seconds (summed over the tasks of a job)")
    ax.set_title("4. Where did the time go?", loc="left", fontsize=10)
