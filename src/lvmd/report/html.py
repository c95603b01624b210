"""Self-contained HTML reports: figures embedded as base64 PNG, tables, every user string escaped."""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table.lvmd{border-collapse:collapse;font-size:.82em;margin:.8em 0}
table.lvmd td,table.lvmd th{border:1px solid #ccc;padding:.25em .5em;text-align:left}
table.lvmd caption{caption-side:top;font-weight:600;text-align:left;padding:.3em 0}
figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.85em;color:#555}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}
code,pre{background:#f4f4f4;padding:.1em .3em}pre{padding:.6em;overflow-x:auto}
"""


def figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def img_tag(png: bytes, caption: str) -> str:
    """An embedded <figure> with its caption (escaped)."""
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def page(title: str, sections: list[tuple[str, str]]) -> str:
    """A full HTML document: title and (heading, body-html) sections. Headings are escaped; bodies are trusted
    fragments built by lvmd from escaped values."""
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{b}\n" for h, b in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n")


def paragraph(text: str) -> str:
    """An escaped paragraph."""
    return f"<p>{html.escape(text)}</p>"


def bullet_list(items) -> str:
    """An escaped bullet list."""
    return "<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>"


def save_figure(fig: Figure, folder, name: str, formats, caption: str) -> str:
    """Write ``fig`` as ``name.<format>`` in ``folder`` for each format; return it embedded as a <figure>."""
    for fmt in formats:
        fig.savefig(folder / f"{name}.{fmt}", dpi=110, bbox_inches="tight")
    return img_tag(figure_png(fig), caption)


def table(df, digits: int = 3) -> str:
    """A DataFrame as an HTML table (index not shown), floats to ``digits`` decimals, every cell escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v, digits))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f'<table class="lvmd"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value, digits: int) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}f}"
    return str(value)
