"""Reading a server's /metrics as a test would: every sample by name and labels."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]  # name -> sorted labels -> value


def scrape(base_url: str) -> Samples:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found
