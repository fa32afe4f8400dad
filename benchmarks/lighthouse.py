"""Lighthouse scores of the readers' site: home, an article and a tag page, in Debian's
chromium, on a CMS seeded with demo content on a throwaway SQLite database.

    .venv/bin/python -m benchmarks.lighthouse                 # mobile and desktop
    .venv/bin/python -m benchmarks.lighthouse --form-factors mobile

Not part of the test suite (it installs Lighthouse and takes minutes); never imported by
the app. Exits 1 when a page scores under the issue's targets (accessibility, best
practices and SEO 100, performance 95) or is missing. See benchmarks/README.md.
"""

import argparse
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from PIL import Image, ImageDraw

from benchmarks.client import HOST, Reply, fetch
from benchmarks.processes import Children, Interrupted, children, free_port, wait_ready
from cms.articles.tags import tag_slug

HERE = Path(__file__).parent
# Lighthouse 13 wants Node 22; Debian 12 has Node 20. Pinned exactly, installed here only.
LIGHTHOUSE_VERSION = "12.2.3"
INSTALL_DIR = HERE / ".lighthouse"
CLI = INSTALL_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}
STAFF_EMAIL = "lighthouse-staff@example.com"
# Covers on this many of the newest articles, so the article page shows its srcset.
COVERED = 5
# Audits that only tell (no pass or fail) are not failures.
JUDGED_MODES = frozenset({"binary", "numeric", "metricSavings"})


@dataclass
class Page:
    key: str
    path: str
    problem: str | None = None


