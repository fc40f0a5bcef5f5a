# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It picks where a release analysis reads what the edge served:
# the edge's own access log (needs nothing else, a verdict every second) or
# Prometheus (the edge's counts as the monitoring role scrapes them, a verdict
# per scrape of the edge). compose_deploy and release_analysis take the same
# options and read through the same sources.

from __future__ import annotations

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.edge_log import (
    EdgeLogSource,
    figures,
    read_window,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.prometheus import (
    PrometheusError,
    PrometheusSource,
)

EDGE_LOG = 'edge_log'
PROMETHEUS = 'prometheus'
SOURCE_ARGUMENT_SPEC = dict(
    source=dict(type='str', choices=[EDGE_LOG, PROMETHEUS], default=EDGE_LOG),
    prometheus_url=dict(type='str', default='http://127.0.0.1:9090'),
)


def check_source(params):
    """The reason the source params name cannot be read, or None (a deploy checks before it starts)."""
    if params['source'] != PROMETHEUS:
        return None
    try:
        PrometheusSource(params['prometheus_url']).check()
    except PrometheusError as error:
        return str(error)
    return None


def open_source(params, engine, edge_container, since):
    """A started source of figures from `since` (epoch seconds), as params['source'] names it."""
    if params['source'] == PROMETHEUS:
        return PrometheusSource(params['prometheus_url']).start()
    return EdgeLogSource(engine, edge_container, since).start()


def past_figures(params, engine, edge_container, groups, since, until):
    """{group: Figures} the edge served between since and until, read once from the source params names."""
    if params['source'] == PROMETHEUS:
        return PrometheusSource(params['prometheus_url']).figures(groups, since, until)
    return figures(read_window(engine, edge_container, since), groups, since, until)
