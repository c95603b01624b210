"""Terminal output that user-supplied text cannot hijack.

Patient ids, file names and messages reach the terminal inside lvmd's lines. Printed raw, ``[/x]`` crashes a rich
console, ``[bold red]`` restyles it, an ANSI escape sequence can move the cursor, rewrite earlier lines or retitle
the window, a bidirectional override can reorder what the eye reads, and an undecodable file name can crash the
print itself. Every line lvmd prints therefore goes through :func:`printable` (directly, via :func:`write_line`
and :func:`print_error`, or via :class:`SafeConsole`), which shows such characters as visible escapes.
"""

from __future__ import annotations

import re
import sys

from rich.console import Console

# C0 and C1 controls (ESC starts ANSI sequences; newline and CR could forge a line), DEL, lone surrogates (file
# names that are not valid UTF-8), and the invisible format characters that reorder or hide text (bidi controls,
# zero-width characters, BOM, interlinear annotation).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
                     "\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``str(value)`` on one line with every control or invisible formatting character shown as an escape.

    Examples
    --------
    >>> printable("P01\\x1b[31m\\n")
    'P01\\\\x1b[31m\\\\x0a'
    """
    return _UNSAFE.sub(_escape, str(value))


def _encodable(text: str, encoding: str | None) -> str:
    encoding = encoding or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding, "replace")


def write_line(text: object, stream=None) -> None:
    """Write one line of plain text (no markup) to ``stream`` (default stdout), made printable and encodable."""
    stream = sys.stdout if stream is None else stream
    stream.write(_encodable(printable(text), getattr(stream, "encoding", None)) + "\n")
    stream.flush()


def error_line(message: object) -> str:
    """The CLI's error line for ``message``: ``error: <message>``, made printable."""
    return f"error: {printable(message)}"


def print_error(message: object) -> None:
    """Print :func:`error_line` to stderr."""
    write_line(f"error: {message}", sys.stderr)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A :func:`warnings.showwarning` for the command line: one printable line ``warning: <Category>: <message>``
    on stderr, so that user text inside a warning (an id drawn in a figure, a file name) never reaches the terminal
    raw and a warning never spans several lines."""
    write_line(f"warning: {category.__name__}: {message}", sys.stderr if file is None else file)


class SafeConsole(Console):
    """A rich console that prints text literally: no markup, emoji codes or highlighting, unsafe characters escaped,
    and no wrapping (a long path stays on one line for whoever parses the output).

    Use it wherever a rich console prints; its ``print`` accepts what :meth:`rich.console.Console.print` accepts.
    """

    def __init__(self, stderr: bool = False, **kwargs):
        super().__init__(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True, **kwargs)

    def print(self, *objects, **kwargs) -> None:
        """Print ``objects``; strings are made printable first and never interpreted as markup."""
        kwargs.update(markup=False, emoji=False, highlight=False)
        cleaned = [_encodable(printable(o), self.encoding) if isinstance(o, str) else o for o in objects]
        super().print(*cleaned, **kwargs)
