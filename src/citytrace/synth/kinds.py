"""Kinds of place: how many venues a city has, how long people stay, how they pay and check in.

Densities are rough Seoul magnitudes around 2020 (about 10 million residents, roughly 120,000
restaurants, 17,000 cafes, 300 subway stations, 11,000 bus stops), scaled to the synthetic
population; every district gets at least one venue of each kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class KindSpec:
    """One kind of place.

    Attributes
    ----------
    name
        Kind as written in evidence (``merchant_category``, ``venue_kind``).
    per_1000_people
        Venues per 1,000 residents (spread over districts by area).
    per_district
        Venues per average-sized district, independent of population (transit stops).
    min_per_district
        Fewest venues of the kind in any district, so small synthetic cities still have places
        within reach.
    dwell_min
        Typical stay in minutes; each venue varies it by up to 25 %.
    card_rate
        Probability that a visit leaves a card transaction (0: nobody pays there).
    pay_at
        When in the stay people pay, as a fraction of the stay (0 on arrival, 1 on leaving).
    amount_krw
        Median amount paid (fares are fixed).
    checkin
        Whether KI-Pass check-in was required there.
    names
        ``(korean, english)`` name patterns; ``{s}``/``{S}`` is a stem.
    """

    name: str
    per_1000_people: float
    per_district: float
    min_per_district: int
    dwell_min: float
    card_rate: float
    pay_at: float
    amount_krw: float
    checkin: bool
    names: tuple[tuple[str, str], ...]


KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        name="home",
        per_1000_people=0,
        per_district=0,
        min_per_district=0,
        dwell_min=0,
        card_rate=0,
        pay_at=0,
        amount_krw=0,
        checkin=False,
        names=(),
    ),
    KindSpec(
        name="restaurant",
        per_1000_people=12.0,
        per_district=0,
        min_per_district=6,
        dwell_min=50,
        card_rate=0.8,
        pay_at=0.95,
        amount_krw=9000,
        checkin=True,
        names=(
            ("{s} 김밥", "{S} Gimbap"),
            ("{s} 국밥", "{S} Gukbap"),
            ("{s} 식당", "{S} Sikdang"),
            ("{s} 칼국수", "{S} Kalguksu"),
            ("{s} 치킨", "{S} Chicken"),
            ("{s} 갈비", "{S} Galbi"),
            ("{s} 분식", "{S} Bunsik"),
            ("{s} 순대국", "{S} Sundaeguk"),
            ("{s} 중화요리", "{S} Chinese Restaurant"),
            ("{s} 돈까스", "{S} Donkatsu"),
            ("{s} 삼겹살", "{S} Samgyeopsal"),
            ("{s} 냉면", "{S} Naengmyeon"),
        ),
    ),
    KindSpec(
        name="cafe",
        per_1000_people=2.0,
        per_district=0,
        min_per_district=4,
        dwell_min=40,
        card_rate=0.85,
        pay_at=0.02,
        amount_krw=5000,
        checkin=True,
        names=(
            ("카페 {s}", "Cafe {S}"),
            ("{s} 커피", "{S} Coffee"),
            ("{s} 베이커리 카페", "{S} Bakery Cafe"),
            ("{s} 다방", "{S} Dabang"),
        ),
    ),
    KindSpec(
        name="church",
        per_1000_people=0.6,
        per_district=0,
        min_per_district=2,
        dwell_min=110,
        card_rate=0.0,
        pay_at=0,
        amount_krw=0,
        checkin=True,
        names=(
            ("{s}교회", "{S} Church"),
            ("{s}중앙교회", "{S} Central Church"),
            ("{s}성당", "{S} Catholic Church"),
        ),
    ),
    KindSpec(
        name="gym",
        per_1000_people=0.25,
        per_district=0,
        min_per_district=2,
        dwell_min=70,
        card_rate=0.1,
        pay_at=0.02,
        amount_krw=10000,
        checkin=True,
        names=(
            ("{s} 피트니스", "{S} Fitness"),
            ("{s} 헬스클럽", "{S} Health Club"),
            ("{s} 필라테스", "{S} Pilates"),
        ),
    ),
    KindSpec(
        name="pc_bang",
        per_1000_people=0.4,
        per_district=0,
        min_per_district=2,
        dwell_min=120,
        card_rate=0.6,
        pay_at=0.95,
        amount_krw=3000,
        checkin=True,
        names=(("{s} PC방", "{S} PC Bang"), ("{s} 게임존 PC", "{S} Game Zone PC")),
    ),
    KindSpec(
        name="karaoke",
        per_1000_people=0.6,
        per_district=0,
        min_per_district=2,
        dwell_min=80,
        card_rate=0.6,
        pay_at=0.02,
        amount_krw=5000,
        checkin=True,
        names=(("{s} 코인노래방", "{S} Coin Karaoke"), ("{s} 노래연습장", "{S} Karaoke")),
    ),
    KindSpec(
        name="hospital",
        per_1000_people=0.9,
        per_district=0,
        min_per_district=2,
        dwell_min=45,
        card_rate=0.9,
        pay_at=0.9,
        amount_krw=6000,
        checkin=False,
        names=(
            ("{s} 내과의원", "{S} Internal Medicine Clinic"),
            ("{s} 이비인후과", "{S} ENT Clinic"),
            ("{s} 정형외과", "{S} Orthopaedic Clinic"),
            ("{s} 소아청소년과", "{S} Paediatric Clinic"),
            ("{s} 병원", "{S} Hospital"),
            ("{s} 요양병원", "{S} Care Hospital"),
        ),
    ),
    KindSpec(
        name="pharmacy",
        per_1000_people=0.5,
        per_district=0,
        min_per_district=2,
        dwell_min=7,
        card_rate=0.85,
        pay_at=0.8,
        amount_krw=4500,
        checkin=False,
        names=(("{s} 약국", "{S} Pharmacy"), ("{s} 온누리약국", "{S} Onnuri Pharmacy")),
    ),
    KindSpec(
        name="mart",
        per_1000_people=1.0,
        per_district=0,
        min_per_district=3,
        dwell_min=25,
        card_rate=0.9,
        pay_at=0.9,
        amount_krw=15000,
        checkin=False,
        names=(
            ("{s} 마트", "{S} Mart"),
            ("{s} 슈퍼마켓", "{S} Supermarket"),
            ("{s} 편의점", "{S} Convenience Store"),
        ),
    ),
    KindSpec(
        name="school",
        per_1000_people=0.15,
        per_district=0,
        min_per_district=2,
        dwell_min=420,
        card_rate=0.0,
        pay_at=0,
        amount_krw=0,
        checkin=False,
        names=(
            ("{s}초등학교", "{S} Elementary School"),
            ("{s}중학교", "{S} Middle School"),
            ("{s}고등학교", "{S} High School"),
        ),
    ),
    KindSpec(
        name="office",
        per_1000_people=5.0,
        per_district=0,
        min_per_district=4,
        dwell_min=540,
        card_rate=0.0,
        pay_at=0,
        amount_krw=0,
        checkin=False,
        names=(
            ("{s} 빌딩", "{S} Building"),
            ("(주){s}", "{S} Co., Ltd."),
            ("{s} 타워", "{S} Tower"),
            ("{s} 센터", "{S} Center"),
        ),
    ),
    KindSpec(
        name="subway",
        per_1000_people=0,
        per_district=12,
        min_per_district=1,
        dwell_min=25,
        card_rate=0.97,
        pay_at=0.0,
        amount_krw=1250,
        checkin=False,
        names=(("{s}역", "{S} Station"),),
    ),
    KindSpec(
        name="bus",
        per_1000_people=0,
        per_district=60,
        min_per_district=1,
        dwell_min=20,
        card_rate=0.97,
        pay_at=0.0,
        amount_krw=1200,
        checkin=False,
        names=(("{s} 정류장", "{S} Bus Stop"),),
    ),
)
"""Every kind of place, in a fixed order: a kind's position is its code in arrays."""

KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
KIND_ARRAY = pa.array(KIND_NAMES, type=pa.string())
CODE = {name: i for i, name in enumerate(KIND_NAMES)}
HOME = CODE["home"]
SUBWAY = CODE["subway"]
BUS = CODE["bus"]
TRANSIT = (SUBWAY, BUS)
VENUE_KINDS: tuple[str, ...] = KIND_NAMES[1:]
CHECKIN_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS if k.checkin)
PAYING_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS if k.card_rate > 0)

CARD_RATE = np.array([k.card_rate for k in KINDS])
PAY_AT = np.array([k.pay_at for k in KINDS])
AMOUNT_KRW = np.array([k.amount_krw for k in KINDS])
IS_CHECKIN = np.array([k.checkin for k in KINDS])
IS_FIXED_FARE = np.isin(np.arange(len(KINDS)), TRANSIT)
# Kinds often indoors or underground, where a phone loses its GPS fix.
IS_INDOORS = np.isin(
    np.arange(len(KINDS)), [CODE[k] for k in ("pc_bang", "karaoke", "mart", "gym")]
)

STEMS: tuple[tuple[str, str], ...] = (
    ("행복", "Haengbok"),
    ("미소", "Miso"),
    ("한빛", "Hanbit"),
    ("푸른", "Pureun"),
    ("새봄", "Saebom"),
    ("하늘", "Haneul"),
    ("다온", "Daon"),
    ("소망", "Somang"),
    ("우리", "Uri"),
    ("온누리", "Onnuri"),
    ("청춘", "Cheongchun"),
    ("별빛", "Byeolbit"),
    ("바다", "Bada"),
    ("가온", "Gaon"),
    ("누리", "Nuri"),
    ("한결", "Hangyeol"),
    ("해오름", "Haeoreum"),
    ("큰나무", "Keunnamu"),
    ("사랑", "Sarang"),
    ("은하", "Eunha"),
    ("솔", "Sol"),
    ("참", "Cham"),
    ("명가", "Myeongga"),
    ("대박", "Daebak"),
    ("으뜸", "Eutteum"),
    ("세종", "Sejong"),
    ("한마음", "Hanmaeum"),
    ("새날", "Saenal"),
    ("동백", "Dongbaek"),
    ("장수", "Jangsu"),
)
"""Generic name stems (Korean, revised romanisation) for business names."""
