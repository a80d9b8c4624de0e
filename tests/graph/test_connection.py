"""The assets connection: bounded `first`, opaque cursors, ordering, filters, totalCount."""

from datetime import UTC, datetime, timedelta

from app.main import create_app
from tests.conftest import gql, make_settings
from tests.factories import Factory
from tests.graph.conftest import serve

PAGE = """query($first: Int!, $after: String, $order: AssetOrder, $filter: AssetFilter) {
  assets(first: $first, after: $after, orderBy: $order, filter: $filter) {
    totalCount
    edges { cursor node { canonicalId } }
    nodes { canonicalId }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def seed(db):
    """Seven assets with market figures; `ghost` has none (sorts last); `tie1/2` tie on cap."""
    f = Factory(db.sessions)
    now = datetime.now(UTC)
    rows = [
        # id, kind, categories, market cap, volume, change 24h, grade, rank
        ("alpha", "coin", ["layer-1"], "500", "50", "-3.5", "70", 3),
        ("bravo", "token", ["defi"], "900", "10", "1.25", "40", 1),
        ("charlie", "token", ["defi", "layer-1"], "100", "90", "12", "95", 5),
        ("tie1", "coin", [], "300", "30", "0", "50", 4),
        ("tie2", "coin", [], "300", "20", "0.5", None, 2),
        ("delta", "stablecoin", [], "1000000000000000000000.5", "5", "-0.01", "10", None),
        ("ghost", "coin", ["defi"], None, None, None, None, None),
    ]
    ids = {}
    for cid, kind, cats, cap, vol, chg, grade, rank in rows:
        ids[cid] = await f.asset(cid, symbol=cid[:3].upper(), kind=kind, categories=cats, rank=rank)
        if cap is not None:
            # An older, bigger figure must not be used: the latest observation wins.
            await f.quote(
                ids[cid],
                "coingecko",
                "1",
                market_cap="9000000000000000000000",
                observed_at=now - timedelta(seconds=120),
            )
            await f.quote(
                ids[cid],
                "coingecko",
                "1",
                market_cap=cap,
                volume_24h=vol,
                change_24h=chg,
                observed_at=now - timedelta(seconds=30),
            )
        if grade is not None:
            await f.signal(ids[cid], "trader_grade", grade, computed_at=now - timedelta(minutes=5))
    return ids


def names(body):
    assert "errors" not in body, body
    return [n["canonicalId"] for n in body["data"]["assets"]["nodes"]]


async def test_default_order_is_market_cap_desc_with_nulls_last_and_stable_ties(db, api):
    await seed(db)
    body = await gql(api, PAGE, {"first": 50})
    assert names(body) == ["delta", "bravo", "alpha", "tie1", "tie2", "charlie", "ghost"]
    conn = body["data"]["assets"]
    assert conn["totalCount"] == 7
    assert [e["node"]["canonicalId"] for e in conn["edges"]] == names(body)
    assert conn["pageInfo"]["hasNextPage"] is False
    assert conn["pageInfo"]["hasPreviousPage"] is False
    assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
    assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]


async def test_orderings(db, api):
    await seed(db)
    cases = {
        ("VOLUME_24H", "DESC"): ["charlie", "alpha", "tie1", "tie2", "bravo", "delta", "ghost"],
        ("CHANGE_24H", "ASC"): ["alpha", "delta", "tie1", "tie2", "bravo", "charlie", "ghost"],
        ("GRADE", "DESC"): ["charlie", "alpha", "tie1", "bravo", "delta", "tie2", "ghost"],
        ("MARKET_CAP", "ASC"): ["charlie", "tie1", "tie2", "alpha", "bravo", "delta", "ghost"],
        ("RANK", None): ["bravo", "tie2", "alpha", "tie1", "charlie", "delta", "ghost"],
    }
    for (field, direction), expected in cases.items():
        order = {"field": field} | ({"direction": direction} if direction else {})
        body = await gql(api, PAGE, {"first": 10, "order": order})
        assert names(body) == expected, (field, direction)


async def test_paging_visits_every_item_once_in_order(db, api):
    await seed(db)
    full = names(await gql(api, PAGE, {"first": 50, "order": {"field": "MARKET_CAP"}}))
    seen, after, pages = [], None, 0
    while True:
        body = await gql(api, PAGE, {"first": 2, "after": after, "order": {"field": "MARKET_CAP"}})
        page = body["data"]["assets"]
        seen += names(body)
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["totalCount"] == 7
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == full
    assert pages == 4


async def test_cursor_is_opaque_and_bound_to_its_ordering(db, api):
    await seed(db)
    body = await gql(api, PAGE, {"first": 2})
    cursor = body["data"]["assets"]["pageInfo"]["endCursor"]
    assert "alpha" not in cursor and "MARKET" not in cursor
    body = await gql(api, PAGE, {"first": 2, "after": cursor, "order": {"field": "RANK"}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another list or ordering" in body["errors"][0]["message"]
    body = await gql(api, PAGE, {"first": 2, "after": "garbage!"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_first_is_bounded_explicitly(db, uncapped_api):
    api = uncapped_api  # the cost limit would refuse a huge `first` before the graph sees it
    await seed(db)
    for first in (251, 1000, -1):
        body = await gql(api, PAGE, {"first": first})
        (err,) = body["errors"]
        assert err["extensions"]["code"] == "BAD_USER_INPUT"
        assert "250" in err["message"]
        assert err["extensions"]["maximum"] == 250
    body = await gql(api, PAGE, {"first": 250})
    assert len(names(body)) == 7
    body = await gql(api, PAGE, {"first": 0})
    assert names(body) == []
    assert body["data"]["assets"]["pageInfo"]["hasNextPage"] is False
    # The default page size is 50.
    body = await gql(api, "{ assets { nodes { canonicalId } } }")
    assert len(body["data"]["assets"]["nodes"]) == 7


async def test_page_size_limit_is_a_setting(db):
    await seed(db)
    settings = make_settings(db.url, cost_enforce=False, max_page_size=3)
    async with serve(create_app(settings)) as served:
        body = await gql(served.client, PAGE, {"first": 4})
        (err,) = body["errors"]
        assert err["extensions"]["code"] == "BAD_USER_INPUT"
        assert err["extensions"]["maximum"] == 3
        body = await gql(served.client, PAGE, {"first": 3})
        assert len(names(body)) == 3
        assert body["data"]["assets"]["pageInfo"]["hasNextPage"] is True


async def test_filters(db, api):
    await seed(db)
    cases = [
        ({"ids": ["alpha", "ghost", "nope"]}, ["alpha", "ghost"]),
        ({"symbols": ["cha", "TIE"]}, ["tie1", "tie2", "charlie"]),
        ({"kind": "token"}, ["bravo", "charlie"]),
        ({"category": "defi"}, ["bravo", "charlie", "ghost"]),
        ({"minMarketCap": "300"}, ["delta", "bravo", "alpha", "tie1", "tie2"]),
        ({"minMarketCap": "300.5", "category": "layer-1"}, ["alpha"]),
    ]
    for flt, expected in cases:
        body = await gql(api, PAGE, {"first": 50, "filter": flt})
        assert names(body) == expected, flt
        assert body["data"]["assets"]["totalCount"] == len(expected), flt
