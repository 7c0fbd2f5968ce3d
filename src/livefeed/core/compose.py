"""Build each recipient's tracked copy: validate input, rewrite links, add the pixel and text part."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote

MAX_RECIPIENTS = 100
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_SUBJECT = 998  # RFC 5322 line limit

# A pragmatic address check (RFC 5321 lengths, no quoted local parts, no comments).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)("([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE | re.DOTALL)
_TEXT_URL = re.compile(r"""https?://[^\s<>"')\]]+""", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|h[1-6]|li|tr|table)>|<br\s*/?>", re.IGNORECASE)
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


# Every character Python's str.splitlines() (and so the email package) breaks a line on: CR and LF,
# but also VT, FF, the file/group/record separators, NEL and the Unicode line and paragraph separators.
_LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def header_problem(value: str) -> str | None:
    """Why a header value is unsafe, or None."""
    if any(c in _LINE_BREAKS for c in value):
        return "must not contain line breaks (CR, LF, VT, FF, NEL, U+2028 or U+2029)"
    if any((ord(c) < 32 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in value):
        return "must not contain control characters"
    return None


def header_safe(value: str) -> str:
    """A stored value made fit for a header: each line break or control character becomes a space
    (names and fields come from CRMs and imports, where such characters do occur)."""
    if not any(c in _LINE_BREAKS or ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in value):
        return value
    return " ".join("".join(" " if c in _LINE_BREAKS or ord(c) < 32 or 0x7F <= ord(c) <= 0x9F else c for c in value).split())


def address_problem(address: str) -> str | None:
    """Why an email address is not acceptable, or None."""
    return header_problem(address) or (
        None if len(address) <= 254 and _ADDRESS.match(address) else f"{address[:80]!r} is not a valid email address"
    )


def clean_url(url: str) -> str:
    """A URL as browsers read it: tabs and line breaks removed (WHATWG URL), spaces and non-ASCII escaped."""
    url = url.translate({9: None, 10: None, 13: None}).strip()
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


def split_recipient(entry: str) -> tuple[str, str]:
    """("Display Name", "address@lower.case") from "Display Name <Address@x>" or a bare address."""
    entry = entry.strip()
    if entry.endswith(">") and "<" in entry:
        display, _, address = entry[:-1].rpartition("<")
        return display.strip().strip('"').strip(), address.strip().lower()
    return "", entry.lower()


def is_trackable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


# Elements whose href is a link a reader clicks: <a>, image-map <area>, and Outlook's VML buttons
# (<v:roundrect href> and friends, inside <!--[if mso]> comments).
_LINK_TAGS = ("a", "area")
# an attribute in a start tag's text; an unquoted value runs to whitespace or ">" (HTML keeps '=' and quotes in it)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_CONDITIONAL = re.compile(r"\[if\b", re.IGNORECASE)


class _Links(HTMLParser):
    """Where each link's href value sits in the source: the HTML tokenizer finds the tags (quotes,
    comments, scripts and all), each tag's own text gives the attribute."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=False)
        self.spans: list[tuple[int, int, str]] = []  # (start, end, raw value) of each href value
        self._lines = [0] + [m.end() for m in re.finditer("\n", source)]  # the tokenizer counts lines by \n alone

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag in _LINK_TAGS or tag.startswith("v:"):
            self._href(self._offset(), self.get_starttag_text() or "")

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        # Outlook's conditional comments hold real markup (VML buttons, <a> for Outlook only)
        if _CONDITIONAL.match(data):
            start = self._offset() + 4  # after "<!--"
            inner = _Links(data)
            inner.feed(data)
            inner.close()
            self.spans += [(start + a, start + b, raw) for a, b, raw in inner.spans]

    def _href(self, offset: int, tag_text: str) -> None:
        name_end = re.match(r"<[^\s/>]+", tag_text)
        position = name_end.end() if name_end else 1
        for attr in _ATTR.finditer(tag_text, position):
            if attr.group(1).lower() == "href" and attr.group(2) is not None:
                value = attr.group(2)
                start = offset + attr.start(2)
                self.spans.append((start, start + len(value), value))
                return  # the first href is the one browsers use


def rewrite_html(body: str, track: Callable[[str], str]) -> str:
    """Replace every http(s) href of a link (<a>, <area>, Outlook's VML buttons) with track(url);
    other schemes (mailto:, tel:) and everything else in the source stay byte for byte."""
    finder = _Links(body)
    finder.feed(body)
    finder.close()
    out, last = [], 0
    for start, end, raw in sorted(finder.spans):
        if start < last:
            continue
        value = raw[1:-1] if raw[:1] in ('"', "'") else raw
        url = clean_url(html.unescape(value))
        if not is_trackable(url):
            continue
        out += [body[last:start], '"', html.escape(track(url), quote=True), '"']
        last = end
    return "".join(out) + body[last:]


def rewrite_text(body: str, track: Callable[[str], str]) -> str:
    """Replace every http(s) URL in a plain-text body with track(url)."""
    return _TEXT_URL.sub(lambda m: track(clean_url(m.group(0))), body)


def add_pixel(body: str, pixel_url: str) -> str:
    """Append the 1×1 open pixel just before </body>, or at the end."""
    tag = f'<img src="{html.escape(pixel_url, quote=True)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
    index = body.lower().rfind("</body>")
    return body + tag if index < 0 else body[:index] + tag + body[index:]


def html_to_text(body: str) -> str:
    """A readable plain-text rendering of an HTML body (links kept as 'text (url)')."""
    body = _HIDDEN.sub("", body)
    body = re.sub(
        r"""<a\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)["']?[^>]*>(.*?)</a>""", r"\2 (\1)", body, flags=re.IGNORECASE | re.DOTALL
    )
    body = _BLOCK_END.sub("\n", body)
    text = html.unescape(_TAGS.sub("", body))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


@dataclass(frozen=True)
class Copy:
    html: str | None
    text: str


def tracked_copy(
    *, html_body: str | None, text_body: str | None, pixel_url: str | None, track: Callable[[str], str] | None
) -> Copy:
    """One recipient's bodies: links rewritten through `track`, the pixel added, a text part always.
    Without `pixel_url` opens are not tracked; without `track` clicks are not (links stay as written)."""
    text = text_body if text_body else html_to_text(html_body or "")
    tracked_html = None
    if html_body:
        tracked_html = rewrite_html(html_body, track) if track else html_body
        if pixel_url:
            tracked_html = add_pixel(tracked_html, pixel_url)
    return Copy(html=tracked_html, text=rewrite_text(text, track) if track else text)


# --- personal fields: "Hi {{first_name}}" --------------------------------------------------------

html_escape = html.escape

# {{first_name}}, or with a fallback for a recipient who has none: {{first_name|there}}
FIELD = re.compile(r"\{\{\s*([A-Za-z_]+)\s*(?:\|([^{}|]{0,100}?))?\s*\}\}")
FIELDS = ("first_name", "last_name", "name", "company", "title", "email", "sender_name")


def fields_used(*texts: str | None) -> list[str]:
    """The personal fields a draft uses, in order; raise ValueError naming an unknown one."""
    used: list[str] = []
    for text in texts:
        for name, _ in FIELD.findall(text or ""):
            if name not in FIELDS:
                raise ValueError(f"unknown field {{{{{name}}}}} (known: {', '.join(FIELDS)})")
            if name not in used:
                used.append(name)
    return used


def required_fields(*texts: str | None) -> list[str]:
    """The fields used somewhere without a fallback: every recipient needs a value for these."""
    return list(dict.fromkeys(m.group(1) for text in texts for m in FIELD.finditer(text or "") if m.group(2) is None))


def fill(text: str | None, values: Mapping[str, str | None], *, html_body: bool = False) -> str | None:
    """The text with each {{field}} replaced by the recipient's value (HTML-escaped in HTML), or
    by the field's fallback ({{first_name|there}}) when they have none."""
    if not text:
        return text

    def value(m: re.Match) -> str:
        found = values.get(m.group(1))
        if found:
            return html_escape(found) if html_body else found
        return (m.group(2) or "").strip()

    return FIELD.sub(value, text)


# --- the workspace's do-not-track list ------------------------------------------------------------


def check_do_not_track(entries: list[str]) -> list[str]:
    """Normalised entries: whole addresses or "@domain"; ValueError naming a bad one."""
    clean: list[str] = []
    for entry in entries:
        value = entry.strip().lower()
        if not value:
            continue
        probe = "x" + value if value.startswith("@") else value
        if address_problem(probe):
            raise ValueError(f"{entry[:80]!r} is neither an address nor @domain")
        if value not in clean:
            clean.append(value)
    return clean


def never_tracked(address: str, entries: list[str]) -> bool:
    """Whether mail to `address` must go out untracked (the address, or its @domain, is listed)."""
    address = address.lower()
    return address in entries or ("@" + address.rpartition("@")[2]) in entries
