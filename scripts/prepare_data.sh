#!/usr/bin/env bash
# Prepares the Bible corpora of the LM and MT experiments in data/ (git-ignored): installs
# diatheke and the two SWORD modules when missing, extracts the World English Bible and the
# Reina-Valera 1909 verse by verse in SWORD's internal (OSIS) format, and runs fwp-prepare-data
# to clean, split by book and align them. Prints the size and sha256 of every file it made (also
# kept in data/SHA256SUMS; docs/DATA.md lists the expected values).
# Usage: scripts/prepare_data.sh [--force]    Does nothing when data/SHA256SUMS exists, unless --force.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -f data/SHA256SUMS && "${1:-}" != "--force" ]]; then
  echo "fwp data: data/ is already prepared (data/SHA256SUMS exists); use --force to redo it"
  exit 0
fi

# setup.sh installs what is missing (its own packages plus these) and builds fwp-prepare-data.
PACKAGES=(diatheke sword-text-web sword-text-sparv)
scripts/setup.sh "${PACKAGES[@]}"

MODULES=(engWEB2015eb spaRV1909eb)
installed=$(diatheke -b system -k modulelist)
for m in "${MODULES[@]}"; do
  grep -q "^$m : " <<<"$installed" || { echo "fwp data: SWORD module $m not found; diatheke lists:"; \
    echo "$installed"; exit 1; }
done

mkdir -p data/raw
for m in "${MODULES[@]}"; do
  echo "fwp data: extracting $m"
  diatheke -b "$m" -l en -f internal -k 'Gen 1:1-Rev 22:21' > "data/raw/$m.osis.txt"
done

build/experiments/data/fwp-prepare-data --web data/raw/engWEB2015eb.osis.txt \
  --rv data/raw/spaRV1909eb.osis.txt --out data | tee data/prepare.log

echo "fwp data: package versions"
dpkg-query -W -f='  ${Package} ${Version}\n' "${PACKAGES[@]}" libsentencepiece-dev | tee -a data/prepare.log
echo "fwp data: generated files (bytes, sha256)"
(cd data && find raw bible-text bible-lm bible-mt -type f | LC_ALL=C sort | xargs sha256sum) \
  > data/SHA256SUMS.tmp
while read -r sum path; do
  printf '  %10d  %s  %s\n' "$(stat -c %s "data/$path")" "$sum" "$path"
done < data/SHA256SUMS.tmp
mv data/SHA256SUMS.tmp data/SHA256SUMS
