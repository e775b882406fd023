"""The shipped reverse-proxy configuration (deploy/nginx/templates/default.conf.template) run with
Debian's nginx, as the official nginx image would run it: for the deployment tests and the soak.

`scripts/run-tests.sh` installs Debian's `nginx-light` when nginx is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "deploy" / "nginx" / "templates" / "default.conf.template"
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def find_nginx() -> Path | None:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst step makes of the template: ${NAME} replaced for the names
    it is given, nginx's own $variables left as they are.  A placeholder without a value is an error."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"the proxy template needs {name}")
        return values[name]

    return _PLACEHOLDER.sub(fill, template)


class ProxyServer:
    """nginx with the shipped site configuration, in a folder of its own, on `port`."""

    def __init__(self, root: Path, upstreams: tuple[str, str], port: int, nginx: Path) -> None:
        self.root = root
        self.port = port
        self.nginx = nginx
        self.site = render(TEMPLATE.read_text(encoding="utf-8"),
                           {"LIBRARY_APP_1": upstreams[0], "LIBRARY_APP_2": upstreams[1],
                            "LIBRARY_PROXY_PORT": f"127.0.0.1:{port}"})
        self.process: subprocess.Popen | None = None

    def write(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "site.conf").write_text(self.site, encoding="utf-8")
        temp = self.root / "temp"
        temp.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = (f"{user}daemon off;\nworker_processes 1;\npid {self.root}/nginx.pid;\n"
                f"error_log {self.root}/error.log warn;\nevents {{ worker_connections 1024; }}\n"
                "http {\n"
                f"  access_log {self.root}/access.log;\n"
                f"  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n"
                f"  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n"
                f"  scgi_temp_path {temp}/scgi;\n"
                f"  include {self.root}/site.conf;\n}}\n")
        conf = self.root / "nginx.conf"
        conf.write_text(main, encoding="utf-8")
        return conf

    def check(self) -> subprocess.CompletedProcess:
        """`nginx -t`: does nginx accept the configuration?"""
        conf = self.write()
        return subprocess.run([str(self.nginx), "-t", "-p", str(self.root), "-c", str(conf)],
                              capture_output=True, text=True, timeout=30)

    def start(self, access_log: Path | None = None) -> str:
        """Start nginx; its access log (standard output, as in the nginx image) goes to `access_log`."""
        conf = self.write()
        output = access_log.open("ab") if access_log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen([str(self.nginx), "-p", str(self.root), "-c", str(conf)],
                                        stdout=output, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx stopped: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                                   f"\n{(self.root / 'error.log').read_text() if (self.root / 'error.log').exists() else ''}")
            try:
                urllib.request.urlopen(url + "/", timeout=2)
                return url
            except urllib.error.HTTPError:
                return url  # nginx answers (even with an upstream's error)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer on {url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
