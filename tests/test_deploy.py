"""The deployment files keep their promises (Dockerfile, compose.yaml, the proxy's configuration).

Docker cannot run on the machines that run this suite (no container engine), so the image and the
compose file are checked by reading them: a non-root user, a health check on Streamlit's
`/_stcore/health`, the fonts and styles inside, `/app/var` a volume, two app servers sharing one
collection with an index each, PostgreSQL, a proxy with sticky sessions, and every variable they
set a real setting.  The proxy's configuration is run for real with Debian's nginx: two stand-in
app servers behind it show that each browser stays on one server and that a stopped server's
browsers move to the other.
"""

from __future__ import annotations

import http.server
import os
import re
import shlex
import threading
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from library.config import SETTINGS
from tests.postgres_server import free_port
from tests.proxy_server import TEMPLATE, ProxyServer, find_nginx

from .conftest import REPO

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
LIBRARY_SETTINGS = {spec.env for spec in SETTINGS}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def streamlit_variables() -> set[str]:
    """The environment variable of every Streamlit option (server.cookieSecret: STREAMLIT_SERVER_COOKIE_SECRET)."""
    from streamlit import config

    names = set()
    for key in config.get_config_options():
        snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).replace(".", "_").upper()
        names.add(f"STREAMLIT_{snake}")
    return names


def app_services() -> dict[str, dict]:
    """The services that serve the app: built from this repository, run the default command."""
    return {name: service for name, service in SERVICES.items()
            if service.get("build") == "." and "command" not in service}


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


# ------------------------------------------------------------------ the image


def test_the_image_runs_as_a_user_of_its_own() -> None:
    users = [args for word, args in dockerfile_instructions() if word == "USER"]
    assert users, "the Dockerfile never leaves root"
    assert users[-1].split(":")[0] not in ("root", "0")
    after = [word for word, _ in dockerfile_instructions()[[w for w, _ in dockerfile_instructions()].index("USER"):]]
    assert "RUN" not in after, "nothing is installed after dropping root (it would run as the app's user)"


def test_the_image_checks_its_health_on_streamlits_endpoint() -> None:
    [check] = [args for word, args in dockerfile_instructions() if word == "HEALTHCHECK"]
    assert "/_stcore/health" in check and "8501" in check
    assert [args for word, args in dockerfile_instructions() if word == "EXPOSE"] == ["8501"]


def test_the_image_holds_the_code_fonts_and_styles_and_keeps_var_on_a_volume() -> None:
    copied = [args.split()[0] for word, args in dockerfile_instructions() if word == "COPY"]
    for needed in ("requirements.txt", "app.py", "library/", "views/", ".streamlit/config.toml", "references/"):
        assert needed in copied, needed
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    for inside in ("library", "library/fonts", "library/styles", "views", "references"):
        assert inside not in ignored
    assert list((REPO / "library" / "fonts").glob("*.ttf")) and list((REPO / "library" / "styles").glob("*.csl"))
    for secret in (".env", "deploy/secrets.toml", ".streamlit/secrets.toml", ".venv", "var"):
        assert secret in ignored, f"{secret} must never reach the image"
    [volume] = [args for word, args in dockerfile_instructions() if word == "VOLUME"]
    assert "/app/var" in volume
    [base] = [args for word, args in dockerfile_instructions() if word == "FROM"]
    assert base.startswith("python:3.11"), "the Python the requirements are pinned and tested for"


def test_every_variable_the_image_and_compose_set_is_a_real_setting() -> None:
    streamlit = streamlit_variables()
    image_env = {}
    for word, args in dockerfile_instructions():
        if word == "ENV":
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                image_env[name] = value
    set_by_us = set(image_env)
    for name in ("init", *app_services()):
        set_by_us |= set(environment_of(SERVICES[name]))
    python_env = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}
    uvicorn_env = {"FORWARDED_ALLOW_IPS"}  # Streamlit's web server (uvicorn): whose forwarded address to believe
    unknown = [name for name in set_by_us if name not in LIBRARY_SETTINGS and name not in streamlit
               and name not in python_env and name not in uvicorn_env]
    assert unknown == []
    env_example = [line.split("=", 1)[0] for line in (REPO / "deploy" / "env.example").read_text().splitlines()
                   if line and not line.startswith("#")]
    for name in env_example:
        assert name in LIBRARY_SETTINGS or name in ("LIBRARY_DB_PASSWORD", "STREAMLIT_COOKIE_SECRET"), name


