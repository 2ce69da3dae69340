"""``aegen report``: how the page stores the run's images (one copy per content, lossless
re-encodings, plot sizes); the page itself is tested in test_report.py."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from test_report import full_run, read_page, trained_only  # noqa: F401  (the shared run fixtures)


def test_the_full_runs_plots_are_at_most_1280_px_wide_and_the_report_stores_its_images_in_far_fewer_bytes(
        full_run, tmp_path):
    from PIL import Image

    from aegen.plots import MAX_FIGURE_WIDTH
    from aegen.report import write_report

    assert MAX_FIGURE_WIDTH == 1280
    pngs = [p for p in full_run.rglob("*.png") if "report" not in p.relative_to(full_run).parts]
    widths = {}
    for path in pngs:
        with Image.open(path) as img:
            widths[path] = img.width
    assert max(widths.values()) <= MAX_FIGURE_WIDTH
    assert any(w > MAX_FIGURE_WIDTH - 3 for w in widths.values())  # wide plots are drawn at the lower dpi
    index = write_report(full_run, out_dir=tmp_path / "report")
    _, page = read_page(index)
    stored = {src for src in page.images}
    stored_bytes = sum((index.parent / src).stat().st_size for src in stored)
    source_bytes = sum(len(p.read_bytes()) for p in {p.resolve(): p for p in pngs}.values())
    assert all(src.endswith((".png", ".webp")) for src in stored) and any(src.endswith(".webp") for src in stored)
    assert stored_bytes < 0.7 * source_bytes, (stored_bytes, source_bytes)


def test_a_second_report_removes_only_its_own_images_it_no_longer_shows(trained_only):
    from aegen.report import write_report

    from PIL import Image

    folder = trained_only / "samples" / "gaussian"
    folder.mkdir(parents=True)
    with Image.open(trained_only / "recon_grid.png") as grid:  # a grid of its own (one of the same bytes is shared)
        grid.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "grid.png")
    index = write_report(trained_only)
    images = index.parent / "images"
    assert stored_image(images, "samples-gaussian-grid").is_file()
    foreign = images / "kept.png"
    shutil.copy(trained_only / "recon_grid.png", foreign)
    shutil.rmtree(trained_only / "samples")
    _, page = read_page(write_report(trained_only))
    assert not list(images.glob("samples-gaussian-grid.*"))
    assert foreign.is_file() and stored_image(images, "recon_grid").is_file()
    assert all((index.parent / src).is_file() for src in page.images)


def test_two_files_with_the_same_bytes_are_one_image_in_the_report(trained_only, tmp_path):
    from aegen.report import write_report

    folder = trained_only / "samples" / "gaussian"
    folder.mkdir(parents=True)
    shutil.copy(trained_only / "recon_grid.png", folder / "grid.png")  # as the evaluation copies a sample grid
    index = write_report(trained_only, out_dir=tmp_path / "report")
    _, page = read_page(index)
    assert page.images.count(f"images/{stored_image(index.parent / 'images', 'recon_grid').name}") == 2
    assert not list((index.parent / "images").glob("samples-gaussian-grid.*"))
    _, embedded = read_page(write_report(trained_only, out_dir=tmp_path / "single", embed=True))
    assert len(embedded.images) == len(page.images)


def _plot_png(path: Path) -> bytes:
    """A matplotlib plot saved as matplotlib saves one: RGBA, every pixel opaque, line art and text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 6, 200)
    ax.plot(x, np.sin(x), label="sin")
    ax.scatter(x[::10], np.cos(x[::10]), s=8, color="tab:orange", label="cos")
    ax.set_xlabel("PCA component 0")
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.read_bytes()


def _pixels(data: bytes, mode: str = "RGB") -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        assert img.format in ("PNG", "WEBP")
        return np.asarray(img.convert(mode))


def stored_image(images: Path, stem: str) -> Path:
    """The report's one copy of an image, stored as <stem>.png or <stem>.webp."""
    found = [p for p in images.glob(f"{stem}.*") if p.suffix in (".png", ".webp")]
    assert len(found) == 1, found
    return found[0]


