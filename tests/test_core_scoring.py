"""Stars and flames tiers, the 7-day rise, and LiveFeed's engagement score."""

from datetime import UTC, datetime, timedelta

import pytest

from livefeed.core import scoring

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)

CUTS = [
    # histogram {value: count}, percentiles, expected cut points
    ({10: 1, 20: 1, 30: 1, 40: 1}, scoring.STAR_PERCENTILES, (20, 40, 40)),  # 60 % lie below 40
    ({v: 1 for v in range(1, 101)}, scoring.STAR_PERCENTILES, (26, 61, 91)),
    ({50: 10}, scoring.STAR_PERCENTILES, (50, 50, 50)),  # everyone tied: everyone is on top
    ({0: 5, -3: 2, 7: 1}, scoring.STAR_PERCENTILES, (7, 7, 7)),  # only positive values count
    ({5: 1, 10: 1, 40: 2}, scoring.FLAME_PERCENTILES, (5, 40, 40)),
]


@pytest.mark.parametrize("histogram, percentiles, expected", CUTS)
def test_percentile_cuts(histogram, percentiles, expected):
    assert scoring.percentile_cuts(histogram, percentiles).points == expected


TIERS = [
    # cut points, value, tier
    ((20, 30, 40), None, 0),
    ((20, 30, 40), 0, 0),
    ((20, 30, 40), -5, 0),
    ((20, 30, 40), 19, 0),
    ((20, 30, 40), 20, 1),
    ((20, 30, 40), 39, 2),
    ((20, 30, 40), 40, 3),
    ((20, 30, 40), 1000, 3),
]


@pytest.mark.parametrize("points, value, tier", TIERS)
def test_tiers(points, value, tier):
    assert scoring.Cuts(points).tier(value) == tier


def test_no_scored_people_means_no_stars():
    cuts = scoring.percentile_cuts({}, scoring.STAR_PERCENTILES)
    assert cuts.tier(10_000) == 0


@pytest.mark.parametrize("text, expected", [("30,60,90", (30, 60, 90)), (" 1, 2,3", (1, 2, 3))])
def test_fixed_thresholds(text, expected):
    assert scoring.parse_thresholds(text, "star_thresholds") == expected
    assert scoring.fixed_cuts(expected).tier(expected[1]) == 2


@pytest.mark.parametrize("text", ["30,60", "60,30,90", "0,10,20", "a,b,c", "30,30,90", ""])
def test_bad_fixed_thresholds(text):
    with pytest.raises(ValueError, match="star_thresholds"):
        scoring.parse_thresholds(text, "star_thresholds")


def test_rise_counts_the_last_seven_days_net_and_not_first_scores():
    changes = [
        (NOW - timedelta(days=10), 10, 50),  # too old
        (NOW - timedelta(days=6), 50, 70),  # +20
        (NOW - timedelta(days=2), 70, 65),  # -5
        (NOW - timedelta(hours=1), None, 80),  # a first score is not a rise
    ]
    assert scoring.rise(changes, NOW) == 15
    assert scoring.rise([(NOW, 80, 20)], NOW) == 0  # never negative


def test_engagement_score_weights_decay_and_ignores_machines():
    day = timedelta(days=1)
    assert scoring.engagement_score([("open", "human", NOW)], NOW) == 1.0
    assert scoring.engagement_score([("click", "proxy", NOW)], NOW) == 3.0  # a proxy fetch is a real open
    assert scoring.engagement_score([("reply", "human", NOW - 7 * day)], NOW) == 5.0  # one half-life
    assert scoring.engagement_score([("open", "machine", NOW), ("click", "scanner", NOW), ("open", "self", NOW)], NOW) == 0
    assert scoring.engagement_score([("open", "human", NOW - 31 * day)], NOW) == 0  # outside the window
