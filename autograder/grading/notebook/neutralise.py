"""Student notebooks made inert before an instructor opens them.

Everything in a graded notebook except the instructor's own cells was written by the student, and the
instructor opens it in a browser that is logged in to Jupyter: nbgrader's formgrader renders it with
nbconvert (which copies HTML outputs and raw HTML in Markdown into the page as they are), JupyterLab
opens it, the feedback pages show it. :func:`neutralise` leaves nothing in it that a browser would run:

- outputs keep ``text/plain``, PNG and JPEG images (checked to be base64) and a ``text/html`` that
  `nh3 <https://nh3.readthedocs.io>`_ (the Ammonia sanitizer) has cleaned to plain formatting and
  tables; SVG, JavaScript, Markdown, LaTeX, widget views and every ``application/vnd.*`` type are
  dropped, and an output left with nothing says what was removed; outputs' ``metadata`` is emptied;
- streams are ``stdout`` or ``stderr``, errors keep their text (the templates escape it);
- a Markdown cell that is not one of the released notebook's own cells is rendered to HTML and cleaned
  with nh3 (no script, no event handler, no ``javascript:`` link, no image, no style); attachments go;
- a raw cell's text is escaped and its MIME type dropped (nbconvert copies raw HTML cells verbatim);
- cell metadata keeps only a well-formed ``nbgrader`` entry; notebook metadata keeps only the kernel
  and language (no ``signature``, no widget state, no title).
"""
from __future__ import annotations

import base64
import binascii
import html
import re

import nbformat

__all__ = ["neutralise", "clean_html", "clean_markdown", "KEPT_MIME"]

KEPT_MIME = ("text/plain", "image/png", "image/jpeg")
HTML_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
             "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p",
             "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
             "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"}
HTML_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
URL_SCHEMES = {"http", "https", "mailto"}
_B64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_NAME = re.compile(r"[\w.+-]{0,100}")
_NBGRADER_KEYS = {"grade": bool, "solution": bool, "locked": bool, "task": bool, "points": (int, float),
                  "grade_id": str, "schema_version": int, "checksum": str, "cell_type": str}


def clean_html(text: str) -> str:
    """``text`` with only plain formatting, lists, tables and http(s) links left (nh3)."""
    return nh3_clean(str(text))


def nh3_clean(text: str) -> str:
    import nh3

    return nh3.clean(text, tags=HTML_TAGS, attributes=HTML_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def clean_markdown(source: str) -> str:
    """A Markdown cell's text as cleaned HTML that renders the same in JupyterLab and nbconvert.

    The Markdown is rendered as nbconvert renders it (math kept as ``$...$`` for MathJax, harmful link
    protocols refused) and the HTML cleaned with nh3; blank lines inside it become empty comments, so
    a Markdown renderer reads the whole result as one HTML block and parses none of it again."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    rendered = MarkdownWithMath(renderer=IPythonRenderer(escape=False, allow_harmful_protocols=False,
                                                         exclude_anchor_links=True)).render(str(source))
    cleaned = nh3_clean(rendered).strip()
    cleaned = re.sub(r"\n[ \t]*(?=\n)", "\n<!-- -->", cleaned)
    if cleaned.startswith("<div>\n") and cleaned.endswith("\n</div>"):
        return cleaned                                          # cleaned before
    return f"<div>\n{cleaned}\n</div>" if cleaned else ""


def _is_base64(value) -> bool:
    if not isinstance(value, str) or not _B64.fullmatch(value):
        return False
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def _output(out) -> dict | None:
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_text(out.get("text")))
    if kind == "error":
        tb = out.get("traceback")
        return nbformat.v4.new_output("error", ename=_text(out.get("ename")), evalue=_text(out.get("evalue")),
                                      traceback=[_text(t) for t in tb] if isinstance(tb, list) else [])
    if kind not in ("display_data", "execute_result"):
        return None
    data = out.get("data") if isinstance(out.get("data"), dict) else {}
    kept, dropped = {}, []
    for mime, value in data.items():
        if mime == "text/plain":
            kept[mime] = _text(value)
        elif mime in ("image/png", "image/jpeg") and _is_base64(value):
            kept[mime] = "".join(value.split())
        elif mime == "text/html":
            kept[mime] = clean_html(_text(value))
        else:
            dropped.append(str(mime)[:80])
    if not kept:
        what = ", ".join(sorted(dropped)) or "an empty output"
        kept["text/plain"] = f"[output removed from the graded copy: {what}]"
    if kind == "execute_result":
        count = out.get("execution_count")
        return nbformat.v4.new_output("execute_result", data=kept,
                                      execution_count=count if isinstance(count, int)
                                      and not isinstance(count, bool) else None)
    return nbformat.v4.new_output("display_data", data=kept)


def _nbgrader_meta(meta) -> dict | None:
    if not isinstance(meta, dict):
        return None
    out = {}
    for key, kind in _NBGRADER_KEYS.items():
        if key in meta and isinstance(meta[key], kind) and not (kind is not bool and isinstance(meta[key], bool)):
            out[key] = meta[key]
    gid = out.get("grade_id")
    if gid is not None and not re.fullmatch(r"[\w.-]{1,200}", gid):
        return None
    for key in ("checksum", "cell_type"):
        if key in out and not _NAME.fullmatch(out[key]):
            del out[key]
    return out


def _notebook_meta(meta) -> dict:
    out = {}
    ks = meta.get("kernelspec") if isinstance(meta, dict) else None
    if isinstance(ks, dict):
        out["kernelspec"] = {k: str(ks[k])[:100] for k in ("name", "display_name", "language")
                             if isinstance(ks.get(k), str)}
    li = meta.get("language_info") if isinstance(meta, dict) else None
    if isinstance(li, dict):
        out["language_info"] = {k: li[k] for k in ("name", "version", "file_extension", "mimetype",
                                                   "pygments_lexer", "nbconvert_exporter")
                                if isinstance(li.get(k), str) and re.fullmatch(r"[\w.+/-]{0,100}", li[k])}
    return out


def neutralise(nb, trusted_markdown: set[str] | frozenset = frozenset()):
    """Make ``nb`` (a notebook node, changed in place and returned) inert in any browser.

    ``trusted_markdown``: sources of Markdown cells that are the instructor's (the released notebook's
    own cells); those are kept as they are, every other Markdown cell is cleaned."""
    nb.metadata = nbformat.from_dict(_notebook_meta(nb.get("metadata") or {}))
    trusted = {str(s).strip() for s in trusted_markdown}
    for cell in nb.cells:
        meta = _nbgrader_meta((cell.get("metadata") or {}).get("nbgrader"))
        cell["metadata"] = nbformat.from_dict({"nbgrader": meta} if meta is not None else {})
        cell.pop("attachments", None)
        source = _text(cell.get("source"))
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in (_output(o) for o in cell.get("outputs") or [] if isinstance(o, dict)) if o]
            count = cell.get("execution_count")
            cell["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
            cell["source"] = source
        elif cell.get("cell_type") == "markdown":
            cell["source"] = source if source.strip() in trusted else clean_markdown(source)
        else:
            cell["cell_type"] = "raw"
            cell["source"] = html.escape(html.unescape(source), quote=False)
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def neutralise_text(text: str, trusted_markdown=frozenset()) -> str:
    """:func:`neutralise` of a notebook's JSON text."""
    nb = nbformat.reads(text, as_version=4)
    return nbformat.writes(neutralise(nb, trusted_markdown))


__all__ += ["neutralise_text"]

