"""Every link of real emails tracked, nothing else touched (issue 15): the rewriter finds each
href of <a>, <area> and Outlook's VML buttons with the HTML tokenizer, on bodies written in Gmail
and Outlook and a common newsletter template (tables, VML, image maps, entities, uppercase tags,
unquoted values, '>' inside attribute values, a table background). selectolax (lexbor, an HTML5
parser) is the oracle: every http(s) link it sees is tracked, and outside the href values the
output is the input byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from livefeed.core.compose import rewrite_html

EMAILS = Path(__file__).resolve().parent / "fixtures" / "emails"
HREF = re.compile(r"""(\bhref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""", re.IGNORECASE)

EXPECTED = {
    "gmail.html": [
        "https://seller.test/deck?utm_source=gmail&utm_medium=email",
        "https://seller.test/pricing",
        "https://calendly.com/rita/30min",
        "https://www.linkedin.com/in/rita-seller/",
        "https://prospect.test/rfp",
    ],
    "outlook.html": [
        "https://seller.test/proposal.pdf",
        "https://seller.test/case-study?id=7&ref=outlook",
        "https://seller.test/book",
    ],
    "template.html": [
        "https://seller.test/webinar?utm_campaign=q4&utm_content=left",
        "https://seller.test/agenda",
        "https://seller.test/register?src=outlook",
        "https://seller.test/register?src=web",
        "https://seller.test/unsubscribe?u=1&e=paul%40prospect.test",
    ],
}


def tracked(body: str) -> tuple[str, list[str]]:
    seen: list[str] = []

    def track(url: str) -> str:
        seen.append(url)
        return f"https://lf.test/c/{len(seen)}"

    return rewrite_html(body, track), seen


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_link_of_a_real_email_is_tracked_and_nothing_else_changes(name):
    body = (EMAILS / name).read_text()
    out, seen = tracked(body)
    assert seen == EXPECTED[name]
    # the oracle: every http(s) link an HTML5 parser finds in <a>/<area> is one we tracked
    links = [node.attributes.get("href") for node in LexborHTMLParser(body).css("a[href], area[href]")]
    assert {u for u in links if u and u.lower().startswith("http")} <= set(seen)
    after = [node.attributes.get("href") for node in LexborHTMLParser(out).css("a[href], area[href]")]
    assert not [u for u in after if u and u.lower().startswith("http") and not u.startswith("https://lf.test/c/")]
    # nothing else changed: with every href value set aside, output and input are the same text
    assert HREF.sub(r"\1", out) == HREF.sub(r"\1", body)
    # and the untracked ones kept their exact spelling
    for kept in (
        "mailto:rita@seller.test",
        "tel:+4420 7946 0000",
        "#top",
        'background="https://seller.test/img/bg.png"',
        "https://seller.test/inside-script",
    ):
        assert (kept in body) == (kept in out)


@pytest.mark.parametrize(
    "body, url",
    [
        ('<a title="a>b" href="https://x.test/1">x</a>', "https://x.test/1"),  # '>' inside a quoted value
        ('<a data-href="https://no.test/" href="https://x.test/2">x</a>', "https://x.test/2"),
        ("<A HREF=https://x.test/3>X</A>", "https://x.test/3"),
        ("<a\n  class='b'\n  href='https://x.test/4'\n>multi-line</a>", "https://x.test/4"),
        ('<a href="https://x.test/5" href="https://evil.test/">first wins</a>', "https://x.test/5"),
        ('<p>\r\n<a href="https://x.test/6">crlf</a>\r\n</p>', "https://x.test/6"),
    ],
)
def test_tricky_markup(body, url):
    out, seen = tracked(body)
    assert seen == [url]
    assert 'href="https://lf.test/c/1"' in out.lower()
    assert ('data-href="https://no.test/"' in out) == ("data-href" in body)  # other attributes as written
    assert HREF.sub(r"\1", out) == HREF.sub(r"\1", body)
