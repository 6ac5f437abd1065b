"""`amatelier export [RT_ID] --format html|md|json [-o FILE]`: a roundtable a person wants to read.

Read-only: it opens the database read-only and never changes a roundtable. With -o the file
is written atomically (a failed write leaves no half file). With --json the command prints
one JSON object describing what it wrote (or, on error, `{"error", "code"}` on stderr).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import typer

from amatelier.commands.errors import EXIT_USAGE, UserError

FORMATS = ("html", "md", "json")


def _fail_json(message: str, code: int = EXIT_USAGE) -> None:
    print(json.dumps({"error": message, "code": code}), file=sys.stderr)
    raise typer.Exit(code)


def _check_output(path: Path) -> Path:
    """The -o target: not a directory, its folder must exist."""
    target = path.expanduser()
    if target.is_dir():
        raise UserError(f"-o {path} is a directory; give a file name")
    if not target.parent.is_dir():
        raise UserError(f"-o {path}: folder {target.parent} does not exist")
    return target


def _is_stream(path: Path) -> bool:
    """An existing target that is not a regular file (/dev/stdout, /dev/null, a FIFO): written into, never replaced."""
    import os
    import stat

    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _write(target: Path, text: str) -> None:
    """Atomically for a file; straight into a device or pipe (renaming over it would destroy it)."""
    from amatelier.atomicio import write_text_atomic

    if _is_stream(target):
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    write_text_atomic(target, text)
    _readable_by_others(target)


def _readable_by_others(path: Path) -> None:
    """An export is meant to be shared: give it the usual file mode (0644 under umask 022)."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def render(rt_id: str | None, fmt: str) -> tuple[str, str]:
    """(rt id, rendered text) of a roundtable in a format; UserError for anything the user can fix."""
    from amatelier import watch
    from amatelier.chat import roundtables
    from amatelier.config import load_config
    from amatelier.debate.export_data import load_export

    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (choose one of: {', '.join(FORMATS)})")
    try:
        conn = watch.open_readonly()
    except watch.NoDatabase as exc:
        raise UserError(str(exc)) from None
    try:
        rt = roundtables.get_roundtable(conn, rt_id) if rt_id else roundtables.latest(conn)
        if rt is None:
            raise UserError(f"no roundtable with id {rt_id}" if rt_id else "no roundtables yet")
        judge = str(load_config().get("team", {}).get("judge", {}).get("name", "judge"))
        data = load_export(conn, rt, judge=judge)
    except sqlite3.DatabaseError as exc:
        raise UserError(f"cannot read the roundtable database: {exc}") from None
    finally:
        conn.close()
    if fmt == "html":
        from amatelier.debate.export_html import render_html

        return data.rt_id, render_html(data)
    if fmt == "md":
        from amatelier.debate.export_md import render_md

        return data.rt_id, render_md(data)
    return data.rt_id, json.dumps(data.as_json(), indent=2, ensure_ascii=False) + "\n"


def export(
    rt_id: str | None = typer.Argument(None, metavar="RT_ID", help="Roundtable id (default: the latest)."),
    fmt: str = typer.Option("html", "--format", "-f", metavar="html|md|json",
                            help="html: one self-contained page with charts; md: the same without charts; "
                                 "json: the data."),
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE",
                                       help="Write to FILE (atomically) instead of printing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object about what was written."),
) -> None:
    """Export a roundtable: the decision (with citations), positions, scores, usage and transcript.

    The HTML opens from disk with no network: inline CSS and SVG charts, every citation a link
    to its message.
    """
    try:
        target = _check_output(Path(output)) if output is not None else None
        rt, text = render(rt_id, fmt.lower().strip())
        if target is not None:
            try:
                _write(target, text)
            except OSError as exc:
                raise UserError(f"cannot write {target}: {exc.strerror or exc}") from None
    except UserError as exc:
        if as_json:
            _fail_json(str(exc), exc.exit_code)
        raise
    size = len(text.encode("utf-8"))
    if as_json:
        print(json.dumps({"rt_id": rt, "format": fmt.lower().strip(), "path": str(target) if target else None,
                          "bytes": size, **({} if target else {"content": text})}, ensure_ascii=False))
    elif target is not None:
        print(f"wrote {target} ({size:,} bytes, {fmt} export of roundtable {rt})")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def register(app) -> None:
    """Add `amatelier export`."""
    app.command("export")(export)
