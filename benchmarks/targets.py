"""The read-performance issue's targets, checked against a run's figures. A verdict is
printed beside the figure it judges; a target not met never fails the run."""

from dataclasses import dataclass, field

from benchmarks.load import Measurement
from benchmarks.scenarios import Scenario

FULL_SIZE = 1_000_000
RSS_LIMIT_MIB = 200


@dataclass
class Outcome:
    """One scenario's figures on one server pair, or why there are none."""

    scenario: Scenario
    cms: Measurement | None = None
    floor: Measurement | None = None
    problem: str | None = None
    # Whether the floor answered the check request with exactly the CMS's JSON.
    same_answer: bool | None = None
    cms_runs: list[Measurement] = field(default_factory=list)
    floor_runs: list[Measurement] = field(default_factory=list)
    # The CMS worker's largest resident set (KiB) seen while it was measured, if watched.
    cms_rss_kib: int | None = None

    @property
    def spread(self) -> float:
        """(max - min) / median of the CMS's req/s over its runs."""
        if self.cms is None or not self.cms.requests_per_second:
            return 0.0
        rates = [run.requests_per_second for run in self.cms_runs]
        return (max(rates) - min(rates)) / self.cms.requests_per_second

    @property
    def ratio(self) -> float | None:
        if self.cms is None or self.floor is None or not self.floor.requests_per_second:
            return None
        return self.cms.requests_per_second / self.floor.requests_per_second


@dataclass(frozen=True)
class Verdict:
    rule: str
    met: bool | None  # None: cannot be judged (no figure yet)
    detail: str = ""

    def __str__(self) -> str:
        state = {True: "met", False: "NOT MET", None: "n/a"}[self.met]
        return f"{self.rule}: {state}" + (f" ({self.detail})" if self.detail else "")


def judge(outcomes: dict[str, Outcome], articles: int) -> dict[str, Verdict]:
    """A verdict for each scenario the issue sets a target for."""
    verdicts = {
        "article": _versus_floor(outcomes["article"]),
        "page_article": _versus_floor(outcomes["page_article"]),
        "list_first": _versus_floor(outcomes["list_first"]),
        "article_304": _revalidation(outcomes["article_304"], outcomes["article_same"]),
        "list_cursor": _cursor(outcomes["list_cursor"], outcomes["list_first"], articles),
    }
    for key in ("list_search", "list_tag"):
        verdicts[key] = _latency(outcomes[key], articles)
    return verdicts


def _versus_floor(outcome: Outcome) -> Verdict:
    rule = "≥ 0.5x floor req/s"
    ratio = outcome.ratio
    if ratio is None:
        return Verdict(rule, None)
    return Verdict(rule, ratio >= 0.5, f"{ratio:.2f}x")


def _revalidation(revalidated: Outcome, full: Outcome) -> Verdict:
    rule = "≥ 1.5x req/s of the same article's 200"
    if revalidated.cms is None or full.cms is None:
        return Verdict(rule, None)
    ratio = revalidated.cms.requests_per_second / full.cms.requests_per_second
    return Verdict(rule, ratio >= 1.5, f"{ratio:.2f}x")


def _at_size(articles: int) -> str:
    return "" if articles >= FULL_SIZE else f"; target is for {FULL_SIZE:,}, run has {articles:,}"


def _cursor(cursor: Outcome, first: Outcome, articles: int) -> Verdict:
    rule = "p50 ≤ 1.5x first page's p50"
    if cursor.cms is None or first.cms is None or not first.cms.p50_ms:
        return Verdict(rule, None)
    if not cursor.cms.requests:
        return Verdict(rule, False, f"no request finished in the run{_at_size(articles)}")
    ratio = cursor.cms.p50_ms / first.cms.p50_ms
    return Verdict(rule, ratio <= 1.5, f"{ratio:.2f}x{_at_size(articles)}")


def _latency(outcome: Outcome, articles: int) -> Verdict:
    rule = "p50 < 50 ms at -c4"
    if outcome.cms is None:
        return Verdict(rule, None)
    if not outcome.cms.requests:
        return Verdict(rule, False, f"no request finished in the run{_at_size(articles)}")
    return Verdict(
        rule, outcome.cms.p50_ms < 50, f"{outcome.cms.p50_ms:.1f} ms{_at_size(articles)}"
    )


def memory(peaks_mib: list[float]) -> Verdict:
    """Every worker's peak resident memory after the whole run."""
    worst = max(peaks_mib, default=0.0)
    return Verdict(
        f"every worker < {RSS_LIMIT_MIB} MiB", worst < RSS_LIMIT_MIB, f"max {worst:.0f} MiB"
    )
