"""`/schema`: the OpenAPI document and one documentation page that needs no internet.

Litestar's pages load their scripts from public CDNs (ReDoc unpinned at `latest`), so on a
machine without internet they are blank. Swagger UI's dist files ship in the wheel under
`static/swagger-ui/` and are served from `/schema/static/`; the page is at `/schema` and
`/schema/swagger`. The other pages (`/schema/redoc`, `/schema/elements`, `/schema/rapidoc`)
are not served. The JSON document stays at `/schema/openapi.json` (YAML at `openapi.yaml`).
"""

from __future__ import annotations

from pathlib import Path

from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components
from litestar.router import Router
from litestar.static_files import create_static_files_router

from fcfs.entrypoints.http.openapi import SECURITY_SCHEMES

SCHEMA_PATH = "/schema"
SWAGGER_UI_VERSION = "5.18.2"
STATIC = Path(__file__).parent / "static"
_ASSETS = f"{SCHEMA_PATH}/static/swagger-ui"


class VendoredSwagger(SwaggerRenderPlugin):
    """Swagger UI from the files in the wheel, and the route that serves them."""

    def __init__(self) -> None:
        super().__init__(
            version=SWAGGER_UI_VERSION,
            js_url=f"{_ASSETS}/swagger-ui-bundle.js",
            css_url=f"{_ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{_ASSETS}/swagger-ui-standalone-preset.js",
            path=["/", "/swagger"],
            favicon=f"<link rel='icon' type='image/png' href='{_ASSETS}/favicon-32x32.png'>",
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(
            create_static_files_router(
                "/static",
                directories=[STATIC],
                name="api_docs_assets",
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=86400, public=True),
            )
        )


def api_docs_config(title: str, version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=title,
        version=version,
        path=SCHEMA_PATH,
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
        render_plugins=[VendoredSwagger(), YamlRenderPlugin()],
    )
