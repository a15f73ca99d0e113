"""Summary math and plots over results rows."""

from __future__ import annotations

from experiments.plots import proved_over_time, write_plots
from experiments.results import TIME_KEYS, ResultRow
from experiments.summary import summarize, summarize_by_backend, table_markdown

PNG = b"\x89PNG\r\n\x1a\n"


def row(backend: str, theorem: str, proved: bool, wall: float, ttp: float | None, lat: list[float]) -> ResultRow:
    return ResultRow(
        run="r", theorem=theorem, file="f.lean", difficulty=1, backend=backend, repeat=0, seed=0,
        status="proved" if proved else "wall", proved=proved, proof=["trivial"] if proved else None,
        proof_text=None, recheck="passed" if proved else "none", recheck_message="", expansions=len(lat),
        nodes=len(lat) + 1, wall_s=wall, time_to_proof_s=ttp, time={k: 0.5 for k in TIME_KEYS},
        peak_memory_bytes=1000 if backend == "criu" else 2000, image_bytes=5000 if backend == "criu" else 10,
        expansion_latencies_s=lat, errors=[], tree=None,
    )


ROWS = [
    row("criu", "a", True, 1.0, 0.5, [0.1, 0.2]),
    row("criu", "b", False, 2.0, None, [0.1, 0.3, 0.2, 0.1]),
    row("criu", "c", True, 1.0, 0.8, [0.4]),
    row("pickle", "a", True, 3.0, 2.0, [1.0, 1.5]),
    row("pickle", "b", False, 2.0, None, [1.0]),
    row("pickle", "c", False, 2.0, None, []),
]


def test_proved_over_time_is_cumulative():
    crius = [r for r in ROWS if r.backend == "criu"]
    assert proved_over_time(crius) == [(0.0, 0), (0.5, 1), (3.8, 2), (4.0, 2)]


def test_summary_figures():
    s = summarize("criu", [r for r in ROWS if r.backend == "criu"])
    assert (s.rows, s.proved, s.rechecked) == (3, 2, 2)
    assert s.median_time_to_proof_s == 0.65
    assert s.expansions == 7 and s.wall_s == 4.0 and s.expansions_per_s == 7 / 4.0
    assert s.time == {k: 1.5 for k in TIME_KEYS}
    assert s.peak_memory_bytes == 1000 and s.image_bytes == 5000
    p = summarize("pickle", [r for r in ROWS if r.backend == "pickle"])
    assert p.proved == 1 and p.median_time_to_proof_s == 2.0


def test_table_and_plots_name_every_backend(tmp_path):
    table = table_markdown(summarize_by_backend(ROWS))
    assert "| criu | 2/3 | 2/2 |" in table and "| pickle | 1/3 | 1/1 |" in table
    plots = write_plots(ROWS, tmp_path)
    assert set(plots) == {"proved_vs_time", "expansion_latency", "time_split"}
    for p in plots.values():
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
        assert png_backends(p) == ["criu", "pickle"]


def png_backends(path) -> list[str]:
    """The backends a plot names in its PNG Description chunk."""
    from PIL import Image

    with Image.open(path) as im:
        desc = im.info["Description"]
    assert desc.startswith("backends: ")
    return desc[len("backends: "):].split(", ")