def test_an_opaque_rgba_plot_is_stored_as_a_smaller_rgb_png_with_the_same_pixels(tmp_path):
    from PIL import Image

    from aegen.report.assets import compact_png

    data = _plot_png(tmp_path / "plot.png")
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGBA"
    compact = compact_png(data)
    assert len(compact) < len(data)
    with Image.open(io.BytesIO(compact)) as img:
        assert img.format == "PNG" and img.mode == "RGB"
    assert np.array_equal(_pixels(compact, "RGBA"), _pixels(data, "RGBA"))


def test_a_face_grid_stays_a_png_with_the_same_pixels_and_no_more_bytes(trained_only):
    from aegen.report.assets import compact_png

    data = (trained_only / "recon_grid.png").read_bytes()
    compact = compact_png(data)
    assert len(compact) <= len(data)
    assert np.array_equal(_pixels(compact), _pixels(data))


def test_images_that_compact_png_cannot_improve_are_left_as_they_are():
    from PIL import Image

    from aegen.report.assets import compact_png

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    noise[..., 3] = rng.integers(0, 256, (32, 32), dtype=np.uint8)  # transparency that matters: kept
    buffer = io.BytesIO()
    Image.fromarray(noise, "RGBA").save(buffer, format="PNG", compress_level=9)
    assert compact_png(buffer.getvalue()) == buffer.getvalue()
    jpeg = io.BytesIO()
    Image.fromarray(noise[..., :3], "RGB").save(jpeg, format="JPEG")
    assert compact_png(jpeg.getvalue()) == jpeg.getvalue()
    assert compact_png(b"not an image") == b"not an image"


def test_the_report_stores_the_run_figures_pixel_for_pixel_and_leaves_them_untouched(trained_only, tmp_path):
    from PIL import Image

    from aegen.report import write_report

    plot = trained_only / "samples" / "gaussian" / "pca_plane.png"
    plot.parent.mkdir(parents=True)
    shutil.copy(trained_only / "recon_grid.png", plot.parent / "grid.png")
    source = _plot_png(plot)
    grid = (trained_only / "recon_grid.png").read_bytes()
    index = write_report(trained_only, out_dir=tmp_path / "report")
    images = index.parent / "images"
    stored = (images / "samples-gaussian-pca_plane.webp").read_bytes()  # a plot: smaller as lossless WebP
    assert len(stored) < len(source) and np.array_equal(_pixels(stored, "RGBA"), _pixels(source, "RGBA"))
    assert np.array_equal(_pixels(stored_image(images, "recon_grid").read_bytes()), _pixels(grid))
    assert plot.read_bytes() == source and (trained_only / "recon_grid.png").read_bytes() == grid
    _, page = read_page(index)  # the report's own figure (the training curve): its drawing is not left behind
    assert sorted(p.name for p in images.iterdir() if not p.name.startswith(".")) == \
        sorted({Path(src).name for src in page.images})
    with Image.open(stored_image(images, "training-curve")) as curve:
        assert curve.mode == "RGB" and curve.width <= 1280
    _, page = read_page(write_report(trained_only, out_dir=tmp_path / "single", embed=True))
    embedded = [base64.b64decode(src.split(",", 1)[1]) for src in page.images]
    assert any(np.array_equal(_pixels(data, "RGBA"), _pixels(source, "RGBA")) for data in embedded
               if _pixels(data).shape == _pixels(source).shape)
    assert not (tmp_path / "single" / "images").exists()


