#!/usr/bin/python3
"""Every option of every program shows its default in --help (CLI11 writes `--steps INT=20000`):
check_help_defaults.py PROGRAM... [--ranges PROGRAM...] fails naming each option that takes a
value but shows no default. Text options may have none (an empty default shows nothing); flags
are not checked. The programs after --ranges must also declare a range for every number: a
check after the type (`--steps INT:IN[1, 1000000000]=20000`, experiments/common/cli_checks.h),
so that a new numeric option cannot skip validation."""
import re
import subprocess
import sys

missing, unranged = [], []
ranges = False
for program in sys.argv[1:]:
    if program == "--ranges":
        ranges = True
        continue
    text = subprocess.run([program, "--help"], capture_output=True, text=True, check=True).stdout
    options = 0
    for line in text.splitlines():
        m = re.match(r"\s+(?:-\w,)?(--[\w-]+) ((?:INT|UINT|FLOAT|TEXT)\b.*)", line)
        if not m:
            continue
        options += 1
        value = re.split(r"\s{2,}", m.group(2))[0]  # "INT:POSITIVE=4", before the description
        if "=" not in value and not value.startswith("TEXT"):
            missing.append(f"{program}: {m.group(1)} ({line.strip()})")
        if ranges and re.match(r"(INT|UINT|FLOAT)\b", value) and not re.match(r"(INT|UINT|FLOAT):\S", value):
            unranged.append(f"{program}: {m.group(1)} ({line.strip()})")
    print(f"{program}: {options} options with a value")
for m in missing:
    print("no default shown: " + m)
for m in unranged:
    print("no range declared: " + m)
sys.exit(1 if missing or unranged else 0)
