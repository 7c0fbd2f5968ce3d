from livefeed.core import compose


def track(url: str) -> str:
    return "https://t.test/c/" + str(len(url))


def test_only_http_links_are_rewritten():
    body = (
        "<a href=\"https://a.test/x?y=1&amp;z=2\">a</a> <a href='http://b.test'>b</a> "
        '<a href="mailto:x@y.test">m</a> <a href="tel:+44123">t</a> <a href="#top">anchor</a>'
    )
    seen = []
    out = compose.rewrite_html(body, lambda url: seen.append(url) or track(url))
    assert seen == ["https://a.test/x?y=1&z=2", "http://b.test"]
    assert 'href="mailto:x@y.test"' in out and 'href="tel:+44123"' in out and 'href="#top"' in out
    assert "a.test" not in out


def test_link_with_line_break_is_cleaned_before_storing():
    seen = []
    compose.rewrite_html('<a href="https://a.test/\r\nSet-Cookie: x">a</a>', lambda u: seen.append(u) or "z")
    assert seen == ["https://a.test/Set-Cookie:%20x"]


def test_pixel_goes_before_body_end_or_at_the_end():
    assert compose.add_pixel("<html><body>x</body></html>", "https://t/o.gif").endswith('px"></body></html>')
    assert compose.add_pixel("<p>x</p>", "https://t/o.gif").startswith("<p>x</p><img")


def test_text_part_is_derived_from_html_with_tracked_links():
    copy = compose.tracked_copy(
        html_body='<p>Hi <a href="https://a.test/">deck</a></p><script>x()</script>',
        text_body=None,
        pixel_url="https://t/o.gif",
        track=track,
    )
    assert "Hi deck (https://t.test/c/" in copy.text
    assert "x()" not in copy.text
    assert "https://t/o.gif" in copy.html


def test_header_and_address_problems():
    assert compose.header_problem("Hello\r\nBcc: x@y.test")
    assert compose.header_problem("Hello") is None
    assert compose.address_problem("jane@example.com") is None
    for bad in ("jane", "jane@", "@x.test", "a b@x.test", "jane@x.test\nBcc: y@z.test", "j@x"):
        assert compose.address_problem(bad), bad


def test_recipient_with_display_name_is_split():
    assert compose.split_recipient(' "Jane Doe" <Jane@X.test> ') == ("Jane Doe", "jane@x.test")
    assert compose.split_recipient("jane@x.test") == ("", "jane@x.test")
