#!/usr/bin/env bash
# Check the changelog fragments and regenerate CHANGELOG.md.
# Until a release is cut (`antsibull-changelog release`, which records the
# fragments in changelogs/changelog.yaml), CHANGELOG.md previews the version
# in galaxy.yml as "unreleased", built in a scratch copy so nothing is consumed.
set -euo pipefail
cd "$(dirname "$0")/.."

antsibull-changelog lint

version=$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
released=$(python -c 'import yaml,os; p="changelogs/changelog.yaml"; d=yaml.safe_load(open(p)) if os.path.exists(p) else {}; print(" ".join((d or {}).get("releases", {})))')
if [[ " $released " == *" $version "* ]]; then
    antsibull-changelog generate
    exit 0
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r changelogs galaxy.yml meta plugins "$scratch/"
(cd "$scratch" && antsibull-changelog release --version "$version" >/dev/null)
escaped=${version//./\\\\.}
sed -e "s/^## v${escaped}\$/## v${escaped} (unreleased)/" "$scratch/CHANGELOG.md" >CHANGELOG.md
echo "CHANGELOG.md: preview of unreleased v$version"
