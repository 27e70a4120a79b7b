"""A command's end-of-run summary, written by print_summary, read back by the benches."""

import io

from empathyqa.progress import print_summary, summary_figures


def test_summary_figures_reads_back_the_numbers_print_summary_wrote():
    out = io.StringIO()
    print_summary(
        "annotation draft -> drafts",
        {"pairs selected": 12_345, "requests/s steady state": 125.04, "model": "offline-sample"},
        file=out,
    )
    text = "drafting ...\n" + out.getvalue() + "  loop lag p99 ms  14.37\n"
    assert summary_figures(text) == {
        "pairs selected": 12345.0,
        "requests/s steady state": 125.04,
        "loop lag p99 ms": 14.37,
    }
