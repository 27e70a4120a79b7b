"""Reports: JSON (everything), Markdown (the tables a reader wants) and a Win@K bar chart (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from empathyqa.io import write_json_atomic
from training.evaluate.ranking import DIMENSIONS, OVERALL

AUTOMATIC_COLUMNS = [  # (key, title, decimals)
    ("rouge_l", "ROUGE-L", 3),
    ("bleu_4", "BLEU-4", 3),
    ("distinct_1", "Distinct-1", 3),
    ("distinct_2", "Distinct-2", 3),
    ("length_mean", "Length (mean)", 1),
    ("length_median", "Length (median)", 1),
    ("format_adherence", "CoE format", 3),
    ("errors", "errors", 0),
]


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _with_ci(cell: dict[str, Any], digits: int = 3) -> str:
    text = _num(cell["value"], digits)
    if cell.get("ci"):
        low, high = cell["ci"]
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def automatic_markdown(automatic: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| system | " + " | ".join(title for _, title, _ in AUTOMATIC_COLUMNS) + " |"]
    lines.append("|---" * (len(AUTOMATIC_COLUMNS) + 1) + "|")
    for system, metrics in automatic.items():
        lines.append(
            f"| {system} | "
            + " | ".join(_num(metrics.get(key), digits) for key, _, digits in AUTOMATIC_COLUMNS)
            + " |"
        )
    return lines


def ranking_markdown(table: dict[str, dict], ks: list[int]) -> list[str]:
    """Overall Win@K / mean rank with CIs, then Win@1 and mean rank per dimension."""
    lines: list[str] = []
    overall = table.get(OVERALL)
    if not overall:
        return ["No valid rankings."]
    lines.append(f"Overall (mean of the four dimensions), {overall['posts']} posts, 95% bootstrap CI:")
    lines.append("")
    lines.append("| system | " + " | ".join(f"Win@{k}" for k in ks) + " | mean rank |")
    lines.append("|---" * (len(ks) + 2) + "|")
    for system, cells in overall["systems"].items():
        row = [_with_ci(cells[f"win@{k}"]) for k in ks] + [_with_ci(cells["mean_rank"], 2)]
        lines.append(f"| {system} | " + " | ".join(row) + " |")
    lines += ["", "Per dimension (Win@1 / mean rank):", ""]
    dims = [d for d in DIMENSIONS if d in table]
    lines.append("| system | " + " | ".join(dims) + " |")
    lines.append("|---" * (len(dims) + 1) + "|")
    for system in overall["systems"]:
        cells = [
            f"{table[d]['systems'][system]['win@1']['value']:.3f} / {table[d]['systems'][system]['mean_rank']['value']:.2f}"
            for d in dims
        ]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return lines


def agreement_markdown(agreement: dict[str, Any], who: str) -> list[str]:
    by_dim = ", ".join(f"{d} {w:.3f}" for d, w in agreement.get("kendalls_w_by_dimension", {}).items())
    return [
        f"- {who}: {agreement['sources']}; rankings of the same post and dimension by two or more: "
        f"{agreement['items_with_overlap']}",
        f"- Kendall's W (mean): {_num(agreement['kendalls_w'])}" + (f" ({by_dim})" if by_dim else ""),
        f"- Krippendorff's alpha (ordinal): {_num(agreement['krippendorff_alpha_ordinal'])}",
    ]


def win_chart(table: dict[str, dict], ks: list[int], path: Path, title: str) -> Path | None:
    """Grouped bars: one group per K, one bar per system, bootstrap CI as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    overall = table.get(OVERALL)
    if not overall:
        return None
    systems = list(overall["systems"])
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(max(6.4, 1.5 + 0.8 * len(ks) * len(systems)), 4.2), dpi=120)
    x = np.arange(len(ks))
    for i, system in enumerate(systems):
        cells = [overall["systems"][system][f"win@{k}"] for k in ks]
        values = np.array([c["value"] for c in cells])
        errors = None
        if all(c.get("ci") for c in cells):
            errors = np.array(
                [[v - c["ci"][0], c["ci"][1] - v] for v, c in zip(values, cells, strict=True)]
            ).T
            errors = np.clip(errors, 0, None)
        bars = ax.bar(
            x + (i - (len(systems) - 1) / 2) * width, values, width, yerr=errors, capsize=3, label=system
        )
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(x, [f"Win@{k}" for k in ks])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("share of posts")
    ax.set_title(f"{title} ({overall['posts']} posts, 95% bootstrap CI)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(
    out: Path, report: dict[str, Any], markdown: list[str], chart_from: dict | None, ks: list[int], title: str
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": write_json_atomic(report, out / "report.json")}
    chart = win_chart(chart_from, ks, out / "win_at_k.png", title) if chart_from else None
    if chart:
        files["png"] = chart
        markdown = [*markdown, "", f"![Win@K per system]({chart.name})"]
    md = out / "report.md"
    md.write_text("\n".join(markdown) + "\n", encoding="utf-8")
    files["markdown"] = md
    return files
