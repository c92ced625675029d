"""Where relative state paths (graph store, cache, reports) live: the project folder."""

from __future__ import annotations

from pathlib import Path

from scrapy.utils.conf import closest_scrapy_cfg


def project_dir() -> Path:
    """The folder of the project's scrapy.cfg, or the current folder without one."""
    cfg = closest_scrapy_cfg()
    return Path(cfg).parent if cfg else Path.cwd()


def project_path(value: str | Path) -> Path:
    """``value`` as an absolute path; relative paths are taken from the project folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else project_dir() / path
