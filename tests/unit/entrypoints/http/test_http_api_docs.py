"""Item 4: the documentation page loads only what the wheel ships; the document declares who may call what."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib.resources import files

import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app

REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_docs_page_loads_only_assets_served_here(client, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert "https://" not in response.text and "http://" not in response.text
    assets = REFERENCES.findall(response.text)
    assert {asset.rsplit("/", 1)[-1] for asset in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert asset.startswith("/schema/static/"), asset
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 0


async def test_the_assets_are_package_data_with_their_license() -> None:
    folder = files("fcfs.entrypoints.http") / "static" / "swagger-ui"
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert (folder / name).is_file(), name


@pytest.mark.parametrize("page", ["/schema/redoc", "/schema/elements", "/schema/rapidoc"])
async def test_pages_that_would_load_a_cdn_are_not_served(client, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 404
    assert "https://" not in response.text


async def test_the_document_declares_the_security_schemes_and_where_they_apply(client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["adminToken"] == schemes["adminToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["userToken"] == schemes["userToken"] | {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["adminHeader"] == schemes["adminHeader"] | {
        "type": "apiKey",
        "in": "header",
        "name": "X-Fcfs-Admin-Token",
    }
    paths = document["paths"]
    admin_only = [{"adminToken": []}]
    assert paths["/api/v1/coupons"]["post"]["security"] == admin_only
    assert paths["/api/v1/coupons/{coupon_id}"]["delete"]["security"] == admin_only
    assert paths["/api/v1/coupons/{coupon_id}/stock"]["post"]["security"] == admin_only
    assert {"userToken": []} in paths["/api/v1/coupons/{coupon_id}/issue"]["post"]["security"]
    assert paths["/api/v1/coupons/{coupon_id}/issued/{user_id}"]["get"]["security"] == [
        {"userToken": []},
        {"adminToken": []},
    ]
    assert "security" not in paths["/api/v1/coupons/{coupon_id}"]["get"]
    assert "422" in paths["/api/v1/coupons/{coupon_id}/issue"]["post"]["responses"]
