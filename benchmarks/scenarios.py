"""What is measured: each scenario's requests to the CMS and, where it has one, the floor's
equivalent; and what the running CMS offers (features that do not exist yet are found out
here, from ``/openapi.json`` and the responses, and their scenarios marked unavailable)."""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from benchmarks.client import Reply, fetch, next_link
from benchmarks.dataset import Dataset
from benchmarks.load import Load
from cms.articles.tags import tag_slug

PAGE = 20
ADMIN_PAGE = 25
# Pages this big make walking to 90% depth by cursor take 1/5 the requests of PAGE.
WALK_PAGE = 100
NOT_YET = "not available yet"
# GET /tags/ counts every tag's articles; at a million articles that can take minutes.
TAGS_TIMEOUT = 10.0


@dataclass
class Features:
    """What the CMS under test offers, found once per run."""

    list_parameters: set[str]
    skip_max: int | None
    etag: str | None
    has_link: bool
    tag: str | None = None
    # A cursor page at 90% depth: its path, how it was found, and the item just before it.
    cursor_path: str | None = None
    cursor_how: str = ""
    cursor_depth: int = 0
    before_cursor: tuple[str, int] | None = None
    # The readers' site's address of an article, with ``{slug}`` for its slug.
    page_pattern: str = "/posts/{slug}"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    cms: Load | None
    floor: Load | None = None
    expect: int = 200
    unavailable: str | None = None
    # Whether the floor's JSON must equal the CMS's (not for an HTML page).
    same_json: bool = True
    # Whether the CMS worker's resident memory is sampled while it is measured.
    watch_memory: bool = False


def discover(port: int, dataset: Dataset, *, search: str) -> Features:
    """Ask the CMS on ``port`` what it can do."""
    openapi = fetch(port, "/openapi.json").json()
    parameters = {p["name"]: p for p in openapi["paths"]["/articles/"]["get"]["parameters"]}
    skip_schema = parameters.get("skip", {}).get("schema", {})
    skip_max = skip_schema.get("maximum")
    first = fetch(port, f"/articles/?limit={PAGE}")
    article = fetch(port, f"/articles/{dataset.sample_ids[0]}")
    features = Features(
        list_parameters=set(parameters),
        skip_max=int(skip_max) if skip_max is not None else None,
        etag=article.header("etag"),
        has_link=next_link(first) is not None,
    )
    features.page_pattern = _page_pattern(article.json(), features.page_pattern)
    if "tag" in parameters:
        features.tag = _busiest_tag(port, features) or _newest_articles_tag(first)
    if features.has_link:
        _find_cursor(port, dataset, features)
    if "q" in parameters and not fetch(port, f"/articles/?q={quote(search)}").json():
        features.notes.append(f"search for {search!r} finds nothing; choose --search")
    return features


def _page_pattern(article: dict[str, Any], default: str) -> str:
    """The site's address pattern, from the API's ``url`` of an article (its path only)."""
    url, slug = article.get("url"), article.get("slug")
    if not isinstance(url, str) or not isinstance(slug, str) or slug not in url:
        return default
    path = urlsplit(url).path
    return path.replace(slug, "{slug}", 1) if slug in path else default


def write_pages(pattern: str, slugs: list[str], out: Path) -> Path:
    """The article page of each sampled id, one path a line, in the order of the ids file:
    ``spread.lua`` takes each line as the whole path."""
    out.write_text("".join(pattern.replace("{slug}", quote(slug)) + "\n" for slug in slugs))
    return out


def _busiest_tag(port: int, features: Features) -> str | None:
    """The tag on the most articles (the filter's largest answer), if ``GET /tags/`` says
    within ``TAGS_TIMEOUT`` seconds."""
    started = time.monotonic()
    try:
        reply = fetch(port, "/tags/", timeout=TAGS_TIMEOUT)
    except TimeoutError:
        features.notes.append(
            f"GET /tags/ took over {TAGS_TIMEOUT:.0f} s; ?tag= uses the newest article's tag"
        )
        return None
    features.notes.append(f"GET /tags/ took {time.monotonic() - started:.1f} s")
    if reply.status != 200 or not reply.json():
        return None
    tag = max(reply.json(), key=lambda t: t.get("article_count", 0))
    return str(tag.get("slug") or tag["name"])


def _newest_articles_tag(first_page: Reply) -> str | None:
    """The slug of a tag of the newest tagged article on the first page."""
    for article in first_page.json():
        if article.get("tags"):
            return tag_slug(str(article["tags"][0]))
    return None


def _with_limit(path: str, limit: int) -> str:
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "limit"]
    return f"{parts.path}?{urlencode([*query, ('limit', str(limit))])}"