def test_a_plot_is_stored_as_lossless_webp_only_where_it_is_smaller_and_pixel_exact(tmp_path):
    from PIL import Image

    from aegen.report.assets import compact_image, compact_png, lossless_webp

    data = _plot_png(tmp_path / "plot.png")
    stored, kind = compact_image(data)
    assert kind == "webp" and len(stored) < len(compact_png(data)) < len(data)
    assert np.array_equal(_pixels(stored, "RGBA"), _pixels(data, "RGBA"))
    rng = np.random.default_rng(1)
    see_through = rng.integers(0, 256, (24, 40, 4), dtype=np.uint8)  # real transparency, kept exactly
    buffer = io.BytesIO()
    Image.fromarray(see_through, "RGBA").save(buffer, format="PNG")
    webp = lossless_webp(buffer.getvalue())
    assert webp is not None and np.array_equal(_pixels(webp, "RGBA"), see_through)
    noise = io.BytesIO()  # noise: lossless WebP is no smaller than PNG here, so the PNG stays
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), "RGB").save(noise, format="PNG")
    stored, kind = compact_image(noise.getvalue())
    assert kind == "png" or len(stored) < len(compact_png(noise.getvalue()))
    assert lossless_webp(b"not an image") is None and compact_image(b"not an image") == (b"not an image", "png")


