#!/usr/bin/python3
"""Every option of every program shows its default in --help (CLI11 writes `--steps INT=20000`):
check_help_defaults.py PROGRAM... fails naming each option that takes a value but shows no
default. Text options may have none (an empty default shows nothing); flags are not checked."""
import re
import subprocess
import sys

missing = []
for program in sys.argv[1:]:
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
    print(f"{program}: {options} options with a value")
for m in missing:
    print("no default shown: " + m)
sys.exit(1 if missing else 0)