@dataclass
class Result:
    page: Page
    form_factor: str
    scores: dict[str, int | None] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)
    problem: str | None = None
    report: Path | None = None

    def short_of_targets(self) -> list[str]:
        if self.problem:
            return [self.problem]
        return [
            f"{category} {score}"
            for category, target in TARGETS.items()
            if (score := self.scores.get(category)) is None or score < target
        ]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lighthouse", description=__doc__.split("\n\n")[0]
    )
    add = parser.add_argument
    add(
        "--form-factors",
        default="mobile,desktop,mobile-dark",
        help="mobile (Lighthouse's default), desktop; -dark: in dark mode",
    )
    add("--pages", default="home,article,tag", help="which pages: home, article, tag")
    add("--articles", type=int, default=60, help="demo articles to seed")
    add("--chromium", default=CHROMIUM, help="the browser Lighthouse drives")
    add("--results", type=Path, default=HERE / "results", help="where reports are written")
    return parser.parse_args(argv)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: apt-get install nodejs npm (Debian's)")
    return found


def install() -> Path:
    """Lighthouse ``LIGHTHOUSE_VERSION`` in ``INSTALL_DIR`` (from the npm registry, once)."""
    package = CLI.parents[1] / "package.json"
    if package.exists() and json.loads(package.read_text()).get("version") == LIGHTHOUSE_VERSION:
        return CLI
    print(f"Installing lighthouse@{LIGHTHOUSE_VERSION} into {INSTALL_DIR}")
    INSTALL_DIR.mkdir(exist_ok=True)
    subprocess.run(  # noqa: S603
        [
            _tool("npm"),
            "install",
            "--prefix",
            str(INSTALL_DIR),
            "--no-audit",
            "--no-fund",
            "--save-exact",
            f"lighthouse@{LIGHTHOUSE_VERSION}",
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return CLI


def _cms(env: Mapping[str, str], *args: str) -> None:
    cms = Path(sys.executable).with_name("cms")
    argv = [str(cms), *args]
    quiet = subprocess.DEVNULL
    subprocess.run(argv, env=dict(env), check=True, stdin=quiet, stdout=quiet)  # noqa: S603


def seed(env: Mapping[str, str], articles: int, password: str) -> None:
    """The CMS's own commands: migrate, demo content, a staff user to add covers with."""
    _cms(env, "migrate")
    _cms(env, "seed-demo", "--users=8", f"--articles={articles}", "--seed=1")
    _cms(
        env,
        "createsuperuser",
        f"--email={STAFF_EMAIL}",
        f"--password={password}",
        "--name=Lighthouse staff",
    )


def _request(
    port: int,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
) -> Reply:
    reply = fetch(port, path, method=method, body=body, headers=headers)
    if reply.status >= 300:
        raise RuntimeError(f"{method} {path}: {reply.status} {reply.body[:300]!r}")
    return reply


def _cover_jpeg() -> bytes:
    """A 1600x900 picture with enough detail to be a realistic cover's weight."""
    image = Image.new("RGB", (1600, 900), (34, 85, 120))
    draw = ImageDraw.Draw(image)
    for n in range(0, 1600, 40):
        draw.rectangle((n, 450 - n // 4, n + 30, 900), fill=(200 - n // 10, 120 + n // 20, 60))
    draw.ellipse((1100, 80, 1400, 380), fill=(250, 210, 90))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def add_covers(port: int, password: str) -> None:
    """Upload one picture through the API and make it the cover of the newest articles."""
    form = urlencode({"username": STAFF_EMAIL, "password": password}).encode()
    token = _request(
        port,
        "POST",
        "/auth/token",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    boundary = secrets.token_hex(16)
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="alt"\r\n\r\n',
            b"Hills at dusk under a yellow sun\r\n",
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="cover.jpg"\r\n',
            b"Content-Type: image/jpeg\r\n\r\n",
            _cover_jpeg(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    media = _request(
        port,
        "POST",
        "/media/",
        body,
        {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    ).json()
    for article in fetch(port, f"/articles/?limit={COVERED}").json():
        _request(
            port,
            "PATCH",
            f"/articles/{article['id']}",
            json.dumps({"cover_image_id": media["id"]}).encode(),
            {**auth, "Content-Type": "application/json"},
        )


def _local_path(url: str) -> str:
    """The path (and query) of a URL the API gave, which may be absolute."""
    if "://" in url:
        url = "/" + url.split("://", 1)[1].split("/", 1)[-1]
    return url


def pages(port: int, wanted: Sequence[str]) -> list[Page]:
    """Home, the newest article (it has a cover) and the page of its first tag."""
    newest = fetch(port, "/articles/?limit=20").json()
    article = newest[0]
    tagged = next((item for item in newest if item.get("tags")), None)
    article_path = _local_path(article.get("url") or f"/posts/{quote(article['slug'])}")
    found = {
        "home": Page("home", "/"),
        "article": Page("article", article_path),
        "tag": Page("tag", f"/tag/{quote(tag_slug(tagged['tags'][0]))}")
        if tagged
        else Page("tag", "/tag/", problem="no tagged article"),
    }
    chosen = [found[key] for key in wanted]
    for page in chosen:
        if page.problem is None:
            reply = fetch(port, page.path, headers={"Accept": "text/html"})
            kind = reply.header("content-type") or ""
            if reply.status != 200 or not kind.startswith("text/html"):
                page.problem = f"not available yet ({reply.status} {kind})"
    return chosen


def run_lighthouse(
    started: Children,
    cli: Path,
    chromium: str,
    url: str,
    form_factor: str,
    out: Path,
) -> dict[str, Any]:
    """One Lighthouse run; its report (the LHR) as JSON, also written with an HTML copy."""
    dark = form_factor.endswith("-dark")
    argv = [
        _tool("node"),
        str(cli),
        url,
        f"--chrome-path={chromium}",
        # Root in a container: chromium's sandbox cannot start. "-dark": the page as
        # prefers-color-scheme: dark shows it (its contrast is scored too).
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu"
        + (" --force-dark-mode --blink-settings=preferredColorScheme=0" if dark else ""),
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json",
        "--output=html",
        f"--output-path={out}",
        "--quiet",
    ]
    if form_factor.removesuffix("-dark") == "desktop":
        argv.append("--preset=desktop")
    process = started.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = process.communicate()
    started.running.remove(process)
    report = out.with_name(out.name + ".report.json")
    if process.returncode != 0 or not report.exists():
        raise RuntimeError(f"lighthouse failed ({process.returncode}): {err.decode()[-2000:]}")
    lhr: dict[str, Any] = json.loads(report.read_text())
    return lhr


def summarise(lhr: Mapping[str, Any]) -> tuple[dict[str, int | None], list[str]]:
    """Each category's score out of 100, and every judged audit that did not pass fully."""
    scores: dict[str, int | None] = {}
    failing: list[str] = []
    seen: set[str] = set()
    for category in CATEGORIES:
        found = lhr["categories"].get(category)
        score = None if found is None or found.get("score") is None else found["score"]
        scores[category] = None if score is None else round(score * 100)
        for ref in (found or {}).get("auditRefs", []):
            audit = lhr["audits"].get(ref["id"], {})
            if ref["id"] in seen or audit.get("scoreDisplayMode") not in JUDGED_MODES:
                continue
            if audit.get("score") is not None and audit["score"] < 1:
                seen.add(ref["id"])
                shown = f": {audit['displayValue']}" if audit.get("displayValue") else ""
                items = audit.get("details", {}).get("items") or []
                where = _first_node(items)
                failing.append(
                    f"{category}/{ref['id']} ({audit['score']:.2f}, weight {ref.get('weight', 0)})"
                    f" {audit.get('title', '')}{shown}{where}"
                )
    return scores, failing


def _first_node(items: Sequence[Mapping[str, Any]]) -> str:
    """What a failing audit points at (an element, a console message, a URL), if it says."""
    for item in items[:1]:
        node = item.get("node") or {}
        text = (
            node.get("snippet")
            or item.get("description")
            or item.get("message")
            or item.get("issueType")
            or item.get("url")
        )
        if text:
            more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
            return f" — {str(text)[:200]}{more}"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    cli = install()
    run_dir = args.results / datetime.now(UTC).strftime("lighthouse-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    form_factors = [name for name in args.form_factors.split(",") if name]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cms-lighthouse-") as scratch, children() as started:
        password = secrets.token_urlsafe(18)
        env = {
            **os.environ,
            "CMS_DATABASE_URL": f"sqlite:///{scratch}/cms.sqlite3",
            "CMS_MEDIA_ROOT": f"{scratch}/media",
            "CMS_ENVIRONMENT": "production",
            "CMS_SECRET_KEY": secrets.token_urlsafe(48),
        }
        seed(env, args.articles, password)
        port = free_port()
        log = run_dir / "cms.log"
        with log.open("wb") as out:
            cms = started.start(
                [
                    str(Path(sys.executable).with_name("cms")),
                    "serve",
                    f"--host={HOST}",
                    f"--port={port}",
                    "--workers=1",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_ready(cms, port, log)
        add_covers(port, password)
        for page in pages(port, [key for key in args.pages.split(",") if key]):
            for form_factor in form_factors:
                result = Result(page, form_factor, problem=page.problem)
                results.append(result)
                if page.problem:
                    continue
                out_base = run_dir / f"{page.key}-{form_factor}"
                url = f"http://{HOST}:{port}{page.path}"
                started_at = time.monotonic()
                lhr = run_lighthouse(started, cli, args.chromium, url, form_factor, out_base)
                if lhr.get("runtimeError"):
                    result.problem = f"lighthouse: {lhr['runtimeError'].get('message')}"
                result.scores, result.failing = summarise(lhr)
                result.report = out_base.with_name(out_base.name + ".report.html")
                print(
                    f"  {page.key} ({page.path}) {form_factor}: "
                    f"{_score_cells(result)} in {time.monotonic() - started_at:.0f} s"
                )
    return _report(results, run_dir)


def _score_cells(result: Result) -> str:
    return " / ".join(
        f"{category} {'—' if score is None else score}" for category, score in result.scores.items()
    )


def _report(results: list[Result], run_dir: Path) -> int:
    print(f"\nLighthouse {LIGHTHOUSE_VERSION}; load average {os.getloadavg()[0]:.2f}")
    header = f"{'page':<10} {'form':<11} {'perf':>5} {'a11y':>5} {'b.p.':>5} {'seo':>5}  verdict"
    print(header)
    print("-" * len(header))
    short = False
    for result in results:
        cells = " ".join(
            f"{'—' if (s := result.scores.get(c)) is None else s:>5}" for c in CATEGORIES
        )
        missed = result.short_of_targets()
        short = short or bool(missed)
        verdict = "met" if not missed else "NOT MET: " + ", ".join(missed)
        print(f"{result.page.key:<10} {result.form_factor:<11} {cells}  {verdict}")
    for result in results:
        if result.failing:
            print(f"\nNot passing on {result.page.key} ({result.page.path}), {result.form_factor}:")
            for line in result.failing:
                print(f"  {line}")
    summary = [
        {
            "page": result.page.key,
            "path": result.page.path,
            "form_factor": result.form_factor,
            "scores": result.scores,
            "failing": result.failing,
            "problem": result.problem,
            "report": str(result.report) if result.report else None,
        }
        for result in results
    ]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nReports: {run_dir}")
    targets = ", ".join(f"{c} ≥ {t}" for c, t in TARGETS.items())
    print(("Targets NOT MET" if short else "Targets met") + f" ({targets})")
    return 1 if short else 0


def run() -> int:
    try:
        return main()
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\nInterrupted ({exc or 'Ctrl-C'}); every process the run started is stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(run())