# ------------------------------------------------------------------ the services


def test_two_app_servers_share_one_collection_and_database_with_an_index_each() -> None:
    apps = app_services()
    assert len(apps) >= 2
    mounts = {name: {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]} for name, service in apps.items()}
    shared = {m["/app/var"] for m in mounts.values()}
    assert len(shared) == 1, "every app server mounts the same collection volume at /app/var"
    assert len({m["/app/index"] for m in mounts.values()}) == len(apps), "each server has its own index"
    urls = {environment_of(service)["LIBRARY_DATABASE_URL"] for service in apps.values()}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql+psycopg://"), \
        "one PostgreSQL for all (and so one collection lock)"
    for name, service in apps.items():
        env = environment_of(service)
        assert env["LIBRARY_REFERENCES_DIR"].startswith("/app/var/") and env["LIBRARY_DATA_DIR"].startswith("/app/var/")
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert any(s["target"] == "/app/.streamlit/secrets.toml" for s in service["secrets"])
        assert env["STREAMLIT_SERVER_COOKIE_SECRET"].startswith("${"), "the same secret on every server"


def test_postgresql_and_the_proxy_are_there() -> None:
    [db] = [s for s in SERVICES.values() if str(s.get("image", "")).startswith("postgres:")]
    assert db["healthcheck"]["test"][-1].startswith("pg_isready")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    [proxy] = [s for s in SERVICES.values() if str(s.get("image", "")).startswith("nginx:")]
    assert "./deploy/nginx/templates:/etc/nginx/templates:ro" in proxy["volumes"]
    upstreams = {v for k, v in environment_of(proxy).items() if k.startswith("LIBRARY_APP_")}
    assert upstreams == {f"{name}:8501" for name in app_services()}
    for name in app_services():
        assert proxy["depends_on"][name]["condition"] == "service_healthy"
    template = TEMPLATE.read_text(encoding="utf-8")
    assert re.search(r"hash \$library_route consistent;", template), "sticky sessions by a cookie"
    assert "$cookie_library_route" in template and "proxy_set_header Upgrade $http_upgrade;" in template
    for name in re.findall(r"\$\{([A-Z0-9_]+)\}", template):
        assert name in environment_of(proxy), f"the proxy's environment does not set {name}"


def test_the_example_secrets_have_the_keys_streamlit_needs() -> None:
    example = tomllib.loads((REPO / "deploy" / "secrets.toml.example").read_text(encoding="utf-8"))
    assert set(example["auth"]) == {"redirect_uri", "cookie_secret", "client_id", "client_secret",
                                    "server_metadata_url"}
    assert example["auth"]["redirect_uri"].endswith("/oauth2callback")
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and "deploy/secrets.toml" in ignored


def test_the_deployment_guide_names_every_setting_and_says_what_was_not_tested() -> None:
    guide = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    for spec in SETTINGS:
        assert spec.env in guide, spec.env
    assert "pg_dump" in guide and "oauth2callback" in guide and "LIBRARY_LIBRARIANS" in guide
    assert "not been run" in guide  # the honest testing note: no container engine here


# ------------------------------------------------------------------ the proxy, for real


@pytest.fixture
def nginx() -> Path:
    found = find_nginx()
    if found is None:
        reason = "nginx is not installed (Debian's nginx-light; scripts/run-tests.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; it must be present in CI", pytrace=False)
        pytest.skip(reason)
    return found


class Named(http.server.ThreadingHTTPServer):
    name = ""


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_ins() -> Iterator[list[Named]]:
    servers = []
    for name in ("app1", "app2"):
        server = Named(("127.0.0.1", 0), Answer)
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_nginx_accepts_the_shipped_configuration(nginx: Path, tmp_path: Path) -> None:
    proxy = ProxyServer(tmp_path / "proxy", ("app1:8501", "app2:8501"), free_port(), nginx)
    proxy.site = proxy.site.replace("app1:8501", "127.0.0.1:1").replace("app2:8501", "127.0.0.1:2")
    done = proxy.check()
    assert done.returncode == 0, done.stderr


