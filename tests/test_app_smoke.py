from tests.conftest import gql


async def test_unknown_asset_is_null(api):
    body = await gql(api, '{ asset(id: "nope") { symbol } }')
    assert body["data"] == {"asset": None}
    assert "errors" not in body


async def test_healthz(api):
    resp = await api.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"
