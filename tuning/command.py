"""A study's command as the repository writes it: `python tuning/run.py ...`, paths relative to the repository.

A stored command is read on other machines (the write-up, the report), so it must not carry this machine's
interpreter or folders. The same rewrite serves when a command is recorded and when an older, absolute one is shown.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
# Top-level entries of the repository: a path from another checkout is cut at the last of these it passes through.
REPO_ENTRIES = ("tuning", "analysis", "ganrator", "search_spaces", "benchmarks", "tests", "docs", "runs", "reports")
INTERPRETER = re.compile(r"python[0-9.]*$")


def _portable_path(text: str, root: Path) -> str:
    if not text.startswith(("/", "~")):
        return text
    path = PurePosixPath(text)
    try:
        return str(path.relative_to(PurePosixPath(root)))
    except ValueError:
        pass
    parts = path.parts
    for i in range(len(parts) - 2, 0, -1):  # a checkout elsewhere: keep the part from the repository's entry on
        if parts[i] in REPO_ENTRIES:
            return str(PurePosixPath(*parts[i:]))
    return f".../{path.name}"  # outside any checkout: only the name, the folder is this machine's


def portable_command(command: str | list[str] | None, root: Path = ROOT) -> str | None:
    """`python` for the interpreter, repository paths relative to it, other absolute paths cut to their name.

    Takes argv (`["python", *sys.argv]`) or a stored command string; `--flag=/abs/path` is rewritten too."""
    if command is None:
        return None
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError:  # an unbalanced quote in an old record: split on spaces as it was joined
            words = command.split()
    else:
        words = [str(w) for w in command]
    out = []
    for i, word in enumerate(words):
        if i == 0 and INTERPRETER.match(PurePosixPath(word).name):
            out.append("python")
        elif word.startswith("-") and "=" in word:
            flag, value = word.split("=", 1)
            out.append(f"{flag}={_portable_path(value, root)}")
        else:
            out.append(_portable_path(word, root))
    if out and out[0] != "python" and out[0].endswith(".py"):  # a script recorded without its interpreter
        out.insert(0, "python")
    return shlex.join(out)
