"""Where a search space's file is. Importable without torch (the loader's validation needs the model registry),
so a command line naming a space that does not exist is refused before anything starts."""
from __future__ import annotations

from pathlib import Path

SPACES_DIR = Path(__file__).resolve().parent


class SpaceError(ValueError):
    """A search-space file that does not validate; the message names the file and the key."""


def space_file(name_or_path: str | Path) -> Path:
    """`search_spaces/<name>.yaml`, or a .yaml path as given; SpaceError naming the shipped spaces if missing."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = SPACES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in SPACES_DIR.glob("*.yaml")))
        raise SpaceError(f"no search space {str(name_or_path)!r} (looked for {path}); available: {names}")
    return path
