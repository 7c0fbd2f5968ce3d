"""Person records and the people CSV parser: one table of real-looking rows."""

import pytest

from livefeed.core import contacts
from livefeed.core.model import Invalid

HEADER = "email,first_name,last_name,title,company,phone,linkedin_url,owner_email,lead_score"

ROWS = [
    # CSV row, expected record or (field, message part)
    (
        "Paul@Prospect.test,Paul,Smith,CTO,Prospect Ltd,+44 20 7946 0958,linkedin.com/in/paul,Rita@Seller.test,42",
        {
            "email": "paul@prospect.test",
            "first_name": "Paul",
            "last_name": "Smith",
            "title": "CTO",
            "company": "Prospect Ltd",
            "phone": "+44 20 7946 0958",
            "linkedin_url": "https://linkedin.com/in/paul",
            "owner_email": "rita@seller.test",
            "lead_score": 42,
        },
    ),
    ("ann@prospect.test,,,,,,,,", {"email": "ann@prospect.test"}),  # empty cells leave fields as they are
    (
        "bob@prospect.test,Bob,,,,(415) 555-0100 x12,https://www.linkedin.com/in/bob,, -7 ",
        {
            "email": "bob@prospect.test",
            "first_name": "Bob",
            "phone": "(415) 555-0100 x12",
            "linkedin_url": "https://www.linkedin.com/in/bob",
            "lead_score": -7,
        },
    ),
    ("not-an-email,,,,,,,,", ("email", "not a valid email address")),
    (",Nobody,,,,,,,", ("email", "is required")),
    ("c@p.test,,,,,,,,12.5", ("lead_score", "not an integer")),
    ("c@p.test,,,,,,,,99999999999", ("lead_score", "not an integer")),
    ("c@p.test,,,,,call me,,,", ("phone", "not a phone number")),
    ("c@p.test,,,,,,https://evil.test/linkedin.com,,", ("linkedin_url", "not a LinkedIn profile URL")),
    ("c@p.test,,,,,,javascript:alert(1),,", ("linkedin_url", "not a LinkedIn profile URL")),
    ("c@p.test,,,,,,,boss,", ("owner_email", "not a valid email address")),
    ("c@p.test," + "x" * 101 + ",,,,,,,", ("first_name", "at most 100")),
    ("c@p.test,only,three", ("row", "has 3 cells, the header has 9")),
]


@pytest.mark.parametrize("row, expected", ROWS)
def test_rows(row, expected):
    records, rejected = contacts.read_csv(f"{HEADER}\n{row}\n")
    if isinstance(expected, dict):
        assert rejected == [] and records == [(2, expected)]
    else:
        assert records == [] and len(rejected) == 1
        assert rejected[0].line == 2 and rejected[0].field == expected[0] and expected[1] in rejected[0].message


def test_duplicates_quotes_bom_and_blank_lines():
    text = '\ufeffemail,company,lead_score\r\na@p.test,"Smith, Jones & Co",5\r\n\r\nA@p.test,,6\r\nb@p.test,"multi\nline",1\r\n'
    records, rejected = contacts.read_csv(text)
    assert [r for _, r in records][0] == {"email": "a@p.test", "company": "Smith, Jones & Co", "lead_score": 5}
    assert [(r.line, r.field, r.message) for r in rejected] == [
        (4, "email", "already on line 2"),
        (6, "company", "must not contain line breaks (CR, LF, VT, FF, NEL, U+2028 or U+2029)"),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("mail,first_name\nx@y.test,X\n", "unknown column 'mail'"),
        ("first_name,last_name\nX,Y\n", "no email column"),
        ("email,email\nx@y.test,x@y.test\n", "appears twice"),
    ],
)
def test_bad_files_are_refused_whole(text, message):
    with pytest.raises(Invalid) as caught:
        contacts.read_csv(text)
    assert caught.value.field == "file" and message in caught.value.message


def test_json_records_clear_with_null_and_refuse_unknown_fields():
    assert contacts.person_record({"email": "a@p.test", "phone": None, "lead_score": None}) == {
        "email": "a@p.test",
        "phone": None,
        "lead_score": None,
    }
    with pytest.raises(Invalid) as caught:
        contacts.person_record({"email": "a@p.test", "score": 5})
    assert caught.value.field == "score"
    with pytest.raises(Invalid) as caught:
        contacts.person_record({"email": "a@p.test", "lead_score": True})
    assert caught.value.field == "lead_score"


@pytest.mark.parametrize(
    "phone, url", [("+1 (415) 555-0100", "tel:+14155550100"), ("020 7946 0958 ext. 7", "tel:02079460958;ext=7"), (None, None)]
)
def test_tel_urls(phone, url):
    assert contacts.tel_url(phone) == url
