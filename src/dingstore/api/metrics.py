"""Prometheus metrics: requests by route and status, and a latency histogram.

A request counts into plain dicts (about 0.5 µs, against ~4 µs for prometheus_client's locked
``Counter`` and ``Histogram``): every request is observed on the event loop's thread, and the
counts become Prometheus families only when ``/metrics`` is read (``_Families``).

Each app owns its registry, so that several apps in one process (tests) do not collide."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = "dingstore_http_requests"
LATENCY = "dingstore_http_request_duration_seconds"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # (method, route, status) -> [count, created]
        self.requests: dict[tuple[str, str, int], list[float]] = {}
        # (method, route) -> [count per bucket ..., count over the last, sum, created]
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.registry.register(_Families(self))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self.requests.get((method, route, status))
        if counted is None:
            counted = self.requests[method, route, status] = [0, time.time()]
        counted[0] += 1
        timed = self.latency.get((method, route))
        if timed is None:
            timed = self.latency[method, route] = [0] * (len(BUCKETS) + 2) + [time.time()]
        timed[bisect_left(BUCKETS, seconds)] += 1  # the first bucket whose bound ``le`` it is
        timed[-2] += seconds

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Families(Collector):
    """The counts as prometheus_client's ``Counter`` and ``Histogram`` would expose them."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            REQUESTS,
            "HTTP requests by method, route template and status",
            labels=("method", "route", "status"),
        )
        for (method, route, status), (count, created) in self.metrics.requests.items():
            requests.add_metric((method, route, str(status)), count, created=created)
        yield requests
        latency = HistogramMetricFamily(
            LATENCY, "HTTP request latency by route template", labels=("method", "route")
        )
        for (method, route), timed in self.metrics.latency.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip((*BUCKETS, float("inf")), timed, strict=False):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            latency.add_metric((method, route), buckets, timed[-2])
            latency.add_sample(LATENCY + "_created", {"method": method, "route": route}, timed[-1])
        yield latency
