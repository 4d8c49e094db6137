"""The HTML page of an experiments report: its markdown with the findings first, then a table of contents,
captioned figures and tables that sort on a click. One self-contained file (inline CSS and script, nothing fetched)
that opens from disk."""
from __future__ import annotations

import html
import re

import markdown

# Tables sort by the clicked column; a second click reverses. Cells are compared as numbers when every filled
# cell of the column starts with one ("89.00 ± 0.31 (n=3)", "1.23M", "**0.5**"), else as text with numbers
# inside compared numerically. "—" (and an empty cell) means missing and stays last in both directions.
SORT_SCRIPT = r"""
(function () {
  function missing(t) { return t === "" || t === "\u2014" || t === "-" || t === "n/a"; }
  function num(t) {
    var m = t.replace(/[\s,]/g, "").match(/^[+\-]?(\d+\.?\d*|\.\d+)(e[+\-]?\d+)?/i);
    return m ? parseFloat(m[0]) : NaN;
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var texts = rows.map(function (r) { return r.cells[col] ? r.cells[col].textContent.trim() : ""; });
    var numeric = texts.every(function (t) { return missing(t) || !isNaN(num(t)); });
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var order = rows.map(function (r, i) { return i; });
    order.sort(function (a, b) {
      var x = texts[a], y = texts[b];
      if (missing(x) || missing(y)) { return missing(x) - missing(y) || a - b; }
      var c = numeric ? num(x) - num(y) : x.localeCompare(y, undefined, {numeric: true});
      return dir * c || a - b;
    });
    order.forEach(function (i) { body.appendChild(rows[i]); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, col, th); }
      });
    });
  });
})();
"""

STYLE = """
:root { color-scheme: light; --rule: #d0d7de; --muted: #57606a; --accent: #0a5bb5; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328;
       max-width: 72em; margin: 0 auto; padding: 1.5em 1.2em 4em; }
h1 { font-size: 1.9em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid var(--rule); padding-bottom: .2em; margin-top: 2em; }
h3, h4 { margin-top: 1.6em; }
a { color: var(--accent); }
code { background: #f3f4f6; padding: .1em .3em; border-radius: 4px; font-size: .9em; }
nav.toc { background: #f6f8fa; border: 1px solid var(--rule); border-radius: 6px; padding: .6em 1.2em;
          margin: 1em 0 2em; }
nav.toc ul { margin: .2em 0; padding-left: 1.2em; }
nav.toc > ul { padding-left: 0; list-style: none; }
nav.toc strong { display: block; margin-bottom: .2em; }
.table-wrap { overflow-x: auto; margin: .8em 0 1.2em; }
table { border-collapse: collapse; font-size: .92em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--rule); padding: .3em .65em; text-align: left; white-space: nowrap; }
thead th { background: #f0f3f6; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef5ff; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #8c959f; font-size: .85em; }
table.sortable th[aria-sort=ascending]::after { content: " \\2191"; color: var(--accent); }
table.sortable th[aria-sort=descending]::after { content: " \\2193"; color: var(--accent); }
figure { margin: 1.2em 0 1.8em; text-align: center; }
figure img { max-width: 100%; min-width: min(32em, 100%); height: auto; border: 1px solid #eaeef2; }
figcaption { color: var(--muted); font-size: .92em; margin-top: .4em; }
"""

# markdown renders `![caption](src)` followed by a `_caption._` paragraph (report._figure) as two paragraphs
_FIGURE = re.compile(r'<p><img alt="(?P<alt>[^"]*)" src="(?P<src>[^"]+)"\s*/?></p>\s*'
                     r'(?:<p><em>(?P<caption>.*?)</em></p>)?')


def _figure(m: re.Match) -> str:
    caption = m["caption"] or m["alt"]
    return (f'<figure><img alt="{m["alt"]}" src="{m["src"]}">'
            f"<figcaption>{caption}</figcaption></figure>")


def render_html(text: str) -> str:
    """The page for report markdown `text`: headings get ids, and a table of contents links to them."""
    md = markdown.Markdown(extensions=["tables", "toc"],
                           extension_configs={"toc": {"toc_depth": "2-4"}})
    body = md.convert(text)
    body = _FIGURE.sub(_figure, body)
    body = body.replace("<table>", '<div class="table-wrap"><table class="sortable">').replace(
        "</table>", "</table></div>")
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "Experiments")
    toc = md.toc.replace('<div class="toc">', '<nav class="toc" aria-label="Contents"><strong>Contents</strong>', 1)
    toc = toc[: toc.rfind("</div>")] + "</nav>" if toc.rstrip().endswith("</div>") else toc
    # the findings come first, in the first screen: the TOC goes after them, before the second section (after the
    # title block where the page has no findings)
    first = body.find("<h2")
    split = body.find("<h2", first + 1) if 'id="findings"' in body[first:first + 40] else first
    head, rest = (body[:split], body[split:]) if split >= 0 else (body, "")
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n{head}{toc}\n{rest}\n"
            f"<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n")