def test_each_browser_stays_on_one_server_and_moves_when_it_stops(nginx: Path, tmp_path: Path,
                                                                  stand_ins: list[Named]) -> None:
    upstreams = tuple(f"127.0.0.1:{s.server_address[1]}" for s in stand_ins)
    proxy = ProxyServer(tmp_path / "proxy", upstreams, free_port(), nginx)  # type: ignore[arg-type]
    url = proxy.start()
    try:
        def get(cookie: str | None = None) -> tuple[str, str]:
            request = urllib.request.Request(url + "/", headers={"Cookie": cookie} if cookie else {})
            with urllib.request.urlopen(request, timeout=10) as answer:
                set_cookie = answer.headers.get("Set-Cookie", "")
                return answer.read().decode(), set_cookie

        browsers: dict[str, str] = {}
        for _ in range(40):  # forty new browsers, each given a routing cookie
            served_by, set_cookie = get()
            cookie = set_cookie.split(";", 1)[0]
            assert cookie.startswith("library_route=") and "HttpOnly" in set_cookie
            browsers[cookie] = served_by
        assert set(browsers.values()) == {"app1", "app2"}, "new browsers are spread over both servers"
        for cookie, first in list(browsers.items())[:10]:
            for _ in range(5):
                assert get(cookie)[0] == first, "a browser always reaches the same server"

        stand_ins[0].shutdown()  # app1 stops (a restart, a crash)
        stand_ins[0].server_close()
        for cookie in list(browsers)[:10]:
            assert get(cookie)[0] == "app2", "its browsers are served by the other server"
    finally:
        proxy.stop()


# ------------------------------------------------------------------ the client's address behind the proxy


async def _echo_client(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """An ASGI app that answers with the client address the server gives it (Streamlit's
    `st.context.ip_address`, which the sign-in throttle counts per address, is that address)."""
    body = (scope["client"][0] if scope.get("client") else "").encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def test_behind_the_proxy_the_app_sees_each_browsers_own_address_and_no_forged_one(
        nginx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit's server (uvicorn) takes the client's address from X-Forwarded-For only when the
    proxy is trusted (FORWARDED_ALLOW_IPS, 127.0.0.1 by default): in compose the proxy is another
    container, so without the setting every browser had the proxy's address and the sign-in
    throttle's per-address count was one count for the whole organisation.  Run for real: uvicorn
    with compose's setting, nginx with the shipped template, a browser on 127.0.0.2 that forges
    the header."""
    import http.client

    import uvicorn

    trusted = {name: environment_of(service).get("FORWARDED_ALLOW_IPS") for name, service in app_services().items()}
    assert all(trusted.values()), f"each app server must trust the proxy's forwarded address: {trusted}"
    [value] = set(trusted.values())
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", value)  # as the container's environment gives it to uvicorn
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_echo_client, host="127.0.0.1", port=port, lifespan="off", ws="none",
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # nginx answers at once, with an error page until uvicorn listens
        assert thread.is_alive() and time.monotonic() < deadline, "the stand-in app server did not start"
        time.sleep(0.05)
    proxy = ProxyServer(tmp_path / "proxy", (f"127.0.0.1:{port}", f"127.0.0.1:{port}"), free_port(), nginx)
    try:
        proxy.start()

        def seen(headers: dict[str, str]) -> str:
            connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10,
                                                    source_address=("127.0.0.2", 0))
            connection.request("GET", "/", headers=headers)
            answer = connection.getresponse().read().decode()
            connection.close()
            return answer

        assert seen({}) == "127.0.0.2"
        assert seen({"X-Forwarded-For": "203.0.113.9"}) == "127.0.0.2", "a forged address must not be believed"
    finally:
        proxy.stop()
        server.should_exit = True
        thread.join(timeout=10)
