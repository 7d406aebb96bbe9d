"""The playground's web page (GET /): one HTML document with its stylesheet and script inside.

    page/index.html   the layout: the controls, the output, the alternatives panel
    page/style.css    the look (a light theme; chips shaded by probability)
    page/app.js       the behaviour: fetch() + a ReadableStream reading the server-sent events

index.html names its stylesheet and script the ordinary way (`<link href="style.css">`,
`<script src="app.js">`), so each file is plain and readable on its own; `page_response` writes
their text in place of those two tags. The browser then needs nothing but this one response:
no build step, no CDN, nothing fetched from the network. The files are read on every request,
so an edit to the CSS shows on the next reload, without restarting the server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse

from shared.errors import CourseError

PAGE_DIR = Path(__file__).resolve().parent / "page"
STYLE_TAG = '<link rel="stylesheet" href="style.css">'
SCRIPT_TAG = '<script src="app.js"></script>'

# The page may talk to this server only: inline style and script, fetch() to its own origin.
# A browser that honours this header refuses anything else, so the test of "no network at run
# time" is enforced where the page runs, not only checked by reading the HTML.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"
)


def replace_once(document: str, tag: str, replacement: str, where: Path) -> str:
    """`document` with its one `tag` replaced (a CourseError names the file if it has not)."""
    if document.count(tag) != 1:
        raise CourseError(f"{where}: must contain {tag!r} exactly once, to inline it")
    return document.replace(tag, replacement)


def inlined(html: str, css: str, js: str, where: Path = PAGE_DIR / "index.html") -> str:
    """The page as one document: `css` and `js` written where index.html links them.

    A `</style>` or `</script>` inside them would end the element early, so it is refused."""
    for text, closing in ((css, "</style"), (js, "</script")):
        if closing in text.lower():
            raise CourseError(f"{where}: an inlined file may not contain {closing!r}")
    with_style = replace_once(html, STYLE_TAG, f"<style>\n{css}</style>", where)
    return replace_once(with_style, SCRIPT_TAG, f"<script>\n{js}</script>", where)


def page_html(folder: Path = PAGE_DIR) -> str:
    """index.html from `folder` with style.css and app.js inlined, read now."""

    def read(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    return inlined(read("index.html"), read("style.css"), read("app.js"), folder / "index.html")


def page_response() -> HTMLResponse:
    """GET /: the playground page, never cached (an edited file shows on reload)."""
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return HTMLResponse(page_html(), headers=headers)
