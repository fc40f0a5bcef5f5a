"""Benchmark: an unchanged re-run of image_build against a fully cached `docker buildx build`.

Both rebuild nothing: buildx resolves every step from its cache, image_build
compares the input hash with the image label. The runs are interleaved so
that machine noise hits both sides alike; medians and their ratio are
reported, plus the production/development image sizes of examples/app.

    make bench            # or: .venv/bin/python bench/image_build_rerun.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTEXT = os.path.join(ROOT, 'examples', 'app')
MODULE = os.path.join(ROOT, 'plugins', 'modules', 'image_build.py')
BASE = 'auraspeak-offline/node:18'
TAGS = {'production': 'bench/example-app:production', 'development': 'bench/example-app:development'}
ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, '.collections'), ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))


def module_args(target):
    return {'path': CONTEXT, 'target': target, 'tags': [TAGS[target]], 'build_args': {'BASE_IMAGE': BASE}}


def timed(cmd, **kwargs):
    start = time.perf_counter()
    completed = subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False, **kwargs)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit('command failed: %s\n%s\n%s' % (' '.join(cmd), completed.stdout[-2000:], completed.stderr[-2000:]))
    return elapsed, completed.stdout


def run_module_directly(args_file):
    """What Ansible runs on the managed host, without the controller's own start-up."""
    elapsed, out = timed([sys.executable, MODULE, args_file])
    return elapsed, json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--output', default=os.path.join(ROOT, 'bench', 'results', 'image_build_rerun.json'))
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        args_files = {}
        for target in TAGS:
            args_files[target] = os.path.join(tmp, target + '.json')
            with open(args_files[target], 'w', encoding='utf-8') as handle:
                json.dump({'ANSIBLE_MODULE_ARGS': module_args(target)}, handle)
            # Warm-up: make sure the image exists and the build cache is full.
            run_module_directly(args_files[target])

        buildx = [
            'docker',
            'buildx',
            'build',
            '--progress=quiet',
            '--target',
            'production',
            '--build-arg',
            'BASE_IMAGE=' + BASE,
            '--tag',
            'bench/example-app:buildx-cached',
            CONTEXT,
        ]
        adhoc = [
            'ansible',
            'localhost',
            '-i',
            'localhost,',
            '-c',
            'local',
            '-e',
            'ansible_python_interpreter=' + sys.executable,
            '-m',
            'auraspeak.ops.image_build',
            '-a',
            json.dumps(module_args('production')),
        ]
        timed(buildx)  # warm-up
        samples = {
            'docker buildx build (fully cached)': [],
            'image_build module, unchanged': [],
            'ansible ad-hoc image_build, unchanged': [],
        }
        for _run in range(options.runs):
            samples['docker buildx build (fully cached)'].append(timed(buildx)[0])
            elapsed, result = run_module_directly(args_files['production'])
            if result.get('changed'):
                sys.exit('image_build reported a change on an unchanged re-run: %s' % result)
            samples['image_build module, unchanged'].append(elapsed)
            samples['ansible ad-hoc image_build, unchanged'].append(timed(adhoc)[0])

        sizes = {}
        for target, tag in TAGS.items():
            out = timed(['docker', 'image', 'inspect', '--format', '{{.Size}}', tag])[1]
            sizes[target] = int(out.strip())

    baseline = statistics.median(samples['docker buildx build (fully cached)'])
    report = {
        'runs': options.runs,
        'medians_s': {},
        'ratio_to_buildx': {},
        'sizes_bytes': sizes,
        'size_ratio_production_to_development': round(sizes['production'] / sizes['development'], 3),
    }
    for name, values in samples.items():
        median = statistics.median(values)
        report['medians_s'][name] = round(median, 4)
        report['ratio_to_buildx'][name] = round(median / baseline, 3)

    os.makedirs(os.path.dirname(options.output), exist_ok=True)
    with open(options.output, 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=2)
    print('| run (median of %d) | seconds | ratio to cached buildx |' % options.runs)
    print('|---|---|---|')
    for name in samples:
        print('| %s | %.3f | %.2f |' % (name, report['medians_s'][name], report['ratio_to_buildx'][name]))
    print()
    print('| image | size (MB) |')
    print('|---|---|')
    for target in TAGS:
        print('| examples/app %s | %.1f |' % (target, sizes[target] / 1e6))
    print('| ratio production / development | %.2f |' % report['size_ratio_production_to_development'])
    subprocess.run(['docker', 'image', 'rm', 'bench/example-app:buildx-cached'], capture_output=True, check=False)


if __name__ == '__main__':
    main()
