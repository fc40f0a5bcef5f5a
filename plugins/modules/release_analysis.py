#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_analysis
short_description: Judge a running release against the one it replaces, from what the edge served them
version_added: 0.1.0
description:
  - Reads what the edge's nginx served each running release of a service over the last O(window) seconds
    (the edge role's JSON access log - upstream address, status and response time of every request) and
    judges the new release (O(canary)) against the old one (O(baseline)) over that same window - the
    verdict M(auraspeak.ops.compose_deploy) draws at each canary step
    (see its O(auraspeak.ops.compose_deploy#module:analysis)).
  - The new release fails on errors when its share of 5xx answers is above O(max_error_rate) and that
    much above the old release's; on latency when its O(latency_quantile) is above O(max_latency_ratio)
    times the old release's and above O(latency_floor). Below O(min_requests) there is no verdict
    (V(inconclusive)).
  - With one release running (after a promotion) there is no baseline - the absolute thresholds apply.
  - Releases are told apart by the tag of their containers' images; requests by the containers' addresses.
  - With O(source=prometheus) the figures are the edge's counts as Prometheus scraped them, counted
    between the first and the last scrape of the edge inside the window (so the window must hold two).
  - Reads only; with the default O(source) needs no monitoring.
extends_documentation_fragment:
  - auraspeak.ops.attributes
  - auraspeak.ops.engine
  - auraspeak.ops.docker_cli
options:
  project:
    description: Compose project of the service.
    type: str
    required: true
  service:
    description: The service behind the edge.
    type: str
    default: app
  port:
    description: Container port the edge sends the service's traffic to.
    type: int
    required: true
  edge_container:
    description: The edge's nginx container, whose log is read.
    type: str
    default: auraspeak-edge
  window:
    description:
      - Seconds back from now to judge. Start it after the new release's first seconds of traffic
        (its cold start, see O(auraspeak.ops.compose_deploy#module:analysis.warmup)), which a p95 over a
        short window counts.
    type: int
    default: 60
  source:
    description:
      - Where the figures come from - V(edge_log), the edge's JSON access log, or V(prometheus), the
        counts the edge role's mtail keeps per upstream address as Prometheus scraped them
        (see O(auraspeak.ops.compose_deploy#module:analysis.source)).
    type: str
    choices: [edge_log, prometheus]
    default: edge_log
  prometheus_url:
    description: Prometheus' HTTP API as the managed host reaches it, for O(source=prometheus).
    type: str
    default: http://127.0.0.1:9090
  canary:
    description: The release to judge (an image tag). By default the newest running release.
    type: str
  baseline:
    description: The release to judge it against. By default the other running release, if there is one.
    type: str
  min_requests:
    description: Requests the canary must have served in the window before a verdict.
    type: int
    default: 50
  max_error_rate:
    description: Share of 5xx (0 to 1) above which, and that much above the baseline's, the canary fails.
    type: float
    default: 0.01
  latency_quantile:
    description: The latency quantile compared (0.95 is p95).
    type: float
    default: 0.95
  max_latency_ratio:
    description: The canary fails when its latency quantile is above this multiple of the baseline's...
    type: float
    default: 1.5
  latency_floor:
    description: ...and above this many seconds.
    type: float
    default: 0.1
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: The module changes nothing.
  idempotent:
    support: full
    details: The module changes nothing and always reports no change.
seealso:
  - module: auraspeak.ops.compose_deploy
  - module: auraspeak.ops.release_info
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: How is the live release doing over the last 5 minutes?
  auraspeak.ops.release_analysis:
    project: auraspeak
    port: 3000
    window: 300
  register: health

- name: Fail when it breaches the thresholds
  ansible.builtin.assert:
    that: health.result != 'fail'
    fail_msg: "{{ health.reason }}"

- name: Judge 1.5.0 against 1.4.0 while both serve (a canary left by a killed deploy)
  auraspeak.ops.release_analysis:
    project: auraspeak
    port: 3000
    canary: 1.5.0
    baseline: 1.4.0
    window: 120
    max_error_rate: 0.02

- name: The same verdict from the edge's counts in the monitoring role's Prometheus
  auraspeak.ops.release_analysis:
    project: auraspeak
    port: 3000
    window: 300
    source: prometheus
    prometheus_url: http://127.0.0.1:9090
"""

RETURN = r"""
result:
  description: V(pass), V(fail) or V(inconclusive) (fewer than O(min_requests) requests).
  returned: always
  type: str
  sample: fail
reason:
  description: The verdict in one sentence, with the figures.
  returned: always
  type: str
  sample: >-
    error rate 24.6 % of 65 requests on the new release, above the threshold of 1.0 %
    (the old release: 0.0 % of 590)
canary:
  description:
    - The judged release - version, containers, requests, errors, error_rate, and the latency quantile (seconds).
  returned: always
  type: dict
  sample: {version: 1.5.0, containers: [auraspeak-app-3], requests: 65, errors: 16, error_rate: 0.246,
           latency_p95: 0.004}
baseline:
  description: The same for the release it is judged against (version null when none runs).
  returned: always
  type: dict
  sample: {version: 1.4.0, containers: [auraspeak-app-1, auraspeak-app-2], requests: 590, errors: 0,
           error_rate: 0.0, latency_p95: 0.003}
breaches:
  description: Each threshold crossed - metric, value, threshold, and the baseline's figure.
  returned: always
  type: list
  elements: dict
  sample: [{metric: error_rate, value: 0.246, threshold: 0.01, baseline: 0.0}]
window:
  description: The seconds judged.
  returned: always
  type: int
  sample: 60
source:
  description: Where the figures came from (O(source)).
  returned: always
  type: str
  sample: edge_log
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.live import (
    AnalysisInputError,
    run_release_analysis,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.prometheus import PrometheusError
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.sources import SOURCE_ARGUMENT_SPEC
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import THRESHOLD_ARGUMENT_SPEC
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import (
    DOCKER_CLI_ARGUMENT_SPEC,
    DockerCLIError,
)


def main():
    argument_spec = dict(
        project=dict(type='str', required=True),
        service=dict(type='str', default='app'),
        port=dict(type='int', required=True),
        edge_container=dict(type='str', default='auraspeak-edge'),
        window=dict(type='int', default=60),
        canary=dict(type='str'),
        baseline=dict(type='str'),
        **SOURCE_ARGUMENT_SPEC,
        **THRESHOLD_ARGUMENT_SPEC,
    )
    argument_spec.update(DOCKER_CLI_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        verdict = run_release_analysis(module)
    except (AnalysisInputError, PrometheusError) as exc:
        module.fail_json(msg=str(exc))
    except DockerCLIError as exc:
        module.fail_json(**exc.as_result())
    module.exit_json(changed=False, **verdict)


if __name__ == '__main__':
    main()
