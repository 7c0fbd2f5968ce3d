"""The HTML a rep writes in the compose editor or saves as a template: cleaned to a small
allowlist (nh3, the Rust `ammonia` sanitiser) before it is stored, shown or sent.

What survives is what the editor makes and mail clients render: paragraphs, line breaks, bold,
italic, underline, strike, lists, quotes, headings and links (http, https, mailto, tel). Scripts,
styles, event handlers, forms, images and `javascript:` links are dropped, so a template shared
with the workspace cannot run code in another rep's browser.
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

TAGS = {"p", "br", "div", "span", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "a"}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto", "tel"}


def clean_html(html: str) -> str:
    """`html` reduced to the allowlist; links keep their href (the sender's rewriting tracks them)."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel=None,
        clean_content_tags={"script", "style"},
        strip_comments=True,
    ).strip()


# Mail written elsewhere (the API, Gmail's compose window) keeps what mail clients render —
# tables, images, fonts, inline styles limited to presentation — and loses what runs or reaches
# out: scripts, event handlers, forms, frames, objects, `javascript:` URLs, style sheets.
EMAIL_TAGS = TAGS | {
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "code",
    "sub",
    "sup",
    "small",
    "big",
    "center",
    "font",
    "img",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "caption",
    "colgroup",
    "col",
    "strike",
    "del",
    "ins",
}
_BOX = {"style", "align", "valign", "width", "height", "bgcolor", "border", "dir"}
EMAIL_ATTRIBUTES = {
    "*": {"style", "dir", "align"},
    "a": {"href", "title", "style"},
    "img": {"src", "alt", "title", "width", "height", "style", "border"},
    "font": {"color", "face", "size", "style"},
    "table": _BOX | {"cellpadding", "cellspacing", "role"},
    "td": _BOX | {"colspan", "rowspan", "nowrap"},
    "th": _BOX | {"colspan", "rowspan", "nowrap", "scope"},
    "tr": _BOX,
    "col": {"width", "span", "style"},
    "colgroup": {"width", "span", "style"},
}
EMAIL_SCHEMES = SCHEMES | {"cid"}  # cid: images attached to the message itself
STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-align",
    "text-decoration",
    "line-height",
    "margin",
    "margin-top",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "padding",
    "padding-top",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "border",
    "border-collapse",
    "border-top",
    "border-bottom",
    "border-left",
    "border-right",
    "border-color",
    "border-width",
    "border-style",
    "width",
    "height",
    "max-width",
    "min-width",
    "vertical-align",
    "white-space",
    "display",
    "text-transform",
    "letter-spacing",
    "list-style-type",
}


def clean_email_html(html: str) -> str:
    """An email's HTML from anywhere made safe to send and to show: presentation kept, anything
    that runs or loads from elsewhere (scripts, handlers, forms, frames, style sheets) dropped."""
    return nh3.clean(
        html,
        tags=EMAIL_TAGS,
        attributes=EMAIL_ATTRIBUTES,
        url_schemes=EMAIL_SCHEMES,
        link_rel=None,
        clean_content_tags={"script", "style", "title"},
        strip_comments=True,
        filter_style_properties=STYLE_PROPERTIES,
    ).strip()


_PIECES = re.compile(r"(<[^>]*>)")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


def autolink(html: str) -> str:
    """Bare http(s) addresses in the text made links (outside existing links), so they are
    tracked like the others instead of being linked, untracked, by the recipient's mail app."""
    out, depth = [], 0
    for piece in _PIECES.split(html):
        if piece.startswith("<"):
            name = piece[1:].split(None, 1)[0].rstrip("/>").lower() if len(piece) > 2 else ""
            depth += 1 if name == "a" else -1 if name == "/a" else 0
            out.append(piece)
        elif depth > 0:
            out.append(piece)
        else:
            out.append(_URL.sub(_link, piece))
    return "".join(out)


def _link(match: re.Match) -> str:
    shown = match.group(0)
    tail = ""
    while shown and shown[-1] in _TRAILING:
        shown, tail = shown[:-1], shown[-1] + tail
    while shown.endswith(("&amp", "&gt", "&lt")):  # an entity cut by the trailing ';'
        cut = shown.rindex("&")
        shown, tail = shown[:cut], shown[cut:] + tail
    url = html_lib.unescape(shown)
    return f'<a href="{html_lib.escape(url, quote=True)}">{shown}</a>{tail}'


def is_blank(html: str | None) -> bool:
    """Whether the editor's HTML holds no text ("<p><br></p>" is an empty editor)."""
    return not html or not nh3.clean(html, tags=set()).strip()