def test_a_plot_is_drawn_at_most_max_figure_width_pixels_wide_and_narrow_plots_keep_their_dpi(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from aegen.plots import FIGURE_DPI, MAX_FIGURE_WIDTH, save_figure

    def figure(width):
        fig, axes = plt.subplots(1, 3, figsize=(width, 4))
        for ax in axes:
            ax.plot([0, 1], [0, 1])
        axes[1].legend(["a long legend entry that sticks out of the axes"], loc="upper left",
                       bbox_to_anchor=(0.5, 1.3))
        fig.suptitle("a title")
        return fig

    with Image.open(save_figure(figure(16), tmp_path / "wide.png")) as wide:
        assert MAX_FIGURE_WIDTH - 2 <= wide.width <= MAX_FIGURE_WIDTH  # 16 inches at FIGURE_DPI: 1920 px and more
    narrow = figure(5)
    narrow.savefig(tmp_path / "as-before.png", dpi=FIGURE_DPI, bbox_inches="tight")
    with Image.open(save_figure(narrow, tmp_path / "narrow.png")) as new, Image.open(tmp_path / "as-before.png") as old:
        assert old.width < MAX_FIGURE_WIDTH and abs(new.width - old.width) <= 1 and abs(new.height - old.height) <= 1
    assert not plt.get_fignums()  # closed


def test_a_plot_inside_its_figure_is_drawn_once_and_cropped_as_savefig_crops_it(tmp_path, monkeypatch):
    """The one-pass crop writes savefig's tight image (same size; pixels equal up to savefig's sub-pixel
    shift) from a single drawing; an artist past the figure's edge takes the two-pass way, which draws it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    from aegen.plots import FIGURE_DPI, MAX_FIGURE_WIDTH, save_figure

    def figure(outside=False):
        fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
        a.plot([0, 1, 2], [2, 0, 1], "o-", label="a line")
        a.legend()
        b.imshow(np.arange(64.0).reshape(8, 8))
        fig.suptitle("a title")
        fig.tight_layout()
        if outside:
            fig.text(1.05, 0.5, "past the right edge")
        return fig

    draws = []
    real_draw = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: (draws.append(1), real_draw(self))[1])
    save_figure(figure(), tmp_path / "once.png")
    assert len(draws) == 1
    reference = figure()
    reference.savefig(tmp_path / "savefig.png", dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(reference)
    with Image.open(tmp_path / "once.png") as new, Image.open(tmp_path / "savefig.png") as old:
        assert new.size == old.size and new.info["dpi"] == pytest.approx((FIGURE_DPI, FIGURE_DPI), abs=0.05)  # pixels per metre in the file
        a, b = np.asarray(new.convert("RGBA"), dtype=int), np.asarray(old.convert("RGBA"), dtype=int)
    assert np.abs(a - b).mean() < 5 and (a == b).all(-1).mean() > 0.9
    assert (a[0, :, :3] == 255).all() and (a[-1, :, :3] == 255).all()  # the padding is the face colour
    draws.clear()
    wide = figure()
    wide.set_size_inches(16, 3)  # 1920 px at FIGURE_DPI: drawn at the dpi that makes its box 1280 px wide
    wide.tight_layout()
    with Image.open(save_figure(wide, tmp_path / "wide.png")) as image:
        assert len(draws) <= 2 and MAX_FIGURE_WIDTH - 2 <= image.width <= MAX_FIGURE_WIDTH
    draws.clear()
    save_figure(figure(outside=True), tmp_path / "outside.png")
    reference = figure(outside=True)
    reference.savefig(tmp_path / "outside-savefig.png", dpi=FIGURE_DPI, bbox_inches="tight")
    plt.close(reference)
    with Image.open(tmp_path / "outside.png") as new, Image.open(tmp_path / "outside-savefig.png") as old:
        assert len(draws) > 1 and abs(new.width - old.width) <= 1 and new.width > 6 * FIGURE_DPI
    assert not plt.get_fignums()  # save_figure closed its figures


def test_the_compaction_cache_gives_back_what_compact_image_gives_and_survives_damage(tmp_path, monkeypatch):
    from aegen.report import assets
    from aegen.report.assets import CompactionCache, compact_image

    data = _plot_png(tmp_path / "plot.png")
    cache = CompactionCache(tmp_path / "cache")
    first = cache.compact(data)
    assert first == compact_image(data)
    (entry,) = (tmp_path / "cache").iterdir()
    calls = []
    monkeypatch.setattr(assets, "compact_image", lambda d: calls.append(d) or compact_image(d))
    assert cache.compact(data) == first and calls == []  # read back, not encoded again
    entry.write_bytes(entry.read_bytes()[:-10])  # a damaged entry is encoded again and replaced
    assert cache.compact(data) == first and len(calls) == 1
    assert cache.compact(data) == first and len(calls) == 1
    blocked = tmp_path / "file"  # a cache that cannot be written: the images all the same
    blocked.write_text("not a folder")
    assert CompactionCache(blocked / "cache").compact(data) == first and len(calls) == 2
    assert CompactionCache(None).compact(data) == first and len(calls) == 3


def test_the_compaction_cache_prunes_the_entries_used_longest_ago(tmp_path):
    import os

    from aegen.report.assets import CompactionCache

    cache = CompactionCache(tmp_path)
    for i, age in enumerate((300, 100, 200)):
        path = tmp_path / f"{i:064x}.png"
        path.write_bytes(bytes(1000))
        os.utime(path, (1e9 - age, 1e9 - age))
    (tmp_path / "notes.txt").write_bytes(bytes(5000))  # not an entry: left alone
    cache.prune(max_bytes=2000)
    assert sorted(p.name[-5:] for p in tmp_path.iterdir()) == ["1.png", "2.png", "s.txt"]
    cache.prune(max_bytes=0)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_report_written_again_reads_its_compacted_images_from_the_cache(trained_only, tmp_path, monkeypatch):
    from aegen.report import assets, write_report

    first = write_report(trained_only, out_dir=tmp_path / "a", explorer=False)
    calls = []
    compact = assets.compact_image
    monkeypatch.setattr(assets, "compact_image", lambda d: calls.append(d) or compact(d))
    second = write_report(trained_only, out_dir=tmp_path / "b", explorer=False)
    stored = sorted(p.name for p in (first.parent / "images").iterdir())
    assert stored == sorted(p.name for p in (second.parent / "images").iterdir()) and stored
    for name in stored:
        assert (first.parent / "images" / name).read_bytes() == (second.parent / "images" / name).read_bytes()
    assert calls == []


def test_a_compaction_cache_that_cannot_be_changed_still_serves_its_entries(tmp_path, monkeypatch):
    from pathlib import Path

    from aegen.report.assets import CompactionCache

    data = _plot_png(tmp_path / "plot.png")
    cache = CompactionCache(tmp_path / "cache")
    first = cache.compact(data)

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(Path, "touch", refuse)
    monkeypatch.setattr(Path, "unlink", refuse)
    assert cache.compact(data) == first
    cache.prune(max_bytes=0)  # nothing can be deleted: no error either