def _find_cursor(port: int, dataset: Dataset, features: Features) -> None:
    """A cursor for the page that starts at 90% depth of the published articles.

    Cheap way first: the ``next`` link of ``?skip=<depth-1>&limit=1`` (when the API gives
    skip-based pages a next link and the skip is allowed). Else walk there from the first
    page by ``next`` links, ``WALK_PAGE`` articles at a time."""
    depth = dataset.depth
    if features.skip_max is None or depth - 1 <= features.skip_max:
        reply = fetch(port, f"/articles/?skip={depth - 1}&limit=1")
        link = next_link(reply)
        if reply.status == 200 and link is not None and reply.json():
            features.cursor_path = _with_limit(link, PAGE)
            features.cursor_how = f"next link of ?skip={depth - 1}&limit=1"
            features.cursor_depth = depth
            features.before_cursor = _position(reply.json()[-1])
            return
    path: str | None = f"/articles/?limit={WALK_PAGE}"
    seen, last = 0, None
    while path is not None and seen + WALK_PAGE <= depth:
        reply = fetch(port, path)
        items = reply.json()
        if not items:
            break
        seen, last, path = seen + len(items), items[-1], next_link(reply)
        if seen % (WALK_PAGE * 1000) == 0:
            print(f"  walking to 90% depth by cursor: {seen:,} of {depth:,}")
    if path is None or last is None:
        features.notes.append("the next links ended before 90% depth")
        return
    features.cursor_path = _with_limit(path, PAGE)
    features.cursor_how = f"walked {seen // WALK_PAGE} next links of {WALK_PAGE}"
    features.cursor_depth = seen
    features.before_cursor = _position(last)


def _position(item: dict[str, Any]) -> tuple[str, int]:
    return str(item["published_at"]), int(item["id"])


def _floor_after(published_at: str, article_id: int) -> str:
    """The floor's keyset parameter for "after this article"."""
    moment = published_at.removesuffix("Z").replace("T", " ").removesuffix("+00:00")
    return f"/articles/?limit={PAGE}&after={quote(moment)},{article_id}"


def build(
    features: Features,
    dataset: Dataset,
    *,
    ids_file: Path,
    pages_file: Path,
    cookie: str,
    connections: int,
    narrow_connections: int,
    search: str,
) -> list[Scenario]:
    """Every scenario for one server pair; those the CMS cannot serve yet say why."""
    one = dataset.sample_ids[0]

    def wide(path: str) -> Load:
        return Load(path, connections, {})

    def narrow(path: str) -> Load:
        return Load(path, narrow_connections, {})

    def admin(path: str, admin_connections: int = connections) -> Load:
        return Load(path, admin_connections, {"Cookie": cookie})

    skip = min(dataset.depth, features.skip_max if features.skip_max is not None else dataset.depth)
    deep_page = max(1, math.ceil(0.9 * dataset.total_articles / ADMIN_PAGE))
    by_id = Load("/articles/{id}", connections, {}, ids_file=ids_file)
    first = wide(f"/articles/?limit={PAGE}")
    skipped = wide(f"/articles/?skip={skip}&limit={PAGE}")
    # The readers' site as a browser asks for it; the floor's JSON of the same articles,
    # in the same order, is what the page is measured against.
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = Load("{id}", connections, html, ids_file=pages_file)
    home = Load("/", connections, html)
    floor_keyset = (
        wide(_floor_after(*features.before_cursor))
        if features.before_cursor is not None
        else _floor_keyset_at_depth(dataset, connections)
    )
    scenarios = [
        Scenario("article", "article by id, ids spread", by_id, by_id),
        Scenario("article_same", "one article, same id (200)", wide(f"/articles/{one}")),
        Scenario(
            "article_304",
            "one article, If-None-Match (304)",
            Load(f"/articles/{one}", connections, {"If-None-Match": features.etag or ""}),
            expect=304,
            unavailable=None if features.etag else f"{NOT_YET} (no ETag)",
        ),
        Scenario("list_first", f"first list page ({PAGE})", first, first),
        Scenario(
            "list_cursor",
            f"cursor page at 90% (#{features.cursor_depth or dataset.depth:,})",
            wide(features.cursor_path) if features.cursor_path else None,
            floor_keyset,
            unavailable=None if features.cursor_path else f"{NOT_YET} (no Link header)",
        ),
        Scenario("list_skip", f"?skip={skip:,}", skipped, skipped),
        Scenario(
            "list_tag",
            f"?tag={features.tag}" if features.tag else "?tag=",
            narrow(f"/articles/?tag={quote(features.tag)}&limit={PAGE}") if features.tag else None,
            unavailable=None if features.tag else f"{NOT_YET} (no tag parameter or tags)",
        ),
        Scenario(
            "list_search",
            f"?q={search}",
            narrow(f"/articles/?q={quote(search)}&limit={PAGE}")
            if "q" in features.list_parameters
            else None,
            unavailable=None if "q" in features.list_parameters else f"{NOT_YET} (no q parameter)",
        ),
        Scenario(
            "page_article",
            "article page (HTML), ids spread",
            page,
            by_id,
            same_json=False,
            watch_memory=True,
        ),
        # No floor beside it: the floor's list statement crashed MariaDB 10.11.19 here
        # under this load (see README), and the home page has no JSON twin anyway.
        Scenario("page_home", "home page (HTML)", home, same_json=False, watch_memory=True),
        Scenario("admin_first", "admin list, page 1", admin("/admin/article/list")),
        Scenario(
            "admin_deep",
            f"admin list, page {deep_page:,} (90%)",
            admin(f"/admin/article/list?page={deep_page}"),
        ),
        Scenario(
            "admin_search",
            f"admin search {search!r}",
            admin(f"/admin/article/list?search={quote(search)}", narrow_connections),
        ),
    ]
    return scenarios


def _floor_keyset_at_depth(dataset: Dataset, connections: int) -> Load | None:
    if dataset.before_depth is None:
        return None
    moment, article_id = dataset.before_depth
    path = _floor_after(moment.isoformat(sep=" ", timespec="microseconds"), article_id)
    return Load(path, connections, {})
